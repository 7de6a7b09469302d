"""Shared formatting for the benchmark renderers: quantities with units, tables, sparklines.

Every renderer formats numbers through these helpers so that the markdown report, the PR
comment, the comparison and the dashboard agree. A value that was not measured is rendered as
``unavailable`` (with its reason), never as zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from tabulate import tabulate

from tools.bench.verdict import MetricJudgement, Mode, Verdict
from virnucpro.bench.paired_stats import ESTIMATOR_WORDS
from virnucpro.bench.schema import Metric

UNAVAILABLE = "unavailable"
TABLE_FORMAT = "github"
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_FLAT = SPARK_BLOCKS[3]  # all values equal: a flat line at mid height
SPARK_GAP = " "  # a run where the metric was not measured

BYTE_UNITS = frozenset({"B", "byte", "bytes"})
SECOND_UNITS = frozenset({"s", "sec", "seconds"})
PERCENT_UNITS = frozenset({"%", "percent"})
RATIO_UNITS = frozenset({"ratio", "", "1"})
TIMES_UNITS = frozenset({"x", "×"})
BINARY_PREFIXES = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
BYTES_PER_STEP = 1024.0
SECONDS_PER_MINUTE = 60.0
SECONDS_PER_HOUR = 3600.0
KIND_WORDS = {"gpu": "GPU", "rank": "rank"}
# The change column says which change it is: in A/B mode the median of the per-pair ratios
# head/base (not the ratio of the two sides' own medians beside it), with its 95% interval;
# against a stored run, the change of the median (with the history's interval where it judged).
CHANGE_HEADINGS: dict[Mode, str] = {
    "paired": "paired median change (+ worse) [interval]",
    "stored": "change of the median (+ worse) [interval]",
}
SIDE_HEADINGS: dict[Mode, tuple[str, str]] = {
    "paired": ("base median", "head median"),
    "stored": ("baseline median", "candidate median"),
}
IMMATERIAL_WORD = "immaterial"


def unavailable(reason: str | None = None) -> str:
    """``unavailable (reason)``: how every renderer shows something that was not measured."""
    return f"{UNAVAILABLE} ({reason})" if reason else UNAVAILABLE


def format_number(value: float) -> str:
    """About four significant digits, thousands separated; small values keep three digits."""
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1 or magnitude == 0:
        return f"{value:.2f}"
    return f"{value:.3g}"


def format_duration(seconds: float) -> str:
    """Seconds as µs, ms, s, 'm min s s' or 'h h mm min', whichever reads best."""
    magnitude = abs(seconds)
    if magnitude < 1e-3 and magnitude > 0:
        return f"{seconds * 1e6:.3g} µs"
    if magnitude < 1 and magnitude > 0:
        return f"{seconds * 1e3:.3g} ms"
    if magnitude < SECONDS_PER_MINUTE:
        return f"{seconds:.2f} s"
    if magnitude < SECONDS_PER_HOUR:
        minutes, rest = divmod(seconds, SECONDS_PER_MINUTE)
        return f"{int(minutes)} min {rest:04.1f} s"
    hours, rest = divmod(seconds, SECONDS_PER_HOUR)
    return f"{int(hours)} h {int(rest // SECONDS_PER_MINUTE):02d} min"


def format_bytes(count: float) -> str:
    """Bytes with binary prefixes (KiB, MiB, GiB, ...)."""
    value = float(count)
    for prefix in BINARY_PREFIXES[:-1]:
        if abs(value) < BYTES_PER_STEP:
            return f"{value:.0f} B" if prefix == "B" else f"{value:.2f} {prefix}"
        value /= BYTES_PER_STEP
    return f"{value:.2f} {BINARY_PREFIXES[-1]}"


def format_percent(value: float, *, fraction: bool = True) -> str:
    """A percentage with one decimal; ``fraction=True`` means 0.85 is 85.0%."""
    return f"{value * 100 if fraction else value:.1f}%"


def format_quantity(value: float | None, unit: str, *, reason: str | None = None) -> str:
    """A value in its unit (durations, bytes, percent, ratios, rates); None is 'unavailable'."""
    if value is None:
        return unavailable(reason)
    if unit in SECOND_UNITS:
        return format_duration(value)
    if unit in BYTE_UNITS:
        return format_bytes(value)
    if unit in PERCENT_UNITS:
        return format_percent(value, fraction=False)
    if unit in TIMES_UNITS:
        return f"{format_number(value)}x"
    if unit in RATIO_UNITS:
        return format_number(value)
    return f"{format_number(value)} {unit}"


def format_change(change: float | None) -> str:
    """A signed relative change as a percentage: 0.123 is '+12.3%'."""
    if change is None:
        return unavailable()
    return f"{change * 100:+.1f}%"


def format_level(confidence: float) -> str:
    """'95%', '98.75%': a confidence level with as many digits as it needs to read right."""
    text = f"{confidence:.0%}"
    return text if abs(float(text[:-1]) / 100 - confidence) < 5e-4 else f"{confidence:.2%}"


def change_heading(verdict: Verdict) -> str:
    """The change column's heading for ``verdict``: in A/B mode the paired estimator and its
    interval's level (``paired median change (+ worse) [98.75% interval]``), else the change
    of the median."""
    design = verdict.design
    if verdict.mode != "paired" or design is None:
        return CHANGE_HEADINGS[verdict.mode]
    words = ESTIMATOR_WORDS.get(design.estimator, design.estimator)  # type: ignore[call-overload]
    what = words if words.startswith("paired") else f"paired {words}"
    return f"{what} change (+ worse) [{format_level(design.confidence)} interval]"


def change_cell(judgement: MetricJudgement) -> str:
    """'+5.2% [+1.0%, +9.8%]': the judged change, with its interval when it has one."""
    if judgement.change is None:
        return "n/a"
    text = format_change(judgement.change)
    low, high = judgement.interval_low, judgement.interval_high
    if low is not None and high is not None:
        text += f" [{format_change(low)}, {format_change(high)}]"
    return text


def status_cell(judgement: MetricJudgement) -> str:
    """'PASS', or 'PASS (immaterial)' for a slowdown passed under the floor share of the total
    (the reason gives the share and the seconds)."""
    word = judgement.status.upper()
    return f"{word} ({IMMATERIAL_WORD})" if judgement.immaterial else word


def format_p(value: float | None) -> str:
    """A p-value: three significant digits, '< 0.001' below that."""
    if value is None:
        return "n/a"
    return "< 0.001" if value < 1e-3 else f"{value:.3g}"


def metric_value(metric: Metric | None, *, missing: str = "not recorded in this run") -> str:
    """A metric's median in its unit, or 'unavailable (reason)'."""
    if metric is None:
        return unavailable(missing)
    return format_quantity(metric.median, metric.unit, reason=metric.reason)


