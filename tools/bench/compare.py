"""Side-by-side comparison of two benchmark runs, for PR review.

This is a plain, direction-aware comparison of medians: a change counts when it exceeds
:data:`CHANGE_THRESHOLD` of the baseline median and the larger of the two IQRs (otherwise it
is noise). The statistically careful judgement (Mann-Whitney U, Benjamini-Hochberg) is the
checker's :class:`Verdict`; when one is given, its status is shown beside each metric.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from tools.bench.render_util import (
    bullet_list,
    format_change,
    format_quantity,
    table,
    unavailable,
)
from tools.bench.report_sections import OUTCOME_WORDS
from tools.bench.verdict import Verdict
from virnucpro.bench.schema import Direction, EnvironmentFingerprint, Metric, ResultsDocument

CHANGE_THRESHOLD = 0.05  # relative change of the median that counts as a change
TITLE = "# Benchmark Comparison"
ChangeStatus = Literal["regression", "improvement", "unchanged", "undirected", "unavailable"]
STATUS_WORDS = {
    "regression": "regression",
    "improvement": "improvement",
    "unchanged": "unchanged",
    "undirected": "no direction",
    "unavailable": "unavailable",
}
HARDWARE_FIELDS = ("cpu_model", "cpu_count", "torch_threads", "gpu_names", "gpu_count")
HARDWARE_FIELDS += ("driver", "cuda", "torch", "platform")


@dataclass(frozen=True)
class MetricChange:
    """One shared metric in both runs; ``change`` is (candidate - baseline) / |baseline|."""

    name: str
    unit: str
    better: Direction
    baseline: Metric
    candidate: Metric
    change: float | None
    status: ChangeStatus
    reason: str


def _noise(baseline: Metric, candidate: Metric) -> float:
    return max(baseline.iqr or 0.0, candidate.iqr or 0.0)


def _classify(
    base: Metric, cand: Metric, threshold: float
) -> tuple[float | None, ChangeStatus, str]:
    if not base.available or not cand.available:
        side = "baseline" if not base.available else "candidate"
        return None, "unavailable", f"not measured in the {side}"
    delta = cand.median - base.median
    if base.median == 0:
        if delta == 0:
            return None, "unchanged", "both medians are 0"
        return None, "undirected", "baseline median is 0: relative change undefined"
    change = delta / abs(base.median)
    if base.better == "none":
        return change, "undirected", "metric has no better direction"
    if abs(delta) <= _noise(base, cand):
        return change, "unchanged", "within the IQR noise"
    if abs(change) <= threshold:
        return change, "unchanged", f"within {threshold:.0%}"
    worse = change > 0 if base.better == "lower" else change < 0
    return change, "regression" if worse else "improvement", f"{base.better} is better"


def compare_metrics(
    baseline: ResultsDocument, candidate: ResultsDocument, *, threshold: float = CHANGE_THRESHOLD
) -> tuple[MetricChange, ...]:
    """Every metric present in both runs, in the baseline's order, classified by direction."""
    changes = []
    for base in baseline.metrics:
        cand = candidate.metric(base.name)
        if cand is None:
            continue
        change, status, reason = _classify(base, cand, threshold)
        changes.append(
            MetricChange(base.name, base.unit, base.better, base, cand, change, status, reason)
        )
    return tuple(changes)


def identify_regressions(
    baseline: ResultsDocument, candidate: ResultsDocument, *, threshold: float = CHANGE_THRESHOLD
) -> tuple[MetricChange, ...]:
    """Shared metrics that got worse beyond the threshold and the noise."""
    changes = compare_metrics(baseline, candidate, threshold=threshold)
    return tuple(c for c in changes if c.status == "regression")


def identify_improvements(
    baseline: ResultsDocument, candidate: ResultsDocument, *, threshold: float = CHANGE_THRESHOLD
) -> tuple[MetricChange, ...]:
    """Shared metrics that got better beyond the threshold and the noise."""
    changes = compare_metrics(baseline, candidate, threshold=threshold)
    return tuple(c for c in changes if c.status == "improvement")


def _hardware_fields(env: EnvironmentFingerprint) -> dict[str, str]:
    values = {name: str(getattr(env, name) or "none") for name in HARDWARE_FIELDS}
    values["torch"] = env.torch.split("+")[0]
    values["platform"] = env.platform.split("-")[0]
    counts = Counter(env.gpu_names)
    values["gpu_names"] = ", ".join(f"{n}x {name}" for name, n in counts.items()) or "none"
    return values


