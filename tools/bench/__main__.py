"""``python -m tools.bench``: see :mod:`tools.bench.cli`."""

from __future__ import annotations

from tools.bench.cli import main

raise SystemExit(main())
