"""Device selection: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, refused clearly when absent."""

from __future__ import annotations

import re

import torch

from virnucpro.errors import InputError

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def resolve_device(spec: str) -> torch.device:
    """Turn a ``--device`` value into a usable device, or raise InputError saying why not."""
    if not DEVICE_PATTERN.match(spec):
        raise InputError(f"--device must be auto, cpu, cuda or cuda:N (got {spec!r})")
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"--device {spec}: CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(
                f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) present"
            )
    return device
