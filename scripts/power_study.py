"""The A/B gate's measured power: detection and false-alarm rates on this machine.

Reproducible from a committed checkout::

    python scripts/power_study.py --out runs/power            # the full study (see below)
    python scripts/power_study.py --out runs/power --resume   # go on after a stop
    python scripts/power_study.py --out runs/power --summarize  # re-judge the raw pairs

What it does, all in a temporary clone of this checkout's HEAD (the product is never changed):

1. **Candidates.** For each slowdown ``k`` (default +3, +5, +8, +15% end to end) a commit on top
   of HEAD makes the DNABERT-S stage do real extra model work: after each batch's forward pass
   it runs the same model forward again over a share of the batch's tokens. The share is
   ``k / s`` to start with, ``s`` being the DNABERT-S stage's share of the total time measured
   in a calibration A/A run, then corrected by up to three calibration runs of the candidate
   until its realized slowdown is within 1.5 points of ``k`` (or taken from ``--extra-work``).
   The realized slowdown is measured in every trial and reported.
2. **Arms.** A/A (the unchanged commit on both sides), each slowdown, and the +5% candidate once
   more with another process spinning one core all through its trials (``scripts/cpu_hog.py
   --duty 1.0 --procs 1``): "+5% busy".
3. **Trials.** Every trial is the measuring half of ``virnucpro benchmark --quick --against``
   with the gate's default settings (round protocol, estimator, alpha spending): two fresh
   worker processes (base and head), each loading its models once, the quick tier's warm-up
   rounds on each side, then pairs block by block. Fresh workers per trial matter: two processes
   running the same code can differ by a few percent for the life of the process, and that
   offset is part of what one A/B run must survive. The trials of all arms run interleaved in
   a seeded random order, so drift of the shared machine reaches every arm alike.
4. **Verdicts.** The gate's own judge (:mod:`tools.bench.judge.paired`) replays the more-pairs
   loop at each look, exactly as the command would have stopped (the loop depends only on the
   pairs so far and the first block's pace, which sets the plan's horizon), at a 3% and at the
   10% threshold. A trial measures pairs while a replay at one of its arm's *driving*
   thresholds (``DRIVES`` in :mod:`tools.bench.judge.power`) wants more: the thresholds its
   targets are at. A threshold that does not drive an arm is not reported for it (its replay
   may have been cut short). A trial the host gate calls INVALID is counted apart; the verdict
   without the gate is beside it.

Every trial's raw pairs are kept (``<out>/trials/*.json``); ``<out>/summary.json`` and
``<out>/summary.md`` are rewritten after each trial, so a study cut short (``--max-minutes``,
Ctrl-C) still reports what ran, and ``--resume`` runs the rest of the same schedule.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/ lives in the checkout

from tools.bench.judge import power
from tools.bench.thresholds import DEFAULT_THRESHOLDS, Thresholds
from virnucpro.bench import stats
from virnucpro.bench.ab import schema as ab_schema
from virnucpro.bench.ab import session as ab
from virnucpro.bench.ab.worker_process import WorkerSpec
from virnucpro.bench.options import for_tier
from virnucpro.bench.workload.prepare import prepare_workload
from virnucpro.cli.ab import round_protocol, worker_spec

SLOWDOWNS = (0.03, 0.05, 0.08, 0.15)
BUSY_SLOWDOWN = 0.05  # the arm measured again with one core spinning
HOG = Path(__file__).resolve().with_name("cpu_hog.py")
HOG_ARGS = ("--duty", "1.0", "--procs", "1")
HOG_START_TIMEOUT_S = 10.0
HOG_POLL_S = 0.05
DETACH = '"$0" "$@" >/dev/null 2>&1 & echo $!'  # sh runs it in the background and exits
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
        measured.append(power.realized(record))
        if measured[-1] <= 0 or abs(measured[-1] - slowdown) <= CALIBRATION_TOLERANCE:
            break
        extra *= slowdown / measured[-1]
    else:
        root = _candidate(clone, base, slowdown, extra, into)
    return root, extra, measured


def _start(base: Path, head: Path, spec: WorkerSpec, work: Path, seed: int) -> ab.ABSession:
    return ab.ABSession.start(
        ref="study",
        base_root=base,
        head_root=head,
        spec=spec,
        workdir=work,
        seed=seed,
        protocol=round_protocol(DEFAULT_THRESHOLDS),
    )


def _session(base: Path, head: Path, spec: WorkerSpec, work: Path, seed: int, pairs: int):
    """A calibration run with its own fresh workers."""
    start = time.perf_counter()
    with _start(base, head, spec, work, seed) as session:
        session.warm_up(2)
        session.run_pairs(pairs)
        record = session.record()
    return record, time.perf_counter() - start


def run_trial(
    arm: power.Arm,
    base: Path,
    spec: WorkerSpec,
    work: Path,
    seed: int,
    warmup: int,
    gate: Thresholds = DEFAULT_THRESHOLDS,
) -> tuple[ab_schema.ABRecord, float]:
    """Fresh workers and pairs, added while a replay at one of the arm's driving thresholds
    wants more (never past the gate's safety cap); one core spinning for a busy arm."""
    start = time.perf_counter()
    hog = DetachedHog() if arm.busy else contextlib.nullcontext()
    with hog, _start(base, arm.root, spec, work, seed) as session:
        session.warm_up(warmup)
        session.run_pairs(gate.ab_initial_pairs)
        while session.pairs < gate.ab_max_pairs:
            more = power.wanted(session.record(), arm.drives, gate)
            if more == 0:
                break
            session.run_pairs(min(more, gate.ab_max_pairs - session.pairs))
        return session.record(), time.perf_counter() - start


class DetachedHog:
    """:data:`HOG` spinning one core as a process of its own, not a descendant of this one.

    The gate counts the CPU time of its own process tree as the benchmark's
    (:func:`~virnucpro.bench.run.host.process_tree_cpu_seconds`), so a hog started as a child
    would be invisible to its host check ("others 0%"); detached (its shell parent exits), it is
    what another user's job is. Until 2026-12-03 the hog was a child (see docs/power-study.md).
    """

    def __enter__(self) -> DetachedHog:
        started = subprocess.run(
            ["sh", "-c", DETACH, sys.executable, str(HOG), *HOG_ARGS],
            capture_output=True,
            text=True,
            check=True,
            timeout=HOG_START_TIMEOUT_S,
        )
        self.process = psutil.Process(int(started.stdout.strip()))
        deadline = time.monotonic() + HOG_START_TIMEOUT_S
        while not self.process.children() and time.monotonic() < deadline:
            time.sleep(HOG_POLL_S)  # spinning from the first pair on
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            tree = [*self.process.children(recursive=True), self.process]
        except psutil.NoSuchProcess:
            return
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.terminate()
        psutil.wait_procs(tree, timeout=HOG_START_TIMEOUT_S)


def _schedule(
    arms: list[power.Arm], trials: int, aa_trials: int, seed: int
) -> list[tuple[power.Arm, int]]:
    plan = [(arm, i) for arm in arms if arm.slowdown > 0 for i in range(trials)]
    plan += [(arm, i) for arm in arms if arm.slowdown == 0 for i in range(aa_trials)]
    random.Random(seed).shuffle(plan)
    return plan


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python scripts/power_study.py")
    parser.add_argument("--out", type=Path, required=True, help="folder for trials and summary")
    parser.add_argument("--trials", type=int, default=10, help="trials per slowdown arm (10)")
    parser.add_argument("--aa-trials", type=int, default=20, help="A/A trials (20)")
    parser.add_argument(
        "--slowdowns", default=",".join(f"{s:g}" for s in SLOWDOWNS), help="fractions, comma list"
    )
    parser.add_argument(
        "--no-busy", action="store_true", help="leave out the +5%% arm with one core spinning"
    )
    parser.add_argument(
        "--extra-work",
        metavar="K=SHARE,...",
        help="skip the calibration: the extra DNABERT-S forward share per slowdown, "
        "e.g. 0.15=0.42 (from an earlier calibration)",
    )
    parser.add_argument(
        "--max-minutes", type=float, help="stop starting trials after this long (then --resume)"
    )
    parser.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="the gate's time budget for the trials and the replays (default: the gate's; "
        "smaller only for a smoke test: it changes the plan's horizon)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="run the trials of --out's schedule not finished yet (its candidates' shares)",
    )
    parser.add_argument(
        "--summarize",
        action="store_true",
        help="judge the trials already in --out again with this checkout's judge and settings",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out = args.out.resolve()
    gate = DEFAULT_THRESHOLDS
    if args.time_budget is not None:
        gate = power.replace_thresholds(gate, ab_time_budget_s=args.time_budget)
    if args.summarize:
        return power.summarize(out, gate)
    previous = _previous(out) if args.resume else None
    (out / "trials").mkdir(parents=True, exist_ok=True)
    source = Path(__file__).resolve().parents[1]
    scratch = Path(tempfile.mkdtemp(prefix="power-study-"))
    try:
        clone, commit = _clone(source, scratch / "clone")
        if previous is not None and previous[0]["commit"] != commit:
            raise SystemExit(
                f"--resume: {out} holds a study of {previous[0]['commit'][:12]}, this checkout "
                f"is {commit[:12]}"
            )
        options = for_tier("quick", output_dir=scratch / "reports")
        spec = worker_spec(options, prepare_workload(options).path)
        meta, arms = _prepare_arms(args, previous, clone, commit, spec, scratch)
        meta["gate"] = gate.model_dump()
        rows = previous[1] if previous else []
        work = scratch / "trials"
        _trials(arms, args, (clone, spec, options.warmup, work, gate), out, rows, meta)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _previous(out: Path) -> tuple[dict, list[dict]] | None:
    path = out / "summary.json"
    if not path.is_file():
        raise SystemExit(f"--resume: no {path} (start the study without --resume)")
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if k != "trials"}, data["trials"]


