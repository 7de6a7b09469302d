"""The benchmark report: build it from a results document, render markdown, write md + JSON.

:func:`build_report` judges nothing itself: it attaches the checker's :class:`Verdict` (if any),
the requirements and the recommendations (:mod:`tools.bench.report.targets`). The markdown
sections live in :mod:`tools.bench.report.sections`, built from the blocks of
:mod:`tools.bench.report.blocks`, which :func:`render_pr_comment` reuses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from tools.bench.report.blocks import (
    inconclusive_notes,
    invalid_banner,
    judgements_table,
    key_metric_rows,
    models_line,
    outcome_word,
    requirements_table,
    run_line,
)
from tools.bench.report.formatting import bullet_list, table
from tools.bench.report.outputs import outputs_block, times_note
from tools.bench.report.recommendations import derive_recommendations
from tools.bench.report.sections import SECTIONS
from tools.bench.report.targets import evaluate_requirements
from tools.bench.verdict import REPORT_ENVELOPE, ReportDocument, Verdict
from virnucpro.atomic import write_new_text
from virnucpro.bench.records import read_json_file
from virnucpro.bench.schema import ResultsDocument
from virnucpro.errors import InputError

REPORT_STEM_FORMAT = "benchmark_%Y%m%d_%H%M%S"
MAX_SAME_SECOND = 1000  # reports written in one second into one folder (then _2, _3, ...)
GITHUB_COMMENT_LIMIT = 65536  # characters; GitHub refuses longer comment bodies (422)
COMMENT_TITLE = "### VirNucPro benchmark"
FLAGGED_STATUSES = ("fail", "warn")
TRUNCATION_NOTE = (
    "_Comment truncated: {omitted} more section(s) left out to stay under {limit:,} "
    "characters; the full report is in the benchmark_*.md artifact._"
)


def _utc(moment: datetime) -> datetime:
    """A datetime in UTC; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def build_report(
    results: ResultsDocument, *, verdict: Verdict | None, now: datetime
) -> ReportDocument:
    """The report record: results, the verdict, requirements and recommendations."""
    return ReportDocument(
        generated_at=_utc(now).isoformat(timespec="seconds"),
        results=results,
        verdict=verdict,
        requirements=evaluate_requirements(results, verdict=verdict),
        recommendations=derive_recommendations(results, verdict=verdict),
    )


def render_markdown(report: ReportDocument) -> str:
    """The full markdown report, every section in its fixed order."""
    parts = [render(report) for render in SECTIONS]
    return "\n\n".join(part for part in parts if part) + "\n"


def _comment_sections(report: ReportDocument) -> list[str]:
    """The PR comment's sections, most important first; truncation drops from the end."""
    results, verdict = report.results, report.verdict
    head = [f"{COMMENT_TITLE}: {outcome_word(report)}", run_line(results)]
    head += [line for line in (invalid_banner(results), models_line(results)) if line]
    sections = ["\n\n".join(head)]
    if (outputs := outputs_block(verdict, compact=True)) is not None:
        sections.append(outputs)
    sections.append("**Requirements**\n\n" + requirements_table(report.requirements))
    sections.append("**Key metrics**\n\n" + table(("metric", "value"), key_metric_rows(results)))
    if verdict is not None:
        flagged = [j for j in verdict.judgements if j.status in FLAGGED_STATUSES]
        lines = [f"**Regressions and warnings** (against {verdict.baseline or 'no baseline'})"]
        lines += [note] if (note := times_note(verdict)) else []
        lines.append(judgements_table(flagged, verdict) if flagged else "None.")
        lines += [bullet_list(verdict.reasons)] if verdict.reasons else []
        lines += [notes] if (notes := inconclusive_notes(verdict)) else []
        sections.append("\n\n".join(lines))
    sections.append("**Recommendations**\n\n" + bullet_list(report.recommendations))
    return sections


def _fit(text: str, limit: int) -> str:
    """Cut at the last line break that fits (a single oversized section)."""
    return text if len(text) <= limit else text[: text.rfind("\n", 0, limit) + 1 or limit]


def render_pr_comment(report: ReportDocument, *, max_chars: int = GITHUB_COMMENT_LIMIT) -> str:
    """Compact markdown for a PR comment, cut at a section boundary (with a note) to fit."""
    sections = _comment_sections(report)
    full = "\n\n".join(sections) + "\n"
    if len(full) <= max_chars:
        return full
    note = TRUNCATION_NOTE.format(omitted=len(sections), limit=max_chars)
    budget = max_chars - len(note) - len("\n\n") - 1
    kept: list[str] = []
    for part in sections:
        if len("\n\n".join([*kept, part])) > budget:
            break
        kept.append(part)
    if not kept:
        kept = [_fit(sections[0], budget)]
    note = TRUNCATION_NOTE.format(omitted=len(sections) - len(kept), limit=max_chars)
    return "\n\n".join([*kept, note]) + "\n"


def report_stem(report: ReportDocument) -> str:
    """``benchmark_YYYYMMDD_HHMMSS`` from the report's generation time (UTC)."""
    moment = datetime.fromisoformat(report.generated_at.replace("Z", "+00:00"))
    return _utc(moment).strftime(REPORT_STEM_FORMAT)


def report_to_json(report: ReportDocument) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2) + "\n"


def report_stems(report: ReportDocument) -> Iterator[str]:
    """The names a report may take: ``benchmark_YYYYMMDD_HHMMSS``, then ``..._2``, ``..._3``..."""
    stem = report_stem(report)
    yield stem
    for n in range(2, MAX_SAME_SECOND + 1):
        yield f"{stem}_{n}"


def write_reports(
    report: ReportDocument, out_dir: Path, *, appendix: str | None = None
) -> tuple[Path, Path]:
    """Write ``benchmark_YYYYMMDD_HHMMSS.md`` and ``.json`` atomically; return (md, json).

    Never over another run's report: when a run in the same second took the name, this one is
    ``benchmark_YYYYMMDD_HHMMSS_2`` (and so on), claimed without a race (:func:`write_new_text`).
    ``appendix``: markdown sections rendered elsewhere (an A/B run's profiled rounds), after the
    report's own.
    """
    out_dir = Path(out_dir)
    for stem in report_stems(report):
        md_path, json_path = out_dir / f"{stem}.md", out_dir / f"{stem}.json"
        linked = report.model_copy(update={"markdown_file": md_path.name})
        markdown = render_markdown(linked)
        if not write_new_text(md_path, f"{markdown}\n{appendix}\n" if appendix else markdown):
            continue
        if write_new_text(json_path, report_to_json(linked)):
            return md_path, json_path
        md_path.unlink()  # a lone JSON report of that name: leave it, take the next name
    raise InputError(f"{out_dir}: {MAX_SAME_SECOND} reports of {report_stem(report)} already")


def parse_report(data: object, *, source: str = "<memory>") -> ReportDocument:
    """Validate a decoded JSON object as a report; any problem is a one-line SchemaError."""
    return REPORT_ENVELOPE.parse(ReportDocument, data, source=source)


def read_report(path: Path) -> ReportDocument:
    """Read a ``benchmark_*.json`` report written by :func:`write_reports`."""
    return parse_report(read_json_file(path), source=str(path))
