"""Benchmark options, defined once: used by ``virnucpro benchmark``, the suites and Nox.

A tier is a named set of defaults (``quick``, ``full``, ``vanilla``); explicit options win.
The runner hands the options to the pytest suites as a small JSON file (``--bench-config``),
so a suite run started by hand (``pytest -m benchmark tests/benchmarks``) and one started by
``virnucpro benchmark`` read the same record. Nothing here imports torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from virnucpro.errors import InputError

SUITES = ("end_to_end", "throughput", "memory", "scaling", "equivalence")
SUITE_ALIASES = {"e2e": "end_to_end", "end-to-end": "end_to_end"}
ALL_SUITES = "all"
DATA_SIZES = ("tiny", "small", "medium", "large")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
CPU_ONLY_GPUS = ("none", "cpu")  # --gpus none: run on the CPU even when GPUs are present
DEFAULT_OUTPUT_DIR = Path("tests/reports")
DEFAULT_BASELINE_DIR = Path("baselines")
CUSTOM_TIER = "custom"
DEFAULT_ROUNDS = 5
DEFAULT_WARMUP = 1
DEFAULT_SAMPLE_INTERVAL_S = 0.2
CPU_SCALING_RANKS = (1, 2)  # without GPUs: 1 vs 2 local gloo ranks
CONFIG_KIND = "virnucpro-benchmark-config"
CONFIG_VERSION = 1
_PATH_FIELDS = ("input", "output_dir", "baseline_dir", "compare_to", "thresholds", "history_dir")
_TUPLE_FIELDS = ("suites", "gpus")


@dataclass(frozen=True)
class BenchOptions:
    """Everything a benchmark run takes. ``suites`` are names from :data:`SUITES`."""

    tier: str = CUSTOM_TIER
    suites: tuple[str, ...] = SUITES
    data_size: str = "small"
    input: Path | None = None  # any user FASTA replaces the generated data
    models: str = "tiny"
    engine: str = "fast"
    precision: str = "auto"
    gpus: tuple[int, ...] | None = None  # None: auto-detect; (): CPU only
    rounds: int = DEFAULT_ROUNDS  # measured rounds of the in-process suites
    warmup: int = DEFAULT_WARMUP
    scaling_rounds: int | None = None  # rounds per worker count (launches); None: ``rounds``
    expected_length: int = 500
    vanilla_baseline: bool = False
    output_dir: Path = DEFAULT_OUTPUT_DIR
    baseline_dir: Path = DEFAULT_BASELINE_DIR
    compare_to: Path | None = None
    update_baseline: bool = False
    require_baseline: bool = True  # no stored baseline exits 2 unless --allow-no-baseline
    append_history: bool = False
    # the run history that measures between-run noise: None is <output_dir>/history when it
    # exists (where append_history writes); use_history False judges on the stored run alone
    history_dir: Path | None = None
    use_history: bool = True
    fail_on_regression: bool = True  # False: a regression is reported, exit 0 (advisory gate)
    # a change meant to alter the predictions: outputs that differ from the reference's get a
    # time verdict, and the report says first that they changed and were accepted
    accept_output_change: bool = False
    thresholds: Path | None = None
    threads: int | None = None  # torch threads of the suites' processes; None: torch's default
    sample_interval: float = DEFAULT_SAMPLE_INTERVAL_S
    seed: int = 0

    @property
    def launch_rounds(self) -> int:
        """Rounds per worker count of the scaling suite (each round starts processes)."""
        return self.scaling_rounds if self.scaling_rounds is not None else self.rounds


TIERS: dict[str, BenchOptions] = {
    # CI smoke + regression tier: tiny data and models on the CPU, 2 to 3 minutes on 2 cores
    # (measured 108-130 s with other processes using ~70% of the machine; the scaling launches
    # are ~80% of it). Many cheap in-process rounds (the checker needs >= 5 a side to judge, and
    # more to reach significance); fewer scaling rounds, since each starts fresh rank processes.
    # One torch thread: on a shared machine, thread contention makes multi-threaded timings
    # erratic (2 threads measured 4x slower and 5x noisier than 1 under load).
    "quick": BenchOptions(
        tier="quick",
        data_size="tiny",
        models="tiny",
        rounds=30,
        warmup=2,
        scaling_rounds=10,
        threads=1,
    ),
    # every suite, larger data, the published model sizes (random weights), all GPUs
    "full": BenchOptions(tier="full", data_size="medium", models="dnabert-s+esm2-3b", rounds=5),
    # the vanilla engine as the reference: equivalence and speedup against it
    "vanilla": BenchOptions(
        tier="vanilla", suites=("equivalence",), data_size="small", vanilla_baseline=True, rounds=3
    ),
}


def resolve_suites(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Expand ``all``, aliases and comma lists; keep the canonical order; reject unknown names."""
    wanted: set[str] = set()
    for item in names:
        for raw in filter(None, (part.strip() for part in item.split(","))):
            name = SUITE_ALIASES.get(raw, raw)
            if name == ALL_SUITES:
                return SUITES
            if name not in SUITES:
                choices = ", ".join((*SUITES, ALL_SUITES))
                raise InputError(f"--suite: unknown suite {name!r} (choose from {choices})")
            wanted.add(name)
    if not wanted:
        raise InputError("--suite: no suite named")
    return tuple(s for s in SUITES if s in wanted)


