"""The benchmark session: options, workload, models (loaded once), GPU sampler and collector.

``virnucpro benchmark`` runs these suites in-process with ``--bench-config FILE``; they also run
by hand: ``pytest -m benchmark tests/benchmarks --bench-tier quick``. The session fixture
``bench`` is created by the first suite that needs it; at session end the collected results are
built into one validated results document, written to the results path and printed. A test
that cannot run here calls ``pytest.skip(reason)``; every skip is recorded in the document's
``skipped`` map under ``<suite>.<test>`` (see :func:`pytest_runtest_makereport`).
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from virnucpro.bench.collector import ResultsCollector, new_run_id, utc_now
from virnucpro.bench.options import (
    DATA_SIZES,
    TIERS,
    BenchOptions,
    SessionConfig,
    for_tier,
    read_session_config,
    resolve_engine,
    resolve_gpus,
    resolve_precision,
)
from virnucpro.bench.suites import short_test_name
from virnucpro.bench.workload_prepare import Workload, prepare_workload
from virnucpro.engines.registry import VANILLA

if TYPE_CHECKING:
    import torch

    from virnucpro.bench.measure import Measurement
    from virnucpro.bench.memory import MemoryUsage
    from virnucpro.bench.nvml import GpuSampler
    from virnucpro.bench.schema import (
        EnvironmentFingerprint,
        GpuTelemetry,
        ResultsDocument,
        WorkloadFingerprint,
    )
    from virnucpro.metrics import RunMetrics
    from virnucpro.models.presets import ModelSet
    from virnucpro.pipeline import PredictConfig

DEFAULT_RESULTS_NAME = "results.json"
# psutil.cpu_times() fields that are work (guest time is already inside user time)
BUSY_CPU_FIELDS = ("user", "nice", "system", "irq", "softirq", "steal")
SKIPPED_PREFIX = "Skipped: "
END_TO_END_TAG = "end_to_end"
RANDOM_MODELS_NOTE = "random weights: predictions are not biologically meaningful"
TOKENS_NOT_COUNTED = (
    "workload.dnabert_tokens: not counted in this run (no round ran and no model was loaded); "
    "recorded as 0"
)


# ----------------------------------------------------------------------------- options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("virnucpro-benchmark", "virnucpro benchmark suites")
    group.addoption("--bench-config", type=Path, help="options file written by the runner")
    group.addoption("--bench-tier", choices=tuple(TIERS), help="tier defaults (direct use)")
    group.addoption("--bench-data-size", choices=DATA_SIZES, help="generated data size")
    group.addoption("--bench-models", help="model preset (default: the tier's)")
    group.addoption("--bench-rounds", type=int, help="measured rounds (every suite)")
    group.addoption("--bench-results", type=Path, help="where to write the results document")


def _option(config: pytest.Config, name: str) -> object:
    return config.getoption(name, default=None)


def session_config(config: pytest.Config) -> SessionConfig:
    """The runner's config file, or one built from the ``--bench-*`` options (direct use)."""
    path = _option(config, "bench_config")
    if path is not None:
        return read_session_config(Path(str(path)))
    rounds = _option(config, "bench_rounds")
    options: BenchOptions = for_tier(
        _option(config, "bench_tier"),  # type: ignore[arg-type]
        data_size=_option(config, "bench_data_size"),
        models=_option(config, "bench_models"),
        rounds=rounds,
        scaling_rounds=rounds,
    )
    results = _option(config, "bench_results") or options.output_dir / DEFAULT_RESULTS_NAME
    command = " ".join(["pytest", *config.invocation_params.args])
    return SessionConfig(
        options=options, results=Path(str(results)), run_id=new_run_id(), command=command
    )


# ----------------------------------------------------------------------------- the session


