"""tools/bench: reports, regression verdicts and the GitHub poster over benchmark results."""
