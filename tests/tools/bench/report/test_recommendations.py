"""The report's recommendations: each fires only when the data shows its condition."""

from __future__ import annotations

from tests.tools.bench import make_fixtures as mf
from tools.bench.report import recommendations as rec
from tools.bench.report.targets import CAPACITY_LABEL
from tools.bench.verdict import Verdict
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.schema import ResultsDocument, Validity, metric_from_samples


def _recs(doc: ResultsDocument, verdict: Verdict | None = None) -> tuple[str, ...]:
    return rec.derive_recommendations(doc, verdict=verdict)


def _has(recs: tuple[str, ...], text: str) -> bool:
    return any(text in r for r in recs)


def test_bottleneck_recommendation_names_the_slowest_stage() -> None:
    assert _has(_recs(mf.load_fixture("gpu_run")), "Bottleneck: stage `esm` takes 62.3%")


def test_low_gpu_utilization_is_recommended_only_below_the_threshold() -> None:
    low = mf.with_metrics(
        mf.load_fixture("gpu_run"), metric_from_samples("gpu.utilization", [55.0], unit="%")
    )
    assert _has(_recs(low), "GPU utilization median is 55.0%")
    assert not _has(_recs(mf.load_fixture("gpu_run")), "GPU utilization median")


def test_high_variance_lists_the_noisy_metric_only() -> None:
    recs = _recs(mf.load_fixture("cpu_run"))
    assert _has(recs, "`stage.read.time` (30.0%)")
    assert not _has(recs, "`stage.esm.time` (")


def test_high_variance_never_divides_by_a_median_of_zero_or_near_zero() -> None:
    """A CPU share whose median is rounding noise (4e-13) gave "6140562945700.1%" (issue 17)."""
    share = [0.0, 4e-13, 4e-13, 0.02, 0.05, 0.0, 4e-13]
    doc = mf.with_metrics(
        mf.load_fixture("cpu_run"),
        metric_from_samples("host.others_cpu_share", share, unit="ratio"),
        metric_from_samples("stage.write.time", share, unit="s", better="lower"),
    )
    recs = _recs(doc)
    assert not _has(recs, "host.others_cpu_share") and not _has(recs, "stage.write.time")
    assert _has(recs, "`stage.read.time` (30.0%)")  # a real spread is still named


def test_poor_scaling_gives_efficiency_and_serial_fraction() -> None:
    recs = _recs(mf.load_fixture("gpu_run"))
    assert _has(recs, "Scaling of `total` to 4 GPUs reaches efficiency 0.86")
    assert _has(recs, "Karp-Flatt serial fraction 0.054")
    assert not _has(recs, "Scaling of `esm`")  # 0.95 is above the threshold


def test_memory_headroom_uses_the_capacity_label() -> None:
    assert _has(
        _recs(mf.load_fixture("gpu_run")),
        "`memory.nvml_device_used` peaks at 29.91 GiB, 62.6% free",
    )
    full = metric_from_samples(
        "memory.nvml_device_used", [78e9], unit="B", labels={CAPACITY_LABEL: str(mf.H100_BYTES)}
    )
    assert _has(_recs(mf.with_metrics(mf.load_fixture("gpu_run"), full)), "risk of out-of-memory")


def test_invalid_run_recommends_a_rerun_first() -> None:
    recs = _recs(mf.load_fixture("invalid_run"))
    assert recs[0].startswith("Rerun on an idle, unthrottled machine")


def test_regressions_and_inconclusive_metrics_are_recommended() -> None:
    recs = _recs(mf.load_fixture("regression_run"), mf.load_verdict())
    assert _has(recs, "regression in `end_to_end.total_time` (+15.0% worse")
    assert _has(recs, "Collect more rounds to judge `stage.read.time`, `cold.first_batch`")


def test_metrics_judged_by_the_history_are_recommended_in_its_terms() -> None:
    results = mf.load_fixture("regression_run")
    recs = _recs(results, mf.history_verdict("fail"))
    assert _has(recs, "(+30.0% worse, outside the prediction interval of the between-run noise)")
    assert _has(recs, "against 7 earlier runs of the history")
    recs = _recs(results, mf.history_verdict("inconclusive"))
    assert _has(recs, "Judge `end_to_end.total_time` with the A/B gate")
    assert not _has(recs, "Collect more rounds")


def test_cold_start_dominating_is_recommended() -> None:
    doc = mf.with_metrics(
        mf.load_fixture("cpu_run"), metric_from_samples("cold.model_load", [9.0], unit="s")
    )
    assert _has(_recs(doc), "Model loading (9.00 s) is 79.1% of the total time")
    assert not _has(_recs(mf.load_fixture("cpu_run")), "Model loading")


def test_quiet_run_without_findings_says_so() -> None:
    doc = mf.load_fixture("cpu_run").model_copy(
        update={
            "metrics": (metric_from_samples(TOTAL_TIME_METRIC, [1.0, 1.01], unit="s"),),
            "stages": (),
            "validity": Validity(),
        }
    )
    assert _recs(doc) == (rec.NOTHING_TO_RECOMMEND,)
