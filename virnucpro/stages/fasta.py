"""Stage 1: read a nucleotide FASTA (plain or gzip), validating as it goes.

The record id is the header up to the first whitespace, as in Biopython's ``record.id``.
Sequences keep their case here (the published tool upper-cases only before translation).
Bad input raises :class:`~virnucpro.errors.InputError` with a one-line message naming the
record and position; CRLF line endings, blank lines and lower-case bases are accepted.

The file is read in blocks of at most :data:`READ_BLOCK_BYTES`, a line longer than that in
pieces, and each piece is checked at C speed; a record's sequence grows in place, so a 1 GB
single-line record is held once, not once per copy (see ``scripts/perf_streaming_memory.py``).
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from virnucpro.errors import InputError
from virnucpro.paths import check_readable_file

if TYPE_CHECKING:
    from hashlib import _Hash

GZIP_MAGIC = b"\x1f\x8b"
IUPAC_BYTES = b"ACGTURYSWKMBDHVNacgturyswkmbdhvn"
INLINE_WHITESPACE = b" \t\r\v\f"
BINARY_PROBE_BYTES = 8192
READ_BLOCK_BYTES = 1 << 20


@dataclass(frozen=True)
class FastaRecord:
    """One input record: id (header up to whitespace), full header, sequence as written."""

    id: str
    sequence: str
    description: str = ""


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


class _DigestingRaw(io.RawIOBase):
    """A raw file that feeds every byte it reads, as stored, to ``digest``."""

    def __init__(self, raw: io.RawIOBase, digest: _Hash) -> None:
        self.raw, self.digest = raw, digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        count = self.raw.readinto(buffer) or 0
        self.digest.update(memoryview(buffer)[:count])
        return count


def _open_binary(path: Path, stack: ExitStack, digest: _Hash | None = None) -> BinaryIO:
    """The decompressed byte stream; with ``digest``, the stored bytes are hashed as they pass."""
    if digest is None:
        stored: BinaryIO = stack.enter_context(path.open("rb"))
    else:
        raw = stack.enter_context(path.open("rb", buffering=0))
        stored = stack.enter_context(io.BufferedReader(_DigestingRaw(raw, digest)))  # type: ignore[arg-type]
    if _is_gzip(path):
        return stack.enter_context(gzip.GzipFile(fileobj=stored, mode="rb"))  # type: ignore[return-value]
    return stored


def _check_path(path: Path) -> None:
    if check_readable_file(path, what="a FASTA file").st_size == 0:
        raise InputError(f"{path}: file is empty")


def _content(path: Path) -> str:
    """How messages name what was read: the file, or the gzip content inside it."""
    return f"{path} (gzip content)" if _is_gzip(path) else str(path)


def _check_not_binary(path: Path) -> None:
    try:
        with ExitStack() as stack:
            probe = _open_binary(path, stack).read(BINARY_PROBE_BYTES)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise InputError(
            f"{path}: corrupt or truncated gzip file ({exc.__class__.__name__})"
        ) from None
    if b"\x00" in probe:
        raise InputError(f"{_content(path)}: binary data, not a FASTA file")
    if b"\r" in probe and b"\n" not in probe:
        raise InputError(
            f"{path}: lines end in a bare carriage return (old Mac text): convert to LF first"
        )


def _bad_letter(path: Path, record_id: str, clean: bytes, before: int) -> InputError:
    index = next(i for i, byte in enumerate(clean) if byte not in IUPAC_BYTES)
    letter = clean[index : index + 4].decode("utf-8", errors="replace")[0]
    return InputError(
        f"{path}: record '{record_id}' has {letter!r} at position {before + index + 1}, "
        "which is not an IUPAC nucleotide code"
    )


def _parse_header(path: Path, line: str, line_no: int) -> tuple[str, str]:
    header = line[1:].strip()
    if not header or header[0].isspace():
        raise InputError(f"{path}: line {line_no}: record header has no id")
    record_id = header.split(None, 1)[0]
    return record_id, header


Piece = tuple[int, bytes, bool, bool]  # line number, bytes without newline, starts, ends line


def _pieces(handle: BinaryIO) -> Iterator[Piece]:
    """The stream's lines, a line longer than a block in several pieces."""
    line_no, at_start = 1, True
    while piece := handle.readline(READ_BLOCK_BYTES):
        ends = piece.endswith(b"\n")
        yield line_no, piece[:-1] if ends else piece, at_start, ends
        line_no, at_start = (line_no + 1, True) if ends else (line_no, False)


