"""Equivalence suite: the engine under test against the vanilla (published) engine.

Both engines embed and classify the same kept frames with the same models
(:func:`virnucpro.pipeline.equivalence.equivalence_check`); the result is recorded, with
``equivalence.speedup`` (vanilla's embedding + classification time over the candidate's, where
the engines differ), then the test fails if the candidate is not equivalent, so a wrong fast
engine never passes as a fast one. With ``--vanilla-baseline`` the vanilla engine is also timed
end to end, interleaved round by round with the engine under test:
``equivalence.end_to_end_speedup`` is the per-round ratio of the two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from virnucpro.bench.measure import measure, time_metric
from virnucpro.bench.metric_names import END_TO_END_SPEEDUP_METRIC
from virnucpro.bench.schema import EquivalenceResult, metric_from_samples

if TYPE_CHECKING:
    from virnucpro.bench.run.session import BenchSession
    from virnucpro.pipeline.equivalence import Criteria, EquivalenceReport

pytestmark = pytest.mark.benchmark

REFERENCE = "vanilla"
TAG = "equivalence"
SPEEDUP = "equivalence.speedup"  # embedding + classification, one run of each engine
END_TO_END_SPEEDUP = END_TO_END_SPEEDUP_METRIC  # per round, with --vanilla-baseline
VANILLA_TOTAL = "equivalence.vanilla.total_time"


def _skip_if_reference(bench: BenchSession) -> None:
    if bench.engine == REFERENCE:
        pytest.skip("the engine under test is vanilla itself: nothing to compare it with")


def describe_criteria(criteria: Criteria, failures: tuple[str, ...]) -> str:
    parts = [f"{criteria.name}: label agreement >= {criteria.min_label_agreement:.1%}"]
    if criteria.max_relative_difference is not None:
        parts.append(f"max relative difference <= {criteria.max_relative_difference:g}")
    if criteria.min_cosine is not None:
        parts.append(f"min cosine >= {criteria.min_cosine:g}")
    text = ", ".join(parts)
    return f"{text}; failed: {'; '.join(failures)}" if failures else text


def equivalence_result(report: EquivalenceReport) -> EquivalenceResult:
    """The schema record of an equivalence report (which must cover at least one frame)."""
    assert report.label_agreement is not None and report.chunk_call_agreement is not None
    dna, esm = report.model("dnabert"), report.model("esm")
    return EquivalenceResult(
        reference_engine=report.reference,
        candidate_engine=report.candidate,
        precision=report.candidate_precision,
        frames=report.frames,
        label_agreement=report.label_agreement,
        chunk_call_agreement=report.chunk_call_agreement,
        max_score_diff=report.max_abs_score_difference or 0.0,
        min_cosine_dnabert=dna.min_cosine,
        min_cosine_esm=esm.min_cosine,
        max_rel_diff_dnabert=dna.max_relative_difference,
        max_rel_diff_esm=esm.max_relative_difference,
        speedup=report.speedup,
        passed=report.passed,
        criteria=describe_criteria(report.criteria, report.failures),
    )


def test_fast_matches_vanilla(bench: BenchSession) -> None:
    """Label, chunk-call and embedding agreement with vanilla on the workload's kept frames."""
    from virnucpro.pipeline.equivalence import equivalence_check

    _skip_if_reference(bench)
    if not bench.workload_fingerprint.kept_frames:
        pytest.skip("the workload keeps no frame: there is nothing to compare")
    with bench.sampler.stage(TAG):
        report = equivalence_check(
            bench.workload.path,
            bench.models(),
            device=bench.device,
            reference=REFERENCE,
            candidate=bench.engine,
            expected_length=bench.options.expected_length,
            candidate_options={"precision": bench.options.precision},
        )
    bench.collector.set_equivalence(equivalence_result(report))
    if report.speedup is not None:
        bench.collector.add_metric(
            metric_from_samples(SPEEDUP, [report.speedup], unit="x", better="higher")
        )
    assert report.passed, f"{bench.engine} is not equivalent to vanilla: {report.failures}"


def test_vanilla_baseline(bench: BenchSession) -> None:
    """Vanilla end to end, interleaved with the engine under test; per-round speedup."""
    if not bench.options.vanilla_baseline:
        pytest.skip("not requested (--vanilla-baseline times the vanilla engine end to end)")
    _skip_if_reference(bench)
    vanilla = bench.predict_config(bench.outdir("vanilla"), engine=REFERENCE)
    candidate = bench.predict_config(bench.outdir("candidate"))
    runs = {
        "vanilla": lambda: bench.run_predict(vanilla),
        "candidate": lambda: bench.run_predict(candidate),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    with bench.sampler.stage(TAG):
        for fn in runs.values():
            for _ in range(bench.options.warmup):
                fn()
        for _ in range(bench.options.rounds):
            for name, fn in runs.items():
                times[name] += measure(fn, rounds=1, warmup=0, device=bench.device).samples
    speedups = [v / c for v, c in zip(times["vanilla"], times["candidate"], strict=True)]
    bench.collector.add_metric(time_metric(VANILLA_TOTAL, times["vanilla"]))
    bench.collector.add_metric(
        metric_from_samples(END_TO_END_SPEEDUP, speedups, unit="x", better="higher")
    )
    assert len(speedups) == bench.options.rounds
