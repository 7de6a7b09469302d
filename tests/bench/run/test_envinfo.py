from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import pynvml
import pytest
import torch

from virnucpro.bench.run import envinfo
from virnucpro.bench.run.envinfo import (
    cpu_model,
    cuda_gpu_names,
    environment_fingerprint,
    git_state,
    usable_cpu_count,
)

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.txt").write_text("one\n")
    _git(repo, "add", "a.txt")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "first")
    return repo


@needs_git
def test_git_state_clean_then_dirty(checkout):
    commit, dirty = git_state(checkout)
    assert commit is not None and len(commit) == 40 and dirty is False
    (checkout / "untracked.txt").write_text("x\n")
    assert git_state(checkout)[1] is False  # untracked files do not count
    (checkout / "a.txt").write_text("two\n")
    assert git_state(checkout) == (commit, True)


@needs_git
def test_not_a_checkout_gives_none(tmp_path, checkout):
    assert git_state(tmp_path / "nowhere") == (None, None)
    inner = checkout / "sub"
    inner.mkdir()
    assert git_state(inner) == (None, None)  # inside a checkout but not its root


def test_git_missing_gives_none(monkeypatch, tmp_path):
    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(envinfo.subprocess, "run", no_git)
    assert git_state(tmp_path) == (None, None)


def test_cpu_model_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Fake CPU @ 3.0GHz\n\nprocessor\t: 1\n")
    assert cpu_model(info) == "Fake CPU @ 3.0GHz"


def test_cpu_model_falls_back_to_platform(tmp_path, monkeypatch):
    monkeypatch.setattr(platform, "processor", lambda: "armv8")
    assert cpu_model(tmp_path / "missing") == "armv8"
    (tmp_path / "empty").write_text("processor : 0\n")
    assert cpu_model(tmp_path / "empty") == "armv8"


def test_cpu_count_positive():
    assert usable_cpu_count() >= 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only case")
def test_no_cuda_means_no_gpus():
    assert cuda_gpu_names() == ()


def test_fingerprint_of_this_machine_without_driver(monkeypatch):
    def no_library():
        raise pynvml.NVMLError_LibraryNotFound()

    monkeypatch.setattr(pynvml, "nvmlInit", no_library)
    fp = environment_fingerprint()
    assert fp.driver is None
    assert fp.python == platform.python_version()
    assert fp.torch == torch.__version__ and fp.cuda == torch.version.cuda
    assert fp.torch_threads == torch.get_num_threads()
    assert fp.cpu_count == usable_cpu_count()
    assert fp.gpu_count == len(fp.gpu_names)
    assert fp.platform.startswith(platform.system())
    assert len(fp.hardware_key()) == 16


def test_fingerprint_driver_from_nvml(monkeypatch, tmp_path):
    monkeypatch.setattr(pynvml, "nvmlInit", lambda: None)
    monkeypatch.setattr(pynvml, "nvmlShutdown", lambda: None)
    monkeypatch.setattr(pynvml, "nvmlSystemGetDriverVersion", lambda: "550.54.15")
    fp = environment_fingerprint(repo=tmp_path)
    assert fp.driver == "550.54.15"
    assert (fp.git_commit, fp.git_dirty) == (None, None)
