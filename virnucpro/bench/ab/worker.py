"""The long-lived worker of one A/B side: load the models once, then time predict rounds.

This file is the *source* of the worker, not a module the measuring process imports: the
harness (:mod:`virnucpro.bench.ab.worker_process`) runs it as ``python -c <this source> <spec
JSON>`` with the side's checkout first on ``PYTHONPATH``, so every ``virnucpro`` import below
resolves to that side's code. It uses only the public API that commits before the A/B mode
already had (``virnucpro.pipeline.predict`` / ``PredictConfig``,
``virnucpro.models.presets.load_model_set``) and the ``run_metrics.json`` each predict writes,
so a base commit needs nothing new.

Protocol: one JSON object per line. The worker answers ``{"ready": ...}`` after loading the
models, then reads commands from stdin (``{"op": "round"}``, ``{"op": "profile"}`` or
``{"op": "quit"}``; a round may ask for ``"repeat": k`` predicts, whose mean times it reports,
and ``"gc_off": true``: the garbage collector runs before the round and is off during it; a
profile is one untimed round under ``torch.profiler``, :mod:`virnucpro.bench.ab.profiling`,
loaded by the path the spec gives) and answers
each round with its wall seconds, its own CPU seconds, the run metrics and the round's own
figures (:class:`RoundProbe`): this process's peak RSS (psutil), the CUDA allocator's peaks
(reset before the round) and the mean of the NVML GPU utilization readings taken every
:data:`POLL_INTERVAL_S` inside the round (``pynvml``, on CUDA). A figure that cannot be measured
is ``null`` and ``unmeasured`` says why; nothing is pooled across rounds. Anything the pipeline
prints goes to stderr, never into the protocol.

Besides torch and the public pipeline API, the worker imports only third-party packages (psutil,
pynvml), each where it is used, so a base commit without them still runs, its figures ``null``.
For the same reason it is one file, a little over the ~400 lines a module is kept to: split into
modules it would import, they would resolve to the *base* side's checkout, where they do not
exist.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

POLL_INTERVAL_S = 0.05  # RSS and GPU utilization readings inside a round
MIN_READINGS = 2  # a round's utilization mean needs at least this many readings
ON_CPU = "not measured: the run is on the CPU"
NO_PSUTIL = "psutil is not installed"
NO_PYNVML = "pynvml (nvidia-ml-py) is not installed"
TOO_FEW = "{n} NVML reading(s) in the round; a round's mean needs at least {least}"

Reader = Callable[[], float]


def _send(stream, payload: dict) -> None:
    stream.write(json.dumps(payload) + "\n")
    stream.flush()


def _cpu_seconds() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _run_metrics(outdir: str) -> dict:
    with open(os.path.join(outdir, "run_metrics.json"), encoding="utf-8") as handle:
        data = json.load(handle)
    return {
        "reads": data["reads"],
        "bases": data["bases"],
        "kept_frames": data["kept_frames"],
        "dnabert_tokens": data["dnabert_tokens"],
        "esm_tokens": data["esm_tokens"],
        "stages": {s["name"]: s["seconds"] for s in data["stages"]},
    }


# ----------------------------------------------------------------------------- round figures


def rss_reader() -> tuple[Reader | None, str | None]:
    """This process's resident set size in bytes, or ``None`` and why."""
    try:
        import psutil
    except ImportError:
        return None, NO_PSUTIL
    process = psutil.Process()
    return (lambda: float(process.memory_info().rss)), None


def cuda_uuid(torch: Any, device: Any) -> str | None:
    """NVML's UUID of a CUDA device (torch spells it without the ``GPU-`` prefix)."""
    uuid = getattr(torch.cuda.get_device_properties(device), "uuid", None)
    if uuid is None:
        return None
    text = str(uuid)
    return text if text.startswith(("GPU-", "MIG-")) else f"GPU-{text}"


def utilization_reader(nvml: Any, uuid: str | None) -> tuple[Reader | None, str | None]:
    """NVML's GPU utilization (%) of the device ``uuid``, or ``None`` and why."""
    if uuid is None:
        return None, "torch gives no UUID for the CUDA device, so NVML cannot find it"
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        return None, f"NVML did not start: {exc}"
    try:
        handle = nvml.nvmlDeviceGetHandleByUUID(uuid)
    except nvml.NVMLError as exc:
        return None, f"NVML has no device {uuid}: {exc}"
    return (lambda: float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)), None


class CudaPeaks:
    """The CUDA caching allocator's peak allocated and reserved bytes on one device."""

    def __init__(self, torch: Any, device: Any) -> None:
        self._torch = torch
        self._device = device

    def reset(self) -> None:
        self._torch.cuda.reset_peak_memory_stats(self._device)

    def read(self) -> tuple[int, int]:
        allocated = self._torch.cuda.max_memory_allocated(self._device)
        return int(allocated), int(self._torch.cuda.max_memory_reserved(self._device))


