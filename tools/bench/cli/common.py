"""What every ``python -m tools.bench`` subcommand shares: the parser, common options, formats.

The command modules (:mod:`tools.bench.cli.main` for reports, checks and baselines;
:mod:`tools.bench.cli.history` for the history, dashboard and exports) build their subcommands
with these helpers, so options, errors and exit codes read the same everywhere.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from tools.bench.history.baseline import DEFAULT_BASELINE_DIR
from tools.bench.judge.document import resolve_thresholds
from tools.bench.thresholds import THRESHOLDS_FILE_NAME, Thresholds
from virnucpro.errors import EXIT_BAD_INPUT

PROG = "tools.bench"
DEFAULT_REPORT_DIR = Path("tests/reports")
NUMBER_FORMAT = "{:.4g}"
UNAVAILABLE = "-"
# option flag -> Thresholds field, type, help
THRESHOLD_OPTIONS: tuple[tuple[str, str, type, str], ...] = (
    ("--fail-threshold", "fail_slowdown", float, "fail above this slowdown of a time (0.10)"),
    ("--memory-threshold", "warn_memory_growth", float, "warn above this memory growth (0.20)"),
    (
        "--utilization-threshold",
        "warn_utilization_drop_points",
        float,
        "warn above this GPU utilization drop, points (5)",
    ),
    (
        "--scaling-threshold",
        "warn_scaling_efficiency_drop",
        float,
        "warn above this scaling efficiency drop (0.05)",
    ),
    ("--other-threshold", "warn_other_change", float, "warn above this change of others (0.10)"),
    ("--alpha", "alpha", float, "significance level after Benjamini-Hochberg (0.05)"),
    ("--min-samples", "min_samples", int, "fewest samples a side to judge a metric (5)"),
)

Subparsers = argparse._SubParsersAction


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{PROG}: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def number(value: float | None) -> str:
    return UNAVAILABLE if value is None else NUMBER_FORMAT.format(value)


def thresholds_from(args: argparse.Namespace) -> Thresholds:
    """The thresholds the options name (file, then ``<baseline-dir>/thresholds.toml``, flags)."""
    overrides = {field: getattr(args, field) for _, field, _, _ in THRESHOLD_OPTIONS}
    return resolve_thresholds(
        file=args.thresholds, baseline_dir=args.baseline_dir, overrides=overrides
    )


def add_results(parser: argparse.ArgumentParser, *, what: str = "results document") -> None:
    parser.add_argument("results", type=Path, metavar="RESULTS_JSON", help=what)


def add_baseline_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--baseline-dir",
        type=Path,
        default=DEFAULT_BASELINE_DIR,
        metavar="DIR",
        help="baselines folder (default: the repository's baselines/)",
    )


def add_threshold_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("thresholds")
    group.add_argument(
        "--thresholds",
        type=Path,
        metavar="FILE",
        help=f"TOML file (default: <baseline-dir>/{THRESHOLDS_FILE_NAME})",
    )
    for flag, field, kind, text in THRESHOLD_OPTIONS:
        metavar = "N" if kind is int else "X"
        group.add_argument(flag, dest=field, type=kind, metavar=metavar, help=text)


def subcommand(
    subparsers: Subparsers, name: str, handler: Callable[..., int], text: str
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=text, description=text)
    parser.set_defaults(handler=handler)
    return parser
