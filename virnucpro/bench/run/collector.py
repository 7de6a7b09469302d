"""The collector: what the benchmark suites record during a session, built into one document.

Each suite adds metrics, stage timings, scaling points, the equivalence result, skip reasons
and notes; anything recorded twice is refused (a second value under the same name would make
one of them silently win). :meth:`ResultsCollector.build` assembles and validates the
:class:`~virnucpro.bench.schema.ResultsDocument`; the session writes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from virnucpro.bench.outputs import RoundOutputs
from virnucpro.bench.schema import (
    SCHEMA_VERSION,
    Direction,
    EnvironmentFingerprint,
    EquivalenceResult,
    GpuTelemetry,
    Metric,
    ResultsDocument,
    RunInfo,
    ScalingPoint,
    StageTiming,
    Validity,
    WorkloadFingerprint,
    unavailable_metric,
)


class DuplicateRecordError(ValueError):
    """The same metric, stage, scaling point or equivalence result was recorded twice."""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ResultsCollector:
    """Accumulates one session's records, in the order the suites add them."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}
        self._stages: dict[str, StageTiming] = {}
        self._scaling: dict[tuple[str, int, str], ScalingPoint] = {}
        self._equivalence: EquivalenceResult | None = None
        self._skipped: dict[str, str] = {}
        self._notes: list[str] = []
        self._invalid: list[str] = []

    # --------------------------------------------------------------------------- recording

    def add_metric(self, metric: Metric) -> None:
        if metric.name in self._metrics:
            raise DuplicateRecordError(f"metric {metric.name!r} was already recorded")
        self._metrics[metric.name] = metric

    def add_metrics(self, metrics: Iterable[Metric]) -> None:
        for metric in metrics:
            self.add_metric(metric)

    def add_unavailable(
        self, name: str, *, unit: str, reason: str, better: Direction = "none"
    ) -> None:
        """Record a metric that could not be measured here, and why (never as zero)."""
        self.add_metric(unavailable_metric(name, unit=unit, reason=reason, better=better))

    def has_metric(self, name: str) -> bool:
        return name in self._metrics

    def add_stages(self, timings: Iterable[StageTiming]) -> None:
        for timing in timings:
            if timing.stage in self._stages:
                raise DuplicateRecordError(f"stage {timing.stage!r} was already recorded")
            self._stages[timing.stage] = timing

    def add_scaling(self, points: Iterable[ScalingPoint]) -> None:
        for point in points:
            key = (point.kind, point.workers, point.stage)
            if key in self._scaling:
                raise DuplicateRecordError(f"scaling point {key} was already recorded")
            self._scaling[key] = point

    def set_equivalence(self, result: EquivalenceResult) -> None:
        if self._equivalence is not None:
            raise DuplicateRecordError("the equivalence result was already recorded")
        self._equivalence = result

    def skip(self, key: str, reason: str) -> None:
        """Record why a suite (or one test of it) did not run; the same key keeps one reason."""
        if not reason:
            raise ValueError(f"skip {key!r} needs a reason")
        known = self._skipped.get(key)
        if known is not None and known != reason:
            raise DuplicateRecordError(f"skip {key!r} already recorded with another reason")
        self._skipped[key] = reason

    def note(self, text: str) -> None:
        if text not in self._notes:
            self._notes.append(text)

    def invalidate(self, reason: str) -> None:
        """Mark the run unfit to measure (it will not be judged or stored as a baseline)."""
        if reason not in self._invalid:
            self._invalid.append(reason)

    # --------------------------------------------------------------------------- reading

    @property
    def metrics(self) -> tuple[Metric, ...]:
        return tuple(self._metrics.values())

    @property
    def skipped(self) -> dict[str, str]:
        return dict(self._skipped)

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(self._notes)

    # --------------------------------------------------------------------------- building

    def build(
        self,
        *,
        run: RunInfo,
        environment: EnvironmentFingerprint,
        workload: WorkloadFingerprint,
        gpu: GpuTelemetry,
        extra_metrics: Iterable[Metric] = (),
        invalid_reasons: Iterable[str] = (),
        outputs: RoundOutputs | None = None,
    ) -> ResultsDocument:
        """The validated results document of everything recorded so far.

        ``extra_metrics`` (e.g. the GPU telemetry summaries) are added after the suites' own;
        ``invalid_reasons`` join those given to :meth:`invalidate`; ``outputs`` are the published
        outputs of the first and last measured end-to-end round.
        """
        extra = tuple(extra_metrics)
        names = [m.name for m in extra]
        clash = sorted({n for n in names if n in self._metrics or names.count(n) > 1})
        if clash:
            raise DuplicateRecordError(f"metric(s) recorded twice: {', '.join(clash)}")
        reasons = tuple(dict.fromkeys([*self._invalid, *invalid_reasons]))
        return ResultsDocument(
            schema_version=SCHEMA_VERSION,
            run=run,
            environment=environment,
            workload=workload,
            metrics=(*self._metrics.values(), *extra),
            stages=tuple(self._stages.values()),
            scaling=tuple(self._scaling.values()),
            equivalence=self._equivalence,
            gpu=gpu,
            validity=Validity(valid=not reasons, reasons=reasons),
            skipped=dict(self._skipped),
            notes=tuple(self._notes),
            outputs=outputs,
        )


def new_run_id() -> str:
    """A unique, sortable run id: UTC time and a random suffix."""
    import uuid

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"
