"""How the reports show the output check: the title's words, one block, and the status line.

A run whose outputs differ from its reference's reads OUTPUTS CHANGED: its times are still
shown, marked :data:`NOT_COMPARABLE`. A change accepted with ``--accept-output-change`` keeps
its time verdict, and the title (the first line of the report and of the PR comment) says the
outputs changed and were accepted.
"""

from __future__ import annotations

from tools.bench.report.formatting import bullet_list, table
from tools.bench.verdict import Verdict
from virnucpro.bench.output_check import ACCEPT_FLAG, OutputCheck, OutputDiff, describe

NOT_COMPARABLE = "not comparable: the outputs differ"
ACCEPTED_WORDS = "outputs changed and were accepted"
STATUS_WORDS = {
    "same": "the same",
    "changed": "CHANGED",
    "accepted": "changed, accepted",
    "not_compared": "not compared",
}


def title_suffix(verdict: Verdict | None) -> str:
    """What the first line adds: the accepted change, or nothing."""
    if verdict is not None and verdict.outputs_accepted:
        return f" ({ACCEPTED_WORDS})"
    return ""


def times_note(verdict: Verdict | None) -> str | None:
    """The mark on the time figures of a run whose outputs differ (or the accepted change)."""
    if verdict is None or verdict.outputs is None or not verdict.outputs.changed:
        return None
    if verdict.outputs_accepted:
        return f"Times judged although the outputs differ: the change was accepted ({ACCEPT_FLAG})."
    return f"Times {NOT_COMPARABLE}."


def _score(diff: OutputDiff) -> str:
    return "n/a" if diff.max_score_difference is None else f"{diff.max_score_difference:.3g}"


def _frames(diff: OutputDiff) -> str:
    moved = (diff.frames_missing, diff.frames_added, diff.frames_moved)
    return f"{diff.frames} ({'/'.join(str(n) for n in moved)})"


def comparisons_table(check: OutputCheck) -> str:
    rows = [
        (
            f"{d.candidate} vs {d.reference}",
            "CHANGED" if d.changed else "same",
            _frames(d),
            str(d.labels_changed),
            f"{d.chunk_calls_changed} of {d.chunks}",
            _score(d),
            ", ".join(f"`{i}`" for i in d.first_ids) or "none",
        )
        for d in check.comparisons
    ]
    headers = (
        "comparison",
        "outputs",
        "frames (missing/added/moved)",
        "labels changed",
        "chunk calls changed",
        "largest score difference",
        "first ids that differ",
    )
    return table(headers, rows)


def outputs_block(verdict: Verdict | None, *, compact: bool = False) -> str | None:
    """The output check in markdown: what it found, each comparison, its cost; ``compact``
    (the PR comment) gives outputs that are the same one line."""
    check = verdict.outputs if verdict is not None else None
    if check is None:
        return None
    head = f"**Outputs: {STATUS_WORDS[check.status]}.**"
    if not check.changed:
        head = f"{head} {check.summary()}"
    if compact and not check.changed:
        return head
    tolerance = (
        f"Tolerance ({check.tolerance}, precision {check.precision}): each score within "
        f"±{check.max_score_difference:g}; labels and chunk calls differing on at most "
        f"{check.max_disagreement:.1%} of frames and chunks; the kept frames identical."
    )
    cost = f"Checked in {check.seconds:.3f} s." if check.seconds is not None else None
    lines = [head, tolerance]
    if check.comparisons:
        lines.append(comparisons_table(check))
    changed = [describe(d, check) for d in check.comparisons if d.changed]
    if changed:
        lines.append(bullet_list(changed))
    return "\n\n".join([*lines, *([cost] if cost else [])])


def status_line(check: OutputCheck) -> str:
    """The commit status's account of a change: where, the counts, the largest score move."""
    return f"outputs changed: {check.headline()}"
