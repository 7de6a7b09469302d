"""``python -m virnucpro`` (and ``torchrun -m virnucpro``) entry point."""

from __future__ import annotations

import sys

from virnucpro.cli import main

if __name__ == "__main__":
    sys.exit(main())
