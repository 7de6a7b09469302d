"""Other compute processes across PID namespaces, against a fake ``/proc`` and a stub NVML.

In a container with a PID namespace of its own, NVML gives this process's host pid: counted by
pid alone it is "another process", and every run is INVALID. These tests place the run in such
a namespace and check that it is matched by ``NSpid``, by the memory NVML attributes, or said to
be unknown, never counted against the run.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.bench.fakes import FakeNvml
from virnucpro.bench.gpu.processes import (
    INITIAL_PID_NAMESPACE,
    Listed,
    OwnProcesses,
    count_others,
    initial_namespace,
    namespace_pids,
    own_processes,
)
from virnucpro.bench.gpu.sampler import GpuSampler
from virnucpro.bench.gpu.telemetry import assess_validity
from virnucpro.bench.schema import GpuTelemetry

GIB = 2**30
HOST_PID = 98765  # this process as NVML sees it from the host
OTHER_PID = 55555
NEVER = 3600.0
CONTAINER_NAMESPACE = "pid:[4026532999]"


def fake_proc(tmp_path: Path, *, namespace: str | None, nspid: tuple[int, ...] | None) -> Path:
    """A ``/proc`` with this process's namespace link and ``status`` (``NSpid`` as given)."""
    proc = tmp_path / "proc"
    (proc / "self" / "ns").mkdir(parents=True)
    if namespace is not None:
        os.symlink(namespace, proc / "self" / "ns" / "pid")
    status = proc / str(os.getpid()) / "status"
    status.parent.mkdir()
    lines = ["Name:\tpython", f"Pid:\t{os.getpid()}"]
    if nspid is not None:
        lines.append("NSpid:\t" + "\t".join(map(str, nspid)))
    status.write_text("\n".join(lines) + "\n")
    return proc


def in_container(pids: tuple[int, ...] = (17,), descendants: int = 0) -> OwnProcesses:
    return OwnProcesses(
        pid=pids[-1], pids=frozenset(pids), descendants=descendants, initial_namespace=False
    )


# ----------------------------------------------------------------------------- /proc


def test_nspid_gives_every_pid_of_a_process(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, namespace=CONTAINER_NAMESPACE, nspid=(HOST_PID, 17))
    assert namespace_pids(os.getpid(), proc) == (HOST_PID, 17)
    assert namespace_pids(12345, proc) == (12345,)  # no such process: its own pid only


def test_a_kernel_without_nspid_gives_the_pid_itself(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, namespace=CONTAINER_NAMESPACE, nspid=None)
    assert namespace_pids(os.getpid(), proc) == (os.getpid(),)


@pytest.mark.parametrize(
    ("link", "expected"),
    [(INITIAL_PID_NAMESPACE, True), (CONTAINER_NAMESPACE, False), (None, None)],
)
def test_the_initial_pid_namespace_is_told_by_its_fixed_inode(
    tmp_path: Path, link: str | None, expected: bool | None
) -> None:
    assert initial_namespace(fake_proc(tmp_path, namespace=link, nspid=None)) is expected


def test_own_processes_carry_the_outer_pids(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, namespace=CONTAINER_NAMESPACE, nspid=(HOST_PID, os.getpid()))
    own = own_processes(proc)
    assert {HOST_PID, os.getpid()} <= own.pids and own.pid == os.getpid()
    assert own.initial_namespace is False


# ----------------------------------------------------------------------------- the rules


def _listed(*pairs: tuple[int, float | None]) -> list[Listed]:
    return [Listed(pid, None if gib is None else int(gib * GIB)) for pid, gib in pairs]


def test_our_pid_listed_means_pids_compare() -> None:
    own = in_container((HOST_PID, 17))
    assert count_others(_listed((HOST_PID, 9.0)), own, GIB).others == 0
    assert count_others(_listed((HOST_PID, 9.0), (OTHER_PID, 1.0)), own, GIB).others == 1


def test_in_the_initial_namespace_every_other_pid_is_another_process() -> None:
    own = OwnProcesses(pid=17, pids=frozenset({17}), descendants=0, initial_namespace=True)
    assert count_others(_listed((OTHER_PID, 1.0)), own, None).others == 1
    assert count_others([], own, 4 * GIB).others == 0


