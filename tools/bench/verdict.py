"""Records for regression verdicts and the JSON report, shared by checker, renderers and poster.

Exit codes: 0 pass, 1 regression or outputs changed, 2 could not judge: bad input, an invalid
run (also a host that other processes kept busy), no baseline (unless allowed), outputs that
could not be compared, or a total time that stayed INCONCLUSIVE. A warning alone does not fail a
run; INCONCLUSIVE is never a pass, and neither is OUTPUTS CHANGED: a run whose outputs differ
from its reference's gets no time verdict (unless the change was accepted, when the time verdict
stands and its first reason says the outputs changed and were accepted).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from virnucpro.bench.output_check import ACCEPT_FLAG, OutputCheck
from virnucpro.bench.records import Envelope, Record
from virnucpro.bench.schema import ResultsDocument

REPORT_VERSION = 1
REPORT_KIND = "virnucpro-benchmark-report"
REPORT_ENVELOPE = Envelope(REPORT_KIND, "report_version", (REPORT_VERSION,), "benchmark report")

EXIT_PASS = 0
EXIT_REGRESSION = 1
EXIT_CANNOT_JUDGE = 2

JudgementStatus = Literal[
    "pass",  # within thresholds
    "improved",  # significantly better beyond the threshold
    "fail",  # significantly worse beyond the fail threshold (time)
    "warn",  # utilization / memory / scaling drop beyond its warn threshold
    "inconclusive",  # too few samples, or noise larger than the threshold
    "undecided",  # paired mode, between blocks of rounds: neither pass nor fail yet
    "unavailable",  # metric not measured on one side
    "new",  # metric has no counterpart in the baseline
]
Outcome = Literal[
    "pass",
    "warn",
    "regression",
    "outputs_changed",  # the outputs differ from the reference's: no time verdict, exit 1
    "inconclusive",  # the total time could not be decided: exit 2
    "invalid",  # the host was too busy to measure: exit 2
    "could_not_judge",
    "no_baseline",
]
Mode = Literal["stored", "paired"]

EXIT_FOR_OUTCOME: dict[str, int] = {
    "pass": EXIT_PASS,
    "warn": EXIT_PASS,
    "regression": EXIT_REGRESSION,
    "outputs_changed": EXIT_REGRESSION,
    "inconclusive": EXIT_CANNOT_JUDGE,
    "invalid": EXIT_CANNOT_JUDGE,
    "could_not_judge": EXIT_CANNOT_JUDGE,
    "no_baseline": EXIT_CANNOT_JUDGE,
}
UNDECIDED_STATUSES = ("undecided", "inconclusive")


class MetricJudgement(Record):
    name: str
    unit: str
    status: JudgementStatus
    baseline_median: float | None = None
    candidate_median: float | None = None
    change: float | None = None  # relative change of the median, signed, "worse" is positive
    p_value: float | None = None
    p_adjusted: float | None = None  # Benjamini-Hochberg over all judged metrics
    threshold: float | None = None
    reason: str = ""
    interval_low: float | None = None  # paired or history: the change's interval, worse positive
    interval_high: float | None = None
    pairs: int | None = None
    history_runs: int | None = None  # judged against the between-run noise of these earlier runs


class PairedDesign(Record):
    """How a paired verdict's intervals were made, and what the run could have seen.

    ``confidence`` is the nominal two-sided confidence of every interval of the verdict: the
    look's level of the group-sequential design (``spending``), so that the looks together keep
    the error rate at ``alpha`` whenever the loop stopped. ``min_detectable`` is the smallest
    slowdown of the total time that this look's interval tells from no change with ``power``,
    from the run's own paired noise (None: too few pairs for an interval); ``per_pair_cv`` is
    that noise itself, the standard deviation of the per-pair log ratio of the total time.
    """

    estimator: str
    spending: str
    alpha: float
    look: int
    planned_looks: int
    planned_pairs: int
    confidence: float
    power: float
    min_detectable: float | None = None
    per_pair_cv: float | None = None  # SD of the per-pair log ratio of the total time


class Verdict(Record):
    outcome: Outcome
    exit_code: int
    baseline: str | None = None  # what was compared against (baseline id, file or commit)
    mode: Mode = "stored"
    judgements: tuple[MetricJudgement, ...] = ()
    reasons: tuple[str, ...] = ()
    design: PairedDesign | None = None  # paired mode: the intervals' design and the MDE
    outputs: OutputCheck | None = None  # the output check, when the run had one

    @property
    def outputs_accepted(self) -> bool:
        """Whether the outputs changed and the change was accepted (a time verdict stands)."""
        return self.outputs is not None and self.outputs.status == "accepted"

    @property
    def failures(self) -> tuple[MetricJudgement, ...]:
        return tuple(j for j in self.judgements if j.status == "fail")

    @property
    def warnings(self) -> tuple[MetricJudgement, ...]:
        return tuple(j for j in self.judgements if j.status == "warn")


def exit_code_for_regressions(verdict: Verdict | None, *, fail_on_regression: bool = True) -> int:
    """The process exit code of a verdict: 0 pass (warnings and "no baseline yet" included),
    1 regression, 2 could not judge; no verdict at all is 2. With ``fail_on_regression`` off
    (an advisory gate) a regression exits 0; a run that could not be judged still exits 2."""
    if verdict is None:
        return EXIT_CANNOT_JUDGE
    if verdict.outcome == "regression" and not fail_on_regression:
        return EXIT_PASS
    return verdict.exit_code


def accepted_line(outputs: OutputCheck) -> str:
    """The first reason of a verdict whose output change was accepted."""
    return f"outputs changed and were accepted ({ACCEPT_FLAG}): {outputs.summary()}"


def decide_outcome(
    judgements: tuple[MetricJudgement, ...],
    *,
    gate_metric: str,
    require_gate: bool,
    outputs: OutputCheck | None = None,
) -> tuple[Outcome, str | None]:
    """The one outcome ladder over judged metrics, and the reason to put first, if any.

    Outputs that changed (and were not accepted) are **outputs_changed**, whatever the times
    say; outputs that could not be compared (a check given as ``not_compared``) are
    **could_not_judge**. Then a failed metric is a **regression**; else a gate metric (the total
    time) that is missing is **could_not_judge** when ``require_gate`` (paired mode: both sides
    measure it), and one still undecided or inconclusive is **inconclusive**; else any warning
    is **warn**; else **pass**. What the host or the inputs rule out (an invalid run, no
    baseline) is decided before judging, by the caller.
    """
    if outputs is not None and outputs.blocks:
        return "outputs_changed", f"not comparable: {outputs.summary()}"
    if outputs is not None and outputs.status == "not_compared":
        return "could_not_judge", outputs.summary()
    statuses = {j.status for j in judgements}
    gate = next((j for j in judgements if j.name == gate_metric), None)
    if "fail" in statuses:
        return "regression", None
    if gate is None and require_gate:
        return "could_not_judge", f"{gate_metric} was not measured on both sides"
    if gate is not None and gate.status in UNDECIDED_STATUSES:
        return "inconclusive", f"{gate_metric} is inconclusive: {gate.reason}"
    if "warn" in statuses:
        return "warn", None
    return "pass", None


def ladder_verdict(
    judgements: tuple[MetricJudgement, ...],
    *,
    gate_metric: str,
    baseline: str | None,
    mode: Mode,
    notes: tuple[str, ...],
    design: PairedDesign | None = None,
    outputs: OutputCheck | None = None,
) -> Verdict:
    """A verdict from :func:`decide_outcome`, its exit code from :data:`EXIT_FOR_OUTCOME`; an
    accepted output change is the first reason, whatever the outcome."""
    outcome, first = decide_outcome(
        judgements, gate_metric=gate_metric, require_gate=mode == "paired", outputs=outputs
    )
    reasons = (first, *notes) if first else notes
    if outputs is not None and outputs.status == "accepted":
        reasons = (accepted_line(outputs), *reasons)
    return Verdict(
        outcome=outcome,
        exit_code=EXIT_FOR_OUTCOME[outcome],
        baseline=baseline,
        mode=mode,
        judgements=judgements,
        reasons=reasons,
        design=design,
        outputs=outputs,
    )


class RequirementResult(Record):
    """One pass/fail line of the executive summary (e.g. 'fast vs vanilla speedup >= 10x')."""

    name: str
    passed: bool | None  # None: could not be evaluated (with reason)
    detail: str


class ReportDocument(Record):
    """What ``benchmark_YYYYMMDD_HHMMSS.json`` holds; the poster reads it."""

    kind: Literal["virnucpro-benchmark-report"] = REPORT_KIND
    report_version: int = REPORT_VERSION
    generated_at: str
    results: ResultsDocument
    verdict: Verdict | None = None
    requirements: tuple[RequirementResult, ...] = ()
    recommendations: tuple[str, ...] = ()
    markdown_file: str | None = Field(default=None, description="the sibling markdown report")
