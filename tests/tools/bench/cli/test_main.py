"""``python -m tools.bench``: exit codes, one-line errors, and the wiring of every subcommand."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from tools.bench.cli.main import main
from tools.bench.history.runs import DEFAULT_HISTORY_DIR, add_run, entry_from_results
from tools.bench.synthetic import draw_samples, synthetic_document
from tools.bench.verdict import Verdict
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.schema import (
    ResultsDocument,
    metric_from_samples,
    write_document,
)

REPO = Path(__file__).resolve().parents[4]


def _doc(level: float, *, seed: int, run_id: str, **fields: str) -> ResultsDocument:
    samples = draw_samples(np.random.default_rng(seed), level=level, noise=0.02, count=10)
    metric = metric_from_samples(TOTAL_TIME_METRIC, samples, unit="s", better="lower")
    return synthetic_document([metric], run_id=run_id, **fields)


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    """Results files: a baseline, an unchanged, a 20% slower and an invalid candidate."""
    docs = {
        "base": _doc(100.0, seed=1, run_id="base"),
        "same": _doc(100.0, seed=2, run_id="same"),
        "slow": _doc(120.0, seed=3, run_id="slow"),
        "invalid": _doc(100.0, seed=4, run_id="invalid", invalid_reason="GPU throttled"),
        "other": _doc(150.0, seed=5, run_id="other", cpu_model="another-cpu"),
    }
    return {name: write_document(doc, tmp_path / f"{name}.json") for name, doc in docs.items()}


TIGHT_RUNS = (100.0, 101.0, 99.0, 100.5, 99.5, 100.2, 99.8)  # about ±0.7% between runs


@pytest.fixture
def tight(tmp_path: Path) -> Path:
    """A run history of seven runs over two days (about ±0.7% apart): enough to fail a run."""
    folder = tmp_path / "tight-history"
    for i, level in enumerate(TIGHT_RUNS):
        doc = _doc(
            level, seed=40 + i, run_id=f"t{i}", created_at=f"2024-12-{20 + i % 2}T08:00:00+00:00"
        )
        add_run(folder, entry_from_results(doc))
    return folder


@pytest.fixture
def store(tmp_path: Path, runs: dict[str, Path]) -> Path:
    """A baselines folder holding the baseline run."""
    folder = tmp_path / "baselines"
    assert main(["baseline", "update", str(runs["base"]), "--baseline-dir", str(folder)]) == 0
    return folder


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tools.bench: error: ")
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("run", "code", "outcome"),
    [("same", 0, "pass"), ("slow", 1, "regression"), ("invalid", 2, "could_not_judge")],
)
def test_check_exit_codes_against_the_stored_baseline_and_a_history(
    runs: dict[str, Path],
    store: Path,
    tight: Path,
    capsys: pytest.CaptureFixture[str],
    run: str,
    code: int,
    outcome: str,
) -> None:
    argv = ["check", str(runs[run]), "--baseline-dir", str(store), "--history", str(tight)]
    assert main(argv) == code
    assert f"outcome: {outcome} (exit {code})" in capsys.readouterr().out


def test_check_against_one_stored_run_reports_drift_never_a_regression(
    runs: dict[str, Path], store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(runs["slow"]), "--baseline-dir", str(store)]) == 2
    out = capsys.readouterr().out
    assert "outcome: inconclusive (exit 2)" in out
    assert "drift against the stored run of 2025-01-01" in out


def test_check_against_a_file_of_other_hardware_is_no_baseline(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(runs["slow"]), "--baseline", str(runs["other"])]) == 2
    assert "no_baseline" in capsys.readouterr().out


@pytest.mark.parametrize(("flags", "code"), [([], 2), (["--allow-no-baseline"], 0)])
def test_require_baseline(
    runs: dict[str, Path], tmp_path: Path, flags: list[str], code: int
) -> None:
    empty = tmp_path / "empty"
    assert main(["check", str(runs["same"]), "--baseline-dir", str(empty), *flags]) == code


def test_thresholds_file_in_the_store_then_flags_override_it(
    runs: dict[str, Path], store: Path, tight: Path
) -> None:
    (store / "thresholds.toml").write_text("fail_slowdown = 0.5\n", encoding="utf-8")
    flags = ["--baseline-dir", str(store), "--history", str(tight)]
    assert main(["check", str(runs["slow"]), *flags]) == 0
    assert main(["check", str(runs["slow"]), *flags, "--fail-threshold", "0.1"]) == 1


def test_check_writes_the_verdict_as_json(
    runs: dict[str, Path], store: Path, tight: Path, tmp_path: Path
) -> None:
    out = tmp_path / "verdict.json"
    flags = ["--baseline-dir", str(store), "--history", str(tight), "--json", str(out)]
    assert main(["check", str(runs["slow"]), *flags]) == 1
    verdict = Verdict.model_validate_json(out.read_text(encoding="utf-8"))
    assert verdict.outcome == "regression"
    assert [j.name for j in verdict.failures] == [TOTAL_TIME_METRIC]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "{missing}"], "no such file"),
        (["check", "{garbage}"], "not valid JSON"),
        (["check", "{same}", "--alpha", "abc"], "--alpha"),
        (["check", "{same}", "--alpha", "0.9"], "alpha"),
        (["check", "{same}", "--thresholds", "{bad_toml}"], "bogus"),
        (["check", "{same}", "--history", "{missing}"], "--history"),
        (["check", "{same}", "--history", "{same}"], "no such folder"),
        (["check", "{same}", "--history", "{store}", "--no-history"], "not allowed with"),
        (["frobnicate"], "invalid choice"),
        (["trend", "--dir", "{store}"], "python -m virnucpro benchmark --quick"),
        (["dashboard", "--dir", "{store}"], "then `python -m tools.bench publish"),
    ],
)
def test_bad_input_is_one_line_and_exit_two(
    runs: dict[str, Path],
    store: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    (tmp_path / "garbage.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "bad.toml").write_text("bogus = 1\n", encoding="utf-8")
    paths = {
        "missing": tmp_path / "missing.json",
        "garbage": tmp_path / "garbage.json",
        "bad_toml": tmp_path / "bad.toml",
        "store": store,
        **runs,
    }
    filled = [a.format(**{k: str(v) for k, v in paths.items()}) for a in argv]
    assert main(filled) == 2
    assert message in _one_line_error(capsys.readouterr().err)


DRIFTING_RUNS = (100.0, 112.0, 95.0, 118.0, 104.0, 92.0, 115.0)  # about ±10% between runs


def _write_history(folder: Path, levels: tuple[float, ...] = DRIFTING_RUNS) -> Path:
    for i, level in enumerate(levels):
        add_run(folder, entry_from_results(_doc(level, seed=20 + i, run_id=f"h{i}")))
    return folder


def test_check_with_a_history_judges_against_its_between_run_noise(
    runs: dict[str, Path], store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["check", str(runs["slow"]), "--baseline-dir", str(store)]
    assert main(argv) == 2  # one stored run: a 20% move is drift, never a regression
    assert "one run cannot measure" in capsys.readouterr().out
    history = _write_history(tmp_path / "history")
    assert main([*argv, "--history", str(history)]) == 2
    out = capsys.readouterr().out
    assert "outcome: inconclusive (exit 2)" in out
    assert "between-run noise from 7 runs of the history: total time ±" in out
    assert "one run cannot measure" not in out


def test_check_uses_the_default_history_folder_unless_told_not_to(
    runs: dict[str, Path],
    store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    _write_history(tmp_path / DEFAULT_HISTORY_DIR)
    argv = ["check", str(runs["slow"]), "--baseline-dir", str(store)]
    assert main(argv) == 2
    assert str(DEFAULT_HISTORY_DIR) in capsys.readouterr().out
    assert main([*argv, "--no-history"]) == 2
    out = capsys.readouterr().out
    assert str(DEFAULT_HISTORY_DIR) not in out and "one run cannot measure" in out


def test_a_damaged_history_is_one_line_and_exit_two(
    runs: dict[str, Path], store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = _write_history(tmp_path / "history")
    (damaged,) = history.glob("*/*.jsonl")
    damaged.write_text(damaged.read_text(encoding="utf-8") + "{oops\n", encoding="utf-8")
    argv = ["check", str(runs["slow"]), "--baseline-dir", str(store), "--history", str(history)]
    assert main(argv) == 2
    error = _one_line_error(capsys.readouterr().err)
    assert str(damaged) in error and "not valid JSON" in error


def test_report_check_takes_the_history_too(
    runs: dict[str, Path], store: Path, tmp_path: Path
) -> None:
    history = _write_history(tmp_path / "history")
    out = tmp_path / "reports"
    argv = ["report", str(runs["slow"]), "--out", str(out), "--check"]
    assert main([*argv, "--baseline-dir", str(store), "--history", str(history)]) == 2
    report = json.loads(next(out.glob("*.json")).read_text(encoding="utf-8"))
    assert report["verdict"]["outcome"] == "inconclusive"
    assert any("between-run noise" in r for r in report["verdict"]["reasons"])


def test_baseline_show(
    runs: dict[str, Path], store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["baseline", "show", str(runs["same"]), "--baseline-dir", str(store)]) == 0
    shown = capsys.readouterr().out
    assert "from run base" in shown
    assert TOTAL_TIME_METRIC in shown
    assert main(["baseline", "show", str(runs["other"]), "--baseline-dir", str(store)]) == 0
    assert "no baseline stored" in capsys.readouterr().out


def test_baseline_update_refuses_an_invalid_run(
    runs: dict[str, Path], store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["baseline", "update", str(runs["invalid"]), "--baseline-dir", str(store)]) == 2
    assert "GPU throttled" in _one_line_error(capsys.readouterr().err)


def test_publish_then_trend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "history"
    for i, level in enumerate([100.0] * 6 + [130.0] * 6):
        path = write_document(_doc(level, seed=i, run_id=f"r{i}"), tmp_path / f"r{i}.json")
        assert main(["publish", str(path), "--dir", str(folder)]) == 0
    capsys.readouterr()
    assert main(["trend", "--dir", str(folder), "--metric", TOTAL_TIME_METRIC]) == 0
    out = capsys.readouterr().out
    assert "(12 runs)" in out
    assert "#6 " in out  # the change point


def test_trend_names_an_unknown_key(
    tmp_path: Path, runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "history"
    assert main(["publish", str(runs["base"]), "--dir", str(folder)]) == 0
    capsys.readouterr()
    assert main(["trend", "--dir", str(folder), "--key", "../x"]) == 2
    assert "no history for key ../x" in _one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("command", "module", "function"),
    [
        ("post", "tools.bench.cli.github", "main_post"),
        ("badge", "tools.bench.cli.badge", "main_badge"),
    ],
)
def test_post_and_badge_delegate_their_arguments(
    monkeypatch: pytest.MonkeyPatch, command: str, module: str, function: str
) -> None:
    seen: list[list[str]] = []
    fake = types.ModuleType(module)
    setattr(fake, function, lambda argv: seen.append(argv) or 7)
    monkeypatch.setitem(sys.modules, module, fake)
    assert main([command, "report.json", "--pr", "3"]) == 7
    assert seen == [["report.json", "--pr", "3"]]


@pytest.mark.parametrize("command", ["post", "badge"])
def test_post_and_badge_load_their_real_modules(command: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.bench", command, "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: python -m tools.bench {command}")


def test_report_with_check_writes_both_files(
    runs: dict[str, Path], store: Path, tight: Path, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    flags = ["--check", "--baseline-dir", str(store), "--history", str(tight)]
    code = main(["report", str(runs["slow"]), "--out", str(out), *flags])
    assert code == 1
    written = sorted(p.suffix for p in out.iterdir())
    assert written == [".json", ".md"]
    report = json.loads(next(out.glob("*.json")).read_text(encoding="utf-8"))
    assert report["verdict"]["outcome"] == "regression"


def test_report_without_check_has_no_verdict(runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "reports"
    assert main(["report", str(runs["slow"]), "--out", str(out)]) == 0
    report = json.loads(next(out.glob("*.json")).read_text(encoding="utf-8"))
    assert report["verdict"] is None


def test_compare_writes_markdown_and_exits_with_the_verdict(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "compare.md"
    assert main(["compare", str(runs["base"]), str(runs["same"]), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert TOTAL_TIME_METRIC in text and "Verdict: **PASS** (exit code 0)" in text
    assert capsys.readouterr().out.startswith("unpaired comparison: the two runs were measured")
    assert main(["compare", str(runs["base"]), str(runs["slow"]), "--out", str(out)]) == 2
    text = out.read_text(encoding="utf-8")
    assert "Verdict: **INCONCLUSIVE** (exit code 2)" in text and "weaker" in text


def test_compare_suggests_no_option_it_does_not_accept(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 17: compare of other hardware suggested --allow-no-baseline, which it rejects."""
    assert main(["compare", str(runs["other"]), str(runs["slow"])]) == 2
    out = capsys.readouterr().out
    assert "not comparable" in out and "--allow-no-baseline" not in out
    assert "Verdict: **NO BASELINE** (exit code 2)" in out


