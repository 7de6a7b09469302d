"""Inference engines: ``vanilla`` (the published tool, exactly) and ``fast``."""

from __future__ import annotations

from virnucpro.engines.base import Embedding, Engine, get_engine, register_engine

__all__ = ["Embedding", "Engine", "get_engine", "register_engine"]
