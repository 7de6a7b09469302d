"""Reports over a results document: analysis, targets, markdown sections, comparisons and
exports, and the formatting they share.

May import: the top-level vocabulary (verdict, thresholds, host_gate) and the schema level of
``virnucpro.bench``.
"""
