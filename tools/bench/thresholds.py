"""Regression thresholds: named defaults, a TOML loader, CLI overrides, and the rule per metric.

The defaults are the ``DEFAULT_*`` constants below; :func:`rule_for` says how each metric is
judged. A thresholds file is TOML with the field names of :class:`Thresholds` as top-level keys
(missing keys keep their defaults).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

import virnucpro.bench.stats as stats
from virnucpro.bench.ab.schema import Order, Pinning
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.paired_stats import Estimator
from virnucpro.bench.records import Record, SchemaError, first_error_line, read_text_file
from virnucpro.bench.schema import Metric
from virnucpro.bench.sequential import Spending

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

DEFAULT_FAIL_SLOWDOWN = 0.10
DEFAULT_UTILIZATION_DROP_POINTS = 5.0
DEFAULT_MEMORY_GROWTH = 0.20
DEFAULT_SCALING_EFFICIENCY_DROP = 0.05
DEFAULT_OTHER_CHANGE = 0.10
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_SAMPLES = 5
# The metric whose slowdown fails the gate (the plan: "more than 10% slower in total time fails");
# other time metrics warn.
GATE_TIME_METRICS = frozenset({TOTAL_TIME_METRIC})
# A part of the run (a stage, a cold cost) warns only when its slowdown also amounts to this
# share of the end-to-end total time: on shared machines, millisecond stages (file writes,
# merges) shift by 20-30% between unchanged runs, and such shifts do not matter to anyone.
DEFAULT_MIN_TIME_SHARE = 0.02
# The host gate (the CPU twin of the GPU validity gate): when other processes used more than
# this share of the machine's CPU capacity (median over the measured rounds, the benchmark's own
# processes not counted), the run is INVALID (exit 2), never a regression. A stored-baseline run
# compares with another time, so any real contention biases it; A/B pairs see the same drift on
# both sides and tolerate more, but not a machine whose every CPU is taken by others.
DEFAULT_BUSY_HOST_SHARE = 0.25
DEFAULT_AB_BUSY_HOST_SHARE = 0.50
# A/B mode: pairs measured first, pairs added per block while a gate metric is undecided, and
# the wall-clock budget of the rounds (seconds): the budget is time, and the pairs it holds at
# the pace of the first block are the planned horizon of the sequential design. The pair cap
# is only a safety bound (a machine so fast that the budget would hold more pairs than anyone
# needs); the cap before issue 19 was 60 pairs (AB_OLD_MAX_PAIRS, the ablation's "off").
# Thresholds and these settings are read from the base commit, never from the change under test.
DEFAULT_AB_INITIAL_PAIRS = 20
DEFAULT_AB_BLOCK_PAIRS = 20
AB_SAFETY_MAX_PAIRS = 2000
AB_OLD_MAX_PAIRS = 60
DEFAULT_AB_MAX_PAIRS = AB_SAFETY_MAX_PAIRS
DEFAULT_AB_TIME_BUDGET_S = 180.0
# A/B levers (issue 19), each switchable for the ablation (scripts/ablation.py):
# - the estimator of the per-pair ratios (virnucpro.bench.paired_stats.ESTIMATORS);
# - the alpha spending over the looks of the more-pairs loop (virnucpro.bench.sequential);
# - how each round is measured: CPU pinning of the workers ("split": each its own CPU, swapped
#   every four pairs; "shared": both on one CPU; "off"), garbage collection off during a round
#   (collected before it), the order of the two sides in a pair ("abba": balanced over every
#   two pairs; "random": drawn per pair), and predicts per round (their mean is the round's).
DEFAULT_AB_ESTIMATOR = "median"
DEFAULT_AB_SPENDING = "pocock"
DEFAULT_AB_PIN = "off"
DEFAULT_AB_GC_OFF = False  # measured: collecting before each round halved the pairs a minute
DEFAULT_AB_ORDER = "abba"
DEFAULT_AB_ROUND_REPEAT = 1
MAX_AB_ROUND_REPEAT = 50
# Fresh workers: two worker processes of the same code differ by a steady offset (measured on
# the shared 2-core machine, 2026-12-03: -4.0% to +3.1% over 20 A/A runs, about 1.3% SD, beside
# about 10% between single pairs) that pairing within one pair of processes cannot remove. Both
# workers are replaced every DEFAULT_AB_FRESH_WORKERS_EVERY pairs (0: never), the interval is
# widened by the between-process spread the run measured (virnucpro.bench.paired_stats), and a
# decision on the total time needs pairs from DEFAULT_AB_MIN_WORKER_PAIRS pairs of workers.
DEFAULT_AB_FRESH_WORKERS_EVERY = 40
DEFAULT_AB_MIN_WORKER_PAIRS = 2
THRESHOLDS_FILE_NAME = "thresholds.toml"
# Stored-baseline mode with a run history: a metric's between-run noise is measured from the
# medians of earlier comparable valid runs, the most recent MAX_HISTORY_RUNS that have it (older
# runs describe an older machine and code); with fewer than MIN_HISTORY_RUNS the metric is judged
# on the rounds of the one stored run instead. Three runs are the fewest whose spread means
# anything: the t quantile at 2 degrees of freedom (4.30) already makes their interval wide.
MIN_HISTORY_RUNS = 3
MAX_HISTORY_RUNS = 10
# A stored-number verdict (against a stored run or the history) may FAIL only when those runs
# come from at least this many different days (UTC dates): runs of one day share that day's
# machine, so their spread misses the drift between days that a stored run of another day
# carries. Fewer days: the change is reported, as drift, never as a failure.
MIN_HISTORY_DAYS = 2

# Requirement targets (shown apart from the regression gate).
MIN_SPEEDUP = 10.0  # fast engine against vanilla, end to end
MIN_SCALING_EFFICIENCY = 0.90  # at the largest worker count measured
MIN_GPU_UTILIZATION = 80.0  # percent, median over telemetry samples
# Recommendation thresholds.
HIGH_VARIANCE_RATIO = 0.10  # IQR / median above this: too noisy to trust small changes
MAX_NOISY_METRICS_LISTED = 5
COLD_SHARE_NOTABLE = 0.25  # model load above this share of total time dominates small inputs
RESERVED_OVER_ALLOCATED = 1.5  # reserved/allocated above this: cached or fragmented memory
LOW_MEMORY_HEADROOM = 0.10  # less free than this fraction of capacity: out-of-memory risk
HIGH_MEMORY_HEADROOM = 0.50  # more free than this: larger batches are possible

TIME_UNITS = frozenset({"s", "ms", "us", "µs", "ns"})
BYTE_UNITS = frozenset({"B", "bytes", "KB", "KiB", "MB", "MiB", "GB", "GiB"})
PERCENT_UNIT = "%"
DIMENSIONLESS_UNITS = frozenset({"", "ratio", "fraction", "x"})
UTILIZATION_MARKER = "util"
EFFICIENCY_MARKER = "efficiency"
PERCENT_PER_FRACTION = 100.0
# Targets on a GPU (issue 11; judged by the requirements and by scripts/gpu_check.py).
MAX_SAMPLER_OVERHEAD = 0.01  # the GPU sampler may cost at most 1% of throughput, measured
MIN_ESM_CEILING_FRACTION = 0.50  # ESM-2 3B in bf16: at least half the measured bf16 ceiling

Category = Literal["time", "memory", "utilization", "scaling", "other"]

Severity = Literal["fail", "warn"]
Mode = Literal["relative", "absolute"]


class Thresholds(Record):
    """Every knob of the regression check, validated; build variants with :func:`with_overrides`."""

    fail_slowdown: float = Field(default=DEFAULT_FAIL_SLOWDOWN, gt=0.0, le=10.0)
    warn_utilization_drop_points: float = Field(
        default=DEFAULT_UTILIZATION_DROP_POINTS, gt=0.0, le=100.0
    )
    warn_memory_growth: float = Field(default=DEFAULT_MEMORY_GROWTH, gt=0.0, le=10.0)
    warn_scaling_efficiency_drop: float = Field(
        default=DEFAULT_SCALING_EFFICIENCY_DROP, gt=0.0, le=1.0
    )
    warn_other_change: float = Field(default=DEFAULT_OTHER_CHANGE, gt=0.0, le=10.0)
    alpha: float = Field(default=DEFAULT_ALPHA, gt=0.0, le=0.5)
    min_samples: int = Field(default=DEFAULT_MIN_SAMPLES, ge=2)
    min_time_share: float = Field(default=DEFAULT_MIN_TIME_SHARE, ge=0.0, le=1.0)
    busy_host_share: float = Field(default=DEFAULT_BUSY_HOST_SHARE, gt=0.0, le=1.0)
    ab_busy_host_share: float = Field(default=DEFAULT_AB_BUSY_HOST_SHARE, gt=0.0, le=1.0)
    ab_initial_pairs: int = Field(default=DEFAULT_AB_INITIAL_PAIRS, ge=6)
    ab_block_pairs: int = Field(default=DEFAULT_AB_BLOCK_PAIRS, ge=1)
    ab_max_pairs: int = Field(default=DEFAULT_AB_MAX_PAIRS, ge=6)
    ab_time_budget_s: float = Field(default=DEFAULT_AB_TIME_BUDGET_S, gt=0.0)
    ab_estimator: Estimator = DEFAULT_AB_ESTIMATOR
    ab_spending: Spending = DEFAULT_AB_SPENDING
    ab_pin_cpus: Pinning = DEFAULT_AB_PIN
    ab_gc_off: bool = DEFAULT_AB_GC_OFF
    ab_order: Order = DEFAULT_AB_ORDER
    ab_round_repeat: int = Field(default=DEFAULT_AB_ROUND_REPEAT, ge=1, le=MAX_AB_ROUND_REPEAT)
    ab_fresh_workers_every: int = Field(default=DEFAULT_AB_FRESH_WORKERS_EVERY, ge=0)
    ab_min_worker_pairs: int = Field(default=DEFAULT_AB_MIN_WORKER_PAIRS, ge=1)


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class MetricRule:
    """How one metric is judged: its category, what crossing the threshold means, and where.

    ``threshold`` is a fraction of the baseline median when ``mode`` is relative, and an amount
    in the metric's own unit when ``mode`` is absolute.
    """

    category: Category
    severity: Severity
    mode: Mode
    threshold: float

    def describe(self) -> str:
        if self.mode == "relative":
            return f"{self.threshold:.0%}"
        return f"{self.threshold:g}"


def thresholds_from_mapping(data: dict[str, object], *, source: str) -> Thresholds:
    """Validate a mapping of threshold fields; anything wrong is a one-line SchemaError."""
    try:
        return Thresholds.model_validate(data)
    except ValidationError as exc:
        line = first_error_line(exc, whole="<thresholds>")
        raise SchemaError(f"{source}: invalid thresholds: {line}") from None


def load_thresholds(path: Path) -> Thresholds:
    """Read a thresholds TOML file (missing keys keep their defaults)."""
    text = read_text_file(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError(f"{path}: not valid TOML ({exc})") from None
    return thresholds_from_mapping(data, source=str(path))


def with_overrides(
    thresholds: Thresholds, **overrides: float | int | str | bool | None
) -> Thresholds:
    """A copy with the given fields replaced (None leaves a field as it is), validated again."""
    given = {name: value for name, value in overrides.items() if value is not None}
    return thresholds_from_mapping({**thresholds.model_dump(), **given}, source="options")


def _in_unit(fraction: float, unit: str) -> float:
    """An amount given as a fraction of full scale, in the metric's unit (% or fraction)."""
    return fraction * PERCENT_PER_FRACTION if unit == PERCENT_UNIT else fraction


