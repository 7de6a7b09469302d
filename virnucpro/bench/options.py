"""Benchmark options, defined once: used by ``virnucpro benchmark``, the suites and Nox.

A tier is a named set of defaults (``quick``, ``full``, ``vanilla``); explicit options win.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

SUITES = ("scaling", "throughput", "memory", "equivalence", "end_to_end")
SUITE_ALIASES = {"e2e": "end_to_end", "all": "all"}
DATA_SIZES = ("tiny", "small", "medium", "large")
DEFAULT_OUTPUT_DIR = Path("tests/reports")
DEFAULT_BASELINE_DIR = Path("baselines")
RESULTS_FILE = "results.json"


@dataclass(frozen=True)
class BenchOptions:
    """Everything a benchmark run takes. ``suites`` are names from :data:`SUITES`."""

    tier: str = "custom"
    suites: tuple[str, ...] = SUITES
    data_size: str = "small"
    input: Path | None = None  # any user FASTA replaces the generated data
    models: str = "tiny"
    engine: str = "fast"
    gpus: tuple[int, ...] | None = None  # None: auto-detect
    rounds: int = 5
    warmup: int = 1
    expected_length: int = 500
    vanilla_baseline: bool = False
    output_dir: Path = DEFAULT_OUTPUT_DIR
    baseline_dir: Path = DEFAULT_BASELINE_DIR
    compare_to: Path | None = None
    update_baseline: bool = False
    require_baseline: bool = False
    thresholds: Path | None = None
    sample_interval: float = 0.2
    seed: int = 0


TIERS: dict[str, BenchOptions] = {
    # tiny data, tiny models: a few minutes on a 2-core CPU; the README's main job
    "quick": BenchOptions(tier="quick", data_size="tiny", models="tiny", rounds=5, warmup=1),
    # every suite, larger data, the published model sizes (random weights), all GPUs
    "full": BenchOptions(tier="full", data_size="medium", models="dnabert-s+esm2-3b", rounds=5),
    # the vanilla engine as the reference: equivalence and speedup against it
    "vanilla": BenchOptions(
        tier="vanilla", suites=("equivalence",), data_size="small", vanilla_baseline=True, rounds=3
    ),
}


def resolve_suites(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Expand ``all`` and aliases; keep the canonical order; reject unknown names."""
    wanted: set[str] = set()
    for name in names:
        name = SUITE_ALIASES.get(name, name)
        if name == "all":
            return SUITES
        if name not in SUITES:
            raise ValueError(f"unknown suite {name!r} (choose from {', '.join(SUITES)}, all)")
        wanted.add(name)
    return tuple(s for s in SUITES if s in wanted)


def for_tier(tier: str, **overrides: object) -> BenchOptions:
    """The tier's defaults with explicit overrides applied (``None`` means 'not given')."""
    base = TIERS.get(tier, BenchOptions(tier=tier))
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(base, **given)
