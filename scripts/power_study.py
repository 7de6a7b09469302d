"""The A/B gate's measured power: detection and false-alarm rates on this machine.

Reproducible from a committed checkout::

    python scripts/power_study.py --out runs/power [--trials 10] [--aa-trials 20]

What it does, all in a temporary clone of this checkout's HEAD (the product is never changed):

1. **Candidates.** For each slowdown ``k`` (default +5, +8, +10, +15, +20% end to end) a commit
   on top of HEAD makes the DNABERT-S stage do real extra model work: after each batch's forward
   pass it runs the same model forward again over a share of the batch's rows. The share is
   ``k / s`` to start with, ``s`` being the DNABERT-S stage's share of the total time measured
   in a calibration A/A run, then corrected by up to three calibration runs of the candidate
   until its realized slowdown is within 1.5 points of ``k``. The realized slowdown is measured
   in every trial and reported.
2. **Trials.** Every trial is the measuring half of ``virnucpro benchmark --quick --against``:
   two fresh worker processes (base and head), each loading its models once, the quick tier's
   warm-up rounds on each side, then interleaved pairs in a fresh seeded order. Fresh workers
   per trial matter: two processes running the same code can differ by a few percent for the
   life of the process (memory layout, scheduling), and that offset is part of what one A/B run
   must survive, so trials that shared their workers would share it and understate the false
   alarms. A trial gets blocks of pairs while the replayed loop (below) wants more, up to the
   most pairs the gate may use. A/A trials run the unchanged commit on both sides. The trials of
   all arms are interleaved in a seeded random order, so drift of the shared machine reaches
   every arm alike.
3. **Verdicts.** The gate's own judge (:mod:`tools.bench.judge.paired`) replays the more-rounds
loop on
   the first 20, 40, 60 pairs, exactly as the command would have stopped (the loop depends only
   on the pairs so far; the wall-clock budget is left out and each trial's time is reported), at
   the 10% threshold and at 5%. A trial the host gate calls INVALID is counted apart; the
   statistics' verdict without the gate is reported beside it.

Every trial's raw pairs are kept (``<out>/trials/*.json``); ``<out>/summary.json`` and
``<out>/summary.md`` are rewritten after each trial, so a study cut short still reports what ran.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/ lives in the checkout

from tools.bench.judge.paired import judge_record, pairs_to_add
from tools.bench.thresholds import DEFAULT_THRESHOLDS, Thresholds
from virnucpro.atomic import atomic_write_text
from virnucpro.bench import stats
from virnucpro.bench.ab import schema as ab_schema
from virnucpro.bench.ab import session as ab
from virnucpro.bench.options import for_tier
from virnucpro.bench.workload.prepare import prepare_workload
from virnucpro.cli.ab import worker_spec

SLOWDOWNS = (0.05, 0.08, 0.10, 0.15, 0.20)
THRESHOLDS = (0.10, 0.05)
CALIBRATION_PAIRS = 20
CALIBRATION_STEPS = 3
CALIBRATION_TOLERANCE = 0.015  # realized slowdown within 1.5 points of the target
STUDY_SEED = 7
PATCHED_FILE = Path("virnucpro") / "engines" / "fast.py"
FORWARD_LINE = "            return mean_pool(model(ids, mask, attn_impl=ATTN_IMPL), mask)\n"
EXTRA_WORK = """            pooled = mean_pool(model(ids, mask, attn_impl=ATTN_IMPL), mask)
            extra = {share!r}  # power study: this much more DNABERT-S forward work per batch
            while extra > 0:  # whole passes, then one over the first share of the tokens
                cols = max(1, round(ids.shape[1] * min(extra, 1.0)))
                model(ids[:, :cols], mask[:, :cols], attn_impl=ATTN_IMPL)
                extra -= 1.0
            return pooled
