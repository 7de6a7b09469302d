"""Stage 1: read a nucleotide FASTA (plain or gzip), validating as it goes.

The record id is the header up to the first whitespace, as in Biopython's ``record.id``.
Sequences keep their case here (the published tool upper-cases only before translation).
Bad input raises :class:`~virnucpro.errors.InputError` with a one-line message naming the
record and position; CRLF line endings, blank lines and lower-case bases are accepted.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from virnucpro.errors import InputError
from virnucpro.paths import check_readable_file

GZIP_MAGIC = b"\x1f\x8b"
IUPAC_NUCLEOTIDES = frozenset("ACGTURYSWKMBDHVNacgturyswkmbdhvn")
INLINE_WHITESPACE = str.maketrans("", "", " \t\r\v\f")
BINARY_PROBE_BYTES = 8192


@dataclass(frozen=True)
class FastaRecord:
    """One input record: id (header up to whitespace), full header, sequence as written."""

    id: str
    sequence: str
    description: str = ""


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if _is_gzip(path) else path.open("rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline=None)


def _check_path(path: Path) -> None:
    if check_readable_file(path, what="a FASTA file").st_size == 0:
        raise InputError(f"{path}: file is empty")


def _check_not_binary(path: Path) -> None:
    opener = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rb") as handle:
            probe = handle.read(BINARY_PROBE_BYTES)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise InputError(
            f"{path}: corrupt or truncated gzip file ({exc.__class__.__name__})"
        ) from None
    if b"\x00" in probe:
        raise InputError(f"{path}: binary data, not a FASTA file")


def _validate_sequence(path: Path, record_id: str, sequence: str) -> None:
    if not sequence:
        raise InputError(f"{path}: record '{record_id}' has no sequence")
    if IUPAC_NUCLEOTIDES.issuperset(sequence):
        return
    for position, letter in enumerate(sequence, start=1):
        if letter not in IUPAC_NUCLEOTIDES:
            raise InputError(
                f"{path}: record '{record_id}' has {letter!r} at position {position}, "
                "which is not an IUPAC nucleotide code"
            )


def _parse_header(path: Path, line: str, line_no: int) -> tuple[str, str]:
    header = line[1:].strip()
    if not header or header[0].isspace():
        raise InputError(f"{path}: line {line_no}: record header has no id")
    record_id = header.split(None, 1)[0]
    return record_id, header


def _records(path: Path, handle: io.TextIOBase) -> Iterator[FastaRecord]:
    record_id: str | None = None
    header = ""
    parts: list[str] = []
    for line_no, line in enumerate(handle, start=1):
        line = line.rstrip("\n")
        if line.startswith(">"):
            if record_id is not None:
                yield _finish(path, record_id, header, parts)
            record_id, header = _parse_header(path, line, line_no)
            parts = []
        elif record_id is None:
            if line.strip():
                raise InputError(f"{path}: line {line_no}: not FASTA (expected a '>' header first)")
        else:
            parts.append(line.translate(INLINE_WHITESPACE))
    if record_id is None:
        raise InputError(f"{path}: no FASTA records found")
    yield _finish(path, record_id, header, parts)


def _finish(path: Path, record_id: str, header: str, parts: list[str]) -> FastaRecord:
    sequence = "".join(parts)
    _validate_sequence(path, record_id, sequence)
    return FastaRecord(id=record_id, sequence=sequence, description=header)


def iter_fasta(path: Path | str) -> Iterator[FastaRecord]:
    """Stream validated records; duplicate ids are refused (they would mix embeddings)."""
    path = Path(path)
    _check_path(path)
    _check_not_binary(path)
    seen: set[str] = set()
    try:
        with _open_text(path) as handle:
            for record in _records(path, handle):
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