def category_of(metric: Metric) -> Category:
    """Which rule family a metric belongs to, from its unit first and its name second."""
    name = metric.name.lower()
    if metric.unit in TIME_UNITS:
        return "time"
    if metric.unit in BYTE_UNITS:
        return "memory"
    if UTILIZATION_MARKER in name:
        return "utilization"
    if EFFICIENCY_MARKER in name:
        return "scaling"
    return "other"


def rule_for(metric: Metric, thresholds: Thresholds) -> MetricRule:
    """The judging rule for a metric.

    The total time (``GATE_TIME_METRICS``, the plan's gate) fails beyond ``fail_slowdown``
    when the slowdown is significant. Every other time metric is a part of that total (a
    stage, a cold cost): beyond the same fraction it warns and is named, so a stage that
    doubles inside a total that barely moved is shown without failing the gate. Utilization
    warns beyond a drop in points, memory beyond a growth, scaling efficiency beyond a drop,
    any other metric with a direction beyond ``warn_other_change``.
    """
    category = category_of(metric)
    if category == "time":
        severity: Severity = "fail" if metric.name in GATE_TIME_METRICS else "warn"
        return MetricRule(category, severity, "relative", thresholds.fail_slowdown)
    if category == "memory":
        return MetricRule(category, "warn", "relative", thresholds.warn_memory_growth)
    if category == "utilization":
        points = thresholds.warn_utilization_drop_points / PERCENT_PER_FRACTION
        return MetricRule(category, "warn", "absolute", _in_unit(points, metric.unit))
    if category == "scaling":
        drop = thresholds.warn_scaling_efficiency_drop
        return MetricRule(category, "warn", "absolute", _in_unit(drop, metric.unit))
    return MetricRule(category, "warn", "relative", thresholds.warn_other_change)


