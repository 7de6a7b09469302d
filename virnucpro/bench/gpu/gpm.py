"""Hardware activity from NVML's GPU Performance Monitoring (GPM), Hopper and newer.

NVML "utilization" is the share of time in which any kernel ran: it reads 100% with most SMs
idle. GPM counts what the hardware did between two samples: SM activity, SM occupancy, tensor
core activity (any type) and DRAM bandwidth use, each in percent (as DCGM reports them). A
:class:`GpmReader` keeps the previous sample of its device and, at each reading, returns the
metrics over the interval since then. One reading at a time: a reader is read from the sampler's
thread and from the main thread (a reading at a stage's end), and two ``nvmlGpmSampleGet`` calls
into its one spare buffer would give wrong or missing values, so :meth:`GpmReader.read` holds
the reader's lock from the sample to the metrics. Where GPM is missing (an older GPU, an older
driver or ``nvidia-ml-py``, MIG) the reader says why, and those fields stay ``None``.
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Any

# Sample field -> pynvml metric id name.
GPM_FIELDS: dict[str, str] = {
    "sm_active": "NVML_GPM_METRIC_SM_UTIL",
    "sm_occupancy": "NVML_GPM_METRIC_SM_OCCUPANCY",
    "tensor_active": "NVML_GPM_METRIC_ANY_TENSOR_UTIL",
    "dram_bw_util": "NVML_GPM_METRIC_DRAM_BW_UTIL",
}
NVML_SUCCESS = 0
NOT_SUPPORTED = "not supported"
GpmValues = dict[str, float | None]


def _errors(nvml: ModuleType) -> type[BaseException] | tuple[()]:
    return getattr(nvml, "NVMLError", ())


def gpm_support(nvml: ModuleType, handle: Any) -> str | None:
    """``None`` when GPM works on this device, else why not (``not supported (...)``)."""
    needed = ("nvmlGpmQueryDeviceSupport", "nvmlGpmSampleAlloc", "nvmlGpmMetricsGet")
    if not all(hasattr(nvml, name) for name in needed):
        return f"{NOT_SUPPORTED} (this nvidia-ml-py has no GPM functions)"
    try:
        support = nvml.nvmlGpmQueryDeviceSupport(handle)
    except _errors(nvml) as exc:
        return f"{NOT_SUPPORTED} ({type(exc).__name__})"
    if not getattr(support, "isSupportedDevice", 0):
        return f"{NOT_SUPPORTED} by this GPU (GPM needs Hopper or newer)"
    return None


class GpmReader:
    """GPM metrics of one device over the interval between consecutive :meth:`read` calls."""

    def __init__(self, nvml: ModuleType, handle: Any) -> None:
        self._nvml = nvml
        self._handle = handle
        self.reason = gpm_support(nvml, handle)
        self._previous: Any = None
        self._spare: Any = None
        self._lock = threading.Lock()  # one sample at a time: the buffers are shared state
        if self.reason is None:
            try:
                self._previous = nvml.nvmlGpmSampleAlloc()
                self._spare = nvml.nvmlGpmSampleAlloc()
                nvml.nvmlGpmSampleGet(handle, self._previous)
            except _errors(nvml) as exc:
                self.reason = f"{NOT_SUPPORTED} (sampling failed: {type(exc).__name__})"

    @property
    def available(self) -> bool:
        return self.reason is None

    def read(self) -> GpmValues:
        """The metrics since the previous reading (all ``None`` when GPM is unavailable)."""
        with self._lock:
            return self._read()

    def _read(self) -> GpmValues:
        empty: GpmValues = dict.fromkeys(GPM_FIELDS)
        if self.reason is not None or self._previous is None:
            return empty
        nvml = self._nvml
        try:
            nvml.nvmlGpmSampleGet(self._handle, self._spare)
            request = nvml.c_nvmlGpmMetricsGet_t()
            request.version = nvml.NVML_GPM_METRICS_GET_VERSION
            request.numMetrics = len(GPM_FIELDS)
            request.sample1, request.sample2 = self._previous, self._spare
            for k, metric in enumerate(GPM_FIELDS.values()):
                request.metrics[k].metricId = getattr(nvml, metric)
            nvml.nvmlGpmMetricsGet(request)
        except _errors(nvml):
            return empty
        finally:
            self._previous, self._spare = self._spare, self._previous
        return {
            field: float(request.metrics[k].value)
            if request.metrics[k].nvmlReturn == NVML_SUCCESS
            else None
            for k, field in enumerate(GPM_FIELDS)
        }

    def close(self) -> None:
        with self._lock:
            self._free()

    def _free(self) -> None:
        for sample in (self._previous, self._spare):
            if sample is not None:
                try:
                    self._nvml.nvmlGpmSampleFree(sample)
                except _errors(self._nvml):
                    pass
        self._previous = self._spare = None
