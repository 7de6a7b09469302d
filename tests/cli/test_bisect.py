"""``virnucpro benchmark --bisect`` and ``--profile``: option checks, and real runs on the tiny
models in a small git history built in a temporary folder (the bisection demo's helpers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripts import load_script
from virnucpro.bench.ab.profile import read_profile
from virnucpro.bench.bisect.schema import read_result
from virnucpro.bench.options import for_tier
from virnucpro.cli.bisect import run_bisect
from virnucpro.errors import InputError

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "scripts" / "bisect_demo.py"
# The tests check the search and the profile, not the host gate: on a shared machine other
# processes may take most of the CPUs, which the gate would rightly call INVALID.
ANY_HOST = "ab_busy_host_share = 1.0\n"
FEW_PAIRS = ("--rounds", "10", "--max-rounds", "20", "--warmup", "1")  # 10: BH needs them
AB_PAIRS = ("--rounds", "6", "--max-rounds", "6", "--warmup", "1")  # the verdict is not tested


@pytest.fixture(scope="module")
def demo():
    return load_script(DEMO, "bisect_demo")


@pytest.fixture(scope="module")
def history(tmp_path_factory, demo) -> tuple[Path, str, Path]:
    """GOOD (this working tree), a commit running both models' forward pass twice, a docs
    commit; and a thresholds file that switches the host gate off."""
    tmp = tmp_path_factory.mktemp("bisect")
    root = tmp / "repo"
    demo.new_repository(REPO, root)
    slow = demo.slow_commit(root, "engine: both models twice", dnabert=1.0, esm=1.0)
    demo.docs_commit(root, 2)
    thresholds = tmp / "any-host.toml"
    thresholds.write_text(ANY_HOST, encoding="utf-8")
    return root, slow, thresholds


def _benchmark(root: Path, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``virnucpro benchmark --quick ARGV`` with ``root``'s code, in ``cwd`` (default ``root``)."""
    return subprocess.run(
        [sys.executable, "-m", "virnucpro", "benchmark", "--quick", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        cwd=cwd or root,
        timeout=900,
        check=False,
    )


@pytest.mark.parametrize(
    ("flag", "value"),
    [("compare_to", "x.json"), ("update_baseline", True), ("history_dir", "h")],
)
def test_storing_or_comparing_options_are_refused(flag: str, value, tmp_path: Path) -> None:
    import argparse

    from virnucpro.cli.bisect import check_bisect_args

    options = for_tier("quick", output_dir=tmp_path, **{flag: value})
    args = argparse.Namespace(suite=None, time_budget=None)
    with pytest.raises(InputError, match="cannot be combined with --bisect"):
        check_bisect_args(args, options)


def test_a_range_whose_good_is_not_an_ancestor_of_bad_is_one_line_and_exit_2(
    tmp_path: Path,
) -> None:
    done = _benchmark(REPO, "--bisect", "HEAD..HEAD~1", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not an ancestor of BAD" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_profile_without_a_second_side_is_refused(tmp_path: Path) -> None:
    done = _benchmark(REPO, "--profile", cwd=tmp_path)
    assert done.returncode == 2 and "--profile needs --against" in done.stderr


def test_a_dirty_checkout_is_refused_before_measuring(history, tmp_path: Path) -> None:
    root, _, _ = history
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    readme.write_text(text + "\nan uncommitted line\n", encoding="utf-8")
    try:
        done = _benchmark(root, "--bisect", "good..HEAD", "--output-dir", str(tmp_path))
    finally:
        readme.write_text(text, encoding="utf-8")
    assert done.returncode == 2 and "uncommitted changes" in done.stderr
    assert not list(tmp_path.glob("bisect_*.json"))


@pytest.mark.slow
def test_a_real_bisection_names_the_slow_commit_and_profiles_its_step(history, tmp_path) -> None:
    root, slow, thresholds = history
    reports = tmp_path / "reports"
    argv = ["--bisect", "good..HEAD", "--profile", "--thresholds", str(thresholds), *FEW_PAIRS]
    done = _benchmark(root, *argv, "--output-dir", str(reports))
    assert done.returncode == 1, done.stdout + done.stderr
    assert slow in done.stdout  # the full sha
    result = read_result(next(reports.glob("bisect_*.json")))
    assert result.outcome == "culprit" and result.culprit is not None
    assert result.culprit.sha == slow and result.culprit.subject == "engine: both models twice"
    confirm = result.step(result.culprit_step)
    assert confirm is not None and confirm.role == "confirm" and confirm.fresh_workers
    assert confirm.change is not None and confirm.change > 0.10
    assert all(Path(s.pairs_file).is_file() for s in result.steps if s.pairs_file)
    profile = read_profile(Path(confirm.profile_file))
    assert profile.base.commit == result.good.sha and profile.head.commit == slow
    markdown = next(reports.glob("bisect_*.md")).read_text(encoding="utf-8")
    assert f"**Culprit**: `{slow}`" in markdown
    assert "### Where the time went in the culprit's step" in markdown


def _calls(side, stage: str, name: str) -> int:
    return sum(o.calls for o in side.operators if o.stage == stage and o.name == name)


@pytest.mark.slow
def test_an_ab_run_with_profile_shows_the_doubled_model_work(history, tmp_path: Path) -> None:
    root, slow, thresholds = history
    head = tmp_path / "head"
    subprocess.run(
        ["git", "-C", str(root), "worktree", "add", "--quiet", "--detach", str(head), slow],
        check=True,
    )
    reports = tmp_path / "reports"
    argv = ["--against", "good", "--profile", "--thresholds", str(thresholds), *AB_PAIRS]
    done = _benchmark(head, *argv, "--output-dir", str(reports))
    assert done.returncode in (0, 1, 2), done.stdout + done.stderr
    assert "where the time went: " in done.stdout
    profile = read_profile(next(reports.glob("runs/ab-*/profile.json")))
    for stage in ("dnabert", "esm"):
        base = _calls(profile.base, stage, "aten::addmm")
        head_calls = _calls(profile.head, stage, "aten::addmm")
        assert base > 0 and head_calls == 2 * base, stage
    assert _calls(profile.head, "classify", "aten::addmm") == _calls(
        profile.base, "classify", "aten::addmm"
    )
    assert profile.base.wall_seconds > 0 and profile.head.timed_median_seconds is not None
    markdown = next(reports.glob("benchmark_*.md")).read_text(encoding="utf-8")
    assert "## Where the time went (profiled rounds)" in markdown
    assert "Profiling cost" in markdown


def test_the_library_refuses_a_bad_range_before_measuring(tmp_path: Path) -> None:
    options = for_tier("quick", output_dir=tmp_path)
    with pytest.raises(InputError, match="GOOD 'no-such-ref' is not a commit"):
        run_bisect(
            options, range_text="no-such-ref..HEAD", budget_s=60.0, overrides={}, command="t"
        )
    assert not list(tmp_path.iterdir())


def test_the_command_prints_the_culprit_and_where_its_time_went(monkeypatch, tmp_path, capsys):
    """The command's wiring and summary over a scripted search (nothing measured)."""
    import argparse

    import virnucpro.cli.bisect as cli
    from tests.bench.bisect.scripted import scripted_result
    from tests.tools.bench.culprit.test_profile import doubled_dnabert

    result = scripted_result({6: 1.25}).model_copy(update={"culprit_profile": doubled_dnabert()})
    seen = {}

    def fake_run_bisect(options, **kwargs):
        seen.update(kwargs)
        return cli.BisectOutcome(result, tmp_path / "b.json", tmp_path / "b.md")

    monkeypatch.setattr(cli, "run_bisect", fake_run_bisect)
    args = argparse.Namespace(
        suite=None, time_budget=None, rounds=None, max_rounds=30, bisect="a..b", profile=True
    )
    code = cli.run_bisect_command(args, for_tier("quick", output_dir=tmp_path), "virnucpro x")
    out = capsys.readouterr().out
    assert code == 1 and seen["budget_s"] == 900.0 and seen["profile"] is True
    assert seen["overrides"] == {"ab_initial_pairs": None, "ab_max_pairs": 30}
    assert f"bisect: CULPRIT: {'06' * 20} commit 6 (exit 1" in out
    assert "where the time went: dnabert: 25 ms → 50.6 ms (+102%): aten::mm 16→32 calls" in out
    assert f"written: {tmp_path / 'b.md'}" in out
