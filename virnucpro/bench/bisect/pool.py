"""Workers per commit for a bisection: each commit's models stay loaded while it is compared again.

A bisection compares GOOD with one commit after another, so GOOD's worker is kept alive across
steps; so is any commit's, up to :data:`MAX_ALIVE` workers (the least recently used one is
closed first). A step that must run on **fresh** workers (the confirmation of a candidate)
closes both commits' workers and starts new ones, which then stay for later steps.

Checkouts and environments are the A/B mode's: a git worktree per commit under
``<output>/.cache/ab/<sha>`` and, when a commit declares requirements this environment does not
meet, its own cached environment (:mod:`virnucpro.bench.ab.env`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from virnucpro.bench.ab import env as ab_env
from virnucpro.bench.ab import session as ab
from virnucpro.bench.ab.checkout import base_checkout
from virnucpro.bench.ab.schema import RoundProtocol, Side
from virnucpro.bench.ab.worker_process import Worker, WorkerSpec
from virnucpro.bench.bisect.schema import Commit

MAX_ALIVE = 3  # GOOD's worker and the two last compared; each holds a copy of the models


@dataclass(frozen=True)
class Checkout:
    root: Path
    python: Path
    note: str | None


@dataclass
class _Alive:
    worker: Worker
    last_used: int


@dataclass
class WorkerPool:
    """Checkouts and live workers per commit (see the module docstring)."""

    repo: Path
    cache: Path
    spec: WorkerSpec
    workdir: Path
    max_alive: int = MAX_ALIVE
    notes: list[str] = field(default_factory=list)
    _checkouts: dict[str, Checkout] = field(default_factory=dict)
    _alive: dict[str, _Alive] = field(default_factory=dict)
    _uses: int = 0
    _started: int = 0

    def checkout(self, commit: Commit) -> Checkout:
        """The commit's worktree and interpreter (created once, cached on disk)."""
        found = self._checkouts.get(commit.sha)
        if found is None:
            root = base_checkout(self.repo, commit.sha, self.cache)
            python, note = ab_env.base_interpreter(root, commit.sha, self.cache)
            found = self._checkouts[commit.sha] = Checkout(root, python, note)
            if note:
                self.notes.append(note)
        return found

    def _start(self, commit: Commit, side: Side) -> Worker:
        checkout = self.checkout(commit)
        self._started += 1
        folder = self.workdir / "workers" / f"{self._started:02d}-{commit.short}"
        return Worker(side, checkout.root, self.spec, folder, checkout.python)

    def worker(self, commit: Commit, side: Side, *, fresh: bool, keep: set[str]) -> Worker:
        """A live worker of ``commit``: the one kept from earlier steps unless ``fresh``."""
        self._uses += 1
        alive = self._alive.get(commit.sha)
        if alive is not None and fresh:
            alive.worker.close()
            del self._alive[commit.sha]
            alive = None
        if alive is None:
            self._evict(keep)
            alive = self._alive[commit.sha] = _Alive(self._start(commit, side), self._uses)
        alive.last_used = self._uses
        return alive.worker

    def _evict(self, keep: set[str]) -> None:
        while len(self._alive) >= self.max_alive:
            candidates = [sha for sha in self._alive if sha not in keep]
            if not candidates:
                return
            oldest = min(candidates, key=lambda sha: self._alive[sha].last_used)
            self._alive.pop(oldest).worker.close()

    def session(
        self,
        *,
        base: Commit,
        head: Commit,
        fresh: bool,
        seed: int,
        ref: str,
        protocol: RoundProtocol | None = None,
    ) -> ab.ABSession:
        """An A/B session over the two commits' live workers (measured by ``protocol``, the
        gate's round settings); it leaves them running."""
        keep = {base.sha, head.sha}
        workers: dict[Side, Worker] = {
            "base": self.worker(base, "base", fresh=fresh, keep=keep),
            "head": self.worker(head, "head", fresh=fresh, keep=keep),
        }
        return ab.ABSession(
            ref=ref, workers=workers, spec=self.spec, seed=seed, owns=False, protocol=protocol
        )

    @property
    def started(self) -> int:
        """How many workers were started (each loads its commit's models once)."""
        return self._started

    def close(self) -> None:
        for alive in self._alive.values():
            alive.worker.close()
        self._alive.clear()
