"""``virnucpro benchmark --against``: the A/B mode end to end, and its option checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.bench.ab_records import ab_record, round_sample, tiny_spec
from tests.repos import clone_checkout, git
from tools.bench.judge.paired import judge_record
from tools.bench.report.document import build_report, render_markdown
from tools.bench.thresholds import DEFAULT_THRESHOLDS, with_overrides
from virnucpro.bench.ab.document import (
    COVERAGE_NOTE,
    NOT_RUN_IN_AB,
    NVML_MEMORY_IN_AB,
    side_document,
)
from virnucpro.bench.ab.schema import ABRecord, PairedRound, RoundSample, read_record
from virnucpro.bench.ab.worker import ON_CPU
from virnucpro.bench.metric_names import (
    CUDA_PEAK_ALLOCATED,
    CUDA_PEAK_RESERVED,
    GPU_ROUND_UTILIZATION,
    HOST_PEAK_RSS,
    NVML_DEVICE_USED,
)
from virnucpro.bench.options import for_tier
from virnucpro.bench.schema import ResultsDocument
from virnucpro.bench.workload.reads import make_reads, write_fasta
from virnucpro.cli.ab import PAIRS_FILE, run_against
from virnucpro.errors import InputError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("flag", ["compare_to", "update_baseline", "append_history", "history_dir"])
def test_storing_or_comparing_options_are_refused(flag: str, tmp_path: Path) -> None:
    value = tmp_path / "x.json" if flag in ("compare_to", "history_dir") else True
    options = for_tier("quick", output_dir=tmp_path, **{flag: value})
    with pytest.raises(InputError, match="cannot be combined with --against"):
        run_against(options, ref="HEAD", command="test", overrides={})


QUICK_AB = ("--quick", "--rounds", "6", "--max-rounds", "6")


def _start_ab(clone: Path, reports: Path, *argv: str) -> subprocess.Popen[str]:
    """``virnucpro benchmark --quick --against ...`` from ``clone``, with its code, in the
    background (the A/B mode checks the base out as a worktree of the clone, not of this
    checkout)."""
    command = [sys.executable, "-m", "virnucpro", "benchmark", *QUICK_AB, *argv]
    return subprocess.Popen(
        [*command, "--output-dir", str(reports)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(clone)},
        cwd=clone,
    )


def _finish(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = process.communicate(timeout=900)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _run_ab(clone: Path, reports: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return _finish(_start_ab(clone, reports, *argv))


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    return clone_checkout(tmp_path / "clone")


@pytest.mark.slow
def test_the_checkout_against_its_own_commit_end_to_end(clone: Path, tmp_path: Path) -> None:
    """Six pairs of real rounds, head against HEAD, fresh workers after three: a verdict, a
    report and the raw pairs."""
    reports = tmp_path / "reports"
    gate = tmp_path / "gate.toml"
    gate.write_text("ab_fresh_workers_every = 3\n", encoding="utf-8")
    done = _run_ab(clone, reports, "--against", "HEAD", "--thresholds", str(gate))
    # A/A: PASS, or exit 2 (six pairs may leave the total time undecided; a busy host is
    # INVALID); never a crash, never a regression.
    assert done.returncode in (0, 2), done.stdout + done.stderr
    assert "verdict: " in done.stdout and "raw pairs: " in done.stdout
    report = json.loads(next(reports.glob("benchmark_*.json")).read_text())
    assert report["verdict"]["mode"] == "paired"
    total = next(j for j in report["verdict"]["judgements"] if j["name"].endswith("total_time"))
    assert total["pairs"] == 6
    assert "this run could detect" in done.stdout  # the MDE line, in the console too
    design = report["verdict"]["design"]
    assert (design["planned_pairs"], design["look"], design["power"]) == (6, 1, 0.8)
    record = read_record(next(reports.glob("runs/ab-*/ab_pairs.json")))
    assert record.protocol is not None and record.protocol.order == "abba"
    assert {r.first for r in record.rounds[:2]} == {"base", "head"}
    assert len(record.rounds) == 6 and record.base.commit and len(record.base.commit) == 40
    assert record.base.package != record.head.package  # the base ran from its own worktree
    assert report["results"]["skipped"] == NOT_RUN_IN_AB
    assert report["results"]["run"]["suites"] == ["end_to_end", "throughput", "memory"]
    assert {p.name for p in reports.glob("runs/ab-*/results-*.json")} == {
        "results-head.json",
        "results-base.json",
    }
    # the harness's clock around every round, the worker's own timer beside it
    assert all(r.head.harness_seconds and r.base.harness_seconds for r in record.rounds)
    assert all(r.head.harness_seconds >= r.head.seconds for r in record.rounds)  # type: ignore[operator]
    # the outputs: kept, compared, the same (A/A), and the check's cost reported
    assert record.outputs is not None and record.outputs.problem is None
    assert record.check_outputs().status == "same"
    outputs = report["verdict"]["outputs"]
    assert outputs["status"] == "same" and outputs["comparisons"][0]["frames"] > 0
    assert "outputs the same" in done.stdout
    notes = report["results"]["notes"]
    assert any(n.startswith("output check: ") for n in notes)
    assert any("the harness's clock read" in n for n in notes)
    # fresh workers after three pairs: two worker pairs, the replacement's seconds reported
    assert [r.workers for r in record.rounds] == [0, 0, 0, 1, 1, 1]
    assert len(record.restart_seconds) == 1 and record.restart_seconds[0] > 0
    assert any(n.startswith("fresh workers: both workers replaced 1 time(s)") for n in notes)
    assert "from 2 worker pairs" in total["reason"]


@pytest.mark.slow
def test_two_runs_started_together_in_one_folder_keep_their_own_results(
    clone: Path, tmp_path: Path
) -> None:
    """Two CI jobs (or terminals) in one clone with one output folder, started at once: each
    finishes with its own report, run folder and raw pairs; the base checkout is made once."""
    reports = tmp_path / "reports"
    done = [_finish(p) for p in [_start_ab(clone, reports, "--against", "HEAD") for _ in "ab"]]
    for run in done:
        assert run.returncode in (0, 2), run.stdout + run.stderr  # never 1 (A/A), never a crash
        assert "Traceback" not in run.stdout + run.stderr
        assert "verdict: " in run.stdout, run.stdout + run.stderr
    jsons = sorted(reports.glob("benchmark_*.json"))
    assert len(jsons) == 2 and len(list(reports.glob("benchmark_*.md"))) == 2
    for path in jsons:
        assert (reports / json.loads(path.read_text())["markdown_file"]).is_file()
    folders = sorted(reports.glob("runs/ab-*"))
    assert len(folders) == 2
    for folder in folders:
        assert len(read_record(folder / PAIRS_FILE).rounds) == 6
        assert {p.name for p in folder.glob("results-*.json")} == {
            "results-head.json",
            "results-base.json",
        }
        for log in folder.glob("*.log"):
            assert "Traceback" not in log.read_text(), log
    worktrees = git(clone, "worktree", "list", "--porcelain").splitlines()
    assert sum(line.startswith("worktree ") for line in worktrees) == 2  # the clone and the base


@pytest.mark.slow
def test_a_crashed_worker_exits_2_could_not_judge(clone: Path, tmp_path: Path) -> None:
    """A base whose predict crashes: its worker dies mid-run; the run cannot judge (exit 2),
    never exit 1, the regression code; one line names the worker's log."""
    head = git(clone, "rev-parse", "HEAD")
    git(clone, "checkout", "--quiet", "-b", "broken")
    pipeline = clone / "virnucpro" / "pipeline" / "run.py"
    crash = '\n\ndef predict(*args, **kwargs):\n    raise RuntimeError("crashed")\n'
    pipeline.write_text(pipeline.read_text() + crash)  # what the worker imports
    git(clone, "commit", "--quiet", "--all", "-m", "a base whose predict crashes")
    git(clone, "checkout", "--quiet", "--detach", head)
    reports = tmp_path / "reports"
    done = _run_ab(clone, reports, "--against", "broken")
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert errors == [errors[0]] and "the base worker stopped" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    (log,) = reports.glob("runs/ab-*/base-worker.log")
    assert str(log) in errors[0] and "RuntimeError: crashed" in log.read_text()
    assert not list(reports.glob("benchmark_*"))  # nothing that looks like a judged run


