"""virnucpro.bench.outputs: the published outputs in canonical form, read back and checked."""

from __future__ import annotations

import base64
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from virnucpro.bench import outputs as out
from virnucpro.errors import InputError

PREDICTIONS = (
    "Sequence_ID\tPrediction\tscore1\tscore2\n"
    "r1_chunk_1F1\tvirus\t0.25\t0.75\n"
    "r1_chunk_1R2\tothers\t0.875\t0.125\n"
    "r2_chunk_1F3\tvirus\t0.4170364\t0.58296365\n"
)
HIGHEST = "Modified_ID\tIs_Virus\nr1_chunk_1\tTrue\nr2_chunk_1\tTrue\n"


def write_outputs(folder: Path, predictions: str = PREDICTIONS, highest: str = HIGHEST) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / out.PREDICTIONS_FILE).write_text(predictions, encoding="utf-8")
    (folder / out.HIGHEST_FILE).write_text(highest, encoding="utf-8")
    return folder


def test_reading_keeps_the_rows_exactly_as_published(tmp_path: Path) -> None:
    record = out.read_outputs(write_outputs(tmp_path))
    assert (record.frames, record.chunks) == (3, 2)
    parsed = record.parsed()
    assert parsed.frames[2] == out.FrameRow("r2_chunk_1F3", "virus", 0.4170364, 0.58296365)
    assert parsed.chunks == (("r1_chunk_1", True), ("r2_chunk_1", True))


def test_line_endings_and_a_trailing_blank_do_not_change_the_digest(tmp_path: Path) -> None:
    unix = out.read_outputs(write_outputs(tmp_path / "a"))
    windows = PREDICTIONS.replace("\n", "\r\n") + "\r\n"
    other = out.read_outputs(write_outputs(tmp_path / "b", windows, HIGHEST + "\n"))
    assert unix.digest == other.digest


def test_a_changed_score_changes_the_digest(tmp_path: Path) -> None:
    unix = out.read_outputs(write_outputs(tmp_path / "a"))
    moved = out.read_outputs(write_outputs(tmp_path / "b", PREDICTIONS.replace("0.25", "0.26")))
    assert unix.digest != moved.digest


def test_a_missing_file_is_one_line_naming_it(tmp_path: Path) -> None:
    folder = write_outputs(tmp_path)
    (folder / out.HIGHEST_FILE).unlink()
    with pytest.raises(InputError, match=r"prediction_results_highestscore\.csv: not written"):
        out.read_outputs(folder)


@pytest.mark.parametrize(
    ("predictions", "highest", "message"),
    [
        (PREDICTIONS + "r3\tvirus\t0.5\n", HIGHEST, "frame row 4: 3 fields"),
        (PREDICTIONS + "r3\tvirus\tx\t0.5\n", HIGHEST, "not a number"),
        (PREDICTIONS + "r3\tvirus\tnan\t0.5\n", HIGHEST, "not finite"),
        (PREDICTIONS, HIGHEST + "r3_chunk_1\tyes\n", "chunk row 3"),
    ],
)
def test_malformed_outputs_are_refused(
    tmp_path: Path, predictions: str, highest: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        out.read_outputs(write_outputs(tmp_path, predictions, highest))


def test_a_record_whose_digest_does_not_match_is_refused(tmp_path: Path) -> None:
    record = out.read_outputs(write_outputs(tmp_path))
    data = {**record.model_dump(), "digest": "0" * 64}
    with pytest.raises(ValidationError, match="digest does not match"):
        out.CanonicalOutputs.model_validate(data)


def test_a_record_with_other_counts_is_refused(tmp_path: Path) -> None:
    record = out.read_outputs(write_outputs(tmp_path))
    with pytest.raises(ValidationError, match="row counts"):
        out.CanonicalOutputs.model_validate({**record.model_dump(), "frames": 4})


def test_a_decompression_bomb_is_refused_before_it_is_inflated() -> None:
    huge = base64.b64encode(zlib.compress(b"a" * (out.MAX_TEXT_BYTES + 10))).decode()
    with pytest.raises(ValidationError, match="larger than"):
        out.CanonicalOutputs(frames=0, chunks=0, digest="x", frames_text=huge, chunks_text="")


def test_text_that_is_not_base64_is_refused() -> None:
    with pytest.raises(ValidationError, match="not zlib and base64"):
        out.CanonicalOutputs(frames=0, chunks=0, digest="x", frames_text="%%", chunks_text="")


def test_the_keeper_reads_after_the_first_round_and_again_at_the_end(tmp_path: Path) -> None:
    folder = write_outputs(tmp_path)
    keeper = out.OutputKeeper(folder)
    keeper.after_first_round()
    write_outputs(folder, PREDICTIONS.replace("0.25", "0.3"))
    keeper.after_first_round()  # only the first call keeps anything
    rounds = keeper.rounds()
    assert rounds is not None and rounds.first.digest != rounds.last.digest
    assert rounds.first.parsed().frames[0].score1 == 0.25
    assert keeper.seconds > 0 and keeper.problem is None


def test_the_keeper_says_why_it_has_nothing(tmp_path: Path) -> None:
    keeper = out.OutputKeeper(tmp_path / "never-written")
    keeper.after_first_round()
    assert keeper.rounds() is None
    assert keeper.problem is not None and "not written" in keeper.problem
    idle = out.OutputKeeper(tmp_path)
    assert idle.rounds() is None
    assert idle.problem is not None and "no measured round" in idle.problem


ROW_IDS = st.text(alphabet="abcdefgh_0123456789", min_size=1, max_size=12)
SCORES = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@given(st.lists(st.tuples(ROW_IDS, st.sampled_from(["virus", "others"]), SCORES, SCORES)))
def test_any_published_rows_survive_the_round_trip(
    rows: list[tuple[str, str, float, float]],
) -> None:
    text = "".join(f"{i}\t{label}\t{a!r}\t{b!r}\n" for i, label, a, b in rows)
    record = out.canonical_outputs(text, "")
    again = out.CanonicalOutputs.model_validate_json(record.model_dump_json())
    assert again == record
    assert [(r.id, r.label, r.score1, r.score2) for r in again.parsed().frames] == rows
