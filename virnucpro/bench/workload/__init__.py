"""The benchmark workload: deterministic generated reads, preparing the input once, and the
workload fingerprint.

May import: the pipeline stages and the top-level schema.
"""
