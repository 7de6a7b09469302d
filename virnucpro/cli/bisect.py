"""``virnucpro benchmark --bisect GOOD..BAD``: which commit made the total time slower.

Wires the search (:mod:`virnucpro.bench.bisect.search`) to the A/B gate: every step is a paired
A/B of two commits over live workers (:mod:`virnucpro.bench.bisect.pool`), measured in blocks of
pairs while the paired judge (``tools/bench/judge/paired.py``) wants more, and judged at the
gate's threshold. Thresholds and A/B settings come from GOOD's ``baselines/thresholds.toml`` (or
``--thresholds``), for every step. With ``--profile`` each confirmation step (a candidate
against its parent) also runs one untimed profiled round per side.

Writes ``bisect_YYYYMMDD_HHMMSS.json`` (the versioned record) and ``.md`` to the output folder,
every step's raw pairs under ``runs/bisect-*/``. Exit codes: 1 a culprit (or the commits of a
gradual change) named, 0 no slowdown in the range, 2 the budget ran out or a step could not be
judged, or a bad range (one line, before anything is measured).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from virnucpro.bench.bisect.schema import BisectResult, Step, StepMetric, StepVerdict
from virnucpro.bench.bisect.search import DEFAULT_BUDGET_S, StepRequest
from virnucpro.bench.options import BenchOptions, resolve_suites
from virnucpro.cli.ab import (
    REFUSED_WITH_AGAINST,
    base_thresholds,
    measure,
    round_protocol,
    worker_spec,
)
from virnucpro.errors import InputError, RunFailure

if TYPE_CHECKING:
    from tools.bench.thresholds import Thresholds
    from tools.bench.verdict import Verdict
    from virnucpro.bench.ab.profile import ProfileRecord
    from virnucpro.bench.ab.worker_process import WorkerSpec
    from virnucpro.bench.bisect.pool import WorkerPool

STEM_FORMAT = "bisect_%Y%m%d_%H%M%S"
STEP_SEED = 20_261_203  # step i draws its pair order from STEP_SEED + i
VERDICT_FOR_OUTCOME: dict[str, StepVerdict] = {
    "regression": "slower",
    "pass": "same",
    "warn": "same",
}  # any other outcome (inconclusive, invalid, ...) leaves the step undecided
PROFILED_ROLES = ("confirm",)


@dataclass(frozen=True)
class BisectOutcome:
    result: BisectResult
    json_path: Path
    markdown_path: Path


def check_bisect_args(args: argparse.Namespace, options: BenchOptions) -> float:
    """Refuse what a bisection cannot do, before anything runs; the budget in seconds."""
    from virnucpro.bench.ab.document import NOT_RUN_IN_AB

    for field_name, flag in REFUSED_WITH_AGAINST.items():
        if getattr(options, field_name):
            raise InputError(f"{flag} cannot be combined with --bisect (each step is an A/B run)")
    chosen = resolve_suites(args.suite) if args.suite else ()
    unpaired = [s for s in chosen if s in NOT_RUN_IN_AB]
    if unpaired:
        raise InputError(f"--bisect --suite {unpaired[0]}: {NOT_RUN_IN_AB[unpaired[0]]}")
    budget = DEFAULT_BUDGET_S if args.time_budget is None else args.time_budget
    if budget <= 0:
        raise InputError(f"--time-budget must be positive, got {budget:g}")
    return budget


# ----------------------------------------------------------------------------- one step


def step_verdict(verdict: Verdict) -> StepVerdict:
    return VERDICT_FOR_OUTCOME.get(verdict.outcome, "undecided")


def step_metrics(verdict: Verdict) -> tuple[StepMetric, ...]:
    return tuple(
        StepMetric(
            name=j.name,
            unit=j.unit,
            status=j.status,
            change=j.change,
            low=j.interval_low,
            high=j.interval_high,
            base_median=j.baseline_median,
            head_median=j.candidate_median,
        )
        for j in verdict.judgements
    )


@dataclass
class StepRunner:
    """The search's ``compare``: one paired A/B of two commits, judged at the threshold."""

    pool: WorkerPool
    thresholds: Thresholds
    warmup: int
    workdir: Path
    profile: bool
    say: Callable[[str], None]

    def __call__(self, request: StepRequest) -> Step:
        from tools.bench.judge.paired import judge_record
        from tools.bench.thresholds import with_overrides
        from virnucpro.bench.ab.schema import write_record

        start = time.perf_counter()
        label = f"{request.base.short} (step {request.index}, {request.role})"
        self.say(
            f"step {request.index} ({request.role}): {request.base.short} -> {request.head.short}"
        )
        rounds_budget = min(self.thresholds.ab_time_budget_s, max(request.seconds_left, 1.0))
        thresholds = with_overrides(self.thresholds, ab_time_budget_s=rounds_budget)
        session = self.pool.session(
            base=request.base,
            head=request.head,
            fresh=request.fresh,
            seed=STEP_SEED + request.index,
            ref=request.base.sha,
            protocol=round_protocol(self.thresholds),
        )
        try:
            with session:
                session.warm_up(self.warmup)
                measure(session, thresholds, label, self.say)
                record = session.record()
                profiled = self._profile(session, request, label)
        except (OSError, ValueError) as exc:  # a worker gone: its pipe is broken or closed
            logs = self.workdir / "workers"
            raise RunFailure(f"step {request.index}: a worker failed ({exc}); see {logs}") from None
        verdict = judge_record(record, thresholds=self.thresholds, label=label)
        folder = self.workdir / f"step-{request.index:02d}-{request.role}"
        pairs = write_record(record, folder / "ab_pairs.json")
        profile_file = self._write_profile(profiled, folder)
        total = next((j for j in verdict.judgements if j.name.endswith("total_time")), None)
        step = Step(
            index=request.index,
            role=request.role,
            base=request.base.sha,
            head=request.head.sha,
            verdict=step_verdict(verdict),
            outcome=verdict.outcome,
            change=None if total is None else total.change,
            low=None if total is None else total.interval_low,
            high=None if total is None else total.interval_high,
            pairs=len(record.rounds),
            seconds=time.perf_counter() - start,
            fresh_workers=request.fresh,
            reasons=verdict.reasons,
            metrics=step_metrics(verdict),
            pairs_file=str(pairs),
            profile_file=profile_file,
        )
        self.say(f"step {request.index}: {step.verdict} ({step.total_text}, {step.pairs} pairs)")
        return step

    def _profile(self, session, request: StepRequest, label: str) -> ProfileRecord | None:
        if not (self.profile and request.role in PROFILED_ROLES):
            return None
        self.say("one profiled round per side (not timed for the verdict)")
        return session.profile(label)

    @staticmethod
    def _write_profile(profiled: ProfileRecord | None, folder: Path) -> str | None:
        if profiled is None:
            return None
        from virnucpro.bench.ab.profile import PROFILE_FILE, write_profile

        return str(write_profile(profiled, folder / PROFILE_FILE))


