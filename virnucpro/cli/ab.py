"""``virnucpro benchmark --against REF``: head against a base commit, side by side, judged paired.

Wires the measuring half (:mod:`virnucpro.bench.ab.session`: worktree, workers, interleaved pairs)
to
the judging half (:mod:`tools.bench.judge.paired`: paired intervals, the more-rounds decision) and
writes the raw pairs, one results document per side (``results-head.json``, ``results-base.json``
beside ``ab_pairs.json``) and the report (on the head's document). The thresholds and the A/B
settings come from the base commit's ``baselines/thresholds.toml`` (defaults when it has none),
or from ``--thresholds``; a change to that file in the head is reported, never used.

What is paired, per round (every figure from the same interleaved predict rounds):

- ``end_to_end``: total time, reads/s and every stage's time;
- ``throughput``: tokens/s per model, from each round's stage time and token count (the plain
  tiers' roofline and per-stage GPU utilization runs are not part of it);
- ``memory``: the worker's peak host RSS and, on CUDA, the allocator's peak allocated and
  reserved bytes, each reset per round;
- GPU utilization on CUDA: ``gpu.round.utilization``, the mean of each round's NVML readings
  (on the CPU: "not measured: the run is on the CPU").

A figure some round lacks is recorded unavailable with the reason, never paired over the rest.
``scaling`` and ``equivalence`` are not run in A/B mode; :data:`NOT_RUN_IN_AB` says why, and the
report lists them under the skipped suites.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from virnucpro.bench.run.options import (
    BenchOptions,
    resolve_engine,
    resolve_gpus,
    resolve_precision,
)
from virnucpro.errors import InputError

if TYPE_CHECKING:
    from tools.bench.thresholds import Thresholds
    from tools.bench.verdict import Verdict
    from virnucpro.bench.ab.schema import ABRecord, Side
    from virnucpro.bench.ab.session import WorkerSpec
    from virnucpro.bench.run.collector import ResultsCollector
    from virnucpro.bench.schema import ResultsDocument

AB_SUITES = ("end_to_end", "throughput", "memory")  # paired per round, all from the same rounds
NOT_RUN_IN_AB = {
    "scaling": (
        "in A/B mode: a scaling point needs its own set of workers per GPU count and seconds "
        "of start-up each, so scaling runs in the stored-baseline tiers"
    ),
    "equivalence": (
        "in A/B mode: the fast-vs-vanilla speedup is a target, not a gate metric; the plain "
        "tiers measure it"
    ),
}
NVML_MEMORY_IN_AB = (
    "not measured in A/B mode: NVML's device memory counts both sides' workers on the one GPU"
)
GPU_TELEMETRY_IN_AB = (
    "the A/B workers keep one mean NVML utilization per round (gpu.round.utilization), "
    "not the sampler's readings"
)
COVERAGE_NOTE = (
    "A/B mode pairs per round: end-to-end and stage times, tokens/s per model, peak host RSS, "
    "CUDA allocator peaks and GPU utilization (the last two on CUDA only)"
)
THRESHOLDS_PATH = Path("baselines") / "thresholds.toml"
PAIRS_FILE = "ab_pairs.json"
DEFAULT_SEED = 20_261_129
AB_JUDGES_ITSELF = "A/B mode judges its own paired rounds and uses no stored baseline or history"
REFUSED_WITH_AGAINST = {
    "compare_to": "--compare-to",
    "update_baseline": "--update-baseline",
    "append_history": "--append-history",
    "history_dir": "--history",
}


@dataclass(frozen=True)
class ABOutcome:
    exit_code: int
    verdict: Verdict
    record: ABRecord
    report_paths: tuple[Path, ...]
    pairs_path: Path
    seconds: float
    notes: tuple[str, ...]


def _check_options(options: BenchOptions) -> None:
    for field, flag in REFUSED_WITH_AGAINST.items():
        if getattr(options, field):
            raise InputError(f"{flag} cannot be combined with --against ({AB_JUDGES_ITSELF})")


def base_thresholds(
    head_root: Path, base_root: Path, given: Path | None, overrides: dict[str, float | int | None]
) -> tuple[Thresholds, tuple[str, ...]]:
    """The gate's settings from the base commit (or ``--thresholds``), and what to say about it."""
    from tools.bench.judge.document import resolve_thresholds

    thresholds = resolve_thresholds(
        file=given, baseline_dir=base_root / THRESHOLDS_PATH.parent, overrides=overrides
    )
    head_file, base_file = head_root / THRESHOLDS_PATH, base_root / THRESHOLDS_PATH
    head_text = head_file.read_text(encoding="utf-8") if head_file.is_file() else None
    base_text = base_file.read_text(encoding="utf-8") if base_file.is_file() else None
    notes = []
    if head_text != base_text:
        notes.append(
            f"this change edits {THRESHOLDS_PATH}: the gate used the base commit's settings, "
            "not the change's"
        )
    if given is not None:
        notes.append(f"thresholds from {given} (given on the command line)")
    return thresholds, tuple(notes)


