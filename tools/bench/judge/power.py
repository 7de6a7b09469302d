"""The power study's judging: the gate's loop replayed on each trial's pairs, and the table.

``scripts/power_study.py`` measures the trials; this module judges them, with the gate's own
judge (:func:`tools.bench.judge.paired.judge_record` and
:func:`~tools.bench.judge.paired.pairs_to_add`) at each look, as ``virnucpro benchmark
--against`` would have stopped: the loop depends only on the pairs so far, the first block's
pace (the plan's horizon) and the seconds spent (the pairs' wall time and the workers'
replacements, :func:`loop_seconds`), so a trial's raw pairs replay it (judging time aside).
``--summarize`` re-judges a finished study with this checkout's judge (:func:`summarize`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import virnucpro.bench.ab.schema as ab_schema
import virnucpro.bench.paired_stats as paired_stats
import virnucpro.bench.stats as stats
from tools.bench.judge.paired import judge_record, pairs_to_add
from tools.bench.thresholds import DEFAULT_THRESHOLDS, Thresholds
from virnucpro.atomic import atomic_write_text

THRESHOLDS = (0.03, 0.10)
BUSY = " busy"
# The thresholds whose replays drive an arm's trials: where its targets are (issue 19: at 3%,
# A/A, +5% quiet and busy, and +3%/+8%; at 10%, A/A, +5% and +15%).
DRIVES = {
    "A/A": (0.03, 0.10),
    "+3%": (0.03,),
    "+5%": (0.03, 0.10),
    "+8%": (0.03,),
    "+15%": (0.10,),
    f"+5%{BUSY}": (0.03,),
}


@dataclass(frozen=True)
class Arm:
    name: str
    slowdown: float  # nominal, end to end; 0 for A/A
    root: Path
    busy: bool = False  # one core spinning during the trials

    @property
    def drives(self) -> tuple[float, ...]:
        return DRIVES.get(self.name, THRESHOLDS)


def replay(
    record: ab_schema.ABRecord, thresholds: Thresholds, *, gated: bool
) -> tuple[str, int, int]:
    """The outcome and pairs used when the more-pairs loop runs over this trial's pairs, and
    how many more pairs the loop wanted than the trial has (0: the replay is complete)."""
    if not gated:
        thresholds = replace_thresholds(thresholds, ab_busy_host_share=1.0)
    used = min(thresholds.ab_initial_pairs, len(record.rounds))
    while True:
        prefix = record.model_copy(update={"rounds": record.rounds[:used]})
        verdict = judge_record(prefix, thresholds=thresholds, label="study", final=False)
        more = pairs_to_add(
            verdict, pairs=used, seconds=loop_seconds(record, used), thresholds=thresholds
        )
        if more == 0 or used + more > len(record.rounds):
            outcome = judge_record(prefix, thresholds=thresholds, label="study").outcome
            return outcome, used, max(used + more - len(record.rounds), 0)
        used += more


def loop_seconds(record: ab_schema.ABRecord, pairs: int) -> float:
    """The seconds the gate's loop had spent after ``pairs`` pairs of ``record``: their wall
    time and every replacement of the workers before them (judging in between left out)."""
    every = record.protocol.fresh_workers_every if record.protocol is not None else None
    restarts = ab_schema.replacements_before(pairs, every)
    rounds = sum(r.wall_seconds for r in record.rounds[:pairs])
    return rounds + sum(record.restart_seconds[:restarts])


def settings(
    drives: tuple[float, ...] = THRESHOLDS, gate: Thresholds = DEFAULT_THRESHOLDS
) -> list[tuple[str, Thresholds, bool]]:
    """(key, thresholds, gated) of each replay: every driving threshold, with and without the
    host gate."""
    chosen = []
    for threshold in drives:
        thresholds = replace_thresholds(gate, fail_slowdown=threshold)
        for gated in (True, False):
            chosen.append((f"{threshold:.0%}{'' if gated else ' ungated'}", thresholds, gated))
    return chosen


def wanted(record: ab_schema.ABRecord, drives: tuple[float, ...], gate: Thresholds) -> int:
    """The most pairs any driving replay wants beyond the record's."""
    return max(replay(record, t, gated=g)[2] for _, t, g in settings(drives, gate))


def replace_thresholds(thresholds: Thresholds, **changes: float) -> Thresholds:
    return thresholds.model_copy(update=changes)


def realized(record: ab_schema.ABRecord) -> float:
    total = next(m for m in record.paired_metrics() if m.name == ab_schema.TOTAL_TIME)
    return paired_stats.paired_ratio(total.base, total.head).estimate - 1.0


