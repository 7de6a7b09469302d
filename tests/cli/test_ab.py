"""``virnucpro benchmark --against``: the A/B mode end to end, and its option checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from virnucpro.bench.ab_schema import read_record
from virnucpro.bench.options import for_tier
from virnucpro.cli.ab import run_against
from virnucpro.errors import InputError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("flag", ["compare_to", "update_baseline", "append_history"])
def test_storing_or_comparing_options_are_refused(flag: str, tmp_path: Path) -> None:
    value = tmp_path / "x.json" if flag == "compare_to" else True
    options = for_tier("quick", output_dir=tmp_path, **{flag: value})
    with pytest.raises(InputError, match="cannot be combined with --against"):
        run_against(options, ref="HEAD", command="test", overrides={})


@pytest.mark.slow
def test_the_checkout_against_its_own_commit_end_to_end(tmp_path: Path) -> None:
    """Six pairs of real rounds, head against HEAD: a verdict, a report and the raw pairs."""
    reports = tmp_path / "reports"
    argv = ["--quick", "--against", "HEAD", "--rounds", "6", "--max-rounds", "6"]
    done = subprocess.run(
        [sys.executable, "-m", "virnucpro", "benchmark", *argv, "--output-dir", str(reports)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    # A/A: PASS, or exit 2 (six pairs may leave the total time undecided; a busy host is
    # INVALID); never a crash, never a regression.
    assert done.returncode in (0, 2), done.stdout + done.stderr
    assert "verdict: " in done.stdout and "raw pairs: " in done.stdout
    report = json.loads(next(reports.glob("benchmark_*.json")).read_text())
    assert report["verdict"]["mode"] == "paired"
    total = next(j for j in report["verdict"]["judgements"] if j["name"].endswith("total_time"))
    assert total["pairs"] == 6
    record = read_record(next(reports.glob("runs/ab-*/ab_pairs.json")))
    assert len(record.rounds) == 6 and record.base.commit and len(record.base.commit) == 40
    assert record.base.package != record.head.package  # the base ran from its own worktree
    assert report["results"]["skipped"]["scaling"].startswith("not run in A/B mode")
    assert {p.name for p in reports.glob("runs/ab-*/results-*.json")} == {
        "results-head.json",
        "results-base.json",
    }
