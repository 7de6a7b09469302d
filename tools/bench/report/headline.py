"""One-line digests of a benchmark report: the headline and the badge's message.

The headline ("regression: end_to_end.total_time +14.2%") is shared by the commit status and the
PR comment title; the badge message is what :mod:`tools.bench.github.badge` shows.
"""

from __future__ import annotations

from collections.abc import Sequence

from tools.bench.report.formatting import format_change, format_quantity
from tools.bench.report.outputs import ACCEPTED_WORDS, status_line
from tools.bench.verdict import MetricJudgement, ReportDocument, Verdict
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC

ELLIPSIS = "…"


def worst(judgements: Sequence[MetricJudgement]) -> MetricJudgement | None:
    """The judgement with the largest (worst) change; one without a change counts last."""
    return max(
        judgements, key=lambda j: j.change if j.change is not None else float("-inf"), default=None
    )


def total_time_text(report: ReportDocument) -> str | None:
    """The end-to-end median time in its unit, or None when not measured."""
    metric = report.results.metric(TOTAL_TIME_METRIC)
    if metric is None or not metric.available:
        return None
    return format_quantity(metric.median, metric.unit)


def _judged_text(label: str, judgements: Sequence[MetricJudgement]) -> str:
    top = worst(judgements)
    if top is None:
        return label
    more = f" (and {len(judgements) - 1} more)" if len(judgements) > 1 else ""
    return f"{label}: {top.name} {format_change(top.change)}{more}"


def headline(report: ReportDocument) -> str:
    """One line that says how the run went, e.g. 'regression: end_to_end.total_time +14.2%'."""
    verdict = report.verdict
    total = total_time_text(report)
    timed = f", total {total}" if total else ""
    if verdict is None:
        return f"measured, not compared{timed}"
    if verdict.outcome == "outputs_changed" and verdict.outputs is not None:
        return status_line(verdict.outputs)
    accepted = f"{ACCEPTED_WORDS}; " if verdict.outputs_accepted else ""
    return accepted + _time_headline(verdict, timed)


def _time_headline(verdict: Verdict, timed: str) -> str:
    if verdict.outcome == "regression":
        return _judged_text("regression", verdict.failures)
    if verdict.outcome == "warn":
        return _judged_text(f"pass with {len(verdict.warnings)} warning(s)", verdict.warnings)
    if verdict.outcome in ("could_not_judge", "inconclusive", "invalid", "outputs_changed"):
        reason = verdict.reasons[0] if verdict.reasons else "no reason given"
        return f"{verdict.outcome.replace('_', ' ')}: {reason}"
    if verdict.outcome == "no_baseline":
        return f"no baseline{timed}"
    return f"pass{timed}"


def shorten(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, with an ellipsis when cut."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - len(ELLIPSIS)] + ELLIPSIS


def _change_word(word: str, judgements: Sequence[MetricJudgement]) -> str:
    top = worst(judgements)
    return f"{word} {format_change(top.change)}" if top and top.change is not None else word


def badge_message(report: ReportDocument) -> str:
    """'pass 12.30 s', 'regression +14.2%', 'warn +6.0%', 'no baseline', 'could not judge'."""
    verdict = report.verdict
    if verdict is None:
        return "not compared"
    if verdict.outcome == "regression":
        return _change_word("regression", verdict.failures)
    if verdict.outcome == "warn":
        return _change_word("warn", verdict.warnings)
    if verdict.outcome == "pass":
        total = total_time_text(report)
        return f"pass {total}" if total else "pass"
    return verdict.outcome.replace("_", " ")  # e.g. "outputs changed", "could not judge"
