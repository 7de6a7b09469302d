"""What a predict round wrote, kept compactly: the published outputs in canonical form.

The output check (:mod:`virnucpro.bench.output_check`) compares the outputs of two runs, or of
one run's first and last measured rounds. It reads only the two published files every commit
writes (``prediction_results.txt``: kept frames, labels and both scores; and
``prediction_results_highestscore.csv``: the per-chunk calls), so a base commit from before this
check needs nothing new.

:class:`CanonicalOutputs` holds their rows without the headers, line endings normalized, each
file's text zlib-compressed and base64-encoded, with a sha256 digest of the two texts. The digest
is the fast path (equal digests: identical outputs); the texts are what a comparison under a
tolerance needs, since a last-bit change of a bf16 score changes the digest and not the
predictions. The scores stay exactly as published (the shortest text of each float32 value), so
nothing is lost to a rounding of ours.

Reading a record back checks it: the texts decompress within :data:`MAX_TEXT_BYTES`, the digest
and the row counts match, and every row has its fields. Torch-free, as the judging tools need.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from pydantic import model_validator

from virnucpro.bench.records import Record
from virnucpro.errors import InputError

PREDICTIONS_FILE = "prediction_results.txt"  # the published names (virnucpro.pipeline.outputs)
HIGHEST_FILE = "prediction_results_highestscore.csv"
MAX_TEXT_BYTES = 64 * 1024 * 1024  # one canonical text, decompressed
FRAME_FIELDS = 4  # Sequence_ID, Prediction, score1, score2
CHUNK_FIELDS = 2  # Modified_ID, Is_Virus
CHUNK_CALLS = {"True": True, "False": False}
COMPRESSION_LEVEL = 9


@dataclass(frozen=True)
class FrameRow:
    """One kept frame as published: its id, label and the two scores."""

    id: str
    label: str
    score1: float
    score2: float


@dataclass(frozen=True)
class ParsedOutputs:
    """The rows of a :class:`CanonicalOutputs`, in published order."""

    frames: tuple[FrameRow, ...]
    chunks: tuple[tuple[str, bool], ...]


def _pack(text: str) -> str:
    return base64.b64encode(zlib.compress(text.encode("utf-8"), COMPRESSION_LEVEL)).decode("ascii")


def _unpack(packed: str, what: str) -> str:
    try:
        raw = base64.b64decode(packed.encode("ascii"), validate=True)
        inflater = zlib.decompressobj()
        data = inflater.decompress(raw, MAX_TEXT_BYTES + 1)
    except (binascii.Error, zlib.error, UnicodeEncodeError) as exc:
        raise ValueError(f"{what}: not zlib and base64 ({exc})") from None
    if len(data) > MAX_TEXT_BYTES or inflater.unconsumed_tail:
        raise ValueError(f"{what}: larger than {MAX_TEXT_BYTES} bytes decompressed")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{what}: not UTF-8") from None


def _digest(frames: str, chunks: str) -> str:
    return hashlib.sha256(f"{frames}\0{chunks}".encode()).hexdigest()


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _frame_row(line: str, number: int) -> FrameRow:
    fields = line.split("\t")
    if len(fields) != FRAME_FIELDS:
        raise ValueError(f"frame row {number}: {len(fields)} fields, not {FRAME_FIELDS}")
    try:
        score1, score2 = float(fields[2]), float(fields[3])
    except ValueError:
        raise ValueError(f"frame row {number}: a score is not a number") from None
    if not (math.isfinite(score1) and math.isfinite(score2)):
        raise ValueError(f"frame row {number}: a score is not finite")
    return FrameRow(fields[0], fields[1], score1, score2)


def _chunk_row(line: str, number: int) -> tuple[str, bool]:
    fields = line.split("\t")
    if len(fields) != CHUNK_FIELDS or fields[1] not in CHUNK_CALLS:
        raise ValueError(f"chunk row {number}: not <Modified_ID> TAB True|False")
    return fields[0], CHUNK_CALLS[fields[1]]


class CanonicalOutputs(Record):
    """One round's published outputs, compressed, with their digest and row counts."""

    frames: int
    chunks: int
    digest: str  # sha256 of the frame text, a NUL, and the chunk text
    frames_text: str  # zlib + base64 of the frame rows (no header, "\n" line ends)
    chunks_text: str  # the same for the chunk rows

    @model_validator(mode="after")
    def _consistent(self) -> CanonicalOutputs:
        frames, chunks = self.texts()
        if _digest(frames, chunks) != self.digest:
            raise ValueError("digest does not match the outputs")
        parsed = _parse(frames, chunks)
        if (len(parsed.frames), len(parsed.chunks)) != (self.frames, self.chunks):
            raise ValueError("row counts do not match the outputs")
        return self

    def texts(self) -> tuple[str, str]:
        """The canonical frame and chunk texts."""
        return _unpack(self.frames_text, "frames_text"), _unpack(self.chunks_text, "chunks_text")

    def parsed(self) -> ParsedOutputs:
        return _parse(*self.texts())


