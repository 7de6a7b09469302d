"""Inference engines: ``vanilla`` (the published tool, exactly) and ``fast``."""

from __future__ import annotations

from virnucpro.engines.base import Embedding, Engine
from virnucpro.engines.registry import EngineImportError, engine_names, get_engine

__all__ = ["Embedding", "Engine", "EngineImportError", "engine_names", "get_engine"]
