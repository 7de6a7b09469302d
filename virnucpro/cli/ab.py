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

The total time is the harness's clock around each round (outside the workers); the two sides'
published outputs of the first and last measured rounds are compared
(:meth:`ABRecord.check_outputs`): outputs that differ give OUTPUTS CHANGED, exit 1, unless
``--accept-output-change``. With ``head_root`` (``--head-root PATH``) this checkout is only the
harness: it measures PATH as the head side, resolves REF in PATH's repository, and takes the
thresholds from this checkout (the trusted one), so a CI job can run the base commit's harness
and judge with the change under test confined to the head worker process.
"""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from virnucpro.bench.ab.document import pairs_id, side_document
from virnucpro.bench.options import (
    BenchOptions,
    resolve_engine,
    resolve_gpus,
    resolve_precision,
)
from virnucpro.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from tools.bench.thresholds import Thresholds
    from tools.bench.verdict import Verdict
    from virnucpro.bench.ab.profile import ProfileRecord
    from virnucpro.bench.ab.schema import ABRecord, RoundProtocol
    from virnucpro.bench.ab.worker_process import WorkerSpec
    from virnucpro.bench.output_check import OutputCheck
    from virnucpro.bench.schema import ResultsDocument
    from virnucpro.bench.workload.prepare import Workload

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
    profile: ProfileRecord | None = None  # --profile: one untimed profiled round per side
    profile_path: Path | None = None


def _check_options(options: BenchOptions) -> None:
    for field, flag in REFUSED_WITH_AGAINST.items():
        if getattr(options, field):
            raise InputError(f"{flag} cannot be combined with --against ({AB_JUDGES_ITSELF})")


def base_thresholds(
    head_root: Path, base_root: Path, given: Path | None, overrides: dict[str, float | int | None]
) -> tuple[Thresholds, tuple[str, ...]]:
    """The gate's settings from ``base_root`` (the base commit, or the harness checkout with
    ``--head-root``), or ``--thresholds``, and what to say about it."""
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
    from virnucpro.bench.ab.worker_process import WorkerSpec

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


def check_head_root(path: Path) -> Path:
    """``--head-root``: a checkout holding the ``virnucpro`` package, resolved."""
    root = Path(path).resolve()
    if not (root / "virnucpro" / "__init__.py").is_file():
        raise InputError(f"--head-root {path}: not a checkout of virnucpro (no virnucpro/ there)")
    return root


def _cost_notes(record: ABRecord, outputs: OutputCheck) -> tuple[str, ...]:
    """What the output check and the harness's clock cost, measured."""
    from virnucpro.bench.stats import median

    notes = []
    if outputs.seconds is not None:
        notes.append(
            f"output check: {outputs.seconds:.3f} s (reading both sides' outputs after the "
            "first and the last measured round, and comparing them; outside the timed rounds)"
        )
    if record.restart_seconds:
        restarts = record.restart_seconds
        every = record.protocol.fresh_workers_every if record.protocol is not None else None
        notes.append(
            f"fresh workers: both workers replaced {len(restarts)} time(s), every {every} pairs, "
            f"{sum(restarts):.1f} s in all (median {median(restarts):.1f} s, between pairs and "
            f"inside the time budget); the pairs come from {record.worker_pairs} worker pairs"
        )
    overheads = record.clock_overheads()
    if overheads:
        notes.append(
            f"the harness's clock read {median(overheads) * 1e3:+.1f} ms per predict against "
            f"the worker's own timer (median of {len(overheads)} rounds, range "
            f"{min(overheads) * 1e3:+.1f} to {max(overheads) * 1e3:+.1f} ms); the total time "
            "judged is the harness's"
        )
    return tuple(notes)


def round_protocol(thresholds: Thresholds) -> RoundProtocol:
    """How the rounds are measured, from the gate's settings (the base commit's)."""
    from virnucpro.bench.ab.schema import RoundProtocol

    return RoundProtocol(
        pin_cpus=thresholds.ab_pin_cpus,
        gc_off=thresholds.ab_gc_off,
        order=thresholds.ab_order,
        repeat=thresholds.ab_round_repeat,
        fresh_workers_every=thresholds.ab_fresh_workers_every or None,
    )


def measure(session, thresholds: Thresholds, label: str, say) -> tuple[Verdict, float]:
    """Blocks of pairs while the judge wants more (the A/B gate's loop); the last verdict."""
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


@dataclass(frozen=True)
class ABSetup:
    """Both sides ready to start: the checkouts, the gate's settings, the workload, the folder."""

    options: BenchOptions
    ref: str
    root: Path
    base_root: Path
    base_python: Path | None
    thresholds: Thresholds
    notes: tuple[str, ...]
    spec: WorkerSpec
    workdir: Path
    label: str
    head_python: Path | None = None  # with --head-root: the head side's own environment
    workload: Workload | None = None  # the prepared workload (its name and seed, for the docs)

    def session(self):
        """The base and head workers of this setup (an :class:`ABSession` context)."""
        from virnucpro.bench.ab import session as ab

        return ab.ABSession.start(
            ref=self.ref,
            base_root=self.base_root,
            head_root=self.root,
            spec=self.spec,
            workdir=self.workdir,
            seed=DEFAULT_SEED,
            base_python=self.base_python,
            head_python=self.head_python,
            protocol=round_protocol(self.thresholds),
        )