def for_tier(tier: str | None, **overrides: object) -> BenchOptions:
    """The tier's defaults with explicit overrides applied (``None`` means 'not given')."""
    if tier is not None and tier not in TIERS:
        raise InputError(f"--tier: unknown tier {tier!r} (choose from {', '.join(TIERS)})")
    base = TIERS[tier] if tier is not None else BenchOptions()
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - {f.name for f in fields(BenchOptions)})
    if unknown:
        raise InputError(f"unknown benchmark option(s): {', '.join(unknown)}")
    return replace(base, **given)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InputError(message)


def _require_file(path: Path | None, option: str) -> None:
    if path is not None:
        _require(Path(path).is_file(), f"{option} {path}: no such file")


def _require_folder(path: Path | None, option: str) -> None:
    if path is not None:
        _require(Path(path).is_dir(), f"{option} {path}: no such folder")


def validate_options(options: BenchOptions) -> None:
    """Refuse values no run can use, with a one-line :class:`InputError` (exit 2).

    Checks that need torch or the registries (model preset, engine, GPUs) are the runner's.
    """
    _require(options.tier == CUSTOM_TIER or options.tier in TIERS, f"unknown tier {options.tier!r}")
    resolve_suites(options.suites)
    sizes = ", ".join(DATA_SIZES)
    _require(
        options.data_size in DATA_SIZES,
        f"--data-size: unknown size {options.data_size!r} (choose from {sizes})",
    )
    _require(options.precision in PRECISIONS, f"--precision: choose from {', '.join(PRECISIONS)}")
    _require(options.rounds >= 1, f"--rounds must be at least 1 (got {options.rounds})")
    _require(options.launch_rounds >= 1, "scaling rounds must be at least 1")
    _require(options.warmup >= 0, f"warm-up rounds cannot be negative (got {options.warmup})")
    _require(options.expected_length > 0, "the expected chunk length must be positive")
    _require(options.sample_interval > 0, "the GPU sampling interval must be positive")
    _require(options.threads is None or options.threads >= 1, "--threads must be at least 1")
    _require_file(options.input, "--input")
    _require_file(options.compare_to, "--compare-to")
    _require_file(options.thresholds, "--thresholds")
    _require_folder(options.history_dir, "--history")
    _require(
        options.use_history or options.history_dir is None,
        "--history and --no-history disagree: give one of them",
    )
    if options.baseline_dir.exists():
        _require(
            options.baseline_dir.is_dir(), f"--baseline-dir {options.baseline_dir}: not a folder"
        )


