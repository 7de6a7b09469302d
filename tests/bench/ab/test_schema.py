from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.bench.ab_records import ab_record, paired_rounds, round_sample
from tests.bench.output_records import ROWS, flip, same_rounds
from virnucpro.bench.ab import schema as ab_schema
from virnucpro.bench.metric_names import (
    CUDA_PEAK_ALLOCATED,
    CUDA_PEAK_RESERVED,
    GPU_ROUND_UTILIZATION,
    HOST_PEAK_RSS,
)
from virnucpro.errors import InputError

ON_CPU = "not measured: the run is on the CPU"
GIB = 2**30


def _gpu(rss: int, util: float) -> dict[str, object]:
    return {
        "host_peak_rss": rss,
        "cuda_peak_allocated": 3 * GIB,
        "cuda_peak_reserved": 4 * GIB,
        "gpu_utilization": util,
        "gpu_utilization_readings": 20,
    }


def _cpu(rss: int) -> dict[str, object]:
    unmeasured = ("cuda_peak_allocated", "cuda_peak_reserved", "gpu_utilization")
    return {"host_peak_rss": rss, "unmeasured": dict.fromkeys(unmeasured, ON_CPU)}


def _rounds(
    base: Callable[[int], dict[str, object]] = lambda i: {},
    head: Callable[[int], dict[str, object]] = lambda i: {},
) -> tuple[ab_schema.PairedRound, ...]:
    return tuple(
        ab_schema.PairedRound(
            index=i,
            first="base" if i % 2 else "head",
            base=round_sample(1.0 + i / 10, 0.5, **base(i)),
            head=round_sample(1.2 + i / 10, 0.7, **head(i)),
            wall_seconds=2.5,
            others_share=0.1,
        )
        for i in range(3)
    )


def _by_name(rounds: tuple[ab_schema.PairedRound, ...]) -> dict[str, ab_schema.PairedMetric]:
    return {m.name: m for m in ab_schema.paired_metrics(rounds)}


def _gaps(rounds: tuple[ab_schema.PairedRound, ...]) -> dict[str, str]:
    return {u.figure.name: u.reason for u in ab_schema.unpaired_figures(rounds)}


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


def test_memory_and_gpu_utilization_are_paired_per_round_when_every_round_has_them() -> None:
    rounds = _rounds(lambda i: _gpu(GIB + i, 60.0 + i), lambda i: _gpu(2 * GIB + i, 50.0))
    metrics = _by_name(rounds)
    rss = metrics[HOST_PEAK_RSS]
    assert rss.base == (GIB, GIB + 1, GIB + 2) and rss.head[0] == 2 * GIB
    assert (rss.unit, rss.better) == ("bytes", "lower")
    assert metrics[CUDA_PEAK_RESERVED].head == (4 * GIB,) * 3
    util = metrics[GPU_ROUND_UTILIZATION]
    assert util.base == (60.0, 61.0, 62.0) and (util.unit, util.better) == ("%", "higher")
    assert _gaps(rounds) == {}


def test_a_figure_missing_in_one_round_is_not_paired_and_says_where() -> None:
    def head(i: int) -> dict[str, object]:
        if i != 1:
            return _gpu(GIB, 50.0)
        return {
            **_gpu(GIB, 50.0),
            "gpu_utilization": None,
            "unmeasured": {"gpu_utilization": "1 reading"},
        }

    rounds = _rounds(lambda i: _gpu(GIB, 60.0), head)
    assert GPU_ROUND_UTILIZATION not in _by_name(rounds)
    assert HOST_PEAK_RSS in _by_name(rounds)
    where = "first: pair 1, head side: 1 reading"
    assert _gaps(rounds) == {
        GPU_ROUND_UTILIZATION: f"not paired: missing in 1 of 6 rounds ({where})"
    }


def test_on_the_cpu_only_the_host_memory_is_paired() -> None:
    rounds = _rounds(lambda i: _cpu(GIB), lambda i: _cpu(GIB))
    assert HOST_PEAK_RSS in _by_name(rounds)
    assert not {CUDA_PEAK_ALLOCATED, CUDA_PEAK_RESERVED, GPU_ROUND_UTILIZATION} & set(
        _by_name(rounds)
    )
    assert _gaps(rounds) == {
        CUDA_PEAK_ALLOCATED: ON_CPU,
        CUDA_PEAK_RESERVED: ON_CPU,
        GPU_ROUND_UTILIZATION: ON_CPU,
    }