"""
DNABERT_STAGE = "stage.dnabert.time"


@dataclass(frozen=True)
class Arm:
    name: str
    slowdown: float  # nominal, end to end; 0 for A/A
    root: Path


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _clone(source: Path, into: Path) -> tuple[Path, str]:
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(source), str(into)], check=True
    )
    return into, _git(into, "rev-parse", "HEAD")


def _candidate(clone: Path, base: str, slowdown: float, share: float, into: Path) -> Path:
    """A worktree with one commit on ``base``: DNABERT-S does ``share`` more forward work."""
    if not into.exists():
        _git(clone, "worktree", "add", "--detach", "--force", str(into), base)
    _git(into, "reset", "--quiet", "--hard", base)
    path = into / PATCHED_FILE
    text = path.read_text(encoding="utf-8")
    if text.count(FORWARD_LINE) != 1:
        raise SystemExit(f"{PATCHED_FILE}: the DNABERT-S forward line to extend is not there")
    path.write_text(text.replace(FORWARD_LINE, EXTRA_WORK.format(share=share)), encoding="utf-8")
    _git(
        into,
        "-c",
        "user.name=power-study",
        "-c",
        "user.email=power-study@localhost",
        "commit",
        "--quiet",
        "-am",
        f"power study: +{slowdown:.0%} end to end (DNABERT-S forward work x{1 + share:.3f})",
    )
    return into


def calibrated_candidate(
    clone: Path, base: str, slowdown: float, stage_share: float, into: Path, spec, work: Path
) -> tuple[Path, float, list[float]]:
    """The candidate, its extra-work share corrected by measured calibration runs.

    The extra forward passes do not cost in proportion to their share (each call has a fixed
    part), so one correction can miss; up to :data:`CALIBRATION_STEPS` runs correct the share
    until the realized slowdown is within :data:`CALIBRATION_TOLERANCE` of the target.
    """
    extra = slowdown / stage_share
    measured: list[float] = []
    for step in range(CALIBRATION_STEPS):
        root = _candidate(clone, base, slowdown, extra, into)
        record, _ = _session(clone, root, spec, work / str(step), 1 + step, CALIBRATION_PAIRS)
        measured.append(_realized(record))
        if measured[-1] <= 0 or abs(measured[-1] - slowdown) <= CALIBRATION_TOLERANCE:
            break
        extra *= slowdown / measured[-1]
    else:
        root = _candidate(clone, base, slowdown, extra, into)
    return root, extra, measured


def _session(base: Path, head: Path, spec: ab.WorkerSpec, work: Path, seed: int, pairs: int):
    """A calibration run with its own fresh workers."""
    start = time.perf_counter()
    with ab.ABSession.start(
        ref="study", base_root=base, head_root=head, spec=spec, workdir=work, seed=seed
    ) as session:
        session.warm_up(2)
        session.run_pairs(pairs)
        record = session.record()
    return record, time.perf_counter() - start


def replay(
    record: ab_schema.ABRecord, thresholds: Thresholds, *, gated: bool
) -> tuple[str, int, bool]:
    """The outcome and pairs used when the more-rounds loop runs over this trial's pairs, and
    whether the loop wanted more pairs than the trial has so far."""
    if not gated:
        thresholds = replace_thresholds(thresholds, ab_busy_host_share=1.0)
    used = thresholds.ab_initial_pairs
    while True:
        prefix = record.model_copy(update={"rounds": record.rounds[:used]})
        verdict = judge_record(prefix, thresholds=thresholds, label="study", final=False)
        more = pairs_to_add(verdict, pairs=used, seconds=0.0, thresholds=thresholds)
        if more == 0 or used + more > len(record.rounds):
            outcome = judge_record(prefix, thresholds=thresholds, label="study").outcome
            return outcome, used, more > 0
        used += more


def _settings() -> list[tuple[str, Thresholds, bool]]:
    settings = []
    for threshold in THRESHOLDS:
        thresholds = replace_thresholds(DEFAULT_THRESHOLDS, fail_slowdown=threshold)
        for gated in (True, False):
            settings.append((f"{threshold:.0%}{'' if gated else ' ungated'}", thresholds, gated))
    return settings


def run_trial(
    base: Path, head: Path, spec: ab.WorkerSpec, work: Path, seed: int, most: int, warmup: int
) -> tuple[ab_schema.ABRecord, float]:
    """Fresh workers and pairs, added block by block while any replay wants more."""
    start = time.perf_counter()
    with ab.ABSession.start(
        ref="study", base_root=base, head_root=head, spec=spec, workdir=work, seed=seed
    ) as session:
        session.warm_up(warmup)
        session.run_pairs(DEFAULT_THRESHOLDS.ab_initial_pairs)
        while session.pairs < most:
            record = session.record()
            if not any(replay(record, t, gated=g)[2] for _, t, g in _settings()):
                break
            session.run_pairs(min(DEFAULT_THRESHOLDS.ab_block_pairs, most - session.pairs))
        return session.record(), time.perf_counter() - start


def replace_thresholds(thresholds: Thresholds, **changes: float) -> Thresholds:
    return thresholds.model_copy(update=changes)


def _realized(record: ab_schema.ABRecord) -> float:
    total = next(m for m in record.paired_metrics() if m.name == ab_schema.TOTAL_TIME)
    return stats.paired_ratio(total.base, total.head).estimate - 1.0


def _trial_summary(arm: Arm, index: int, record: ab_schema.ABRecord, seconds: float) -> dict:
    verdicts = {}
    for key, thresholds, gated in _settings():
        outcome, used, _ = replay(record, thresholds, gated=gated)
        verdicts[key] = {"outcome": outcome, "pairs": used}
    return {
        "arm": arm.name,
        "slowdown": arm.slowdown,
        "trial": index,
        "pairs": len(record.rounds),
        "seconds": seconds,
        "realized": _realized(record),
        "others_share_median": stats.median(record.others_shares()),
        "verdicts": verdicts,
    }


def _rate(rows: list[dict], key: str, *outcomes: str) -> str:
    counts = Counter(r["verdicts"][key]["outcome"] for r in rows)
    return f"{sum(counts[o] for o in outcomes)}/{len(rows)}"


def _realized_text(rows: list[dict]) -> str:
    realized = [r["realized"] for r in rows]
    return f"{stats.median(realized):+.1%} ({min(realized):+.1%} to {max(realized):+.1%})"


def render(rows: list[dict], meta: dict) -> str:
    """The summary table: per arm and threshold, FAIL / PASS / INCONCLUSIVE / INVALID counts.

    PASS counts WARN too (the total time passed; a stage or another metric warned): neither
    fails the gate.
    """
    lines = [
        "| arm | nominal | realized (median, range) | trials | threshold | FAIL | PASS or WARN "
        "| INCONCLUSIVE "
        "| INVALID (host busy) | FAIL without the host gate | others' CPU (median) "
        "| pairs used (median) | trial wall s (median) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    arms = dict.fromkeys(r["arm"] for r in rows)
    for name in arms:
        mine = [r for r in rows if r["arm"] == name]
        for threshold in THRESHOLDS:
            key = f"{threshold:.0%}"
            used = stats.median([r["verdicts"][key]["pairs"] for r in mine])
            lines.append(
                f"| {name} | {mine[0]['slowdown']:+.0%} "
                f"| {_realized_text(mine)} | {len(mine)} | {key} "
                f"| {_rate(mine, key, 'regression')} | {_rate(mine, key, 'pass', 'warn')} "
                f"| {_rate(mine, key, 'inconclusive')} | {_rate(mine, key, 'invalid')} "
                f"| {_rate(mine, key + ' ungated', 'regression')} "
                f"| {stats.median([r['others_share_median'] for r in mine]):.0%} "
                f"| {used:.0f} | {stats.median([r['seconds'] for r in mine]):.0f} |"
            )
    header = [
        "# A/B gate power study",
        "",
        f"Commit `{meta['commit']}`, extra DNABERT-S work per arm {meta['candidates']}, "
        f"started {meta['started']}, {len(rows)} trials finished.",
        "",
    ]
    return "\n".join(header + lines) + "\n"


def _write(out: Path, rows: list[dict], meta: dict) -> None:
    atomic_write_text(out / "summary.json", json.dumps({**meta, "trials": rows}, indent=2) + "\n")
    atomic_write_text(out / "summary.md", render(rows, meta))


def summarize(out: Path) -> int:
    """Re-judge every finished trial from its raw pairs (the loop replay needs no measuring)."""
    data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    meta = {k: v for k, v in data.items() if k != "trials"}
    rows = []
    for row in data["trials"]:
        record = ab_schema.read_record(out / "trials" / row["file"])
        arm = Arm(row["arm"], row["slowdown"], Path())
        rows.append(
            {**_trial_summary(arm, row["trial"], record, row["seconds"]), "file": row["file"]}
        )
    _write(out, rows, meta)
    print((out / "summary.md").read_text(encoding="utf-8"))
    return 0


def _schedule(arms: list[Arm], trials: int, aa_trials: int, seed: int) -> list[tuple[Arm, int]]:
    plan = [(arm, i) for arm in arms if arm.slowdown > 0 for i in range(trials)]
    plan += [(arm, i) for arm in arms if arm.slowdown == 0 for i in range(aa_trials)]
    random.Random(seed).shuffle(plan)
    return plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/power_study.py")
    parser.add_argument("--out", type=Path, required=True, help="folder for trials and summary")
    parser.add_argument("--trials", type=int, default=10, help="trials per slowdown (10)")
    parser.add_argument("--aa-trials", type=int, default=20, help="A/A trials (20)")
    parser.add_argument(
        "--slowdowns", default=",".join(f"{s:g}" for s in SLOWDOWNS), help="fractions, comma list"
    )
    parser.add_argument(
        "--pairs", type=int, default=DEFAULT_THRESHOLDS.ab_max_pairs, help="pairs per trial"
    )
    parser.add_argument(
        "--extra-work",
        metavar="K=SHARE,...",
        help="skip the calibration: the extra DNABERT-S forward share per slowdown, "
        "e.g. 0.15=0.42 (from an earlier calibration)",
    )
    parser.add_argument(
        "--summarize",
        action="store_true",
        help="judge the trials already in --out again with this checkout's judge and thresholds",
    )
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if args.summarize:
        return summarize(out)
    (out / "trials").mkdir(parents=True, exist_ok=True)
    source = Path(__file__).resolve().parents[1]
    scratch = Path(tempfile.mkdtemp(prefix="power-study-"))
    clone, commit = _clone(source, scratch / "clone")
    options = for_tier("quick", output_dir=scratch / "reports")
    spec = worker_spec(options, prepare_workload(options).path)
    given = dict(item.split("=") for item in args.extra_work.split(",")) if args.extra_work else {}
    share = None
    if not given:
        print(f"calibrating on {commit[:12]} ({CALIBRATION_PAIRS} A/A pairs)", file=sys.stderr)
        record, _ = _session(clone, clone, spec, scratch / "calibration", 0, CALIBRATION_PAIRS)
        metrics = {m.name: m for m in record.paired_metrics()}
        total = stats.median(metrics[ab_schema.TOTAL_TIME].base)
        share = stats.median(metrics[DNABERT_STAGE].base) / total
    slowdowns = [float(s) for s in args.slowdowns.split(",") if s]
    arms = [Arm("A/A", 0.0, clone)]
    extras = {}
    for k in slowdowns:
        name = f"+{k:.0%}"
        into = scratch / f"slow{round(k * 100)}"
        if given:
            extra, first = float(given[f"{k:g}"]), None
            root = _candidate(clone, commit, k, extra, into)
        else:
            assert share is not None
            work = scratch / f"calibrate{round(k * 100)}"
            root, extra, first = calibrated_candidate(clone, commit, k, share, into, spec, work)
        extras[name] = {"extra_forward_share": round(extra, 4), "calibration_realized": first}
        print(f"{name}: extra DNABERT-S forward share {extra:.3f}", file=sys.stderr)
        arms.append(Arm(name, k, root))
    meta = {
        "commit": commit,
        "share": share,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "pairs_per_trial": args.pairs,
        "candidates": extras,
        "command": " ".join(["python scripts/power_study.py", *(argv or sys.argv[1:])]),
    }
    rows: list[dict] = []
    try:
        _trials(arms, args, clone, spec, options.warmup, scratch / "trials", out, rows, meta)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _trials(arms, args, clone, spec, warmup, work, out, rows, meta) -> None:
    for n, (arm, index) in enumerate(_schedule(arms, args.trials, args.aa_trials, STUDY_SEED)):
        record, seconds = run_trial(
            clone, arm.root, spec, work / f"{n:03d}", 1000 + n, args.pairs, warmup
        )
        name = f"{n:03d}-{arm.name.replace('/', '')}.json"
        ab_schema.write_record(record, out / "trials" / name)
        rows.append({**_trial_summary(arm, index, record, seconds), "file": name})
        _write(out, rows, meta)
        last = rows[-1]
        print(
            f"[{n + 1}] {arm.name} realized {last['realized']:+.1%} "
            f"others {last['others_share_median']:.0%} {last['verdicts']}",
            file=sys.stderr,
        )


if __name__ == "__main__":
    raise SystemExit(main())