def worker_spec(options: BenchOptions, workload: Path) -> WorkerSpec:
    """What both workers run for these options: the device, engine and precision the command
    resolves (also what the power study's trials run)."""
    from virnucpro.bench.ab.session import WorkerSpec

    gpus = resolve_gpus(options.gpus)
    device = f"cuda:{gpus[0]}" if gpus else "cpu"
    engine = resolve_engine(options.engine)
    return WorkerSpec(
        workload=workload,
        preset=options.models,
        engine=engine,
        precision=resolve_precision(engine, options.precision, device),
        expected_length=options.expected_length,
        threads=options.threads or 1,
        device=device,
    )


def _measure(session, thresholds: Thresholds, label: str, say) -> tuple[Verdict, float]:
    from tools.bench.judge.paired import judge_record, pairs_to_add

    start = time.perf_counter()
    count = thresholds.ab_initial_pairs
    while count:
        say(f"measuring {count} pairs (pairs so far: {session.pairs})")
        session.run_pairs(count)
        record = session.record()
        verdict = judge_record(record, thresholds=thresholds, label=label, final=False)
        count = pairs_to_add(
            verdict, pairs=session.pairs, seconds=time.perf_counter() - start, thresholds=thresholds
        )
    return verdict, time.perf_counter() - start


def _add_unmeasured(collector: ResultsCollector, record: ABRecord, *, on_cpu: bool) -> None:
    """The per-round figures this run could not pair, and NVML's device memory, with reasons."""
    from virnucpro.bench.ab.worker import ON_CPU
    from virnucpro.bench.metric_names import BYTES, NVML_DEVICE_USED

    for gap in record.unpaired_figures():
        figure = gap.figure
        collector.add_unavailable(
            figure.name, unit=figure.unit, better=figure.better, reason=gap.reason
        )
    nvml_reason = ON_CPU if on_cpu else NVML_MEMORY_IN_AB
    collector.add_unavailable(NVML_DEVICE_USED, unit=BYTES, better="lower", reason=nvml_reason)


def side_document(
    record: ABRecord,
    *,
    side: Side,
    options: BenchOptions,
    spec: WorkerSpec,
    command: str,
    notes: tuple[str, ...],
) -> ResultsDocument:
    """One side's results document from its half of the pairs, naming what was not paired."""
    from virnucpro.bench.ab.worker import ON_CPU
    from virnucpro.bench.metric_names import OTHERS_CPU_METRIC
    from virnucpro.bench.run.collector import ResultsCollector, new_run_id, utc_now
    from virnucpro.bench.run.envinfo import environment_fingerprint
    from virnucpro.bench.schema import GpuTelemetry, RunInfo, metric_from_samples
    from virnucpro.bench.workload.fingerprint import workload_fingerprint

    collector = ResultsCollector()
    for metric in record.paired_metrics():
        samples = metric.head if side == "head" else metric.base
        collector.add_metric(
            metric_from_samples(metric.name, samples, unit=metric.unit, better=metric.better)
        )
    collector.add_metric(
        metric_from_samples(OTHERS_CPU_METRIC, record.others_shares(), unit="ratio", better="none")
    )
    _add_unmeasured(collector, record, on_cpu=spec.device == "cpu")
    for suite, reason in NOT_RUN_IN_AB.items():
        collector.skip(suite, reason)
    for note in (COVERAGE_NOTE, *notes):
        collector.note(note)
    info = record.head if side == "head" else record.base
    environment = environment_fingerprint(repo=Path(info.root)).model_copy(
        update={"git_commit": info.commit, "git_dirty": info.dirty}
    )
    run = RunInfo(
        run_id=new_run_id(),
        created_at=utc_now(),
        tier=options.tier,
        suites=AB_SUITES,
        engine=spec.engine,
        model_preset=spec.preset,
        models_meaningful=False,
        model_note=f"A/B {side} side ({info.package})",
        device=spec.device,
        precision=spec.precision,
        rounds=len(record.rounds),
        warmup_rounds=record.warmup,
        command=command,
    )
    workload = workload_fingerprint(
        Path(record.workload).name, Path(record.workload), expected_length=spec.expected_length
    )
    telemetry = GpuTelemetry(
        available=False, reason=ON_CPU if spec.device == "cpu" else GPU_TELEMETRY_IN_AB
    )
    return collector.build(run=run, environment=environment, workload=workload, gpu=telemetry)


