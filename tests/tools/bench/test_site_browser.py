"""The dashboard in a real browser: headless Chromium over file:// and over loopback HTTP.

Chromium renders each page (``--dump-dom`` after the scripts ran); the test counts the chart's
points in the DOM, finds the change-point mark, and reads the browser's console log for errors
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

from tests.tools.bench.site_history import INVALID_AT, TOTAL, known_history
from tools.bench.site.pages import INDEX_FILE, build_site, key_dir, safe_name

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


class _Points(HTMLParser):
    """Per Plotly scatter trace in the DOM, the number of drawn points."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[int | None] = []  # index into counts of the enclosing trace, per <g>
        self.counts: list[int] = []
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
    build_site({history[0].key: history}, out, source="a test history with a known change point")
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
    assert runs in parsed.counts, parsed.counts  # the median trace: one point per run
    assert 1 in parsed.counts  # the invalid run's cross
    text = " ".join(parsed.texts)
    marked = re.findall(r"change point \+(\d+)%", text)
    assert len(marked) == 1 and 25 <= int(marked[0]) <= 35  # the 30% step, as the levels moved
    assert "baseline" in text and "threshold" in text
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
    assert parsed.counts.count(len(known_history())) == 2  # total time and reads/s
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
