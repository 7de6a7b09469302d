"""Ablation of the A/B gate's levers: A/A interval width and per-pair noise, each lever on and off.

Reproducible from a checkout, in ONE run::

    python scripts/ablation.py --out runs/ablation            # 7 arms x 5 trials x 45 s
    python scripts/ablation.py --out runs/ablation --summarize  # the tables again, from raw data

**Measuring levers** (how a round is measured; :class:`~virnucpro.bench.ab.schema.RoundProtocol`)
need their own rounds: one arm per setting, every arm A/A (this checkout on both sides, two fresh
workers per trial, the quick tier's workload and warm-up) and measuring pairs for the same
wall-clock time (``--seconds``), so a lever that slows the pace (more predicts per round) is
charged for it. The reference arm has the gate's defaults; every other arm flips one lever, and
one arm flips them all back to the protocol before issue 19. Trials of all arms run interleaved
in a seeded random order, so drift of the machine reaches every arm alike.

**Judging levers** need no rounds of their own: they are applied to every trial's raw pairs of
the reference arm — the estimator (median, Hodges-Lehmann, trimmed mean), the pair cap (the old
60 pairs against all the pairs the time held) and the alpha spending (the interval at the
trial's last look of the gate's plan, against the plain 95% one; the price of a valid
sequential rule; its false-alarm rate is ``python -m tools.bench.judge.sequential_check``'s).

For every trial: the per-pair CV (the standard deviation of the per-pair log ratio head/base,
of the wall time and of the process CPU time), the width of the 95% interval of the total time
after all its pairs, and the pace. ``<out>/trials/*.json`` keep every raw pair;
``<out>/ablation.json`` and ``<out>/ablation.md`` are rewritten after each trial.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/ lives in the checkout

from tools.bench.judge.paired import record_plan
from tools.bench.thresholds import AB_OLD_MAX_PAIRS, DEFAULT_THRESHOLDS
from virnucpro.atomic import atomic_write_text
from virnucpro.bench import paired_stats, stats
from virnucpro.bench.ab import schema as ab_schema
from virnucpro.bench.ab import session as ab
from virnucpro.bench.ab.worker_process import WorkerSpec
from virnucpro.bench.options import for_tier
from virnucpro.bench.workload.prepare import prepare_workload
from virnucpro.cli.ab import round_protocol, worker_spec

REFERENCE = round_protocol(DEFAULT_THRESHOLDS)
BEFORE = ab_schema.RoundProtocol()  # the protocol before issue 19
REPEAT = 3  # predicts per round in the "round size" arm
# Each measuring lever and its settings; a setting equal to the gate's defaults is measured by
# the reference arm, every other setting by an arm of its own.
LEVERS: dict[str, dict[str, ab_schema.RoundProtocol]] = {
    "order of the sides": {
        "abba": REFERENCE.model_copy(update={"order": "abba"}),
        "random": REFERENCE.model_copy(update={"order": "random"}),
    },
    "gc during a round": {
        "off (collected before)": REFERENCE.model_copy(update={"gc_off": True}),
        "on": REFERENCE.model_copy(update={"gc_off": False}),
    },
    "CPU pinning": {
        "off": REFERENCE.model_copy(update={"pin_cpus": "off"}),
        "split (own CPU each, swapped)": REFERENCE.model_copy(update={"pin_cpus": "split"}),
        "shared (one CPU for both)": REFERENCE.model_copy(update={"pin_cpus": "shared"}),
    },
    "round size": {
        "1 predict": REFERENCE.model_copy(update={"repeat": 1}),
        f"{REPEAT} predicts": REFERENCE.model_copy(update={"repeat": REPEAT}),
    },
    "every measuring lever": {
        "the gate's defaults": REFERENCE,
        "as before issue 19 (random, gc on, not pinned, 1 predict)": BEFORE,
    },
}
REFERENCE_ARM = "reference"
DEFAULT_TRIALS = 5
DEFAULT_SECONDS = 45.0
STUDY_SEED = 19
BLOCK = 4  # pairs between checks of the clock (the ABBA and pinning balance unit)


def arm_name(protocol: ab_schema.RoundProtocol) -> str:
    """The arm that measures ``protocol``: the reference, or the lever setting it flips."""
    if protocol == REFERENCE:
        return REFERENCE_ARM
    for lever, settings in LEVERS.items():
        for setting, candidate in settings.items():
            if candidate == protocol:
                return f"{lever}: {setting}"
    raise KeyError(protocol)


def arms() -> dict[str, ab_schema.RoundProtocol]:
    """Every distinct protocol to measure, by arm name (the reference first)."""
    chosen = {REFERENCE_ARM: REFERENCE}
    for settings in LEVERS.values():
        chosen.update({arm_name(p): p for p in settings.values()})
    return chosen


def run_trial(
    root: Path, spec: WorkerSpec, protocol, work: Path, seed: int, seconds: float, warmup: int
) -> tuple[ab_schema.ABRecord, float]:
    """Fresh A/A workers under ``protocol``, pairs until ``seconds`` of rounds have passed; the
    record and the loop's wall seconds (what the pairs cost, collections between rounds too)."""
    with ab.ABSession.start(
        ref="ablation",
        base_root=root,
        head_root=root,
        spec=spec,
        workdir=work,
        seed=seed,
        protocol=protocol,
    ) as session:
        session.warm_up(warmup)
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            session.run_pairs(BLOCK)
        return session.record(), time.perf_counter() - start