def test_a_zero_utilization_has_no_ratio_and_is_named() -> None:
    rounds = _rounds(lambda i: _gpu(GIB, 0.0 if i == 2 else 40.0), lambda i: _gpu(GIB, 40.0))
    assert GPU_ROUND_UTILIZATION not in _by_name(rounds)
    assert _gaps(rounds)[GPU_ROUND_UTILIZATION] == (
        "not paired: 0 % in pair 2 (base side) has no ratio"
    )


@pytest.mark.parametrize(
    "figures",
    [
        {"host_peak_rss": GIB, "unmeasured": {"host_peak_rss": "psutil is not installed"}},
        {"unmeasured": {"seconds": "why"}},
    ],
)
def test_a_reason_goes_only_with_a_missing_figure(figures: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        round_sample(1.0, 0.5, **figures)


def test_a_schema_1_file_still_reads_with_its_figures_not_recorded(tmp_path: Path) -> None:
    """What the A/B mode wrote before per-round figures existed: rounds without them."""
    record = ab_record(_rounds())
    data = record.model_dump(mode="json")
    data["schema_version"] = 1
    for pair in data["rounds"]:
        for side in ("base", "head"):
            for field in (*ab_schema.FIGURE_FIELDS, "gpu_utilization_readings", "unmeasured"):
                del pair[side][field]
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(data))
    old = ab_schema.read_record(path)
    assert old.schema_version == 1 and len(old.rounds) == 3
    assert {m.name for m in old.paired_metrics()} == {m.name for m in record.paired_metrics()}
    assert set(_gaps(old.rounds).values()) == {ab_schema.NOT_RECORDED}
    assert len(_gaps(old.rounds)) == len(ab_schema.ROUND_FIGURES)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    data = ab_record(_rounds()).model_dump(mode="json")
    data["schema_version"] = ab_schema.AB_SCHEMA_VERSION + 1
    (tmp_path / "new.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match="schema_version"):
        ab_schema.read_record(tmp_path / "new.json")


def test_record_round_trips(tmp_path: Path) -> None:
    record = ab_record(_rounds(lambda i: _cpu(GIB), lambda i: _gpu(GIB, 50.0)))
    path = ab_schema.write_record(record, tmp_path / "pairs.json")
    assert ab_schema.read_record(path) == record
    assert record.others_shares() == (0.1, 0.1, 0.1)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError, match="not an A/B pairs file"):
        ab_schema.read_record(tmp_path / "bad.json")


def test_cpu_time_is_paired_beside_the_wall_time() -> None:
    cpu = _by_name(_rounds())[ab_schema.CPU_TIME]
    assert (cpu.unit, cpu.better) == ("s", "lower")
    assert cpu.base == (1.0, 1.1, 1.2)  # round_sample's CPU seconds are its wall seconds


def test_a_schema_2_file_reads_without_a_protocol(tmp_path: Path) -> None:
    data = ab_record(_rounds()).model_dump(mode="json")
    data["schema_version"] = 2
    del data["protocol"]
    for pair in data["rounds"]:
        del pair["cpus"]
        for side in ("base", "head"):
            del pair[side]["predicts"]
    (tmp_path / "v2.json").write_text(json.dumps(data))
    old = ab_schema.read_record(tmp_path / "v2.json")
    assert old.protocol is None and old.rounds[0].cpus is None
    assert old.rounds[0].base.predicts == 1


def test_a_protocol_describes_itself() -> None:
    protocol = ab_schema.RoundProtocol(order="abba", gc_off=True, pin_cpus="split", repeat=3)
    assert protocol.describe() == (
        "rounds: ABBA order, collector off during a round, each worker pinned to its own CPU, "
        "swapped every two pairs, 3 predict(s) a round, one pair of workers for the whole run"
    )
    assert "random order, collector on, not pinned" in ab_schema.RoundProtocol().describe()
    fresh = ab_schema.RoundProtocol(fresh_workers_every=40).describe()
    assert fresh.endswith(", fresh workers every 40 pairs")