def _prepare_arms(args, previous, clone: Path, commit: str, spec, scratch: Path):
    """The study's metadata and arms: candidates calibrated, given, or those of ``previous``."""
    if previous is not None:
        meta = previous[0]
        given = {k: v["extra_forward_share"] for k, v in meta["candidates"].items()}
        slowdowns = [float(s) for s in meta["slowdowns"]]
        busy = meta["busy"]
    else:
        given = {}
        if args.extra_work:
            given = {f"+{float(k):.0%}": float(v) for k, v in _pairs_of(args.extra_work)}
        slowdowns = [float(s) for s in args.slowdowns.split(",") if s]
        busy = not args.no_busy and BUSY_SLOWDOWN in slowdowns
        meta = None
    share = None
    if len(given) < len(slowdowns):
        print(f"calibrating on {commit[:12]} ({CALIBRATION_PAIRS} A/A pairs)", file=sys.stderr)
        record, _ = _session(clone, clone, spec, scratch / "calibration", 0, CALIBRATION_PAIRS)
        metrics = {m.name: m for m in record.paired_metrics()}
        total = stats.median(metrics[ab_schema.TOTAL_TIME].base)
        share = stats.median(metrics[DNABERT_STAGE].base) / total
    arms = [power.Arm("A/A", 0.0, clone)]
    extras = {}
    for k in slowdowns:
        name = f"+{k:.0%}"
        into = scratch / f"slow{round(k * 100)}"
        if name in given:
            extra, first = given[name], None
            root = _candidate(clone, commit, k, extra, into)
        else:
            assert share is not None
            work = scratch / f"calibrate{round(k * 100)}"
            root, extra, first = calibrated_candidate(clone, commit, k, share, into, spec, work)
        extras[name] = {"extra_forward_share": round(extra, 4), "calibration_realized": first}
        print(f"{name}: extra DNABERT-S forward share {extra:.3f}", file=sys.stderr)
        arms.append(power.Arm(name, k, root))
        if busy and k == BUSY_SLOWDOWN:
            arms.append(power.Arm(f"{name}{power.BUSY}", k, root, busy=True))
    if meta is None:
        meta = {
            "commit": commit,
            "share": share,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "slowdowns": slowdowns,
            "busy": busy,
            "trials_per_arm": args.trials,
            "aa_trials": args.aa_trials,
            "candidates": extras,
            "gate": DEFAULT_THRESHOLDS.model_dump(),
            "command": " ".join(["python scripts/power_study.py", *sys.argv[1:]]),
        }
    return meta, arms


