"""``virnucpro benchmark`` on the command line: help, one-line errors, wiring, one real run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import virnucpro
from tools.bench.synthetic import synthetic_document
from tools.bench.verdict import Verdict
from virnucpro.bench.ab.document import NOT_RUN_IN_AB
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.options import BenchOptions
from virnucpro.bench.run.suites import SuiteRun
from virnucpro.bench.schema import metric_from_samples, read_document
from virnucpro.cli import ab as cli_ab
from virnucpro.cli import bench_run, main
from virnucpro.errors import RunFailure

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = (
    "virnucpro benchmark --quick",
    "virnucpro benchmark --suite scaling --gpus 0,1,2,3",
    "virnucpro benchmark --vanilla-baseline --data-size large",
)


def _exit_code(argv: list[str]) -> int:
    try:
        return main(["benchmark", *argv])
    except SystemExit as exc:  # argparse: --help and usage errors
        return int(exc.code or 0)


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "error" in lines[0] and "Traceback" not in err
    return lines[0]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def test_help_shows_the_three_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["--help"]) == 0
    out = capsys.readouterr().out
    for example in EXAMPLES:
        assert example in out
    for option in ("--suite", "--data-size", "--gpus", "--output-dir", "--compare-to"):
        assert option in out


def test_parsing_the_command_does_not_import_torch_nor_the_schema() -> None:
    code = (
        "import sys; from virnucpro.cli import build_parser; "
        "build_parser().parse_args(['benchmark', '--quick']); "
        "print('torch' in sys.modules, 'pydantic' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True
    )
    assert done.stdout.strip() == "False False"


@pytest.mark.parametrize(
    "argv",
    [
        ["--data-size", "huge"],
        ["--rounds", "0"],
        ["--tier", "slow"],
        ["--suite", "nope"],
        ["--suite", "memory,nope"],
        ["--quick", "--tier", "full"],
        ["--gpus", "a,b"],
        ["--input", "/nonexistent/reads.fa"],
        ["--history", "/nonexistent/history"],
        ["--history", "/tmp", "--no-history"],
        ["--head-root", "/tmp"],  # without --against
        ["--against", "HEAD", "--head-root", "/nonexistent/checkout"],
    ],
)
def test_bad_values_exit_2_with_one_line(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports"
    assert _exit_code([*argv, "--output-dir", str(out)]) == 2
    _one_line_error(capsys.readouterr().err)
    assert not out.exists()  # a refused run leaves no run folder behind


@pytest.mark.parametrize("suite", ["scaling", "e2e,equivalence"])
def test_a_suite_a_b_mode_does_not_run_is_refused_with_why(
    suite: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def measured(*args: object, **kwargs: object) -> None:
        raise AssertionError("the A/B rounds ran before --suite was checked")

    monkeypatch.setattr(cli_ab, "run_against", measured)
    assert _exit_code(["--quick", "--against", "HEAD", "--suite", suite]) == 2
    line = _one_line_error(capsys.readouterr().err)
    name = suite.split(",")[-1]
    assert f"--suite {name}: {NOT_RUN_IN_AB[name]}" in line


def test_compare_to_other_json_says_what_it_is_before_measuring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "package.json"
    other.write_text(json.dumps({"name": "x", "version": "1.0"}), encoding="utf-8")

    def measured(*args: object, **kwargs: object) -> None:
        raise AssertionError("the suites ran before --compare-to was checked")

    monkeypatch.setattr(bench_run, "measure_suites", measured)
    out = tmp_path / "reports"
    assert _exit_code(["--quick", "--compare-to", str(other), "--output-dir", str(out)]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "not a results, report or baseline file" in line and "schema_version" not in line
    assert not out.exists()  # checked before the run folder and its config were written


@pytest.mark.parametrize("against", [True, False])
def test_a_failure_to_measure_exits_2_never_the_regression_code(
    against: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A crashed worker (or any failure while running) cannot judge: exit 2, one line."""

    def crashed(*args: object, **kwargs: object) -> None:
        raise RunFailure("the base worker stopped (exit 1); see base-worker.log")

    monkeypatch.setattr(
        cli_ab if against else bench_run, "run_against" if against else "measure_suites", crashed
    )
    argv = ["--quick", "--against", "HEAD"] if against else ["--quick", "--allow-no-baseline"]
    assert _exit_code(argv) == 2
    assert "the base worker stopped" in _one_line_error(capsys.readouterr().err)


