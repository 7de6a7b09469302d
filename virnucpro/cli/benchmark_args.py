"""The options of ``virnucpro benchmark``, its description and its examples (the parser only:
nothing here imports torch or the results schema, so ``--help`` is instant)."""

from __future__ import annotations

import argparse
from pathlib import Path

from virnucpro.bench.options import (
    DATA_SIZES,
    DEFAULT_BASELINE_DIR,
    DEFAULT_OUTPUT_DIR,
    PRECISIONS,
    TIERS,
)
from virnucpro.cli.predict import positive_int

QUICK_TIER = "quick"
DESCRIPTION = """\
Run the benchmarks (from a source checkout), write markdown and JSON reports,
and judge them. The quick tier measures this checkout side by side against a
reference commit (the commit the stored baseline of this hardware was recorded
at, else the merge base with the default branch), paired; the stored numbers
are shown as drift. Every other run (and --stored-baseline) is judged against
the stored baseline and the run history, for trends. The first lines of the
output say what was compared with what, and why."""
SUITE_CHOICES = "scaling|throughput|memory|equivalence|end_to_end|all"
EXAMPLES = """\
examples:
  virnucpro benchmark --quick
      this checkout against its reference commit, side by side on tiny data and
      models (under a minute on a 2-core CPU), the stored numbers as drift
  virnucpro benchmark --quick --stored-baseline
      every suite on tiny data, judged against this machine's stored baseline
      (a plain run, for the history: 2 to 3 minutes on a 2-core CPU)
  virnucpro benchmark --suite scaling --gpus 0,1,2,3
      scaling over 1, 2 and 4 GPUs (without GPUs: 1 vs 2 CPU ranks)
  virnucpro benchmark --vanilla-baseline --data-size large
      every suite on large data, also timing the vanilla (published) engine
      end to end for the fast-vs-vanilla speedup
  virnucpro benchmark --quick --bisect v1.4..main --profile
      which commit after v1.4 made the total time slower, and where its time
      went (exit 1 names it, 0 no slowdown in the range, 2 could not tell)

exit codes: 0 pass, 1 regression, 2 could not judge (bad options, a failed
suite, an invalid run, no reference commit, no stored baseline in a plain run
unless --allow-no-baseline, a stored number that moved but no history of 2 or
more days to judge it). Reports: <output-dir>/benchmark_YYYYMMDD_HHMMSS.{md,json}.
"""


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
    return value


def add_workload_options(p: argparse.ArgumentParser) -> None:
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


def add_tier_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--quick",
        action="store_true",
        help="the quick tier (same as --tier quick): side by side against the reference commit",
    )

    p.add_argument("--tier", choices=tuple(TIERS), help="a named set of defaults")
    p.add_argument(
        "--vanilla-baseline",
        action="store_true",
        default=None,
        help="also time the vanilla engine end to end (slower)",
    )


def add_judging_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--stored-baseline",
        action="store_true",
        help="quick tier: a plain run judged against the stored baseline and the run history "
        "(for trends) instead of side by side; --suite, --compare-to, --update-baseline and "
        "--append-history imply it",
    )
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


def add_ab_options(p: argparse.ArgumentParser) -> None:
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
