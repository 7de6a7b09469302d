"""GPU telemetry: NVML sampling, GPM hardware activity, the roofline ceiling, the sampler's
overhead, and the telemetry metrics with the run's validity.

May import: the top-level schema, stats and metric names.
"""