def _pairs_of(text: str) -> list[tuple[str, str]]:
    items = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if not items or any(len(item) != 2 for item in items):
        raise SystemExit(f"--extra-work: not K=SHARE,...: {text!r}")
    return [(k, v) for k, v in items]


def _trials(arms, args, measuring, out, rows, meta) -> None:
    """Every scheduled trial not in ``rows`` yet, each written as it finishes."""
    clone, spec, warmup, work, gate = measuring
    done = {r["schedule_index"] for r in rows if "schedule_index" in r}
    trials, aa_trials = meta["trials_per_arm"], meta["aa_trials"]
    deadline = time.monotonic() + 60 * args.max_minutes if args.max_minutes else None
    for n, (arm, index) in enumerate(_schedule(arms, trials, aa_trials, STUDY_SEED)):
        if n in done:
            continue
        if deadline is not None and time.monotonic() > deadline:
            print(f"--max-minutes reached after {len(rows)} trials: go on with --resume")
            return
        record, seconds = run_trial(arm, clone, spec, work / f"{n:03d}", 1000 + n, warmup, gate)
        name = f"{n:03d}-{arm.name.replace('/', '').replace(' ', '-')}.json"
        ab_schema.write_record(record, out / "trials" / name)
        summary = power.trial_summary(arm, index, record, seconds, gate)
        row = {**summary, "file": name, "schedule_index": n}
        rows.append(row)
        power.write(out, rows, meta)
        print(
            f"[{n + 1}] {arm.name} realized {row['realized']:+.1%} "
            f"others {row['others_share_median']:.0%} {row['verdicts']}",
            file=sys.stderr,
        )


if __name__ == "__main__":
    raise SystemExit(main())
