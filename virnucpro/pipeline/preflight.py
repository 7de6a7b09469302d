"""Stage 0: check every path a run names, then the input's content, before any model loads.

A wrong input, output folder or checkpoint path costs a second and one line (exit 2), not the
minutes ESM-2 3B takes to load. The content check streams the input once through the reader the
pipeline uses, so every FASTA error (a bad letter, a duplicate id, gzip that holds no FASTA, a
file that is all ``N``) is also found before the models load.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from virnucpro.errors import InputError
from virnucpro.models.checkpoint_format import checkpoint_format
from virnucpro.paths import (
    check_readable_file,
    check_readable_folder,
    check_writable_folder,
    is_same_or_inside,
)
from virnucpro.stages.fasta import iter_fasta

TORCH_FORMATS = ("torch-zip", "torch-legacy")
UNKNOWN_BASES = "Nn"


@dataclass(frozen=True)
class InputSummary:
    """What the content check saw: records and bases (before chunking), and the file's sha256."""

    reads: int
    bases: int
    sha256: str


def check_input_path(path: Path, outdir: Path) -> None:
    """The input is a readable regular file, and neither the output folder nor inside it."""
    if is_same_or_inside(path, outdir):
        where = "" if is_same_or_inside(outdir, path) else f"inside {outdir}, "
        raise InputError(f"input {path}: is {where}the output folder: choose another -o")
    check_readable_file(path, label="input ", what="a FASTA file")


def check_outdir_path(outdir: Path) -> None:
    """The output folder exists as a writable folder, or can be created where it is named."""
    check_writable_folder(outdir, label="output folder ")


def _check_torch_file(path: Path, label: str, formats: tuple[str, ...], what: str) -> None:
    check_readable_file(path, label=label, what=what)
    if checkpoint_format(path) not in formats:
        raise InputError(f"{label}{path}: not {what}")


def check_checkpoint_paths(
    *, dnabert: Path | None, esm: Path | None, classifier: Path | None
) -> None:
    """Each named checkpoint exists, is readable and is of the kind its option takes.

    Only the kind is checked here (a folder, a PyTorch or safetensors file, from its first
    bytes); the loaders check the contents.
    """
    if dnabert is not None:
        check_readable_folder(dnabert, label="--dnabert ", what="a DNABERT-S folder")
    if esm is not None and esm.is_dir():
        check_readable_folder(esm, label="--esm ")
    elif esm is not None:
        _check_torch_file(esm, "--esm ", TORCH_FORMATS, "a fair-esm .pt file or an ESM-2 folder")
    if classifier is not None:
        safetensors = classifier.suffix == ".safetensors"
        formats = ("safetensors",) if safetensors else TORCH_FORMATS
        what = "a safetensors file" if safetensors else "a PyTorch checkpoint (.pth/.pt)"
        _check_torch_file(classifier, "--classifier ", formats, what)


def check_paths(
    *,
    input: Path,
    outdir: Path,
    dnabert: Path | None,
    esm: Path | None,
    classifier: Path | None,
) -> None:
    """Every path a run names: the input, the output folder and the checkpoints."""
    check_input_path(input, outdir)
    check_outdir_path(outdir)
    check_checkpoint_paths(dnabert=dnabert, esm=esm, classifier=classifier)


def scan_input(path: Path) -> InputSummary:
    """Read the whole input once, validating and hashing it; refuse one with nothing to classify."""
    reads = bases = 0
    called = False
    digest = hashlib.sha256()
    for record in iter_fasta(path, digest=digest):
        reads += 1
        bases += len(record.sequence)
        called = called or _has_called_base(record.sequence)
    if not called:
        what = "its only record is" if reads == 1 else f"all {reads} records are"
        raise InputError(f"{path}: {what} all N (no called base): nothing to classify")
    return InputSummary(reads=reads, bases=bases, sha256=digest.hexdigest())


def _has_called_base(sequence: str) -> bool:
    return sum(sequence.count(n) for n in UNKNOWN_BASES) < len(sequence)
