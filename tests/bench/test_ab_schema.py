from __future__ import annotations

from pathlib import Path

import pytest

from virnucpro.bench import ab_schema
from virnucpro.errors import InputError


def _sample(seconds: float, dnabert: float) -> ab_schema.RoundSample:
    return ab_schema.RoundSample(
        seconds=seconds,
        cpu_seconds=seconds,
        reads=10,
        bases=5000,
        kept_frames=60,
        dnabert_tokens=1000,
        esm_tokens=2000,
        stages={"dnabert": dnabert, "esm": 0.1, "merge": 0.0},
    )


def _rounds() -> tuple[ab_schema.PairedRound, ...]:
    return tuple(
        ab_schema.PairedRound(
            index=i,
            first="base" if i % 2 else "head",
            base=_sample(1.0 + i / 10, 0.5),
            head=_sample(1.2 + i / 10, 0.7),
            wall_seconds=2.5,
            others_share=0.1,
        )
        for i in range(3)
    )


def test_paired_metrics_keep_both_sides_in_pair_order() -> None:
    metrics = {m.name: m for m in ab_schema.paired_metrics(_rounds())}
    total = metrics[ab_schema.TOTAL_TIME]
    assert total.base == (1.0, 1.1, 1.2) and total.head == pytest.approx((1.2, 1.3, 1.4))
    assert (total.unit, total.better) == ("s", "lower")
    assert metrics[ab_schema.READS_PER_S].head[0] == pytest.approx(10 / 1.2)
    assert metrics["stage.dnabert.time"].head == (0.7, 0.7, 0.7)
    assert metrics["throughput.dnabert.tokens_per_s"].base[0] == pytest.approx(2000.0)
    assert metrics["throughput.esm.tokens_per_s"].better == "higher"
    assert "stage.merge.time" not in metrics  # a zero time has no ratio


def test_record_round_trips(tmp_path: Path) -> None:
    side = ab_schema.SideInfo(
        commit="abc", dirty=False, root="/r", package="/r/virnucpro", load_seconds=1.0
    )
    record = ab_schema.ABRecord(
        ref="main",
        base=side,
        head=side,
        workload="w.fa",
        seed=1,
        warmup=2,
        cpus=2,
        rounds=_rounds(),
    )
    path = ab_schema.write_record(record, tmp_path / "pairs.json")
    assert ab_schema.read_record(path) == record
    assert record.others_shares() == (0.1, 0.1, 0.1)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError, match="not an A/B pairs file"):
        ab_schema.read_record(tmp_path / "bad.json")
