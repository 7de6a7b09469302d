"""The base side's environment in A/B mode: this interpreter, or a cached one per base commit.

Both sides must run the **same torch build**, or the comparison measures torch, not the change.
So the base runs with this interpreter and its own checkout first on ``PYTHONPATH`` whenever
this environment meets every requirement the base's ``pyproject.toml`` declares. When it does
not (the base pins another version of some package, or needs one this environment lacks), the
base gets its own environment, created once per commit and reused:

- a virtual environment at ``<cache>/<sha>.venv`` that sees this environment's packages (a
  ``.pth`` file lists this interpreter's site directories after the venv's own), so torch and
  everything else the base agrees with are shared, not reinstalled;
- the unmet requirements installed into it with pip (from the index pip is configured for);
- a stamp file listing what was installed: a later run with the same unmet requirements reuses
  it, a different list rebuilds it.

The environment is checked and built under the lock of ``<cache>/<sha>.venv``
(:mod:`virnucpro.bench.ab.cache`): a run started at the same moment waits, then reuses it.

A base that needs a different **torch** is refused with one line: installing another torch
would make the two sides incomparable. A failed install is one line naming the requirement and
pip's last message.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from virnucpro.atomic import atomic_write_text
from virnucpro.bench.ab.cache import cache_lock
from virnucpro.errors import InputError

SHARED_BUILD = frozenset({"torch"})  # packages both sides must share exactly
VENV_SUFFIX = ".venv"
PARENT_PTH = "_virnucpro_ab_parent.pth"
STAMP = "virnucpro-ab-requirements.txt"
VENV_TIMEOUT_S = 300.0
INSTALL_TIMEOUT_S = 1800.0
ENV_LOCK_TIMEOUT_S = 3 * VENV_TIMEOUT_S + INSTALL_TIMEOUT_S  # the longest another build takes
BENCH_EXTRA = "bench"  # the extra whose requirements the base's worker needs besides the core


def declared_requirements(checkout: Path) -> tuple[str, ...]:
    """What the base's worker needs: the ``[project] dependencies`` of ``checkout``'s pyproject
    and its ``bench`` extra (what ``virnucpro benchmark`` runs with), less references to the
    project itself (``virnucpro[...]``)."""
    import tomllib

    try:
        project = tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{checkout}/pyproject.toml: cannot read ({exc})") from None
    table = project.get("project", {})
    listed = [
        *table.get("dependencies", []),
        *table.get("optional-dependencies", {}).get(BENCH_EXTRA, []),
    ]
    own = table.get("name", "").lower()
    return tuple(r for r in listed if not own or not r.lower().startswith(f"{own}["))


@dataclass(frozen=True)
class Unmet:
    """A declared requirement this environment does not meet, and what it has instead."""

    requirement: str  # as the pyproject declares it, e.g. ``numpy<2``
    name: str  # canonical distribution name, e.g. ``numpy``
    installed: str | None  # the version here, None when not installed

    def __str__(self) -> str:
        found = "not installed" if self.installed is None else f"installed {self.installed}"
        return f"{self.requirement} ({found})"


def unmet_requirements(checkout: Path) -> tuple[Unmet, ...]:
    """The requirements of ``checkout``'s pyproject that this environment does not meet."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    unmet = []
    for text in declared_requirements(checkout):
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            unmet.append(Unmet(text, name, None))
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            unmet.append(Unmet(text, name, installed))
    return tuple(unmet)


def _site_directories() -> list[str]:
    """This interpreter's package directories, in its own order."""
    return [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _venv_site(python: Path) -> Path:
    done = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    return Path(done.stdout.strip())


def _run(command: list[str], timeout: float = VENV_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"{' '.join(command[:4])}: {exc}") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["no message"]
        raise InputError(f"{' '.join(command[:4])} failed: {lines[-1]}")
    return done


def _build(venv: Path, requirements: list[str]) -> None:
    if venv.exists():
        shutil.rmtree(venv)
    _run([sys.executable, "-m", "venv", str(venv)])
    python = _venv_python(venv)
    pth = "\n".join(_site_directories()) + "\n"
    atomic_write_text(_venv_site(python) / PARENT_PTH, pth)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    try:
        _run([*pip, *requirements], timeout=INSTALL_TIMEOUT_S)
    except InputError as exc:
        shutil.rmtree(venv, ignore_errors=True)
        listed = ", ".join(requirements)
        raise InputError(f"installing the base's requirements ({listed}): {exc}") from None
    atomic_write_text(venv / STAMP, "\n".join(requirements) + "\n")


def base_interpreter(
    checkout: Path, sha: str, cache: Path, *, side: str = "base"
) -> tuple[Path, str | None]:
    """The Python that runs the base side (or, with ``--head-root``, the head side: ``side``),
    and a note when it is not this interpreter."""
    unmet = unmet_requirements(checkout)
    if not unmet:
        return Path(sys.executable), None
    shared = [str(u) for u in unmet if u.name in SHARED_BUILD]
    if shared:
        raise InputError(
            f"{side} {sha[:12]} needs {'; '.join(shared)}: both sides of an A/B run use this "
            "environment's torch build, so compare with a base that accepts it"
        )
    requirements = sorted(u.requirement for u in unmet)
    venv = (cache / f"{sha}{VENV_SUFFIX}").resolve()
    stamp = venv / STAMP
    with cache_lock(venv, timeout=ENV_LOCK_TIMEOUT_S):
        fresh = not (_venv_python(venv).exists() and stamp.is_file())
        if fresh or stamp.read_text(encoding="utf-8").splitlines() != requirements:
            _build(venv, requirements)
    note = (
        f"{side} {sha[:12]} runs in its own environment {venv} (this one's packages plus "
        f"{', '.join(requirements)}), with this environment's torch build"
    )
    return _venv_python(venv), note
