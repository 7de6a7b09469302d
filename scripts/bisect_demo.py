"""The bisection's done-when runs, reproducible: small histories with a known slow commit.

::

    python scripts/bisect_demo.py --out runs/bisect-demo [--case culprit none ten profile]

Each case builds its own git repository in ``<out>/<case>/repo``: this checkout's working tree
(tracked and untracked, not ignored files) committed as GOOD (tag ``good``), then commits on top
of it, and runs ``virnucpro benchmark --quick`` in that repository with the repository's own
code (never this checkout's):

- ``culprit``: 8 commits after GOOD; commit :data:`SLOW_AT` makes both models do
  :data:`SHARES` ``["culprit"]`` more forward work per batch (about +25% end to end), the others
  only add a line to a docs file. ``--bisect good..HEAD``: expected exit 1, naming that commit.
- ``none``: the same 8 commits without the slow one. Expected: no commit named (exit 0, or exit
  2 when the range stays undecided on a noisy machine).
- ``ten``: as ``culprit`` with about +10% (the threshold itself: any verdict is honest).
- ``profile``: one commit that runs DNABERT-S's forward pass twice per batch;
  ``--against HEAD~1 --profile``: the report's operator table, DNABERT-S's operators first.

The slow commits add real model work to ``virnucpro/engines/fast.py``: after each batch's
forward pass, the same model runs again over the first share of the batch's tokens (whole
passes for shares above 1). ``<out>/summary.json`` and ``summary.md`` give each case's command,
exit code, wall seconds, the A/B steps, what was named and the machine's load (``os.getloadavg``)
before and after; each case's reports are in ``<out>/<case>/reports``. ``--host-gate-off`` (for
a shared machine whose other users keep every step INVALID) judges the steps anyway; the
command shown then carries the ``--thresholds`` file that does it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
PATCHED_FILE = Path("virnucpro") / "engines" / "fast.py"
# the two forward calls to extend (their keyword arguments are kept for the extra calls)
DNABERT_CALL = re.compile(r"^( +)return mean_pool\(model\(ids, mask, (?P<kw>.*)\), mask\)\n", re.M)
ESM_CALL = re.compile(r"^( +)reps = model\(toks, (?P<kw>.*)\)  # \[B, T, D\]\n", re.M)
EXTRA_WORK = """{indent}extra = {share!r}  # bisect demo: this much more forward work per batch
{indent}while extra > 0:  # whole passes, then one over the first share of the tokens
{indent}    cols = max(1, round({tokens}.shape[1] * min(extra, 1.0)))
{indent}    model({call}, {kw})
{indent}    extra -= 1.0
"""
COMMITS = 8
SLOW_AT = 5  # the slow commit's position after GOOD (1-based)
SHARES = {"culprit": 0.36, "ten": 0.14}  # more forward work on both models, per batch
DOCS_FILE = Path("docs") / "bisect-demo-notes.md"
IDENTITY = ("-c", "user.name=bisect-demo", "-c", "user.email=bisect-demo@localhost")
CASES = ("culprit", "none", "ten", "profile")
CASE_TIMEOUT_S = 3600
# --host-gate-off: a shared machine whose other users take most of the CPUs makes every step
# INVALID; this shows the search's mechanics there (the figures are then not a verdict to trust)
ANY_HOST = "ab_busy_host_share = 1.0\n"


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *IDENTITY, *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def working_tree_files(source: Path) -> list[str]:
    listed = git(source, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return [name for name in listed.split("\0") if name and (source / name).is_file()]


def new_repository(source: Path, into: Path) -> str:
    """``source``'s working tree as the first commit of a new repository, tagged ``good``."""
    into.mkdir(parents=True)
    for name in working_tree_files(source):
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target)
    git(into, "init", "--quiet", "--initial-branch", "main")
    git(into, "add", "-A")
    git(into, "commit", "--quiet", "-m", "GOOD: the checkout under test")
    git(into, "tag", "good")
    return git(into, "rev-parse", "HEAD")


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", message)
    return git(root, "rev-parse", "HEAD")


def docs_commit(root: Path, number: int) -> str:
    path = root / DOCS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"- note {number}: a change that touches only the docs\n")
    return commit_all(root, f"docs: demo note {number}")


def _call(pattern: re.Pattern[str], text: str) -> re.Match[str]:
    found = list(pattern.finditer(text))
    if len(found) != 1:
        raise SystemExit(
            f"{PATCHED_FILE}: the forward call to extend is not there ({pattern.pattern})"
        )
    return found[0]


def _extra(found: re.Match[str], share: float, tokens: str, call: str) -> str:
    indent, kw = found.group(1), found.group("kw")
    return EXTRA_WORK.format(indent=indent, share=share, tokens=tokens, call=call, kw=kw)


