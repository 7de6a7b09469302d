"""The run history: one compact JSON-lines file per hardware and workload key, with retention.

Layout under a history folder (a directory you name, or the root of the data branch)::

    <hardware_key>/<workload-engine-preset-device-precision slug>.jsonl

Each line is one :class:`RunEntry`: when and where the run happened, whether it was valid,
the checker's outcome, the requirement rows and, per metric, a summary (median, quartiles,
sample count) plus the raw samples; and what ran (workload, engine, preset, device, precision,
machine) and how (a plain run, or the head side of an A/B run), for the dashboard's groups.

A history holds three *series*, each in files of its own (the key's slug gets ``--<series>``):
``runs``, the runs of the main job that the trend and the between-run noise read; ``canary``,
the nightly A/A runs of the gate (this commit against itself); ``pr``, the verdicts of pull
requests' A/B runs (verdict and gate facts only, no metrics). An entry of a paired verdict
keeps :class:`GateFacts`: what the run could detect and how noisy its pairs were, for the
dashboard's gate-health page. ``history_version`` 2 added the series and the gate facts;
lines of version 1 still read (series ``runs``, no gate facts).

Retention keeps raw samples only for the newest
``RAW_SAMPLE_RUNS`` runs of a file; summaries are kept forever, so a file grows by a few
kilobytes per run. Lines are appended in run order; adding a run rewrites the file atomically
under a lock, never in place. A file with a bad line or another ``history_version`` is refused
with one line naming it, and is never rewritten.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from tools.bench.history.baseline import locked_file, storage_key
from tools.bench.verdict import Outcome, ReportDocument, RequirementResult, Verdict
from virnucpro.atomic import atomic_write_text
from virnucpro.bench.metric_names import PAIRS_LABEL, TOTAL_TIME_METRIC
from virnucpro.bench.records import Envelope, Record, SchemaError
from virnucpro.bench.schema import Direction, Metric, ResultsDocument
from virnucpro.errors import InputError

HISTORY_KIND = "virnucpro-benchmark-history"
HISTORY_VERSION = 2
READABLE_VERSIONS = (1, 2)
HISTORY_ENVELOPE = Envelope(HISTORY_KIND, "history_version", READABLE_VERSIONS, "history entry")
HISTORY_SUFFIX = ".jsonl"
RAW_SAMPLE_RUNS = 30  # newest runs of a file that keep their raw samples
HISTORY_FOLDER = "history"  # inside the reports folder
DEFAULT_HISTORY_DIR = Path("tests/reports") / HISTORY_FOLDER
MIN_SAMPLES_FOR_QUARTILES = 2
REFUSED = "history refused, not rewritten"
BUSY_OUTCOME = "invalid"  # the verdict of a run the host gate found on a busy machine


Series = Literal["runs", "canary", "pr"]
SERIES: tuple[Series, ...] = get_args(Series)
MAIN_SERIES: Series = "runs"
VERDICT_ONLY_SERIES = frozenset({"pr"})  # entries without metrics or requirements


class GateFacts(Record):
    """A paired verdict's facts for the gate's health (from :class:`PairedDesign` and the
    total time's judgement)."""

    pairs: int
    per_pair_cv: float | None = None  # SD of the per-pair log ratio of the total time
    min_detectable: float | None = None  # the slowdown the run detects with ``power``
    power: float
    confidence: float
    threshold: float | None = None  # the total time's fail threshold
    change: float | None = None  # the total time's change, worse positive


def gate_facts(verdict: Verdict | None) -> GateFacts | None:
    """The gate facts of a paired verdict (None for any other)."""
    if verdict is None or verdict.design is None:
        return None
    design = verdict.design
    total = next((j for j in verdict.judgements if j.name == TOTAL_TIME_METRIC), None)
    return GateFacts(
        pairs=total.pairs if total is not None and total.pairs else 0,
        per_pair_cv=design.per_pair_cv,
        min_detectable=design.min_detectable,
        power=design.power,
        confidence=design.confidence,
        threshold=total.threshold if total is not None else None,
        change=total.change if total is not None else None,
    )


class MetricSummary(Record):
    """One metric of one run: its summary always, its raw samples while retention keeps them."""

    name: str
    unit: str
    better: Direction
    n: int
    median: float | None = None  # None: not measured (see reason)
    q1: float | None = None
    q3: float | None = None
    reason: str | None = None
    samples: tuple[float, ...] | None = None


RunMode = Literal["plain", "ab"]
MODE_WORDS: dict[RunMode, str] = {"plain": "plain runs", "ab": "A/B runs (head side)"}


class RunSetup(Record):
    """What ran, in words a person reads (the dashboard's group title; the key is its hash)."""

    workload: str  # the workload's name: a data size, or user:<file name>
    reads: int
    expected_length: int
    engine: str
    model_preset: str
    device: str
    precision: str
    machine: str  # CPU model and count, torch threads, GPUs

    def title(self) -> str:
        return (
            f"{self.model_preset} models, {self.workload} workload ({self.reads} reads, "
            f"{self.expected_length} bp chunks), {self.device}, {self.engine} engine, "
            f"{self.precision} on {self.machine}"
        )


def run_setup(results: ResultsDocument) -> RunSetup:
    env, run, work = results.environment, results.run, results.workload
    gpus = f", {env.gpu_count}x {env.gpu_names[0]}" if env.gpu_names else ""
    threads = f"{env.torch_threads} thread" + ("s" if env.torch_threads != 1 else "")
    how = {name: getattr(run, name) for name in ("engine", "model_preset", "device", "precision")}
    machine = f"{env.cpu_model} x{env.cpu_count} ({threads}){gpus}"
    return RunSetup(
        workload=work.name,
        reads=work.reads,
        expected_length=work.expected_length,
        machine=machine,
        **how,
    )


def run_mode(results: ResultsDocument) -> RunMode:
    """ "ab" for one side of an A/B run (its total time carries the pairs' id), else "plain"."""
    total = results.metric(TOTAL_TIME_METRIC)
    return "ab" if total is not None and total.labels.get(PAIRS_LABEL) else "plain"


class RunEntry(Record):
    """One run in a history file."""

    kind: Literal["virnucpro-benchmark-history"] = HISTORY_KIND
    history_version: int = HISTORY_VERSION
    key: str
    run_id: str
    created_at: str
    commit: str | None = None
    dirty: bool | None = None
    tier: str
    valid: bool
    invalid_reasons: tuple[str, ...] = ()
    outcome: Outcome | None = None  # the checker's verdict when the run was judged
    requirements: tuple[RequirementResult, ...] = ()
    metrics: tuple[MetricSummary, ...] = ()
    series: Series = MAIN_SERIES
    gate: GateFacts | None = None  # a paired verdict's facts (the gate-health page)
    mode: RunMode = "plain"  # "ab": the head side of an A/B run (entries before it: plain)
    setup: RunSetup | None = None  # what ran (None in entries written before it was kept)

    def metric(self, name: str) -> MetricSummary | None:
        return next((m for m in self.metrics if m.name == name), None)

    @property
    def short_commit(self) -> str:
        return (self.commit or "unknown")[:7]


@dataclass(frozen=True)
class AddResult:
    """Where a run went and whether it was new (a run id already there is not added twice)."""

    path: Path
    added: bool
    runs: int


def summarize(metric: Metric) -> MetricSummary:
    """A metric's summary with its raw samples."""
    samples = metric.samples
    q1 = q3 = metric.median
    if len(samples) >= MIN_SAMPLES_FOR_QUARTILES:
        q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return MetricSummary(
        name=metric.name,
        unit=metric.unit,
        better=metric.better,
        n=len(samples),
        median=metric.median,
        q1=q1 if samples else None,
        q3=q3 if samples else None,
        reason=metric.reason,
        samples=samples,
    )


def series_key(key: str, series: Series) -> str:
    """The key of ``series``'s file for the storage key ``key`` (``runs`` keeps it)."""
    return key if series == MAIN_SERIES else f"{key}--{series}"


def entry_from_results(
    results: ResultsDocument,
    *,
    report: ReportDocument | None = None,
    series: Series = MAIN_SERIES,
) -> RunEntry:
    """The history entry of a run (with the verdict and requirements when a report is given)
    in ``series`` (a verdict-only series keeps no metrics nor requirements).

    ``valid`` says whether the machine was fit to measure: the run's own validity (the GPUs)
    and, when the report's verdict is INVALID, the host gate (other processes kept the CPUs
    busy), so the dashboard, the trend and the between-run noise leave such a run out alike.
    """
    env, run = results.environment, results.run
    verdict = report.verdict if report else None
    verdict_only = series in VERDICT_ONLY_SERIES
    busy = verdict is not None and verdict.outcome == BUSY_OUTCOME and results.validity.valid
    return RunEntry(
        key=series_key(storage_key(results), series),
        run_id=run.run_id,
        created_at=run.created_at,
        commit=env.git_commit,
        dirty=env.git_dirty,
        tier=run.tier,
        valid=results.validity.valid and not busy,
        invalid_reasons=(*results.validity.reasons, *(verdict.reasons[:1] if busy else ())),
        outcome=verdict.outcome if verdict else None,
        requirements=report.requirements if report and not verdict_only else (),
        metrics=() if verdict_only else tuple(summarize(m) for m in results.metrics),
        series=series,
        gate=gate_facts(verdict),
        mode=run_mode(results),
        setup=run_setup(results),
    )


def _key_path(folder: Path, key: str) -> Path:
    parts = key.split("/")
    if len(parts) != 2 or not all(p and p not in (".", "..") and "\\" not in p for p in parts):
        raise InputError(f"not a history key: {key!r} (expected <hardware_key>/<slug>)")
    return Path(folder) / parts[0] / f"{parts[1]}{HISTORY_SUFFIX}"


def history_file(folder: Path, key: str) -> Path:
    """The file that holds ``key``'s history under ``folder``."""
    return _key_path(folder, key)


def _parse_line(text: str, source: str, key: str | None) -> RunEntry:
    try:
        entry = HISTORY_ENVELOPE.parse(RunEntry, json.loads(text), source=source)
    except json.JSONDecodeError:
        raise SchemaError(f"{source}: not valid JSON; {REFUSED}") from None
    except SchemaError as exc:
        raise SchemaError(f"{exc}; {REFUSED}") from None
    if key is not None and entry.key != key:
        raise SchemaError(f"{source}: an entry of another key ({entry.key}); {REFUSED}")
    return entry


def read_file(path: Path, *, key: str | None = None) -> list[RunEntry]:
    """Every entry of one history file, in file order; [] when the file does not exist."""
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"{path}: cannot read ({exc.__class__.__name__})") from None
    lines = text.splitlines()
    if text and not text.endswith("\n"):
        raise SchemaError(f"{path}: ends in a partial line ({REFUSED})")
    return [_parse_line(line, f"{path}:{n}", key) for n, line in enumerate(lines, 1) if line]


