"""The static site: pages, no network references, readable units, run order and marks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.tools.bench.site_history import (
    INVALID_AT,
    REGRESSION_FROM,
    TOTAL,
    known_history,
    stored_baseline_of,
)
from tools.bench.history.trend import analyze_trend
from tools.bench.site.charts import metric_figure, run_tick
from tools.bench.site.marks import StoredLine
from tools.bench.site.names import key_dir, safe_name
from tools.bench.site.pages import INDEX_FILE, PLOTLY_FILE, RUNS_DIR, build_site
from tools.bench.site.scale import choose_scale
from virnucpro.errors import InputError

NETWORK = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.IGNORECASE)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    history = known_history()
    out = tmp_path_factory.mktemp("site")
    key = history[0].key
    build_site({key: history}, out, source="test", baselines={key: stored_baseline_of(history)})
    return out


def test_pages_are_written_with_the_plotly_script_beside_them(site: Path) -> None:
    history = known_history()
    assert (site / INDEX_FILE).is_file()
    assert (site / PLOTLY_FILE).stat().st_size > 1_000_000  # the whole library, shipped
    assert (site / key_dir(history[0].key) / f"{safe_name(TOTAL)}.html").is_file()
    assert len(list((site / RUNS_DIR).glob("*.html"))) == len(history)


def test_no_page_loads_anything_from_the_network(site: Path) -> None:
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not NETWORK.search(text), page
        assert f'src="{"../" * (len(page.relative_to(site).parts) - 1)}{PLOTLY_FILE}"' in text


def test_overview_shows_a_human_title_the_verdict_and_every_metric(site: Path) -> None:
    text = (site / INDEX_FILE).read_text(encoding="utf-8")
    key = known_history()[0].key
    assert "13 runs (1 invalid)" in text
    assert "REGRESSION" in text  # the latest run's verdict
    assert "1 change point(s) at run run-09" in text
    assert f'<h2 title="{key}">tiny models, tiny workload (' in text  # the key is the tooltip
    assert ": plain runs</h2>" in text and "A/B runs" not in text.split("<h2")[1]
    assert "Stored baseline: run stored-run of 2026-11-28" in text


def test_metric_chart_marks_verdicts_change_point_invalid_run_and_labelled_lines() -> None:
    history = known_history()
    trend = analyze_trend(history, TOTAL)
    stored = StoredLine(median=100.0, label="2026-11-28, 0ba5e11")
    figure = metric_figure(history, TOTAL, trend, stored)
    points = {t["name"]: t["x"] for t in figure["data"] if t.get("hovertemplate")}
    assert points["REGRESSION run"] == list(range(REGRESSION_FROM, len(history)))
    assert points["INVALID run"] == [INVALID_AT]
    assert sorted(x for xs in points.values() for x in xs) == list(range(len(history)))
    regression = next(t for t in figure["data"] if t["name"] == "REGRESSION run")
    assert regression["marker"]["symbol"] == "triangle-up"
    assert (
        regression["marker"]["color"]
        != next(t for t in figure["data"] if t["name"] == "PASS run")["marker"]["color"]
    )
    invalid = next(t for t in figure["data"] if t["name"].startswith("invalid"))
    assert invalid["x"] == [INVALID_AT]
    notes = [a["text"] for a in figure["layout"]["annotations"]]
    assert "stored baseline 100 s (2026-11-28, 0ba5e11)" in notes
    assert any(n.startswith("first runs' level ") for n in notes)
    assert any(n.startswith("threshold (first runs' level + threshold) ") for n in notes)
    (vertical,) = [s for s in figure["layout"]["shapes"] if s["x0"] == s["x1"]]
    assert vertical["x0"] == 9 - 0.5  # before run #10, the first slow one


def test_plain_and_ab_runs_of_one_machine_are_two_groups_that_say_why(tmp_path: Path) -> None:
    history = known_history()
    ab = [e.model_copy(update={"mode": "ab", "run_id": f"ab-{e.run_id}"}) for e in history[:4]]
    key = history[0].key
    build_site({key: [*history, *ab]}, tmp_path, source="test")
    text = (tmp_path / INDEX_FILE).read_text(encoding="utf-8")
    titles = re.findall(r'<h2 title="([^"]+)">([^<]+)</h2>', text)
    assert [k for k, _ in titles] == [key, key]  # one key, two kinds of run
    assert titles[0][1].endswith(": plain runs") and titles[1][1].endswith(": A/B runs (head side)")
    assert "These are the head sides of A/B runs" in text
    assert (tmp_path / f"{key_dir(key)}--ab" / f"{safe_name(TOTAL)}.html").is_file()


def test_ticks_tell_same_day_runs_apart() -> None:
    first, second = known_history()[:2]
    assert run_tick(0, first) == "#1 00c0ffe<br>11-29 08:00"
    assert run_tick(1, second) == "#2 01c0ffe<br>11-29 08:15"


@pytest.mark.parametrize(
    ("unit", "values", "expected"),
    [
        ("s", [0.08, 0.09], ("ms", 1e-3)),
        ("s", [4e-5], ("µs", 1e-6)),
        ("s", [12.0], ("s", 1.0)),
        ("s", [2400.0], ("min", 60.0)),
        ("B", [3.2e9], ("GiB", 2.0**30)),
        ("B", [5.0e6], ("MiB", 2.0**20)),
        ("reads/s", [72.0], ("reads/s", 1.0)),
    ],
)
def test_units_are_scaled_for_people(
    unit: str, values: list[float], expected: tuple[str, float]
) -> None:
    scale = choose_scale(unit, values)
    assert (scale.unit, scale.factor) == expected


def test_no_runs_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="at least one run"):
        build_site({}, tmp_path, source="nothing")


# ----------------------------------------------------------------------------- gate health


@pytest.fixture(scope="module")
def gate_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tools.bench.site_history import build_gate_site

    return build_gate_site(tmp_path_factory.mktemp("gate-site"))


def test_the_gate_page_shows_false_alarms_the_flag_and_pr_shares(gate_site: Path) -> None:
    from tools.bench.site.gate import GATE_FILE

    text = (gate_site / GATE_FILE).read_text(encoding="utf-8")
    assert "Flagged runner(s): runner-a" in text and "FLAGGED: the canary" in text
    assert '<span class="bad">1/12</span> (8%)' in text
    assert "10 PR verdicts in the last 30 days" in text
    assert 'INVALID <span class="warn">20%</span>' in text
    assert 'INCONCLUSIVE <span class="warn">10%</span>' in text
    index = (gate_site / INDEX_FILE).read_text(encoding="utf-8")
    assert f'<a href="{GATE_FILE}">Gate health</a> (1 runner(s) flagged)' in index
    assert "--canary" not in index and "--pr" not in index  # the main series only
    assert not NETWORK.search(text)


def test_without_canary_or_pr_runs_the_gate_page_says_where_they_come_from(site: Path) -> None:
    from tools.bench.site.gate import GATE_FILE

    text = (site / GATE_FILE).read_text(encoding="utf-8")
    assert "No canary runs in the history yet" in text
    assert "No pull-request verdicts" in text
