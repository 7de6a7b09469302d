"""How busy the host was: CPU seconds of the whole machine and of the benchmark's own processes.

A round's *others' share* is the part of the machine's CPU capacity (wall seconds x CPUs) that
processes other than the benchmark used while it ran. The benchmark's own work counts every
process it started: the measuring process, its worker processes and all their descendants,
alive (``cpu_times`` of each) or finished and waited for (the ``children_*`` fields). The judge
decides what share makes a run invalid (``tools/bench/thresholds.py``); this module only measures.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import psutil

# psutil.cpu_times() fields that are work (guest time is already inside user time)
BUSY_CPU_FIELDS = ("user", "nice", "system", "irq", "softirq", "steal")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all CPUs, not idle or waiting on I/O)."""
    times = psutil.cpu_times()
    return sum(getattr(times, name, 0.0) for name in BUSY_CPU_FIELDS)


def _own_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def process_tree_cpu_seconds(pids: Iterable[int] = ()) -> float:
    """CPU seconds used by this process, the given processes, and every descendant of them.

    Finished descendants count through their parents' ``children_*`` times once waited for;
    a process that ends while it is being read is skipped (its time is in its parent's later).
    """
    roots = dict.fromkeys([os.getpid(), *pids])
    seen: set[int] = set()
    total = 0.0
    for pid in roots:
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for process in tree:
            if process.pid in seen:
                continue
            seen.add(process.pid)
            try:
                total += _own_seconds(process)
            except psutil.NoSuchProcess:
                continue
    return total


def others_share(machine_seconds: float, own_seconds: float, wall: float, cpus: int) -> float:
    """The share of the machine's capacity that other processes used (0 when wall is 0)."""
    if wall <= 0.0 or cpus <= 0:
        return 0.0
    return max(0.0, machine_seconds - own_seconds) / (wall * cpus)
