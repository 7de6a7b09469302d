"""Where the dashboard finds runs on a fresh clone: branch, history folder, reports, or help."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.tools.bench import make_fixtures as mf
from tools.bench.cli.main import main
from tools.bench.history.runs import add_run, entry_from_results
from tools.bench.history.source import FIRST_STEPS, load_history
from tools.bench.report.document import build_report, write_reports
from virnucpro.errors import InputError

NOW = datetime(2026, 11, 29, 20, 0, tzinfo=timezone.utc)


def test_a_fresh_clone_with_reports_builds_from_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    report = build_report(mf.load_fixture("cpu_run"), verdict=None, now=NOW)
    write_reports(report, Path("tests/reports"))
    loaded = load_history()
    assert loaded.runs == 1 and "no history published yet" in loaded.source
    assert main(["dashboard"]) == 0
    assert "from reports under tests/reports" in capsys.readouterr().out
    assert Path("tests/reports/dashboard/index.html").is_file()


def test_the_history_folder_wins_over_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_reports(
        build_report(mf.load_fixture("cpu_run"), verdict=None, now=NOW), Path("tests/reports")
    )
    add_run(Path("tests/reports/history"), entry_from_results(mf.load_fixture("gpu_run")))
    assert load_history().source == "history folder tests/reports/history"


def test_nothing_at_all_says_what_to_run_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="python -m virnucpro benchmark --quick"):
        load_history()
    assert main(["dashboard"]) == 2
    err = capsys.readouterr().err
    assert FIRST_STEPS in err and "Traceback" not in err
    assert "no runs in this checkout (no benchmark-data branch" in err


def test_a_missing_branch_says_to_publish_first(tmp_path: Path) -> None:
    import subprocess

    remote = tmp_path / "data.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    with pytest.raises(InputError, match="no such branch; publish a run to it first"):
        load_history(remote=str(remote))
