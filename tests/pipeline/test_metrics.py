"""One rank's stage clocks, and how rank 0 combines the ranks' into the run's stages."""

from __future__ import annotations

from pathlib import Path

from virnucpro.pipeline.metrics import (
    SHARED_INPUT_STAGES,
    RankTimes,
    StageMetrics,
    combine_rank_stages,
    read_rank_stages,
)


def test_a_rank_sums_a_stage_over_its_shards_and_writes_it(tmp_path: Path) -> None:
    times = RankTimes()
    times.add(StageMetrics("esm", 1.0, 10, 10, tokens=100, batches=2))
    times.add(StageMetrics("esm", 2.0, 5, 5, tokens=50, batches=1))
    times.write(tmp_path / "rank0.json")
    assert read_rank_stages(tmp_path / "rank0.json") == [
        StageMetrics("esm", 3.0, 15, 15, tokens=150, batches=3)
    ]


def test_ranks_combine_to_the_slowest_time_and_summed_counts() -> None:
    rank0 = [StageMetrics("read", 1.0, 0, 40), StageMetrics("esm", 2.0, 10, 10, tokens=100)]
    rank1 = [StageMetrics("read", 1.5, 0, 40), StageMetrics("esm", 3.0, 12, 12, tokens=120)]
    merge = StageMetrics("merge_shards", 0.5, 4, 22)
    read, esm, last = combine_rank_stages([rank0, rank1], merge)
    assert "read" in SHARED_INPUT_STAGES
    assert read == StageMetrics("read", 1.5, 0, 40)  # every rank reads the whole input
    assert esm == StageMetrics("esm", 3.0, 22, 22, tokens=220)
    assert last is merge
