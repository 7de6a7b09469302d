"""Side-by-side comparison of two benchmark runs, for PR review, rendering the one verdict.

The verdict comes from :func:`tools.bench.judge.pairing.compare_documents`: paired, by the A/B
judge, when the two runs are the two sides of one A/B run; otherwise unpaired, by the regression
checker (the thresholds and statistics of :mod:`tools.bench.thresholds`). Every row shows the
judge's status and reason for that metric, so a row cannot say "unchanged" next to "fail"; the
header says which comparison was made and prints the verdict and its exit code, which
``python -m tools.bench compare`` returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from tools.bench.report.blocks import OUTCOME_WORDS
from tools.bench.report.formatting import (
    SIDE_HEADINGS,
    bullet_list,
    change_cell,
    change_heading,
    format_quantity,
    status_cell,
    table,
    unavailable,
)
from tools.bench.verdict import JudgementStatus, MetricJudgement, Verdict
from virnucpro.bench.schema import EnvironmentFingerprint, ResultsDocument

TITLE = "# Benchmark Comparison"
HARDWARE_FIELDS = ("cpu_model", "cpu_count", "torch_threads", "gpu_names", "gpu_count")
HARDWARE_FIELDS += ("driver", "cuda", "torch", "platform")
# sections of the comparison: heading -> the checker statuses it lists
SECTIONS: tuple[tuple[str, tuple[JudgementStatus, ...]], ...] = (
    ("Regressions", ("fail",)),
    ("Warnings", ("warn",)),
    ("Improvements", ("improved",)),
    ("Unchanged", ("pass",)),
    ("Inconclusive", ("inconclusive",)),
    ("Not Compared", ("unavailable", "new")),
)


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


def _header(baseline: ResultsDocument, candidate: ResultsDocument, verdict: Verdict) -> str:
    lines = [TITLE, "", _run_label("Baseline", baseline) + "  ", _run_label("Candidate", candidate)]
    diffs = comparability_differences(baseline, candidate)
    if diffs:
        lines += ["", "> **Warning: these runs are not comparable.** They differ in:"]
        lines += [f"> - {d}" for d in diffs]
    for role, doc in (("baseline", baseline), ("candidate", candidate)):
        if not doc.validity.valid:
            lines += ["", f"> **The {role} run is INVALID:** " + "; ".join(doc.validity.reasons)]
    word = OUTCOME_WORDS[verdict.outcome]
    judge = (
        "the paired A/B judge (per-pair ratios, as the A/B run judged them)"
        if verdict.mode == "paired"
        else "the regression checker's rules (thresholds and significance), unpaired"
    )
    lines += [
        "",
        f"Verdict: **{word}** (exit code {verdict.exit_code}), by {judge}; every row below is "
        "its judgement.",
    ]
    lines += [f"- {reason}" for reason in verdict.reasons]
    return "\n".join(lines)


def _quantity(value: float | None, unit: str) -> str:
    return format_quantity(value, unit) if value is not None else unavailable()


def _row(judgement: MetricJudgement) -> list[str]:
    return [
        f"`{judgement.name}`",
        _quantity(judgement.baseline_median, judgement.unit),
        _quantity(judgement.candidate_median, judgement.unit),
        change_cell(judgement),
        status_cell(judgement),
        judgement.reason,
    ]


def _changes_table(judgements: Sequence[MetricJudgement], verdict: Verdict) -> str:
    headers = ["metric", *SIDE_HEADINGS[verdict.mode], change_heading(verdict), "status", "reason"]
    return table(headers, [_row(j) for j in judgements])


def _change_list(judgements: Sequence[MetricJudgement]) -> str:
    """One line per metric: 'name: baseline -> candidate (change [interval] worse, reason)'."""
    if not judgements:
        return "None."
    return bullet_list(
        f"`{j.name}`: {_quantity(j.baseline_median, j.unit)} -> "
        f"{_quantity(j.candidate_median, j.unit)} ({change_cell(j)} worse, {j.reason})"
        for j in judgements
    )


def _one_sided(baseline: ResultsDocument, candidate: ResultsDocument) -> str:
    only_base = [m.name for m in baseline.metrics if candidate.metric(m.name) is None]
    only_cand = [m.name for m in candidate.metrics if baseline.metric(m.name) is None]
    items = [f"only in the baseline: `{name}`" for name in only_base]
    items += [f"only in the candidate: `{name}`" for name in only_cand]
    return bullet_list(items) if items else "None."


def render_comparison(
    baseline: ResultsDocument, candidate: ResultsDocument, *, verdict: Verdict
) -> str:
    """Markdown: the checker's judgement of every metric, then the metrics by status."""
    judged = verdict.judgements
    blocks = [
        _header(baseline, candidate, verdict),
        "## All Judged Metrics",
        _changes_table(judged, verdict) if judged else unavailable("no metric was judged"),
    ]
    for heading, statuses in SECTIONS:
        blocks += [f"## {heading}", _change_list([j for j in judged if j.status in statuses])]
    blocks += ["## Metrics In One Run Only", _one_sided(baseline, candidate)]
    return "\n\n".join(blocks) + "\n"
