"""``virnucpro benchmark``: run the benchmark suites, judge them, write the reports.

A thin layer over :func:`virnucpro.cli.bench_run.run_benchmark`: it turns the options into a
:class:`~virnucpro.bench.options.BenchOptions`, shows a progress bar while the suites run and a
summary table at the end. Torch is imported only when the command runs, so ``--help`` is
instant. Exit codes: 0 pass (also "no baseline yet"), 1 regression, 2 could not judge.

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
    DATA_SIZES,
    DEFAULT_BASELINE_DIR,
    DEFAULT_OUTPUT_DIR,
    PRECISIONS,
    TIERS,
    BenchOptions,
    for_tier,
    resolve_suites,
)
from virnucpro.cli.predict import positive_int
from virnucpro.cli.progress import PlainProgress, RichProgress, progress_stream
from virnucpro.errors import InputError
from virnucpro.extras import require

if TYPE_CHECKING:
    from virnucpro.cli.bench_run import BenchOutcome

QUICK_TIER = "quick"
DESCRIPTION = """\
Run the benchmark suites (from a source checkout), write markdown and JSON
reports, and judge the run against the stored baseline for this hardware and
workload (or against --compare-to)."""
SUITE_CHOICES = "scaling|throughput|memory|equivalence|end_to_end|all"
EXAMPLES = """\
examples:
  virnucpro benchmark --quick
      CI validation: every suite on tiny data and models, judged against this
      machine's baseline (2 to 3 minutes on a 2-core CPU)
  virnucpro benchmark --suite scaling --gpus 0,1,2,3
      scaling over 1, 2 and 4 GPUs (without GPUs: 1 vs 2 CPU ranks)
  virnucpro benchmark --vanilla-baseline --data-size large
      every suite on large data, also timing the vanilla (published) engine
      end to end for the fast-vs-vanilla speedup
  virnucpro benchmark --quick --bisect v1.4..main --profile
      which commit after v1.4 made the total time slower, and where its time
      went (exit 1 names it, 0 no slowdown in the range, 2 could not tell)

