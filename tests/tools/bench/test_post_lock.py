"""The posting job's lock (requirements/post.txt) holds everything the trusted poster imports.

The job installs only the lock (``pip install --require-hashes``) and runs
``python -m tools.bench post --pairs`` from the base checkout, without the package or torch: a
package the poster imports but the lock lacks would fail there, never here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

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
else:
    code = None
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


def _bench_extra() -> list[str]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return list(project["optional-dependencies"]["bench"])


def test_the_lock_input_is_the_bench_extra() -> None:
    """``python -m tools.bench`` refuses to start without the [bench] extra: the lock holds it."""
    wanted = [line for line in LOCK_INPUT.read_text().splitlines() if line and line[0] != "#"]
    assert sorted(wanted) == sorted(_bench_extra())


def test_the_lock_pins_every_requirement_of_the_poster() -> None:
    """Every requirement that applies from the lock's oldest Python on (3.11) is pinned."""
    from packaging.requirements import Requirement

    wanted = [line for line in LOCK_INPUT.read_text().splitlines() if line and line[0] != "#"]
    oldest = {"python_version": "3.11", "python_full_version": "3.11.0"}
    applies = [r for r in wanted if (m := Requirement(r).marker) is None or m.evaluate(oldest)]
    assert applies and {_name(r) for r in applies} <= _locked()


def _probe(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    return {**json.loads(lines[-1]), "stdout": done.stdout, "stderr": done.stderr}


def _only_locked(probe: dict) -> None:
    imported = {d.lower().replace("_", "-") for d in probe["distributions"]}
    imported.discard("virnucpro")  # the checkout itself (installed editable here, not there)
    assert not probe["torch"]
    assert imported and imported <= _locked(), imported - _locked()


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    record = timed_record(0.0, head_commit=HEAD_SHA)
    pairs = write_record(record, tmp_path / "ab_pairs.json")
    return write_report(make_report(), tmp_path / "benchmark_1.json"), pairs


def test_the_trusted_poster_imports_only_locked_packages_and_never_torch(
    inputs: tuple[Path, Path],
) -> None:
    report, pairs = inputs
    argv = ["post", str(report), "--pairs", str(pairs), "--dry-run"]
    probe = _probe([*argv, "--repo", "o/r", "--pr", "7", "--sha", HEAD_SHA], ROOT)
    assert probe["code"] == 1, probe["stdout"] + probe["stderr"]  # the verdicts differ: posted
    assert "re-judged" in probe["stdout"]
    _only_locked(probe)


def test_the_pr_history_job_re_judges_and_publishes_with_locked_packages_only(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    """pr-history runs ``rejudge`` and ``publish`` in the same locked environment."""
    report, pairs = inputs
    trusted = tmp_path / "trusted" / "benchmark_pr.json"
    argv = ["rejudge", str(report), "--pairs", str(pairs), "--out", str(trusted)]
    rejudged = _probe([*argv, "--head-sha", HEAD_SHA], ROOT)
    assert rejudged["code"] == 1 and trusted.is_file(), rejudged["stderr"]
    _only_locked(rejudged)
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True, timeout=60)
    identity = {
        f"GIT_{who}_{what}": value
        for who in ("AUTHOR", "COMMITTER")
        for what, value in (("NAME", "test"), ("EMAIL", "test@example.org"))
    }
    env = {**os.environ, **identity}
    argv = ["publish", str(trusted), "--series", "pr", "--remote", str(remote)]
    published = _probe([*argv, "--branch", "benchmark-data"], ROOT, env)
    assert published["code"] in (0, None), published["stdout"] + published["stderr"]
    _only_locked(published)
