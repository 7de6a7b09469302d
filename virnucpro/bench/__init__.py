"""Measuring library shared by the benchmark suites, ``virnucpro benchmark`` and ``tools/bench``."""