def run_against(
    options: BenchOptions,
    *,
    ref: str,
    command: str,
    overrides: dict[str, float | int | None],
    say=lambda text: print(text, file=sys.stderr),
) -> ABOutcome:
    """Benchmark this checkout against ``ref``; see the module docstring."""
    from tools.bench.judge.paired import judge_record
    from tools.bench.report.document import build_report, write_reports
    from virnucpro.bench.ab import env as ab_env
    from virnucpro.bench.ab import session as ab
    from virnucpro.bench.ab.schema import write_record
    from virnucpro.bench.run.runner import check_machine, find_checkout
    from virnucpro.bench.schema import write_document
    from virnucpro.bench.workload.prepare import prepare_workload

    started = time.perf_counter()
    _check_options(options)
    root = find_checkout()
    options = replace(options, output_dir=Path(options.output_dir).resolve())
    check_machine(options)
    sha = ab.resolve_ref(root, ref)
    say(f"base: {ref} = {sha[:12]}; checking it out")
    cache = options.output_dir / ab.CACHE_DIR
    base_root = ab.base_checkout(root, sha, cache)
    base_python, env_note = ab_env.base_interpreter(base_root, sha, cache)
    if env_note:
        say(env_note)
    thresholds, notes = base_thresholds(root, base_root, options.thresholds, overrides)
    notes = (*notes, env_note) if env_note else notes
    workload = prepare_workload(options)
    spec = worker_spec(options, workload.path)
    workdir = options.output_dir / "runs" / f"ab-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}"
    label = f"{ref} ({sha[:12]})"
    say("starting the base and head workers (each loads its models once)")
    with ab.ABSession.start(
        ref=ref,
        base_root=base_root,
        head_root=root,
        spec=spec,
        workdir=workdir,
        seed=DEFAULT_SEED,
        base_python=base_python,
    ) as session:
        session.warm_up(options.warmup)
        _, rounds_seconds = _measure(session, thresholds, label, say)
        record = session.record()
    verdict = judge_record(record, thresholds=thresholds, label=label)
    notes = (*notes, f"A/B rounds took {rounds_seconds:.0f} s")
    pairs_path = write_record(record, workdir / PAIRS_FILE)
    documents = {
        side: side_document(
            record, side=side, options=options, spec=spec, command=command, notes=notes
        )
        for side in ("head", "base")
    }
    for side, doc in documents.items():
        write_document(doc, workdir / f"results-{side}.json")
    report = build_report(documents["head"], verdict=verdict, now=datetime.now(timezone.utc))
    reports = write_reports(report, options.output_dir)
    code = verdict.exit_code
    if verdict.outcome == "regression" and not options.fail_on_regression:
        code = 0
    return ABOutcome(
        exit_code=code,
        verdict=verdict,
        record=record,
        report_paths=reports,
        pairs_path=pairs_path,
        seconds=time.perf_counter() - started,
        notes=notes,
    )


def _judgement_rows(verdict: Verdict) -> list[tuple[str, ...]]:
    from tools.bench.report.formatting import format_change, format_quantity

    rows = []
    for j in verdict.judgements:
        interval = (
            f"[{format_change(j.interval_low)}, {format_change(j.interval_high)}]"
            if j.interval_low is not None and j.interval_high is not None
            else "n/a"
        )
        rows.append(
            (
                j.name,
                format_quantity(j.baseline_median, j.unit),
                format_quantity(j.candidate_median, j.unit),
                format_change(j.change) if j.change is not None else "n/a",
                interval,
                j.status.upper(),
            )
        )
    return rows


def render_ab_summary(outcome: ABOutcome, console) -> None:
    """The paired table (median change, worse positive, and its interval), verdict, files."""
    from rich.table import Table

    from virnucpro.cli.benchmark import OUTCOME_STYLES

    verdict = outcome.verdict
    table = Table(
        title=f"A/B: head vs {verdict.baseline}, {len(outcome.record.rounds)} pairs",
        title_justify="left",
    )
    for header in ("metric", "base", "head", "change (worse +)", "95% interval"):
        table.add_column(header, no_wrap=True, justify="left" if header == "metric" else "right")
    table.add_column("check", no_wrap=True)
    for row in _judgement_rows(verdict):
        table.add_row(*row)
    console.print(table)
    word = verdict.outcome.replace("_", " ").upper()
    console.print(
        f"verdict: {word} (exit {outcome.exit_code}, {outcome.seconds:.0f} s)",
        style=OUTCOME_STYLES.get(verdict.outcome, "bold"),
        highlight=False,
        markup=False,
    )
    lines = [
        f"{j.status.upper()} {j.name}: {j.reason}"
        for j in verdict.judgements
        if j.status in ("fail", "warn")
    ]
    lines += list(verdict.reasons)
    lines += [f"report: {path}" for path in outcome.report_paths]
    lines.append(f"raw pairs: {outcome.pairs_path}")
    for line in lines:
        console.print(f"  {line}", highlight=False, markup=False)
