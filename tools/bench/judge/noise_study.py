"""Measure the regression checker: its false-alarm rate and the smallest slowdown it flags.

It measures the test on one stored run's rounds as if that test could fail the gate
(``check_regression(..., one_run_fails=True)``): the checker itself reports such a failure as
drift, never a failure, because this study's false-alarm rate under run-to-run noise says so.

Two sources of runs:

- a folder of results documents from repeated *unchanged* runs (``UNCHANGED_DIR``), and
  optionally folders of runs with a known injected slowdown (``--slowed 0.10=DIR``);
- ``--synthetic``: runs drawn with known noise (log-normal within a run, plus an optional
  run-to-run offset, the larger source of noise on shared CI machines).

The false-alarm rate is the share of ordered pairs of unchanged runs (baseline, candidate) the
checker calls a regression; the detection rate of a slowdown is the share of (unchanged
baseline, slowed candidate) pairs it calls a regression. The smallest slowdown with a detection
rate of at least ``RELIABLE_DETECTION`` is the one it reliably flags. Usage::

    python -m tools.bench.judge.noise_study runs/unchanged --slowed 0.10=runs/slow10
    python -m tools.bench.judge.noise_study --synthetic --noise 0.02 --run-noise 0.05
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from itertools import permutations
from pathlib import Path

import numpy as np

from tools.bench.judge.stored import check_regression
from tools.bench.synthetic import draw_samples, synthetic_document
from tools.bench.thresholds import DEFAULT_THRESHOLDS, Thresholds
from virnucpro.atomic import atomic_write_text
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.schema import (
    ResultsDocument,
    metric_from_samples,
    read_document,
)
from virnucpro.errors import InputError, VirnucproError

RELIABLE_DETECTION = 0.9
DEFAULT_SEED = 12_345
DEFAULT_NOISE = 0.02
DEFAULT_RUN_NOISE = 0.0
DEFAULT_SAMPLES = 10
DEFAULT_RUNS = 10
DEFAULT_METRICS = 1
DEFAULT_SLOWDOWNS = (0.05, 0.10, 0.15, 0.20, 0.30)
SYNTHETIC_LEVEL_S = 100.0


@dataclass(frozen=True)
class StudyResult:
    """False alarms over unchanged pairs and detection per injected slowdown."""

    pairs: int
    false_alarms: int
    false_alarm_rate: float | None
    warn_rate: float | None
    inconclusive_rate: float | None
    not_comparable: int
    detection: dict[float, float | None]
    smallest_reliable: float | None


def _rate(count: int, total: int) -> float | None:
    return count / total if total else None


def _outcomes(
    pairs: Iterable[tuple[ResultsDocument, ResultsDocument]], thresholds: Thresholds
) -> list[tuple[str, bool]]:
    """(outcome, any metric inconclusive) per (baseline, candidate) pair."""
    results = []
    for base, cand in pairs:
        verdict = check_regression(cand, base, thresholds=thresholds, one_run_fails=True)
        inconclusive = any(j.status == "inconclusive" for j in verdict.judgements)
        results.append((verdict.outcome, inconclusive))
    return results


def study(
    unchanged: Sequence[ResultsDocument],
    slowed: dict[float, Sequence[ResultsDocument]],
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> StudyResult:
    """Check every ordered pair of unchanged runs, and every unchanged-vs-slowed pair."""
    null = _outcomes(permutations(unchanged, 2), thresholds)
    comparable = [(o, i) for o, i in null if o != "no_baseline"]
    alarms = sum(o == "regression" for o, _ in comparable)
    detection = {}
    for slowdown, runs in sorted(slowed.items()):
        hits = [o for o, _ in _outcomes(((b, c) for b in unchanged for c in runs), thresholds)]
        judged = [o for o in hits if o != "no_baseline"]
        detection[slowdown] = _rate(sum(o == "regression" for o in judged), len(judged))
    reliable = [s for s, r in detection.items() if r is not None and r >= RELIABLE_DETECTION]
    return StudyResult(
        pairs=len(comparable),
        false_alarms=alarms,
        false_alarm_rate=_rate(alarms, len(comparable)),
        warn_rate=_rate(sum(o == "warn" for o, _ in comparable), len(comparable)),
        inconclusive_rate=_rate(sum(i for _, i in comparable), len(comparable)),
        not_comparable=len(null) - len(comparable),
        detection=detection,
        smallest_reliable=min(reliable, default=None),
    )


def synthetic_runs(
    rng: np.random.Generator,
    *,
    runs: int,
    samples: int,
    noise: float,
    run_noise: float,
    metrics: int,
    slowdown: float = 0.0,
    prefix: str = "run",
) -> list[ResultsDocument]:
    """``runs`` documents of ``metrics`` time metrics each, slowed by ``slowdown``."""
    docs = []
    for index in range(runs):
        level = SYNTHETIC_LEVEL_S * (1.0 + slowdown) * float(np.exp(run_noise * rng.normal()))
        drawn = [
            metric_from_samples(
                f"{TOTAL_TIME_METRIC}_{k}" if k else TOTAL_TIME_METRIC,
                draw_samples(rng, level=level, noise=noise, count=samples),
                unit="s",
                better="lower",
            )
            for k in range(metrics)
        ]
        docs.append(synthetic_document(drawn, run_id=f"{prefix}-{index}"))
    return docs


def synthetic_study(
    *,
    noise: float = DEFAULT_NOISE,
    run_noise: float = DEFAULT_RUN_NOISE,
    samples: int = DEFAULT_SAMPLES,
    runs: int = DEFAULT_RUNS,
    metrics: int = DEFAULT_METRICS,
    slowdowns: Sequence[float] = DEFAULT_SLOWDOWNS,
    seed: int = DEFAULT_SEED,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> StudyResult:
    """The study over runs drawn with known noise (seeded, reproducible)."""
    rng = np.random.default_rng(seed)
    shape = {
        "runs": runs,
        "samples": samples,
        "noise": noise,
        "run_noise": run_noise,
        "metrics": metrics,
    }
    unchanged = synthetic_runs(rng, **shape)
    slowed = {s: synthetic_runs(rng, **shape, slowdown=s, prefix=f"slow{s:g}") for s in slowdowns}
    return study(unchanged, slowed, thresholds=thresholds)


def _read_folder(folder: Path) -> list[ResultsDocument]:
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    docs = [read_document(p) for p in sorted(folder.glob("*.json"))]
    if not docs:
        raise InputError(f"{folder}: holds no results documents (*.json)")
    return docs


def _slowed_option(text: str) -> tuple[float, Path]:
    amount, sep, folder = text.partition("=")
    try:
        value = float(amount)
    except ValueError:
        value = -1.0
    if not sep or value <= 0.0:
        raise argparse.ArgumentTypeError(
            f"expected SLOWDOWN=DIR (e.g. 0.10=runs/slow), got {text!r}"
        )
    return value, Path(folder)


def _format(value: float | None) -> str:
    return "unavailable (no pairs)" if value is None else f"{value:.1%}"


def render(result: StudyResult) -> str:
    """The two headline figures and the detection table, as plain text."""
    lines = [
        f"unchanged pairs judged: {result.pairs} ({result.not_comparable} not comparable)",
        f"false-alarm rate: {_format(result.false_alarm_rate)} ({result.false_alarms} regressions)",
        f"warn rate: {_format(result.warn_rate)}; "
        f"pairs with an inconclusive metric: {_format(result.inconclusive_rate)}",
    ]
    lines += [f"slowdown {s:.0%}: detected {_format(r)}" for s, r in result.detection.items()]
    smallest = result.smallest_reliable
    reliable = "none of those tried" if smallest is None else f"{smallest:.0%}"
    lines.append(f"smallest slowdown flagged in >= {RELIABLE_DETECTION:.0%} of pairs: {reliable}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tools.bench.judge.noise_study", description=__doc__.split("\n")[0]
    )
    parser.add_argument("unchanged", nargs="?", type=Path, help="folder of unchanged runs")
    parser.add_argument(
        "--slowed", action="append", type=_slowed_option, default=[], metavar="S=DIR"
    )
    parser.add_argument("--synthetic", action="store_true", help="draw runs with known noise")
    parser.add_argument("--noise", type=float, default=DEFAULT_NOISE, help="within-run sigma")
    parser.add_argument(
        "--run-noise", type=float, default=DEFAULT_RUN_NOISE, help="run-to-run sigma"
    )
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, help="samples per run")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="runs per group")
    parser.add_argument("--metrics", type=int, default=DEFAULT_METRICS, help="metrics per run")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study and print its figures; exit 2 on bad input."""
    args = _parser().parse_args(argv)
    try:
        if args.synthetic:
            result = synthetic_study(
                noise=args.noise,
                run_noise=args.run_noise,
                samples=args.samples,
                runs=args.runs,
                metrics=args.metrics,
                seed=args.seed,
            )
        elif args.unchanged is None:
            raise InputError("give a folder of unchanged runs, or --synthetic")
        else:
            slowed = {s: _read_folder(folder) for s, folder in args.slowed}
            result = study(_read_folder(args.unchanged), slowed)
    except VirnucproError as exc:
        print(f"tools.bench.judge.noise_study: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(render(result))
    if args.json:
        atomic_write_text(args.json, json.dumps(asdict(result), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