# ----------------------------------------------------------------------------- figures


def _log_ratios(record: ab_schema.ABRecord, name: str) -> list[float]:
    metric = next(m for m in record.paired_metrics() if m.name == name)
    return [math.log(h / b) for b, h in zip(metric.base, metric.head, strict=True)]


def cv(record: ab_schema.ABRecord, name: str = ab_schema.TOTAL_TIME) -> float:
    """The per-pair CV: the standard deviation of the per-pair log ratio head/base."""
    return statistics.stdev(_log_ratios(record, name))


def width(
    record: ab_schema.ABRecord,
    *,
    name: str = ab_schema.TOTAL_TIME,
    estimator: paired_stats.Estimator = "median",
    pairs: int | None = None,
    confidence: float = stats.CONFIDENCE_LEVEL,
) -> float | None:
    """The width of the total time's interval (high - low of the ratio) over the first
    ``pairs`` pairs (all when None); None when there is no interval."""
    metric = next(m for m in record.paired_metrics() if m.name == name)
    n = len(metric.base) if pairs is None else min(pairs, len(metric.base))
    ratio = paired_stats.paired_ratio(
        metric.base[:n], metric.head[:n], confidence=confidence, estimator=estimator
    )
    if ratio.low is None or ratio.high is None:
        return None
    return ratio.high - ratio.low


def trial_row(
    arm: str, index: int, record: ab_schema.ABRecord, file: str, loop_s: float | None
) -> dict:
    """One trial's figures (measuring levers) and, for the reference arm, the judging levers.
    ``loop_s``: the measuring loop's wall seconds (None for trials recorded before it was)."""
    row = {
        "arm": arm,
        "trial": index,
        "file": file,
        "pairs": len(record.rounds),
        "loop_s": loop_s,
        "pace_s": statistics.fmean(r.wall_seconds for r in record.rounds),
        "cv_wall": cv(record),
        "cv_cpu": cv(record, ab_schema.CPU_TIME),
        "width_wall": width(record),
        "width_cpu": width(record, name=ab_schema.CPU_TIME),
        "others_share": stats.median(record.others_shares()),
    }
    if arm == REFERENCE_ARM:
        plan = record_plan(record, DEFAULT_THRESHOLDS)
        row["judging"] = {
            **{f"estimator {e}": width(record, estimator=e) for e in paired_stats.ESTIMATORS},
            f"cap {AB_OLD_MAX_PAIRS} pairs": width(record, pairs=AB_OLD_MAX_PAIRS),
            "no cap (all pairs)": width(record),
            f"spending {plan.spending} (last look)": width(
                record, confidence=plan.confidence(len(record.rounds))
            ),
            "spending none (plain 95%)": width(record),
        }
    return row


# ----------------------------------------------------------------------------- tables


