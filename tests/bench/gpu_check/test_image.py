"""The GPU image as the check sees it: the packages looked for, the wheels carried, the tree's
copy without ``.git``, and the dry run made the way the GPU machine runs the check."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from virnucpro.bench.gpu_check import image
from virnucpro.bench.gpu_check.image import (
    CARRIED_WHEELS,
    GPU_PLATFORMS,
    IMAGE_PACKAGES,
    MODULES,
    ImageError,
    NotLikeImage,
    copy_tree,
    distribution,
    download_command,
    emulate_dry_run,
    gpu_command,
    keep_pinned,
    missing_distributions,
)

ROOT = Path(__file__).resolve().parents[3]


def test_every_carried_wheel_is_a_module_the_steps_look_for() -> None:
    looked_for = set(MODULES.values())
    carried = {distribution(r) for r in CARRIED_WHEELS}
    assert carried <= looked_for
    assert len(carried) == len(CARRIED_WHEELS)  # one version each


def test_what_the_ab_check_requires_is_on_the_image_or_carried() -> None:
    """The A/B mode's requirement check reads the core and the [bench] extra: a requirement
    neither on the image nor carried would send it to an index the machine cannot reach."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from virnucpro.bench.ab.env import declared_requirements

    there = {canonicalize_name(d) for d in (*IMAGE_PACKAGES, *map(distribution, CARRIED_WHEELS))}
    needed = [Requirement(r) for r in declared_requirements(ROOT)]
    applicable = [r for r in needed if r.marker is None or r.marker.evaluate()]
    assert {canonicalize_name(r.name) for r in applicable} - there == set()


def test_missing_packages_are_listed_by_distribution_once_in_order() -> None:
    modules = {"json": "stdlib", "no_such_mod_a": "dist-a", "no_such_mod_b": "dist-a", "x_y": "b"}
    assert missing_distributions(modules) == ["dist-a", "b"]