def _parse(frames: str, chunks: str) -> ParsedOutputs:
    return ParsedOutputs(
        frames=tuple(_frame_row(line, i) for i, line in enumerate(_lines(frames), 1)),
        chunks=tuple(_chunk_row(line, i) for i, line in enumerate(_lines(chunks), 1)),
    )


def canonical_outputs(frames: str, chunks: str) -> CanonicalOutputs:
    """The record of two canonical texts (rows only, ``\\n`` line ends)."""
    parsed = _parse(frames, chunks)
    return CanonicalOutputs(
        frames=len(parsed.frames),
        chunks=len(parsed.chunks),
        digest=_digest(frames, chunks),
        frames_text=_pack(frames),
        chunks_text=_pack(chunks),
    )


def _body(path: Path) -> str:
    """A published file's rows: the header dropped, line ends normalized, no trailing blank."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: not written (no published outputs to compare)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc.__class__.__name__})") from None
    lines = [line for line in text.splitlines() if line.strip()]
    return "".join(f"{line}\n" for line in lines[1:])


def read_outputs(outdir: Path) -> CanonicalOutputs:
    """The canonical outputs of the predict that last wrote ``outdir``; a missing or
    malformed file is a one-line :class:`~virnucpro.errors.InputError`."""
    frames, chunks = _body(outdir / PREDICTIONS_FILE), _body(outdir / HIGHEST_FILE)
    try:
        return canonical_outputs(frames, chunks)
    except ValueError as exc:
        raise InputError(f"{outdir}: published outputs malformed ({exc})") from None


class RoundOutputs(Record):
    """One side's outputs on its first and its last measured round (the same when one round)."""

    first: CanonicalOutputs
    last: CanonicalOutputs


class OutputKeeper:
    """Reads a predict folder after the first measured round and again at the end, outside the
    timed rounds, and times that reading (``seconds``)."""

    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir
        self.seconds = 0.0
        self._first: CanonicalOutputs | None = None
        self.problem: str | None = None

    def _read(self) -> CanonicalOutputs | None:
        start = time.perf_counter()
        try:
            return read_outputs(self.outdir)
        except InputError as exc:
            self.problem = self.problem or str(exc)
            return None
        finally:
            self.seconds += time.perf_counter() - start

    def after_first_round(self) -> None:
        """Keep the outputs of the first measured round (call once, right after it)."""
        if self._first is None and self.problem is None:
            self._first = self._read()

    def rounds(self) -> RoundOutputs | None:
        """The first round's outputs and the last round's (read now); None with ``problem``."""
        if self._first is None:
            self.problem = self.problem or "no measured round ran, so no outputs were kept"
            return None
        last = self._read()
        return None if last is None else RoundOutputs(first=self._first, last=last)
