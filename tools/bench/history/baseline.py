"""The baseline store: one file per comparability key.

Layout under the baselines folder (default: the repository's ``baselines/``)::

    <hardware_key>/<workload-engine-preset-device-precision slug>.json

A baseline file wraps one results document in a small envelope (kind, version, when it was set,
from which run). It changes only on an explicit :func:`update_baseline`, which refuses invalid
runs and never overwrites a file it cannot read. Reading validates everything and names the
file of any problem. The run history lives elsewhere (:mod:`tools.bench.history.runs`), never in
``baselines/``.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from filelock import FileLock, Timeout

from tools.bench.host_gate import busy_reason, others_shares
from tools.bench.thresholds import DEFAULT_BUSY_HOST_SHARE
from tools.bench.verdict import REPORT_ENVELOPE
from virnucpro.atomic import atomic_write_text
from virnucpro.bench.records import Envelope, Record, SchemaError, read_json_file
from virnucpro.bench.schema import RESULTS_ENVELOPE, ResultsDocument, parse_document
from virnucpro.errors import InputError, RunFailure

BASELINE_KIND = "virnucpro-benchmark-baseline"
BASELINE_VERSION = 1
BASELINE_ENVELOPE = Envelope(BASELINE_KIND, "baseline_version", (BASELINE_VERSION,), "baseline")
BASELINE_SUFFIX = ".json"
DEFAULT_BASELINE_DIR = Path(__file__).resolve().parents[3] / "baselines"
LOCK_TIMEOUT_S = 60.0
SHA_PREFIX_CHARS = 12
FIRST_KEYS_SHOWN = 4  # of a JSON object that is not a benchmark file, in the error
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_KEY_PART = re.compile(r"^[A-Za-z0-9._-]+$")


class BaselineEnvelope(Record):
    """What a baseline file holds."""

    kind: Literal["virnucpro-benchmark-baseline"] = BASELINE_KIND
    baseline_version: int
    created_at: str
    source_run_id: str
    results: ResultsDocument


@dataclass(frozen=True)
class BaselineRecord:
    """A baseline read from disk: the results it holds and where they came from."""

    path: Path
    created_at: str
    source_run_id: str
    results: ResultsDocument


def _slug(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_") or "_"


@dataclass(frozen=True)
class KeyParts:
    """What a run's storage key is made of: the machine, the workload and how it ran."""

    hardware_key: str
    workload: str  # the workload's name: a data size, or user:<file name>
    content_sha256: str
    expected_length: int
    engine: str
    model_preset: str
    device: str
    precision: str

    @classmethod
    def of(cls, doc: ResultsDocument) -> KeyParts:
        run, work = doc.run, doc.workload
        return cls(
            hardware_key=doc.environment.hardware_key(),
            workload=work.name,
            content_sha256=work.content_sha256,
            expected_length=work.expected_length,
            engine=run.engine,
            model_preset=run.model_preset,
            device=run.device,
            precision=run.precision,
        )

    def key(self) -> str:
        """``<hardware_key>/<slug>``: where the baseline and the history of such runs live."""
        parts = [
            self.workload,
            self.content_sha256[:SHA_PREFIX_CHARS],
            str(self.expected_length),
            self.engine,
            self.model_preset,
            self.device.split(":")[0],
            self.precision,
        ]
        return f"{self.hardware_key}/{'-'.join(_slug(p) for p in parts)}"


def storage_key(doc: ResultsDocument) -> str:
    """``<hardware_key>/<slug>``: where a run's baseline and history live in the folder."""
    return KeyParts.of(doc).key()


def _key_path(folder: Path, key: str, suffix: str) -> Path:
    parts = key.split("/")
    if len(parts) != 2 or not all(_KEY_PART.match(p) and p not in (".", "..") for p in parts):
        raise InputError(f"not a baseline key: {key!r} (expected <hardware_key>/<slug>)")
    return Path(folder) / parts[0] / f"{parts[1]}{suffix}"


def baseline_path(doc: ResultsDocument, folder: Path = DEFAULT_BASELINE_DIR) -> Path:
    return _key_path(folder, storage_key(doc), BASELINE_SUFFIX)


