"""The short GPU check (``scripts/gpu_check.py``): its plan of steps, each in its own process,
and the measuring steps.

May import: every other package of ``virnucpro.bench``.
"""
