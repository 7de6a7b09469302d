"""The GPU machine's image as the check sees it: what it holds, what travels as wheels, and how
a CPU machine stands in for it (the dry run).

The machine the check is written for (an H200 lent for a few minutes) runs Python 3.12 with
torch (CUDA), nvidia-ml-py, scipy, rich, tabulate and the other packages of
:data:`IMAGE_PACKAGES` installed, and has **no** pydantic, no nox, no dev extras, no git history
and no network. What the check imports that the image lacks travels as wheels in the ignored
``.whl/`` folder (:data:`CARRIED_WHEELS`, pinned, filled by ``scripts/gpu_check_wheels.py``) and
is installed there with ``pip install --no-index --no-deps --target``:

- pydantic, pydantic-core, annotated-types, typing-inspection and typing-extensions (pydantic
  needs a newer typing-extensions than an image may hold): the results schema;
- fair-esm: one ``gpu``-marked test module compares against it.

The A/B mode's requirement check (:mod:`virnucpro.bench.ab.env`) reads the project's core
dependencies and its ``[bench]`` extra: all on the image or carried, so it never tries to
install from an index the machine cannot reach.

:data:`MODULES` names every top-level module the steps import, by distribution: the check
lists the missing ones in one line before any step runs. :func:`copy_tree` copies the checkout
as the machine receives it (no ``.git``, none of the ignored build outputs).
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

WHEEL_DIR = ".whl"
SITE_DIR = "/tmp/site"  # where the GPU machine installs the wheels (first on PYTHONPATH)
CHECK_SCRIPT = "scripts/gpu_check.py"
SOURCE_ROOT = Path(__file__).resolve().parents[3]  # the checkout this module lies in
PIP_TIMEOUT_S = 600.0
GPU_PYTHON = "3.12"
GPU_PLATFORMS = (  # pip matches manylinux tags exactly: name each one the wheels may carry
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)

# On the image (read on the machine, 2026-11-17), used by the check or its tests.
IMAGE_PACKAGES = (
    "torch",
    "numpy",
    "scipy",
    "rich",
    "tabulate",
    "nvidia-ml-py",
    "psutil",
    "tokenizers",
    "safetensors",
    "requests",
    "packaging",
    "filelock",
    "matplotlib",
    "narwhals",
    "pytest",
    "hypothesis",
    "pyyaml",
)
# Not on the image: carried as wheels, pinned (one version each: two stop the install).
CARRIED_WHEELS = (
    "pydantic==2.14.4",
    "pydantic-core==2.50.5",
    "annotated-types==0.8.0",
    "typing-inspection==0.4.5",
    "typing-extensions==4.16.0",
    "fair-esm==2.0.0",
)
ON_IMAGE_TOO = ("typing-extensions",)  # carried for its version; the image has an older one
# Never on the image and never carried (the check runs from the checkout, uninstalled).
DEV_ONLY = ("nox", "ruff", "zizmor", "virnucpro", "apache-otava", "plotly")

# Top-level module -> distribution, for everything the steps import.
MODULES: Mapping[str, str] = {
    "torch": "torch",
    "numpy": "numpy",
    "scipy": "scipy",
    "rich": "rich",
    "tabulate": "tabulate",
    "pynvml": "nvidia-ml-py",
    "psutil": "psutil",
    "tokenizers": "tokenizers",
    "safetensors": "safetensors",
    "requests": "requests",
    "packaging": "packaging",
    "filelock": "filelock",
    "pytest": "pytest",
    "hypothesis": "hypothesis",
    "yaml": "pyyaml",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic-core",
    "annotated_types": "annotated-types",
    "typing_inspection": "typing-inspection",
    "typing_extensions": "typing-extensions",
    "esm": "fair-esm",
}

# What the device machine does not receive (git's folder and what .gitignore ignores): names
# ignored at any depth, and paths ignored from the checkout's root.
NOT_COPIED = (
    ".git",
    ".venv",
    ".nox",
    ".nox-venv",
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "*.egg-info",
    "node_modules",
    ".*.lock",
)
NOT_COPIED_AT_ROOT = (WHEEL_DIR, "build", "dist", "out", "runs", "tests/reports")


def distribution(requirement: str) -> str:
    """``pydantic==2.14.4`` -> ``pydantic``."""
    return requirement.split("==")[0]


def missing_distributions(modules: Mapping[str, str] = MODULES) -> list[str]:
    """The distributions whose module cannot be found, in :data:`MODULES` order, once each."""
    missing = [dist for name, dist in modules.items() if importlib.util.find_spec(name) is None]
    return list(dict.fromkeys(missing))


def carried(dist: str) -> bool:
    return dist in {distribution(r) for r in CARRIED_WHEELS}


def installed_paths(source_root: Path = SOURCE_ROOT) -> list[str]:
    """Where this interpreter finds installed distributions: :data:`sys.path` without the
    checkout. A source tree holds ``virnucpro.egg-info`` once any venv installed it editable
    (the ``tests`` and ``bench_quick`` sessions do); that is not an installation here."""
    tree = {source_root.resolve(), Path.cwd().resolve()}
    return [entry for entry in sys.path if entry and Path(entry).resolve() not in tree]


def installed(dist: str, source_root: Path = SOURCE_ROOT) -> bool:
    """Whether distribution ``dist`` is installed where this interpreter looks."""
    from importlib.metadata import distributions

    found = distributions(name=dist, path=installed_paths(source_root))
    return next(iter(found), None) is not None


def not_on_image() -> list[str]:
    """What is installed here that the GPU image lacks (before its wheels are installed)."""
    lacking = [distribution(r) for r in CARRIED_WHEELS if distribution(r) not in ON_IMAGE_TOO]
    return [d for d in (*lacking, *DEV_ONLY) if installed(d)]


def download_command(python: str, dest: Path, *, for_gpu: bool = True) -> list[str]:
    """``pip download`` of :data:`CARRIED_WHEELS` into ``dest``: for the GPU machine (CPython
    3.12, manylinux x86-64), or for ``python`` itself (a dry run here)."""
    command = [python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    if for_gpu:
        command += ["--python-version", GPU_PYTHON, "--implementation", "cp"]
        for platform in GPU_PLATFORMS:
            command += ["--platform", platform]
    return [*command, "-d", str(dest), *CARRIED_WHEELS]


def install_command(python: str, wheels: list[Path], target: Path | str = SITE_DIR) -> list[str]:
    """What the GPU machine runs first: the wheels into ``target``, nothing from an index."""
    return [
        python,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-index",
        "--no-deps",
        "--no-compile",
        "--no-cache-dir",
        "--upgrade",
        "--target",
        str(target),
        *map(str, wheels),
    ]


def copy_tree(root: Path, dest: Path) -> Path:
    """The checkout as the device machine receives it: no ``.git``, no ignored build output."""
    root, target = root.resolve(), dest.resolve()

    def ignored(directory: str, names: list[str]) -> set[str]:
        folder = Path(directory).resolve()
        parent = folder.relative_to(root)
        return {
            name
            for name in names
            if any(fnmatch.fnmatch(name, pattern) for pattern in NOT_COPIED)
            or (parent / name).as_posix() in NOT_COPIED_AT_ROOT
            or folder / name == target  # a copy made inside the tree is not copied into itself
        }

    shutil.copytree(root, dest, ignore=ignored, symlinks=True)
    return dest


def gpu_command(outdir: str = '"$OUT"') -> str:
    """The one command to run on the GPU machine, from the checkout's root, with ``.whl``
    carried: the wheels into :data:`SITE_DIR`, then the check."""
    install = " ".join(install_command("python3", [Path(WHEEL_DIR) / "*.whl"]))
    return f"{install} && export PYTHONPATH={SITE_DIR} || exit; python3 {CHECK_SCRIPT} {outdir}"


class ImageError(Exception):
    """The wheels or the image's copy could not be made (one line, for the command line)."""


