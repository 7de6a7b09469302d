"""One side's results document from an A/B run's raw pairs: what the reports and the history read.

Every figure paired per round becomes a metric with that side's samples, in pair order, labelled
with the id of the raw pairs file and the side (``PAIRS_LABEL``, ``SIDE_LABEL``): the two side
documents of one run can be judged paired again (``python -m tools.bench compare``). A figure
some round lacks, NVML's device memory and the suites A/B mode does not run are recorded with the
reason. The environment records the torch threads the workers ran with (the command's own
process may default to more) and the workload keeps its name and seed, so an A/B side and a
plain run of the same machine and workload share a storage key (one history, one baseline).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from virnucpro.bench.ab.schema import ABRecord, Side
from virnucpro.bench.ab.worker import ON_CPU
from virnucpro.bench.ab.worker_process import WorkerSpec
from virnucpro.bench.metric_names import (
    BYTES,
    NVML_DEVICE_USED,
    OTHERS_CPU_METRIC,
    PAIRS_ID_CHARS,
    PAIRS_LABEL,
    SIDE_LABEL,
)
from virnucpro.bench.options import BenchOptions
from virnucpro.bench.run.collector import ResultsCollector, new_run_id, utc_now
from virnucpro.bench.run.envinfo import environment_fingerprint
from virnucpro.bench.schema import GpuTelemetry, ResultsDocument, RunInfo, metric_from_samples
from virnucpro.bench.workload.fingerprint import workload_fingerprint
from virnucpro.bench.workload.prepare import Workload

AB_SUITES = ("end_to_end", "throughput", "memory")  # paired per round, all from the same rounds
NOT_RUN_IN_AB = {
    "scaling": (
        "in A/B mode: a scaling point needs its own set of workers per GPU count and seconds "
        "of start-up each, so scaling runs in the stored-baseline tiers"
    ),
    "equivalence": (
        "in A/B mode: the fast-vs-vanilla speedup is a target, not a gate metric; the plain "
        "tiers measure it"
    ),
}
NVML_MEMORY_IN_AB = (
    "not measured in A/B mode: NVML's device memory counts both sides' workers on the one GPU"
)
GPU_TELEMETRY_IN_AB = (
    "the A/B workers keep one mean NVML utilization per round (gpu.round.utilization), "
    "not the sampler's readings"
)
COVERAGE_NOTE = (
    "A/B mode pairs per round: end-to-end and stage times, tokens/s per model, peak host RSS, "
    "CUDA allocator peaks and GPU utilization (the last two on CUDA only); it compares both "
    "sides' published outputs of the first and the last measured round"
)


def _add_unmeasured(collector: ResultsCollector, record: ABRecord, *, on_cpu: bool) -> None:
    """The per-round figures this run could not pair, and NVML's device memory, with reasons."""
    for gap in record.unpaired_figures():
        figure = gap.figure
        collector.add_unavailable(
            figure.name, unit=figure.unit, better=figure.better, reason=gap.reason
        )
    nvml_reason = ON_CPU if on_cpu else NVML_MEMORY_IN_AB
    collector.add_unavailable(NVML_DEVICE_USED, unit=BYTES, better="lower", reason=nvml_reason)


def pairs_id(path: Path) -> str:
    """The id of a raw pairs file: the first hex digits of its sha256."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:PAIRS_ID_CHARS]


def side_document(
    record: ABRecord,
    *,
    side: Side,
    options: BenchOptions,
    spec: WorkerSpec,
    command: str,
    notes: tuple[str, ...],
    pairs: str | None = None,
    workload: Workload | None = None,
) -> ResultsDocument:
    """One side's results document from its half of the pairs, naming what was not paired.

    ``pairs``: the id of the raw pairs file (:func:`pairs_id`), put on every paired metric.
    ``workload``: the prepared workload, whose name and seed the fingerprint takes, as a plain
    run's does (without it: the file's name), so both kinds of run share a storage key.
    """
    collector = ResultsCollector()
    labels = {PAIRS_LABEL: pairs, SIDE_LABEL: side} if pairs else {}
    for metric in record.paired_metrics():
        samples = metric.head if side == "head" else metric.base
        collector.add_metric(
            metric_from_samples(
                metric.name, samples, unit=metric.unit, better=metric.better, labels=labels
            )
        )
    collector.add_metric(
        metric_from_samples(
            OTHERS_CPU_METRIC, record.others_shares(), unit="ratio", better="none", labels=labels
        )
    )
    _add_unmeasured(collector, record, on_cpu=spec.device == "cpu")
    for suite, reason in NOT_RUN_IN_AB.items():
        collector.skip(suite, reason)
    for note in (COVERAGE_NOTE, *notes):
        collector.note(note)
    info = record.head if side == "head" else record.base
    environment = environment_fingerprint(repo=Path(info.root)).model_copy(
        update={"git_commit": info.commit, "git_dirty": info.dirty, "torch_threads": spec.threads}
    )
    run = RunInfo(
        run_id=new_run_id(),
        created_at=utc_now(),
        tier=options.tier,
        suites=AB_SUITES,
        engine=spec.engine,
        model_preset=spec.preset,
        models_meaningful=False,
        model_note=f"A/B {side} side ({info.package})",
        device=spec.device,
        precision=spec.precision,
        rounds=len(record.rounds),
        warmup_rounds=record.warmup,
        command=command,
    )
    named = (
        workload
        if workload is not None
        else Workload(
            path=Path(record.workload), name=Path(record.workload).name, seed=None, generated=False
        )
    )
    fingerprint = workload_fingerprint(
        named.name, named.path, expected_length=spec.expected_length, seed=named.seed
    )
    telemetry = GpuTelemetry(
        available=False, reason=ON_CPU if spec.device == "cpu" else GPU_TELEMETRY_IN_AB
    )
    outputs = getattr(record.outputs, side) if record.outputs is not None else None
    return collector.build(
        run=run, environment=environment, workload=fingerprint, gpu=telemetry, outputs=outputs
    )