def test_a_record_of_schema_4_reads_as_one_pair_of_workers(tmp_path: Path) -> None:
    record = ab_record(
        paired_rounds([1.0] * 6, [1.0] * 6),
        protocol=ab_schema.RoundProtocol(fresh_workers_every=3),
    )
    data = record.model_dump(mode="json")
    data["schema_version"] = 4
    del data["restart_seconds"]
    for pair in data["rounds"]:
        del pair["workers"]
    del data["protocol"]["fresh_workers_every"]
    (tmp_path / "v4.json").write_text(json.dumps(data))
    old = ab_schema.read_record(tmp_path / "v4.json")
    assert old.worker_pairs == 1 and old.restart_seconds == ()
    assert old.paired_metrics()[0].workers == ()


def _clocked(extra: float) -> Callable[[int], dict[str, object]]:
    return lambda i: {"harness_seconds": 1.0 + i / 10 + extra}


def test_the_harness_clock_is_the_total_time_and_the_worker_timer_its_companion() -> None:
    metrics = _by_name(_rounds(_clocked(0.5), _clocked(0.01)))
    total = metrics[ab_schema.TOTAL_TIME]
    assert total.base == pytest.approx((1.5, 1.6, 1.7))  # the harness's, not the worker's 1.0
    assert total.head == pytest.approx((1.01, 1.11, 1.21))
    assert metrics[ab_schema.READS_PER_S].base[0] == pytest.approx(10 / 1.5)
    worker = metrics[ab_schema.WORKER_TIME]
    assert worker.base == (1.0, 1.1, 1.2) and worker.better == "none"
    record = ab_record(_rounds(_clocked(0.5), _clocked(0.01)))
    overheads = record.clock_overheads()
    assert len(overheads) == 6 and min(overheads) == pytest.approx(-0.19)


def test_without_the_harness_clock_in_every_round_the_worker_timer_is_used() -> None:
    rounds = _rounds(lambda i: {"harness_seconds": 9.0} if i else {})
    metrics = _by_name(rounds)
    assert metrics[ab_schema.TOTAL_TIME].base == (1.0, 1.1, 1.2)
    assert ab_schema.WORKER_TIME not in metrics and not ab_schema.harness_clocked(rounds)


def test_the_record_checks_both_sides_outputs() -> None:
    pair = ab_schema.PairOutputs(base=same_rounds(), head=same_rounds(flip(ROWS, 1)))
    record = ab_record(_rounds(), precision="fp32", outputs=pair)
    assert record.check_outputs().status == "changed"
    assert record.check_outputs(accepted=True).status == "accepted"
    same = ab_record(
        _rounds(),
        precision="bf16",
        outputs=ab_schema.PairOutputs(base=same_rounds(), head=same_rounds(), read_seconds=0.25),
    )
    check = same.check_outputs()
    assert check.status == "same" and check.precision == "bf16"
    assert check.seconds is not None and check.seconds >= 0.25


def test_a_record_without_outputs_is_not_compared_and_says_why() -> None:
    assert ab_record(_rounds()).check_outputs().reason == (
        f"the pairs file (schema {ab_schema.AB_SCHEMA_VERSION}) holds no outputs"
    )
    broken = ab_schema.PairOutputs(problem="head: /w/head-out/prediction_results.txt: not written")
    check = ab_record(_rounds(), outputs=broken).check_outputs()
    assert check.status == "not_compared" and "head-out" in check.reason


def test_a_schema_2_file_still_reads_with_no_outputs(tmp_path: Path) -> None:
    data = ab_record(_rounds()).model_dump(mode="json")
    data["schema_version"] = 2
    for key in ("precision", "outputs"):
        del data[key]
    for pair in data["rounds"]:
        for side in ("base", "head"):
            del pair[side]["harness_seconds"]
    (tmp_path / "v2.json").write_text(json.dumps(data))
    old = ab_schema.read_record(tmp_path / "v2.json")
    assert old.check_outputs().reason == "the pairs file (schema 2) holds no outputs"
    assert ab_schema.WORKER_TIME not in {m.name for m in old.paired_metrics()}
