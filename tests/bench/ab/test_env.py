"""The base side's interpreter: this one when it fits, else a venv per commit (same torch)."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from virnucpro.bench.ab import env as ab_env
from virnucpro.errors import InputError

SHA = "0123456789abcdef0123"
PROBE = "vnp-ab-probe"


def _project(root: Path, *requirements: str) -> Path:
    listed = ", ".join(f'"{r}"' for r in requirements)
    (root / "pyproject.toml").write_text(f'[project]\nname = "x"\ndependencies = [{listed}]\n')
    return root


def _probe_wheel(folder: Path) -> Path:
    """A one-module wheel, written by hand (pip installs it offline from ``folder``)."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "vnp_ab_probe-1.0-py3-none-any.whl"
    info = "vnp_ab_probe-1.0.dist-info"
    files = {
        "vnp_ab_probe/__init__.py": "VALUE = 42\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {PROBE}\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        archive.writestr(f"{info}/RECORD", record)
    return wheel


def test_unmet_requirements_are_named(tmp_path: Path) -> None:
    _project(
        tmp_path,
        "numpy>=1",
        "numpy>=9999",
        "no-such-package-here>=1",
        "pywin32>=1; sys_platform == 'win32'",
    )
    unmet = [str(u) for u in ab_env.unmet_requirements(tmp_path)]
    assert len(unmet) == 2
    assert "numpy>=9999 (installed" in unmet[0] and "not installed" in unmet[1]


def test_the_bench_extra_counts_and_the_project_itself_does_not(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["numpy>=1"]\n'
        '[project.optional-dependencies]\nbench = ["no-such-package-here>=1"]\n'
        'dashboard = ["x[bench]", "plotly-not-needed>=1"]\n'
    )
    assert ab_env.declared_requirements(tmp_path) == ("numpy>=1", "no-such-package-here>=1")
    assert [u.name for u in ab_env.unmet_requirements(tmp_path)] == ["no-such-package-here"]


def test_a_base_this_environment_fits_runs_with_this_interpreter(tmp_path: Path) -> None:
    import sys

    python, note = ab_env.base_interpreter(_project(tmp_path, "numpy>=1"), SHA, tmp_path / "c")
    assert (python, note) == (Path(sys.executable), None)
    assert not (tmp_path / "c").exists()


def test_a_base_wanting_another_torch_is_refused_in_one_line(tmp_path: Path) -> None:
    _project(tmp_path, "torch==1.0.0", "no-such-package-here>=1")
    with pytest.raises(InputError, match=r"needs torch==1\.0\.0 .*same|torch build") as caught:
        ab_env.base_interpreter(tmp_path, SHA, tmp_path / "cache")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "cache").exists()  # refused before building anything


def test_a_failed_install_is_one_line_and_leaves_no_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty"))
    _project(tmp_path, "no-such-package-here>=1")
    with pytest.raises(InputError, match="installing the base's requirements") as caught:
        ab_env.base_interpreter(tmp_path, SHA, tmp_path / "cache")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "cache" / f"{SHA}.venv").exists()


def test_a_base_needing_a_missing_package_gets_its_own_cached_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = _probe_wheel(tmp_path / "wheels").parent
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    (tmp_path / "base").mkdir()
    checkout = _project(tmp_path / "base", f"{PROBE}==1.0", "numpy>=1")
    python, note = ab_env.base_interpreter(checkout, SHA, tmp_path / "cache")
    assert python == (tmp_path / "cache").resolve() / f"{SHA}.venv" / "bin" / "python"
    assert note is not None and f"{PROBE}==1.0" in note and "torch build" in note
    probe = "import vnp_ab_probe, torch, numpy; print(vnp_ab_probe.VALUE, torch.__version__)"
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True)
    import torch

    assert done.stdout.split() == ["42", torch.__version__]  # this environment's torch build
    stamp = python.parents[1] / ab_env.STAMP
    built = stamp.stat().st_mtime_ns
    again, _ = ab_env.base_interpreter(checkout, SHA, tmp_path / "cache")
    assert again == python and stamp.stat().st_mtime_ns == built  # reused, not rebuilt
