"""The GPU machine's image: fill ``.whl/`` for it, or run the check's dry run as it would.

    python3 scripts/gpu_image.py wheels            # .whl/ for the GPU machine (CPython 3.12)
    python3 scripts/gpu_image.py wheels DIR --here  # wheels for this interpreter instead
    python3 scripts/gpu_image.py dry-run OUTDIR [gpu_check args]  # in an image-like venv

``wheels`` needs PyPI; it keeps one version of each pinned wheel and prints the command to run
on the GPU machine. ``dry-run`` is what ``nox -s gpu_check -- --dry-run OUTDIR`` runs inside a
venv holding only the image's packages (see :mod:`virnucpro.bench.gpu_check.image`).

Exit codes: the check's own for ``dry-run``; 0 wheels fetched; 1 pip failed; 2 bad arguments
or an environment that holds what the image lacks.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from virnucpro.bench.gpu_check.image import (  # noqa: E402  (stdlib only)
    WHEEL_DIR,
    ImageError,
    NotLikeImage,
    emulate_dry_run,
    fetch_wheels,
    gpu_command,
)

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    wheels = sub.add_parser("wheels", help="fill a folder with the wheels the GPU image lacks")
    wheels.add_argument("folder", type=Path, nargs="?", default=ROOT / WHEEL_DIR)
    wheels.add_argument("--here", action="store_true", help="for this interpreter instead")
    dry = sub.add_parser("dry-run", help="the check's dry run as the GPU machine would run it")
    dry.add_argument("outdir", type=Path)
    dry.add_argument("check_args", nargs=argparse.REMAINDER, help="more gpu_check.py options")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "wheels":
            wheels = fetch_wheels(args.folder, for_gpu=not args.here)
            print(f"gpu_image: {len(wheels)} wheels in {args.folder}")
            print(f"gpu_image: on the GPU machine, carrying {WHEEL_DIR}: {gpu_command()}")
            return 0
        with tempfile.TemporaryDirectory(prefix="gpu_image_") as work:
            return emulate_dry_run(ROOT, args.outdir, args.check_args, Path(work))
    except NotLikeImage as exc:
        print(f"gpu_image: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ImageError as exc:
        print(f"gpu_image: error: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
