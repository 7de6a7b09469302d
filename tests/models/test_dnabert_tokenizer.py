"""Tests for the DNABERT-S tokenizer wrapper and the tiny tokenizer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from virnucpro.errors import ModelLoadError
from virnucpro.models.dnabert_tokenizer import (
    PUBLISHED_MAX_LENGTH,
    SPECIAL_TOKENS,
    TINY_VOCAB_SIZE,
    DnaTokenizer,
    build_tiny_tokenizer,
    tiny_vocab_and_merges,
    write_tokenizer_json,
)

TOKENIZER = build_tiny_tokenizer()
DNA = st.text(alphabet="ACGT", min_size=1, max_size=300)


def test_special_token_ids_follow_the_published_layout() -> None:
    ids = (TOKENIZER.unk_id, TOKENIZER.cls_id, TOKENIZER.sep_id, TOKENIZER.pad_id)
    assert (*ids, TOKENIZER.mask_id) == (0, 1, 2, 3, 4)
    assert TOKENIZER.vocab_size == TINY_VOCAB_SIZE == 89


def test_encode_wraps_in_cls_and_sep() -> None:
    ids = TOKENIZER.encode("ACGTTGCA")
    assert ids[0] == TOKENIZER.cls_id
    assert ids[-1] == TOKENIZER.sep_id
    assert all(token_id >= len(SPECIAL_TOKENS) for token_id in ids[1:-1])


def test_tiny_tokenization_by_hand() -> None:
    # 2-mers start at id 9 (AA=9, AC=10 ... GT=20); 3-mers at 25 (AAA=25 ... ACG=31).
    # Every 2-mer merge outranks every 3-mer merge, so ACGTACGTAC becomes AC GT AC GT AC.
    assert TOKENIZER.encode("ACGTACGTAC") == [1, 10, 20, 10, 20, 10, 2]
    assert TOKENIZER.encode("ACG") == [1, 31, 2]
    assert TOKENIZER.encode("T") == [1, 8, 2]


def test_unknown_letters_become_unk_as_published() -> None:
    # The published tokenizer.json has no normalizer: N and lower case are not in the vocabulary.
    assert TOKENIZER.encode("N") == [1, 0, 2]
    assert TOKENIZER.encode("acgt") == [1, 0, 0, 0, 0, 2]


@settings(max_examples=50, deadline=None)
@given(sequence=DNA)
def test_decode_round_trip(sequence: str) -> None:
    assert TOKENIZER.decode(TOKENIZER.encode(sequence)) == sequence


def test_no_truncation_and_no_padding() -> None:
    long = ("ACGTTGCAAC" * 150)[:1500]
    ids = TOKENIZER.encode(long)
    assert ids[-1] == TOKENIZER.sep_id
    assert TOKENIZER.decode(ids) == long
    assert TOKENIZER.pad_id not in ids
    longer = "ACGT" * 1750  # more tokens than the file's own truncation length
    assert len(TOKENIZER.encode(longer)) > PUBLISHED_MAX_LENGTH


def test_encode_batch_matches_encode_without_padding() -> None:
    sequences = ["ACGT", "A", "ACGTACGTACGTAAAC", "NNACG"]
    batch = TOKENIZER.encode_batch(sequences)
    assert batch == [TOKENIZER.encode(sequence) for sequence in sequences]
    assert len({len(ids) for ids in batch}) > 1


def test_tiny_tokenizer_is_deterministic() -> None:
    again = build_tiny_tokenizer()
    assert again.to_json() == TOKENIZER.to_json()
    assert tiny_vocab_and_merges() == tiny_vocab_and_merges()


def test_tiny_json_has_the_published_structure() -> None:
    data = json.loads(TOKENIZER.to_json())
    assert [(t["id"], t["content"], t["special"]) for t in data["added_tokens"]] == [
        (i, token, True) for i, token in enumerate(SPECIAL_TOKENS)
    ]
    assert data["normalizer"] is None
    assert data["pre_tokenizer"] == {"type": "Whitespace"}
    assert data["decoder"] is None
    assert data["post_processor"]["type"] == "TemplateProcessing"
    assert data["model"]["type"] == "BPE"
    assert data["model"]["unk_token"] == "[UNK]"
    assert data["model"]["vocab"]["A"] == 5
    assert data["truncation"]["max_length"] == PUBLISHED_MAX_LENGTH
    assert data["padding"]["strategy"] == {"Fixed": PUBLISHED_MAX_LENGTH}


def test_write_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    write_tokenizer_json(TOKENIZER, path)
    assert path.read_text(encoding="utf-8") == TOKENIZER.to_json()
    loaded = DnaTokenizer.from_file(path)
    assert loaded.encode("ACGTTTGA") == TOKENIZER.encode("ACGTTTGA")
    assert loaded.origin == str(path)


def _json_without(field: str) -> str:
    data = json.loads(TOKENIZER.to_json())
    data[field] = None
    return json.dumps(data)


def _json_without_cls() -> str:
    data = json.loads(TOKENIZER.to_json())
    data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] != "[CLS]"]
    data["model"]["vocab"].pop("[CLS]")
    data["post_processor"] = None
    return json.dumps(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not a tokenizer.json"),
        (_json_without("post_processor"), "does not wrap"),
        (_json_without_cls(), "has no [CLS]"),
    ],
    ids=["garbage", "no-post-processor", "no-cls"],
)
def test_bad_tokenizer_files_raise(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelLoadError, match=re.escape(message)) as e:
        DnaTokenizer.from_file(path)
    assert "\n" not in str(e.value)


def test_missing_tokenizer_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="cannot read tokenizer file"):
        DnaTokenizer.from_file(tmp_path / "absent.json")
