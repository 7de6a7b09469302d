"""The run history: compact lines, retention, refusal of damaged files, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from filelock import FileLock

from tools.bench.history import baseline
from tools.bench.history.runs import (
    HISTORY_VERSION,
    RunEntry,
    add_run,
    entry_from_results,
    entry_line,
    history_file,
    history_keys,
    read_history,
)
from tools.bench.synthetic import synthetic_document
from virnucpro.bench.metric_names import PAIRS_LABEL, SIDE_LABEL, TOTAL_TIME_METRIC
from virnucpro.bench.records import SchemaError
from virnucpro.bench.schema import ResultsDocument, metric_from_samples
from virnucpro.errors import InputError, RunFailure

WRITERS = 2
APPENDS = 30
TOTAL = TOTAL_TIME_METRIC


def _entry(run_id: str = "run-1", *, level: float = 10.0, **fields: str) -> RunEntry:
    return entry_from_results(_doc(run_id, level=level, **fields))


def _doc(run_id: str, *, level: float = 10.0, **fields: str) -> ResultsDocument:
    samples = [level, level * 1.01, level * 0.99, level * 1.02, level * 0.98]
    metric = metric_from_samples(TOTAL, samples, unit="s", better="lower")
    return synthetic_document([metric], run_id=run_id, **fields)


def _add(folder: Path, run_id: str) -> Path:
    """Module-level so a spawned process can run it."""
    return add_run(folder, _entry(run_id)).path


def test_runs_are_compact_lines_in_the_order_added(tmp_path: Path) -> None:
    entries = [_entry(f"run-{i}", level=10.0 + i) for i in range(3)]
    paths = {add_run(tmp_path, e).path for e in entries}
    key = entries[0].key
    assert paths == {history_file(tmp_path, key)}
    lines = history_file(tmp_path, key).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and all(" " not in line.split('"samples"')[0] for line in lines)
    assert read_history(tmp_path, key) == entries
    assert history_keys(tmp_path) == [key]
    summary = entries[0].metric(TOTAL)
    assert summary is not None
    assert (summary.n, summary.median, summary.q1, summary.q3) == (5, 10.0, 9.9, 10.1)


def test_history_lives_under_the_key_not_in_baselines(tmp_path: Path) -> None:
    entry = _entry()
    path = add_run(tmp_path, entry).path
    hardware, slug = entry.key.split("/")
    assert path == tmp_path / hardware / f"{slug}.jsonl"


def test_retention_keeps_raw_samples_of_the_newest_runs_only(tmp_path: Path) -> None:
    for i in range(5):
        add_run(tmp_path, _entry(f"run-{i}", level=10.0 + i), raw_runs=2)
    runs = read_history(tmp_path, _entry().key)
    kept = [(e.run_id, e.metrics[0].samples is not None) for e in runs]
    assert kept == [
        ("run-0", False),
        ("run-1", False),
        ("run-2", False),
        ("run-3", True),
        ("run-4", True),
    ]
    assert [e.metrics[0].median for e in runs] == [10.0, 11.0, 12.0, 13.0, 14.0]


def test_a_run_already_there_is_not_added_twice(tmp_path: Path) -> None:
    assert add_run(tmp_path, _entry("run-1")).added
    again = add_run(tmp_path, _entry("run-1"))
    assert (again.added, again.runs) == (False, 1)


def test_invalid_runs_are_kept_and_marked(tmp_path: Path) -> None:
    add_run(tmp_path, _entry("busy", invalid_reason="host busy: others used 51% of the CPUs"))
    (entry,) = read_history(tmp_path, _entry().key)
    assert not entry.valid and entry.invalid_reasons == ("host busy: others used 51% of the CPUs",)


def test_unknown_key_is_empty_and_a_key_cannot_escape(tmp_path: Path) -> None:
    assert read_history(tmp_path, _entry().key) == []
    with pytest.raises(InputError, match="not a history key"):
        read_history(tmp_path, "../../etc")


def test_corrupt_line_is_refused_with_its_number_and_not_rewritten(tmp_path: Path) -> None:
    for i in range(3):
        add_run(tmp_path, _entry(f"run-{i}"))
    path = history_file(tmp_path, _entry().key)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1][:40]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(SchemaError, match=r"\.jsonl:2: not valid JSON"):
        read_history(tmp_path, _entry().key)
    with pytest.raises(SchemaError, match="not rewritten"):
        add_run(tmp_path, _entry("run-9"))
    assert path.read_bytes() == before


def test_another_history_version_is_refused_and_not_rewritten(tmp_path: Path) -> None:
    path = add_run(tmp_path, _entry("run-1")).path
    data = json.loads(path.read_text(encoding="utf-8"))
    data["history_version"] = HISTORY_VERSION + 1
    path.write_text(json.dumps(data) + "\n", encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(SchemaError, match=r"jsonl:1: history_version 3 is not supported"):
        add_run(tmp_path, _entry("run-2"))
    assert path.read_bytes() == before


def test_a_torn_last_line_is_refused(tmp_path: Path) -> None:
    path = add_run(tmp_path, _entry("run-1")).path
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"kind": "virnucpro-bench')
    before = path.read_bytes()
    with pytest.raises(SchemaError, match="partial line"):
        add_run(tmp_path, _entry("run-2"))
    assert path.read_bytes() == before


def test_concurrent_writers_from_two_processes_keep_every_run(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")  # fork is unsafe in threaded processes
    with context.Pool(WRITERS) as pool:
        pool.starmap(_add, [(tmp_path, f"run-{i}") for i in range(APPENDS)], chunksize=1)
    runs = read_history(tmp_path, _entry().key)
    assert sorted(e.run_id for e in runs) == sorted(f"run-{i}" for i in range(APPENDS))


def test_a_writer_waits_for_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = history_file(tmp_path, _entry().key)
    path.parent.mkdir(parents=True)
    monkeypatch.setattr(baseline, "LOCK_TIMEOUT_S", 0.05)
    with FileLock(path.with_name(f".{path.name}.lock")), pytest.raises(RunFailure, match="lock"):
        add_run(tmp_path, _entry())
    assert not path.exists()


def test_a_report_entry_keeps_verdict_and_requirement_rows(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from tests.tools.bench import make_fixtures as mf
    from tools.bench.report.document import build_report

    run = mf.load_fixture("cpu_run")
    report = build_report(run, verdict=None, now=datetime(2026, 1, 2, tzinfo=timezone.utc))
    assert any(r.passed is None for r in report.requirements)  # a row that could not be judged
    entry = entry_from_results(run, report=report)
    add_run(tmp_path, entry)
    assert read_history(tmp_path, entry.key) == [entry]


# ----------------------------------------------------------------------------- series


def _paired_report(doc: ResultsDocument):
    import numpy as np

    from tools.bench.judge.paired import judge_paired
    from tools.bench.thresholds import DEFAULT_THRESHOLDS
    from tools.bench.verdict import ReportDocument
    from virnucpro.bench.ab.schema import PairedMetric

    rng = np.random.default_rng(4)
    base = tuple(float(v) for v in 10.0 * (1 + 0.2 * rng.random(30)))
    head = tuple(b * float(np.exp(0.04 * rng.standard_normal())) for b in base)
    verdict = judge_paired(
        (PairedMetric(TOTAL, "s", "lower", base, head),),
        thresholds=DEFAULT_THRESHOLDS,
        label="HEAD",
    )
    return ReportDocument(generated_at="2026-12-01T00:00:00Z", results=doc, verdict=verdict)


def test_a_canary_joins_its_own_file_with_its_gate_facts(tmp_path: Path) -> None:
    doc = _doc("canary-1")
    report = _paired_report(doc)
    entry = entry_from_results(doc, report=report, series="canary")
    assert entry.key == f"{baseline.storage_key(doc)}--canary" and entry.series == "canary"
    assert entry.gate is not None and entry.gate.pairs == 30
    assert entry.gate.per_pair_cv == pytest.approx(report.verdict.design.per_pair_cv)
    assert 0.02 < entry.gate.per_pair_cv < 0.06
    assert entry.gate.min_detectable == report.verdict.design.min_detectable
    assert entry.metrics  # a canary keeps its metrics
    path = add_run(tmp_path, entry).path
    assert path.name.endswith("--canary.jsonl")
    assert read_history(tmp_path, entry.key) == [entry]
    assert add_run(tmp_path, _entry("main-1")).path != path  # the main series apart


def test_a_pr_entry_keeps_its_verdict_only(tmp_path: Path) -> None:
    doc = _doc("pr-1")
    entry = entry_from_results(doc, report=_paired_report(doc), series="pr")
    assert entry.key.endswith("--pr") and entry.metrics == () and entry.requirements == ()
    assert entry.outcome == "pass" and entry.gate is not None


def test_version_1_lines_still_read_as_the_main_series(tmp_path: Path) -> None:
    entry = _entry("old-1")
    data = json.loads(entry.model_dump_json())
    data["history_version"] = 1
    for field in ("series", "gate"):
        data.pop(field)
    path = history_file(tmp_path, entry.key)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data) + "\n", encoding="utf-8")
    (old,) = read_history(tmp_path, entry.key)
    assert old.series == "runs" and old.gate is None and old.history_version == 1


def test_an_entry_says_what_ran_and_which_kind_of_run(tmp_path: Path) -> None:
    plain = _entry("plain")
    assert plain.mode == "plain" and plain.setup is not None
    assert plain.setup.title().startswith("tiny models, tiny workload (10 reads, 500 bp chunks)")
    labels = {PAIRS_LABEL: "0123456789abcdef", SIDE_LABEL: "head"}
    doc = _doc("ab-head")
    total = doc.metrics[0].model_copy(update={"labels": labels})
    side = entry_from_results(doc.model_copy(update={"metrics": (total,)}))
    assert side.mode == "ab" and side.key == plain.key  # one key, two kinds of run
    add_run(tmp_path, plain)
    add_run(tmp_path, side)
    assert [e.mode for e in read_history(tmp_path, plain.key)] == ["plain", "ab"]


def test_lines_written_before_the_kind_of_run_was_kept_read_as_plain(tmp_path: Path) -> None:
    entry = _entry("old")
    path = history_file(tmp_path, entry.key)
    path.parent.mkdir(parents=True)
    data = json.loads(entry_line(entry))
    del data["mode"], data["setup"]
    path.write_text(json.dumps(data) + "\n", encoding="utf-8")
    (old,) = read_history(tmp_path, entry.key)
    assert old.mode == "plain" and old.setup is None


def test_a_run_the_host_gate_called_invalid_is_not_a_valid_entry() -> None:
    """The dashboard drew 'valid' beside an INVALID (busy host) verdict; now the entry says so."""
    from datetime import datetime, timezone

    from tools.bench.report.document import build_report
    from tools.bench.verdict import Verdict

    busy = "INVALID: host busy, other processes used 78% of the CPUs during the rounds (median)"
    verdict = Verdict(outcome="invalid", exit_code=2, reasons=(busy,))
    report = build_report(
        _doc("busy"), verdict=verdict, now=datetime(2026, 1, 2, tzinfo=timezone.utc)
    )
    entry = entry_from_results(report.results, report=report)
    assert not entry.valid and entry.invalid_reasons == (busy,) and entry.outcome == "invalid"
    assert _entry("quiet").valid
