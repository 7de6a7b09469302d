"""Load a repository script (``scripts/*.py``, ``noxfile.py``) as a module for its tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_script(path: Path, name: str, *, register: bool = True) -> ModuleType:
    """The module of the script at ``path``, executed once; ``register`` puts it in
    ``sys.modules`` under ``name`` (dataclasses in it need that)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
