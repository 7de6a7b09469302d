"""``python -m tools.bench rejudge``: the re-judged report is written, with the exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.ab_records import timed_record
from tests.tools.bench.fake_github import HEAD_SHA, write_report
from tests.tools.bench.judge.test_rejudge import _written, forged
from tools.bench.cli.main import main
from tools.bench.report.document import read_report
from virnucpro.bench.ab.schema import write_record


def _run(tmp_path: Path, *, slowdown: float, forge: bool, pairs: bool = True) -> tuple[int, Path]:
    record = timed_record(slowdown, head_commit=HEAD_SHA)
    honest = _written(record)
    report = write_report(forged(honest) if forge else honest, tmp_path / "benchmark_x.json")
    pairs_path = tmp_path / "ab_pairs.json"
    if pairs:
        write_record(record, pairs_path)
    out = tmp_path / "trusted" / "benchmark_pr.json"
    argv = ["rejudge", str(report), "--pairs", str(pairs_path), "--out", str(out)]
    return main([*argv, "--head-sha", HEAD_SHA]), out


def test_an_honest_report_exits_0_and_keeps_its_verdict(tmp_path: Path) -> None:
    code, out = _run(tmp_path, slowdown=0.0, forge=False)
    verdict = read_report(out).verdict
    assert code == 0 and verdict is not None and verdict.outcome == "pass"


def test_a_forged_pass_is_written_as_the_regression_it_was_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(tmp_path, slowdown=0.3, forge=True)
    verdict = read_report(out).verdict
    assert code == 1 and verdict is not None and verdict.outcome == "regression"
    assert "written PASS, re-judged REGRESSION" in capsys.readouterr().out


def test_missing_raw_pairs_write_a_could_not_judge_report_and_exit_2(tmp_path: Path) -> None:
    code, out = _run(tmp_path, slowdown=0.0, forge=False, pairs=False)
    verdict = read_report(out).verdict
    assert code == 2 and verdict is not None and verdict.outcome == "could_not_judge"


def test_an_unreadable_report_writes_nothing_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.json"
    argv = ["rejudge", str(tmp_path / "none.json"), "--pairs", str(tmp_path / "p.json")]
    assert main([*argv, "--out", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert err.startswith("python -m tools.bench rejudge: error: report ")
    assert "none.json: missing" in err