class Poller:
    """Calls ``read`` every ``interval`` seconds in a thread; the first error stops it."""

    def __init__(self, read: Reader, interval: float) -> None:
        self.values: list[float] = []
        self.error: str | None = None
        self._read = read
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="round-poller", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.values.append(self._read())
            except Exception as exc:  # an NVML or psutil failure names itself in the reason
                self.error = f"reading failed: {type(exc).__name__}: {exc}"
                return

    def start(self) -> Poller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclasses.dataclass(frozen=True)
class ProbeSetup:
    """What a round can measure on this side: each reader, or ``None`` with the reason."""

    rss: Reader | None
    rss_reason: str | None
    cuda: CudaPeaks | None
    cuda_reason: str | None
    utilization: Reader | None
    utilization_reason: str | None
    interval: float = POLL_INTERVAL_S


def device_utilization_reader(torch: Any, device: Any) -> tuple[Reader | None, str | None]:
    """:func:`utilization_reader` for a CUDA device, through ``pynvml`` if it is installed."""
    try:
        import pynvml
    except ImportError:
        return None, NO_PYNVML
    return utilization_reader(pynvml, cuda_uuid(torch, device))


def probe_setup(torch: Any, device: Any) -> ProbeSetup:
    """The readers for ``device``: RSS always, CUDA peaks and NVML utilization on CUDA."""
    rss, rss_reason = rss_reader()
    if device.type != "cuda":
        return ProbeSetup(
            rss=rss,
            rss_reason=rss_reason,
            cuda=None,
            cuda_reason=ON_CPU,
            utilization=None,
            utilization_reason=ON_CPU,
        )
    util, util_reason = device_utilization_reader(torch, device)
    return ProbeSetup(
        rss=rss,
        rss_reason=rss_reason,
        cuda=CudaPeaks(torch, device),
        cuda_reason=None,
        utilization=util,
        utilization_reason=util_reason,
    )


class RoundProbe:
    """One round's figures: peak RSS (read at both ends and polled), CUDA peaks (reset at the
    start), and the mean of this round's utilization readings only."""

    def __init__(self, setup: ProbeSetup) -> None:
        self._setup = setup
        self._rss: Poller | None = None
        self._util: Poller | None = None
        self._rss_ends: list[float] = []
        self._peaks: tuple[int, int] | None = None

    def __enter__(self) -> RoundProbe:
        setup = self._setup
        if setup.cuda is not None:
            setup.cuda.reset()
        if setup.rss is not None:
            self._rss_ends.append(setup.rss())
            self._rss = Poller(setup.rss, setup.interval).start()
        if setup.utilization is not None:
            self._util = Poller(setup.utilization, setup.interval).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for poller in (self._rss, self._util):
            if poller is not None:
                poller.stop()
        if self._setup.rss is not None:
            self._rss_ends.append(self._setup.rss())
        if self._setup.cuda is not None:
            self._peaks = self._setup.cuda.read()

    def _host(self) -> tuple[int | None, str | None]:
        if self._rss is None:
            return None, self._setup.rss_reason
        if self._rss.error is not None:
            return None, f"RSS {self._rss.error}"
        return int(max(self._rss_ends + self._rss.values)), None

    def _utilization(self) -> tuple[float | None, int | None, str | None]:
        if self._util is None:
            return None, None, self._setup.utilization_reason
        values = self._util.values
        if self._util.error is not None:
            return None, len(values), f"NVML {self._util.error}"
        if len(values) < MIN_READINGS:
            return None, len(values), TOO_FEW.format(n=len(values), least=MIN_READINGS)
        return statistics.fmean(values), len(values), None

    def figures(self) -> dict[str, Any]:
        """The round's figures for the protocol; ``unmeasured`` names each ``null`` and why."""
        rss, rss_why = self._host()
        util, readings, util_why = self._utilization()
        allocated, reserved = self._peaks if self._peaks is not None else (None, None)
        why = {
            "host_peak_rss": rss_why,
            "cuda_peak_allocated": self._setup.cuda_reason,
            "cuda_peak_reserved": self._setup.cuda_reason,
            "gpu_utilization": util_why,
        }
        return {
            "host_peak_rss": rss,
            "cuda_peak_allocated": allocated,
            "cuda_peak_reserved": reserved,
            "gpu_utilization": util,
            "gpu_utilization_readings": readings,
            "unmeasured": {k: v for k, v in why.items() if v is not None},
        }


# ----------------------------------------------------------------------------- rounds


