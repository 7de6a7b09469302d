"""A bisection's report: the culprit and its own paired effect, what moved, every step.

Renderers only, over :class:`~virnucpro.bench.bisect.schema.BisectResult`: :func:`headline`
(one line: the badge, the console's verdict line, a status), :func:`summary_lines` (the
console's lines under it) and :func:`render_bisect` (the markdown of the report file, the job
summary and the PR comment). With ``--profile`` the culprit's profiled rounds are appended
(``culprit_profile``, :func:`tools.bench.culprit.profile.render_profile`).
"""

from __future__ import annotations

from collections.abc import Iterable

from tools.bench.culprit.profile import render_profile
from tools.bench.report.formatting import (
    bullet_list,
    format_change,
    format_duration,
    format_quantity,
    table,
)
from virnucpro.bench.bisect.schema import BisectResult, Step, StepMetric

TITLE = "## VirNucPro bisection"
MOVED_STATUSES = ("fail", "warn", "improved")
MOVED_PREFIXES = ("stage.", "throughput.", "end_to_end.")
OUTCOME_WORDS = {
    "culprit": "CULPRIT",
    "gradual": "GRADUAL",
    "no_slowdown": "NO SLOWDOWN",
    "budget_spent": "BUDGET SPENT",
    "could_not_judge": "COULD NOT JUDGE",
}
ROLE_WORDS = {
    "range": "GOOD against BAD",
    "search": "against GOOD",
    "confirm": "against its parent (fresh workers)",
    "part": "a stretch of a gradual change",
}


def _short(result: BisectResult, sha: str) -> str:
    commit = result.commit(sha)
    return "GOOD" if sha == result.good.sha else (commit.short if commit else sha[:12])


def headline(result: BisectResult) -> str:
    """One line: the outcome and what it names."""
    word = OUTCOME_WORDS[result.outcome]
    if result.culprit is not None:
        return f"{word}: {result.culprit.sha} {result.culprit.subject}"
    if result.outcome == "gradual":
        return f"{word}: {len(result.parts)} commit(s) each add a part"
    if result.outcome == "no_slowdown":
        return f"{word}: no slowdown in this range"
    if result.narrowest is not None:
        span = result.narrowest
        return f"{word}: the first slower commit is after {span.good[:12]}, up to {span.bad[:12]}"
    return word


def _total(step: Step | None) -> str:
    return "not measured" if step is None else f"{step.total_text}, {step.pairs} pairs"


def _moved(step: Step) -> list[StepMetric]:
    return [
        m for m in step.metrics if m.status in MOVED_STATUSES and m.name.startswith(MOVED_PREFIXES)
    ]


def _interval(metric: StepMetric) -> str:
    if metric.low is None or metric.high is None:
        return "n/a"
    return f"[{format_change(metric.low)}, {format_change(metric.high)}]"


def moved_table(step: Step) -> str:
    rows = [
        (
            f"`{m.name}`",
            format_quantity(m.base_median, m.unit),
            format_quantity(m.head_median, m.unit),
            format_change(m.change),
            _interval(m),
            m.status.upper(),
        )
        for m in _moved(step)
    ]
    if not rows:
        return "No stage or model throughput moved beyond its threshold."
    headers = ("metric", "parent", "culprit", "change (worse +)", "95% interval", "check")
    return table(headers, rows)


def _verdict_cell(result: BisectResult, step: Step) -> str:
    if step.index in result.uncertain:
        return f"{step.verdict} (uncertain)"
    if step.outcome == "invalid":
        return "busy host (INVALID), measured again"
    if step.role == "part" or step.index in result.adding_steps:
        adds = step.index in result.adding_steps
        return f"{step.verdict}, {'adds a part' if adds else 'no part shown'}"
    return step.verdict


def steps_table(result: BisectResult) -> str:
    rows = [
        (
            str(s.index),
            ROLE_WORDS[s.role],
            f"`{_short(result, s.base)}` → `{_short(result, s.head)}`",
            _verdict_cell(result, s),
            s.total_text,
            str(s.pairs),
            f"{s.seconds:.0f}",
        )
        for s in result.steps
    ]
    headers = ("#", "step", "commits", "verdict", "total time (worse +)", "pairs", "seconds")
    return table(headers, rows)