@dataclass(frozen=True)
class RoundRecord:
    """One predict round: run metrics, peak memory, NVML device memory, and CPU seconds used
    by this process and by the whole machine (their difference is other processes' work)."""

    metrics: RunMetrics
    memory: MemoryUsage
    device_used: int | None
    own_cpu_seconds: float
    machine_cpu_seconds: float


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all CPUs, not idle or waiting on I/O)."""
    import psutil

    times = psutil.cpu_times()
    return sum(getattr(times, name, 0.0) for name in BUSY_CPU_FIELDS)


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

    def _sample_count(self) -> int:
        return len(self.sampler.telemetry().samples)

    def _measure_rounds(self) -> PredictRounds:
        from virnucpro.bench.measure import measure
        from virnucpro.bench.memory import track_memory

        config = self.predict_config(self.outdir("end_to_end"))
        records: list[RoundRecord] = []
        self.models()

        def one_round() -> tuple[RoundRecord, int]:
            first, own, machine = self._sample_count(), time.process_time(), machine_busy_seconds()
            with track_memory(self.device) as tracking:
                metrics = self.run_predict(config)
            own, machine = time.process_time() - own, machine_busy_seconds() - machine
            assert tracking.usage is not None
            return RoundRecord(metrics, tracking.usage, None, own, machine), first

        def keep(index: int, seconds: float, result: tuple[RoundRecord, int]) -> None:
            del index, seconds
            record, first = result
            self.sampler.sample_now()
            records.append(replace(record, device_used=self._device_used_since(first)))

        with self.sampler.stage(END_TO_END_TAG):
            measurement = measure(
                one_round,
                rounds=self.options.rounds,
                warmup=self.options.warmup,
                device=self.device,
                on_round=keep,
            )
        return PredictRounds(measurement=measurement, records=tuple(records))

    def _device_used_since(self, first: int) -> int | None:
        """Peak NVML 'used' memory over the samples since ``first`` (largest device)."""
        samples = self.sampler.telemetry().samples[first:]
        used = [s.memory_used_bytes for s in samples if s.memory_used_bytes is not None]
        return max(used) if used else None

    # ------------------------------------------------------------------- the document

    def telemetry(self) -> GpuTelemetry:
        return self.sampler.telemetry()

    def _workload_record(self) -> WorkloadFingerprint:
        tokens = self.dna_tokens
        if tokens is None and self._models is not None:
            from virnucpro.bench.workload_fingerprint import tokenizer_counter, workload_fingerprint

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
        from virnucpro.bench.nvml import assess_validity, telemetry_metrics
        from virnucpro.bench.schema import RunInfo

        telemetry = self.telemetry()
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
            extra_metrics=telemetry_metrics(telemetry),
            invalid_reasons=assess_validity(telemetry),
        )


def start_session(
    config: SessionConfig, collector: ResultsCollector, workdir: Path
) -> BenchSession:
    """Prepare the workload, fingerprint machine and workload, resolve device/engine, sample."""
    import torch

    from virnucpro.bench.envinfo import environment_fingerprint
    from virnucpro.bench.nvml import GpuSampler
    from virnucpro.bench.workload_fingerprint import workload_fingerprint

    options = config.options
    if options.threads is not None:
        torch.set_num_threads(options.threads)
    workload = prepare_workload(options)
    gpus = resolve_gpus(options.gpus)
    device = torch.device("cuda", gpus[0]) if gpus else torch.device("cpu")
    engine = resolve_engine(options.engine)
    sampler = GpuSampler(interval=options.sample_interval)
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


# ----------------------------------------------------------------------------- pytest wiring


@dataclass
class BenchState:
    """Per pytest run: the collector (always), the session (once a suite asked for it)."""

    collector: ResultsCollector = field(default_factory=ResultsCollector)
    session: BenchSession | None = None
    written: Path | None = None
    document: ResultsDocument | None = None


STATE = pytest.StashKey[BenchState]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[STATE] = BenchState()


def _state(config: pytest.Config) -> BenchState:
    if STATE not in config.stash:
        config.stash[STATE] = BenchState()
    return config.stash[STATE]


@pytest.fixture(scope="session")
def bench(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BenchSession]:
    """The shared benchmark session; the GPU sampler runs for as long as it lives."""
    state = _state(request.config)
    config = session_config(request.config)
    session = start_session(config, state.collector, tmp_path_factory.mktemp("bench"))
    state.session = session
    try:
        yield session
    finally:
        session.sampler.stop()


def skip_key(nodeid: str) -> str:
    """``tests/benchmarks/test_scaling.py::test_over_gpus`` -> ``scaling.over_gpus``."""
    return short_test_name(nodeid).replace("::", ".")


def skip_message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix(SKIPPED_PREFIX)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None] | pytest.TestReport:
    """Record every skip of a suite test, with its reason, in the results document."""
    del call
    report: pytest.TestReport = yield
    if report.skipped:
        _state(item.config).collector.skip(skip_key(report.nodeid), skip_message(report))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the results document (validated) when a suite started the benchmark session."""
    del exitstatus
    state = _state(session.config)
    if state.session is None:
        return
    try:
        state.document = state.session.document()
        from virnucpro.bench.schema import write_document

        state.written = write_document(state.document, state.session.config.results)
    except Exception as exc:  # reported in one line; the run then counts as failed
        why = f"{exc.__class__.__name__}: {exc}"
        print(f"virnucpro benchmark: error: results document not written: {why}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the results document's path and what it holds."""
    state = _state(terminalreporter.config)
    doc = state.document
    if state.written is None or doc is None:
        return
    measured = sum(1 for m in doc.metrics if m.available)
    validity = "valid" if doc.validity.valid else "INVALID: " + "; ".join(doc.validity.reasons)
    terminalreporter.write_sep("-", "virnucpro benchmark results")
    terminalreporter.write_line(f"{state.written} ({os.path.getsize(state.written)} bytes)")
    terminalreporter.write_line(
        f"{len(doc.metrics)} metrics ({measured} measured), {len(doc.skipped)} skipped, "
        f"run {validity}"
    )
    for key, reason in doc.skipped.items():
        terminalreporter.write_line(f"  skipped {key}: {reason}")
