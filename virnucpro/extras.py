"""The optional parts of the install, and one line naming the extra when one is missing.

``pip install virnucpro`` brings what ``predict`` needs. ``virnucpro benchmark`` and
``python -m tools.bench`` need ``virnucpro[bench]``; the dashboards need
``virnucpro[dashboard]`` (``pyproject.toml`` lists both). A command checks its extra before any
work (:func:`require`), and the command lines turn a missing module of an extra met later into
the same one line (:func:`missing_extra`), never an ImportError traceback.
"""

from __future__ import annotations

import importlib.util
import sys

from virnucpro.errors import InputError

PACKAGE = "virnucpro"
# The modules each extra brings that the code imports (the import name, not the distribution's).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "bench": (
        "pydantic",
        "rich",
        "tabulate",
        "requests",
        "scipy",
        "packaging",
        "pynvml",
        "filelock",
        "psutil",
        "pytest",
        *(("tomli",) if sys.version_info < (3, 11) else ()),
    ),
    "dashboard": ("plotly", "matplotlib"),
}


class MissingExtra(InputError):
    """A command's optional dependencies are not installed (exit 2)."""


def _message(extra: str, command: str, missing: list[str]) -> str:
    return (
        f"{command} needs the [{extra}] extra (missing: {', '.join(missing)}): "
        f"pip install '{PACKAGE}[{extra}]'"
    )


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent that fails, or a module blocked in sys.modules
        return False


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be found here (none are imported)."""
    return [m for m in EXTRA_MODULES[extra] if not _findable(m)]


def require(extra: str, *, command: str) -> None:
    """Raise :class:`MissingExtra` when a module of ``extra`` is not installed."""
    missing = missing_modules(extra)
    if missing:
        raise MissingExtra(_message(extra, command, missing))


def missing_extra(exc: ModuleNotFoundError, *, command: str) -> MissingExtra | None:
    """The one-line error for an import that failed because an extra is missing, else None."""
    top = (exc.name or "").split(".")[0]
    for extra, modules in EXTRA_MODULES.items():
        if top in modules:
            return MissingExtra(_message(extra, command, [top]))
    return None
