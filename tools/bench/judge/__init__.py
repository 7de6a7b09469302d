"""Judges: a run against its stored baseline, against the run history's between-run noise,
and head against base from paired rounds.

May import: the top-level vocabulary (verdict, thresholds, host_gate), history, report, and the
schema level of ``virnucpro.bench``.
"""
