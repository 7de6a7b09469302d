"""The trusted re-judge: the raw pairs decide, never the verdict a report wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench.ab_records import timed_record
from tests.bench.output_records import ROWS, flip, same_rounds
from tests.tools.bench.fake_github import HEAD_SHA, make_report
from tools.bench.judge import rejudge as rj
from tools.bench.judge.paired import judge_record
from tools.bench.thresholds import DEFAULT_THRESHOLDS
from tools.bench.verdict import ReportDocument
from virnucpro.bench.ab.schema import ABRecord, PairOutputs, write_record
from virnucpro.errors import InputError


def _written(record: ABRecord, *, accepted: bool = False) -> ReportDocument:
    """The report an honest harness writes for ``record``."""
    outputs = record.check_outputs(accepted=accepted)
    verdict = judge_record(record, thresholds=DEFAULT_THRESHOLDS, label="x", outputs=outputs)
    return make_report().model_copy(update={"verdict": verdict})


def forged(report: ReportDocument) -> ReportDocument:
    """``report`` edited to read PASS in every verdict and judgement field."""
    assert report.verdict is not None
    judgements = tuple(
        j.model_copy(update={"status": "pass", "reason": "within the threshold"})
        for j in report.verdict.judgements
    )
    verdict = report.verdict.model_copy(
        update={
            "outcome": "pass",
            "exit_code": 0,
            "judgements": judgements,
            "reasons": ("all good",),
        }
    )
    return report.model_copy(update={"verdict": verdict})


def _rejudge(report: ReportDocument, pairs: Path, *, accepted: bool = False, head=HEAD_SHA):
    return rj.rejudge(
        report, pairs, thresholds=DEFAULT_THRESHOLDS, accepted=accepted, head_sha=head
    )


def test_an_honest_report_is_matched(tmp_path: Path) -> None:
    record = timed_record(0.0, head_commit=HEAD_SHA)
    pairs = write_record(record, tmp_path / "ab_pairs.json")
    report, found = _rejudge(_written(record), pairs)
    assert found.trusted and found.differences == ()
    assert report.verdict is not None and report.verdict.outcome == "pass"
    assert "it matches" in found.lines()[0]


def test_a_regression_edited_to_read_pass_is_re_judged_a_regression(tmp_path: Path) -> None:
    record = timed_record(0.3, head_commit=HEAD_SHA)
    pairs = write_record(record, tmp_path / "ab_pairs.json")
    honest = _written(record)
    assert honest.verdict is not None and honest.verdict.outcome == "regression"
    report, found = _rejudge(forged(honest), pairs)
    assert report.verdict is not None and report.verdict.outcome == "regression"
    assert not found.trusted and found.differences[0] == "written PASS, re-judged REGRESSION"
    assert any(
        d.startswith("end_to_end.total_time: written pass, re-judged fail")
        for d in found.differences
    )
    assert report.requirements  # re-derived from the re-judged verdict, not copied


def test_outputs_that_changed_are_re_judged_and_acceptance_comes_from_the_job(
    tmp_path: Path,
) -> None:
    changed = PairOutputs(base=same_rounds(), head=same_rounds(flip(ROWS, 2)))
    record = timed_record(-0.3, head_commit=HEAD_SHA, outputs=changed)
    pairs = write_record(record, tmp_path / "ab_pairs.json")
    written = _written(record, accepted=True)  # the job was told to accept; this one is not
    report, found = _rejudge(written, pairs, accepted=False)
    assert report.verdict is not None and report.verdict.outcome == "outputs_changed"
    assert "outputs: written accepted, re-judged changed" in found.differences
    _, agreed = _rejudge(written, pairs, accepted=True)
    assert agreed.trusted


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "missing"),
        ("{not json", "not valid JSON"),
        ('{"kind": "virnucpro-ab-pairs"}', "malformed"),
        (" " * (rj.MAX_PAIRS_BYTES + 1), "larger than"),
    ],
)
def test_pairs_that_cannot_be_read_give_no_verdict(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    pairs = tmp_path / "ab_pairs.json"
    if content is not None:
        pairs.write_text(content)
    report, found = _rejudge(make_report("pass"), pairs)
    assert found.verdict is None and found.problem is not None and problem in found.problem
    assert report.verdict is not None and report.verdict.outcome == "could_not_judge"


def test_pairs_without_outputs_or_of_another_commit_give_no_verdict(tmp_path: Path) -> None:
    record = timed_record(0.0, head_commit=HEAD_SHA)
    data = record.model_dump(mode="json")
    data.update(schema_version=2, outputs=None, precision=None)
    for pair in data["rounds"]:
        for side in ("base", "head"):
            del pair[side]["harness_seconds"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    assert "schema 2 holds no outputs" in str(_rejudge(make_report(), old)[1].problem)
    pairs = write_record(record, tmp_path / "ab_pairs.json")
    _, other = _rejudge(make_report(), pairs, head="c" * 40)
    assert other.problem is not None and f"measured head commit {HEAD_SHA}" in other.problem


def test_a_report_larger_than_the_cap_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "report.json"
    big.write_text(" " * (rj.MAX_REPORT_BYTES + 1))
    with pytest.raises(InputError, match="larger than"):
        rj.read_untrusted_report(big)
