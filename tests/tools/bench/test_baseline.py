"""Baseline store and run history: layout, validation, refusal, and concurrent appends."""

from __future__ import annotations

import json
import multiprocessing
from datetime import datetime, timezone
from pathlib import Path

import pytest
from filelock import FileLock

from tools.bench import baseline
from tools.bench.baseline import (
    BASELINE_KIND,
    append_history,
    baseline_path,
    find_baseline,
    history_keys,
    history_path,
    read_history,
    read_reference,
    storage_key,
    update_baseline,
)
from tools.bench.synthetic import synthetic_document
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.schema import (
    ResultsDocument,
    SchemaError,
    metric_from_samples,
    write_document,
)
from virnucpro.errors import InputError, RunFailure

NOW = datetime(2025, 3, 2, 10, 0, tzinfo=timezone.utc)
WRITERS = 2
APPENDS = 30


def _doc(run_id: str = "run-1", *, level: float = 10.0, **fields: str) -> ResultsDocument:
    samples = [level, level * 1.01, level * 0.99, level * 1.02, level * 0.98]
    metric = metric_from_samples(TOTAL_TIME_METRIC, samples, unit="s", better="lower")
    return synthetic_document([metric], run_id=run_id, **fields)


def test_storage_key_names_hardware_and_workload() -> None:
    doc = _doc()
    hardware, slug = storage_key(doc).split("/")
    assert hardware == doc.environment.hardware_key()
    assert slug == "tiny-000000000000-500-fast-tiny-cpu-float32"


def test_update_then_find_round_trips(tmp_path: Path) -> None:
    doc = _doc()
    path = update_baseline(doc, tmp_path, now=NOW)
    assert path == baseline_path(doc, tmp_path)
    envelope = json.loads(path.read_text(encoding="utf-8"))
    assert envelope["kind"] == BASELINE_KIND
    assert envelope["baseline_version"] == 1
    assert envelope["source_run_id"] == "run-1"
    assert envelope["created_at"] == NOW.isoformat()
    record = find_baseline(_doc("run-2"), tmp_path)
    assert record is not None
    assert record.results == doc
    assert record.source_run_id == "run-1"


def test_no_baseline_and_other_hardware_find_nothing(tmp_path: Path) -> None:
    assert find_baseline(_doc(), tmp_path) is None
    update_baseline(_doc(), tmp_path, now=NOW)
    assert find_baseline(_doc(cpu_model="another-cpu"), tmp_path) is None


def test_invalid_run_is_never_a_baseline(tmp_path: Path) -> None:
    doc = _doc(invalid_reason="thermal throttling")
    with pytest.raises(InputError, match="thermal throttling"):
        update_baseline(doc, tmp_path)
    assert not baseline_path(doc, tmp_path).exists()


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: text.replace('"baseline_version": 1', '"baseline_version": 99'), "99"),
        (lambda text: text.replace('"schema_version": 1', '"schema_version": 7'), "schema_version"),
    ],
)
def test_damaged_baseline_is_refused_and_left_unchanged(
    tmp_path: Path, mangle: object, message: str
) -> None:
    doc = _doc()
    path = update_baseline(doc, tmp_path, now=NOW)
    damaged = mangle(path.read_text(encoding="utf-8"))  # type: ignore[operator]
    path.write_text(damaged, encoding="utf-8")
    with pytest.raises(SchemaError, match=message):
        find_baseline(doc, tmp_path)
    with pytest.raises(SchemaError, match="not overwritten"):
        update_baseline(_doc("run-2"), tmp_path, now=NOW)
    assert path.read_text(encoding="utf-8") == damaged