def _mean_metrics(runs: list[dict]) -> dict:
    """The counts of the first predict and every stage's mean seconds over ``runs``."""
    stages = {
        name: statistics.fmean(run["stages"].get(name, 0.0) for run in runs)
        for name in runs[0]["stages"]
    }
    return {**runs[0], "stages": stages}


def timed_round(
    predict_once: Callable[[], None],
    read_metrics: Callable[[], dict],
    *,
    repeat: int,
    gc_off: bool,
    sync: Callable[[], None],
    collect: bool = True,
) -> dict:
    """``repeat`` predicts, each timed alone (wall and CPU), their metrics read between them
    (outside the timing); the mean seconds, CPU seconds and stage times. With ``gc_off`` the
    collector is off during the round, after a collection here unless ``collect`` is off (the
    harness asked for it before the round, ``{"op": "collect"}``, outside its clock)."""
    walls: list[float] = []
    cpus: list[float] = []
    runs: list[dict] = []
    if gc_off:
        if collect:
            gc.collect()
        gc.disable()
    try:
        for _ in range(repeat):
            cpu = _cpu_seconds()
            sync()
            start = time.perf_counter()
            predict_once()
            sync()
            walls.append(time.perf_counter() - start)
            cpus.append(_cpu_seconds() - cpu)
            runs.append(read_metrics())
    finally:
        if gc_off:
            gc.enable()
    return {
        "seconds": statistics.fmean(walls),
        "cpu_seconds": statistics.fmean(cpus),
        "predicts": repeat,
        **_mean_metrics(runs),
    }


# ----------------------------------------------------------------------------- profile


def profile_answer(spec: dict, torch: Any, run: Callable[[], None], models: Any, device: Any):
    """One profiled round (``{"op": "profile"}``), by the profiler file the spec names.

    The file is loaded by path, never through ``virnucpro`` (this side's checkout may predate
    it); a failure is answered as ``{"error": ...}`` and the worker goes on.
    """
    import importlib.util

    try:
        loader = importlib.util.spec_from_file_location("_virnucpro_ab_profiling", spec["profiler"])
        profiling = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(profiling)
        return {"profile": profiling.profile_round(torch, run, models, device)}
    except Exception as exc:  # the orchestrator names the failure; the timed rounds stand
        return {"error": f"profiled round failed: {type(exc).__name__}: {exc}"}


# ----------------------------------------------------------------------------- main


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # the pipeline's own prints go to stderr
    spec = json.loads(sys.argv[1])

    import torch

    torch.set_num_threads(spec["threads"])
    import virnucpro
    from virnucpro.models.presets import load_model_set
    from virnucpro.pipeline import PredictConfig, predict

    device = torch.device(spec["device"])
    start = time.perf_counter()
    models = load_model_set(preset=spec["preset"], device=device)
    load_seconds = time.perf_counter() - start
    wanted = {
        "input": spec["workload"],
        "outdir": spec["outdir"],
        "expected_length": spec["expected_length"],
        "engine": spec["engine"],
        "models": spec["preset"],
        "precision": spec["precision"],
        "device": spec["device"],
        "threads": spec["threads"],
        "force": True,
    }
    known = {f.name for f in dataclasses.fields(PredictConfig)}
    from pathlib import Path

    wanted["input"], wanted["outdir"] = Path(wanted["input"]), Path(wanted["outdir"])
    config = PredictConfig(**{k: v for k, v in wanted.items() if k in known})

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    setup = probe_setup(torch, device)

    _send(
        protocol,
        {
            "ready": True,
            "package": os.path.dirname(os.path.abspath(virnucpro.__file__)),
            "version": getattr(virnucpro, "__version__", "unknown"),
            "load_seconds": load_seconds,
            "ignored_options": sorted(set(wanted) - known),
        },
    )

    def profiled_round() -> None:
        sync()
        predict(config, models=models)
        sync()

    for line in sys.stdin:
        command = json.loads(line)
        if command.get("op") == "profile":
            _send(protocol, profile_answer(spec, torch, profiled_round, models, device))
            continue
        if command.get("op") == "collect":  # before a round, outside the harness's clock
            gc.collect()
            _send(protocol, {"collected": True})
            continue
        if command.get("op") != "round":
            break
        with RoundProbe(setup) as probe:
            answer = timed_round(
                lambda: predict(config, models=models),
                lambda: _run_metrics(spec["outdir"]),
                repeat=max(int(command.get("repeat", 1)), 1),
                gc_off=bool(command.get("gc_off", False)),
                sync=sync,
                collect=bool(command.get("collect", True)),
            )
        _send(protocol, {**answer, **probe.figures()})


if __name__ == "__main__":
    main()
