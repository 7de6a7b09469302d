"""The quick tier's default, scripted: side by side against the reference, the stored run as drift.

The A/B rounds are scripted (a fake ``run_against`` judges a drawn record with the real judge
and the real annotation), so these tests say what the command decides, not how fast the machine
is. The same flow measured for real, in a clone on the tiny models, is the last (slow) test.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests.bench.ab_records import ab_record, drawn_rounds
from tests.repos import git
from tools.bench.history.baseline import storage_key, update_baseline
from tools.bench.history.runs import add_run, entry_from_results
from tools.bench.judge.paired import judge_record
from tools.bench.synthetic import synthetic_document
from tools.bench.thresholds import DEFAULT_THRESHOLDS
from tools.bench.verdict import MetricJudgement, Verdict
from virnucpro.bench.ab.document import side_document
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.options import BenchOptions, for_tier
from virnucpro.bench.run.envinfo import environment_fingerprint
from virnucpro.bench.run.runner import anchored
from virnucpro.bench.schema import Metric, ResultsDocument, metric_from_samples
from virnucpro.bench.workload.fingerprint import workload_fingerprint
from virnucpro.bench.workload.prepare import prepare_workload
from virnucpro.cli import ab as cli_ab
from virnucpro.cli import main
from virnucpro.cli import side_by_side as sbs
from virnucpro.cli.ab import ABOutcome, worker_spec
from virnucpro.cli.reference import Reference, stored_for

REPO = Path(__file__).resolve().parents[2]
FASTER_DAY = 0.7  # the stored run reads as if measured on a 30% faster day


def _head_commit() -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _scaled(doc: ResultsDocument, factor: float) -> ResultsDocument:
    """Every time of ``doc`` times ``factor`` (every rate divided by it), commit HEAD."""

    def scale(metric: Metric) -> Metric:
        if metric.unit == "s":
            return metric.model_copy(update={"samples": tuple(s * factor for s in metric.samples)})
        if metric.unit.endswith("/s"):
            return metric.model_copy(update={"samples": tuple(s / factor for s in metric.samples)})
        return metric

    environment = doc.environment.model_copy(update={"git_commit": _head_commit()})
    return doc.model_copy(
        update={"metrics": tuple(scale(m) for m in doc.metrics), "environment": environment}
    )


class FakeAB:
    """``run_against`` with drawn rounds: the real judge, side documents and annotation."""

    def __init__(self, slowdown: float) -> None:
        self.slowdown = slowdown
        self.calls: list[dict[str, object]] = []

    def documents(self, options: BenchOptions) -> tuple[object, dict[str, ResultsDocument]]:
        workload = prepare_workload(options)
        rounds = drawn_rounds(20, slowdown=self.slowdown, seed=3)
        record = ab_record(rounds, root=str(REPO), workload=str(workload.path))
        spec = worker_spec(options, workload.path)
        docs = {
            side: side_document(
                record,
                side=side,
                options=options,
                spec=spec,
                command="t",
                notes=(),
                pairs="0" * 16,
                workload=workload,
            )
            for side in ("base", "head")
        }
        return record, docs

    def __call__(self, options: BenchOptions, **given: object) -> ABOutcome:
        self.calls.append({"options": options, **given})
        record, docs = self.documents(options)
        verdict = judge_record(record, thresholds=DEFAULT_THRESHOLDS, label=str(given["label"]))
        verdict = given["annotate"](verdict, docs["head"])  # type: ignore[operator]
        return ABOutcome(
            exit_code=verdict.exit_code,
            verdict=verdict,
            record=record,  # type: ignore[arg-type]
            report_paths=(),
            pairs_path=Path("ab_pairs.json"),
            seconds=1.0,
            notes=(),
        )


@pytest.fixture
def quick(tmp_path: Path) -> BenchOptions:
    return for_tier("quick", output_dir=tmp_path / "reports", baseline_dir=tmp_path / "baselines")


def _store_faster_day(options: BenchOptions) -> None:
    """The committed baseline, rewritten: same commit, every time x0.7."""
    _, docs = FakeAB(0.0).documents(options)
    update_baseline(_scaled(docs["head"], FASTER_DAY), options.baseline_dir)


def _argv(options: BenchOptions, *more: str) -> list[str]:
    folders = ["--output-dir", str(options.output_dir), "--baseline-dir", str(options.baseline_dir)]
    return ["benchmark", "--quick", *folders, *more]


@pytest.mark.parametrize(("slowdown", "code", "word"), [(0.0, 0, "PASS"), (0.15, 1, "REGRESSION")])
def test_a_faster_stored_day_is_drift_and_the_pairs_decide(
    quick: BenchOptions,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    slowdown: float,
    code: int,
    word: str,
) -> None:
    """Issue 17's done-when, scripted: untouched code against a stored run of a 30% faster day
    exits 0; models 15% slower exit 1; the drift is shown and never decides."""
    _store_faster_day(quick)
    fake = FakeAB(slowdown)
    monkeypatch.setattr(cli_ab, "run_against", fake)
    assert main(_argv(quick)) == code
    out = capsys.readouterr().out
    lines = out.splitlines()
    head = _head_commit()[:12]
    assert lines[0].startswith("compared: this checkout (") and lines[0].endswith(
        f"against {head}, side by side (paired rounds)"
    )
    assert lines[1].startswith(f"why: {head} is the commit the stored baseline of this hardware")
    assert lines[2].startswith("also: the stored run of ") and "shown as drift only" in lines[2]
    assert f"verdict: {word} (exit {code}" in out
    drift = next(line for line in lines if "drift against the stored run of" in line)
    expected = (1 + slowdown) / FASTER_DAY - 1  # +43% untouched, +64% slower
    shown = float(drift.split("total time ")[1].split("%")[0]) / 100
    assert shown == pytest.approx(expected, abs=0.03) and "not a verdict" in drift
    assert fake.calls[0]["ref"] == _head_commit()
    assert fake.calls[0]["label"] == f"{head} (the stored baseline's commit)"
    assert "paired median change" in out and re.search(r"\(\+ worse\) \[[\d.]+% interval\]", out)


def test_the_history_judges_the_drift_but_never_the_verdict(
    quick: BenchOptions, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A history of two days, all at the stored run's level: the +43% is judged FAIL as drift,
    and the side-by-side verdict, PASS, stands."""
    _store_faster_day(quick)
    _, docs = FakeAB(0.0).documents(quick)
    history = quick.output_dir / "history"
    for k, factor in enumerate((0.70, 0.705, 0.695, 0.70)):
        doc = _scaled(docs["head"], factor)
        run = doc.run.model_copy(
            update={"run_id": f"h{k}", "created_at": f"2026-11-2{k % 2}T08:00:00+00:00"}
        )
        add_run(history, entry_from_results(doc.model_copy(update={"run": run})))
    monkeypatch.setattr(cli_ab, "run_against", FakeAB(0.0))
    assert main(_argv(quick)) == 0
    out = capsys.readouterr().out
    assert "verdict: PASS (exit 0" in out
    drift = next(line for line in out.splitlines() if "drift against the stored run of" in line)
    assert "against 4 runs of the history: FAIL" in drift


