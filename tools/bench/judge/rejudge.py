"""The trusted re-judge: the verdict of a pull request's A/B run, decided again by this checkout.

In CI the job that measures a pull request runs the change's code (in the head worker), so
nothing it uploads is believed: the posting job, which runs only the base commit's code, reads
the **raw pairs** (``ab_pairs.json``) and judges them again with this checkout's paired judge,
output check and thresholds (:func:`rejudge`). The report the measuring job wrote supplies only
the data shown around the verdict (the run line, the key metrics); its own verdict is compared
with the re-judged one, and any difference is named (:attr:`Rejudgement.differences`): the
poster then sets a failure status, whatever the re-judged verdict is.

Raw pairs that are missing, larger than :data:`MAX_PAIRS_BYTES`, malformed, of a schema without
the outputs, or of another commit than the one the status is for give no verdict at all:
:attr:`Rejudgement.problem` says why and the poster sets an error status, never success.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tools.bench.judge.paired import judge_record
from tools.bench.report.document import build_report, parse_report
from tools.bench.thresholds import Thresholds
from tools.bench.verdict import EXIT_CANNOT_JUDGE, ReportDocument, Verdict
from virnucpro.bench.ab.schema import AB_ENVELOPE, OUTPUTS_SCHEMA_VERSION, ABRecord
from virnucpro.bench.records import SchemaError
from virnucpro.errors import InputError

MAX_PAIRS_BYTES = 16 * 1024 * 1024  # the raw pairs of a run the gate allows are far smaller
MAX_REPORT_BYTES = 16 * 1024 * 1024
COULD_NOT_JUDGE = "could_not_judge"


def read_capped(path: Path, limit: int, what: str) -> object:
    """A JSON file of at most ``limit`` bytes; anything else is a one-line InputError."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise InputError(f"{what} {path}: missing") from None
    except OSError as exc:
        raise InputError(f"{what} {path}: cannot read ({exc.__class__.__name__})") from None
    if len(data) > limit:
        raise InputError(f"{what} {path}: larger than {limit} bytes, not read")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{what} {path}: not valid JSON") from None


def read_pairs(path: Path) -> ABRecord:
    """The raw pairs, validated: size, schema, and the outputs the check needs."""
    data = read_capped(path, MAX_PAIRS_BYTES, "raw pairs")
    try:
        record = AB_ENVELOPE.parse(ABRecord, data, source="the file")
    except SchemaError as exc:
        raise InputError(f"raw pairs {path}: malformed ({exc})") from None
    if record.schema_version < OUTPUTS_SCHEMA_VERSION:
        raise InputError(
            f"raw pairs {path}: schema {record.schema_version} holds no outputs "
            f"(schema {OUTPUTS_SCHEMA_VERSION} or later is needed)"
        )
    if not record.rounds:
        raise InputError(f"raw pairs {path}: no rounds")
    return record


def read_untrusted_report(path: Path) -> ReportDocument:
    """The measuring job's report, size-capped and validated."""
    return parse_report(read_capped(path, MAX_REPORT_BYTES, "report"), source=str(path))


@dataclass(frozen=True)
class Rejudgement:
    """The re-judged verdict (or why there is none) and how the written one differs."""

    verdict: Verdict | None
    problem: str | None = None  # no verdict: the raw pairs or the report could not be judged
    differences: tuple[str, ...] = ()  # the written verdict against the re-judged one

    @property
    def trusted(self) -> bool:
        """A verdict exists and the report wrote the same one."""
        return self.problem is None and not self.differences

    def lines(self) -> tuple[str, ...]:
        """What the comment says first about the re-judge."""
        if self.problem is not None:
            return (f"Could not judge: {self.problem}. No verdict was re-judged.",)
        if self.differences:
            return (
                "**The report's written verdict differs from the verdict re-judged from the raw "
                "pairs by the base commit's judge; the status is failure.** "
                + "; ".join(self.differences),
            )
        return ("Verdict re-judged from the raw pairs by the base commit's judge; it matches.",)


def _statuses(verdict: Verdict) -> dict[str, str]:
    return {j.name: j.status for j in verdict.judgements}


def differences(written: Verdict | None, rejudged: Verdict) -> tuple[str, ...]:
    """How the written verdict differs: the outcome, a judgement's status, the outputs."""
    if written is None:
        return ("the report holds no verdict",)
    found = []
    if written.outcome != rejudged.outcome:
        found.append(f"written {written.outcome.upper()}, re-judged {rejudged.outcome.upper()}")
    mine, theirs = _statuses(rejudged), _statuses(written)
    for name in sorted(set(mine) | set(theirs)):
        if mine.get(name) != theirs.get(name):
            found.append(
                f"{name}: written {theirs.get(name, 'absent')}, re-judged "
                f"{mine.get(name, 'absent')}"
            )
    wrote = written.outputs.status if written.outputs else "absent"
    judged = rejudged.outputs.status if rejudged.outputs else "absent"
    if wrote != judged:
        found.append(f"outputs: written {wrote}, re-judged {judged}")
    return tuple(found)


def _label(record: ABRecord) -> str:
    commit = (record.base.commit or "unknown")[:12]
    return f"{record.ref} ({commit})"


def rejudge(
    report: ReportDocument,
    pairs: Path,
    *,
    thresholds: Thresholds,
    accepted: bool,
    head_sha: str | None,
) -> tuple[ReportDocument, Rejudgement]:
    """The report with the re-judged verdict (requirements re-derived from it), and the
    re-judgement; a problem with the raw pairs gives a could-not-judge verdict."""
    try:
        record = read_pairs(pairs)
        if head_sha is not None and record.head.commit != head_sha:
            raise InputError(
                f"raw pairs {pairs}: they measured head commit {record.head.commit}, not {head_sha}"
            )
    except InputError as exc:
        problem = str(exc)
        verdict = Verdict(outcome=COULD_NOT_JUDGE, exit_code=EXIT_CANNOT_JUDGE, reasons=(problem,))
        return _rebuilt(report, verdict), Rejudgement(verdict=None, problem=problem)
    outputs = record.check_outputs(accepted=accepted)
    verdict = judge_record(record, thresholds=thresholds, label=_label(record), outputs=outputs)
    found = differences(report.verdict, verdict)
    return _rebuilt(report, verdict), Rejudgement(verdict=verdict, differences=found)


def _rebuilt(report: ReportDocument, verdict: Verdict) -> ReportDocument:
    generated = datetime.fromisoformat(report.generated_at.replace("Z", "+00:00"))
    return build_report(report.results, verdict=verdict, now=generated)