def metric_summary(metric: Metric | None, *, missing: str = "not recorded in this run") -> str:
    """Median ± IQR with the sample count: '12.30 s ± 0.40 s IQR (n=5)'."""
    if metric is None or not metric.available:
        return metric_value(metric, missing=missing)
    median = format_quantity(metric.median, metric.unit)
    n = len(metric.samples)
    if metric.iqr is None:
        return f"{median} (n={n}, IQR needs 2+ samples)"
    return f"{median} ± {format_quantity(metric.iqr, metric.unit)} IQR (n={n})"


def worker_count(workers: int, kind: str) -> str:
    """'1 GPU', '4 GPUs', '2 ranks'."""
    word = KIND_WORDS.get(kind, kind)
    return f"{workers} {word}{'s' if workers != 1 else ''}"


def _cell(value: object) -> str:
    """A table cell: pipes escaped and newlines folded so a reason cannot break the table."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A github-flavoured markdown table over already formatted cells."""
    cells = [[_cell(value) for value in row] for row in rows]
    return tabulate(cells, headers=list(headers), tablefmt=TABLE_FORMAT, disable_numparse=True)


def bullet_list(items: Iterable[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def sparkline(values: Sequence[float | None]) -> str:
    """Unicode block sparkline; None (not measured in that run) leaves a gap."""
    present = [v for v in values if v is not None and math.isfinite(v)]
    if not present:
        return SPARK_GAP * len(values)
    low, high = min(present), max(present)
    span = high - low
    top = len(SPARK_BLOCKS) - 1
    chars = []
    for value in values:
        if value is None or not math.isfinite(value):
            chars.append(SPARK_GAP)
        elif span == 0:
            chars.append(SPARK_FLAT)
        else:
            chars.append(SPARK_BLOCKS[round((value - low) / span * top)])
    return "".join(chars)
