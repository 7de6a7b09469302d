"""A/B mode: head and a base commit measured side by side in two worker processes, and the
records of their paired rounds.

May import: ``run`` (host load), the top-level schema and stats, ``virnucpro.errors``.
"""
