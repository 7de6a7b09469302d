from __future__ import annotations

import subprocess
import sys

import psutil
import pytest

from virnucpro.bench.run.host import machine_busy_seconds, others_share, process_tree_cpu_seconds

SPIN = "import sys\nwhile not sys.stdin.read(1):\n    pass\n"


def test_others_share_is_what_the_benchmark_did_not_use() -> None:
    assert others_share(3.0, 1.0, 2.0, 2) == pytest.approx(0.5)
    assert others_share(1.0, 3.0, 2.0, 2) == 0.0  # clocks never make it negative
    assert others_share(1.0, 0.0, 0.0, 2) == 0.0


def test_a_child_process_counts_as_the_benchmark_own_work() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "sum(range(3_000_000)); import time; time.sleep(60)"],
        stdin=subprocess.DEVNULL,
    )
    try:
        mine = psutil.Process().cpu_times()
        alone = mine.user + mine.system + mine.children_user + mine.children_system
        theirs = psutil.Process(child.pid).cpu_times()
        with_child = process_tree_cpu_seconds([child.pid])
        assert with_child >= alone + theirs.user + theirs.system
    finally:
        child.kill()
        child.wait()


def test_machine_busy_seconds_only_grow() -> None:
    first = machine_busy_seconds()
    assert machine_busy_seconds() >= first > 0.0