def prepare_sides(
    options: BenchOptions,
    *,
    ref: str,
    overrides: dict[str, float | int | None],
    say,
    head_root: Path | None = None,
) -> ABSetup:
    """Check the options, check out ``ref``, read its gate settings, generate the workload; with
    ``head_root``, that checkout is the head and this one the harness (its settings are used)."""
    from virnucpro.bench.ab import checkout
    from virnucpro.bench.ab import env as ab_env
    from virnucpro.bench.ab.cache import new_run_dir
    from virnucpro.bench.run.runner import RUNS_DIR, check_machine, find_checkout
    from virnucpro.bench.workload.prepare import prepare_workload

    _check_options(options)
    harness = find_checkout()
    root = harness if head_root is None else check_head_root(head_root)
    options = replace(options, output_dir=Path(options.output_dir).resolve())
    check_machine(options)
    sha = checkout.resolve_ref(root, ref)
    say(f"base: {ref} = {sha[:12]}; checking it out")
    cache = options.output_dir / checkout.CACHE_DIR
    base_root = checkout.base_checkout(root, sha, cache)
    base_python, env_note = ab_env.base_interpreter(base_root, sha, cache)
    head_python, head_note = None, None
    if head_root is not None:
        head_sha = checkout.resolve_ref(root, "HEAD")
        head_python, head_note = ab_env.base_interpreter(root, head_sha, cache, side="head")
        say(f"harness: {harness}; head: {root} ({head_sha[:12]})")
    trusted = base_root if head_root is None else harness
    thresholds, notes = base_thresholds(root, trusted, options.thresholds, overrides)
    for note in (env_note, head_note):
        if note:
            say(note)
            notes = (*notes, note)
    workload = prepare_workload(options)
    return ABSetup(
        options=options,
        ref=ref,
        root=root,
        base_root=base_root,
        base_python=base_python,
        thresholds=thresholds,
        notes=notes,
        spec=worker_spec(options, workload.path),
        workdir=new_run_dir(options.output_dir / RUNS_DIR),
        label=f"{ref} ({sha[:12]})",
        head_python=head_python,
        workload=workload,
    )


def run_against(
    options: BenchOptions,
    *,
    ref: str,
    command: str,
    overrides: dict[str, float | int | None],
    head_root: Path | None = None,
    say=lambda text: print(text, file=sys.stderr),
    annotate: Callable[[Verdict, ResultsDocument], Verdict] | None = None,
    label: str = "",
    profile: bool = False,
) -> ABOutcome:
    """Benchmark this checkout (or ``head_root``) against ``ref``; see the module docstring.

    ``annotate`` may add to the verdict, from the head's results document, before the report
    is written (the quick tier adds why this reference, and the drift against the stored run);
    ``label`` names the base in the verdict (default: ``REF (sha)``).
    """
    from tools.bench.judge.paired import judge_record
    from tools.bench.report.document import build_report, write_reports
    from virnucpro.bench.ab.schema import write_record
    from virnucpro.bench.schema import write_document

    started = time.perf_counter()
    setup = prepare_sides(options, ref=ref, overrides=overrides, say=say, head_root=head_root)
    if label:
        setup = replace(setup, label=label)
    options, thresholds, spec, workdir = setup.options, setup.thresholds, setup.spec, setup.workdir
    say("starting the base and head workers (each loads its models once)")
    with setup.session() as session:
        session.warm_up(options.warmup)
        _, rounds_seconds = measure(session, thresholds, setup.label, say)
        session.keep_outputs()
        record = session.record()
        if profile:
            say("one profiled round per side (not timed for the verdict)")
        profiled = session.profile(setup.label) if profile else None
    outputs = record.check_outputs(accepted=options.accept_output_change)
    verdict = judge_record(record, thresholds=thresholds, label=setup.label, outputs=outputs)
    protocol = [record.protocol.describe()] if record.protocol else []
    notes = (*setup.notes, *protocol, f"A/B rounds took {rounds_seconds:.0f} s")
    notes = (*notes, *_cost_notes(record, outputs))
    pairs_path = write_record(record, workdir / PAIRS_FILE)
    pairs = pairs_id(pairs_path)
    notes = (*notes, f"raw pairs: {pairs_path} (id {pairs})")
    one_side = functools.partial(
        side_document,
        record,
        options=options,
        spec=spec,
        command=command,
        notes=notes,
        workload=setup.workload,
    )
    documents = {side: one_side(side=side, pairs=pairs) for side in ("head", "base")}
    for side, doc in documents.items():
        write_document(doc, workdir / f"results-{side}.json")
    if annotate is not None:
        verdict = annotate(verdict, documents["head"])
    report = build_report(documents["head"], verdict=verdict, now=datetime.now(timezone.utc))
    profile_path, appendix = None, None
    if profiled is not None:
        profile_path, appendix = write_profile_files(profiled, workdir)
    reports = write_reports(report, options.output_dir, appendix=appendix)
    code = verdict.exit_code
    if verdict.outcome == "regression" and not options.fail_on_regression:
        code = 0  # an advisory gate; outputs that changed still exit 1
    return ABOutcome(
        exit_code=code,
        verdict=verdict,
        record=record,
        report_paths=reports,
        pairs_path=pairs_path,
        seconds=time.perf_counter() - started,
        notes=notes,
        profile=profiled,
        profile_path=profile_path,
    )


def write_profile_files(profiled: ProfileRecord, workdir: Path) -> tuple[Path, str]:
    """The profiled rounds' record beside the pairs, and the report's section on them."""
    from tools.bench.culprit.profile import render_profile
    from virnucpro.bench.ab.profile import PROFILE_FILE, write_profile

    return write_profile(profiled, workdir / PROFILE_FILE), render_profile(profiled)
