"""VirNucPro: identify viral DNA among short sequences (six-frame translation + language models)."""

from __future__ import annotations

__version__ = "0.1.0"
