"""What was measured before: the baseline store, the run history, its sources and publishing,
and trend analysis over it.

May import: the top-level vocabulary (verdict, thresholds, host_gate), report, and the schema
level of ``virnucpro.bench``.
"""
