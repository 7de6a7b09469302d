"""One short check of every GPU figure, sized for a few minutes on a bare GPU machine.

    python3 scripts/gpu_check.py OUTDIR            # on a GPU (at most 8 minutes)
    python3 scripts/gpu_check.py OUTDIR --dry-run  # the same steps on the CPU, tiny models
    nox -s gpu_check -- --dry-run OUTDIR           # the dry run in a copy of the GPU image

Runs from the checkout (no install; the checkout goes on ``PYTHONPATH`` of every step). Steps
(:mod:`virnucpro.bench.gpu_check.plan`): the DNABERT-S and ESM-2 3B size throughput in bf16
against the bf16 ceiling measured in the same run; fast against vanilla end to end; bf16 fast
against fp32 vanilla equivalence; the sampler's overhead (these four in one process that builds
the models once); the ``gpu``-marked tests; the quick tier on the GPU (stored as a baseline
under ``OUTDIR/baselines/<hardware key>/``); the A/B self-check. Writes ``OUTDIR/summary.json``,
``summary.md``, ``log.txt`` and ``quick/``, and prints a table last. A dry run also estimates
each step's time on the GPU machine from its CPU time here, and fails when they do not fit.

Before any step runs, every package the steps import is looked for; the missing ones are listed
in one line (those the GPU image lacks travel as wheels in ``.whl/``: docs/gpu-check.md).

Exit codes: 0 every step ran and passed (or checks a feature this machine cannot run, said so),
and in a dry run the estimate fits; 1 a step failed, overran or was not run for lack of time, or
the estimate does not fit; 2 bad arguments or missing Python packages.
"""

from __future__ import annotations

import argparse
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

from virnucpro.bench.gpu_check.image import (  # noqa: E402  (stdlib only: safe before the check)
    DEV_ONLY,
    carried,
    installed,
    missing_distributions,
)

EXIT_BAD_INPUT = 2
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from virnucpro.bench.gpu_check.spec import DEFAULT_BUDGET_S, DRY_RUN_BUDGET_S, STEP_SPECS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="everything the check keeps goes here")
    parser.add_argument("--dry-run", action="store_true", help="tiny models on the CPU")
    parser.add_argument(
        "--budget",
        type=float,
        help=f"seconds, all steps (default {DEFAULT_BUDGET_S:.0f}; dry run {DRY_RUN_BUDGET_S:.0f})",
    )
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
    if args.budget is None:
        args.budget = DRY_RUN_BUDGET_S if args.dry_run else DEFAULT_BUDGET_S
    if args.budget <= 0:
        parser.error("--budget must be positive")
    return args


def missing_line(missing: list[str]) -> str:
    """One line naming every missing package and where it should come from."""
    wheels = [d for d in missing if carried(d)]
    image = [d for d in missing if not carried(d)]
    parts = []
    if wheels:
        parts.append(
            f"{', '.join(wheels)} (carried as wheels: fill .whl/ with "
            "`python3 scripts/gpu_image.py wheels` and install them as docs/gpu-check.md says)"
        )
    if image:
        parts.append(f"{', '.join(image)} (the GPU image has them: install them here)")
    return f"gpu_check: error: missing Python packages: {'; '.join(parts)}"


def emulation_note() -> str | None:
    """Why this dry run is not the GPU image's copy (``.git``, dev tools), or ``None``."""
    found = [".git"] if (ROOT / ".git").exists() else []
    found += [d for d in DEV_ONLY if installed(d)]
    if not found:
        return None
    return (
        f"gpu_check: note: this dry run has what the GPU machine lacks ({', '.join(found)}); "
        "`nox -s gpu_check -- --dry-run OUTDIR` runs it in a copy of the GPU image"
    )


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
        "mode": "dry run (CPU, tiny models)" if dry_run else "GPU",
    }


def dry_run_estimate(outcomes: list, scratch: Path) -> dict[str, object]:
    """The estimate of each step on the GPU machine, from this dry run's CPU times."""
    from virnucpro.bench.gpu_check.estimate import estimate, workload_pass
    from virnucpro.bench.gpu_check.spec import DEFAULT_BUDGET_S
    from virnucpro.bench.gpu_check.steps import GPU_SIZES

    work = workload_pass(GPU_SIZES.data_size, GPU_SIZES.expected_length, scratch)
    return estimate(outcomes, work, DEFAULT_BUDGET_S).as_dict()


def main(argv: list[str] | None = None) -> int:
    missing = missing_distributions()
    if missing:
        print(missing_line(missing), file=sys.stderr)
        return EXIT_BAD_INPUT
    args = parse_args(argv)
    from tools.bench.report.gpu_check import (
        SUMMARY_KIND,
        SUMMARY_VERSION,
        estimate_table,
        estimate_verdict,
        judge,
        markdown,
        table,
    )
    from virnucpro.atomic import atomic_write_text
    from virnucpro.bench.gpu_check.plan import run_check
    from virnucpro.bench.gpu_check.spec import PASSING_STATUSES, CheckConfig

    outdir = args.outdir.resolve()
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"gpu_check: error: cannot create {outdir}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    note = emulation_note() if args.dry_run else None
    if note:
        print(note, flush=True)
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
        outcomes = run_check(
            config,
            on_step=lambda o: print(f"  {o.name}: {o.status} ({o.elapsed})", flush=True),
        )
        estimate = dry_run_estimate(outcomes, Path(scratch)) if args.dry_run else None
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
        "emulation_note": note,
        "steps": steps,
        "table": [r.as_dict() for r in rows],
        "estimate": estimate,
    }
    atomic_write_text(outdir / SUMMARY_JSON, json.dumps(summary, indent=1, default=str) + "\n")
    atomic_write_text(outdir / SUMMARY_MD, markdown(summary, rows))
    print(table(rows))
    passed = all(o.status in PASSING_STATUSES for o in outcomes)
    if estimate is not None:
        print(estimate_table(estimate))
        print(f"gpu_check: {estimate_verdict(estimate)}")
        passed = passed and bool(estimate["fits"])
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
