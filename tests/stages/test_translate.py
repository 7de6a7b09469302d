from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from virnucpro.stages.chunking import Chunk
from virnucpro.stages.translate import (
    CODON_TABLE,
    frame_slice,
    keep_frames,
    reverse_complement,
    six_frames,
    translate_frame,
)

SENSE = [c for c, aa in CODON_TABLE.items() if aa != "*"]


def _chunk(seq: str, cid: str = "r_chunk_1") -> Chunk:
    return Chunk(id=cid, sequence=seq, record_id="r", start=0, end=len(seq))


def test_standard_code():
    assert len(CODON_TABLE) == 64
    assert CODON_TABLE["ATG"] == "M"
    assert {c for c, aa in CODON_TABLE.items() if aa == "*"} == {"TAA", "TAG", "TGA"}


def test_ambiguous_codon_is_dropped_not_x():
    assert translate_frame("ATGNNNAAA", 0) == "MK"
    assert translate_frame("ATGAAR", 0) == "M"


def test_reverse_complement_only_swaps_acgt():
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement("acgR") == "Rcgt"


def test_codons_read_while_whole():
    assert translate_frame("ATGAA", 0) == "M"
    assert translate_frame("ATGAAAT", 1) == "*" + "N"


def test_frame_ids_order_and_one_base_longer_slice():
    # 30 sense codons starting with ATG: only F1 is open on a typical sequence
    seq = "ATG" + "GCT" * 29
    frames = keep_frames([_chunk(seq)])
    assert frames[0].id == "r_chunk_1F1"
    assert frames[0].protein == "M" + "A" * 29
    assert frames[0].nucleotide == seq[0 : 1 + 3 * 30]
    tags = [f.id[-2:] for f in frames]
    assert tags == sorted(tags, key=["F1", "F2", "F3", "R1", "R2", "R3"].index)


def test_spec_500bp_open_forward_frames_slices():
    seq = "A" * 500  # AAA=K in every forward frame; TTT=F on the reverse strand
    frames = keep_frames([_chunk(seq)])
    by_tag = {f.id[-2:]: f for f in frames}
    assert len(by_tag["F1"].nucleotide) == 499  # [0, 499)
    assert len(by_tag["F2"].nucleotide) == 499  # [1, 500)
    assert len(by_tag["F3"].nucleotide) == 498  # [2, 500)
    assert [f.id[-2:] for f in frames] == ["F1", "F2", "F3", "R1", "R2", "R3"]


def test_lower_case_is_upper_cased_before_translation():
    frames = keep_frames([_chunk("atggctgct")])
    assert frames[0].protein == "MAA"
    assert frames[0].nucleotide == "ATGGCTGCT"


def test_frame_with_stop_or_empty_is_not_kept():
    # F1 TAA TAA TAA (stops), F2 AAT AAT (NN), F3 ATA ATA (II); reverse TTATTATTA:
    # R1 TTA TTA TTA (LLL), R2 TAT TAT (YY), R3 ATT ATT (II)
    tags = [f.id[-2:] for f in keep_frames([_chunk("TAATAATAA")])]
    assert tags == ["F2", "F3", "R1", "R2", "R3"]
    assert keep_frames([_chunk("AC")]) == []
    assert keep_frames([_chunk("NNNNNN")]) == []  # every codon dropped: empty protein


@given(codons=st.lists(st.sampled_from(SENSE), min_size=1, max_size=200), frame=st.integers(1, 3))
def test_frame_slice_is_3p_plus_1_cut_at_end(codons, frame):
    seq = "C" * (frame - 1) + "".join(codons)
    protein = translate_frame(seq, frame - 1)
    assert protein and "*" not in protein
    piece = frame_slice(seq, frame, len(protein))
    assert piece == seq[frame - 1 : frame + 3 * len(protein)]
    assert len(piece) == min(3 * len(protein) + 1, len(seq) - (frame - 1))


@given(seq=st.text(alphabet="ACGTN", min_size=0, max_size=300))
def test_six_frames_protein_lengths(seq):
    proteins = six_frames(seq)
    for k, protein in enumerate(proteins):
        offset = k % 3
        assert len(protein) <= max(0, (len(seq) - offset) // 3)
    if "N" not in seq:
        for k, protein in enumerate(proteins):
            assert len(protein) == max(0, (len(seq) - k % 3) // 3)


@given(seq=st.text(alphabet="ACGTNRYKMacgtn", min_size=0, max_size=400))
def test_vectorized_six_frames_equal_the_reference_translation(seq):
    upper = seq.upper()
    reverse = reverse_complement(upper)
    expected = tuple(translate_frame(upper, k) for k in range(3)) + tuple(
        translate_frame(reverse, k) for k in range(3)
    )
    assert six_frames(upper) == expected
