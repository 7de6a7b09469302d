"""virnucpro.bench.output_check: the same outputs, changed outputs, and a nondeterministic side."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.bench.output_records import ROWS, Row, flip, nudge, outputs, same_rounds
from virnucpro.bench.output_check import check_outputs, compare_outputs, not_compared
from virnucpro.bench.outputs import RoundOutputs
from virnucpro.tolerances import FP32_OUTPUTS, REDUCED_OUTPUTS


def compare(ref: list[Row], cand: list[Row], tolerance=FP32_OUTPUTS):
    return compare_outputs(
        outputs(ref), outputs(cand), tolerance=tolerance, kind="sides", names=("base", "head")
    )


def test_identical_outputs_are_the_same_with_a_zero_score_difference() -> None:
    diff = compare(ROWS, ROWS)
    assert not diff.changed and diff.max_score_difference == 0.0
    assert diff.counts() == "nothing beyond the tolerance"


def test_a_flipped_label_is_counted_and_named_in_fp32() -> None:
    diff = compare(ROWS, flip(ROWS, 3))
    assert diff.changed
    assert diff.labels_changed == 1 and diff.chunk_calls_changed == 1
    assert diff.max_score_difference == pytest.approx(0.2)
    assert diff.first_ids[0] == ROWS[3][0]


def test_scores_within_the_fp32_tolerance_are_the_same_beyond_it_changed() -> None:
    assert not compare(ROWS, nudge(ROWS, 5e-5)).changed
    beyond = compare(ROWS, nudge(ROWS, 5e-4))
    assert beyond.changed and beyond.scores_beyond == len(ROWS)
    assert beyond.labels_changed == 0 and "200 score(s) beyond the tolerance" in beyond.counts()


def test_reduced_precision_allows_small_score_moves_and_rare_label_flips() -> None:
    assert not compare(ROWS, nudge(ROWS, 1e-3), REDUCED_OUTPUTS).changed
    assert compare(ROWS, nudge(ROWS, 3e-3), REDUCED_OUTPUTS).changed
    near_tie = [(i, "virus", 0.4999, 0.5001) for i, _, _, _ in ROWS]
    one_flip = [
        (i, "others", 0.5001, 0.4999) if n == 0 else (i, lab, a, b)
        for n, (i, lab, a, b) in enumerate(near_tie)
    ]
    assert not compare(near_tie, one_flip, REDUCED_OUTPUTS).changed  # 1 of 200 = 0.5%
    two_flips = [
        (i, "others", 0.5001, 0.4999) if n < 2 else (i, lab, a, b)
        for n, (i, lab, a, b) in enumerate(near_tie)
    ]
    assert compare(near_tie, two_flips, REDUCED_OUTPUTS).changed  # 1%
    assert compare(near_tie, one_flip, FP32_OUTPUTS).changed


def test_missing_added_and_moved_frames_change_the_outputs_at_any_precision() -> None:
    missing = compare(ROWS, ROWS[1:], REDUCED_OUTPUTS)
    assert missing.changed and missing.frames_missing == 1 and missing.chunks_missing == 1
    added = compare(ROWS[1:], ROWS, REDUCED_OUTPUTS)
    assert added.changed and added.frames_added == 1 and added.chunks_added == 1
    assert added.first_ids == (ROWS[0][0], "r0_chunk_1")  # the frame, then its chunk
    swapped = [ROWS[1], ROWS[0], *ROWS[2:]]
    moved = compare(ROWS, swapped, REDUCED_OUTPUTS)
    assert moved.changed and moved.frames_moved == 2 and moved.labels_changed == 0


def test_a_repeated_frame_counts_as_added() -> None:
    assert compare(ROWS, [*ROWS, ROWS[0]]).frames_added == 1


def test_the_check_compares_both_rounds_and_each_side_against_itself() -> None:
    check = check_outputs(same_rounds(ROWS), same_rounds(ROWS), precision="fp32")
    assert check.status == "same" and not check.changed and not check.blocks
    assert [c.kind for c in check.comparisons] == ["sides", "sides", "self", "self"]
    names = [(c.candidate, c.reference) for c in check.comparisons]
    assert names == [
        ("head (first round)", "base (first round)"),
        ("head (last round)", "base (last round)"),
        ("base (last round)", "base (first round)"),
        ("head (last round)", "head (first round)"),
    ]
    assert "outputs the same: 200 kept frames" in check.summary()
    assert check.seconds is not None and check.seconds >= 0


def test_a_changed_head_blocks_and_names_what_changed() -> None:
    head = same_rounds(flip(ROWS, 5, 9))
    check = check_outputs(same_rounds(ROWS), head, precision="fp32")
    assert check.status == "changed" and check.blocks and check.nondeterministic() == ()
    summary = check.summary()
    assert "the outputs differ, head (first round) against base (first round)" in summary
    assert "2 label(s), 2 chunk call(s)" in summary and ROWS[5][0] in summary
    assert "largest score difference 0.2" in check.headline()


def test_accepting_keeps_the_findings_but_does_not_block() -> None:
    check = check_outputs(
        same_rounds(ROWS), same_rounds(flip(ROWS, 1)), precision="fp32", accepted=True
    )
    assert check.status == "accepted" and check.changed and not check.blocks


def test_a_side_that_differs_from_itself_is_named_nondeterministic() -> None:
    head = RoundOutputs(first=outputs(ROWS), last=outputs(nudge(ROWS, 1e-3)))
    check = check_outputs(same_rounds(ROWS), head, precision="fp32")
    assert check.nondeterministic() == ("head",)
    assert "head is nondeterministic: its first and last measured rounds differ" in check.summary()
    assert check.headline().startswith("head (last round) vs base (last round)")


def test_not_compared_says_why() -> None:
    check = not_compared("bf16", "the head worker wrote no outputs")
    assert check.status == "not_compared" and not check.blocks
    assert check.summary() == "outputs not compared: the head worker wrote no outputs"
    assert check.max_score_difference == REDUCED_OUTPUTS.max_score_difference


ROW_STRATEGY = st.lists(
    st.tuples(
        st.integers(0, 10_000).map(lambda n: f"x{n}_chunk_1F1"),
        st.sampled_from(["virus", "others"]),
        st.floats(0, 1),
        st.floats(0, 1),
    ),
    unique_by=lambda r: r[0],
    max_size=40,
)


@given(ROW_STRATEGY)
def test_outputs_are_the_same_as_themselves(rows: list[Row]) -> None:
    assert not compare(rows, rows).changed


@given(ROW_STRATEGY, st.data())
def test_any_dropped_frame_is_a_change_that_names_it(rows: list[Row], data: st.DataObject) -> None:
    if not rows:
        return
    index = data.draw(st.integers(0, len(rows) - 1))
    diff = compare(rows, rows[:index] + rows[index + 1 :], REDUCED_OUTPUTS)
    assert diff.changed and diff.frames_missing == 1 and rows[index][0] in diff.first_ids