def read_history(folder: Path, key: str) -> list[RunEntry]:
    """One key's runs, in the order they were added."""
    return read_file(history_file(folder, key), key=key)


def history_keys(folder: Path) -> list[str]:
    """Keys with a history file under ``folder``, sorted."""
    files = sorted(Path(folder).glob(f"*/*{HISTORY_SUFFIX}"))
    return [f"{f.parent.name}/{f.name[: -len(HISTORY_SUFFIX)]}" for f in files]


def read_all(folder: Path) -> dict[str, list[RunEntry]]:
    """Every key's runs under ``folder``."""
    return {key: read_history(folder, key) for key in history_keys(folder)}


def apply_retention(entries: Sequence[RunEntry], *, raw_runs: int) -> list[RunEntry]:
    """The entries with raw samples dropped from all but the newest ``raw_runs``."""
    cut = max(len(entries) - raw_runs, 0)
    return [
        e if k >= cut else e.model_copy(update={"metrics": _without_samples(e.metrics)})
        for k, e in enumerate(entries)
    ]


def _without_samples(metrics: Sequence[MetricSummary]) -> tuple[MetricSummary, ...]:
    return tuple(m.model_copy(update={"samples": None}) for m in metrics)


def entry_line(entry: RunEntry) -> str:
    """One compact JSON line; a metric's unset fields (samples dropped by retention, the
    quartiles of an unmeasured metric) are left out, not written as null."""
    data = entry.model_dump(mode="json")
    data["metrics"] = [
        {name: value for name, value in metric.items() if value is not None}
        for metric in data["metrics"]
    ]
    return json.dumps(data, separators=(",", ":"))


def add_run(folder: Path, entry: RunEntry, *, raw_runs: int = RAW_SAMPLE_RUNS) -> AddResult:
    """Append ``entry`` to its key's file under ``folder`` (locked, atomic, retention applied).

    A run id that is already in the file is not added again (publishing is retried safely).
    """
    path = history_file(folder, entry.key)
    with locked_file(path):
        entries = read_file(path, key=entry.key)
        if any(e.run_id == entry.run_id for e in entries):
            return AddResult(path=path, added=False, runs=len(entries))
        kept = apply_retention([*entries, entry], raw_runs=raw_runs)
        atomic_write_text(path, "".join(entry_line(e) + "\n" for e in kept))
    return AddResult(path=path, added=True, runs=len(kept))
