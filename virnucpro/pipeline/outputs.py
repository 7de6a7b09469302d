"""Writing outputs: the published result files, intermediates, and atomic publication.

Everything is written into a hidden staging folder inside OUTDIR and moved into place only
when the run has succeeded, ``run_metrics.json`` last; a failed run leaves no result file that
looks complete, and a refused OUTDIR is left untouched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from virnucpro.errors import InputError, OutputExistsError
from virnucpro.pipeline.workdir import WORK_DIR_NAME
from virnucpro.stages.aggregate import FramePrediction
from virnucpro.stages.chunking import Chunk
from virnucpro.stages.translate import KeptFrame

PREDICTIONS_FILE = "prediction_results.txt"
HIGHEST_FILE = "prediction_results_highestscore.csv"
PREDICTIONS_HEADER = "Sequence_ID\tPrediction\tscore1\tscore2\n"
HIGHEST_HEADER = "Modified_ID\tIs_Virus\n"
NO_KEPT_FRAME_HEADER = "ID\tLevel\tReason\n"  # --keep-intermediate: what has no output row
FASTA_WRAP = 60  # Biopython's SeqIO.write wraps the published chunked file at 60 columns
STAGING_PREFIX = ".virnucpro-staging-"


@dataclass(frozen=True)
class OutputPaths:
    """Every path a run may write, named once."""

    outdir: Path
    stem: str
    expected_length: int

    @property
    def predictions(self) -> Path:
        return self.outdir / PREDICTIONS_FILE

    @property
    def highest(self) -> Path:
        return self.outdir / HIGHEST_FILE

    @property
    def chunked(self) -> Path:
        return self.outdir / f"{self.stem}_chunked{self.expected_length}.fa"

    @property
    def nucleotide(self) -> Path:
        return self.outdir / f"{self.stem}_identified_nucleotide.fa"

    @property
    def protein(self) -> Path:
        return self.outdir / f"{self.stem}_identified_protein.faa"

    @property
    def no_kept_frame(self) -> Path:
        """Reads and chunks without a kept frame: ``ID  Level  Reason`` (tab-separated)."""
        return self.outdir / f"{self.stem}_no_kept_frame.tsv"

    @property
    def embeddings(self) -> Path:
        """A folder: ``ids.txt``, ``dnabert.npy`` [N, D1] and ``esm.npy`` [N, D2] (float32)."""
        return self.outdir / f"{self.stem}_embeddings"


def check_outdir(outdir: Path, *, force: bool) -> None:
    """Refuse a non-empty OUTDIR without ``force``, touching nothing in it."""
    if outdir.exists() and not outdir.is_dir():
        raise InputError(f"{outdir}: exists and is not a directory")
    if outdir.is_dir() and any(outdir.iterdir()) and not force:
        hint = "--force to overwrite"
        if (outdir / WORK_DIR_NAME).is_dir():
            hint = "--resume to continue the interrupted run, or --force to start over"
        raise OutputExistsError(f"{outdir}: output folder exists and is not empty (use {hint})")


def prepare_outdir(outdir: Path, *, force: bool) -> None:
    """Check OUTDIR as :func:`check_outdir` does, then create it."""
    check_outdir(outdir, force=force)
    outdir.mkdir(parents=True, exist_ok=True)


def format_score(value: float) -> str:
    """As the published tool prints a numpy float32 score (shortest round-trip repr)."""
    return str(np.float32(value))


def write_predictions(handle: TextIO, predictions: Iterable[FramePrediction]) -> None:
    for p in predictions:
        handle.write(
            f"{p.id}\t{p.label}\t{format_score(p.score_others)}\t{format_score(p.score_virus)}\n"
        )


def _wrap(sequence: str, width: int) -> str:
    return "\n".join(sequence[i : i + width] for i in range(0, len(sequence), width))


def write_chunked_fasta(handle: TextIO, chunks: Iterable[Chunk]) -> None:
    for chunk in chunks:
        handle.write(f">{chunk.id}\n{_wrap(chunk.sequence, FASTA_WRAP)}\n")


def write_no_kept_frame(handle: TextIO, item_id: str, level: str, reason: str) -> None:
    handle.write(f"{item_id}\t{level}\t{reason}\n")


def write_frames_fasta(handle: TextIO, frames: Iterable[KeptFrame], *, protein: bool) -> None:
    for frame in frames:
        handle.write(f">{frame.id}\n{frame.protein if protein else frame.nucleotide}\n")


class StagedOutputs:
    """A staging folder inside OUTDIR whose files are published by rename on success."""

    def __init__(self, paths: OutputPaths) -> None:
        self.final = paths
        self._dir = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=paths.outdir))
        self.staged = OutputPaths(self._dir, paths.stem, paths.expected_length)

    def publish(self, last: Sequence[str] = ()) -> list[Path]:
        """Move staged files into OUTDIR (names in ``last`` moved last); remove the folder."""
        names = sorted(p.name for p in self._dir.iterdir())
        ordered = [n for n in names if n not in last] + [n for n in last if n in names]
        published = []
        for name in ordered:
            target = self.final.outdir / name
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(self._dir / name, target)
            published.append(target)
        self.discard()
        return published

    def discard(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)
