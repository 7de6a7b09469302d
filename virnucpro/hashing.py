"""Content hashes of files, read in blocks: input fingerprints and checkpoint checksums."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

HASH_BLOCK_BYTES = 1 << 20


def files_sha256(paths: Iterable[Path | str]) -> str:
    """One hex sha256 over the bytes of the files, in the order given."""
    digest = hashlib.sha256()
    for path in paths:
        with Path(path).open("rb") as handle:
            while block := handle.read(HASH_BLOCK_BYTES):
                digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path | str) -> str:
    """Hex sha256 of a file's bytes as stored (a gzip file hashes compressed)."""
    return files_sha256([path])
