"""History dashboard: markdown with sparklines, one valid PNG per charted metric."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from tests.tools.bench import make_fixtures as mf
from tools.bench.history.runs import RunEntry, entry_from_results
from tools.bench.site.markdown import DASHBOARD_FILE, png_name, sparkline, write_dashboard
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.schema import ResultsDocument, unavailable_metric
from virnucpro.errors import InputError

CHARTED = (TOTAL_TIME_METRIC, "gpu.utilization", "memory.cuda_peak_allocated")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _entries(docs: Sequence[ResultsDocument]) -> list[RunEntry]:
    return [entry_from_results(d) for d in docs]


def _row(markdown: str, name: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(f"| `{name}`"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_sparkline_is_exported_here() -> None:
    assert sparkline([1.0, 8.0]) == "▁█"


def test_dashboard_files_and_png_validity(tmp_path: Path) -> None:
    path = write_dashboard(_entries(mf.history()), tmp_path, metrics=CHARTED)
    assert path == tmp_path / DASHBOARD_FILE
    for name in CHARTED:
        png = tmp_path / png_name(name)
        assert png.read_bytes().startswith(PNG_MAGIC)
        with Image.open(png) as image:
            image.verify()
            assert image.format == "PNG" and image.size[0] > 0 and image.size[1] > 0
        assert f"![{name}]({png.name})" in path.read_text(encoding="utf-8")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_runs_are_ordered_by_creation_time(tmp_path: Path) -> None:
    text = write_dashboard(_entries(mf.history()), tmp_path, metrics=CHARTED).read_text(
        encoding="utf-8"
    )
    runs = text.split("## Runs")[1]
    assert [runs.index(f"`gpu-h{k}`") for k in range(4)] == sorted(
        runs.index(f"`gpu-h{k}`") for k in range(4)
    )
    total = _row(text, TOTAL_TIME_METRIC)
    assert total[3] == "`▂▁▃█`"  # esm drift 1.0, 0.98, 1.03, 1.14 in date order
    assert total[2] == "42 min 09.0 s" and total[6] == "4/4"


def test_unmeasured_runs_leave_gaps_not_zeros(tmp_path: Path) -> None:
    runs = list(mf.history())
    first = min(runs, key=lambda d: d.run.created_at)
    gone = unavailable_metric("gpu.utilization", unit="%", reason="NVML missing", better="higher")
    patched = first.model_copy(
        update={"metrics": tuple(gone if m.name == "gpu.utilization" else m for m in first.metrics)}
    )
    runs[runs.index(first)] = patched
    text = write_dashboard(
        _entries(runs), tmp_path, metrics=["gpu.utilization", "never.measured"]
    ).read_text(encoding="utf-8")
    util = _row(text, "gpu.utilization")
    assert util[3].startswith("` ") and util[6] == "3/4"
    never = _row(text, "never.measured")
    assert never[2].startswith("unavailable") and never[4].startswith("unavailable")
    assert not (tmp_path / png_name("never.measured")).exists()


def test_default_metrics_chart_everything_measured(tmp_path: Path) -> None:
    small: list[ResultsDocument] = [
        doc.model_copy(update={"metrics": doc.metrics[:2]}) for doc in mf.history()
    ]
    write_dashboard(_entries(small), tmp_path)
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == sorted(png_name(m.name) for m in small[0].metrics)


def test_invalid_and_mixed_history_is_flagged(tmp_path: Path) -> None:
    runs = [*mf.history(), mf.load_fixture("invalid_run"), mf.load_fixture("cpu_run")]
    text = write_dashboard(_entries(runs), tmp_path, metrics=[TOTAL_TIME_METRIC]).read_text(
        encoding="utf-8"
    )
    assert "the history mixes 2 hardware/workload setups" in text
    assert "Invalid runs (marked x in the charts): gpu-20250303-1100." in text


def test_empty_history_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="at least one"):
        write_dashboard([], tmp_path)


def test_dashboard_matches_snapshot(tmp_path: Path) -> None:
    text = write_dashboard(_entries(mf.history()), tmp_path, metrics=CHARTED).read_text(
        encoding="utf-8"
    )
    mf.assert_snapshot("dashboard_history.md", text)
