"""The paired gate under optional stopping, simulated with this machine's measured paired noise.

The A/B gate adds pairs until the total time is decided, so it is a sequential test: every look
is another chance for noise to cross a line. This module replays the gate's own loop
(:func:`tools.bench.judge.paired.judge_paired` at each look of the run's plan, then
:func:`~tools.bench.judge.paired.pairs_to_add`) on thousands of synthetic sequences of pairs and
counts the verdicts, so the false-alarm rate of the whole loop is measured, not assumed.

**The noise** is the committed power study's raw A/A pairs (``docs/power-study/trials.tar.xz``):
the per-pair log ratios head/base of the total time of every A/A trial, and the pace (wall
seconds per pair). A/A pairs are exchangeable (either side could be called head), so a synthetic
A/A pair is one of those log ratios with a random sign; an arm with a slowdown ``k`` adds
``log(1 + k)``. Two ways to draw a sequence's pairs:

- ``pooled``: every pair from all A/A pairs together;
- ``per-trial``: a sequence keeps the pairs of one trial (its own noise level), drawn with
  replacement; the spread between trials is part of what a run meets.

**Worker pairs.** Two fresh worker processes of the same code differ by a steady offset, which
the A/A pairs of one trial share. With ``--process-spread S`` every pair of workers a sequence
uses draws its own offset from a normal distribution with SD ``S`` (measured on this machine:
about 0.013), added to its pairs' log ratios; the gate replaces both workers every
``ab_fresh_workers_every`` pairs (``--fresh-every N``, 0: never), each replacement costing
``--restart-s`` seconds of the budget, and the judge sees which worker pair measured each pair
(the interval widened by the spread between them, a decision only from
``ab_min_worker_pairs``). ``--process-spread 0`` (the default) keeps the sequences as measured.

A **false alarm** is a FAIL (exit 1) of an A/A sequence. The rate bounded by ``alpha`` is that
of the interval on the worse side: at a threshold near zero a FAIL is exactly "the interval
excludes no change, slower" (a test at ``alpha / 2`` a side), so ``--threshold 0.0001`` is the
worst case of every threshold. Usage::

    python -m tools.bench.judge.sequential_check --sequences 2000 --out runs/sequential
    python -m tools.bench.judge.sequential_check --threshold 0.0001 --spending none
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import tarfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tools.bench.judge.paired import judge_paired, pairs_to_add, plan_for
from tools.bench.thresholds import DEFAULT_THRESHOLDS, Thresholds, with_overrides
from virnucpro.atomic import atomic_write_text
from virnucpro.bench.ab.schema import TOTAL_TIME, ABRecord, PairedMetric, replacements_before
from virnucpro.errors import InputError, VirnucproError

TRIALS_ARCHIVE = Path(__file__).resolve().parents[3] / "docs" / "power-study" / "trials.tar.xz"
AA_MARKER = "AA"  # the power study names its A/A trials NNN-AA.json
DEFAULT_SEED = 20_261_203
DEFAULT_SEQUENCES = 2000
BASE_SECONDS = 0.2  # the synthetic base side's round (the ratio is what is judged)
DRAWS = ("pooled", "per-trial")
DEFAULT_RESTART_S = 4.0  # replacing both quick-tier workers, measured 2026-12-03 (3.99, 3.99 s)


@dataclass(frozen=True)
class Noise:
    """The measured A/A paired noise: log ratios per trial, and seconds per pair."""

    trials: tuple[tuple[float, ...], ...]
    pace_s: float

    @property
    def pooled(self) -> np.ndarray:
        return np.asarray([v for t in self.trials for v in t], dtype=float)


@dataclass(frozen=True)
class ArmResult:
    """The verdicts of ``sequences`` synthetic runs of one arm."""

    slowdown: float
    draw: str
    sequences: int
    process_spread: float
    outcomes: dict[str, int]
    pairs_median: float
    pairs_max: int
    seconds_median: float

    def rate(self, *outcomes: str) -> float:
        return sum(self.outcomes.get(o, 0) for o in outcomes) / self.sequences


def load_noise(archive: Path = TRIALS_ARCHIVE) -> Noise:
    """The A/A trials' log ratios of the total time and the median seconds per pair."""
    trials: list[tuple[float, ...]] = []
    walls: list[float] = []
    try:
        with tarfile.open(archive, "r:xz") as tar:
            for member in sorted(tar.getmembers(), key=lambda m: m.name):
                if not member.isfile() or not member.name.endswith(".json"):
                    continue
                handle = tar.extractfile(member)
                assert handle is not None
                record = ABRecord.model_validate_json(io.TextIOWrapper(handle).read())
                walls += [r.wall_seconds for r in record.rounds]
                if Path(member.name).stem.endswith(AA_MARKER):
                    trials.append(
                        tuple(math.log(r.head.seconds / r.base.seconds) for r in record.rounds)
                    )
    except (OSError, tarfile.TarError, ValueError) as exc:
        raise InputError(f"{archive}: cannot read the power study's raw pairs ({exc})") from None
    if not trials:
        raise InputError(f"{archive}: holds no A/A trials (files named *{AA_MARKER}.json)")
    return Noise(trials=tuple(trials), pace_s=float(np.median(walls)))


