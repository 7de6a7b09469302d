"""The GPU check's child processes: stopped at their limit, output and CPU time kept."""

from __future__ import annotations

import sys
from pathlib import Path

from virnucpro.bench.gpu_check.child import run_process, tail
from virnucpro.bench.gpu_check.spec import CheckConfig


def test_a_process_over_its_limit_is_stopped(config: CheckConfig, tmp_path: Path) -> None:
    code = "import time; print('started', flush=True); time.sleep(60)"
    done = run_process(
        [sys.executable, "-c", code], limit_s=2, config=config, output=tmp_path / "o.txt"
    )
    assert done.returncode is None
    assert "started" in done.output


def test_a_process_exit_code_output_and_cpu_time_are_kept(
    config: CheckConfig, tmp_path: Path
) -> None:
    code = "import sys\nn = 0\nfor i in range(3_000_000): n += i\nprint('bad'); sys.exit(3)"
    done = run_process(
        [sys.executable, "-c", code], limit_s=60, config=config, output=tmp_path / "o.txt"
    )
    assert (done.returncode, done.output.strip()) == (3, "bad")
    assert done.cpu_seconds is not None and done.cpu_seconds > 0


def test_a_process_runs_where_it_is_told(config: CheckConfig, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = "import os; print(os.getcwd()); print(os.environ['PYTHONPATH'].split(os.pathsep)[0])"
    done = run_process(
        [sys.executable, "-c", code],
        limit_s=60,
        config=config,
        output=tmp_path / "o.txt",
        root=elsewhere,
    )
    assert done.output.splitlines() == [str(elsewhere), str(elsewhere)]


def test_the_tail_is_the_last_lines_on_one_line() -> None:
    assert tail("a\n\nb\nc\nd\n") == "b | c | d"
