"""Which serialization a checkpoint file uses, read from its first bytes (nothing is loaded).

Used to refuse a wrong file before any model loads, and to pick how ``torch.load`` may read it:
the zip format (PyTorch >= 1.6) can be memory-mapped, the legacy pickle format cannot.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Literal

CheckpointFormat = Literal["torch-zip", "torch-legacy", "safetensors"]

ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTO = 0x80
# torch.save's legacy format opens with a pickled int: LONG1 opcode, 10 bytes, torch's magic number
TORCH_LEGACY_MAGIC = b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
SAFETENSORS_HEADER_LEN = struct.Struct("<Q")
PROBE_BYTES = 32  # pickle protocol 4+ puts an 8-byte FRAME before the magic


def checkpoint_format(path: Path) -> CheckpointFormat | None:
    """The file's serialization, or None when it is none of the three."""
    with Path(path).open("rb") as handle:
        head = handle.read(PROBE_BYTES)
        size = handle.seek(0, 2)
    if head.startswith(ZIP_MAGIC):
        return "torch-zip"
    if head[:1] == bytes([PICKLE_PROTO]) and TORCH_LEGACY_MAGIC in head:
        return "torch-legacy"
    if len(head) > SAFETENSORS_HEADER_LEN.size:
        (header_len,) = SAFETENSORS_HEADER_LEN.unpack_from(head)
        if head[8:9] == b"{" and header_len <= size - SAFETENSORS_HEADER_LEN.size:
            return "safetensors"
    return None