def _against_good(result: BisectResult) -> dict[str, Step]:
    return {s.head: s for s in result.steps if s.base == result.good.sha and s.role != "part"}


def commits_table(result: BisectResult) -> str:
    known = _against_good(result)
    marks = {result.culprit.sha: "culprit"} if result.culprit else {}
    marks.update({c.sha: marks.get(c.sha, "adds a part") for c in result.parts})
    rows = [
        (
            str(i + 1),
            f"`{c.sha}`",
            c.subject,
            known[c.sha].verdict if c.sha in known else "-",
            marks.get(c.sha, ""),
        )
        for i, c in enumerate(result.commits)
    ]
    return table(("#", "commit", "subject", "against GOOD", "found"), rows)


def _findings(result: BisectResult) -> list[str]:
    lines = []
    if result.culprit is not None:
        confirm = result.step(result.culprit_step)
        lines.append(f"**Culprit**: `{result.culprit.sha}` {result.culprit.subject}")
        lines.append(
            f"Its own step, against its parent on fresh workers: total time {_total(confirm)}."
        )
    whole = ([s for s in result.steps if s.role == "range"] or [None])[-1]  # after re-measuring
    lines.append(
        f"GOOD `{result.good.short}` to BAD `{result.bad.short}`: total time {_total(whole)}."
    )
    if result.parts:
        lines.append(
            "Commits that each add a part: "
            + ", ".join(f"`{c.short}` {c.subject}" for c in result.parts)
            + "."
        )
    if result.unresolved:
        spans = ", ".join(f"after `{s.good[:12]}` up to `{s.bad[:12]}`" for s in result.unresolved)
        lines.append(f"A part lies in each of these stretches, not narrowed further: {spans}.")
    return lines


def _uncertain_lines(result: BisectResult) -> list[str]:
    lines = []
    for index in result.uncertain:
        step = result.step(index)
        if step is not None:
            lines.append(
                f"step {index} ({_short(result, step.base)} → {_short(result, step.head)}, "
                f"{ROLE_WORDS[step.role]}) stayed undecided ({step.summary})"
                + (
                    "; counted as slower, the earlier commits searched first"
                    if step.role == "search"
                    else ""
                )
            )
    return lines


def _settings_line(result: BisectResult) -> str:
    return (
        f"{len(result.commits)} commits after GOOD, {len(result.steps)} A/B steps in "
        f"{format_duration(result.seconds)} (budget {format_duration(result.budget_s)}); "
        f"threshold {result.threshold:.0%} on the total time"
    )


def summary_lines(result: BisectResult) -> list[str]:
    """The console's lines under the headline."""
    lines = [line.replace("**", "").replace("`", "") for line in _findings(result)]
    lines += list(result.reasons)
    lines += [f"uncertain: {line}" for line in _uncertain_lines(result)]
    confirm = result.step(result.culprit_step)
    if confirm is not None:
        lines += [
            f"moved: {m.name} {format_change(m.change)} {_interval(m)} {m.status.upper()}"
            for m in _moved(confirm)
        ]
    return [*lines, _settings_line(result)]


def _section(title: str, body: str) -> str:
    return f"### {title}\n\n{body}"


def render_bisect(result: BisectResult) -> str:
    """The whole markdown report."""
    word = OUTCOME_WORDS[result.outcome]
    parts = [
        f"{TITLE}: {word} (exit {result.exit_code})",
        headline(result),
        "\n\n".join(_findings(result)),
    ]
    confirm = result.step(result.culprit_step)
    if confirm is not None:
        parts.append(_section("What moved in the culprit's step", moved_table(confirm)))
    notes: Iterable[str] = [*result.reasons, *_uncertain_lines(result)]
    parts.append(_section("Why", bullet_list(notes)))
    parts.append(_section("Steps", steps_table(result)))
    parts.append(_section("Commits searched (first-parent, oldest first)", commits_table(result)))
    settings = [_settings_line(result), f"command: `{result.command}`", *result.notes]
    parts.append(_section("Settings", bullet_list(settings)))
    if result.culprit_profile is not None:
        heading = "### Where the time went in the culprit's step"
        parts.append(render_profile(result.culprit_profile, heading=heading))
    elif result.profiled and result.culprit is not None:
        parts.append("_The culprit's step was not profiled._")
    return "\n\n".join(parts) + "\n"
