"""The benchmark plan's library API, by the names the plan gives, over the existing modules.

Every name here is a thin entry point: the work is done by one function elsewhere in
``tools/bench`` (named in each docstring), so there is one implementation of everything.
Import from the package: ``from tools.bench import ReportGenerator, check_regression, ...``
(``tools.bench.__all__`` lists the names). ``import x as x`` marks a name re-exported as is.
docs/development.md "From the plan to the code" maps each plan name and verify command to
what runs.

Reports (plan task 1): :class:`ReportGenerator`, :func:`generate_markdown_report`,
:func:`generate_json_report`, :func:`compare_runs`, :func:`identify_improvements`,
:func:`identify_regressions`, :func:`generate_comparison_report`.
Regression tracking (plan task 3): :class:`RegressionTracker`, :func:`check_regression`,
:func:`update_baseline`, :func:`github_comment_format`, :func:`exit_code_for_regressions`,
:func:`regression_badge_data`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from tools.bench.github.badge import make_badge
from tools.bench.github.render import DEFAULT_MARKER, MAX_COMMENT_CHARS, pr_comment
from tools.bench.history.baseline import (
    DEFAULT_BASELINE_DIR,
    BaselineRecord,
    find_baseline,
    read_reference,
    storage_key,
    update_baseline,
)
from tools.bench.history.runs import DEFAULT_HISTORY_DIR, RunEntry, add_run, entry_from_results
from tools.bench.history.runs import read_history as read_history_file
from tools.bench.history.trend import TrendReport, analyze_history
from tools.bench.judge.document import history_folder, judge_document, resolve_thresholds
from tools.bench.judge.history_noise import load_run_history
from tools.bench.judge.pairing import compare_documents
from tools.bench.judge.stored import check_regression
from tools.bench.report.compare import render_comparison
from tools.bench.report.document import (
    build_report,
    render_markdown,
    render_pr_comment,
    report_stem,
    report_stems,
    report_to_json,
    write_reports,
)
from tools.bench.thresholds import DEFAULT_THRESHOLDS, Thresholds
from tools.bench.verdict import MetricJudgement, ReportDocument, Verdict
from tools.bench.verdict import exit_code_for_regressions as exit_code_for_regressions
from virnucpro.atomic import write_new_text
from virnucpro.bench.schema import ResultsDocument
from virnucpro.errors import InputError
from virnucpro.extras import require

DEFAULT_REPORT_DIR = Path("tests/reports")
SUMMARY_MAX_CHARS = 1_000_000  # the summary page is not cut unless it is absurdly long


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ----------------------------------------------------------------------------- reports


class ReportGenerator:
    """The reports of one run: markdown, JSON, and the one-page summary.

    The results of every suite test are aggregated while the suites run
    (:class:`virnucpro.bench.run.collector.ResultsCollector` writes one results document per run);
    this takes that document and, optionally, the checker's verdict against a baseline. The
    report record is :func:`tools.bench.report.document.build_report`'s.
    """

    def __init__(
        self,
        results: ResultsDocument,
        *,
        verdict: Verdict | None = None,
        now: datetime | None = None,
    ) -> None:
        self.report: ReportDocument = build_report(results, verdict=verdict, now=now or _now())

    @property
    def results(self) -> ResultsDocument:
        return self.report.results

    @property
    def verdict(self) -> Verdict | None:
        return self.report.verdict

    def markdown(self) -> str:
        """The full report: summary, requirements, scaling, end to end, stages, memory, ..."""
        return render_markdown(self.report)

    def json(self) -> str:
        """The machine-readable report (``virnucpro-benchmark-report``, versioned)."""
        return report_to_json(self.report)

    def summary(self) -> str:
        """The one-page dashboard: outcome, requirements pass/fail, key metrics, what regressed
        against the baseline, and the recommendations (the PR comment's content)."""
        return render_pr_comment(self.report, max_chars=SUMMARY_MAX_CHARS)

    def write(self, out_dir: Path = DEFAULT_REPORT_DIR) -> tuple[Path, Path]:
        """``benchmark_YYYYMMDD_HHMMSS.md`` and ``.json`` in ``out_dir``, written atomically."""
        return write_reports(self.report, out_dir)

    def write_dashboard(
        self, history: Sequence[ResultsDocument], out_dir: Path = DEFAULT_REPORT_DIR
    ) -> Path:
        """The trend dashboard over ``history`` and this run (markdown + one PNG per metric)."""
        runs = [entry_from_results(doc) for doc in [*history, self.results]]
        return _markdown_dashboard(runs, out_dir)


def _markdown_dashboard(
    runs: Sequence[RunEntry], out_dir: Path, metrics: Sequence[str] | None = None
) -> Path:
    """The markdown dashboard, whose charts need ``virnucpro[dashboard]`` (matplotlib)."""
    require("dashboard", command="the markdown dashboard")
    from tools.bench.site.markdown import write_dashboard

    return write_dashboard(runs, out_dir, metrics=metrics)


def _write_report(
    results: ResultsDocument,
    verdict: Verdict | None,
    out_dir: Path,
    now: datetime | None,
    *,
    suffix: str,
    render: Callable[[ReportDocument], str],
) -> Path:
    report = ReportGenerator(results, verdict=verdict, now=now).report
    for stem in report_stems(report):  # never over another report of the same second
        path = Path(out_dir) / f"{stem}{suffix}"
        if write_new_text(path, render(report)):
            return path
    raise InputError(f"{out_dir}: no free name for another {report_stem(report)}{suffix}")


def generate_markdown_report(
    results: ResultsDocument,
    *,
    verdict: Verdict | None = None,
    out_dir: Path = DEFAULT_REPORT_DIR,
    now: datetime | None = None,
) -> Path:
    """Write ``<out_dir>/benchmark_YYYYMMDD_HHMMSS.md`` (the full markdown report)."""
    return _write_report(results, verdict, out_dir, now, suffix=".md", render=render_markdown)


def generate_json_report(
    results: ResultsDocument,
    *,
    verdict: Verdict | None = None,
    out_dir: Path = DEFAULT_REPORT_DIR,
    now: datetime | None = None,
) -> Path:
    """Write ``<out_dir>/benchmark_YYYYMMDD_HHMMSS.json`` (the machine-readable report)."""
    return _write_report(results, verdict, out_dir, now, suffix=".json", render=report_to_json)


def compare_runs(
    baseline: ResultsDocument,
    candidate: ResultsDocument,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> tuple[MetricJudgement, ...]:
    """Every directed metric of both runs, judged as ``python -m tools.bench compare`` judges
    them (:func:`tools.bench.judge.pairing.compare_documents`): paired when they are the two
    sides of one A/B run, else by the regression checker's rules, unpaired: pass, fail, warn,
    improved, inconclusive, ..."""
    label = baseline.run.run_id
    return compare_documents(
        baseline, candidate, thresholds=thresholds, base_label=label
    ).verdict.judgements


def identify_regressions(
    baseline: ResultsDocument,
    candidate: ResultsDocument,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> tuple[MetricJudgement, ...]:
    """The metrics the checker fails or warns on."""
    changes = compare_runs(baseline, candidate, thresholds=thresholds)
    return tuple(j for j in changes if j.status in ("fail", "warn"))


def identify_improvements(
    baseline: ResultsDocument,
    candidate: ResultsDocument,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> tuple[MetricJudgement, ...]:
    """The metrics the checker calls significantly better beyond their threshold."""
    changes = compare_runs(baseline, candidate, thresholds=thresholds)
    return tuple(j for j in changes if j.status == "improved")


def generate_comparison_report(
    baseline: ResultsDocument, candidate: ResultsDocument, *, verdict: Verdict | None = None
) -> str:
    """Markdown for a PR review: both runs side by side, then regressions, improvements and the
    rest, by the one verdict of the two runs (:func:`compare_runs`' judge;
    :func:`tools.bench.report.compare.render_comparison`)."""
    label = baseline.run.run_id
    judged = verdict or compare_documents(baseline, candidate, base_label=label).verdict
    return render_comparison(baseline, candidate, verdict=judged)


# ----------------------------------------------------------------------------- regressions


class RegressionTracker:
    """Baselines, the regression check and the run history of one baselines folder.

    Baselines are stored per hardware and workload (``<baseline_dir>/<key>.json``, versioned
    envelopes); the history is a JSON-lines file per key in ``history_dir`` (default
    ``tests/reports/history``, never inside the baselines folder), and once it holds earlier
    comparable runs the check judges against their between-run noise. The thresholds are
    ``<baseline_dir>/thresholds.toml`` when present, else the defaults: a total time more than
    10% slower fails; a stage more than 10% slower, a GPU utilization more than 5 points lower or
    memory more than 20% higher warns (:mod:`tools.bench.thresholds`).
    """

    def __init__(
        self,
        baseline_dir: Path = DEFAULT_BASELINE_DIR,
        *,
        thresholds: Thresholds | None = None,
        require_baseline: bool = False,
        history_dir: Path = DEFAULT_HISTORY_DIR,
    ) -> None:
        self.baseline_dir = Path(baseline_dir)
        self.history_dir = Path(history_dir)
        self.thresholds = thresholds or resolve_thresholds(
            file=None, baseline_dir=self.baseline_dir, overrides={}
        )
        self.require_baseline = require_baseline

    def load_baseline(self, source: ResultsDocument | Path) -> BaselineRecord | None:
        """The baseline in a JSON file (a results, report or baseline file), or the stored one
        comparable with a run (None when none is stored)."""
        if isinstance(source, ResultsDocument):
            return find_baseline(source, self.baseline_dir)
        return read_reference(Path(source))

    def update_baseline(self, results: ResultsDocument) -> Path:
        """Store ``results`` as the baseline for its hardware and workload (not an invalid run)."""
        return update_baseline(results, self.baseline_dir)

    def check_regression(
        self, results: ResultsDocument, baseline: ResultsDocument | Path | None = None
    ) -> Verdict:
        """The verdict of ``results`` against ``baseline`` (a run or a file), or else against the
        stored baseline; where the tracker's history holds enough earlier comparable runs, their
        between-run noise judges instead. :attr:`Verdict.exit_code` is 0 pass, 1 regression, 2
        could not judge."""
        folder = history_folder(None, default=self.history_dir)
        if isinstance(baseline, ResultsDocument):
            return check_regression(
                results,
                baseline,
                thresholds=self.thresholds,
                require_baseline=self.require_baseline,
                history=load_run_history(folder, results) if folder is not None else None,
            )
        return judge_document(
            results,
            baseline_dir=self.baseline_dir,
            thresholds=self.thresholds,
            require_baseline=self.require_baseline,
            baseline_file=baseline,
            history_dir=folder,
        )

    def record(self, results: ResultsDocument) -> Path:
        """Append ``results`` to the history of its hardware and workload."""
        return add_run(self.history_dir, entry_from_results(results)).path

    def history(self, results: ResultsDocument) -> list[RunEntry]:
        """The recorded runs comparable with ``results``, in the order they were added."""
        return read_history_file(self.history_dir, storage_key(results))

    def trend(
        self, results: ResultsDocument, *, metrics: Sequence[str] | None = None
    ) -> list[TrendReport]:
        """Per metric over the recorded history: change points (gradual or sudden degradation),
        the current slope, and the run at which it is predicted to cross its threshold."""
        return analyze_history(self.history(results), metrics=metrics, thresholds=self.thresholds)

    def trend_dashboard(
        self,
        results: ResultsDocument,
        out_dir: Path = DEFAULT_REPORT_DIR,
        *,
        metrics: Sequence[str] | None = None,
    ) -> Path:
        """The trend charts (one PNG per metric) and their markdown page over the history."""
        return _markdown_dashboard(self.history(results), out_dir, metrics=metrics)


def github_comment_format(
    report: ReportDocument, *, marker: str = DEFAULT_MARKER, max_chars: int = MAX_COMMENT_CHARS
) -> str:
    """The sticky PR comment exactly as ``python -m tools.bench post`` posts it."""
    return pr_comment(report, marker=marker, max_chars=max_chars)


def regression_badge_data(report: ReportDocument) -> dict[str, object]:
    """The shields.io endpoint document for a README badge (label, message, colour)."""
    return make_badge(report).to_dict()
