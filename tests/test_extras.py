"""Lean installs: ``predict`` needs no extra, and a missing extra is one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from virnucpro.cli import main as virnucpro_main
from virnucpro.extras import EXTRA_MODULES, MissingExtra, missing_extra, require

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "example.fasta"
EVERY_EXTRA_MODULE = sorted({m for modules in EXTRA_MODULES.values() for m in modules})
# Run with the modules of every extra made unimportable, the way a lean install lacks them.
BLOCKED = "import sys\nfor m in {modules!r}:\n    sys.modules[m] = None\n{body}"


def _python(body: str, modules: list[str], *args: str, cwd: Path = REPO):
    code = BLOCKED.format(modules=modules, body=body)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_a_missing_module_names_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pytest_is_here", None)
    monkeypatch.setitem(EXTRA_MODULES, "bench", ("json", "pytest_is_here"))
    with pytest.raises(MissingExtra) as info:
        require("bench", command="virnucpro benchmark")
    assert str(info.value) == (
        "virnucpro benchmark needs the [bench] extra (missing: pytest_is_here): "
        "pip install 'virnucpro[bench]'"
    )
    assert info.value.exit_code == 2


def test_an_installed_extra_passes() -> None:
    for extra in EXTRA_MODULES:
        require(extra, command="the test suite")  # the dev install has every extra


def test_an_import_error_of_an_extra_module_becomes_the_one_line() -> None:
    error = missing_extra(ModuleNotFoundError("no", name="plotly.io"), command="x")
    assert error is not None and "virnucpro[dashboard]" in str(error)
    assert missing_extra(ModuleNotFoundError("no", name="not_an_extra"), command="x") is None


def test_every_extra_module_comes_from_its_pyproject_extra() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = config["optional-dependencies"]
    distribution = {"pynvml": "nvidia-ml-py"}  # import names that differ from the distribution
    for extra, modules in EXTRA_MODULES.items():
        names = " ".join(declared[extra])
        for module in modules:
            assert distribution.get(module, module) in names, (extra, module)
    core = " ".join(config["dependencies"])
    assert not [m for m in EVERY_EXTRA_MODULE if distribution.get(m, m) in core]


def test_benchmark_without_the_bench_extra_is_one_line_and_exit_2() -> None:
    body = "from virnucpro.cli import main\nsys.exit(main(['benchmark', '--quick']))"
    done = _python(body, ["pytest", "pydantic"])
    assert done.returncode == 2
    line = _one_line(done.stderr)
    assert line == (
        "virnucpro: error: virnucpro benchmark needs the [bench] extra (missing: pydantic, "
        "pytest): pip install 'virnucpro[bench]'"
    )


def test_a_module_of_an_extra_failing_later_is_the_same_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from virnucpro.cli import benchmark

    def late(args: object) -> int:
        raise ModuleNotFoundError("No module named 'rich'", name="rich")

    monkeypatch.setattr(benchmark, "require", lambda *a, **k: None)
    monkeypatch.setattr(benchmark, "run", late)
    assert virnucpro_main(["benchmark", "--quick"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "virnucpro benchmark needs the [bench] extra (missing: rich)" in line


def test_another_missing_module_is_not_hidden(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a module of an extra: an unexpected error, shown with its traceback (exit 2 for the
    benchmark, which must never exit with the regression code)."""
    from virnucpro.cli import benchmark

    def broken(args: object) -> int:
        raise ModuleNotFoundError("No module named 'nowhere'", name="nowhere")

    monkeypatch.setattr(benchmark, "run", broken)
    assert virnucpro_main(["benchmark", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "benchmark failed (ModuleNotFoundError" in err
    assert "pip install" not in err


def test_tools_bench_without_the_bench_extra_is_one_line_and_exit_2() -> None:
    done = _python(
        "import runpy\nrunpy.run_module('tools.bench', run_name='__main__')", ["tabulate"]
    )
    assert done.returncode == 2
    assert "python -m tools.bench needs the [bench] extra (missing: tabulate)" in _one_line(
        done.stderr
    )


def test_the_dashboard_without_its_extra_is_one_line_and_exit_2() -> None:
    body = (
        "sys.argv = ['tools.bench', 'dashboard']\n"
        "import runpy\nrunpy.run_module('tools.bench', run_name='__main__')"
    )
    done = _python(body, ["plotly"])
    assert done.returncode == 2
    line = _one_line(done.stderr)
    assert "dashboard needs the [dashboard] extra (missing: plotly)" in line
    assert "pip install 'virnucpro[dashboard]'" in line


def test_the_plan_api_without_the_bench_extra_names_it() -> None:
    done = _python("import tools.bench\nfrom tools.bench import ReportGenerator", ["pydantic"])
    assert done.returncode == 1
    assert "ImportError: tools.bench needs the [bench] extra (missing: pydantic)" in done.stderr


@pytest.mark.slow
def test_predict_runs_with_every_extra_missing(tmp_path: Path) -> None:
    """The core install is what predict needs: it runs with no module of any extra."""
    body = "from virnucpro.cli import main\nsys.exit(main(sys.argv[1:]))"
    done = _python(body, EVERY_EXTRA_MODULE, "predict", str(EXAMPLE), "-o", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "prediction_results.txt").is_file()
