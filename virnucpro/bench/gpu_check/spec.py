"""The GPU check's steps, their time limits, the check's configuration and each step's outcome.

The limits are sized from the dry run's estimate of each step's time on the GPU machine
(:mod:`virnucpro.bench.gpu_check.estimate`, the figures are in docs/gpu-check.md) with room to
spare, and together fit the budget: :data:`DEFAULT_BUDGET_S` leaves the 8-minute stay
(:data:`STAY_S`) room for the wheels' install and the machine's own start-up. The model steps
share one process, which builds the 3B models once: the first of them pays the process start
and the model build. A dry run has its own limits and budget: the CPU is slower and shared, and
the dry run is judged by its estimate, not by its wall time.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_TIMED_OUT = "timed out"
STATUS_NOT_RUN = "not run"
STATUS_NOT_AVAILABLE = "not available"  # the feature a step checks cannot run here, said why
PASSING_STATUSES = frozenset({STATUS_OK, STATUS_NOT_AVAILABLE})

STAY_S = 480.0  # the stay on the GPU machine the check is written for: 8 minutes
DEFAULT_BUDGET_S = 450.0  # leaves the stay 30 s for the wheels' install and start-up
DRY_RUN_BUDGET_S = 1800.0  # a shared 2-core CPU: generous; the estimate is what is judged
MIN_STEP_S = 15.0


@dataclass(frozen=True)
class StepSpec:
    """One step: its name, what it shows, and its time limits (GPU, dry run)."""

    name: str
    title: str
    limit_s: float
    dry_limit_s: float


STEP_SPECS: tuple[StepSpec, ...] = (  # GPU limits: the dry run's estimate (docs) plus room
    StepSpec("throughput", "DNABERT-S and ESM-2 3B sizes, bf16: tokens/s, roofline", 62, 300),
    StepSpec("end_to_end", "fast (bf16) vs vanilla (fp32) end to end, 3B, small", 115, 300),
    StepSpec("equivalence", "bf16 fast vs fp32 vanilla: labels, cosine, scores", 30, 200),
    StepSpec("sampler_overhead", "GPU sampler overhead, interleaved with/without", 50, 300),
    StepSpec("gpu_tests", "gpu-marked tests", 103, 300),
    StepSpec("quick_tier", "quick tier on the GPU", 40, 300),
    StepSpec("ab_self_check", "A/B self-check (--against HEAD)", 50, 300),
)
MODEL_STEP_NAMES = ("throughput", "end_to_end", "equivalence", "sampler_overhead")


@dataclass(frozen=True)
class StepOutcome:
    """What one step gave: status, time, figures, and the error or reason when not ok.

    ``cpu_seconds``: CPU time of the step's processes (user + system), for the dry run's
    estimate of the step on the GPU machine; ``None`` where it was not measured.
    """

    name: str
    title: str
    status: str
    seconds: float | None
    limit_s: float | None
    figures: dict[str, Any] = field(default_factory=dict)
    detail: str = ""
    cpu_seconds: float | None = None

    @property
    def elapsed(self) -> str:
        """The step's wall time for people; a step that never started was not timed, not 0 s."""
        return "not timed" if self.seconds is None else f"{self.seconds:.1f} s"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "seconds": self.seconds,
            "cpu_seconds": self.cpu_seconds,
            "limit_s": self.limit_s,
            "figures": self.figures,
            "detail": self.detail,
        }


def outcome(
    spec: StepSpec,
    status: str,
    *,
    seconds: float | None = None,
    limit_s: float | None = None,
    detail: str = "",
    figures: dict[str, Any] | None = None,
    cpu_seconds: float | None = None,
) -> StepOutcome:
    return StepOutcome(
        name=spec.name,
        title=spec.title,
        status=status,
        seconds=seconds,
        limit_s=limit_s,
        figures=figures or {},
        detail=detail,
        cpu_seconds=cpu_seconds,
    )


@dataclass(frozen=True)
class CheckConfig:
    """Where and how the check runs."""

    outdir: Path
    scratch: Path
    root: Path  # the checkout (on PYTHONPATH of every step)
    dry_run: bool
    budget_s: float = DEFAULT_BUDGET_S
    python: str = sys.executable
    steps: tuple[str, ...] = tuple(s.name for s in STEP_SPECS)

    def limit(self, spec: StepSpec) -> float:
        return spec.dry_limit_s if self.dry_run else spec.limit_s