def test_no_stored_baseline_takes_the_merge_base(
    quick: BenchOptions, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeAB(0.0)
    monkeypatch.setattr(cli_ab, "run_against", fake)
    assert main(_argv(quick)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "is the merge base of this checkout with" in lines[1]
    assert "no stored baseline for this hardware and workload" in lines[1]
    assert lines[2].startswith("also: no stored run to show drift against")


def _stored_verdict(*, history_runs: int | None) -> Verdict:
    total = MetricJudgement(
        name=TOTAL_TIME_METRIC, unit="s", status="pass", change=0.4, history_runs=history_runs
    )
    return Verdict(outcome="pass", exit_code=0, judgements=(total,), reasons=("stored",))


@pytest.mark.parametrize(("history_runs", "code"), [(None, 2), (5, 0)])
def test_without_a_reference_commit_the_stored_numbers_alone_cannot_pass(
    quick: BenchOptions,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    history_runs: int | None,
    code: int,
) -> None:
    """A checkout without git history: measured alone, COULD NOT JUDGE unless the history
    judged the total time (never a PASS or FAIL from one stored run)."""
    why = "no reference commit: /x has no git history (not a git repository)"
    monkeypatch.setattr(sbs, "choose_reference", lambda root, stored: Reference(None, why))
    reviewed: list[Verdict] = []

    def run_plain(options: BenchOptions, review) -> int:  # type: ignore[no-untyped-def]
        reviewed.append(review(_stored_verdict(history_runs=history_runs)))
        return reviewed[-1].exit_code

    code_run = sbs.run_side_by_side(
        quick, command="t", overrides={}, run_plain=run_plain, render_ab=print
    )
    assert code_run == code
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("compared: this checkout (") and out[0].endswith(f"alone: {why}")
    verdict = reviewed[0]
    assert verdict.reasons[0] == out[0]
    if code == 2:
        assert verdict.outcome == "could_not_judge"
        assert verdict.reasons[1].startswith("the checkout was measured alone")


def _args(**given: object) -> argparse.Namespace:
    return argparse.Namespace(**{"stored_baseline": False, "suite": None, **given})


def test_which_runs_keep_stored_baseline_mode(quick: BenchOptions) -> None:
    assert sbs.stored_mode_reason(_args(), quick) is None  # quick: side by side
    full = replace(quick, tier="full")
    assert sbs.stored_mode_reason(_args(), full) == (
        "the full tier keeps stored-baseline mode, for trends"
    )
    reason = sbs.stored_mode_reason(_args(suite=["memory"], stored_baseline=True), quick)
    assert reason is not None and reason.startswith("--stored-baseline, --suite")
    for changed in ({"update_baseline": True}, {"append_history": True}):
        assert sbs.stored_mode_reason(_args(), replace(quick, **changed)) is not None


def test_stored_baseline_with_against_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["benchmark", "--quick", "--against", "HEAD", "--stored-baseline"]) == 2
    assert "--stored-baseline cannot be combined with --against" in capsys.readouterr().err


# ----------------------------------------------------------------------------- measured


def _run_quick(clone: Path, out: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "virnucpro", "benchmark", "--quick", "--output-dir", out],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(clone), "OMP_NUM_THREADS": "1"},
        cwd=clone,
        timeout=900,
        check=False,
    )