def _median(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{stats.median(known):.1%}" if known else "n/a"


def _pairs_a_minute(mine: list[dict]) -> str:
    known = [60.0 * r["pairs"] / r["loop_s"] for r in mine if r.get("loop_s")]
    return f"{stats.median(known):.0f}" if known else "n/a"


def _arm_cells(mine: list[dict]) -> str:
    return (
        f"| {len(mine)} | {stats.median([r['pairs'] for r in mine]):.0f} "
        f"| {_pairs_a_minute(mine)} | {stats.median([r['pace_s'] for r in mine]):.2f} "
        f"| {_median([r['cv_wall'] for r in mine])} | {_median([r['cv_cpu'] for r in mine])} "
        f"| {_median([r['width_wall'] for r in mine])} "
        f"| {_median([r['width_cpu'] for r in mine])} "
        f"| {stats.median([r['others_share'] for r in mine]):.0%} |"
    )


def render(rows: list[dict], meta: dict) -> str:
    """The two tables: measuring levers (each setting, its arm's trials) and judging levers."""
    lines = [
        "# A/B gate ablation (A/A)",
        "",
        f"Commit `{meta['commit']}`, started {meta['started']}, {len(rows)} trials of "
        f"{meta['seconds']:g} s of rounds each. Per-pair CV: the SD of the per-pair log ratio "
        "head/base; width: the 95% interval of the total time's ratio after all the trial's "
        "pairs (medians over trials). The gate's defaults: "
        f"{REFERENCE.describe()}.",
        "",
        "## Measuring levers",
        "",
        "| lever | setting | arm | trials | pairs | pairs a minute | timed s a pair "
        "| per-pair CV (wall) | per-pair CV (CPU) | 95% width (wall) | 95% width (CPU) "
        "| others' CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for lever, settings in LEVERS.items():
        for setting, protocol in settings.items():
            name = arm_name(protocol)
            mine = [r for r in rows if r["arm"] == name]
            if mine:
                lines.append(f"| {lever} | {setting} | {name} {_arm_cells(mine)}")
    judged = [r["judging"] for r in rows if "judging" in r]
    lines += ["", "## Judging levers (on the reference arm's pairs)", ""]
    lines += ["| setting | 95% width of the total time (median over trials) |", "|---|---|"]
    for key in judged[0] if judged else ():
        lines.append(f"| {key} | {_median([j[key] for j in judged])} |")
    return "\n".join(lines) + "\n"


def write(out: Path, rows: list[dict], meta: dict) -> None:
    atomic_write_text(out / "ablation.json", json.dumps({**meta, "trials": rows}, indent=2) + "\n")
    atomic_write_text(out / "ablation.md", render(rows, meta))


def summarize(out: Path) -> int:
    """The tables again from the raw pairs in ``out``."""
    data = json.loads((out / "ablation.json").read_text(encoding="utf-8"))
    meta = {k: v for k, v in data.items() if k != "trials"}
    rows = [
        trial_row(
            r["arm"],
            r["trial"],
            ab_schema.read_record(out / "trials" / r["file"]),
            r["file"],
            r.get("loop_s"),
        )
        for r in data["trials"]
    ]
    write(out, rows, meta)
    print((out / "ablation.md").read_text(encoding="utf-8"), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/ablation.py")
    parser.add_argument("--out", type=Path, required=True, help="folder for trials and tables")
    parser.add_argument("--trials", type=int, default=DEFAULT_TRIALS, help="trials per arm (5)")
    parser.add_argument(
        "--seconds", type=float, default=DEFAULT_SECONDS, help="rounds per trial, s (45)"
    )
    parser.add_argument("--summarize", action="store_true", help="the tables from --out's data")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if args.summarize:
        return summarize(out)
    (out / "trials").mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parents[1]
    scratch = Path(tempfile.mkdtemp(prefix="ablation-"))
    options = for_tier("quick", output_dir=scratch / "reports")
    spec = worker_spec(options, prepare_workload(options).path)
    from virnucpro.bench.run.envinfo import git_state

    meta = {
        "commit": git_state(root)[0],
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": args.seconds,
        "trials_per_arm": args.trials,
        "command": " ".join(["python scripts/ablation.py", *(argv or sys.argv[1:])]),
    }
    schedule = [(name, i) for name in arms() for i in range(args.trials)]
    random.Random(STUDY_SEED).shuffle(schedule)
    rows: list[dict] = []
    try:
        _run(schedule, (root, spec, options.warmup, scratch, args.seconds), out, rows, meta)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print((out / "ablation.md").read_text(encoding="utf-8"), end="")
    return 0


def _run(schedule, measuring, out: Path, rows: list[dict], meta: dict) -> None:
    """Every scheduled trial, each written as it finishes."""
    root, spec, warmup, scratch, seconds = measuring
    protocols = arms()
    for n, (name, index) in enumerate(schedule):
        work = scratch / f"{n:03d}"
        record, loop_s = run_trial(root, spec, protocols[name], work, 100 + n, seconds, warmup)
        file = f"{n:03d}-{''.join(c if c.isalnum() else '-' for c in name)}.json"
        ab_schema.write_record(record, out / "trials" / file)
        rows.append(trial_row(name, index, record, file, loop_s))
        write(out, rows, meta)
        last = rows[-1]
        print(
            f"[{n + 1}/{len(schedule)}] {name}: {last['pairs']} pairs, CV {last['cv_wall']:.3f}, "
            f"width {last['width_wall'] or float('nan'):.3f}",
            file=sys.stderr,
        )


if __name__ == "__main__":
    raise SystemExit(main())