class NotLikeImage(ImageError):
    """This environment holds what the GPU image lacks: a dry run in it would not be faithful."""


Run = Callable[..., subprocess.CompletedProcess[str]]


def _pip(command: list[str], run: Run) -> None:
    done = run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit {done.returncode}"
        raise ImageError(f"pip {command[3]} failed: {last}")


def _wheel_name(path: Path) -> tuple[str, str]:
    """``pydantic_core-2.50.5-cp312-...whl`` -> ``("pydantic-core", "2.50.5")``."""
    name, version = path.name.split("-")[:2]
    return name.lower().replace("_", "-"), version


def keep_pinned(folder: Path) -> list[Path]:
    """The pinned wheel of each carried distribution in ``folder``; other versions of them are
    removed (two versions of one stop the whole install there). Raises when one is missing."""
    pins = dict(r.split("==") for r in CARRIED_WHEELS)
    kept: dict[str, Path] = {}
    for path in sorted(folder.glob("*.whl")):
        name, version = _wheel_name(path)
        if name in pins and version != pins[name]:
            path.unlink()
        elif name in pins:
            kept[name] = path
    lacking = [name for name in pins if name not in kept]
    if lacking:
        raise ImageError(f"no wheel in {folder} for {', '.join(lacking)}")
    return [kept[name] for name in pins]


def fetch_wheels(
    dest: Path, *, for_gpu: bool = True, python: str = sys.executable, run: Run = subprocess.run
) -> list[Path]:
    """:data:`CARRIED_WHEELS` downloaded into ``dest`` (PyPI must be reachable)."""
    dest.mkdir(parents=True, exist_ok=True)
    _pip(download_command(python, dest, for_gpu=for_gpu), run)
    return keep_pinned(dest)


def emulate_dry_run(
    root: Path,
    outdir: Path,
    check_args: list[str],
    work: Path,
    *,
    python: str = sys.executable,
    run: Run = subprocess.run,
) -> int:
    """The check's dry run as the GPU machine would run it, as far as this machine allows.

    This interpreter must hold the image's packages and none of what the image lacks (the
    nox session ``gpu_check`` makes such an environment). The checkout is copied without
    ``.git`` and ignored files, ``.whl/`` is filled for this interpreter, the wheels are
    installed the way the GPU machine installs them, and the check runs from the copy with
    only them on ``PYTHONPATH``. Returns the check's exit code.
    """
    extra = not_on_image()
    if extra:
        raise NotLikeImage(
            f"this environment holds what the GPU image lacks ({', '.join(extra)}): "
            "run `nox -s gpu_check -- --dry-run OUTDIR`, which makes one without them"
        )
    tree = copy_tree(root, work / "tree")
    wheels = fetch_wheels(tree / WHEEL_DIR, for_gpu=False, python=python, run=run)
    site = work / "site"
    _pip(install_command(python, wheels, site), run)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    command = [python, CHECK_SCRIPT, str(outdir.resolve()), "--dry-run", *check_args]
    return run(command, cwd=tree, env=env, check=False).returncode