def _store_for_this_machine(clone: Path, commit: str) -> None:
    """A baseline for this machine's key, recorded at ``commit``, its times 0.7 of a quick
    round here: the stored run of a faster day."""
    options = anchored(for_tier("quick"), clone)
    workload = prepare_workload(replace(options, output_dir=clone / "out-setup"))
    spec = worker_spec(options, workload.path)
    stored = stored_for(options, spec, workload, clone)
    metric = metric_from_samples(
        TOTAL_TIME_METRIC, [0.7 * 0.1] * 10, unit="s", better="lower"
    )  # the stored total time; a quick round takes about 0.1 s on a 2-core CPU
    doc = synthetic_document(
        [metric],
        run_id="faster-day",
        run={"engine": spec.engine, "model_preset": spec.preset, "device": spec.device},
        environment={"git_commit": commit, "git_dirty": False},
    )
    real_env = environment_fingerprint(repo=clone).model_copy(
        update={"torch_threads": spec.threads, "git_commit": commit, "git_dirty": False}
    )
    fingerprint = workload_fingerprint(
        workload.name, workload.path, expected_length=spec.expected_length, seed=workload.seed
    )
    run = doc.run.model_copy(update={"precision": spec.precision})
    doc = doc.model_copy(update={"environment": real_env, "workload": fingerprint, "run": run})
    assert storage_key(doc) == stored.key, (storage_key(doc), stored.key)
    update_baseline(doc, options.baseline_dir)  # replaces the committed one of this key, if any
    git(clone, "add", "-A", str(options.baseline_dir))
    git(clone, "commit", "-q", "-m", "a baseline of a faster day")


@pytest.mark.slow
def test_untouched_code_passes_against_a_faster_day_and_slower_models_fail(
    tmp_path: Path,
) -> None:
    """Issue 17's done-when, measured on the tiny models in a clone: untouched code against
    the stored run of a 30% faster day exits 0 (never 1); after a commit that makes the models
    slower (DNABERT-S does 45% more forward work, about +15% end to end) it exits 1 (never 0).
    A busy shared machine may make either run INVALID or INCONCLUSIVE (exit 2)."""
    from scripts.power_study import EXTRA_WORK, FORWARD_LINE, PATCHED_FILE

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(clone)], check=True)
    recorded = git(clone, "rev-parse", "HEAD")
    _store_for_this_machine(clone, recorded)

    untouched = _run_quick(clone, "out-untouched")
    lines = untouched.stdout.splitlines()
    assert untouched.returncode in (0, 2), untouched.stdout + untouched.stderr
    assert lines[0].endswith(f"against {recorded[:12]}, side by side (paired rounds)")
    assert lines[1].startswith(f"why: {recorded[:12]} is the commit the stored baseline")
    assert "drift against the stored run of" in untouched.stdout
    if untouched.returncode == 2:
        assert re.search(r"verdict: (INVALID|INCONCLUSIVE)", untouched.stdout), untouched.stdout
    else:
        assert "verdict: PASS" in untouched.stdout or "verdict: WARN" in untouched.stdout

    patched = clone / PATCHED_FILE
    text = patched.read_text(encoding="utf-8")
    patched.write_text(text.replace(FORWARD_LINE, EXTRA_WORK.format(share=0.45)), "utf-8")
    git(clone, "commit", "-q", "-am", "the models do more work")
    slower = _run_quick(clone, "out-slower")
    assert slower.returncode in (1, 2), slower.stdout + slower.stderr
    if slower.returncode == 2:
        assert re.search(r"verdict: (INVALID|INCONCLUSIVE)", slower.stdout), slower.stdout
    else:
        assert "verdict: REGRESSION" in slower.stdout
