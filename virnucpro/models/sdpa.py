"""Which kernel ``torch.nn.functional.scaled_dot_product_attention`` runs, asked of torch itself.

SDPA picks a kernel per call (flash, memory-efficient, cuDNN or the plain ``math`` one) from the
inputs' device, dtype, shapes, strides and mask, and from the kernels that
``torch.nn.attention.sdpa_kernel`` leaves enabled. The fused kernels are what makes the fast
engine fast on a GPU, and they fall back silently, so a report names the one that ran.
"""

from __future__ import annotations

import torch
from torch.nn.attention import SDPBackend

BIAS_ALIGN = 16
"""Elements per row of an attention bias in memory. torch's memory-efficient kernel needs every
stride but the last to be a multiple of 8 (16 on XPU) and otherwise pads (copies) the bias on
each call, which is once per layer; a bias laid out at a multiple of 16 is used as it is."""


def sdpa_backend(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    *,
    scale: float | None = None,
) -> str:
    """The kernel SDPA runs for these inputs under the active ``sdpa_kernel`` settings.

    One of ``flash_attention``, ``efficient_attention``, ``cudnn_attention``, ``math`` or
    ``overrideable``: the answer of torch's own dispatcher (``torch._fused_sdp_choice``, the
    function SDPA calls to choose), so it is what runs, not a guess. Only shapes, dtypes,
    strides and the device are read; nothing is computed. When no enabled kernel can run the
    inputs, torch's RuntimeError says so, as SDPA itself would.
    """
    choice = torch._fused_sdp_choice(query, key, value, attn_mask, 0.0, False, scale=scale)
    return SDPBackend(choice).name.lower()


def aligned_rows(tensor: torch.Tensor, alignment: int = BIAS_ALIGN) -> bool:
    """True when every stride but the last is a multiple of ``alignment`` and the last is 1."""
    strides = tensor.stride()
    return strides[-1] == 1 and all(stride % alignment == 0 for stride in strides[:-1])
