"""Where the time went: the operators whose self time changed most, per stage, and the cost."""

from __future__ import annotations

from tests.tools.bench.make_fixtures import assert_snapshot
from tools.bench.culprit.profile import (
    TOP_OPERATORS,
    profile_lines,
    render_profile,
    stage_changes,
)
from virnucpro.bench.ab.profile import OperatorTime, ProfileRecord, SideProfile


def _op(stage: str, name: str, calls: int, us: float, *, device_us: float = 0.0, kind="operator"):
    return OperatorTime(
        kind=kind, stage=stage, name=name, calls=calls, self_cpu_us=us, device_us=device_us
    )


def _side(operators, *, device: str = "cpu", commit: str = "a" * 40) -> SideProfile:
    return SideProfile(
        commit=commit,
        device=device,
        round_seconds=0.6,
        processing_seconds=1.2,
        wall_seconds=1.9,
        timed_median_seconds=0.5,
        stages=("classify", "dnabert", "esm"),
        operators=tuple(operators),
    )


def doubled_dnabert() -> ProfileRecord:
    """DNABERT-S's forward pass runs twice in the head; ESM and the rest are unchanged."""
    base = [
        _op("dnabert", "aten::addmm", 48, 10_000.0),
        _op("dnabert", "aten::mm", 16, 12_000.0),
        _op("dnabert", "aten::gelu", 16, 3_000.0),
        _op("esm", "aten::addmm", 72, 27_000.0),
        _op("outside the models", "aten::to", 58, 12_000.0),
    ]
    head = [
        _op("dnabert", "aten::addmm", 96, 20_500.0),
        _op("dnabert", "aten::mm", 32, 24_100.0),
        _op("dnabert", "aten::gelu", 32, 6_000.0),
        _op("esm", "aten::addmm", 72, 26_500.0),
        _op("outside the models", "aten::to", 58, 12_200.0),
        _op("outside the models", "aten::cat", 4, 900.0),  # only in the head
    ]
    return ProfileRecord(label="good (aaaaaaaaaaaa)", base=_side(base), head=_side(head))


def test_the_stage_that_changed_most_comes_first_with_its_matmuls_at_the_top() -> None:
    stages = stage_changes(doubled_dnabert())
    assert stages[0].stage == "dnabert"
    top = stages[0].operators
    assert [c.name for c in top[:2]] == ["aten::mm", "aten::addmm"]
    assert (top[1].base_calls, top[1].head_calls) == (48, 96)
    assert top[0].head_share is not None and abs(top[0].head_share - 24_100 / 50_600) < 1e-9


def test_an_operator_only_on_one_side_counts_from_zero() -> None:
    outside = next(s for s in stage_changes(doubled_dnabert()) if s.stage == "outside the models")
    cat = next(c for c in outside.operators if c.name == "aten::cat")
    assert (cat.base_calls, cat.base_us, cat.base_share) == (0, 0.0, 0.0)


def test_at_most_ten_operators_per_stage() -> None:
    base = [_op("esm", f"op{i}", 1, 100.0) for i in range(15)]
    head = [_op("esm", f"op{i}", 1, 100.0 + i) for i in range(15)]
    record = ProfileRecord(label="x", base=_side(base), head=_side(head))
    [stage] = stage_changes(record)
    assert len(stage.operators) == TOP_OPERATORS
    assert stage.operators[0].name == "op14"


def test_on_cuda_operators_rank_by_device_time_and_kernels_have_their_own_table() -> None:
    base = [
        _op("esm", "aten::addmm", 10, 900.0, device_us=5_000.0),
        _op("esm", "ampere_sgemm_128x64", 10, 0.0, device_us=4_800.0, kind="kernel"),
    ]
    head = [
        _op("esm", "aten::addmm", 20, 950.0, device_us=10_000.0),
        _op("esm", "ampere_sgemm_128x64", 20, 0.0, device_us=9_700.0, kind="kernel"),
    ]
    record = ProfileRecord(
        label="x", base=_side(base, device="cuda:0"), head=_side(head, device="cuda:0")
    )
    [ops] = stage_changes(record)
    assert ops.operators[0].change_us == 5_000.0  # the device time, not the CPU launch time
    [kernels] = stage_changes(record, "kernel")
    assert kernels.operators[0].name == "ampere_sgemm_128x64"
    markdown = render_profile(record)
    assert "**`esm`**, CUDA kernels" in markdown and "device self time" in markdown


def test_the_cost_is_each_profiled_round_beyond_a_timed_one() -> None:
    record = doubled_dnabert()
    assert abs(record.cost_seconds - 2 * (1.9 - 0.5)) < 1e-9
    assert profile_lines(record)[-1].startswith("Profiling cost 2.80 s beyond two timed rounds")


def test_the_profile_section_snapshot() -> None:
    assert_snapshot("profile_doubled_dnabert.md", render_profile(doubled_dnabert()) + "\n")
