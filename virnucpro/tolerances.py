"""How close two sets of predictions must be to count as the same: one definition, torch-free.

The equivalence suite (:mod:`virnucpro.pipeline.equivalence`) judges a candidate engine against a
reference on the embeddings and labels (:class:`Criteria`); the benchmark's output check
(:mod:`virnucpro.bench.outputs`) judges the published outputs of two runs (kept frames, labels,
chunk calls, scores) with the :class:`OutputTolerance` of the run's precision, derived from the
same numbers:

- **fp32**: identical labels and chunk calls, and each score within ``1e-4`` (the equivalence
  suite's relative tolerance; a score is a probability of at most 1, and the larger of a frame's
  two scores is at least 0.5, so the relative bound is at most this absolute one);
- **bf16 / fp16**: labels and chunk calls agreeing on at least 99.5% of frames and of chunks (the
  equivalence suite's label agreement), and each score within ``2e-3``: about one bf16 unit in
  the last place at a score of 0.5 (2^-9). Measured on the tiny models: the fast engine in bf16
  moves the scores by at most 6e-4 against fp32 vanilla (20 and 200 benchmark reads), while a
  DNABERT-S that runs only its first encoder layer moves them by 8e-3; the bound sits between.

The kept frames themselves (their ids, in order) must be identical at every precision.
"""

from __future__ import annotations

from dataclasses import dataclass

FP32 = "fp32"
FP32_SCORE_TOLERANCE = 1e-4
REDUCED_SCORE_TOLERANCE = 2e-3


@dataclass(frozen=True)
class Criteria:
    """What ``passed`` requires; ``None`` leaves a measure unchecked."""

    name: str
    min_label_agreement: float
    max_relative_difference: float | None = None
    min_cosine: float | None = None


FP32_CRITERIA = Criteria(
    "fp32", min_label_agreement=1.0, max_relative_difference=FP32_SCORE_TOLERANCE
)
REDUCED_CRITERIA = Criteria("reduced precision", min_label_agreement=0.995, min_cosine=0.999)


def criteria_for(precision: str) -> Criteria:
    """fp32 candidates must match to 1e-4 with identical labels; bf16/fp16 by cosine."""
    return FP32_CRITERIA if precision == FP32 else REDUCED_CRITERIA


@dataclass(frozen=True)
class OutputTolerance:
    """How far two runs' published outputs may differ and still be the same outputs."""

    name: str
    max_score_difference: float  # absolute, on each of a frame's two scores
    max_disagreement: float  # share of frames (labels) and of chunks (calls) allowed to differ


FP32_OUTPUTS = OutputTolerance(
    FP32_CRITERIA.name,
    max_score_difference=FP32_SCORE_TOLERANCE,
    max_disagreement=1.0 - FP32_CRITERIA.min_label_agreement,
)
REDUCED_OUTPUTS = OutputTolerance(
    REDUCED_CRITERIA.name,
    max_score_difference=REDUCED_SCORE_TOLERANCE,
    max_disagreement=round(1.0 - REDUCED_CRITERIA.min_label_agreement, 6),
)


def output_tolerance(precision: str) -> OutputTolerance:
    """The tolerance of runs at ``precision`` (fp32, or a reduced one: bf16, fp16)."""
    return FP32_OUTPUTS if precision == FP32 else REDUCED_OUTPUTS