# ----------------------------------------------------------------------------- the command


def _prepare(options: BenchOptions, range_text: str):
    """Everything checked before measuring: the checkout, the range, the machine."""
    from virnucpro.bench.bisect.commits import check_clean, resolve_range
    from virnucpro.bench.run.runner import check_machine, find_checkout

    root = find_checkout()
    commits = resolve_range(root, range_text)
    check_clean(root)
    options = replace(options, output_dir=Path(options.output_dir).resolve())
    check_machine(options)
    return root, commits, options


def _culprit_profile(result: BisectResult) -> ProfileRecord | None:
    from virnucpro.bench.ab.profile import read_profile

    step = result.step(result.culprit_step)
    return read_profile(Path(step.profile_file)) if step and step.profile_file else None


def run_bisect(
    options: BenchOptions,
    *,
    range_text: str,
    budget_s: float,
    overrides: dict[str, float | int | None],
    command: str,
    profile: bool = False,
    say=lambda text: print(text, file=sys.stderr),
) -> BisectOutcome:
    """Bisect ``GOOD..BAD`` with the A/B gate (see the module docstring)."""
    from tools.bench.culprit.bisect import render_bisect
    from virnucpro.atomic import atomic_write_text
    from virnucpro.bench.ab.checkout import CACHE_DIR
    from virnucpro.bench.bisect.pool import WorkerPool
    from virnucpro.bench.bisect.schema import write_result
    from virnucpro.bench.bisect.search import SearchSettings, bisect

    root, commits, options = _prepare(options, range_text)
    good, bad = commits.good.short, commits.bad.short
    say(f"bisecting {len(commits.path)} commits after {good} up to {bad}")
    now = datetime.now(timezone.utc)
    workdir = options.output_dir / "runs" / f"bisect-{now:%Y%m%dT%H%M%S}"
    pool = WorkerPool(
        repo=root,
        cache=options.output_dir / CACHE_DIR,
        spec=_spec(options),
        workdir=workdir,
    )
    good_root = pool.checkout(commits.good).root
    bad_root = pool.checkout(commits.bad).root
    thresholds, notes = base_thresholds(bad_root, good_root, options.thresholds, overrides)
    runner = StepRunner(pool, thresholds, options.warmup, workdir, profile, say)
    settings = SearchSettings(threshold=thresholds.fail_slowdown, budget_s=budget_s)
    try:
        result = bisect(
            commits,
            runner,
            settings=settings,
            command=command,
            created_at=now.isoformat(timespec="seconds"),
        )
    finally:
        pool.close()
    started = f"{pool.started} workers started (each loads its commit's models once)"
    result = result.model_copy(
        update={
            "profiled": profile,
            "notes": (*notes, *pool.notes, started),
            "culprit_profile": _culprit_profile(result),
        }
    )
    stem = now.strftime(STEM_FORMAT)
    json_path = write_result(result, options.output_dir / f"{stem}.json")
    markdown_path = options.output_dir / f"{stem}.md"
    atomic_write_text(markdown_path, render_bisect(result))
    return BisectOutcome(result, json_path, markdown_path)


def _spec(options: BenchOptions) -> WorkerSpec:
    from virnucpro.bench.workload.prepare import prepare_workload

    return worker_spec(options, prepare_workload(options).path)


def run_bisect_command(args: argparse.Namespace, options: BenchOptions, command: str) -> int:
    """The ``--bisect`` branch of ``virnucpro benchmark``: run it, print the summary."""
    from virnucpro.cli.bisect_summary import render_bisect_summary
    from virnucpro.cli.summary import summary_console

    budget = check_bisect_args(args, options)
    overrides = {"ab_initial_pairs": args.rounds, "ab_max_pairs": args.max_rounds}
    outcome = run_bisect(
        options,
        range_text=args.bisect,
        budget_s=budget,
        overrides=overrides,
        command=command,
        profile=args.profile,
    )
    files = (outcome.markdown_path, outcome.json_path)
    render_bisect_summary(outcome.result, summary_console(), files=files)
    return outcome.result.exit_code
