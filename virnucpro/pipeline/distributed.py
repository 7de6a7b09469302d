"""Scale-out over ranks with torch.distributed.

Ranks come from ``torchrun`` (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``...) or
from :func:`launch_local`, which ``--gpus``/``--nproc`` use to start the ranks of one node
themselves. Every rank streams the same input; shards are shared by token count so ranks finish
together; rank 0 merges the shard results in input order.

The ranks exchange no tensors, only control: a barrier at the start, one integer at the end of
the embedding ("did every rank succeed?"), a barrier to leave. That traffic goes over gloo, on
the CPU, on GPU ranks too: NCCL would need each rank's device named (``device_id``) and a CUDA
stream for one integer. Every wait is bounded by :data:`CONTROL_TIMEOUT` and ends in one line.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import torch

from virnucpro.errors import InputError, RunFailure

CONTROL_BACKEND = "gloo"
CONTROL_TIMEOUT = timedelta(minutes=10)
"""How long a rank waits for the others at a sync point: joining, the start (after the models
load), the end of its shards. Ranks share shards by token count and load the same models, so
they arrive within about a shard's time of each other; a rank that died fails the others at
once (its connection closes), one that hangs fails them after this long. Rank 0 merges and
publishes after the group is left, so that work is never waited on."""
LAUNCHED_ENV = "VIRNUCPRO_LAUNCHED"


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:g} min"


def _control_failure(rank: int, step: str, exc: BaseException) -> RunFailure:
    """One line for a failed sync point; the group is dropped (no later wait on it)."""
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    text = str(exc).lower()
    if "timed out" in text or "timeout" in text:
        why = (
            f"the other ranks did not reach {step} within {_minutes(CONTROL_TIMEOUT)} "
            "(CONTROL_TIMEOUT): a rank failed or hangs, see its error"
        )
    else:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        why = f"lost the other ranks at {step} ({first}): a rank failed, see its error"
    return RunFailure(f"rank {rank}: {why}")


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_env(cls) -> DistContext:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        return cls(
            rank=int(os.environ["RANK"]),
            world_size=world,
            local_rank=int(os.environ.get("LOCAL_RANK", "0")),
            local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", str(world))),
        )

    def device_for(self, requested: torch.device) -> torch.device:
        """One GPU per local rank; CPU ranks stay on CPU."""
        if requested.type == "cuda" and self.active:
            return torch.device("cuda", self.local_rank)
        return requested

    def init(self, device: torch.device) -> None:
        """Join the other ranks (gloo, :data:`CONTROL_TIMEOUT`); ``device`` is this rank's."""
        if not self.active or torch.distributed.is_initialized():
            return
        if device.type == "cuda":
            torch.cuda.set_device(device)
        else:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // self.local_world_size))
        try:
            torch.distributed.init_process_group(backend=CONTROL_BACKEND, timeout=CONTROL_TIMEOUT)
        except RuntimeError as exc:  # torch.distributed's errors (DistError) are RuntimeErrors
            raise _control_failure(self.rank, "the rendezvous", exc) from exc

    def _joined(self) -> bool:
        return self.active and torch.distributed.is_initialized()

    def barrier(self, step: str = "the start") -> None:
        if not self._joined():
            return
        try:
            torch.distributed.barrier()
        except RuntimeError as exc:
            raise _control_failure(self.rank, step, exc) from exc

    def all_ok(self, ok: bool) -> bool:
        """True when every rank reports ok (so one failing rank stops the merge everywhere)."""
        if not self._joined():
            return ok
        flag = torch.tensor([0 if ok else 1], dtype=torch.int64)  # on the CPU: gloo
        try:
            torch.distributed.all_reduce(flag)
        except RuntimeError as exc:
            raise _control_failure(self.rank, "the end of the embedding", exc) from exc
        return int(flag.item()) == 0

    def close(self) -> None:
        """Leave together: rank 0 hosts the rendezvous store, so no rank may outlive it mid-call."""
        if self._joined():
            self.barrier("the leaving barrier")
            torch.distributed.destroy_process_group()


def parse_gpus(text: str) -> tuple[int, ...]:
    try:
        ids = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InputError(f"--gpus takes a comma-separated list of GPU ids, got {text!r}") from None
    if not ids or len(set(ids)) != len(ids) or min(ids) < 0:
        raise InputError(f"--gpus takes distinct non-negative GPU ids, got {text!r}")
    return ids


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch_local(argv: Sequence[str], *, nproc: int, gpus: Sequence[int] | None) -> int:
    """Start ``nproc`` ranks of ``python -m virnucpro <argv>`` on this node and wait for them.

    With ``gpus``, rank r sees only GPU ``gpus[r]`` (as ``cuda:0``). Returns the worst exit code.
    """
    port = _free_port()
    procs = []
    for rank in range(nproc):
        env = dict(os.environ)
        env.update(
            RANK=str(rank),
            WORLD_SIZE=str(nproc),
            LOCAL_RANK=str(rank),
            LOCAL_WORLD_SIZE=str(nproc),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
            **{LAUNCHED_ENV: "1"},
        )
        if gpus is not None:
            env["CUDA_VISIBLE_DEVICES"] = str(gpus[rank])
            env["LOCAL_RANK"] = "0"
            env["LOCAL_WORLD_SIZE"] = "1"
        procs.append(subprocess.Popen([sys.executable, "-m", "virnucpro", *argv], env=env))
    codes = [p.wait() for p in procs]
    failed = [c for c in codes if c != 0]
    if failed and all(c == failed[0] for c in failed):
        return failed[0]
    if failed:
        raise RunFailure(f"ranks exited with codes {codes}")
    return 0
