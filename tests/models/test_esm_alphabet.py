"""EsmAlphabet against fair-esm's own Alphabet, BatchConverter and get_batch_indices."""

from __future__ import annotations

import esm
import pytest
import torch
from esm.data import FastaBatchedDataset
from hypothesis import given, settings
from hypothesis import strategies as st

from virnucpro.models.esm_alphabet import ESM_TOKENS, RESIDUE_TOKENS, EsmAlphabet

FAIR = esm.data.Alphabet.from_architecture("ESM-1b")
ALPHABET = EsmAlphabet()
residues = st.text(alphabet=st.sampled_from(RESIDUE_TOKENS), max_size=40)


def test_tokens_and_special_ids_are_fair_esm_esm1b() -> None:
    assert list(ESM_TOKENS) == FAIR.all_toks
    assert len(ALPHABET) == len(FAIR) == 33
    assert (ALPHABET.cls_idx, ALPHABET.padding_idx, ALPHABET.eos_idx, ALPHABET.unk_idx) == (
        0,
        1,
        2,
        3,
    )
    assert ALPHABET.mask_idx == FAIR.mask_idx == 32
    assert ALPHABET.index("<mask>") == 32
    assert ALPHABET.index("<nope>") == ALPHABET.unk_idx


@given(residues)
def test_encode_matches_fair_esm(seq: str) -> None:
    assert ALPHABET.encode(seq) == FAIR.encode(seq)


def test_unknown_letters_map_to_unk_one_token_each() -> None:
    unk = ALPHABET.unk_idx
    assert ALPHABET.encode("MJa\u00e9K") == [FAIR.get_idx("M"), unk, unk, unk, FAIR.get_idx("K")]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(residues, min_size=1, max_size=6),
    st.sampled_from([1, 3, 7, 1024, None]),
)
def test_batch_tokens_match_batch_converter(seqs: list[str], truncation: int | None) -> None:
    converter = FAIR.get_batch_converter(truncation_seq_length=truncation)
    _, _, expected = converter([(f"s{i}", s) for i, s in enumerate(seqs)])
    got = ALPHABET.batch_tokens(seqs, truncation=truncation)
    assert got.dtype == torch.int64
    assert torch.equal(got, expected)


def test_batch_tokens_layout() -> None:
    tokens = ALPHABET.batch_tokens(["MK", "A"], truncation=1024)
    m, k, a = (FAIR.get_idx(c) for c in "MKA")
    assert tokens.tolist() == [[0, m, k, 2], [0, a, 2, 1]]


def test_batch_tokens_rejects_non_positive_truncation() -> None:
    with pytest.raises(ValueError, match="truncation"):
        ALPHABET.batch_tokens(["MK"], truncation=0)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=60) | st.integers(0, 3000), max_size=40),
    st.sampled_from([1, 12, 50, 700, 2048]),
    st.integers(min_value=0, max_value=2),
)
def test_batch_indices_match_fair_esm(lengths: list[int], budget: int, extra: int) -> None:
    dataset = FastaBatchedDataset(
        [f"s{i}" for i in range(len(lengths))], ["A" * n for n in lengths]
    )
    expected = dataset.get_batch_indices(budget, extra_toks_per_seq=extra)
    got = ALPHABET.toks_per_batch_indices(lengths, toks_per_batch=budget, extra_toks_per_seq=extra)
    assert got == expected
    assert sorted(i for batch in got for i in batch) == list(range(len(lengths)))


def test_batch_indices_example_and_defaults() -> None:
    # sorted (3, 1), (5, 0), (3000, 2); budget 10 with 1 extra: 4*1 fits, 6*2 does not.
    assert ALPHABET.toks_per_batch_indices([5, 3, 3000], toks_per_batch=10) == [[1], [0], [2]]
    # defaults are VirNucPro's: 2048 tokens, 1 extra per sequence; 2 x 1024 = 2048 still fits.
    assert ALPHABET.toks_per_batch_indices([1023, 1023, 5]) == [[2, 0], [1]]
