"""Error types with the exit codes the command line maps them to.

Every error a user can cause (bad input, bad usage, a missing or wrong checkpoint) is an
:class:`InputError` (exit 2); failures while running are :class:`RunFailure` (exit 1). The CLI
prints ``virnucpro: error: <message>`` on one line and never a traceback for these.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_CANNOT_JUDGE = 2  # ``virnucpro benchmark``: could not judge (its 1 means a regression)


class VirnucproError(Exception):
    """Base class: a message for the user and the process exit code."""

    exit_code: int = EXIT_FAILURE


class InputError(VirnucproError):
    """Bad input file, bad option value, or bad usage (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class ModelLoadError(InputError):
    """A model path that does not exist or is not a checkpoint of the expected kind (exit 2)."""


class OutputExistsError(InputError):
    """The output folder exists and is not empty, and ``--force`` was not given (exit 2)."""


class RunFailure(VirnucproError):
    """A failure while running (exit 1)."""
