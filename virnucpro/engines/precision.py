"""Dtype policy of the fast engine: which precision a device runs, and casting models to it.

``auto`` is bf16 on a CUDA GPU with native bf16 (compute capability 8.0 or later: A100, H100,
L4...), fp16 on older GPUs (V100, T4: torch emulates bf16 there, slowly), and fp32 on the CPU,
where reduced precision is slower than fp32 on most processors and gains nothing. Casting copies
the model once (the caller caches the copy); fp32 uses the loaded model itself, no copy.
"""

from __future__ import annotations

import copy
from typing import Literal, get_args

import torch
from torch import nn

from virnucpro.errors import InputError

Precision = Literal["auto", "fp32", "bf16", "fp16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
AUTO = "auto"
FP32 = "fp32"
NATIVE_BF16_CAPABILITY = (8, 0)
"""The first CUDA compute capability (Ampere) with bf16 in hardware; older GPUs emulate it."""
DTYPES: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def check_precision(requested: str) -> str:
    """``requested`` when it is a known precision; otherwise an InputError naming the choices."""
    if requested not in PRECISIONS:
        raise InputError(f"--precision must be one of {', '.join(PRECISIONS)} (got {requested!r})")
    return requested


def cuda_has_native_bf16(device: torch.device) -> bool:
    """True when the GPU computes bf16 in hardware, not through torch's (slow) emulation.

    ``torch.cuda.is_bf16_supported()`` alone says yes on a V100 or T4 too: it counts emulation
    unless asked not to.
    """
    if tuple(torch.cuda.get_device_capability(device)) < NATIVE_BF16_CAPABILITY:
        return False
    with torch.cuda.device(device):
        return torch.cuda.is_bf16_supported(including_emulation=False)


def resolve_precision(requested: str, device: torch.device | str) -> str:
    """The concrete precision (``fp32``/``bf16``/``fp16``) a run on ``device`` uses."""
    check_precision(requested)
    if requested != AUTO:
        return requested
    device = torch.device(device)
    if device.type != "cuda":
        return FP32
    return "bf16" if cuda_has_native_bf16(device) else "fp16"


def dtype_of(precision: str) -> torch.dtype:
    """The torch dtype of a concrete precision."""
    if precision not in DTYPES:
        raise InputError(f"precision {precision!r} has no dtype (resolve 'auto' first)")
    return DTYPES[precision]


def cast_module(module: nn.Module, dtype: torch.dtype) -> nn.Module:
    """``module`` with floating weights and buffers in ``dtype``; the original is left as is.

    Returns ``module`` itself when nothing changes. Otherwise each tensor is cast directly into
    the copy, so no second full-precision copy is ever allocated (the 3B model needs this).
    """
    tensors = [*module.parameters(), *module.buffers()]
    if all(not t.is_floating_point() or t.dtype == dtype for t in tensors):
        return module
    memo: dict[int, object] = {}
    for tensor in tensors:
        if tensor.is_floating_point():
            cast = tensor.detach().to(dtype)
            memo[id(tensor)] = (
                nn.Parameter(cast, False) if isinstance(tensor, nn.Parameter) else cast
            )
    return copy.deepcopy(module, memo).eval()
