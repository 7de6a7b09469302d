"""virnucpro.pipeline.equivalence: the comparison record, and fast vs vanilla on real frames.

(Tests of ``virnucpro/pipeline/equivalence.py`` live beside the engine tests they prove.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from virnucpro.bench.workload.reads import make_reads, write_fasta
from virnucpro.engines import get_engine
from virnucpro.errors import RunFailure
from virnucpro.models.presets import ModelSet, load_model_set
from virnucpro.pipeline.equivalence import (
    FP32_CRITERIA,
    REDUCED_CRITERIA,
    PredictionSet,
    compare_engines,
    equivalence_check,
    load_frames,
    max_relative_difference,
    predict_frames,
)
from virnucpro.stages.aggregate import ChunkCall


@pytest.fixture(scope="module")
def models() -> ModelSet:
    return load_model_set(preset="tiny", device="cpu")


@pytest.fixture(scope="module")
def reads_fasta(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 benchmark reads: short, exact, boundary and multi-chunk lengths, some with N."""
    return write_fasta(make_reads("tiny"), tmp_path_factory.mktemp("eq") / "reads.fasta")


def _set(
    probabilities: list[list[float]], *, dna_scale: float = 1.0, precision: str = "fp32"
) -> PredictionSet:
    n = len(probabilities)
    dna = torch.arange(n * 4, dtype=torch.float32).reshape(n, 4) + 1.0
    probs = torch.tensor(probabilities).reshape(n, 2)
    return PredictionSet(
        frame_ids=tuple(f"r{i}_chunk_1F1" for i in range(n)),
        dnabert=dna * dna_scale,
        esm=torch.ones(n, 3),
        probabilities=probs,
        chunk_calls=tuple(
            ChunkCall(f"r{i}_chunk_1", bool(p[1] >= p[0])) for i, p in enumerate(probabilities)
        ),
        engine="test",
        precision=precision,
        seconds=2.0,
    )


PROBS = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.45, 0.55]]


def test_identical_sets_pass_with_perfect_figures() -> None:
    report = compare_engines(_set(PROBS), _set(PROBS))
    assert report.passed and report.failures == ()
    assert report.label_agreement == report.chunk_call_agreement == 1.0
    assert report.max_abs_score_difference == 0.0
    assert report.model("dnabert").max_relative_difference == 0.0
    assert report.model("esm").min_cosine == pytest.approx(1.0)
    assert report.criteria == FP32_CRITERIA
    assert report.speedup == 1.0


def test_a_flipped_label_fails_fp32_and_is_counted() -> None:
    flipped = [p[::-1] if i == 3 else p for i, p in enumerate(PROBS)]
    report = compare_engines(_set(PROBS), _set(flipped))
    assert not report.passed
    assert report.label_agreement == report.chunk_call_agreement == 0.75
    assert report.max_abs_score_difference == pytest.approx(0.1)
    assert any("label agreement" in f for f in report.failures)


def test_fp32_fails_beyond_1e4_relative_and_reduced_precision_judges_by_cosine() -> None:
    scaled = _set(PROBS, dna_scale=1.001)
    assert not compare_engines(_set(PROBS), scaled).passed  # 1e-3 relative > 1e-4
    report = compare_engines(_set(PROBS), _set(PROBS, dna_scale=1.001, precision="bf16"))
    assert report.criteria == REDUCED_CRITERIA
    assert report.passed  # a scale leaves the cosine at 1


def test_relative_difference_is_the_row_max_error_over_the_row_max() -> None:
    reference = torch.tensor([[10.0, 1.0], [2.0, -4.0]])
    candidate = torch.tensor([[10.0, 1.5], [2.0, -4.1]])
    assert max_relative_difference(reference, candidate) == pytest.approx(0.05)


def test_sets_over_different_frames_cannot_be_compared() -> None:
    other = _set(PROBS)
    other = PredictionSet(**{**other.__dict__, "frame_ids": ("x",) * len(PROBS)})
    with pytest.raises(RunFailure, match="same frames"):
        compare_engines(_set(PROBS), other)


def test_no_frames_gives_unmeasured_figures_not_zeros() -> None:
    report = compare_engines(_set([]), _set([]))
    assert report.frames == 0 and report.passed
    assert report.label_agreement is None and report.max_abs_score_difference is None
    assert report.model("esm").max_relative_difference is None


def test_report_is_json_ready() -> None:
    data = json.loads(json.dumps(compare_engines(_set(PROBS), _set(PROBS)).as_dict()))
    assert data["passed"] is True and data["speedup"] == 1.0
    assert data["criteria"]["max_relative_difference"] == 1e-4


def test_fast_fp32_matches_vanilla_on_varied_reads(
    models: ModelSet, reads_fasta: Path, record_property: pytest.RecordProperty
) -> None:
    report = equivalence_check(reads_fasta, models, device="cpu")
    for model in report.models:
        record_property(f"{model.model}_max_relative_difference", model.max_relative_difference)
    assert report.frames > 20 and report.candidate_precision == "fp32"
    assert report.passed, report.failures
    assert report.label_agreement == 1.0 and report.chunk_call_agreement == 1.0
    assert all(m.max_relative_difference <= 1e-4 for m in report.models)  # type: ignore[operator]
    assert report.reference_seconds and report.candidate_seconds


def test_fast_bf16_on_the_cpu_meets_the_reduced_criteria(
    models: ModelSet, orf_fasta: Path, record_property: pytest.RecordProperty
) -> None:
    report = equivalence_check(orf_fasta, models, candidate_options={"precision": "bf16"})
    record_property("min_cosine", min(m.min_cosine for m in report.models))  # type: ignore[type-var]
    assert report.criteria == REDUCED_CRITERIA
    assert report.passed, report.failures
    assert report.label_agreement is not None and report.label_agreement >= 0.995


def test_predict_frames_times_each_stage_in_frame_order(models: ModelSet, orf_fasta: Path) -> None:
    frames = load_frames(orf_fasta, 500)
    result = predict_frames(get_engine("fast"), models, frames)
    assert result.frame_ids == tuple(f.id for f in frames)
    assert set(result.stage_seconds) == {"dnabert", "esm", "classify"}
    assert result.seconds == pytest.approx(sum(result.stage_seconds.values()))
    assert result.probabilities.shape == (len(frames), 2)
    assert [c.modified_id for c in result.chunk_calls] == sorted({f.chunk_id for f in frames})


def test_models_on_another_device_are_refused(models: ModelSet, orf_fasta: Path) -> None:
    with pytest.raises(RunFailure, match="not on the requested"):
        equivalence_check(orf_fasta, models, device="cuda")


@pytest.mark.gpu
def test_fast_on_the_gpu_meets_the_reduced_criteria(orf_fasta: Path) -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    gpu_models = load_model_set(preset="tiny", device="cuda")
    report = equivalence_check(orf_fasta, gpu_models, device="cuda")
    assert report.candidate_precision in ("bf16", "fp16")
    assert report.passed, report.failures
