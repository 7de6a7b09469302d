"""The benchmark session the suites share: workload, models (loaded once), rounds, GPU sampler.

``tests/benchmarks/conftest.py`` wires this into pytest (options, the ``bench`` fixture, skips
and the results document at session end); everything measured lives here. The GPU sampler
polls exactly the run's GPUs (``--gpus``; none for a CPU run, whose GPU figures read "not
used"), and each measured round of the shared end-to-end rounds tags its readings, so
utilization, energy and device memory are summarized per round from the readings inside it.
"""

from __future__ import annotations

import itertools
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from virnucpro.bench.options import (
    BenchOptions,
    SessionConfig,
    resolve_engine,
    resolve_gpus,
    resolve_precision,
)
from virnucpro.bench.run.collector import ResultsCollector, utc_now
from virnucpro.bench.workload.prepare import Workload, prepare_workload
from virnucpro.engines.registry import VANILLA

if TYPE_CHECKING:
    import torch

    from virnucpro.bench.gpu.sampler import GpuSampler
    from virnucpro.bench.gpu.telemetry import RoundWork
    from virnucpro.bench.measure import Measurement
    from virnucpro.bench.outputs import RoundOutputs
    from virnucpro.bench.run.memory import MemoryUsage
    from virnucpro.bench.schema import (
        EnvironmentFingerprint,
        GpuTelemetry,
        ResultsDocument,
        WorkloadFingerprint,
    )
    from virnucpro.models.presets import ModelSet
    from virnucpro.pipeline import PredictConfig
    from virnucpro.pipeline.metrics import RunMetrics

END_TO_END_TAG = "end_to_end"
RANDOM_MODELS_NOTE = "random weights: predictions are not biologically meaningful"
TOKENS_NOT_COUNTED = (
    "workload.dnabert_tokens: not counted in this run (no round ran and no model was loaded); "
    "recorded as 0"
)


@dataclass(frozen=True)
class RoundRecord:
    """One predict round: run metrics, peak memory, NVML device memory, and CPU seconds used
    by this process with all its descendants and by the whole machine (their difference is
    other processes' work)."""

    metrics: RunMetrics
    memory: MemoryUsage
    device_used: int | None
    own_cpu_seconds: float
    machine_cpu_seconds: float


@dataclass(frozen=True)
class PredictRounds:
    """The end-to-end rounds shared by the end_to_end, throughput and memory suites."""

    measurement: Measurement
    records: tuple[RoundRecord, ...]

    @property
    def runs(self) -> tuple[RunMetrics, ...]:
        return tuple(r.metrics for r in self.records)