# ----------------------------------------------------------------------------- the A/B report

GIB = 2**30
FIXED_NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def _round_sample(seconds: float, *, gpu: bool) -> RoundSample:
    if gpu:
        figures: dict[str, object] = {
            "cuda_peak_allocated": 3 * GIB,
            "cuda_peak_reserved": 4 * GIB,
            "gpu_utilization": 62.0 + seconds,
            "gpu_utilization_readings": 12,
        }
    else:
        unmeasured = ("cuda_peak_allocated", "cuda_peak_reserved", "gpu_utilization")
        figures = {"unmeasured": dict.fromkeys(unmeasured, ON_CPU)}
    return round_sample(
        seconds,
        seconds / 2,
        stages={"dnabert": seconds / 2, "esm": seconds / 4},
        reads=20,
        bases=10_000,
        kept_frames=120,
        dnabert_tokens=4000,
        esm_tokens=9000,
        host_peak_rss=GIB + int(seconds * 1000),
        **figures,
    )


def _ab_document(tmp_path: Path, *, gpu: bool) -> tuple[ABRecord, ResultsDocument]:
    workload = write_fasta(make_reads(20, expected_length=300), tmp_path / "reads.fa")
    spec = tiny_spec(workload, "cuda:0" if gpu else "cpu")
    rounds = tuple(
        PairedRound(
            index=i,
            first="base",
            base=_round_sample(1.0 + i / 100, gpu=gpu),
            head=_round_sample(1.0 + i / 100, gpu=gpu),
            wall_seconds=2.0,
            others_share=0.01,
        )
        for i in range(6)
    )
    record = ab_record(rounds, root=str(REPO), ref="HEAD", workload=str(workload), warmup=1)
    options = for_tier("quick", output_dir=tmp_path)
    document = side_document(
        record, side="head", options=options, spec=spec, command="test", notes=()
    )
    return record, document


