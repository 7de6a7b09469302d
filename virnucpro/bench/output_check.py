"""The output check: did two runs predict the same thing? Torch-free, so the judges can rerun it.

A benchmark verdict is about time only when both sides computed the same outputs: a commit
that is faster because it skips work must never pass. :func:`check_outputs` compares the
published outputs (:mod:`virnucpro.bench.outputs`) of a reference side and a candidate side on
the first and on the last measured round, and each side's first round against its own last
(a side that is nondeterministic against itself is named as such), with the tolerance of the
run's precision (:mod:`virnucpro.tolerances`):

- the kept frames: the same ids in the same order (at every precision);
- the labels, and the per-chunk calls: identical in fp32; in bf16/fp16 at most 0.5% of the
  frames (of the chunks) may differ;
- the two scores of every frame: within 1e-4 in fp32, 1e-2 in bf16/fp16.

:class:`OutputCheck` is what a verdict carries: each comparison's counts (frames missing, added
or moved; labels; chunk calls; scores beyond the tolerance), the largest score difference, the
first ids that differ, and its status: ``same``, ``changed``, ``accepted`` (changed, and the
run was told the change is meant: ``--accept-output-change``) or ``not_compared`` (with why).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal

from virnucpro.bench.outputs import CanonicalOutputs, FrameRow, RoundOutputs
from virnucpro.bench.records import Record
from virnucpro.bench.schema import ResultsDocument
from virnucpro.tolerances import OutputTolerance, output_tolerance

FIRST_IDS = 5  # ids named per comparison
OutputStatus = Literal["same", "changed", "accepted", "not_compared"]
ComparisonKind = Literal["sides", "self"]
ACCEPT_FLAG = "--accept-output-change"


class OutputDiff(Record):
    """How a candidate's outputs differ from a reference's (one pair of rounds)."""

    kind: ComparisonKind  # head against base, or one side against itself
    reference: str  # e.g. "base (first round)"
    candidate: str  # e.g. "head (first round)"
    side: str = ""  # the candidate's side (a "self" comparison: the side against itself)
    frames: int  # kept frames in the reference
    frames_missing: int = 0  # in the reference, not in the candidate
    frames_added: int = 0
    frames_moved: int = 0  # common frames at another position among the common frames
    labels_changed: int = 0
    chunks: int = 0
    chunks_missing: int = 0
    chunks_added: int = 0
    chunk_calls_changed: int = 0
    max_score_difference: float | None = None  # over the common frames; None: none in common
    scores_beyond: int = 0  # frames with a score beyond the tolerance
    first_ids: tuple[str, ...] = ()  # the first frame or chunk ids that differ, in order
    changed: bool = False  # beyond the tolerance

    def counts(self) -> str:
        """What differs, e.g. '3 frames missing, 12 labels, 2 chunk calls, 4 scores'."""
        parts = [
            (self.frames_missing, "frame(s) missing"),
            (self.frames_added, "frame(s) added"),
            (self.frames_moved, "frame(s) moved"),
            (self.labels_changed, "label(s)"),
            (self.chunks_missing, "chunk(s) missing"),
            (self.chunks_added, "chunk(s) added"),
            (self.chunk_calls_changed, "chunk call(s)"),
            (self.scores_beyond, "score(s) beyond the tolerance"),
        ]
        text = ", ".join(f"{n} {what}" for n, what in parts if n)
        return text or "nothing beyond the tolerance"


class OutputCheck(Record):
    """The output check of a run: every comparison, the tolerance, and what it decided."""

    status: OutputStatus
    precision: str
    tolerance: str  # the tolerance's name
    max_score_difference: float  # the score tolerance used
    max_disagreement: float  # the label and chunk-call share allowed to differ
    comparisons: tuple[OutputDiff, ...] = ()
    reason: str = ""  # not_compared: why
    seconds: float | None = None  # reading the outputs and comparing them, outside the rounds

    @property
    def changed(self) -> bool:
        return self.status in ("changed", "accepted")

    @property
    def blocks(self) -> bool:
        """Whether the check stops a time verdict (changed and not accepted)."""
        return self.status == "changed"

    def nondeterministic(self) -> tuple[str, ...]:
        """The sides whose first and last rounds differ beyond the tolerance."""
        return tuple(c.side for c in self.comparisons if c.kind == "self" and c.changed)

    def summary(self) -> str:
        """One line naming what changed (or why nothing was compared)."""
        if self.status == "not_compared":
            return f"outputs not compared: {self.reason}"
        changed = [c for c in self.comparisons if c.changed]
        if not changed:
            frames = self.comparisons[0].frames if self.comparisons else 0
            return (
                f"outputs the same: {frames} kept frames, labels, chunk calls and scores "
                f"within the {self.tolerance} tolerance (±{self.max_score_difference:g})"
            )
        return "; ".join(describe(c, self) for c in changed)

    def headline(self) -> str:
        """The shortest account, for a commit status: the counts of the first change."""
        changed = [c for c in self.comparisons if c.changed]
        if not changed:
            return self.summary()
        first = changed[0]
        where = _where(first)
        return f"{where}: {first.counts()}{_largest(first)}"


def _where(diff: OutputDiff) -> str:
    if diff.kind == "self":
        return f"{diff.side} is nondeterministic"
    return f"{diff.candidate} vs {diff.reference}"


def _largest(diff: OutputDiff) -> str:
    if diff.max_score_difference is None:
        return ""
    return f"; largest score difference {diff.max_score_difference:.3g}"


def describe(diff: OutputDiff, check: OutputCheck) -> str:
    """One comparison in words: where, what differs, the largest score move, the first ids."""
    if diff.kind == "self":
        where = f"{diff.side} is nondeterministic: its first and last measured rounds differ"
    else:
        where = f"the outputs differ, {diff.candidate} against {diff.reference}"
    ids = f"; first ids: {', '.join(diff.first_ids)}" if diff.first_ids else ""
    tolerance = f" (tolerance ±{check.max_score_difference:g}, {check.tolerance})"
    counts = f"{diff.counts()} (of {diff.frames} kept frames)"
    return f"{where}: {counts}{_largest(diff)}{tolerance}{ids}"


# ----------------------------------------------------------------------------- comparing


def _positions(ids: Sequence[str], common: set[str]) -> dict[str, int]:
    kept = [i for i in ids if i in common]
    return {frame_id: n for n, frame_id in enumerate(kept)}


def _score_delta(a: FrameRow, b: FrameRow) -> float:
    return max(abs(a.score1 - b.score1), abs(a.score2 - b.score2))


def _frame_differences(
    ref: Sequence[FrameRow], cand: Sequence[FrameRow], tolerance: OutputTolerance
) -> tuple[dict[str, int], float | None, list[str]]:
    """Counts of frame differences, the largest score move and the differing ids in order."""
    ref_by, cand_by = {r.id: r for r in ref}, {r.id: r for r in cand}
    common = set(ref_by) & set(cand_by)
    ref_pos = _positions([r.id for r in ref], common)
    cand_pos = _positions([r.id for r in cand], common)
    counts = dict.fromkeys(("missing", "added", "moved", "labels", "scores"), 0)
    ids: list[str] = []
    largest: float | None = None
    for row in ref:
        other = cand_by.get(row.id)
        if other is None:
            counts["missing"] += 1
            ids.append(row.id)
            continue
        delta = _score_delta(row, other)
        largest = delta if largest is None else max(largest, delta)
        flags = {
            "moved": ref_pos[row.id] != cand_pos[row.id],
            "labels": row.label != other.label,
            "scores": delta > tolerance.max_score_difference,
        }
        for name, hit in flags.items():
            counts[name] += hit
        if any(flags.values()):
            ids.append(row.id)
    added = [r.id for r in cand if r.id not in ref_by]
    counts["added"] = len(added) + len(cand) - len(cand_by)  # a repeated id counts as added
    return counts, largest, ids + added


def _chunk_differences(
    ref: Sequence[tuple[str, bool]], cand: Sequence[tuple[str, bool]]
) -> tuple[dict[str, int], list[str]]:
    ref_by, cand_by = dict(ref), dict(cand)
    missing = [k for k, _ in ref if k not in cand_by]
    added = [k for k, _ in cand if k not in ref_by]
    calls = [k for k, call in ref if k in cand_by and cand_by[k] != call]
    counts = {"missing": len(missing), "added": len(added), "calls": len(calls)}
    return counts, [*missing, *calls, *added]


def _beyond_share(count: int, total: int, share: float) -> bool:
    return count > share * total if total else count > 0


def compare_outputs(
    reference: CanonicalOutputs,
    candidate: CanonicalOutputs,
    *,
    tolerance: OutputTolerance,
    kind: ComparisonKind,
    names: tuple[str, str],
    side: str = "",
) -> OutputDiff:
    """How ``candidate`` differs from ``reference`` under ``tolerance``; ``names`` are
    (reference, candidate) as the reports say them, ``side`` the candidate's side."""
    label = {"kind": kind, "reference": names[0], "candidate": names[1], "side": side}
    if reference.digest == candidate.digest:
        scored = 0.0 if reference.frames else None
        return OutputDiff(
            frames=reference.frames, chunks=reference.chunks, max_score_difference=scored, **label
        )
    ref, cand = reference.parsed(), candidate.parsed()
    frames, largest, frame_ids = _frame_differences(ref.frames, cand.frames, tolerance)
    chunks, chunk_ids = _chunk_differences(ref.chunks, cand.chunks)
    share = tolerance.max_disagreement
    changed = (
        any(frames[k] for k in ("missing", "added", "moved", "scores"))
        or chunks["missing"]
        or chunks["added"]
        or _beyond_share(frames["labels"], len(ref.frames), share)
        or _beyond_share(chunks["calls"], len(ref.chunks), share)
    )
    return OutputDiff(
        frames=len(ref.frames),
        frames_missing=frames["missing"],
        frames_added=frames["added"],
        frames_moved=frames["moved"],
        labels_changed=frames["labels"],
        chunks=len(ref.chunks),
        chunks_missing=chunks["missing"],
        chunks_added=chunks["added"],
        chunk_calls_changed=chunks["calls"],
        max_score_difference=largest,
        scores_beyond=frames["scores"],
        first_ids=tuple(dict.fromkeys([*frame_ids, *chunk_ids]))[:FIRST_IDS],
        changed=bool(changed),
        **label,
    )


