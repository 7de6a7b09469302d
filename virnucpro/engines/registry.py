"""The engine registry: every engine by name, in one explicit table.

An engine module is imported when its engine is asked for, never at import time of this module,
and the engine modules do not import the registry, so there is no import cycle. An engine whose
module fails to import (a missing dependency, a broken install) is an :class:`EngineImportError`
naming the engine and the cause: a run never falls back to another engine.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from virnucpro.errors import InputError, RunFailure

if TYPE_CHECKING:
    from virnucpro.engines.base import Engine

EngineFactory = Callable[..., "Engine"]

VANILLA = "vanilla"
FAST = "fast"
# name -> "module:factory"
ENGINES: dict[str, str] = {
    VANILLA: "virnucpro.engines.vanilla:VanillaEngine",
    FAST: "virnucpro.engines.fast:FastEngine",
}


class EngineImportError(RunFailure):
    """A registered engine whose module cannot be imported (exit 1)."""


def engine_names() -> tuple[str, ...]:
    return tuple(sorted(ENGINES))


def engine_factory(name: str) -> EngineFactory:
    """The factory of engine ``name``; an unknown name is an :class:`InputError`."""
    if name not in ENGINES:
        raise InputError(f"unknown engine {name!r} (choose from {', '.join(engine_names())})")
    module_name, factory = ENGINES[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EngineImportError(
            f"engine {name!r} cannot be imported ({module_name}: {exc.__class__.__name__}: {exc})"
        ) from exc
    return getattr(module, factory)


def get_engine(name: str, **options: object) -> Engine:
    return engine_factory(name)(**options)