def worker_labels(thresholds: Thresholds, most: int) -> np.ndarray | None:
    """The worker pair of each of ``most`` pairs when the gate replaces its workers, or None."""
    every = thresholds.ab_fresh_workers_every
    return np.arange(most) // every if every else None


def _sequence(
    noise: Noise,
    draw: str,
    rng: np.random.Generator,
    most: int,
    *,
    spread: float = 0.0,
    workers: np.ndarray | None = None,
) -> np.ndarray:
    source = (
        noise.pooled
        if draw == "pooled"
        else np.asarray(noise.trials[rng.integers(len(noise.trials))])
    )
    values = rng.choice(source, size=most) * rng.choice((-1.0, 1.0), size=most)
    if spread > 0.0:
        labels = workers if workers is not None else np.zeros(most, dtype=int)
        values = values + rng.normal(0.0, spread, int(labels.max()) + 1)[labels]
    return values


def run_sequence(
    logs: np.ndarray,
    slowdown: float,
    thresholds: Thresholds,
    pace_s: float,
    *,
    workers: np.ndarray | None = None,
    restart_s: float = DEFAULT_RESTART_S,
) -> tuple[str, int]:
    """The gate's loop over one synthetic sequence: the outcome and the pairs it used.
    ``workers``: the worker pair of each pair (the gate replaces its workers)."""
    base = np.full(len(logs), BASE_SECONDS)
    every = thresholds.ab_fresh_workers_every
    head = BASE_SECONDS * np.exp(logs + math.log1p(slowdown))
    plan = plan_for(thresholds, pace_s=pace_s)
    used = thresholds.ab_initial_pairs
    while True:
        labels = () if workers is None else tuple(int(w) for w in workers[:used])
        metric = PairedMetric(
            TOTAL_TIME, "s", "lower", tuple(base[:used]), tuple(head[:used]), labels
        )
        verdict = judge_paired(
            (metric,), thresholds=thresholds, label="simulated", final=False, plan=plan
        )
        restarts = replacements_before(used, every) if workers is not None else 0
        seconds = used * pace_s + restarts * restart_s
        more = pairs_to_add(verdict, pairs=used, seconds=seconds, thresholds=thresholds)
        if more == 0:
            final = judge_paired(
                (metric,), thresholds=thresholds, label="simulated", final=True, plan=plan
            )
            return final.outcome, used
        used += more


def simulate(
    noise: Noise,
    thresholds: Thresholds,
    *,
    slowdown: float = 0.0,
    sequences: int = DEFAULT_SEQUENCES,
    draw: str = "pooled",
    seed: int = DEFAULT_SEED,
    process_spread: float = 0.0,
    restart_s: float = DEFAULT_RESTART_S,
) -> ArmResult:
    """``sequences`` synthetic runs of the gate with ``slowdown`` (0: A/A); with
    ``process_spread``, each pair of workers adds its own offset (see the module docstring)."""
    if draw not in DRAWS:
        raise InputError(f"--draw must be one of {', '.join(DRAWS)}, not {draw!r}")
    rng = np.random.default_rng(seed)
    most = plan_for(thresholds, pace_s=noise.pace_s).most
    workers = worker_labels(thresholds, most) if process_spread > 0.0 else None
    outcomes: Counter[str] = Counter()
    used: list[int] = []
    for _ in range(sequences):
        logs = _sequence(noise, draw, rng, most, spread=process_spread, workers=workers)
        outcome, pairs = run_sequence(
            logs, slowdown, thresholds, noise.pace_s, workers=workers, restart_s=restart_s
        )
        outcomes[outcome] += 1
        used.append(pairs)
    return ArmResult(
        slowdown=slowdown,
        draw=draw,
        sequences=sequences,
        process_spread=process_spread,
        outcomes=dict(outcomes),
        pairs_median=float(np.median(used)),
        pairs_max=int(max(used)),
        seconds_median=float(np.median(used)) * noise.pace_s,
    )