def _empty(precision: str, status: OutputStatus, reason: str = "") -> OutputCheck:
    tolerance = output_tolerance(precision)
    return OutputCheck(
        status=status,
        precision=precision,
        tolerance=tolerance.name,
        max_score_difference=tolerance.max_score_difference,
        max_disagreement=tolerance.max_disagreement,
        reason=reason,
    )


def not_compared(precision: str, reason: str) -> OutputCheck:
    """A check that could not run, and why."""
    return _empty(precision, "not_compared", reason)


def check_outputs(
    reference: RoundOutputs,
    candidate: RoundOutputs,
    *,
    precision: str,
    accepted: bool = False,
    names: tuple[str, str] = ("base", "head"),
    read_seconds: float = 0.0,
) -> OutputCheck:
    """Candidate against reference on the first and the last round, and each side against
    itself; ``accepted`` turns a change into ``accepted``. ``seconds`` counts ``read_seconds``
    (reading the outputs) and this comparison."""
    start = time.perf_counter()
    tolerance = output_tolerance(precision)
    ref_name, cand_name = names
    pairs: tuple[tuple[ComparisonKind, str, str, str, str], ...] = (
        ("sides", ref_name, "first", cand_name, "first"),
        ("sides", ref_name, "last", cand_name, "last"),
        ("self", ref_name, "first", ref_name, "last"),
        ("self", cand_name, "first", cand_name, "last"),
    )
    sides = {ref_name: reference, cand_name: candidate}
    comparisons = [
        compare_outputs(
            getattr(sides[ref_side], ref_round),
            getattr(sides[cand_side], cand_round),
            tolerance=tolerance,
            kind=kind,
            names=(f"{ref_side} ({ref_round} round)", f"{cand_side} ({cand_round} round)"),
            side=cand_side,
        )
        for kind, ref_side, ref_round, cand_side, cand_round in pairs
    ]
    changed = any(c.changed for c in comparisons)
    status: OutputStatus = ("accepted" if accepted else "changed") if changed else "same"
    check = _empty(precision, status)
    return check.model_copy(
        update={
            "comparisons": tuple(comparisons),
            "seconds": read_seconds + time.perf_counter() - start,
        }
    )


def check_documents(
    baseline: ResultsDocument, candidate: ResultsDocument, *, label: str, accepted: bool
) -> tuple[OutputCheck | None, str | None]:
    """The output check of a run against its stored baseline (of the same hardware, workload,
    engine, preset and precision); None and why when one of them kept no outputs: the run ran
    no end-to-end round, or the baseline was stored before outputs were kept."""
    if candidate.outputs is None:
        return None, (
            "outputs not compared: this run's document holds none (no end-to-end round ran, "
            "or it predates the output check)"
        )
    if baseline.outputs is None:
        return None, (
            f"outputs not compared: baseline {label} was stored before outputs were kept "
            "(store a new one with --update-baseline)"
        )
    check = check_outputs(
        baseline.outputs,
        candidate.outputs,
        precision=candidate.run.precision,
        accepted=accepted,
        names=("baseline", "this run"),
    )
    return check, None
