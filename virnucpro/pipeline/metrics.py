"""Run metrics: per-stage wall time, items and tokens, written as ``run_metrics.json``.

The benchmark suites are built on this record, so it is versioned like the results document.
GPU work is synchronized before a stage clock stops, so stage times are honest. Version 2 adds
``dropped``: the reads and chunks without a kept frame, by reason (``None`` when read from a
version 1 file, which did not record them).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from virnucpro.atomic import atomic_write_text
from virnucpro.pipeline.dropped import DropCounts
from virnucpro.stages import STAGES

RUN_METRICS_VERSION = 2
RUN_METRICS_FILE = "run_metrics.json"
SHARED_INPUT_STAGES = ("load_models", "read", "chunk", "translate")  # every rank runs them whole


@dataclass(frozen=True)
class StageMetrics:
    """One stage: wall seconds, what went in and out, and the tokens it processed."""

    name: str
    seconds: float
    items_in: int
    items_out: int
    tokens: int = 0
    batches: int = 0


@dataclass(frozen=True)
class RunMetrics:
    """Everything a run measured about itself."""

    virnucpro_version: str
    engine: str
    device: str
    precision: str
    expected_length: int
    input_path: str
    input_sha256: str
    reads: int
    bases: int
    chunks: int
    kept_frames: int
    dnabert_tokens: int
    esm_tokens: int
    total_seconds: float
    stages: tuple[StageMetrics, ...]
    models: tuple[dict[str, object], ...]
    models_meaningful: bool
    model_note: str
    torch_version: str = torch.__version__
    torch_threads: int = field(default_factory=torch.get_num_threads)
    world_size: int = 1
    warnings: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)
    dropped: DropCounts | None = None  # reads and chunks without a kept frame (None: not recorded)
    schema_version: int = RUN_METRICS_VERSION

    def stage(self, name: str) -> StageMetrics | None:
        return next((s for s in self.stages if s.name == name), None)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    def write(self, outdir: Path) -> Path:
        path = Path(outdir) / RUN_METRICS_FILE
        atomic_write_text(path, self.to_json())
        return path

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> RunMetrics:
        fields = dict(data)
        fields["stages"] = tuple(StageMetrics(**s) for s in fields["stages"])  # type: ignore[union-attr]
        fields["models"] = tuple(fields["models"])  # type: ignore[arg-type]
        fields["warnings"] = tuple(fields.get("warnings", ()))  # type: ignore[arg-type]
        if fields.get("dropped") is not None:
            fields["dropped"] = DropCounts.from_dict(fields["dropped"])  # type: ignore[arg-type]
        return cls(**fields)  # type: ignore[arg-type]

    @classmethod
    def read(cls, path: Path) -> RunMetrics:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def synchronize(device: torch.device | str | None) -> None:
    """Wait for queued GPU work so a wall clock around it measures the work itself."""
    dev = torch.device(device) if device is not None else None
    if dev is not None and dev.type == "cuda" and torch.cuda.is_available():
        torch.cuda.synchronize(dev)


class StageRecorder:
    """Collects :class:`StageMetrics` as the pipeline runs; the clock syncs the device."""

    def __init__(self, device: torch.device | str | None = None) -> None:
        self._device = device
        self._stages: list[StageMetrics] = []

    @contextmanager
    def stage(self, name: str, *, items_in: int = 0) -> Iterator[dict[str, int]]:
        """Time a stage; the body fills ``items_out``/``tokens``/``batches`` in the yielded dict."""
        counts = {"items_out": 0, "tokens": 0, "batches": 0}
        synchronize(self._device)
        start = time.perf_counter()
        yield counts
        synchronize(self._device)
        self._stages.append(
            StageMetrics(
                name=name,
                seconds=time.perf_counter() - start,
                items_in=items_in,
                items_out=counts["items_out"],
                tokens=counts["tokens"],
                batches=counts["batches"],
            )
        )

    @property
    def stages(self) -> tuple[StageMetrics, ...]:
        return tuple(self._stages)


@dataclass
class RankTimes:
    """The stage clocks of one rank of a run, summed over the shards it embedded."""

    stages: dict[str, StageMetrics] = field(default_factory=dict)

    def add(self, stage: StageMetrics) -> None:
        old = self.stages.get(stage.name)
        if old is None:
            self.stages[stage.name] = stage
            return
        self.stages[stage.name] = StageMetrics(
            name=stage.name,
            seconds=old.seconds + stage.seconds,
            items_in=old.items_in + stage.items_in,
            items_out=old.items_out + stage.items_out,
            tokens=old.tokens + stage.tokens,
            batches=old.batches + stage.batches,
        )

    def write(self, path: Path) -> None:
        """This rank's stages as JSON, for rank 0 to combine (:func:`read_rank_stages`)."""
        path.write_text(json.dumps([asdict(s) for s in self.stages.values()], indent=1), "utf-8")


def read_rank_stages(path: Path) -> list[StageMetrics]:
    """The stages one rank wrote with :meth:`RankTimes.write`."""
    return [StageMetrics(**s) for s in json.loads(path.read_text(encoding="utf-8"))]


def combine_rank_stages(
    per_rank: list[list[StageMetrics]], merge: StageMetrics
) -> tuple[StageMetrics, ...]:
    """Across ranks, in stage order: the slowest rank's wall time; counts summed, except the
    input stages every rank runs over the whole input (``SHARED_INPUT_STAGES``: rank 0's)."""
    combined = []
    for name in STAGES:
        found = [s for stages in per_rank for s in stages if s.name == name]
        if not found:
            continue
        shared = name in SHARED_INPUT_STAGES
        combined.append(
            StageMetrics(
                name=name,
                seconds=max(s.seconds for s in found),
                items_in=found[0].items_in if shared else sum(s.items_in for s in found),
                items_out=found[0].items_out if shared else sum(s.items_out for s in found),
                tokens=sum(s.tokens for s in found),
                batches=sum(s.batches for s in found),
            )
        )
    combined.append(merge)
    return tuple(combined)
