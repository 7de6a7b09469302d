"""One benchmark run: the shared session, the suites under pytest, the collector, the memory
tracking, the environment fingerprint and host load.

May import: ``gpu``, ``workload``, the top level (schema, stats, options, measure), the
pipeline.
"""
