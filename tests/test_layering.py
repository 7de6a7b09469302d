"""One-way layering: nothing under ``virnucpro/`` but the command layer imports ``tools``, and
``tools.bench`` imports from ``virnucpro`` only what is torch-free (schema, errors, constants)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMAND_LAYER = REPO / "virnucpro" / "cli"
# What the judging tools may use from the package: the results schema and small torch-free modules.
TOOLS_MAY_IMPORT = (
    "virnucpro.atomic",
    "virnucpro.bench.schema",
    "virnucpro.bench.ab.schema",
    "virnucpro.bench.metric_names",
    "virnucpro.bench.stats",
    "virnucpro.errors",
    "virnucpro.stages",
)


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top, inside functions or under TYPE_CHECKING."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_only_the_command_layer_imports_tools() -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(m for m in _imports(path) if m.split(".")[0] == "tools")
        for path in (REPO / "virnucpro").rglob("*.py")
        if COMMAND_LAYER not in path.parents
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_tools_bench_uses_only_the_schema_level_of_the_package() -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(
            m
            for m in _imports(path)
            if m.split(".")[0] == "virnucpro" and m not in TOOLS_MAY_IMPORT
        )
        for path in (REPO / "tools" / "bench").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
