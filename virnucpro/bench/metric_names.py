"""Names of metrics that code outside the suites refers to, defined once.

A plain module with no imports, so the command line can name them without loading the schema
(pydantic) when it only builds its parser.
"""

from __future__ import annotations

# The headline metric: end-to-end wall time of one predict (written by the end-to-end suite).
TOTAL_TIME_METRIC = "end_to_end.total_time"
# A/B mode: the worker process's CPU seconds (user + system) over the same predict, paired
# beside the wall time as a companion figure (it warns; the wall time is the gate).
CPU_TIME_METRIC = "end_to_end.process_cpu_time"
SAMPLER_OVERHEAD_METRIC = "gpu.sampler_overhead"  # measured with and without the sampler
END_TO_END_SPEEDUP_METRIC = "equivalence.end_to_end_speedup"  # fast vs vanilla, per round

# Share of the machine's CPU capacity other processes used during the rounds (the host gate).
OTHERS_CPU_METRIC = "host.others_cpu_share"

# Peak memory of a measured round (the memory suite; paired per round in A/B mode).
CUDA_PEAK_ALLOCATED = "memory.cuda_peak_allocated"
CUDA_PEAK_RESERVED = "memory.cuda_peak_reserved"
NVML_DEVICE_USED = "memory.nvml_device_used"
HOST_PEAK_RSS = "memory.host_peak_rss"  # the measuring process, peak during the round (psutil)
BYTES = "bytes"

# One side of an A/B run: every metric paired per round carries ``labels[PAIRS_LABEL]``, the id
# of the raw pairs file (the first PAIRS_ID_CHARS hex digits of its sha256), and
# ``labels[SIDE_LABEL]`` ("head" or "base"). The two side documents of one A/B run hold the two
# halves of the same pairs, in pair order, so ``compare`` can judge them paired, as the run did.
PAIRS_LABEL = "ab_pairs"
SIDE_LABEL = "ab_side"
PAIRS_ID_CHARS = 16

# GPU telemetry: ``gpu.round.<q>`` holds one mean per measured round (independent samples);
# ``gpu.<q>``, ``gpu.dev<k>.<q>`` and ``gpu.<stage>.<q>`` hold the individual NVML polls, pooled,
# and carry ``labels[SAMPLES_LABEL] == POOLED_POLLS`` so the checker never tests them as samples.
GPU_ROUND_PREFIX = "gpu.round"
GPU_ROUND_UTILIZATION = f"{GPU_ROUND_PREFIX}.utilization"
SAMPLES_LABEL = "samples"
POOLED_POLLS = "pooled polls"