def test_the_wheels_for_the_gpu_are_cpython_312_manylinux() -> None:
    command = download_command("python3", Path(".whl"))
    assert command[:6] == ["python3", "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    assert command[command.index("--python-version") + 1] == "3.12"
    platforms = [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"]
    assert platforms == list(GPU_PLATFORMS)
    assert command[-len(CARRIED_WHEELS) :] == list(CARRIED_WHEELS)
    here = download_command("python3", Path(".whl"), for_gpu=False)
    assert "--platform" not in here and "--python-version" not in here


def test_the_gpu_command_installs_the_wheels_then_runs_the_check() -> None:
    assert gpu_command() == (
        "python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade "
        "--target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit; "
        'python3 scripts/gpu_check.py "$OUT"'
    )


def _wheel(folder: Path, name: str, version: str) -> Path:
    path = folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    path.write_bytes(b"")
    return path


def test_only_the_pinned_version_of_each_wheel_is_kept(tmp_path: Path) -> None:
    for requirement in CARRIED_WHEELS:
        _wheel(tmp_path, *requirement.split("=="))
    stale = _wheel(tmp_path, "pydantic", "2.0.0")
    other = _wheel(tmp_path, "something-else", "1.0")
    kept = keep_pinned(tmp_path)
    assert [p.name.split("-")[0] for p in kept][:2] == ["pydantic", "pydantic_core"]
    assert len(kept) == len(CARRIED_WHEELS)
    assert not stale.exists() and other.exists()  # two pydantics would stop the install


def test_a_missing_wheel_is_one_line(tmp_path: Path) -> None:
    _wheel(tmp_path, "pydantic", "2.14.4")
    with pytest.raises(ImageError, match=r"^no wheel in .* for pydantic-core, annotated-types"):
        keep_pinned(tmp_path)


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="no git")
def test_the_copy_of_the_tree_is_what_git_would_send(tmp_path: Path) -> None:
    """The device machine gets the tracked files and the untracked ones git does not ignore."""
    copy = copy_tree(ROOT, tmp_path / "tree")
    copied = {p.relative_to(copy).as_posix() for p in copy.rglob("*") if not p.is_dir()}
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert copied == {p for p in listed if (ROOT / p).exists()}
    assert not (copy / ".git").exists()


class FakeRun:
    """Records commands; pip download writes the pinned wheels, the rest succeed."""

    def __init__(self, check_exit: int = 0) -> None:
        self.calls: list[tuple[list[str], dict[str, object]]] = []
        self.check_exit = check_exit

    def __call__(self, command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        self.calls.append((command, kwargs))
        if command[3:4] == ["download"]:
            dest = Path(command[command.index("-d") + 1])
            for requirement in CARRIED_WHEELS:
                _wheel(dest, *requirement.split("=="))
        code = self.check_exit if "scripts/gpu_check.py" in command else 0
        return subprocess.CompletedProcess(command, code, "", "")


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "gpu_check.py").write_text("# the check\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return root


def test_the_dry_run_runs_from_a_copy_with_only_the_wheels_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(image, "installed", lambda dist: False)
    monkeypatch.setenv("PYTHONPATH", "/work/main")
    run = FakeRun(check_exit=1)
    code = emulate_dry_run(
        _tree(tmp_path), Path("out"), ["--steps", "gpu_tests"], tmp_path / "w", run=run
    )
    assert code == 1  # the check's own exit code
    download, install, check = (call for call, _ in run.calls)
    assert download[3] == "download" and "--platform" not in download
    assert install[3] == "install" and install[install.index("--target") + 1] == str(
        tmp_path / "w/site"
    )
    assert {"--no-index", "--no-deps"} <= set(install)
    assert check[1:] == [
        "scripts/gpu_check.py",
        str(Path("out").resolve()),
        "--dry-run",
        "--steps",
        "gpu_tests",
    ]
    kwargs = run.calls[2][1]
    assert kwargs["cwd"] == tmp_path / "w" / "tree"
    assert kwargs["env"]["PYTHONPATH"] == str(tmp_path / "w" / "site")  # type: ignore[index]
    assert not (tmp_path / "w" / "tree" / ".git").exists()


def test_an_environment_holding_what_the_image_lacks_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(image, "installed", lambda dist: dist in ("pydantic", "nox"))
    run = FakeRun()
    with pytest.raises(NotLikeImage, match=r"holds what the GPU image lacks \(pydantic, nox\)"):
        emulate_dry_run(_tree(tmp_path), Path("out"), [], tmp_path / "w", run=run)
    assert run.calls == []


def _egg_info(folder: Path, name: str) -> None:
    """What an editable install leaves in a source tree: ``NAME.egg-info/PKG-INFO``."""
    info = folder / f"{name.replace('-', '_')}.egg-info"
    info.mkdir(parents=True)
    (info / "PKG-INFO").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")


def test_a_source_trees_egg_info_is_not_an_installation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI's tests and bench_quick sessions install the checkout editable, which leaves
    ``virnucpro.egg-info`` at its root; the dry run (run from that root) must not count it."""
    tree, site = tmp_path / "tree", tmp_path / "site"
    _egg_info(tree, "made-up-dist")
    _egg_info(site, "other-made-up-dist")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(tree))
    monkeypatch.chdir(tree)
    assert not image.installed("made-up-dist", source_root=tree)
    assert image.installed("other-made-up-dist", source_root=tree)
    assert str(tree) not in image.installed_paths(tree)
    monkeypatch.chdir(tmp_path)
    assert image.installed("made-up-dist", source_root=site)  # outside the checkout it counts


def test_a_failing_pip_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(image, "installed", lambda dist: False)

    def offline(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution\n")

    with pytest.raises(ImageError, match=r"^pip download failed: ERROR: No matching distribution$"):
        emulate_dry_run(_tree(tmp_path), Path("out"), [], tmp_path / "w", run=offline)
