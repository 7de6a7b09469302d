"""``python -m tools.bench``: see :mod:`tools.bench.cli.main`."""

from __future__ import annotations

from tools.bench.cli.main import main

raise SystemExit(main())