exit codes: 0 pass (or no baseline for this hardware yet), 1 regression,
2 could not judge (bad options, a failed suite, an invalid run, --require-baseline
without a baseline). Reports: <output-dir>/benchmark_YYYYMMDD_HHMMSS.{md,json}.
"""


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
    return value


def _add_workload_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--suite",
        action="append",
        metavar=SUITE_CHOICES,
        help="suite(s) to run: repeat the option or give a comma list (default: all)",
    )
    p.add_argument("--data-size", choices=DATA_SIZES, help="generated data size")
    p.add_argument("--input", type=Path, metavar="FASTA", help="benchmark this FASTA instead")
    p.add_argument(
        "--gpus",
        metavar="IDS",
        help="GPUs to use, e.g. 0,1,2,3 (default: every visible one; 'none': CPU only)",
    )
    p.add_argument("--models", metavar="PRESET", help="model preset (default: the tier's, tiny)")
    p.add_argument("--engine", help="engine under test: fast (default) or vanilla")
    p.add_argument("--precision", choices=PRECISIONS, help="fast engine precision (auto)")
    p.add_argument("--expected-length", type=positive_int, metavar="N", help="chunk length (500)")
    p.add_argument("--rounds", type=positive_int, metavar="N", help="measured rounds per suite")
    p.add_argument("--warmup", type=non_negative_int, metavar="N", help="warm-up rounds")
    p.add_argument(
        "--threads", type=positive_int, metavar="N", help="torch threads (quick tier: 1)"
    )


def _add_tier_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="the quick tier (same as --tier quick)")
    p.add_argument("--tier", choices=tuple(TIERS), help="a named set of defaults")
    p.add_argument(
        "--vanilla-baseline",
        action="store_true",
        default=None,
        help="also time the vanilla engine end to end (slower)",
    )


def _add_judging_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--output-dir",
        type=Path,
        metavar="DIR",
        help=f"reports folder (default: the checkout's {DEFAULT_OUTPUT_DIR})",
    )
    p.add_argument(
        "--compare-to",
        type=Path,
        metavar="PATH",
        help="judge against this results/report/baseline file",
    )
    p.add_argument(
        "--baseline-dir",
        type=Path,
        metavar="DIR",
        help=f"baselines folder (default: the checkout's {DEFAULT_BASELINE_DIR})",
    )
    p.add_argument(
        "--update-baseline",
        action="store_true",
        default=None,
        help="store this run as the baseline for this hardware and workload (refused for "
        "invalid runs); the exit code then says whether it was stored",
    )
    p.add_argument(
        "--allow-no-baseline",
        dest="require_baseline",
        action="store_false",
        default=None,
        help="exit 0 when no stored baseline fits this run (default: exit 2)",
    )
    p.add_argument(
        "--append-history",
        action="store_true",
        default=None,
        help="append this run to the history (<output-dir>/history)",
    )
    history = p.add_mutually_exclusive_group()
    history.add_argument(
        "--history",
        type=Path,
        metavar="DIR",
        help="run history that measures the between-run noise: metrics with enough earlier "
        "comparable runs in it are judged against that noise, not on the stored run's rounds "
        "alone (default: <output-dir>/history when it exists)",
    )
    history.add_argument(
        "--no-history",
        dest="use_history",
        action="store_false",
        default=None,
        help="judge on the stored baseline run's rounds only, even where a history exists",
    )
    p.add_argument("--thresholds", type=Path, metavar="FILE", help="regression thresholds (TOML)")
    p.add_argument(
        "--no-fail-on-regression",
        dest="fail_on_regression",
        action="store_false",
        default=None,
        help="report a regression but exit 0 (advisory gate for noisy shared machines); "
        "runs that cannot be judged still exit 2",
    )
    p.add_argument(
        "--accept-output-change",
        action="store_true",
        default=None,
        help="the change is meant to alter the predictions: outputs that differ from the "
        "reference's (base commit or stored baseline) get a time verdict instead of OUTPUTS "
        "CHANGED (exit 1), and the report says first that they changed and were accepted",
    )


def _add_ab_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--against",
        metavar="REF",
        help="A/B mode: benchmark this checkout against REF (a commit, a branch or "
        "merge-base:BRANCH) side by side, judged on paired rounds: end-to-end and stage times, "
        "tokens/s, peak memory and, on CUDA, GPU utilization, all from the same rounds "
        "(scaling and equivalence do not run)",
    )
    p.add_argument(
        "--max-rounds",
        type=positive_int,
        metavar="N",
        help="A/B mode: a safety cap on the pairs of rounds (default: the base commit's "
        "setting, 2000; the budget is time, --time-budget)",
    )
    p.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="A/B mode: stop adding rounds after this many seconds (default 180); with "
        "--bisect: the whole search (default 900)",
    )
    p.add_argument(
        "--bisect",
        metavar="GOOD..BAD",
        help="find the first commit on the first-parent path from GOOD to BAD that makes the "
        "total time slower beyond the threshold, each step a paired A/B (exit 1 culprit named, "
        "0 no slowdown in the range, 2 budget spent or could not judge)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="with --against or --bisect: after the timed rounds, one untimed round per side "
        "under torch.profiler; the report ranks the operators whose self time changed most",
    )
    p.add_argument(
        "--plan",
        action="store_true",
        help="A/B mode: measure a short pilot of pairs and say how many pairs and minutes "
        "detecting --mde needs on this machine (nothing is judged)",
    )
    p.add_argument(
        "--mde",
        type=float,
        metavar="FRACTION",
        help="with --plan: the slowdown to detect with 80%% power, e.g. 0.03 (default: the "
        "gate's fail threshold)",
    )
    p.add_argument(
        "--head-root",
        type=Path,
        metavar="PATH",
        help="A/B mode: measure the checkout at PATH as the head side, with this checkout as "
        "the harness and the judge (REF is resolved in PATH; the thresholds are this "
        "checkout's): CI runs the base commit's harness on a pull request this way",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="run the benchmark suites and judge them against the baseline",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_tier_options(p)
    _add_workload_options(p)
    _add_judging_options(p)
    _add_ab_options(p)
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
    from rich.console import Console

    run_benchmark = _run_benchmark()
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
    # a bar on a terminal; plain lines on stdout where people read logs (CI, redirected output)
    terminal = sys.stdout.isatty()
    stream = progress_stream(sys.stderr if terminal else sys.stdout)
    try:
        display = RichProgress(Console(file=stream)) if terminal else PlainProgress(stream)
        with display as progress:
            outcome: BenchOutcome = run_benchmark(options, progress=progress, command=command)
    finally:
        if stream not in (sys.stderr, sys.stdout):
            stream.close()
    from virnucpro.cli.summary import render_summary, summary_console

    render_summary(outcome, summary_console())
    return outcome.exit_code


def _run_against(args: argparse.Namespace, options: BenchOptions, command: str) -> int:
    from virnucpro.bench.ab.document import NOT_RUN_IN_AB
    from virnucpro.cli.ab import run_against
    from virnucpro.cli.summary import render_ab_summary

    chosen = resolve_suites(args.suite) if args.suite else ()
    unpaired = [s for s in chosen if s in NOT_RUN_IN_AB]
    if unpaired:
        raise InputError(f"--against --suite {unpaired[0]}: {NOT_RUN_IN_AB[unpaired[0]]}")
    if args.time_budget is not None and args.time_budget <= 0:
        raise InputError(f"--time-budget must be positive, got {args.time_budget:g}")
    overrides = {
        "ab_initial_pairs": args.rounds,
        "ab_max_pairs": args.max_rounds,
        "ab_time_budget_s": args.time_budget,
    }
    if args.plan:
        from virnucpro.cli.ab_plan import run_plan

        return run_plan(args.against, args.mde, options, overrides)
    if args.mde is not None:
        raise InputError("--mde goes with --plan (a pilot that says what detecting it needs)")
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
