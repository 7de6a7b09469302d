"""What the distribution installs: ``virnucpro`` only, never a top-level ``tools`` package."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from setuptools import find_packages

from virnucpro.cli.benchmark import checkout_importable

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]


def test_only_virnucpro_packages_are_installed() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = find_packages(str(REPO), include=include)
    assert "virnucpro" in packages and "virnucpro.bench" in packages
    assert not [p for p in packages if not p.startswith("virnucpro")]


def test_the_benchmark_command_puts_the_checkout_on_the_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    elsewhere = [p for p in sys.path if Path(p or ".").resolve() != REPO]
    monkeypatch.setattr(sys, "path", elsewhere)
    assert checkout_importable() == REPO
    assert sys.path[0] == str(REPO)