def test_dashboard_from_the_history(tmp_path: Path, runs: dict[str, Path]) -> None:
    folder, site, md = tmp_path / "history", tmp_path / "site", tmp_path / "md"
    for name in ("base", "same", "slow"):
        assert main(["publish", str(runs[name]), "--dir", str(folder)]) == 0
    assert main(["dashboard", "--dir", str(folder), "--html", str(site)]) == 0
    assert (site / "index.html").is_file() and (site / "plotly.min.js").is_file()
    assert main(["dashboard", "--dir", str(folder), "--md", str(md)]) == 0
    assert any(p.suffix == ".png" for p in md.iterdir())


def test_markdown_dashboard_needs_one_key_when_several_exist(
    tmp_path: Path, runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "history"
    for name in ("base", "other"):
        assert main(["publish", str(runs[name]), "--dir", str(folder)]) == 0
    code = main(["dashboard", "--dir", str(folder), "--md", str(tmp_path / "d")])
    assert code == 2
    assert "--key" in _one_line_error(capsys.readouterr().err)


def test_publish_keeps_the_history_out_of_baselines(
    tmp_path: Path, runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["publish", str(runs["base"])]) == 0
    written = list(tmp_path.rglob("*.jsonl"))
    assert [p.relative_to(tmp_path).parts[:3] for p in written] == [("tests", "reports", "history")]


def test_publish_to_a_branch_of_a_bare_repository(
    tmp_path: Path, runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    remote = tmp_path / "data.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    for name in ("base", "same", "same"):
        assert main(["publish", str(runs[name]), "--remote", str(remote)]) == 0
    out = capsys.readouterr().out
    assert "run same: already there" in out
    assert main(["trend", "--remote", str(remote), "--branch", "benchmark-data"]) == 0
    assert "(2 runs)" in capsys.readouterr().out


def test_module_entry_point_runs_as_a_process(runs: dict[str, Path], store: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.bench",
            "check",
            str(runs["slow"]),
            "--baseline-dir",
            str(store),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "outcome: inconclusive" in done.stdout and "drift against the stored run" in done.stdout
    assert "Traceback" not in done.stderr


def test_publish_a_canary_report_to_its_own_series(
    tmp_path: Path, runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.tools.bench.history.test_runs import _paired_report
    from virnucpro.atomic import atomic_write_text
    from virnucpro.bench.schema import read_document

    report = _paired_report(read_document(runs["base"]))
    path = tmp_path / "benchmark_canary.json"
    atomic_write_text(path, report.model_dump_json())
    folder = tmp_path / "history"
    assert main(["publish", str(path), "--dir", str(folder), "--series", "canary"]) == 0
    assert "--canary.jsonl" in capsys.readouterr().out
    assert main(["publish", str(runs["base"]), "--dir", str(folder), "--series", "pr"]) == 2
    assert "keeps verdicts; give a benchmark report" in _one_line_error(capsys.readouterr().err)
