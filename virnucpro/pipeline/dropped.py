"""What a run drops: the reads and chunks that keep no frame, and why, counted exactly.

The published pipeline drops nothing on purpose: every read is chunked and every chunk
translated. A chunk gets no row in the outputs when it keeps no frame, for one of the reasons of
:mod:`virnucpro.stages.translate` (``stop_codon``, ``mostly_n``, ``too_short``); a read gets no row
when none of its chunks keeps a frame. Its reason is ``stop_codon`` when any of its chunks had a
frame that translated to something, else ``mostly_n``, else ``too_short`` (every chunk under
3 bases). :class:`DropTally` counts both as the stream passes; :class:`DropCounts` is the
record ``run_metrics.json`` keeps under ``dropped``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from virnucpro.stages.translate import MOSTLY_N, NO_FRAME_REASONS, STOP_CODON, TOO_SHORT

REASON_LABELS = {
    STOP_CODON: "a stop codon in every frame",
    MOSTLY_N: "mostly N (no codon of only A/C/G/T)",
    TOO_SHORT: "shorter than a codon",
}
READ_LEVEL = "read"
CHUNK_LEVEL = "chunk"


def _by_reason(counts: Mapping[str, int] | None = None) -> dict[str, int]:
    """A count for every reason, in :data:`NO_FRAME_REASONS` order (absent ones are zero)."""
    given = counts or {}
    unknown = sorted(set(given) - set(NO_FRAME_REASONS))
    if unknown:
        raise ValueError(f"unknown reason(s) for a dropped read or chunk: {', '.join(unknown)}")
    return {reason: int(given.get(reason, 0)) for reason in NO_FRAME_REASONS}


def read_reason(chunk_reasons: set[str]) -> str:
    """Why a read none of whose chunks kept a frame kept none, from its chunks' reasons."""
    return next(reason for reason in NO_FRAME_REASONS if reason in chunk_reasons)


@dataclass(frozen=True)
class DropCounts:
    """Reads and chunks without a kept frame, in total and by reason."""

    reads_without_kept_frame: int = 0
    chunks_without_kept_frame: int = 0
    reads_by_reason: dict[str, int] = field(default_factory=_by_reason)
    chunks_by_reason: dict[str, int] = field(default_factory=_by_reason)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> DropCounts:
        return cls(
            reads_without_kept_frame=int(data["reads_without_kept_frame"]),  # type: ignore[arg-type]
            chunks_without_kept_frame=int(data["chunks_without_kept_frame"]),  # type: ignore[arg-type]
            reads_by_reason=_by_reason(data["reads_by_reason"]),  # type: ignore[arg-type]
            chunks_by_reason=_by_reason(data["chunks_by_reason"]),  # type: ignore[arg-type]
        )


@dataclass
class DropTally:
    """Counts what keeps no frame while the stream passes: call :meth:`chunk` for each chunk of
    a read, then :meth:`end_read`."""

    reads: dict[str, int] = field(default_factory=_by_reason)
    chunks: dict[str, int] = field(default_factory=_by_reason)
    _kept: bool = field(default=False, init=False, repr=False)
    _reasons: set[str] = field(default_factory=set, init=False, repr=False)

    def chunk(self, reason: str | None) -> None:
        """One chunk of the current read: ``None`` when it kept a frame, else why not."""
        if reason is None:
            self._kept = True
            return
        self.chunks[reason] += 1
        self._reasons.add(reason)

    def end_read(self) -> str | None:
        """The current read is done: ``None`` when it kept a frame, else why it kept none."""
        reason = None if self._kept or not self._reasons else read_reason(self._reasons)
        if reason is not None:
            self.reads[reason] += 1
        self._kept, self._reasons = False, set()
        return reason

    def counts(self) -> DropCounts:
        return DropCounts(
            reads_without_kept_frame=sum(self.reads.values()),
            chunks_without_kept_frame=sum(self.chunks.values()),
            reads_by_reason=dict(self.reads),
            chunks_by_reason=dict(self.chunks),
        )


def describe(counts: DropCounts, *, reads: int, chunks: int) -> list[str]:
    """The console's lines about what has no row in the outputs."""
    lines = [
        f"without a kept frame (no row in the outputs): {counts.reads_without_kept_frame} of "
        f"{reads} reads, {counts.chunks_without_kept_frame} of {chunks} chunks"
    ]
    reasons = [
        f"{label}: {counts.reads_by_reason[reason]} reads, {counts.chunks_by_reason[reason]} chunks"
        for reason, label in REASON_LABELS.items()
        if counts.chunks_by_reason[reason]
    ]
    if reasons:
        lines.append("  " + "; ".join(reasons))
    return lines
