"""Builders of published outputs for tests: canonical outputs from rows, a side's two rounds,
flipped labels and nudged scores, and the output checks of two sides."""

from __future__ import annotations

from virnucpro.bench.output_check import OutputCheck, check_outputs
from virnucpro.bench.outputs import CanonicalOutputs, RoundOutputs, canonical_outputs

Row = tuple[str, str, float, float]  # frame id, label, score1, score2
ROWS: list[Row] = [(f"r{i}_chunk_1F{i % 3 + 1}", "virus", 0.4, 0.6) for i in range(200)]


def outputs(rows: list[Row]) -> CanonicalOutputs:
    """The canonical outputs of ``rows``, with the chunk calls the pipeline would publish."""
    frames = "".join(f"{i}\t{label}\t{a!r}\t{b!r}\n" for i, label, a, b in rows)
    calls: dict[str, bool] = {}
    for frame_id, _, a, b in rows:
        key = frame_id[:-2]
        calls[key] = calls.get(key, False) or b >= a
    chunks = "".join(f"{k}\t{v}\n" for k, v in sorted(calls.items()))
    return canonical_outputs(frames, chunks)


def same_rounds(rows: list[Row] = ROWS) -> RoundOutputs:
    return RoundOutputs(first=outputs(rows), last=outputs(rows))


def flip(rows: list[Row], *indexes: int) -> list[Row]:
    """``rows`` with the frames at ``indexes`` called the other way (scores swapped)."""
    return [
        (i, "others", b, a) if n in indexes else (i, label, a, b)
        for n, (i, label, a, b) in enumerate(rows)
    ]


def nudge(rows: list[Row], by: float) -> list[Row]:
    return [(i, label, a - by, b + by) for i, label, a, b in rows]


def same_check(precision: str = "fp32") -> OutputCheck:
    return check_outputs(same_rounds(), same_rounds(), precision=precision)


def changed_check(*, accepted: bool = False) -> OutputCheck:
    """Head flips two labels against base, in both rounds."""
    head = same_rounds(flip(ROWS, 5, 9))
    return check_outputs(same_rounds(), head, precision="fp32", accepted=accepted)
