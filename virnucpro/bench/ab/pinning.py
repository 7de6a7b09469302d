"""CPU pinning of the A/B workers (``os.sched_setaffinity``, as pyperf pins its benchmarks).

- ``split``: each worker on its own CPU (every thread of it), the CPUs swapped every two pairs,
  so that with the ABBA order every four pairs give each side each CPU in each position alike
  (a faster CPU cannot favour one side at any look, the looks being multiples of four pairs);
- ``shared``: both workers on one CPU (they never run at once), the rest of the machine left to
  everything else;
- ``off``: the scheduler places them.

Nothing is pinned on a machine that gives the benchmark one CPU, or on a system without
``sched_setaffinity``; the run's protocol records why (``pinning_note``).
"""

from __future__ import annotations

import os

from virnucpro.bench.ab.schema import RoundProtocol, Side
from virnucpro.errors import RunFailure

SWAP_PAIRS = 2  # split pinning: the CPUs change sides after this many pairs
ONE_CPU = "not pinned: this machine gives the benchmark one CPU, so both workers share it anyway"
NO_AFFINITY = "not pinned: this system has no os.sched_setaffinity (Linux only)"


def pinning_plan(protocol: RoundProtocol) -> tuple[RoundProtocol, tuple[int, int] | None]:
    """The CPUs the workers get under ``protocol`` (first, second), or None and the protocol
    with the reason pinning is not done: one CPU, or no ``sched_setaffinity`` here."""
    if protocol.pin_cpus == "off":
        return protocol, None
    if not hasattr(os, "sched_setaffinity"):
        return protocol.model_copy(update={"pinning_note": NO_AFFINITY}), None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return protocol.model_copy(update={"pinning_note": ONE_CPU}), None
    if protocol.pin_cpus == "shared":
        return protocol, (allowed[-1], allowed[-1])
    return protocol, (allowed[-2], allowed[-1])


def cpus_for_pair(cpus: tuple[int, int], index: int) -> dict[Side, int]:
    """The CPU of each side in pair ``index`` (split pinning swaps them every two pairs)."""
    first, second = cpus
    if (index // SWAP_PAIRS) % 2 == 1:
        return {"base": second, "head": first}
    return {"base": first, "head": second}


def pin_process(pid: int, cpu: int) -> None:
    """Every thread of process ``pid`` onto ``cpu``; a thread that ended meanwhile is skipped."""
    try:
        threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        threads = [pid]
    for thread in threads:
        try:
            os.sched_setaffinity(thread, {cpu})
        except ProcessLookupError:
            continue
        except OSError as exc:
            raise RunFailure(f"could not pin process {pid} to CPU {cpu}: {exc}") from None