@dataclass
class BenchSession:
    """Everything the suites share; created once per pytest session by the ``bench`` fixture."""

    config: SessionConfig
    collector: ResultsCollector
    workload: Workload
    workload_fingerprint: WorkloadFingerprint
    environment: EnvironmentFingerprint
    gpus: tuple[int, ...]
    device: torch.device
    engine: str
    precision: str
    sampler: GpuSampler
    workdir: Path
    created_at: str = field(default_factory=utc_now)
    model_load_seconds: float | None = None
    dna_tokens: int | None = None
    _models: ModelSet | None = None
    _rounds: PredictRounds | None = None
    _outputs: RoundOutputs | None = None

    @property
    def options(self) -> BenchOptions:
        return self.config.options

    # ------------------------------------------------------------------- models and predict

    def models(self) -> ModelSet:
        """The preset's models on the session device, loaded once (the load is timed)."""
        if self._models is None:
            from virnucpro.models.presets import load_model_set

            start = time.perf_counter()
            self._models = load_model_set(preset=self.options.models, device=self.device)
            self.model_load_seconds = time.perf_counter() - start
        return self._models

    def outdir(self, name: str) -> Path:
        return self.workdir / name

    def predict_config(self, outdir: Path, *, engine: str | None = None) -> PredictConfig:
        """A predict of the workload into ``outdir`` (overwritten each round)."""
        from virnucpro.pipeline import PredictConfig

        engine = engine or self.engine
        return PredictConfig(
            input=self.workload.path,
            outdir=outdir,
            expected_length=self.options.expected_length,
            engine=engine,
            models=self.options.models,
            precision=self.precision_option(engine),
            force=True,
        )

    def precision_option(self, engine: str) -> str:
        """The ``--precision`` a run of ``engine`` takes (vanilla accepts only fp32/auto)."""
        return "auto" if engine == VANILLA else self.options.precision

    def run_predict(self, config: PredictConfig) -> RunMetrics:
        """One in-process predict with the preloaded models; its warnings become notes."""
        from virnucpro.pipeline import NoKeptFramesWarning, predict

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NoKeptFramesWarning)
            result = predict(config, models=self.models())
        for w in caught:
            if issubclass(w.category, NoKeptFramesWarning):
                self.collector.note(f"predict: {w.message}")
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        assert result.metrics is not None  # one process: this is rank 0
        self.observe(result.metrics)
        return result.metrics

    def observe(self, metrics: RunMetrics) -> None:
        """Remember the DNABERT-S token count a run reported (for the workload record)."""
        self.dna_tokens = metrics.dnabert_tokens

    # ------------------------------------------------------------------- shared rounds

    def rounds(self) -> PredictRounds:
        """Warm-up, then the measured end-to-end rounds (run once, shared by three suites)."""
        if self._rounds is None:
            self._rounds = self._measure_rounds()
        return self._rounds

    def _measure_rounds(self) -> PredictRounds:
        from virnucpro.bench.measure import measure
        from virnucpro.bench.outputs import OutputKeeper
        from virnucpro.bench.run.host import machine_busy_seconds, process_tree_cpu_seconds
        from virnucpro.bench.run.memory import track_memory

        config = self.predict_config(self.outdir("end_to_end"))
        keeper = OutputKeeper(config.outdir)
        records: list[RoundRecord] = []
        self.models()
        calls = itertools.count(-self.options.warmup)  # warm-ups count up to round 0

        def one_round() -> RoundRecord:
            index = next(calls)
            own, machine = process_tree_cpu_seconds(), machine_busy_seconds()
            with track_memory(self.device) as tracking:
                if index >= 0:
                    with self.sampler.measured_round(index):
                        metrics = self.run_predict(config)
                else:
                    metrics = self.run_predict(config)
            own = process_tree_cpu_seconds() - own
            machine = machine_busy_seconds() - machine
            assert tracking.usage is not None
            return RoundRecord(metrics, tracking.usage, None, own, machine)

        def keep(index: int, seconds: float, record: RoundRecord) -> None:
            del seconds  # after the round's timing: reading the outputs is not timed
            records.append(replace(record, device_used=self._device_used_in(index)))
            if index == 0:
                keeper.after_first_round()

        with self.sampler.stage(END_TO_END_TAG):
            measurement = measure(
                one_round,
                rounds=self.options.rounds,
                warmup=self.options.warmup,
                device=self.device,
                on_round=keep,
            )
        self._outputs = keeper.rounds()
        if keeper.problem is not None:
            self.collector.note(f"outputs not kept: {keeper.problem}")
        return PredictRounds(measurement=measurement, records=tuple(records))

    def _device_used_in(self, index: int) -> int | None:
        """Peak NVML 'used' memory over the readings of measured round ``index`` (any device)."""
        samples = self.sampler.telemetry().samples
        used = [
            s.memory_used_bytes
            for s in samples
            if s.round_index == index and s.memory_used_bytes is not None
        ]
        return max(used) if used else None

    # ------------------------------------------------------------------- the document

    def telemetry(self) -> GpuTelemetry:
        return self.sampler.telemetry()

    def _measured_telemetry(self) -> GpuTelemetry:
        """The telemetry, with the sampler's overhead where a suite measured it."""
        from virnucpro.bench.gpu.overhead import SAMPLER_OVERHEAD

        telemetry = self.telemetry()
        overhead = next((m for m in self.collector.metrics if m.name == SAMPLER_OVERHEAD), None)
        if overhead is None or not overhead.available:
            return telemetry
        return telemetry.model_copy(update={"overhead_fraction": overhead.median})

    def _round_work(self) -> RoundWork | None:
        """Reads and model tokens of one measured round (``None`` when no round ran)."""
        from virnucpro.bench.gpu.telemetry import RoundWork

        if self._rounds is None:
            return None
        first = self._rounds.runs[0]
        return RoundWork(reads=first.reads, tokens=first.dnabert_tokens + first.esm_tokens)

    def _workload_record(self) -> WorkloadFingerprint:
        tokens = self.dna_tokens
        if tokens is None and self._models is not None:
            from virnucpro.bench.workload.fingerprint import tokenizer_counter, workload_fingerprint

            counted = workload_fingerprint(
                self.workload.name,
                self.workload.path,
                expected_length=self.options.expected_length,
                seed=self.workload.seed,
                count_dna_tokens=tokenizer_counter(self._models.dnabert.tokenizer),
            )
            tokens = counted.dnabert_tokens
        if tokens is None:
            self.collector.note(TOKENS_NOT_COUNTED)
            return self.workload_fingerprint
        return self.workload_fingerprint.model_copy(update={"dnabert_tokens": tokens})

    def _model_facts(self) -> tuple[bool, str]:
        if self._models is not None:
            return self._models.meaningful, self._models.note
        return False, f"preset '{self.options.models}': {RANDOM_MODELS_NOTE}"

    def document(self) -> ResultsDocument:
        """Build the validated results document from everything recorded."""
        from virnucpro.bench.gpu.telemetry import assess_validity, telemetry_metrics
        from virnucpro.bench.schema import RunInfo

        telemetry = self._measured_telemetry()
        meaningful, note = self._model_facts()
        workload = self._workload_record()
        options = self.options
        run = RunInfo(
            run_id=self.config.run_id,
            created_at=self.created_at,
            tier=options.tier,
            suites=options.suites,
            engine=self.engine,
            model_preset=options.models,
            models_meaningful=meaningful,
            model_note=note,
            device=str(self.device),
            precision=self.precision,
            rounds=options.rounds,
            warmup_rounds=options.warmup,
            command=self.config.command,
        )
        return self.collector.build(
            run=run,
            environment=self.environment,
            workload=workload,
            gpu=telemetry,
            extra_metrics=telemetry_metrics(telemetry, self._round_work()),
            invalid_reasons=assess_validity(telemetry),
            outputs=self._outputs,
        )


