"""Bisection over commits: which commit made the total time slower, each step a paired A/B."""
