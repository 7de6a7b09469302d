"""One benchmark run: options, the shared session, the suites under pytest, the collector,
the measurement core, the environment fingerprint and host load.

May import: ``gpu``, ``workload``, the top-level schema and stats, the pipeline.
"""