class _Reader:
    """Records from a FASTA byte stream; a record's sequence is built in one growing string."""

    def __init__(self, path: Path, handle: BinaryIO) -> None:
        self.path = path
        self.content = _content(path)
        self.pieces = _pieces(handle)

    def records(self) -> Iterator[FastaRecord]:
        header: Piece | None = None
        for piece in self.pieces:
            line_no, data, at_start, _ = piece
            if at_start and data.startswith(b">"):
                header = piece
                break
            if data.decode("utf-8").strip():
                raise InputError(
                    f"{self.content}: line {line_no}: not FASTA (expected a '>' header first)"
                )
        if header is None:
            raise InputError(f"{self.content}: no FASTA records found")
        while header is not None:
            record, header = self._record(header)
            yield record

    def _header_text(self, first: Piece) -> str:
        parts = [first[1]]
        ends = first[3]
        while not ends:  # a header longer than a block (rare)
            _, data, _, ends = next(self.pieces, (0, b"", False, True))
            parts.append(data)
        return b"".join(parts).decode("utf-8")

    def _record(self, first: Piece) -> tuple[FastaRecord, Piece | None]:
        record_id, description = _parse_header(self.path, self._header_text(first), first[0])
        sequence = ""
        for piece in self.pieces:
            _, data, at_start, _ = piece
            if at_start and data.startswith(b">"):
                return self._finish(record_id, description, sequence), piece
            clean = data.translate(None, INLINE_WHITESPACE)
            if clean.translate(None, IUPAC_BYTES):
                raise _bad_letter(self.path, record_id, clean, len(sequence))
            sequence += clean.decode("ascii")  # grows in place: this is the only reference
        return self._finish(record_id, description, sequence), None

    def _finish(self, record_id: str, description: str, sequence: str) -> FastaRecord:
        if not sequence:
            raise InputError(f"{self.path}: record '{record_id}' has no sequence")
        return FastaRecord(id=record_id, sequence=sequence, description=description)


def iter_fasta(path: Path | str, digest: _Hash | None = None) -> Iterator[FastaRecord]:
    """Stream validated records; duplicate ids are refused (they would mix embeddings).

    With ``digest``, the file's stored bytes (compressed, for gzip) are hashed in the same pass,
    so a caller that needs the content hash too reads the file once.
    """
    path = Path(path)
    _check_path(path)
    _check_not_binary(path)
    seen: set[str] = set()
    try:
        with ExitStack() as stack:
            handle = _open_binary(path, stack, digest)
            for record in _Reader(path, handle).records():
                if record.id in seen:
                    raise InputError(f"{path}: duplicate record id '{record.id}'")
                seen.add(record.id)
                yield record
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text FASTA file (invalid UTF-8)") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(
            f"{path}: corrupt or truncated gzip file ({exc.__class__.__name__})"
        ) from None


def read_fasta(path: Path | str) -> list[FastaRecord]:
    """Read and validate a whole FASTA file."""
    return list(iter_fasta(path))


def input_stem(path: Path | str) -> str:
    """The published intermediates' prefix: file name without ``.gz`` and ``.fa/.fasta/.fna``."""
    name = Path(path).name
    if name.endswith(".gz"):
        name = name[: -len(".gz")]
    for suffix in (".fasta", ".fna", ".fa"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name
