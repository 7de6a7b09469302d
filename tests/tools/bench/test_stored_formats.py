"""Every stored format reads by the one envelope rule (``virnucpro.bench.records.Envelope``):
a file it wrote, with its ``kind`` taken out, still reads; another format's kind is refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.bench.ab_records import ab_record
from tests.tools.bench import make_fixtures as mf
from tools.bench.history.baseline import read_baseline, read_reference, update_baseline
from tools.bench.history.runs import add_run, entry_from_results, read_file
from tools.bench.report.document import build_report, read_report, write_reports
from virnucpro.bench.ab.schema import read_record, write_record
from virnucpro.bench.options import (
    BenchOptions,
    SessionConfig,
    read_session_config,
    write_session_config,
)
from virnucpro.bench.records import SchemaError
from virnucpro.bench.schema import read_document, write_document

OTHER_KIND = "virnucpro-something-else"


def _results(folder: Path) -> Path:
    return write_document(mf.load_fixture("cpu_run"), folder / "results.json")


def _report(folder: Path) -> Path:
    report = build_report(mf.load_fixture("cpu_run"), verdict=None, now=mf.FIXED_NOW)
    return write_reports(report, folder)[1]


def _baseline(folder: Path) -> Path:
    return update_baseline(mf.load_fixture("cpu_run"), folder / "store", now=mf.FIXED_NOW)


def _history(folder: Path) -> Path:
    return add_run(folder, entry_from_results(mf.load_fixture("cpu_run"))).path


def _pairs(folder: Path) -> Path:
    return write_record(ab_record(()), folder / "pairs.json")


def _config(folder: Path) -> Path:
    config = SessionConfig(BenchOptions(), folder / "r.json", "run-1", "virnucpro benchmark")
    return write_session_config(folder / "config.json", config)


FORMATS: dict[str, tuple[Callable[[Path], Path], Callable[[Path], object]]] = {
    "results": (_results, read_document),
    "report": (_report, read_report),
    "baseline": (_baseline, read_baseline),
    "reference baseline": (_baseline, read_reference),
    "reference report": (_report, read_reference),
    "history": (_history, read_file),
    "A/B pairs": (_pairs, read_record),
    "suites config": (_config, read_session_config),
}


def _rewrite(path: Path, change: Callable[[dict[str, object]], None]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data) + "\n", encoding="utf-8")


@pytest.mark.parametrize("name", FORMATS)
def test_a_file_without_its_kind_still_reads(tmp_path: Path, name: str) -> None:
    write, read = FORMATS[name]
    path = write(tmp_path)
    before = read(path)
    _rewrite(path, lambda data: data.pop("kind"))
    assert read(path) == before


@pytest.mark.parametrize("name", FORMATS)
def test_another_kind_is_refused_in_one_line(tmp_path: Path, name: str) -> None:
    write, read = FORMATS[name]
    path = write(tmp_path)
    _rewrite(path, lambda data: data.update(kind=OTHER_KIND))
    with pytest.raises(SchemaError) as info:
        read(path)
    assert OTHER_KIND in str(info.value) or "not a results, report or baseline" in str(info.value)
    assert "\n" not in str(info.value)
