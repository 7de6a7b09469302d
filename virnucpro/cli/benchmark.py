"""``virnucpro benchmark``: run the benchmarks, judge them, write the reports.

A thin layer: it turns the options into a :class:`~virnucpro.bench.options.BenchOptions` and
runs one of three things, saying first what it compares with what, and why: ``--against REF``
(:func:`virnucpro.cli.ab.run_against`, side by side); the quick tier's default, side by side
against a reference commit (:mod:`virnucpro.cli.side_by_side`); or a plain run of the suites
against the stored baseline (:func:`virnucpro.cli.bench_run.run_benchmark`, with a progress bar
while the suites run). A summary table comes at the end. Torch is imported only when the
command runs, so ``--help`` is instant. Exit codes: 0 pass, 1 regression, 2 could not judge.

The judging tools (``tools.bench``) are not installed into site-packages: they live in the
source checkout, which the benchmark suites need anyway. :func:`checkout_importable` finds the
checkout and puts it on ``sys.path`` before anything from ``tools`` is imported.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from virnucpro.bench.options import (
    CPU_ONLY_GPUS,
    BenchOptions,
    for_tier,
    resolve_suites,
)
from virnucpro.cli.benchmark_args import (
    DESCRIPTION,
    EXAMPLES,
    QUICK_TIER,
    add_ab_options,
    add_judging_options,
    add_tier_options,
    add_workload_options,
)
from virnucpro.cli.progress import PlainProgress, RichProgress, progress_stream
from virnucpro.errors import InputError
from virnucpro.extras import require

if TYPE_CHECKING:
    from tools.bench.verdict import Verdict
    from virnucpro.cli.bench_run import BenchOutcome


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="run the benchmark suites and judge them against the baseline",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_tier_options(p)
    add_workload_options(p)
    add_judging_options(p)
    add_ab_options(p)
    p.set_defaults(handler=run)


# ----------------------------------------------------------------------------- options


def _tier(args: argparse.Namespace) -> str | None:
    if args.quick and args.tier not in (None, QUICK_TIER):
        raise InputError(f"--quick and --tier {args.tier} disagree: give one of them")
    return QUICK_TIER if args.quick else args.tier


def _gpus(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    if text.strip().lower() in CPU_ONLY_GPUS:
        return ()
    from virnucpro.pipeline.distributed import parse_gpus

    return parse_gpus(text)


def options_from_args(args: argparse.Namespace) -> BenchOptions:
    """The run's options: the tier's defaults, then every option given on the command line."""
    return for_tier(
        _tier(args),
        suites=resolve_suites(args.suite) if args.suite else None,
        data_size=args.data_size,
        input=args.input,
        gpus=_gpus(args.gpus),
        models=args.models,
        engine=args.engine,
        precision=args.precision,
        expected_length=args.expected_length,
        rounds=args.rounds,
        scaling_rounds=args.rounds,
        warmup=args.warmup,
        threads=args.threads,
        vanilla_baseline=args.vanilla_baseline,
        output_dir=args.output_dir,
        baseline_dir=args.baseline_dir,
        compare_to=args.compare_to,
        update_baseline=args.update_baseline,
        require_baseline=args.require_baseline,
        append_history=args.append_history,
        history_dir=args.history,
        use_history=args.use_history,
        thresholds=args.thresholds,
        fail_on_regression=args.fail_on_regression,
        accept_output_change=args.accept_output_change,
    )


def checkout_importable(cwd: Path | None = None) -> Path:
    """The source checkout (see :func:`~virnucpro.bench.run.runner.find_checkout`), on ``sys.path``.

    ``tools.bench`` is imported from there, never from site-packages.
    """
    from virnucpro.bench.run.runner import find_checkout

    root = find_checkout(cwd)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return root


def _run_benchmark() -> Callable[..., BenchOutcome]:
    checkout_importable()
    from virnucpro.cli.bench_run import run_benchmark

    return run_benchmark


def run(args: argparse.Namespace) -> int:
    require("bench", command="virnucpro benchmark")
    _run_benchmark()  # the checkout on sys.path before anything from tools is imported
    from virnucpro.cli import side_by_side

    options = options_from_args(args)
    command = " ".join(["virnucpro", *args.argv])
    if args.bisect is not None:
        return _run_bisect(args, options, command)
    if args.profile and args.against is None:
        raise InputError(
            "--profile needs --against REF or --bisect GOOD..BAD (it compares two sides)"
        )
    if args.against is not None:
        return _run_against(args, options, command)
    if args.plan or args.mde is not None:
        raise InputError("--plan and --mde go with --against REF (they plan an A/B run)")
    if args.head_root is not None:
        raise InputError("--head-root needs --against REF (it names the head side of an A/B run)")
    reason = side_by_side.stored_mode_reason(args, options)
    if reason is None:
        from virnucpro.cli.summary import render_ab_summary, summary_console

        return side_by_side.run_side_by_side(
            options,
            command=command,
            overrides=_ab_overrides(args),
            run_plain=lambda opts, review: _run_plain(opts, command, review),
            render_ab=lambda outcome: render_ab_summary(outcome, summary_console()),
        )
    side_by_side.say_first(side_by_side.stored_mode_lines(reason))
    return _run_plain(options, command)


def _run_plain(
    options: BenchOptions, command: str, review: Callable[[Verdict], Verdict] | None = None
) -> int:
    """The suites in this process, judged against the stored baseline; the summary printed."""
    from rich.console import Console

    run_benchmark = _run_benchmark()
    # a bar on a terminal; plain lines on stdout where people read logs (CI, redirected output)
    terminal = sys.stdout.isatty()
    stream = progress_stream(sys.stderr if terminal else sys.stdout)
    try:
        display = RichProgress(Console(file=stream)) if terminal else PlainProgress(stream)
        with display as progress:
            outcome: BenchOutcome = run_benchmark(
                options, progress=progress, command=command, review=review
            )
    finally:
        if stream not in (sys.stderr, sys.stdout):
            stream.close()
    from virnucpro.cli.summary import render_summary, summary_console

    render_summary(outcome, summary_console())
    return outcome.exit_code


def _ab_overrides(args: argparse.Namespace) -> dict[str, float | int | None]:
    """The A/B settings given on the command line (checked)."""
    if args.time_budget is not None and args.time_budget <= 0:
        raise InputError(f"--time-budget must be positive, got {args.time_budget:g}")
    return {
        "ab_initial_pairs": args.rounds,
        "ab_max_pairs": args.max_rounds,
        "ab_time_budget_s": args.time_budget,
    }


def _run_against(args: argparse.Namespace, options: BenchOptions, command: str) -> int:
    from virnucpro.bench.ab.document import NOT_RUN_IN_AB
    from virnucpro.cli.ab import run_against
    from virnucpro.cli.side_by_side import against_lines, say_first
    from virnucpro.cli.summary import render_ab_summary

    chosen = resolve_suites(args.suite) if args.suite else ()
    unpaired = [s for s in chosen if s in NOT_RUN_IN_AB]
    if unpaired:
        raise InputError(f"--against --suite {unpaired[0]}: {NOT_RUN_IN_AB[unpaired[0]]}")
    if args.stored_baseline:
        raise InputError("--stored-baseline cannot be combined with --against: give one of them")
    overrides = _ab_overrides(args)
    if args.plan:
        from virnucpro.cli.ab_plan import run_plan

        return run_plan(args.against, args.mde, options, overrides)
    if args.mde is not None:
        raise InputError("--mde goes with --plan (a pilot that says what detecting it needs)")
    say_first(against_lines(args.against))
    outcome = run_against(
        options,
        ref=args.against,
        command=command,
        overrides=overrides,
        profile=args.profile,
        head_root=args.head_root,
    )
    from virnucpro.cli.summary import summary_console

    render_ab_summary(outcome, summary_console())
    return outcome.exit_code


def _run_bisect(args: argparse.Namespace, options: BenchOptions, command: str) -> int:
    from virnucpro.cli.bisect import run_bisect_command

    if args.against is not None:
        raise InputError("--bisect and --against disagree: give one of them")
    return run_bisect_command(args, options, command)
