"""The host gate: whether other processes kept the machine too busy to measure.

The CPU twin of the GPU validity gate. A run records other processes' share of the CPUs per
measured round (``host.others_cpu_share``); above a limit (median over the rounds) the run is
INVALID: it is not judged (exit 2), and it cannot become a stored baseline either.
"""

from __future__ import annotations

from collections.abc import Sequence

import virnucpro.bench.stats as stats
from virnucpro.bench.metric_names import OTHERS_CPU_METRIC
from virnucpro.bench.schema import ResultsDocument


def others_shares(results: ResultsDocument) -> tuple[float, ...]:
    """Other processes' share of the CPUs per measured round (empty when not measured)."""
    metric = results.metric(OTHERS_CPU_METRIC)
    return metric.samples if metric is not None and metric.available else ()


def busy_reason(shares: Sequence[float], limit: float) -> str | None:
    """Why the host was too busy to measure (median share of others above ``limit``), or None."""
    if not shares:
        return None
    share = stats.median(shares)
    if share <= limit:
        return None
    return (
        f"INVALID: host busy, other processes used {share:.0%} of the CPUs during the rounds "
        f"(median), above the {limit:.0%} limit"
    )