def comparability_differences(
    baseline: ResultsDocument, candidate: ResultsDocument
) -> tuple[str, ...]:
    """What makes two runs incomparable (the parts of their comparability keys that differ)."""
    diffs = []
    base_hw, cand_hw = (
        _hardware_fields(baseline.environment),
        _hardware_fields(candidate.environment),
    )
    diffs += [
        f"hardware/software `{name}`: {base_hw[name]} vs {cand_hw[name]}"
        for name in HARDWARE_FIELDS
        if base_hw[name] != cand_hw[name]
    ]
    parts = {
        "workload": (baseline.workload.key(), candidate.workload.key()),
        "engine": (baseline.run.engine, candidate.run.engine),
        "model preset": (baseline.run.model_preset, candidate.run.model_preset),
        "device type": (baseline.run.device.split(":")[0], candidate.run.device.split(":")[0]),
        "precision": (baseline.run.precision, candidate.run.precision),
    }
    diffs += [f"{part}: {b} vs {c}" for part, (b, c) in parts.items() if b != c]
    if not diffs and baseline.comparability_key() != candidate.comparability_key():
        diffs.append("comparability keys differ")
    return tuple(diffs)


def _run_label(role: str, doc: ResultsDocument) -> str:
    commit = doc.environment.git_commit or "unknown commit"
    invalid = " **INVALID**" if not doc.validity.valid else ""
    return f"{role}: run `{doc.run.run_id}` ({commit}, {doc.run.created_at}){invalid}"


def _header(baseline: ResultsDocument, candidate: ResultsDocument, verdict: Verdict | None) -> str:
    lines = [TITLE, "", _run_label("Baseline", baseline) + "  ", _run_label("Candidate", candidate)]
    diffs = comparability_differences(baseline, candidate)
    if diffs:
        lines += ["", "> **Warning: these runs are not comparable.** They differ in:"]
        lines += [f"> - {d}" for d in diffs]
    for role, doc in (("baseline", baseline), ("candidate", candidate)):
        if not doc.validity.valid:
            lines += ["", f"> **The {role} run is INVALID:** " + "; ".join(doc.validity.reasons)]
    lines += [
        "",
        f"A change counts beyond {CHANGE_THRESHOLD:.0%} of the baseline median and the IQR.",
    ]
    if verdict is not None:
        word = OUTCOME_WORDS[verdict.outcome]
        lines.append(f"Checker verdict: **{word}** (exit code {verdict.exit_code}).")
    return "\n".join(lines)


def _row(change: MetricChange, verdict: Verdict | None) -> list[str]:
    row = [
        f"`{change.name}`",
        format_quantity(change.baseline.median, change.unit, reason=change.baseline.reason),
        format_quantity(change.candidate.median, change.unit, reason=change.candidate.reason),
        format_change(change.change) if change.change is not None else "n/a",
        change.better,
        f"{STATUS_WORDS[change.status]} ({change.reason})",
    ]
    if verdict is not None:
        judged = next((j for j in verdict.judgements if j.name == change.name), None)
        row.append(judged.status if judged else "not judged")
    return row


def _changes_table(changes: tuple[MetricChange, ...], verdict: Verdict | None) -> str:
    headers = ["metric", "baseline", "candidate", "change", "better", "result"]
    headers += ["verdict"] if verdict is not None else []
    return table(headers, [_row(c, verdict) for c in changes])


def _change_list(changes: tuple[MetricChange, ...]) -> str:
    """One line per metric: 'name: baseline -> candidate (change, reason)'."""
    if not changes:
        return "None."
    return bullet_list(
        f"`{c.name}`: {format_quantity(c.baseline.median, c.unit, reason=c.baseline.reason)} -> "
        f"{format_quantity(c.candidate.median, c.unit, reason=c.candidate.reason)} "
        f"({format_change(c.change) if c.change is not None else 'n/a'}, {c.reason})"
        for c in changes
    )


def _one_sided(baseline: ResultsDocument, candidate: ResultsDocument) -> str:
    only_base = [m.name for m in baseline.metrics if candidate.metric(m.name) is None]
    only_cand = [m.name for m in candidate.metrics if baseline.metric(m.name) is None]
    items = [f"only in the baseline: `{name}`" for name in only_base]
    items += [f"only in the candidate: `{name}`" for name in only_cand]
    return bullet_list(items) if items else "None."


def render_comparison(
    baseline: ResultsDocument, candidate: ResultsDocument, *, verdict: Verdict | None = None
) -> str:
    """Markdown: every shared metric side by side, then regressions, improvements, unchanged."""
    changes = compare_metrics(baseline, candidate)

    def having(*statuses: str) -> tuple[MetricChange, ...]:
        return tuple(c for c in changes if c.status in statuses)

    blocks = [
        _header(baseline, candidate, verdict),
        "## All Shared Metrics",
        _changes_table(changes, verdict) if changes else unavailable("no metric in both runs"),
        "## Regressions",
        _change_list(having("regression")),
        "## Improvements",
        _change_list(having("improvement")),
        "## Unchanged",
        _change_list(having("unchanged")),
        "## Not Compared",
        _change_list(having("undirected", "unavailable")),
        "## Metrics In One Run Only",
        _one_sided(baseline, candidate),
    ]
    return "\n\n".join(blocks) + "\n"
