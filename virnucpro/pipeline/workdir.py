"""The resumable work folder inside OUTDIR: per-shard results, done markers, a manifest.

Every shard file is written atomically and a shard counts as finished only once its ``.done``
marker exists, so a run stopped at any moment (SIGINT, SIGTERM, a crash) leaves a folder from
which ``--resume`` continues; the final result files appear in OUTDIR only when all shards are
merged. The manifest pins what the work depends on, so a resume with other input or options is
refused instead of mixing results.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from virnucpro.atomic import atomic_write_text
from virnucpro.errors import InputError

WORK_DIR_NAME = ".virnucpro-work"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class WorkDir:
    path: Path

    @classmethod
    def inside(cls, outdir: Path) -> WorkDir:
        return cls(Path(outdir) / WORK_DIR_NAME)

    def exists(self) -> bool:
        return (self.path / MANIFEST).is_file()

    def shard_file(self, index: int, kind: str) -> Path:
        return self.path / f"shard_{index:06d}.{kind}"

    def is_done(self, index: int) -> bool:
        return self.shard_file(index, "done").is_file()

    def mark_done(self, index: int) -> None:
        atomic_write_text(self.shard_file(index, "done"), "ok\n")

    def rank_metrics(self, rank: int) -> Path:
        return self.path / f"rank_{rank:04d}.metrics.json"

    def manifest(self) -> dict[str, object]:
        """The recorded manifest of an earlier run ({} when there is none)."""
        if not self.exists():
            return {}
        return json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))

    def start(self, manifest: dict[str, object], *, resume: bool) -> int:
        """Create or reopen the folder; return how many shards were already done."""
        if resume and self.exists():
            found = self.manifest()
            diff = sorted(k for k in set(found) | set(manifest) if found.get(k) != manifest.get(k))
            if diff:
                where = self.path.parent
                raise InputError(
                    f"cannot resume in {where}: the earlier run differs in {', '.join(diff)}"
                )
            return len(list(self.path.glob("shard_*.done")))
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        atomic_write_text(
            self.path / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        )
        return 0

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