def slow_source(text: str, *, dnabert: float, esm: float) -> str:
    """``fast.py`` with ``dnabert`` and ``esm`` more forward work per batch (0: unchanged)."""
    dna, prot = _call(DNABERT_CALL, text), _call(ESM_CALL, text)
    if esm:  # after the ESM call (later in the file first, so the DNABERT offsets hold)
        extra = _extra(prot, esm, "toks", "toks[:, :cols]")
        text = text[: prot.end()] + extra + text[prot.end() :]
    if dnabert:  # before the DNABERT-S return
        extra = _extra(dna, dnabert, "ids", "ids[:, :cols], mask[:, :cols]")
        text = text[: dna.start()] + extra + text[dna.start() :]
    return text


def slow_commit(root: Path, message: str, *, dnabert: float, esm: float) -> str:
    path = root / PATCHED_FILE
    path.write_text(slow_source(path.read_text(encoding="utf-8"), dnabert=dnabert, esm=esm))
    return commit_all(root, message)


def history(root: Path, *, slow_share: float | None, commits: int = COMMITS) -> str | None:
    """``commits`` commits on GOOD; the one at :data:`SLOW_AT` is slow when a share is given."""
    slow = None
    for number in range(1, commits + 1):
        if number == SLOW_AT and slow_share is not None:
            message = f"engine: {slow_share:.0%} more forward work in both models"
            slow = slow_commit(root, message, dnabert=slow_share, esm=slow_share)
        else:
            docs_commit(root, number)
    return slow


def benchmark(root: Path, reports: Path, *options: str) -> tuple[int, float, str]:
    """``virnucpro benchmark --quick OPTIONS`` in ``root`` with ``root``'s own code."""
    command = [sys.executable, "-m", "virnucpro", "benchmark", "--quick", *options]
    command += ["--output-dir", str(reports)]
    env = {**os.environ, "PYTHONPATH": str(root)}
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=root, env=env, capture_output=True, text=True, timeout=CASE_TIMEOUT_S
    )
    return done.returncode, time.perf_counter() - start, done.stdout + done.stderr


def _bisect_record(reports: Path) -> dict:
    found = sorted(reports.glob("bisect_*.json"))
    return json.loads(found[-1].read_text(encoding="utf-8")) if found else {}


def run_case(case: str, out: Path, *, host_gate: bool = True) -> dict:
    root, reports = out / case / "repo", out / case / "reports"
    new_repository(CHECKOUT, root)
    if case == "profile":
        expected = slow_commit(root, "engine: DNABERT-S forward twice", dnabert=1.0, esm=0.0)
        options: tuple[str, ...] = ("--against", "HEAD~1", "--profile")
    else:
        expected = history(root, slow_share=SHARES.get(case))
        options = ("--bisect", "good..HEAD")
    if not host_gate:
        any_host = out / case / "any-host.toml"
        any_host.write_text(ANY_HOST, encoding="utf-8")
        options = (*options, "--thresholds", str(any_host))
    load_before = os.getloadavg()
    code, seconds, output = benchmark(root, reports, *options)
    row = {
        "case": case,
        "command": f"virnucpro benchmark --quick {' '.join(options)}",
        "exit": code,
        "seconds": round(seconds, 1),
        "expected": expected,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "output_tail": output[-3000:],
    }
    record = _bisect_record(reports)
    if record:
        row["named"] = (record.get("culprit") or {}).get("sha")
        row["steps"] = len(record.get("steps", ()))
        row["outcome"] = record.get("outcome")
        row["steps_table"] = [
            (s["role"], s["base"][:12], s["head"][:12], s["verdict"], s["change"], s["pairs"])
            for s in record.get("steps", ())
        ]
    return row


def render(rows: list[dict]) -> str:
    lines = [
        "| case | command | exit | seconds | A/B steps | named | expected | load before/after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        load = f"{r['load_before'][0]:.2f} / {r['load_after'][0]:.2f}"
        lines.append(
            f"| {r['case']} | `{r['command']}` | {r['exit']} | {r['seconds']} | "
            f"{r.get('steps', '-')} | {r.get('named') or '-'} | {r['expected'] or '-'} | {load} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="a new folder for the cases")
    parser.add_argument("--case", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument(
        "--host-gate-off",
        action="store_true",
        help="judge steps even when other processes keep the host busy (labelled as such)",
    )
    args = parser.parse_args(argv)
    if args.out.exists():
        parser.error(f"{args.out} exists: give a new folder")
    rows = []
    for case in args.case:
        rows.append(run_case(case, args.out, host_gate=not args.host_gate_off))
        (args.out / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
        (args.out / "summary.md").write_text(render(rows))
        print(render(rows[-1:]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