def start_session(
    config: SessionConfig, collector: ResultsCollector, workdir: Path
) -> BenchSession:
    """Prepare the workload, fingerprint machine and workload, resolve device/engine, sample."""
    import torch

    from virnucpro.bench.gpu.sampler import GpuSampler
    from virnucpro.bench.run.envinfo import environment_fingerprint
    from virnucpro.bench.workload.fingerprint import workload_fingerprint

    options = config.options
    if options.threads is not None:
        torch.set_num_threads(options.threads)
    workload = prepare_workload(options)
    gpus = resolve_gpus(options.gpus)
    device = torch.device("cuda", gpus[0]) if gpus else torch.device("cpu")
    engine = resolve_engine(options.engine)
    sampler = GpuSampler(interval=options.sample_interval, devices=gpus)
    fingerprint = workload_fingerprint(
        workload.name,
        workload.path,
        expected_length=options.expected_length,
        seed=workload.seed,
    )
    session = BenchSession(
        config=config,
        collector=collector,
        workload=workload,
        workload_fingerprint=fingerprint,
        environment=environment_fingerprint(),
        gpus=gpus,
        device=device,
        engine=engine,
        precision=resolve_precision(engine, options.precision, device),
        sampler=sampler,
        workdir=workdir,
    )
    sampler.start()
    return session
