"""The environment fingerprint: the hardware and software a benchmark ran on.

Baselines are keyed by it (:meth:`EnvironmentFingerprint.hardware_key`), so each figure says
where it came from: git commit and whether tracked files were modified (``None`` outside a
checkout), Python, torch, the CUDA runtime torch was built with, the NVIDIA driver (from NVML;
``None`` without one), the GPUs CUDA can see, the CPU model, the CPU cores this process may use
(its affinity, which is what limits speed), torch's thread count and the platform.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from types import ModuleType

import torch

from virnucpro.bench.gpu.nvml import driver_version
from virnucpro.bench.schema import EnvironmentFingerprint

GIT_TIMEOUT_S = 10
CPUINFO = Path("/proc/cpuinfo")
UNKNOWN_CPU = "unknown CPU"
PACKAGE_ROOT = Path(__file__).resolve().parents[3]  # the checkout holding virnucpro/, if any


def _git(repo: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(repo), *args],  # never take index.lock
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state(repo: Path = PACKAGE_ROOT) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the checkout rooted at ``repo``; ``(None, None)`` when not one.

    Dirty means tracked files differ from the commit (untracked files are ignored).
    """
    top = _git(repo, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != Path(repo).resolve():
        return None, None
    commit = _git(repo, "rev-parse", "HEAD")
    status = _git(repo, "status", "--porcelain", "--untracked-files=no")
    return commit, None if status is None else bool(status)


def cpu_model(cpuinfo: Path = CPUINFO) -> str:
    """The CPU's model name from ``/proc/cpuinfo``, else what :mod:`platform` says."""
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or UNKNOWN_CPU


def usable_cpu_count() -> int:
    """CPU cores this process may run on (affinity), else the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cuda_gpu_names() -> tuple[str, ...]:
    """Names of the GPUs CUDA can see (honours ``CUDA_VISIBLE_DEVICES``)."""
    if not torch.cuda.is_available():
        return ()
    return tuple(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))


def environment_fingerprint(
    *, repo: Path = PACKAGE_ROOT, nvml: ModuleType | None = None
) -> EnvironmentFingerprint:
    """Fingerprint this machine and software; ``nvml`` replaces ``pynvml`` (tests)."""
    commit, dirty = git_state(repo)
    gpus = cuda_gpu_names()
    return EnvironmentFingerprint(
        git_commit=commit,
        git_dirty=dirty,
        python=platform.python_version(),
        torch=torch.__version__,
        cuda=torch.version.cuda,
        driver=driver_version(nvml),
        gpu_names=gpus,
        gpu_count=len(gpus),
        cpu_model=cpu_model(),
        cpu_count=usable_cpu_count(),
        torch_threads=torch.get_num_threads(),
        platform=platform.platform(),
    )
