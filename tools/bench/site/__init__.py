"""The dashboards over the run history: the static HTML site with its charts, and the
markdown page.

May import: report, history and the top-level vocabulary.
"""
