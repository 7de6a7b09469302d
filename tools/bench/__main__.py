"""``python -m tools.bench``: see :mod:`tools.bench.cli.main`; it needs ``virnucpro[bench]``."""

from __future__ import annotations

import sys

from virnucpro.extras import MissingExtra, require


def _main() -> int:
    try:
        require("bench", command="python -m tools.bench")
    except MissingExtra as exc:
        print(f"tools.bench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    from tools.bench.cli.main import main

    return main()


raise SystemExit(_main())
