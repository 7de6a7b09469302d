"""The GPU check's child processes: started in their own session, stopped at their limit, timed.

Every step runs in a process of its own (its own session, so a stop reaches its children too):
at the limit it gets TERM, then KILL after :data:`KILL_GRACE_S`. Wall time and CPU time (user
plus system of the process and the descendants it waited for, from ``RUSAGE_CHILDREN``) are
kept: the dry run estimates each step's time on the GPU machine from its CPU time, which a busy
shared machine inflates far less than wall time.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from virnucpro.bench.gpu_check.spec import CheckConfig

KILL_GRACE_S = 10.0
LOG_TAIL_BYTES = 2 * 2**20  # per step, in log.txt


@dataclass(frozen=True)
class Finished:
    """A finished child process: exit code (None when stopped at its limit), seconds, output."""

    returncode: int | None
    seconds: float
    output: str
    cpu_seconds: float | None = None


def children_cpu() -> float:
    """User plus system CPU seconds of every child process waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def step_env(root: Path) -> dict[str, str]:
    """This environment with ``root`` first on ``PYTHONPATH`` (the check runs uninstalled)."""
    env = dict(os.environ)
    paths = [str(root), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start(command: Sequence[str], *, root: Path, sink: object) -> subprocess.Popen[bytes]:
    """Start ``command`` in ``root`` in a session of its own, output to ``sink``."""
    return subprocess.Popen(
        list(command),
        cwd=root,
        env=step_env(root),
        stdout=sink,  # type: ignore[arg-type]
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """TERM the child's session, KILL it after the grace period, and reap it."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            proc.wait()
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def read_tail(output: Path) -> str:
    return output.read_bytes()[-LOG_TAIL_BYTES:].decode("utf-8", "replace")


def run_process(
    command: Sequence[str],
    *,
    limit_s: float,
    config: CheckConfig,
    output: Path,
    root: Path | None = None,
) -> Finished:
    """Run ``command`` (in ``root``, the checkout by default); at ``limit_s`` stop it."""
    begin, cpu = time.perf_counter(), children_cpu()
    with output.open("wb") as sink:
        proc = start(command, root=root or config.root, sink=sink)
        try:
            code: int | None = proc.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            code = None
            stop(proc)
    seconds = time.perf_counter() - begin
    return Finished(code, seconds, read_tail(output), children_cpu() - cpu)


def tail(text: str, lines: int = 3) -> str:
    """The last few non-empty lines of ``text``, on one line."""
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:])[-400:]
