"""One short check of every GPU figure, sized for a few minutes on a bare GPU machine.

    python3 scripts/gpu_check.py OUTDIR            # on a GPU (at most 8 minutes)
    python3 scripts/gpu_check.py OUTDIR --dry-run  # the same code, tiny sizes, on the CPU
    nox -s gpu_check -- OUTDIR

Runs from the checkout (no install; the checkout goes on ``PYTHONPATH`` of every step). Steps,
each in its own process with its own time limit (:mod:`virnucpro.bench.gpu_check.plan`): the
DNABERT-S and ESM-2 3B size throughput in bf16 against the bf16 ceiling measured in the same run;
fast against vanilla end to end; bf16 fast against fp32 vanilla equivalence; the sampler's
overhead; the ``gpu``-marked tests; the quick tier on the GPU (stored as a baseline under
``OUTDIR/baselines/<hardware key>/``); the A/B self-check when the A/B mode exists. Writes
``OUTDIR/summary.json``, ``summary.md``, ``log.txt`` and ``quick/``, and prints a table last.

Exit codes: 0 every step ran and passed (or checks a feature this checkout does not have, said
so); 1 a step failed, overran or was not run for lack of time; 2 bad
arguments or missing Python packages (fill ``.whl/`` as the README says).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REQUIRED = ("torch", "numpy", "pydantic", "tabulate", "scipy", "psutil", "tokenizers", "pytest")
EXIT_BAD_INPUT = 2
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from virnucpro.bench.gpu_check.plan import DEFAULT_BUDGET_S, STEP_SPECS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="everything the check keeps goes here")
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S, help="seconds, all")
    parser.add_argument(
        "--steps",
        default=",".join(s.name for s in STEP_SPECS),
        help="comma list of steps to run (default: all, in plan order)",
    )
    args = parser.parse_args(argv)
    known = {s.name for s in STEP_SPECS}
    unknown = sorted(set(args.steps.split(",")) - known)
    if unknown:
        parser.error(f"unknown step(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    if args.budget <= 0:
        parser.error("--budget must be positive")
    return args


def missing_packages() -> list[str]:
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


def environment(dry_run: bool) -> dict[str, object]:
    """Facts about the machine, without starting CUDA in this process (the steps use it)."""
    import torch

    from virnucpro.bench.gpu.nvml import driver_version, gpu_names

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "driver": driver_version(),
        "gpus": ", ".join(gpu_names()) or "none visible to NVML",
        "mode": "dry run (CPU, tiny sizes)" if dry_run else "GPU",
    }


def forget_worktrees(scratch: Path) -> None:
    """Unregister the A/B step's base checkout: it lies in the scratch folder, about to go, and
    the repository would list it (``git worktree list``) until pruned."""
    if not (ROOT / ".git").exists():
        return  # not a git checkout: the A/B step had nothing to register
    from virnucpro.bench.ab.session import remove_base_checkouts
    from virnucpro.errors import InputError

    try:
        remove_base_checkouts(ROOT, scratch)
    except InputError as exc:
        print(f"gpu_check: note: the A/B base checkout stays registered: {exc}", flush=True)


def main(argv: list[str] | None = None) -> int:
    missing = missing_packages()
    if missing:
        print(
            f"gpu_check: error: missing Python packages: {', '.join(missing)}; install the "
            "wheels of .whl/ first (README: 'GPU check')",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    args = parse_args(argv)
    from tools.bench.report.gpu_check import SUMMARY_KIND, SUMMARY_VERSION, judge, markdown, table
    from virnucpro.atomic import atomic_write_text
    from virnucpro.bench.gpu_check.plan import PASSING_STATUSES, CheckConfig, run_check

    outdir = args.outdir.resolve()
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"gpu_check: error: cannot create {outdir}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    started, clock = datetime.now(timezone.utc), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as scratch:
        config = CheckConfig(
            outdir=outdir,
            scratch=Path(scratch),
            root=ROOT,
            dry_run=args.dry_run,
            budget_s=args.budget,
            steps=tuple(args.steps.split(",")),
        )
        env = environment(args.dry_run)
        print(f"gpu_check: {env['mode']}, {env['gpus']}; writing to {outdir}", flush=True)
        try:
            outcomes = run_check(
                config,
                on_step=lambda o: print(f"  {o.name}: {o.status} ({o.elapsed})", flush=True),
            )
        finally:
            forget_worktrees(Path(scratch))
    steps = [o.as_dict() for o in outcomes]
    rows = judge(steps, dry_run=args.dry_run)
    summary = {
        "kind": SUMMARY_KIND,
        "schema_version": SUMMARY_VERSION,
        "dry_run": args.dry_run,
        "started_at": started.isoformat(timespec="seconds"),
        "seconds": time.monotonic() - clock,
        "budget_s": args.budget,
        "environment": env,
        "steps": steps,
        "table": [r.as_dict() for r in rows],
    }
    atomic_write_text(outdir / SUMMARY_JSON, json.dumps(summary, indent=1, default=str) + "\n")
    atomic_write_text(outdir / SUMMARY_MD, markdown(summary, rows))
    print(table(rows))
    return 0 if all(o.status in PASSING_STATUSES for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
