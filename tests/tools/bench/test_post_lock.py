"""The posting job's lock (requirements/post.txt) holds everything the trusted poster imports.

The job installs only the lock (``pip install --require-hashes``) and runs
``python -m tools.bench post --pairs`` from the base checkout, without the package or torch: a
package the poster imports but the lock lacks would fail there, never here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.bench.ab_records import timed_record
from tests.tools.bench.fake_github import HEAD_SHA, make_report, write_report
from virnucpro.bench.ab.schema import write_record

ROOT = Path(__file__).resolve().parents[3]
LOCK_INPUT = ROOT / "requirements" / "post.in"
LOCK = ROOT / "requirements" / "post.txt"
PROBE = """
import importlib.metadata, json, runpy, sys
sys.argv = ["tools.bench", *sys.argv[1:]]
try:
    runpy.run_module("tools.bench", run_name="__main__")
except SystemExit as exc:
    code = exc.code
owners = importlib.metadata.packages_distributions()
roots = {name.split(".")[0] for name in sys.modules}
roots = {r for r in roots if r not in sys.stdlib_module_names and not r.startswith("_")}
found = sorted({d for r in roots for d in owners.get(r, [])})  # _distutils_hack: site, not ours
print(json.dumps({"code": code, "distributions": found, "torch": "torch" in sys.modules}))
"""


def _name(requirement: str) -> str:
    return re.split(r"[<>=;\s\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _locked() -> set[str]:
    return {_name(line) for line in LOCK.read_text().splitlines() if re.match(r"^[a-z0-9]", line)}


def test_the_lock_pins_every_requirement_of_the_poster() -> None:
    wanted = [line for line in LOCK_INPUT.read_text().splitlines() if line and line[0] != "#"]
    assert wanted and {_name(r) for r in wanted} <= _locked()


def test_the_trusted_poster_imports_only_locked_packages_and_never_torch(tmp_path: Path) -> None:
    record = timed_record(0.0, head_commit=HEAD_SHA)
    pairs = write_record(record, tmp_path / "ab_pairs.json")
    report = write_report(make_report(), tmp_path / "benchmark_1.json")
    argv = ["post", str(report), "--pairs", str(pairs), "--dry-run"]
    argv += ["--repo", "o/r", "--pr", "7", "--sha", HEAD_SHA]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["code"] == 1, done.stdout + done.stderr  # the report's verdict differs: posted
    assert "re-judged" in done.stdout and not probe["torch"]
    imported = {d.lower().replace("_", "-") for d in probe["distributions"]}
    imported.discard("virnucpro")  # the checkout itself (installed editable here, not there)
    assert imported and imported <= _locked(), imported - _locked()
