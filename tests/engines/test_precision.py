"""The precision policy: ``auto`` picks bf16 only where the GPU computes it in hardware."""

from __future__ import annotations

import contextlib

import pytest
import torch

from virnucpro.engines import precision
from virnucpro.engines.precision import resolve_precision

CUDA = torch.device("cuda", 0)


@pytest.fixture
def fake_gpu(monkeypatch):
    """A CUDA device of a chosen compute capability, answering as torch's own checks do.

    ``is_bf16_supported`` says yes on any GPU unless ``including_emulation=False`` (torch
    emulates bf16 on a V100 or T4); then only from compute capability 8.0 on.
    """

    def install(capability: tuple[int, int]) -> None:
        def is_bf16_supported(including_emulation: bool = True) -> bool:
            return including_emulation or capability >= (8, 0)

        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
        monkeypatch.setattr(torch.cuda, "device", lambda device: contextlib.nullcontext())

    return install


@pytest.mark.parametrize(
    ("capability", "expected"),
    [
        ((7, 0), "fp16"),  # V100: bf16 only emulated
        ((7, 5), "fp16"),  # T4
        ((8, 0), "bf16"),  # A100
        ((8, 9), "bf16"),  # L4
        ((9, 0), "bf16"),  # H100 / H200
    ],
)
def test_auto_picks_bf16_only_with_native_support(fake_gpu, capability, expected) -> None:
    fake_gpu(capability)
    assert resolve_precision("auto", CUDA) == expected


def test_native_bf16_needs_the_capability_and_torch_agreeing(monkeypatch) -> None:
    """A capability of 8.0 is not enough when torch says the device has no native bf16."""
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    monkeypatch.setattr(torch.cuda, "device", lambda device: contextlib.nullcontext())
    assert not precision.cuda_has_native_bf16(CUDA)
    assert resolve_precision("auto", CUDA) == "fp16"


@pytest.mark.parametrize("requested", ["fp32", "bf16", "fp16"])
def test_an_explicit_precision_is_kept_on_any_gpu(fake_gpu, requested) -> None:
    fake_gpu((7, 0))
    assert resolve_precision(requested, CUDA) == requested


@pytest.mark.gpu
def test_auto_on_this_gpu_follows_its_capability() -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    native = torch.cuda.get_device_capability(0) >= precision.NATIVE_BF16_CAPABILITY
    assert resolve_precision("auto", CUDA) == ("bf16" if native else "fp16")
