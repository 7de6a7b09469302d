"""The dashboard in a real browser: headless Chromium over file:// and over loopback HTTP.

Chromium renders each page (``--dump-dom`` after the scripts ran); the test counts the chart's
points in the DOM per trace, checks that each run's point is drawn in its verdict's colour (the
REGRESSION runs as red points, apart from the PASS ones), finds the change-point mark and the
labelled lines (the stored baseline among them), and reads the browser's console log for errors
and failed loads. Screenshots are kept under ``tests/reports/browser/`` as artifacts. The test
skips, saying why, only where no Chromium is installed (``.ci/run`` installs Debian's).
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.tools.bench.site_history import (
    INVALID_AT,
    REGRESSION_FROM,
    TOTAL,
    known_history,
    stored_baseline_of,
)
from tools.bench.site.charts import OUTCOME_MARKERS
from tools.bench.site.names import key_dir, safe_name
from tools.bench.site.pages import INDEX_FILE, build_site

REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "tests" / "reports" / "browser"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--virtual-time-budget=8000",
    "--enable-logging=stderr",
    "--v=0",
)
BROWSER_TIMEOUT_S = 180
WINDOW = "--window-size=1400,1100"
CONSOLE = re.compile(r"INFO:CONSOLE[^\n]*")
FAILED_LOAD = re.compile(r"Failed to load resource|net::ERR_|Uncaught|Not allowed to load")

pytestmark = pytest.mark.slow


def _browser() -> str:
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None:
        pytest.skip("no Chromium on PATH (Debian: apt-get install -y chromium; .ci/run does)")
    return found


FILL = re.compile(r"fill:\s*rgb\((\d+),\s*(\d+),\s*(\d+)\)")


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return tuple(int(hex_color[k : k + 2], 16) for k in (1, 3, 5))  # type: ignore[return-value]


class _Points(HTMLParser):
    """Per Plotly scatter trace in the DOM, the number of drawn points, and per fill colour."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[int | None] = []  # index into counts of the enclosing trace, per <g>
        self.counts: list[int] = []
        self.fills: dict[tuple[int, int, int], int] = {}  # drawn points per fill colour
        self.texts: list[str] = []  # text a person sees (not scripts or styles)
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag in ("script", "style"):
            self.hidden += 1
        elif tag == "g":
            current = self.stack[-1] if self.stack else None
            if "trace" in classes and "scatter" in classes:
                self.counts.append(0)
                current = len(self.counts) - 1
            self.stack.append(current)
        elif tag == "path" and "point" in classes and self.stack and self.stack[-1] is not None:
            self.counts[self.stack[-1]] += 1
            fill = FILL.search(dict(attrs).get("style") or "")
            if fill:
                rgb = tuple(int(v) for v in fill.groups())
                self.fills[rgb] = self.fills.get(rgb, 0) + 1  # type: ignore[index]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden -= 1
        elif tag == "g" and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.texts.append(data)