def _rows(markdown: str) -> list[list[str]]:
    """The cells of every table row of a markdown text."""
    lines = (line.strip() for line in markdown.splitlines())
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines if line[:1] == "|"]


def _has_row(markdown: str, *cells: str) -> bool:
    return any(row[: len(cells)] == list(cells) for row in _rows(markdown))


def _markdown(record: ABRecord, document: ResultsDocument) -> str:
    # the six pairs are a whole run: a budget of six pairs' time makes them its one look
    six = with_overrides(DEFAULT_THRESHOLDS, ab_initial_pairs=6, ab_time_budget_s=12.0)
    verdict = judge_record(record, thresholds=six, label="HEAD (aaaa)")
    return render_markdown(build_report(document, verdict=verdict, now=FIXED_NOW))


def test_the_report_names_the_paired_suites_and_why_the_others_did_not_run(
    tmp_path: Path,
) -> None:
    record, document = _ab_document(tmp_path, gpu=False)
    assert document.run.suites == ("end_to_end", "throughput", "memory")
    assert document.skipped == NOT_RUN_IN_AB
    markdown = _markdown(record, document)
    assert _has_row(markdown, "suites", "end_to_end, throughput, memory")
    skipped = markdown.split("## Skipped Suites")[1]
    for suite, reason in NOT_RUN_IN_AB.items():
        assert _has_row(skipped, suite, reason), suite
    assert f"## Scaling Performance\n\nNot run ({NOT_RUN_IN_AB['scaling']})." in markdown
    assert f"## Equivalence Validation\n\nNot run ({NOT_RUN_IN_AB['equivalence']})." in markdown
    assert f"- {COVERAGE_NOTE}" in markdown


def test_on_the_cpu_host_memory_is_paired_and_the_gpu_figures_say_why_not(
    tmp_path: Path,
) -> None:
    record, document = _ab_document(tmp_path, gpu=False)
    rss = document.metric(HOST_PEAK_RSS)
    assert rss is not None and len(rss.samples) == 6
    for name in (CUDA_PEAK_ALLOCATED, CUDA_PEAK_RESERVED, GPU_ROUND_UTILIZATION):
        metric = document.metric(name)
        assert metric is not None and metric.reason == ON_CPU, name
    markdown = _markdown(record, document)
    memory = markdown.split("## Memory Usage Profile")[1]
    assert _has_row(memory, "host peak RSS", f"`{HOST_PEAK_RSS}`", "1.00 GiB")
    assert _has_row(
        memory, "CUDA peak reserved", f"`{CUDA_PEAK_RESERVED}`", f"unavailable ({ON_CPU})"
    )
    assert f"Median utilization: unavailable ({ON_CPU})." in markdown
    assert _has_row(markdown.split("## Regression Check")[1], f"`{HOST_PEAK_RSS}`", "PASS")


def test_on_cuda_memory_and_utilization_are_paired_per_round(tmp_path: Path) -> None:
    record, document = _ab_document(tmp_path, gpu=True)
    for name in (CUDA_PEAK_ALLOCATED, CUDA_PEAK_RESERVED, GPU_ROUND_UTILIZATION):
        metric = document.metric(name)
        assert metric is not None and len(metric.samples) == 6, name
    assert document.metric(NVML_DEVICE_USED).reason == NVML_MEMORY_IN_AB
    markdown = _markdown(record, document)
    assert f"`{GPU_ROUND_UTILIZATION}` median of 6 round means" in markdown
    judged = markdown.split("## Regression Check")[1]
    for name in (CUDA_PEAK_ALLOCATED, CUDA_PEAK_RESERVED, GPU_ROUND_UTILIZATION):
        assert _has_row(judged, f"`{name}`", "PASS"), name


@pytest.mark.slow
def test_the_harness_measures_another_checkout_as_the_head(tmp_path: Path) -> None:
    """``--head-root``: this checkout is the harness and the judge; the head side runs from a
    clone elsewhere, and REF resolves in that clone's repository (its worktrees go there)."""
    head = clone_checkout(tmp_path / "pr-head")
    options = for_tier("quick", output_dir=tmp_path / "reports", rounds=6)
    overrides = {"ab_initial_pairs": 6, "ab_max_pairs": 6}
    outcome = run_against(
        options, ref="HEAD~1", command="test", overrides=overrides, head_root=head, say=print
    )
    record = outcome.record
    assert record.head.root == str(head.resolve())
    assert record.head.package == str(head.resolve() / "virnucpro")
    assert record.head.commit == git(head, "rev-parse", "HEAD")
    assert record.base.commit == git(head, "rev-parse", "HEAD~1")  # REF resolved in the head
    assert record.base.package != record.head.package
    assert outcome.verdict.outputs is not None and outcome.verdict.outputs.status == "same"
    assert outcome.exit_code in (0, 2)  # the same code: never a regression or outputs changed