def test_without_a_context_of_our_own_every_listed_process_is_another() -> None:
    assert count_others(_listed((OTHER_PID, 1.0)), in_container(), None).others == 1
    assert count_others([], in_container(), None).others == 0


def test_the_process_using_our_memory_is_taken_as_this_one() -> None:
    listed = _listed((HOST_PID, 20.5))
    assert count_others(listed, in_container(), 20 * GIB).others == 0
    listed = _listed((HOST_PID, 20.5), (OTHER_PID, 1.0))
    assert count_others(listed, in_container(), 20 * GIB).others == 1


@pytest.mark.parametrize(
    ("listed", "own", "words"),
    [
        ([], in_container(), "lists no compute process, not even this one"),
        (_listed((HOST_PID, 2.0)), in_container(), "none of them uses the 20.0 GiB"),
        (_listed((HOST_PID, None)), in_container(), "memory not attributed"),
        (_listed((HOST_PID, 25.0)), in_container(descendants=2), "has child processes"),
    ],
)
def test_what_cannot_be_told_is_unknown_with_the_reason(
    listed: list[Listed], own: OwnProcesses, words: str
) -> None:
    count = count_others(listed, own, 20 * GIB)
    assert count.others is None
    assert count.unknown is not None and words in count.unknown
    assert "pid 17 in a PID namespace of its own" in count.unknown


def test_children_without_our_context_make_listed_pids_unknown() -> None:
    count = count_others(_listed((HOST_PID, 3.0)), in_container(descendants=1), None)
    assert count.others is None and "child processes may be any" in (count.unknown or "")


# ----------------------------------------------------------------------------- the sampler


class HostPidNvml(FakeNvml):
    """NVML outside the container: host pids, with the memory each uses."""

    def __init__(self, processes: dict[int, float]) -> None:
        super().__init__(devices=1)
        self.listed = processes

    def nvmlDeviceGetComputeRunningProcesses(self, h: int) -> list[SimpleNamespace]:
        return [SimpleNamespace(pid=p, usedGpuMemory=int(g * GIB)) for p, g in self.listed.items()]


def _sample(fake: FakeNvml, own: OwnProcesses, reserved: int | None) -> GpuTelemetry:
    with GpuSampler(
        interval=NEVER,
        devices=(0,),
        nvml=fake,
        own=lambda: own,
        reserved=lambda ordinal: reserved,
        process_every=1,
        env={},
        cuda_uuids=lambda: None,
    ) as sampler:
        sampler.sample_now()
    return sampler.telemetry()


def test_in_a_pid_namespace_the_run_itself_is_not_another_process(tmp_path: Path) -> None:
    """The issue's case: NVML lists only our host pid. Counted by pid, the run was INVALID."""
    proc = fake_proc(tmp_path, namespace=CONTAINER_NAMESPACE, nspid=None)
    telemetry = _sample(HostPidNvml({HOST_PID: 20.5}), own_processes(proc), 20 * GIB)
    assert assess_validity(telemetry) == []
    assert [s.other_processes for s in telemetry.samples] == [0, 0, 0]
    assert telemetry.processes_unknown is None


def test_a_real_other_process_in_a_namespace_still_invalidates(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, namespace=CONTAINER_NAMESPACE, nspid=(HOST_PID, os.getpid()))
    telemetry = _sample(HostPidNvml({HOST_PID: 20.5, OTHER_PID: 1.0}), own_processes(proc), GIB)
    reasons = assess_validity(telemetry)
    assert len(reasons) == 1 and "used by up to 1 other process" in reasons[0]


def test_unknown_is_said_and_never_invalid(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, namespace=CONTAINER_NAMESPACE, nspid=None)
    telemetry = _sample(HostPidNvml({}), own_processes(proc), 20 * GIB)
    assert assess_validity(telemetry) == []
    assert all(s.other_processes is None for s in telemetry.samples)
    unknown = telemetry.processes_unknown or ""
    assert unknown.startswith("unknown on 3 of 3 polls: NVML lists no compute process")
