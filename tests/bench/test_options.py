"""Benchmark options: tiers, suite lists, validation, and the suites' config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from virnucpro.bench.options import (
    SUITES,
    TIERS,
    BenchOptions,
    SessionConfig,
    for_tier,
    read_session_config,
    resolve_suites,
    validate_options,
    write_session_config,
)
from virnucpro.errors import InputError


def test_suites_expand_aliases_comma_lists_and_all() -> None:
    assert resolve_suites(["scaling", "memory,e2e"]) == ("end_to_end", "memory", "scaling")
    assert resolve_suites(["memory", "all"]) == SUITES
    with pytest.raises(InputError, match="unknown suite 'warp'"):
        resolve_suites(["memory,warp"])
    with pytest.raises(InputError, match="no suite"):
        resolve_suites([" , "])


def test_tier_defaults_yield_to_explicit_options() -> None:
    quick = for_tier("quick", rounds=None, data_size="small")
    assert quick.tier == "quick" and quick.data_size == "small"
    assert quick.rounds == TIERS["quick"].rounds
    assert for_tier("quick", rounds=3, scaling_rounds=3).launch_rounds == 3
    assert for_tier(None).tier == "custom"
    with pytest.raises(InputError, match="unknown tier"):
        for_tier("turbo")
    with pytest.raises(InputError, match="unknown benchmark option"):
        for_tier("quick", colour="blue")


def test_quick_tier_is_cpu_sized() -> None:
    quick = TIERS["quick"]
    assert (quick.data_size, quick.models, quick.threads) == ("tiny", "tiny", 1)
    assert quick.rounds >= 10 and quick.launch_rounds >= 5  # enough samples to judge


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"data_size": "huge"}, "--data-size"),
        ({"rounds": 0}, "--rounds"),
        ({"warmup": -1}, "warm-up"),
        ({"precision": "fp8"}, "--precision"),
        ({"threads": 0}, "--threads"),
        ({"input": Path("/nonexistent.fa")}, "--input"),
        ({"thresholds": Path("/nonexistent.toml")}, "--thresholds"),
    ],
)
def test_validation_refuses_unusable_values(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        validate_options(BenchOptions(**changes))  # type: ignore[arg-type]


def test_session_config_round_trips(tmp_path: Path) -> None:
    options = BenchOptions(
        suites=("memory",), gpus=(0, 1), input=tmp_path / "in.fa", output_dir=tmp_path
    )
    config = SessionConfig(options, tmp_path / "r.json", "run-1", "virnucpro benchmark")
    assert read_session_config(write_session_config(tmp_path / "c.json", config)) == config


def test_session_config_errors_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"kind": "something else"}')
    with pytest.raises(InputError, match="not a benchmark config"):
        read_session_config(path)
    with pytest.raises(InputError, match="cannot read"):
        read_session_config(tmp_path / "missing.json")
