"""Checks on the paths a user names: what kind of thing is there, and whether we may use it.

Each check raises :class:`~virnucpro.errors.InputError` with one line that names the path and
says what is wrong (missing, a broken link, a link loop, a folder where a file is expected, a
FIFO, no permission), so no ``OSError`` traceback ever reaches the user.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from virnucpro.errors import InputError

SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _stat(path: Path, label: str) -> os.stat_result:
    """``stat`` following links, with each failure said in words."""
    try:
        return path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise InputError(f"{label}{path}: broken symbolic link") from None
        raise InputError(f"{label}{path}: no such file or folder") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{label}{path}: symbolic link loop") from None
        raise InputError(f"{label}{path}: {exc.strerror or exc.__class__.__name__}") from None


def _special_kind(mode: int) -> str | None:
    return next((name for test, name in SPECIAL_KINDS if test(mode)), None)


def check_readable_file(path: Path, *, label: str = "", what: str = "a file") -> os.stat_result:
    """A regular file (after links) that this process may read; ``what`` names the expectation.

    FIFOs and devices are refused: the pipeline reads its input more than once.
    """
    info = _stat(path, label)
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{label}{path}: is a folder, expected {what}")
    special = _special_kind(info.st_mode)
    if special is not None:
        raise InputError(
            f"{label}{path}: is {special}, expected {what} (it is read more than once: "
            "save it to a file first)"
        )
    if not os.access(path, os.R_OK):
        raise InputError(f"{label}{path}: permission denied (cannot read it)")
    return info


def check_readable_folder(path: Path, *, label: str = "", what: str = "a folder") -> None:
    """A folder (after links) whose entries this process may list and read."""
    info = _stat(path, label)
    if not stat.S_ISDIR(info.st_mode):
        raise InputError(f"{label}{path}: is not a folder, expected {what}")
    if not os.access(path, os.R_OK | os.X_OK):
        raise InputError(f"{label}{path}: permission denied (cannot read the folder)")


def check_writable_folder(path: Path, *, label: str = "") -> None:
    """A folder that exists and may be written, or one that can be created where named."""
    existing = path
    while not os.path.lexists(existing) and existing.parent != existing:
        existing = existing.parent
    info = _stat(existing, label)
    if not stat.S_ISDIR(info.st_mode):
        where = "exists and is not a folder" if existing == path else f"{existing} is not a folder"
        raise InputError(f"{label}{path}: {where}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{label}{path}: permission denied (cannot write in {existing})")


def is_same_or_inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it, after resolving links."""
    resolved, base = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
    return resolved == base or base in resolved.parents
