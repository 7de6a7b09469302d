"""Other compute processes on a GPU: NVML's pids against this run's, across PID namespaces.

NVML reports each compute process by its pid in the PID namespace the driver runs in (the
host's). In a container with a PID namespace of its own (common for self-hosted runners) this
process has another pid there, so a plain ``pid != os.getpid()`` counts the run itself as
"another process": every run INVALID, every baseline refused. What can be told here:

- **our pids**: this process and its descendants, each with every pid ``/proc/<pid>/status``
  gives it in its ``NSpid`` line (one per PID namespace from the one ``/proc`` shows down to
  its own), so a nested namespace whose outer pids ``/proc`` shows is matched exactly;
- **the namespace**: ``/proc/self/ns/pid`` reads ``pid:[4026531836]`` in the initial PID
  namespace (the kernel's fixed ``PROC_PID_INIT_INO``), where NVML's pids are ours to compare;
- **this process's CUDA context**: whether torch has started CUDA here, and the bytes its
  allocator holds on the device, against the used memory NVML attributes to each process.

:func:`count_others` decides, in this order: NVML lists one of our pids, so pids compare and
every other listed pid is another process; or this process is in the initial namespace, so
every listed pid is another's; or (another namespace, none of ours listed) this process holds
no context and has no child, so every listed process is another's; or it holds one, and NVML
lists a process using at least the memory this process holds, so that one is taken as this
process and the rest are others. Anything else (NVML lists nothing, not even this process; a
child may hold a context; no listed process uses our memory) is **unknown**, with the reason:
never counted as another process, never a reason to call the run invalid.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
INITIAL_PID_NAMESPACE = "pid:[4026531836]"  # PROC_PID_INIT_INO, fixed by the kernel
GIB = 2**30


@dataclass(frozen=True)
class OwnProcesses:
    """This run's processes as far as ``/proc`` tells: every pid each has, and the namespace."""

    pid: int  # this process, in its own namespace
    pids: frozenset[int]  # this process and its descendants, every NSpid value of each
    descendants: int
    initial_namespace: bool | None  # None: cannot tell (no /proc)


@dataclass(frozen=True)
class Listed:
    """One compute process NVML lists on a device: its pid there and the memory it uses."""

    pid: int | None
    used_bytes: int | None


@dataclass(frozen=True)
class ProcessCount:
    """Other compute processes on a device, or ``None`` with why they cannot be told."""

    others: int | None
    unknown: str | None = None


def namespace_pids(pid: int, proc: Path = PROC) -> tuple[int, ...]:
    """Every pid of process ``pid`` (``NSpid``, outermost namespace first); ``(pid,)`` without."""
    try:
        status = (proc / str(pid) / "status").read_text()
    except OSError:
        return (pid,)
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            values = tuple(int(v) for v in line.split()[1:] if v.isdigit())
            return values or (pid,)
    return (pid,)


def initial_namespace(proc: Path = PROC) -> bool | None:
    """Whether this process is in the initial PID namespace (``None`` when ``/proc`` cannot say)."""
    try:
        return os.readlink(proc / "self" / "ns" / "pid") == INITIAL_PID_NAMESPACE
    except OSError:
        return None


def own_processes(proc: Path = PROC) -> OwnProcesses:
    """This process and its descendants (worker ranks are the run's own, not "other")."""
    import psutil

    me = psutil.Process()
    children = [child.pid for child in me.children(recursive=True)]
    pids = {p for pid in (me.pid, *children) for p in (pid, *namespace_pids(pid, proc))}
    return OwnProcesses(
        pid=me.pid,
        pids=frozenset(pids),
        descendants=len(children),
        initial_namespace=initial_namespace(proc),
    )


def cuda_reserved(ordinal: int) -> int | None:
    """Bytes torch's allocator holds on CUDA device ``ordinal``; ``None`` when this process has
    not started CUDA (never starts it: torch is only asked if it is already imported)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return None
    try:
        return int(torch.cuda.memory_reserved(ordinal))
    except (RuntimeError, AssertionError, ValueError):
        return None


def _listed_text(listed: Sequence[Listed]) -> str:
    def one(p: Listed) -> str:
        used = "memory not attributed" if p.used_bytes is None else f"{p.used_bytes / GIB:.1f} GiB"
        return f"{p.pid} ({used})"

    return ", ".join(one(p) for p in listed)


def count_others(listed: Sequence[Listed], own: OwnProcesses, reserved: int | None) -> ProcessCount:
    """Other compute processes among ``listed`` (see the module doc for the order of rules).

    ``reserved``: the bytes this process holds on the device (:func:`cuda_reserved`), ``None``
    when it holds no CUDA context.
    """
    if any(p.pid in own.pids for p in listed) or own.initial_namespace:
        return ProcessCount(sum(1 for p in listed if p.pid not in own.pids))
    where = f"this process is pid {own.pid} in a PID namespace of its own"
    if reserved is None:
        if own.descendants == 0 or not listed:
            return ProcessCount(len(listed))
        why = f"NVML lists pids {_listed_text(listed)}; {where}, and its child processes may be any"
        return ProcessCount(None, why)
    if not listed:
        why = f"NVML lists no compute process, not even this one ({where})"
        return ProcessCount(None, why)
    if own.descendants:
        why = f"NVML lists pids {_listed_text(listed)}; {where}, and has child processes"
        return ProcessCount(None, why)
    if any(p.used_bytes is not None and p.used_bytes >= reserved for p in listed):
        return ProcessCount(len(listed) - 1)  # one of them uses our memory: this process
    why = (
        f"NVML lists pids {_listed_text(listed)}; {where}, and none of them uses the "
        f"{reserved / GIB:.1f} GiB it holds"
    )
    return ProcessCount(None, why)