def test_baseline_of_another_key_at_this_path_is_refused(tmp_path: Path) -> None:
    doc = _doc()
    other = update_baseline(_doc(cpu_model="another-cpu"), tmp_path, now=NOW)
    target = baseline_path(doc, tmp_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(other.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(SchemaError, match="other hardware"):
        find_baseline(doc, tmp_path)


def test_reference_file_may_be_a_baseline_or_a_results_document(tmp_path: Path) -> None:
    doc = _doc()
    plain = write_document(doc, tmp_path / "run.json")
    wrapped = update_baseline(doc, tmp_path / "store", now=NOW)
    assert read_reference(plain).results == doc
    assert read_reference(wrapped).results == doc
    assert read_reference(wrapped).created_at == NOW.isoformat()


@pytest.mark.parametrize(
    ("data", "shape"),
    [
        ({"name": "x", "values": [1, 2]}, "an object with keys name, values"),
        ({}, "an object with keys none"),
        ([1, 2, 3], "an array"),
        ("text", "a string"),
        (3.5, "a number"),
        (None, "null"),
    ],
)
def test_reference_that_is_other_json_says_so(tmp_path: Path, data: object, shape: str) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SchemaError) as info:
        read_reference(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not a results, report or baseline file (valid JSON, but")
    assert shape in message and "\n" not in message
    assert "schema_version" not in message


def test_history_appends_compact_lines_in_order(tmp_path: Path) -> None:
    docs = [_doc(f"run-{i}", level=10.0 + i) for i in range(3)]
    paths = {append_history(d, tmp_path) for d in docs}
    key = storage_key(docs[0])
    assert paths == {history_path(tmp_path, key)}
    lines = history_path(tmp_path, key).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    assert read_history(tmp_path, key) == docs
    assert history_keys(tmp_path) == [key]


def test_history_of_unknown_key_is_empty(tmp_path: Path) -> None:
    assert read_history(tmp_path, storage_key(_doc())) == []


def test_history_key_cannot_escape_the_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a baseline key"):
        read_history(tmp_path, "../../etc")


def test_corrupt_history_line_is_refused_with_its_number(tmp_path: Path) -> None:
    for i in range(3):
        append_history(_doc(f"run-{i}"), tmp_path)
    path = history_path(tmp_path, storage_key(_doc()))
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1][:40]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"history\.jsonl:2: not valid JSON"):
        read_history(tmp_path, storage_key(_doc()))


def test_append_after_a_torn_line_is_refused(tmp_path: Path) -> None:
    path = append_history(_doc("run-1"), tmp_path)
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"kind": "virnucpro-bench')
    before = path.read_bytes()
    with pytest.raises(SchemaError, match="partial line"):
        append_history(_doc("run-2"), tmp_path)
    assert path.read_bytes() == before


def test_invalid_run_is_not_added_to_history(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="invalid"):
        append_history(_doc(invalid_reason="busy GPU"), tmp_path)
    assert history_keys(tmp_path) == []


def test_concurrent_appends_from_two_processes_keep_every_line(tmp_path: Path) -> None:
    docs = [_doc(f"run-{i}", level=10.0 + i) for i in range(APPENDS)]
    context = multiprocessing.get_context("spawn")  # fork is unsafe in threaded processes
    with context.Pool(WRITERS) as pool:
        pool.starmap(append_history, [(d, tmp_path) for d in docs], chunksize=1)
    history = read_history(tmp_path, storage_key(docs[0]))
    assert sorted(d.run.run_id for d in history) == sorted(d.run.run_id for d in docs)


def test_append_waits_for_the_writer_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _doc()
    path = history_path(tmp_path, storage_key(doc))
    path.parent.mkdir(parents=True)
    monkeypatch.setattr(baseline, "LOCK_TIMEOUT_S", 0.05)
    with FileLock(path.with_name(f".{path.name}.lock")), pytest.raises(RunFailure, match="lock"):
        append_history(doc, tmp_path)
    assert not path.exists()


def test_read_results_accepts_a_report_json(tmp_path):
    from datetime import datetime, timezone

    from tools.bench.baseline import read_reference, read_results
    from tools.bench.report import build_report, write_reports
    from virnucpro.bench.schema import read_document

    fixture = Path(__file__).parent / "fixtures" / "cpu_run.json"
    doc = read_document(fixture)
    report = build_report(doc, verdict=None, now=datetime(2026, 1, 2, tzinfo=timezone.utc))
    _, json_path = write_reports(report, tmp_path)
    assert read_results(json_path) == doc
    assert read_reference(json_path).results == doc
    assert read_results(fixture) == doc