# ----------------------------------------------------------------------------- config file


@dataclass(frozen=True)
class SessionConfig:
    """What the runner tells the suites: the options, where to write results, the run's id."""

    options: BenchOptions
    results: Path
    run_id: str
    command: str = ""


def options_to_dict(options: BenchOptions) -> dict[str, object]:
    data = asdict(options)
    for name in _PATH_FIELDS:
        data[name] = None if data[name] is None else str(data[name])
    for name in _TUPLE_FIELDS:
        data[name] = None if data[name] is None else list(data[name])
    return data


def options_from_dict(data: dict[str, object], *, source: str = "<options>") -> BenchOptions:
    known = {f.name for f in fields(BenchOptions)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"{source}: unknown benchmark option(s): {', '.join(unknown)}")
    values = dict(data)
    for name in _PATH_FIELDS:
        if values.get(name) is not None:
            values[name] = Path(str(values[name]))
    for name in _TUPLE_FIELDS:
        if values.get(name) is not None:
            values[name] = tuple(values[name])  # type: ignore[arg-type]
    return BenchOptions(**values)  # type: ignore[arg-type]


def write_session_config(path: Path, config: SessionConfig) -> Path:
    """Write the ``--bench-config`` file the suites read (atomically)."""
    from virnucpro.atomic import atomic_write_text

    payload = {
        "kind": CONFIG_KIND,
        "version": CONFIG_VERSION,
        "options": options_to_dict(config.options),
        "results": str(config.results),
        "run_id": config.run_id,
        "command": config.command,
    }
    atomic_write_text(Path(path), json.dumps(payload, indent=2) + "\n")
    return Path(path)


def read_session_config(path: Path) -> SessionConfig:
    """Read a ``--bench-config`` file; any problem is a one-line :class:`InputError`."""
    from virnucpro.bench.records import Envelope  # pydantic: not while the command line parses

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"--bench-config {path}: cannot read ({exc.__class__.__name__})") from None
    envelope = Envelope(CONFIG_KIND, "version", (CONFIG_VERSION,), "benchmark config file")
    data = envelope.check(data, source=f"--bench-config {path}")
    try:
        options = options_from_dict(data["options"], source=str(path))
        return SessionConfig(
            options=options,
            results=Path(data["results"]),
            run_id=str(data["run_id"]),
            command=str(data.get("command", "")),
        )
    except (KeyError, TypeError) as exc:
        raise InputError(f"--bench-config {path}: malformed ({exc})") from None


# ----------------------------------------------------------------------------- this machine


def resolve_gpus(requested: tuple[int, ...] | None) -> tuple[int, ...]:
    """The CUDA devices to use: the requested ones (checked), or every visible one."""
    import torch

    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if requested is None:
        return tuple(range(available))
    if requested and not available:
        raise InputError("--gpus: CUDA is not available on this machine")
    missing = [g for g in requested if g >= available]
    if missing:
        raise InputError(f"--gpus: GPU {missing[0]} is not present ({available} visible)")
    return requested


def resolve_engine(requested: str) -> str:
    """The engine the suites run: ``requested``, checked to be known and importable.

    An unknown name is an :class:`InputError`; an engine that fails to import is an
    :class:`~virnucpro.engines.registry.EngineImportError`. There is no fallback engine.
    """
    from virnucpro.engines.registry import engine_factory

    try:
        engine_factory(requested)
    except InputError as exc:
        raise InputError(f"--engine: {exc}") from None
    return requested


def resolve_precision(engine: str, requested: str, device: object) -> str:
    """The concrete precision a run of ``engine`` on ``device`` uses (vanilla is fp32)."""
    from virnucpro.engines.registry import VANILLA

    if engine == VANILLA:
        if requested not in ("auto", "fp32"):
            raise InputError("the vanilla engine runs in fp32 only (as the published tool)")
        return "fp32"
    from virnucpro.engines.precision import resolve_precision as concrete

    return concrete(requested, device)  # type: ignore[arg-type]