def _render(url: str, *extra: str) -> tuple[str, str]:
    """(DOM after the scripts ran, browser log) of ``url``."""
    done = subprocess.run(
        [_browser(), *BROWSER_FLAGS, WINDOW, *extra, url],
        capture_output=True,
        text=True,
        timeout=BROWSER_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def _assert_clean(log: str) -> None:
    console = CONSOLE.findall(log)
    assert not [line for line in console if "rror" in line], console
    assert not FAILED_LOAD.findall(log), FAILED_LOAD.findall(log)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    history = known_history()
    out = tmp_path_factory.mktemp("site")
    key = history[0].key
    build_site(
        {key: history},
        out,
        source="a test history with a known change point",
        baselines={key: stored_baseline_of(history)},
    )
    return out


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[tuple[str, list[tuple[str, int]]]]:
    """A loopback HTTP server for the site, and the (path, status) of every request."""
    requests: list[tuple[str, int]] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            requests.append((self.path, int(code)))

    handler = functools.partial(Handler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    finally:
        httpd.shutdown()
        httpd.server_close()


def _metric_path(site: Path) -> Path:
    key = known_history()[0].key
    return site / key_dir(key) / f"{safe_name(TOTAL)}.html"


def _check_metric_page(dom: str) -> None:
    runs = len(known_history())
    parsed = _Points()
    parsed.feed(dom)
    regressions = runs - REGRESSION_FROM
    passes = runs - regressions - 1  # the invalid run has its own verdict
    # one trace per verdict: the REGRESSION runs, the PASS runs, the INVALID run; its cross
    assert sorted(parsed.counts, reverse=True)[:3] == sorted([passes, regressions, 1], reverse=True)
    red, green = (_rgb(OUTCOME_MARKERS[o][1]) for o in ("regression", "pass"))
    assert parsed.fills.get(red, 0) >= regressions, parsed.fills  # drawn red, not as PASS
    assert parsed.fills.get(green, 0) == passes, parsed.fills
    text = " ".join(parsed.texts)
    marked = re.findall(r"change point \+(\d+)%", text)
    assert len(marked) == 1 and 25 <= int(marked[0]) <= 35  # the 30% step, as the levels moved
    assert "stored baseline 100 s (2026-11-28, 0ba5e11)" in text
    assert "first runs' level" in text and "threshold" in text
    assert "REGRESSION run" in text and "PASS run" in text  # the legend names the verdicts
    assert f"#{INVALID_AT + 1} " in text  # ticks name run order and commit


def test_metric_page_over_file_url(site: Path) -> None:
    dom, log = _render(_metric_path(site).as_uri(), "--dump-dom")
    _check_metric_page(dom)
    _assert_clean(log)


def test_metric_page_over_loopback_http(
    site: Path, server: tuple[str, list[tuple[str, int]]]
) -> None:
    base, requests = server
    relative = _metric_path(site).relative_to(site).as_posix()
    dom, log = _render(f"{base}/{relative}", "--dump-dom")
    _check_metric_page(dom)
    _assert_clean(log)
    assert requests and all(status == 200 for _, status in requests), requests
    assert any(path.endswith("plotly.min.js") for path, _ in requests)


def test_overview_renders_and_a_screenshot_is_kept(
    site: Path, server: tuple[str, list[tuple[str, int]]]
) -> None:
    base, _ = server
    dom, log = _render(f"{base}/{INDEX_FILE}", "--dump-dom")
    parsed = _Points()
    parsed.feed(dom)
    regressions = len(known_history()) - REGRESSION_FROM
    assert parsed.counts.count(regressions) >= 2  # total time and reads/s: the REGRESSION runs
    assert "stored baseline 100 s" not in " ".join(parsed.texts)  # small: lines, no labels
    _assert_clean(log)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, page in (
        ("overview.png", INDEX_FILE),
        ("metric.png", _metric_path(site).relative_to(site).as_posix()),
    ):
        shot = ARTIFACTS / name
        shot.unlink(missing_ok=True)
        _render(f"{base}/{page}", f"--screenshot={shot}")
        assert shot.read_bytes().startswith(b"\x89PNG")


# ----------------------------------------------------------------------------- gate health


@pytest.fixture(scope="module")
def gate_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tools.bench.site_history import build_gate_site

    return build_gate_site(tmp_path_factory.mktemp("gate-site"))


def test_the_gate_health_page_renders_its_chart_and_flag(gate_site: Path) -> None:
    from tests.tools.bench.site_history import CANARY_CVS
    from tools.bench.site.gate import GATE_FILE

    page = gate_site / GATE_FILE
    dom, log = _render(page.as_uri(), "--dump-dom")
    parsed = _Points()
    parsed.feed(dom)
    nights = len(CANARY_CVS)
    assert parsed.counts.count(nights) == 2, parsed.counts  # CV and MDE, one point a night
    assert 1 in parsed.counts  # the false alarm's cross
    text = " ".join(parsed.texts)
    assert "FLAGGED: the canary's noise doubled" in text
    assert "per-pair CV of the total time (%)" in text and "could detect (MDE, %)" in text
    assert "INVALID 20%" in " ".join(text.split())
    _assert_clean(log)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "gate.png"
    shot.unlink(missing_ok=True)
    _render(page.as_uri(), f"--screenshot={shot}")
    assert shot.read_bytes().startswith(b"\x89PNG")
