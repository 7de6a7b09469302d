"""CPU pinning of the A/B workers: the plan per machine, the CPUs per pair, a real process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from virnucpro.bench.ab import pinning
from virnucpro.bench.ab.schema import RoundProtocol

needs_affinity = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity"), reason="this system has no sched_setaffinity"
)


def test_off_pins_nothing() -> None:
    protocol, cpus = pinning.pinning_plan(RoundProtocol(pin_cpus="off"))
    assert cpus is None and protocol.pinning_note is None


@needs_affinity
def test_split_takes_two_cpus_and_shared_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pinning.os, "sched_getaffinity", lambda pid: {7, 2, 5})
    assert pinning.pinning_plan(RoundProtocol(pin_cpus="split"))[1] == (5, 7)
    assert pinning.pinning_plan(RoundProtocol(pin_cpus="shared"))[1] == (7, 7)


@needs_affinity
def test_one_cpu_pins_nothing_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pinning.os, "sched_getaffinity", lambda pid: {0})
    protocol, cpus = pinning.pinning_plan(RoundProtocol(pin_cpus="split"))
    assert cpus is None and protocol.pinning_note == pinning.ONE_CPU
    assert pinning.ONE_CPU in protocol.describe()


def test_a_system_without_affinity_pins_nothing_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(pinning.os, "sched_setaffinity", raising=False)
    protocol, cpus = pinning.pinning_plan(RoundProtocol(pin_cpus="shared"))
    assert cpus is None and protocol.pinning_note == pinning.NO_AFFINITY


def test_the_cpus_change_sides_every_two_pairs() -> None:
    sides = [pinning.cpus_for_pair((3, 4), i) for i in range(8)]
    assert [s["base"] for s in sides] == [3, 3, 4, 4, 3, 3, 4, 4]
    assert all(s["base"] != s["head"] for s in sides)


@needs_affinity
def test_every_thread_of_a_real_process_is_pinned() -> None:
    cpu = max(os.sched_getaffinity(0))
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import threading, time; threading.Thread(target=time.sleep, "
            "args=(30,)).start(); time.sleep(30)",
        ]
    )
    try:
        for _ in range(100):  # until the child has started its second thread
            if len(os.listdir(f"/proc/{child.pid}/task")) > 1:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        pinning.pin_process(child.pid, cpu)
        for thread in os.listdir(f"/proc/{child.pid}/task"):
            assert os.sched_getaffinity(int(thread)) == {cpu}
    finally:
        child.kill()
        child.wait()
