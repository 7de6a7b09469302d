"""One-way layering: nothing under ``virnucpro/`` but the command layer imports ``tools``,
``tools.bench`` imports from ``virnucpro`` only what is torch-free (schema, errors, constants),
no module imports itself back through others (imports inside functions and under
TYPE_CHECKING count), and the packages of ``tools.bench`` and ``virnucpro.bench`` import only
those below them."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_MODULES_PER_FOLDER = 13  # "about a dozen"
COMMAND_LAYER = REPO / "virnucpro" / "cli"
# What the judging tools may use from the package: the results schema and small torch-free modules.
TOOLS_MAY_IMPORT = (
    "virnucpro.atomic",
    "virnucpro.bench.records",
    "virnucpro.bench.schema",
    "virnucpro.bench.ab.schema",
    "virnucpro.bench.ab.profile",
    "virnucpro.bench.bisect.schema",
    "virnucpro.bench.metric_names",
    "virnucpro.bench.sequential",
    "virnucpro.bench.output_check",
    "virnucpro.bench.outputs",
    "virnucpro.bench.paired_stats",
    "virnucpro.bench.stats",
    "virnucpro.errors",
    "virnucpro.extras",
    "virnucpro.stages",
    "virnucpro.tolerances",
)


# Each package's rank: a module may import only from its own package or one of lower rank.
TOOLS_RANKS = {
    "api": 6,
    "__main__": 6,
    "cli": 5,
    "github": 4,
    "site": 4,
    "judge": 3,
    "history": 2,
    "culprit": 2,
    "report": 1,
    "<top>": 0,
}
BENCH_RANKS = {"bisect": 4, "gpu_check": 3, "ab": 3, "run": 2, "gpu": 1, "workload": 1, "<top>": 0}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(p): p for top in ("virnucpro", "tools") for p in (REPO / top).rglob("*.py")
    }


def _edges(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (``from a import b`` is ``a.b`` when a module)."""
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        edges[name] = {m for m in found if m in modules and m != name}
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _package(module: str, prefix: str) -> str | None:
    """The sub-package of ``prefix`` a module is in; ``<top>`` for the other top-level modules."""
    if not module.startswith(prefix + "."):
        return None
    first = module[len(prefix) + 1 :].split(".")[0]
    if REPO.joinpath(*prefix.split("."), first).is_dir() or first in ("api", "__main__"):
        return first
    return "<top>"


def _back_arrows(prefix: str, ranks: dict[str, int]) -> list[str]:
    edges = _edges(_modules())
    arrows = []
    for source, targets in edges.items():
        mine = _package(source, prefix)
        if mine is None:
            continue
        for target in targets:
            theirs = _package(target, prefix)
            if theirs is not None and theirs != mine and ranks[theirs] >= ranks[mine]:
                arrows.append(f"{source} -> {target}")
    return sorted(arrows)


def test_no_module_imports_itself_back_even_from_inside_a_function() -> None:
    assert _cycles(_edges(_modules())) == []


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_tools_bench_packages_import_only_those_below_them() -> None:
    assert set(TOOLS_RANKS) >= {
        p.name for p in (REPO / "tools" / "bench").iterdir() if (p / "__init__.py").exists()
    }
    assert _back_arrows("tools.bench", TOOLS_RANKS) == []


def test_virnucpro_bench_packages_import_only_those_below_them() -> None:
    assert set(BENCH_RANKS) >= {
        p.name for p in (REPO / "virnucpro" / "bench").iterdir() if (p / "__init__.py").exists()
    }
    assert _back_arrows("virnucpro.bench", BENCH_RANKS) == []


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


def test_the_stages_import_nothing_that_runs_them() -> None:
    """A stage is testable alone: it imports the other stages, the models and the small
    modules at the top, never the pipeline that runs it, the engines, the CLI or the bench."""
    above = ("virnucpro.pipeline", "virnucpro.engines", "virnucpro.cli", "virnucpro.bench")
    offenders = {
        str(path.relative_to(REPO)): sorted(m for m in _imports(path) if m.startswith(above))
        for path in (REPO / "virnucpro" / "stages").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_package_folder_holds_more_than_about_a_dozen_modules() -> None:
    """Concerns get a package once a folder holds more than about a dozen modules."""
    tops = (REPO / "virnucpro", REPO / "tools" / "bench")
    folders = [f for top in tops for f in (top, *top.rglob("*")) if (f / "__init__.py").exists()]
    for folder in folders:
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= MAX_MODULES_PER_FOLDER, (folder, len(modules))
