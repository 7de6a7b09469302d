"""Bisections beside the history: stored and read back, published to a data branch, the range
the nightly job bisects, and the dashboard's culprit mark."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.bench.bisect.scripted import scripted_result
from tests.tools.bench.site_history import CHANGE_AT
from tests.tools.bench.site_history import known_history as site_history
from tools.bench.cli.bisect import main_change_point_range
from tools.bench.history.bisects import (
    add_bisect,
    culprits,
    new_change_range,
    publish_bisect,
    read_bisects,
)
from tools.bench.history.runs import add_run
from tools.bench.history.source import from_folder
from tools.bench.site.pages import build_site
from virnucpro.bench.bisect.schema import BisectResult, Commit
from virnucpro.errors import InputError

N = 8


def _commit(k: int) -> str:
    """The site history's commit of run ``k``, made a full sha."""
    return f"{k:02d}c0ffee" + "0" * 32


def known_history():
    return [
        e.model_copy(update={"commit": _commit(int(e.run_id.split("-")[1]))})
        for e in site_history()
    ]


def _result(steps: dict[int, float], *, good: str | None = None, bad: str | None = None):
    result = scripted_result(steps, N)
    changes: dict[str, object] = {}
    if good is not None:
        changes["good"] = Commit(sha=good, subject="good")
    if bad is not None:
        changes["bad"] = Commit(sha=bad, subject="bad")
    return result.model_copy(update=changes)


def test_records_are_stored_once_and_read_back(tmp_path: Path) -> None:
    result = _result({6: 1.25})
    path, added = add_bisect(tmp_path, result)
    assert added and path.name == f"{'00' * 6}-{'08' * 6}.json"
    assert add_bisect(tmp_path, result) == (path, False)
    assert read_bisects(tmp_path) == (result,)
    assert list(culprits((result,))) == ["06" * 20]


def test_a_damaged_record_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bisects").mkdir()
    (tmp_path / "bisects" / "x.json").write_text("{", encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        read_bisects(tmp_path)


def test_the_newest_worsening_change_point_is_the_range_until_it_is_bisected() -> None:
    history = known_history()
    found = new_change_range({history[0].key: history}, ())
    # the change point is at the ninth valid run; run 5 (invalid) is not in the series
    assert found is not None and (found.good, found.bad) == (_commit(CHANGE_AT), _commit(9))
    assert found.change == pytest.approx(0.30, abs=0.03)
    done = _result({6: 1.25}, good=found.good, bad=found.bad)
    assert new_change_range({history[0].key: history}, (done,)) is None


def test_a_history_that_got_faster_has_no_range() -> None:
    history = [
        e.model_copy(
            update={"metrics": tuple(m.model_copy(update={"better": "higher"}) for m in e.metrics)}
        )
        for e in known_history()
    ]
    assert new_change_range({history[0].key: history}, ()) is None


def test_the_command_prints_the_range_and_writes_the_github_output(tmp_path, capsys) -> None:
    history = known_history()
    for entry in history:
        add_run(tmp_path / "history", entry)
    output = tmp_path / "github_output"
    argv = ["--dir", str(tmp_path / "history"), "--github-output", str(output)]
    assert main_change_point_range(argv, env={}) == 0
    expected = f"{_commit(CHANGE_AT)}..{_commit(9)}"
    assert capsys.readouterr().out.strip() == expected
    assert output.read_text(encoding="utf-8") == f"range={expected}\n"
    add_bisect(tmp_path / "history", _result({6: 1.25}, good=_commit(CHANGE_AT), bad=_commit(9)))
    assert main_change_point_range(argv[:2], env={}) == 0
    assert capsys.readouterr().out == ""


def test_publishing_to_a_data_branch_and_loading_it_back(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    result = _result({6: 1.25})
    path, added = publish_bisect(result, remote=str(remote), branch="benchmark-data")
    assert added and path.startswith("bisects/")
    assert publish_bisect(result, remote=str(remote), branch="benchmark-data")[1] is False


def test_the_dashboard_marks_the_culprit_on_the_total_time_page(tmp_path: Path) -> None:
    history = known_history()
    folder = tmp_path / "history"
    for entry in history:
        add_run(folder, entry)
    result: BisectResult = _result({6: 1.25}, good=_commit(CHANGE_AT), bad=_commit(9))
    add_bisect(folder, result)
    loaded = from_folder(folder)
    assert loaded.bisects == (result,)
    site = build_site(loaded.histories, tmp_path / "site", source="t", bisects=loaded.bisects)
    page_name = f"bisects/{_commit(CHANGE_AT)[:12]}-{_commit(9)[:12]}.html"
    total = next(p for p in site.pages if p.name == "end_to_end.total_time.html")
    text = total.read_text(encoding="utf-8")
    assert f"../{page_name}" in text and "culprit 0909090" not in text  # placed at BAD
    assert "<h2>Bisections</h2>" in text
    reads = next(p for p in site.pages if p.name == "end_to_end.reads_per_s.html")
    assert "Bisections" not in reads.read_text(encoding="utf-8")
    report = (tmp_path / "site" / page_name).read_text(encoding="utf-8")
    assert "<h2>VirNucPro bisection: CULPRIT (exit 1)</h2>" in report and "<table>" in report
