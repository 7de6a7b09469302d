"""One profiled predict round inside an A/B worker: where each side's time went, per operator.

Like :mod:`virnucpro.bench.ab.worker`, this file runs inside a worker whose ``virnucpro`` is the
side's own checkout, so the worker loads it **by path** (never through the ``virnucpro``
package, which may be an older commit's) and it imports only torch and the standard library.
It uses torch's public API only: :mod:`torch.profiler`, ``record_function`` and the global
module forward hooks, so a base commit needs nothing new.

Operators are attributed to a stage by the model whose forward pass they ran in: a global
forward pre-hook opens a ``record_function`` named ``stage.<name>`` when a module of the
DNABERT-S, ESM-2 or classifier model's class starts its forward pass, the forward hook closes
it. The hooks match the models' classes, not the objects, so a copy the engine made (a cast to
bf16) is attributed too. Operators run outside the three models are :data:`OUTSIDE`.

Per stage and operator: the calls and the self time on the CPU and, on CUDA, the self time on
the device (the operator's kernels); on CUDA, per stage and kernel, the launches and the device
time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

STAGE_PREFIX = "stage."
OUTSIDE = "outside the models"
MODEL_STAGES = (("dnabert", "dnabert"), ("esm", "esm"), ("classifier", "classify"))


def model_stages(torch: Any, models: Any) -> dict[type, str]:
    """The class of each model in the model set, mapped to its stage's name."""
    stages: dict[type, str] = {}
    for attr, stage in MODEL_STAGES:
        module = getattr(getattr(models, attr, None), "model", None)
        if isinstance(module, torch.nn.Module):
            stages[type(module)] = stage
    return stages


class StageMarks:
    """Global forward hooks that mark each model's forward pass as ``stage.<name>``."""

    def __init__(self, torch: Any, stages: dict[type, str]) -> None:
        self._torch = torch
        self._stages = stages
        self._open: list[tuple[int, Any]] = []
        self._handles: list[Any] = []

    def _enter(self, module: Any, args: Any) -> None:
        stage = self._stages.get(type(module))
        if stage is not None:
            mark = self._torch.autograd.profiler.record_function(STAGE_PREFIX + stage)
            mark.__enter__()
            self._open.append((id(module), mark))

    def _exit(self, module: Any, args: Any, output: Any) -> None:
        if self._open and self._open[-1][0] == id(module):
            self._open.pop()[1].__exit__(None, None, None)

    def __enter__(self) -> StageMarks:
        hooks = self._torch.nn.modules.module
        self._handles = [
            hooks.register_module_forward_pre_hook(self._enter),
            hooks.register_module_forward_hook(self._exit),
        ]
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        while self._open:
            self._open.pop()[1].__exit__(None, None, None)


def _stage_of(event: Any) -> str:
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith(STAGE_PREFIX):
            return parent.name[len(STAGE_PREFIX) :]
        parent = parent.cpu_parent
    return OUTSIDE


def _add(table: dict, key: tuple[str, str, str], cpu_us: float, device_us: float) -> None:
    row = table.setdefault(key, [0, 0.0, 0.0])
    row[0] += 1
    row[1] += cpu_us
    row[2] += device_us


def aggregate(events: Any, *, cpu: Any) -> list[dict[str, Any]]:
    """Per (kind, stage, name): calls, self CPU microseconds, self device microseconds.

    ``cpu`` is torch's ``DeviceType.CPU``; only host-side events are walked (their kernels
    carry the device time).
    """
    table: dict[tuple[str, str, str], list] = {}
    for event in events:
        if event.device_type != cpu or getattr(event, "is_async", False):
            continue
        if event.name.startswith(STAGE_PREFIX):
            continue
        stage = _stage_of(event)
        device_us = float(getattr(event, "self_device_time_total", 0.0) or 0.0)
        _add(table, ("operator", stage, event.name), float(event.self_cpu_time_total), device_us)
        for kernel in getattr(event, "kernels", ()):
            _add(table, ("kernel", stage, kernel.name), 0.0, float(kernel.duration))
    return [
        {"kind": k, "stage": s, "name": n, "calls": c, "self_cpu_us": cpu_us, "device_us": dev}
        for (k, s, n), (c, cpu_us, dev) in sorted(table.items())
    ]


def profile_round(torch: Any, run: Callable[[], None], models: Any, device: Any) -> dict[str, Any]:
    """Run ``run`` (one predict round, synchronized) under the profiler; its operator table."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    stages = model_stages(torch, models)
    with StageMarks(torch, stages), profile(activities=activities) as prof:
        start = time.perf_counter()
        run()
        seconds = time.perf_counter() - start
    start = time.perf_counter()
    rows = aggregate(prof.events(), cpu=torch.autograd.DeviceType.CPU)
    return {
        "round_seconds": seconds,
        "processing_seconds": time.perf_counter() - start,
        "device": str(device),
        "stages": sorted(set(stages.values())),
        "operators": rows,
    }
