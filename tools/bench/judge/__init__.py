"""Judges: a run against its stored baseline (drift, never a failure alone), against the run
history's between-run noise, head against base from paired rounds, and two runs as one answer
(paired when they are the two sides of one A/B run).

May import: the top-level vocabulary (verdict, thresholds, host_gate), history, report, and the
schema level of ``virnucpro.bench``.
"""
