"""The engine registry: one table, no import cycle, and a broken engine is a loud error."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from virnucpro.bench.options import resolve_engine
from virnucpro.engines import registry
from virnucpro.engines.fast import FastEngine
from virnucpro.engines.registry import EngineImportError, engine_names, get_engine
from virnucpro.engines.vanilla import VanillaEngine
from virnucpro.errors import InputError

ENGINES_DIR = Path(registry.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_table_names_both_engines() -> None:
    assert engine_names() == ("fast", "vanilla")
    assert isinstance(get_engine("vanilla"), VanillaEngine)
    assert isinstance(get_engine("fast", precision="fp32"), FastEngine)


def test_no_engine_module_imports_the_registry_or_the_package() -> None:
    for path in ENGINES_DIR.glob("*.py"):
        if path.name in ("registry.py", "__init__.py"):
            continue
        imported = _imported_modules(path)
        assert "virnucpro.engines.registry" not in imported, path.name
        assert "virnucpro.engines" not in imported, path.name
    base = _imported_modules(ENGINES_DIR / "base.py")
    assert not {m for m in base if m.startswith("virnucpro.engines")}


def test_an_unknown_engine_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown engine 'warp'"):
        get_engine("warp")
    with pytest.raises(InputError, match="--engine: unknown engine 'warp'"):
        resolve_engine("warp")


def test_a_broken_engine_is_a_loud_error_not_a_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.ENGINES, "fast", "virnucpro.engines.no_such_module:FastEngine")
    with pytest.raises(EngineImportError, match="engine 'fast' cannot be imported") as caught:
        resolve_engine("fast")
    assert "ModuleNotFoundError" in str(caught.value)
    assert isinstance(caught.value.__cause__, ModuleNotFoundError)
    with pytest.raises(EngineImportError):
        get_engine("fast")


def test_an_engine_whose_dependency_fails_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "virnucpro.engines.fast")
    monkeypatch.setitem(sys.modules, "virnucpro.engines.batching", None)
    with pytest.raises(EngineImportError, match=r"engine 'fast'.*virnucpro\.engines\.fast"):
        resolve_engine("fast")


def test_a_runs_engine_is_reused_for_the_same_options() -> None:
    fast = registry.engine_for("fast", precision="fp32", max_tokens=None)
    assert registry.engine_for("fast", precision="fp32", max_tokens=None) is fast
    assert registry.engine_for("fast", precision="fp32", max_tokens=512) is not fast
    assert isinstance(
        registry.engine_for("vanilla", precision="auto", max_tokens=None), VanillaEngine
    )


@pytest.mark.parametrize(
    ("precision", "max_tokens", "message"),
    [("bf16", None, "fp32 only"), ("fp32", 512, "--max-tokens sets the fast engine's batches")],
)
def test_the_vanilla_engine_takes_no_options(
    precision: str, max_tokens: int | None, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        registry.engine_for("vanilla", precision=precision, max_tokens=max_tokens)
