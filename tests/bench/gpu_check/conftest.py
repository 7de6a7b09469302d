"""A dry-run configuration of the GPU check in a temporary folder, for the plan's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from virnucpro.bench.gpu_check.spec import CheckConfig


def check_config(tmp_path: Path, **kwargs: object) -> CheckConfig:
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    out.mkdir(exist_ok=True)
    scratch.mkdir(exist_ok=True)
    kwargs.setdefault("dry_run", True)
    return CheckConfig(outdir=out, scratch=scratch, root=tmp_path, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def config(tmp_path: Path) -> CheckConfig:
    return check_config(tmp_path)
