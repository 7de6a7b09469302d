"""Measuring library shared by the benchmark suites, ``virnucpro benchmark`` and ``tools/bench``.

Packages, each importing only those after it: ``bisect`` -> ``gpu_check``, ``ab`` -> ``run`` ->
``gpu``, ``workload`` -> the top level (``schema``, ``stats``, ``paired_stats``, ``sequential``,
``metric_names``, ``options``, ``measure``).
Nothing here imports ``tools`` (``tests/test_layering.py``).
"""
