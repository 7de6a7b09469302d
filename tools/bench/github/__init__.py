"""Talking to GitHub: the REST client, the PR comment and commit status, the Actions event,
and the badge.

May import: report and the top-level vocabulary.
"""
