"""File names of the dashboard's pages: safe for any file system and for a URL."""

from __future__ import annotations

import re

SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    return SAFE.sub("_", text).strip("_") or "_"


def key_dir(key: str) -> str:
    """The folder of a history key's pages (``<hardware>--<slug>``)."""
    return safe_name(key.replace("/", "--"))