def trial_summary(
    arm: Arm,
    index: int,
    record: ab_schema.ABRecord,
    seconds: float,
    gate: Thresholds = DEFAULT_THRESHOLDS,
) -> dict:
    verdicts = {}
    for key, thresholds, gated in settings(arm.drives, gate):
        outcome, used, short = replay(record, thresholds, gated=gated)
        verdicts[key] = {"outcome": outcome, "pairs": used, "short": short}
    return {
        "arm": arm.name,
        "slowdown": arm.slowdown,
        "busy": arm.busy,
        "trial": index,
        "pairs": len(record.rounds),
        "seconds": seconds,
        "realized": realized(record),
        "others_share_median": stats.median(record.others_shares()),
        "verdicts": verdicts,
    }


def _rate(rows: list[dict], key: str, *outcomes: str) -> str:
    counts = Counter(r["verdicts"][key]["outcome"] for r in rows)
    return f"{sum(counts[o] for o in outcomes)}/{len(rows)}"


def _realized_text(rows: list[dict]) -> str:
    realized = [r["realized"] for r in rows]
    return f"{stats.median(realized):+.1%} ({min(realized):+.1%} to {max(realized):+.1%})"


def _short(rows: list[dict], key: str) -> str:
    """How many trials ended before their replay at ``key`` was complete."""
    cut = sum(1 for r in rows if r["verdicts"][key].get("short", 0) > 0)
    return f"{cut}/{len(rows)}"


def render(rows: list[dict], meta: dict) -> str:
    """The summary table: per arm and driving threshold, FAIL / PASS / INCONCLUSIVE / INVALID.

    PASS counts WARN too (the total time passed; a stage or another metric warned): neither
    fails the gate. "Cut short" counts trials whose pairs ended while the replay wanted more
    (a trial of an earlier study had fewer pairs than this judge asks for).
    """
    lines = [
        "| arm | nominal | realized (median, range) | trials | threshold | FAIL | PASS or WARN "
        "| INCONCLUSIVE | INVALID (host busy) | FAIL without the host gate "
        "| others' CPU (median) | pairs used (median, max) | cut short "
        "| trial wall s (median, max) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    arms = dict.fromkeys(r["arm"] for r in rows)
    for threshold in THRESHOLDS:
        key = f"{threshold:.0%}"
        for name in arms:
            mine = [r for r in rows if r["arm"] == name and key in r["verdicts"]]
            if not mine:
                continue
            used = [r["verdicts"][key]["pairs"] for r in mine]
            seconds = [r["seconds"] for r in mine]
            lines.append(
                f"| {name} | {mine[0]['slowdown']:+.0%} "
                f"| {_realized_text(mine)} | {len(mine)} | {key} "
                f"| {_rate(mine, key, 'regression')} | {_rate(mine, key, 'pass', 'warn')} "
                f"| {_rate(mine, key, 'inconclusive')} | {_rate(mine, key, 'invalid')} "
                f"| {_rate(mine, key + ' ungated', 'regression')} "
                f"| {stats.median([r['others_share_median'] for r in mine]):.0%} "
                f"| {stats.median(used):.0f}, {max(used)} | {_short(mine, key)} "
                f"| {stats.median(seconds):.0f}, {max(seconds):.0f} |"
            )
    total = sum(r["seconds"] for r in rows)
    header = [
        "# A/B gate power study",
        "",
        f"Commit `{meta['commit']}`, extra DNABERT-S work per arm {meta['candidates']}, "
        f"started {meta['started']}, {len(rows)} trials finished, {total / 60:.0f} min of "
        f"trials. Gate: {_gate_words(meta)}.",
        "",
    ]
    return "\n".join(header + lines) + "\n"


def _gate_words(meta: dict) -> str:
    gate = meta.get("gate") or {}
    if not gate:
        return "the judge's defaults at the time of the summary"
    keys = (
        "ab_estimator",
        "ab_spending",
        "ab_order",
        "ab_pin_cpus",
        "ab_gc_off",
        "ab_round_repeat",
        "ab_fresh_workers_every",
        "ab_min_worker_pairs",
    )
    return ", ".join(f"{k} = {gate[k]}" for k in keys if k in gate)


def write(out: Path, rows: list[dict], meta: dict) -> None:
    atomic_write_text(out / "summary.json", json.dumps({**meta, "trials": rows}, indent=2) + "\n")
    atomic_write_text(out / "summary.md", render(rows, meta))


def summarize(out: Path, gate: Thresholds = DEFAULT_THRESHOLDS) -> int:
    """Re-judge every finished trial from its raw pairs (the loop replay needs no measuring)
    with this checkout's judge and ``gate``'s settings (the defaults unless told)."""
    data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    meta = {k: v for k, v in data.items() if k != "trials"}
    meta["gate"] = gate.model_dump()
    rows = []
    for row in data["trials"]:
        record = ab_schema.read_record(out / "trials" / row["file"])
        arm = Arm(row["arm"], row["slowdown"], Path(), row.get("busy", False))
        summary = trial_summary(arm, row["trial"], record, row["seconds"], gate)
        rows.append({**row, **summary})
    write(out, rows, meta)
    print((out / "summary.md").read_text(encoding="utf-8"))
    return 0
