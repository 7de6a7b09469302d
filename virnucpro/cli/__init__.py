"""The ``virnucpro`` command line: a thin layer over the library API.

Errors the user causes print one line (``virnucpro: error: ...``) and exit 2; failures at run
time exit 1, running out of memory included; no traceback is shown for either. Heavy imports
(torch) happen inside commands so ``--help`` is instant.

``virnucpro benchmark`` is the exception (:data:`FAILURE_EXIT`): its exit 1 means "regression",
so any failure to measure (a crashed A/B worker, a failure at run time, even an unexpected error,
whose traceback is then shown) exits 2, "could not judge", never 1.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence

from virnucpro import __version__
from virnucpro.errors import EXIT_BAD_INPUT, EXIT_CANNOT_JUDGE, EXIT_FAILURE, VirnucproError
from virnucpro.extras import missing_extra

PROG = "virnucpro"
EXIT_INTERRUPTED = 130
FAILURE_EXIT = {"benchmark": EXIT_CANNOT_JUDGE}  # commands whose failures are not exit 1
OOM_DETAIL_CHARS = 160  # of torch's message: where it ran out and how much it asked for


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports usage errors on one line, with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from virnucpro.cli import benchmark, predict

    parser = OneLineParser(prog=PROG, description="Identify viral DNA among short sequences.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    predict.register(sub)
    benchmark.register(sub)
    return parser


def _raise_interrupt(signum: int, frame: object) -> None:
    del signum, frame
    raise KeyboardInterrupt


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """SIGTERM stops a run like Ctrl-C: no result is published, the work folder is kept."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    failed = FAILURE_EXIT.get(args.command, EXIT_FAILURE)
    try:
        with _stop_on_sigterm():
            return int(args.handler(args) or 0)
    except VirnucproError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return failed if exc.exit_code == EXIT_FAILURE else exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError:
        print(f"{PROG}: error: out of memory", file=sys.stderr)
        return failed
    except Exception as exc:
        missing = _missing_extra(exc, args.command)
        if missing is not None:
            print(f"{PROG}: error: {missing}", file=sys.stderr)
            return missing.exit_code
        if _is_torch_out_of_memory(exc):
            print(f"{PROG}: error: {_out_of_memory_line(exc)}", file=sys.stderr)
            return failed
        if args.command not in FAILURE_EXIT:
            raise
        traceback.print_exc()
        print(
            f"{PROG}: error: {args.command} failed ({type(exc).__name__}, above)", file=sys.stderr
        )
        return failed


def _missing_extra(exc: Exception, command: str) -> VirnucproError | None:
    """The one line for a module of an extra that is not installed (virnucpro.extras)."""
    if not isinstance(exc, ModuleNotFoundError):
        return None
    return missing_extra(exc, command=f"{PROG} {command}")


def _is_torch_out_of_memory(exc: BaseException) -> bool:
    """torch's OutOfMemoryError (``torch.cuda.OutOfMemoryError`` is the same class), without
    importing torch: a command that never imported it cannot have raised it."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(exc, torch.OutOfMemoryError)


def _out_of_memory_line(exc: BaseException) -> str:
    """Out of memory outside a batch (a batch names itself: BatchOutOfMemory), on one line."""
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"out of memory ({detail[:OOM_DETAIL_CHARS]})" if detail else "out of memory"