@contextlib.contextmanager
def locked_file(path: Path) -> Iterator[None]:
    """Hold the writer lock that sits beside ``path`` (a hidden ``.<name>.lock`` file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path.with_name(f".{path.name}.lock"), timeout=LOCK_TIMEOUT_S)
    try:
        lock.acquire()
    except Timeout:
        raise RunFailure(f"{path}: could not lock within {LOCK_TIMEOUT_S:g} s") from None
    try:
        yield
    finally:
        lock.release()


def _envelope_record(data: object, path: Path) -> BaselineRecord:
    checked = BASELINE_ENVELOPE.check(data, source=str(path))
    results = parse_document(checked.get("results"), source=f"{path} (results)")
    envelope = BASELINE_ENVELOPE.validate(
        BaselineEnvelope, {**checked, "results": results}, source=str(path)
    )
    return BaselineRecord(path, envelope.created_at, envelope.source_run_id, envelope.results)


def read_baseline(path: Path) -> BaselineRecord:
    """Read and validate a baseline file; any problem is a one-line SchemaError."""
    return _envelope_record(read_json_file(path), Path(path))


def _results_of(data: object, path: Path) -> ResultsDocument:
    """The results in a decoded file: a results document, or the one inside a JSON report."""
    if REPORT_ENVELOPE.names(data):
        from tools.bench.report.document import parse_report

        return parse_report(data, source=str(path)).results
    return parse_document(data, source=str(path))


def read_results(path: Path) -> ResultsDocument:
    """Read a results document, or the results inside a ``benchmark_*.json`` report."""
    return _results_of(read_json_file(path), Path(path))


def _json_shape(data: object) -> str:
    if isinstance(data, dict):
        keys = ", ".join(sorted(map(str, data))[:FIRST_KEYS_SHOWN]) or "none"
        return f"an object with keys {keys}"
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(data), "a number")


def _check_benchmark_file(data: object, path: Path) -> None:
    """Refuse valid JSON that is none of the three files, saying so instead of a schema detail."""
    envelopes = (BASELINE_ENVELOPE, REPORT_ENVELOPE, RESULTS_ENVELOPE)
    if any(envelope.names(data) for envelope in envelopes):
        return
    raise SchemaError(
        f"{path}: not a results, report or baseline file (valid JSON, but {_json_shape(data)}; "
        "give a results JSON, a benchmark_*.json report or a baseline)"
    )


def read_reference(path: Path) -> BaselineRecord:
    """Read a file to compare against: a baseline, a results document or a JSON report."""
    data = read_json_file(path)
    _check_benchmark_file(data, Path(path))
    if BASELINE_ENVELOPE.names(data):
        return _envelope_record(data, Path(path))
    doc = _results_of(data, Path(path))
    return BaselineRecord(Path(path), doc.run.created_at, doc.run.run_id, doc)


def stored_baseline(key: str, folder: Path = DEFAULT_BASELINE_DIR) -> BaselineRecord | None:
    """The baseline stored under ``key`` (:meth:`KeyParts.key`), or None when there is none; a
    damaged file, or one that holds another key's run, is a one-line SchemaError."""
    path = _key_path(folder, key, BASELINE_SUFFIX)
    if not path.exists():
        return None
    record = read_baseline(path)
    if storage_key(record.results) != key:
        raise SchemaError(f"{path}: holds a baseline for other hardware or workload")
    return record


def stored_baselines(keys: Iterable[str], folder: Path) -> dict[str, BaselineRecord]:
    """The baselines stored for ``keys`` (those with none are left out)."""
    found = {key: stored_baseline(key, folder) for key in keys}
    return {key: record for key, record in found.items() if record is not None}


def find_baseline(
    doc: ResultsDocument, folder: Path = DEFAULT_BASELINE_DIR
) -> BaselineRecord | None:
    """The stored baseline comparable with ``doc``, or None when there is none."""
    path = baseline_path(doc, folder)
    if not path.exists():
        return None
    record = read_baseline(path)
    if record.results.comparability_key() != doc.comparability_key():
        raise SchemaError(f"{path}: holds a baseline for other hardware or workload")
    return record


def _now_iso(now: datetime | None) -> str:
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat()


def update_baseline(
    doc: ResultsDocument,
    folder: Path = DEFAULT_BASELINE_DIR,
    *,
    now: datetime | None = None,
    busy_host_share: float = DEFAULT_BUSY_HOST_SHARE,
) -> Path:
    """Make ``doc`` the baseline for its comparability key (explicit, atomic, locked).

    Refuses a run marked invalid or measured on a busy host (other processes' CPU share above
    ``busy_host_share``, the host gate's limit: such a run could not be judged, so it cannot be
    the reference either), and refuses to replace an existing baseline file that cannot be read
    (so a damaged file is looked at by a person instead of lost).
    """
    if not doc.validity.valid:
        why = "; ".join(doc.validity.reasons)
        raise InputError(f"run {doc.run.run_id} is marked invalid ({why}); not set as baseline")
    busy = busy_reason(others_shares(doc), busy_host_share)
    if busy is not None:
        raise InputError(f"run {doc.run.run_id}: {busy}; not set as baseline")
    path = baseline_path(doc, folder)
    envelope = BaselineEnvelope(
        baseline_version=BASELINE_VERSION,
        created_at=_now_iso(now),
        source_run_id=doc.run.run_id,
        results=doc,
    )
    with locked_file(path):
        if path.exists():
            _refuse_if_unreadable(path)
        text = json.dumps(envelope.model_dump(mode="json"), indent=2) + "\n"
        atomic_write_text(path, text)
    return path


def _refuse_if_unreadable(path: Path) -> None:
    try:
        read_baseline(path)
    except SchemaError as exc:
        raise SchemaError(
            f"existing baseline is unreadable, not overwritten (repair or delete it): {exc}"
        ) from None