def relative_threshold(rule: MetricRule, baseline_median: float) -> float:
    """The rule's threshold as a fraction of the baseline median (absolute rules convert)."""
    if rule.mode == "relative":
        return rule.threshold
    if baseline_median == 0.0:
        return math.inf
    return rule.threshold / abs(baseline_median)


def _display_unit(unit: str) -> str:
    if unit == PERCENT_UNIT:
        return " points"
    return "" if unit in DIMENSIONLESS_UNITS else f" {unit}"


def describe_change(change: float, *, rule: MetricRule, unit: str, delta: float) -> str:
    """'12.0% worse (threshold 10%)', '6 points better (threshold 5 points)', 'unchanged (...)'.

    ``change`` is relative, worse positive; ``delta`` is the absolute move of the median, named
    instead when the rule is absolute (points of utilization, scaling efficiency).
    """
    word = "worse" if change > 0 else "better"
    if rule.mode == "relative":
        amount, limit = f"{abs(change):.1%}", rule.describe()
    else:
        shown = _display_unit(unit)
        amount, limit = f"{abs(delta):.3g}{shown}", f"{rule.threshold:g}{shown}"
    moved = "unchanged" if change == 0.0 else f"{amount} {word}"
    return f"{moved} (threshold {limit})"


def applies_floor(name: str, rule: MetricRule) -> bool:
    """Whether a metric is a part of the total time (a stage, a cold cost): a time metric that
    is not a gate metric, judged also against the floor share of the total."""
    return rule.category == "time" and name not in GATE_TIME_METRICS


@dataclass(frozen=True)
class TimeFloor:
    """The smallest slowdown of a part of the run that matters: ``share`` of the total time's
    median, ``seconds`` in all."""

    seconds: float
    share: float

    def immaterial(self) -> str:
        """The words every judge and renderer uses for a slowdown under the floor."""
        amount = f"{self.seconds * 1e3:.3g} ms" if self.seconds < 1.0 else f"{self.seconds:.3g} s"
        return f"immaterial: under {self.share:.0%} of total time ({amount})"


def time_floor(total_samples: Sequence[float], thresholds: Thresholds) -> TimeFloor | None:
    """How much a part of the run must slow down by to matter: ``min_time_share`` of the total
    time's median (None when the total was not measured or the floor is switched off)."""
    if not total_samples or thresholds.min_time_share == 0:
        return None
    seconds = thresholds.min_time_share * stats.median(total_samples)
    return TimeFloor(seconds=seconds, share=thresholds.min_time_share)
