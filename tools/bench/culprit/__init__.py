"""Which commit, and where the time went: the renderers of a bisection and of profiled rounds.

Reports over the records the measuring side writes (``virnucpro.bench.bisect.schema``,
``virnucpro.bench.ab.profile``); they import only ``report`` and the vocabulary below them.
"""