def render(results: Sequence[ArmResult], thresholds: Thresholds, noise: Noise) -> str:
    """A markdown table: per arm, FAIL / PASS / INCONCLUSIVE shares and pairs used."""
    lines = [
        f"Gate: threshold {thresholds.fail_slowdown:.2%}, alpha {thresholds.alpha:g}, estimator "
        f"{thresholds.ab_estimator}, spending {thresholds.ab_spending}, first "
        f"{thresholds.ab_initial_pairs} pairs, blocks of {thresholds.ab_block_pairs}, budget "
        f"{thresholds.ab_time_budget_s:g} s at {noise.pace_s:.3f} s a pair "
        f"(horizon {plan_for(thresholds, pace_s=noise.pace_s).most} pairs). Noise: "
        f"{len(noise.trials)} A/A trials, {len(noise.pooled)} pairs, per-pair SD of the log "
        f"ratio {float(np.std(noise.pooled, ddof=1)):.3f}. Worker pairs: "
        + (
            f"fresh every {thresholds.ab_fresh_workers_every} pairs, a decision from "
            f"{thresholds.ab_min_worker_pairs}"
            if thresholds.ab_fresh_workers_every
            else "one for the whole run"
        )
        + ".",
        "",
        "| slowdown | draw | offset SD between worker pairs | sequences | FAIL | PASS or WARN "
        "| INCONCLUSIVE | pairs (median, max) | rounds s (median) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.slowdown:+.0%} | {r.draw} | {r.process_spread:.1%} | {r.sequences} "
            f"| {r.rate('regression'):.2%} "
            f"| {r.rate('pass', 'warn', 'improved'):.2%} | {r.rate('inconclusive'):.2%} "
            f"| {r.pairs_median:.0f}, {r.pairs_max} | {r.seconds_median:.0f} |"
        )
    return "\n".join(lines) + "\n"


def _fractions(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"not a comma list of fractions: {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench.judge.sequential_check", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sequences", type=int, default=DEFAULT_SEQUENCES)
    parser.add_argument("--slowdowns", default="0", help="comma list of fractions (0: A/A)")
    parser.add_argument("--threshold", type=float, help="fail_slowdown (default: the gate's)")
    parser.add_argument("--spending", help="ab_spending: obrien_fleming, pocock or none")
    parser.add_argument("--estimator", help="ab_estimator: median, hodges_lehmann, trimmed_mean")
    parser.add_argument("--block", type=int, help="ab_block_pairs")
    parser.add_argument("--budget", type=float, help="ab_time_budget_s")
    parser.add_argument("--draw", default="pooled", choices=DRAWS)
    parser.add_argument(
        "--process-spread", type=float, default=0.0, help="offset SD between worker pairs (0)"
    )
    parser.add_argument("--fresh-every", type=int, help="ab_fresh_workers_every (0: never)")
    parser.add_argument("--restart-s", type=float, default=DEFAULT_RESTART_S)
    parser.add_argument("--archive", type=Path, default=TRIALS_ARCHIVE)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, help="folder for results.json and results.md")
    args = parser.parse_args(argv)
    try:
        thresholds = with_overrides(
            DEFAULT_THRESHOLDS,
            fail_slowdown=args.threshold,
            ab_spending=args.spending,
            ab_estimator=args.estimator,
            ab_block_pairs=args.block,
            ab_time_budget_s=args.budget,
            ab_fresh_workers_every=args.fresh_every,
        )
        noise = load_noise(args.archive)
        results = [
            simulate(
                noise,
                thresholds,
                slowdown=k,
                sequences=args.sequences,
                draw=args.draw,
                seed=args.seed + n,
                process_spread=args.process_spread,
                restart_s=args.restart_s,
            )
            for n, k in enumerate(_fractions(args.slowdowns))
        ]
    except VirnucproError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    table = render(results, thresholds, noise)
    print(table, end="")
    if args.out is not None:
        data = {"thresholds": thresholds.model_dump(), "arms": [asdict(r) for r in results]}
        atomic_write_text(args.out / "results.json", json.dumps(data, indent=2) + "\n")
        atomic_write_text(args.out / "results.md", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
