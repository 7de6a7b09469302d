"""The engine registry: every engine by name, in one explicit table.

An engine module is imported when its engine is asked for, never at import time of this module,
and the engine modules do not import the registry, so there is no import cycle. An engine whose
module fails to import (a missing dependency, a broken install) is an :class:`EngineImportError`
naming the engine and the cause: a run never falls back to another engine.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from virnucpro.errors import InputError, RunFailure

if TYPE_CHECKING:
    from virnucpro.engines.base import Engine

EngineFactory = Callable[..., "Engine"]

VANILLA = "vanilla"
FAST = "fast"
ENGINE_CACHE_SIZE = 4  # engines kept for reuse by engine_for
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


@functools.lru_cache(maxsize=ENGINE_CACHE_SIZE)
def engine_for(name: str, *, precision: str, max_tokens: int | None) -> Engine:
    """The engine a run of ``predict`` uses, reused across runs so that a model copy cast to
    its precision is made once, not every call. The vanilla engine is the published tool:
    fp32 only, batched as published (``max_tokens`` is the fast engine's)."""
    if name != VANILLA:
        return get_engine(name, precision=precision, token_budget=max_tokens)
    if precision not in ("auto", "fp32"):
        raise InputError("the vanilla engine runs in fp32 only (as the published tool)")
    if max_tokens is not None:
        raise InputError(
            "--max-tokens sets the fast engine's batches; the vanilla engine batches as the "
            "published tool"
        )
    return get_engine(VANILLA)