def test_an_unexpected_error_in_the_benchmark_exits_2_and_shows_where(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(cli_ab, "run_against", broken)
    assert _exit_code(["--quick", "--against", "HEAD"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'a bug'" in err  # a bug shows where it is
    assert err.rstrip().splitlines()[-1] == "virnucpro: error: benchmark failed (KeyError, above)"


def test_predict_failures_keep_exit_1(
    orf_fasta: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import virnucpro.pipeline as pipeline  # the package the command imports predict from

    def failed(*args: object, **kwargs: object) -> None:
        raise RunFailure("another rank failed")

    monkeypatch.setattr(pipeline, "predict", failed)
    assert main(["predict", str(orf_fasta), "-o", str(tmp_path / "out")]) == 1


def test_outside_a_checkout_exits_2_saying_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(virnucpro, "__file__", str(tmp_path / "site" / "virnucpro" / "x.py"))
    monkeypatch.chdir(tmp_path)
    assert _exit_code(["--quick"]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "source checkout" in line and "tests/benchmarks" in line


def _outcome(exit_code: int, outcome: str) -> bench_run.BenchOutcome:
    metric = metric_from_samples(TOTAL_TIME_METRIC, [1.0, 1.2, 1.1], unit="s", better="lower")
    results = synthetic_document([metric])
    verdict = Verdict(outcome=outcome, exit_code=exit_code, reasons=("why it is so",))  # type: ignore[arg-type]
    return bench_run.BenchOutcome(
        exit_code=exit_code,
        outcome=outcome,
        results_path=Path("results.json"),
        results=results,
        report_paths=(Path("benchmark_x.md"), Path("benchmark_x.json")),
        verdict=verdict,
        suite_run=SuiteRun(0),
        seconds=12.0,
    )


def test_options_reach_the_runner_and_its_exit_code_is_returned(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[BenchOptions] = []

    def fake_run(options: BenchOptions, **kwargs: object) -> bench_run.BenchOutcome:
        seen.append(options)
        return _outcome(1, "regression")

    monkeypatch.setattr(bench_run, "run_benchmark", fake_run)
    argv = ["--quick", "--suite", "scaling", "--suite", "memory,e2e", "--gpus", "none"]
    argv += ["--rounds", "3", "--vanilla-baseline", "--update-baseline"]
    assert _exit_code(argv) == 1
    options = seen[0]
    assert options.tier == "quick" and options.data_size == "tiny"
    assert options.suites == ("end_to_end", "memory", "scaling")
    assert options.gpus == () and options.rounds == 3 and options.launch_rounds == 3
    assert options.vanilla_baseline and options.update_baseline and options.require_baseline
    assert options.history_dir is None and options.use_history  # the default history
    out = capsys.readouterr().out
    assert TOTAL_TIME_METRIC in out and "verdict: REGRESSION" in out
    assert "why it is so" in out and "benchmark_x.md" in out


@pytest.mark.parametrize(
    ("argv", "history_dir", "use_history"),
    [(["--history", "runs/history"], Path("runs/history"), True), (["--no-history"], None, False)],
)
def test_history_options_reach_the_runner(
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    history_dir: Path | None,
    use_history: bool,
) -> None:
    seen: list[BenchOptions] = []

    def fake_run(options: BenchOptions, **kwargs: object) -> bench_run.BenchOutcome:
        seen.append(options)
        return _outcome(0, "pass")

    monkeypatch.setattr(bench_run, "run_benchmark", fake_run)
    assert _exit_code(["--quick", *argv]) == 0
    assert (seen[0].history_dir, seen[0].use_history) == (history_dir, use_history)


def test_progress_is_plain_lines_when_stdout_is_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake_run(options: BenchOptions, *, progress: object, **kwargs: object) -> object:
        progress.phase("running end_to_end::total_time")  # type: ignore[attr-defined]
        progress.collected(1)  # type: ignore[attr-defined]
        for done in (1, 2, 3):
            progress.round_done(done, 3, 1.5)  # type: ignore[attr-defined]
        progress.finished("tests/benchmarks/test_end_to_end.py::test_total_time", "passed")  # type: ignore[attr-defined]
        return _outcome(0, "pass")

    monkeypatch.setattr(bench_run, "run_benchmark", fake_run)
    assert _exit_code(["--quick"]) == 0
    lines = capsys.readouterr().out.splitlines()
    progress = [line.split("] ", 1)[1] for line in lines if line.startswith("[0:00:0")]
    assert progress == [
        "running end_to_end::total_time",
        "1 suite tests to run",
        "  round 3/3, latest median 1.5 s",
        "end_to_end::total_time: passed (1/1 suite tests done)",
    ]


@pytest.mark.slow
def test_quick_tier_writes_a_valid_document_and_reports(tmp_path: Path) -> None:
    """The real thing, restricted to the end-to-end suite and 2 rounds."""
    reports = tmp_path / "reports"
    argv = ["--quick", "--suite", "end_to_end", "--rounds", "2", "--output-dir", str(reports)]
    argv += ["--baseline-dir", str(tmp_path / "baselines"), "--allow-no-baseline"]
    done = subprocess.run(
        [sys.executable, "-m", "virnucpro", "benchmark", *argv],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict: NO BASELINE" in done.stdout
    # stdout is a pipe, not a terminal: plain progress lines, one per suite test and round
    assert re.search(r"^\[0:\d\d:\d\d\] running end_to_end::", done.stdout, re.M)
    assert re.search(r"^\[0:\d\d:\d\d\]   round 2/2, latest median [\d.e-]+ s$", done.stdout, re.M)
    assert re.search(r"^\[0:\d\d:\d\d\] end_to_end::\S+: passed \(1/\d+ suite", done.stdout, re.M)
    report = json.loads(next(reports.glob("benchmark_*.json")).read_text())
    assert next(reports.glob("benchmark_*.md")).read_text().startswith("# VirNucPro Benchmark")
    doc = read_document(next(reports.glob("runs/*/results.json")))
    assert report["results"]["run"]["run_id"] == doc.run.run_id
    assert doc.run.tier == "quick" and doc.run.suites == ("end_to_end",)
    total = doc.metric(TOTAL_TIME_METRIC)
    assert total is not None and len(total.samples) == 2
    assert not doc.gpu.available and doc.gpu.reason  # CPU: telemetry unavailable, with why
    # the published outputs of the first and last measured round, for the output check
    assert doc.outputs is not None and doc.outputs.first.frames == doc.workload.kept_frames
    assert doc.outputs.first.digest == doc.outputs.last.digest


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--quick", "--plan"], "go with --against"),
        (["--quick", "--mde", "0.03"], "go with --against"),
        (["--quick", "--against", "HEAD", "--mde", "0.03"], "--mde goes with --plan"),
        (["--quick", "--against", "HEAD", "--plan", "--mde", "3"], "between 0 and 1"),
    ],
)
def test_plan_options_are_checked_before_any_work(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_code(argv) == 2
    assert message in _one_line_error(capsys.readouterr().err)
