"""Names of metrics that code outside the suites refers to, defined once.

A plain module with no imports, so the command line can name them without loading the schema
(pydantic) when it only builds its parser.
"""

from __future__ import annotations

# The headline metric: end-to-end wall time of one predict (written by the end-to-end suite).
TOTAL_TIME_METRIC = "end_to_end.total_time"
SAMPLER_OVERHEAD_METRIC = "gpu.sampler_overhead"  # measured with and without the sampler
END_TO_END_SPEEDUP_METRIC = "equivalence.end_to_end_speedup"  # fast vs vanilla, per round
