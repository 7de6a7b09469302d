from __future__ import annotations

from virnucpro.stages.aggregate import ChunkCall, FramePrediction, aggregate_chunks


def test_max_per_chunk_ties_go_to_virus_and_sorted():
    preds = [
        FramePrediction("b_chunk_1F1", "others", 0.9, 0.1),
        FramePrediction("b_chunk_1R2", "virus", 0.2, 0.8),
        FramePrediction("a_chunk_10F1", "others", 0.6, 0.4),
        FramePrediction("a_chunk_2F3", "virus", 0.5, 0.5),
    ]
    assert aggregate_chunks(preds) == [
        ChunkCall("a_chunk_10", False),
        ChunkCall("a_chunk_2", True),  # tie -> virus
        ChunkCall("b_chunk_1", False),  # max(score2)=0.8 < max(score1)=0.9
    ]


def test_no_frames_no_calls():
    assert aggregate_chunks([]) == []
