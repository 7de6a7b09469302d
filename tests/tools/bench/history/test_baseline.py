"""Baseline store: layout, validation and refusal."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tools.bench.history.baseline import (
    BASELINE_KIND,
    baseline_path,
    find_baseline,
    read_reference,
    storage_key,
    update_baseline,
)
from tools.bench.synthetic import synthetic_document
from virnucpro.bench.metric_names import OTHERS_CPU_METRIC, TOTAL_TIME_METRIC
from virnucpro.bench.records import SchemaError
from virnucpro.bench.schema import ResultsDocument, metric_from_samples, write_document
from virnucpro.errors import InputError

NOW = datetime(2025, 3, 2, 10, 0, tzinfo=timezone.utc)


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


def _busy_doc(share: float) -> ResultsDocument:
    samples = [10.0, 10.1, 9.9, 10.2, 9.8]
    total = metric_from_samples(TOTAL_TIME_METRIC, samples, unit="s", better="lower")
    others = metric_from_samples(OTHERS_CPU_METRIC, [share] * 5, unit="ratio", better="none")
    return synthetic_document([total, others], run_id="busy")


def test_a_run_measured_on_a_busy_host_is_never_a_baseline(tmp_path: Path) -> None:
    doc = _busy_doc(0.47)
    with pytest.raises(InputError, match=r"host busy, other processes used 47%.*not set"):
        update_baseline(doc, tmp_path)
    assert not baseline_path(doc, tmp_path).exists()
    assert update_baseline(_busy_doc(0.05), tmp_path).exists()  # a quiet one is


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


def test_read_results_accepts_a_report_json(tmp_path):
    from datetime import datetime, timezone

    from tools.bench.history.baseline import read_reference, read_results
    from tools.bench.report.document import build_report, write_reports
    from virnucpro.bench.schema import read_document

    fixture = Path(__file__).parents[1] / "fixtures" / "cpu_run.json"
    doc = read_document(fixture)
    report = build_report(doc, verdict=None, now=datetime(2026, 1, 2, tzinfo=timezone.utc))
    _, json_path = write_reports(report, tmp_path)
    assert read_results(json_path) == doc
    assert read_reference(json_path).results == doc
    assert read_results(fixture) == doc
