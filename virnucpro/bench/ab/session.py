"""A/B measurement: this checkout (head) and a base commit, side by side, interleaved, paired.

The measuring half of ``virnucpro benchmark --against REF`` (the judging half is
``tools/bench/judge/paired.py``, the wiring is the CLI's):

- the base commit is checked out in a git worktree under ``<output>/.cache/ab/<sha>``, kept and
  reused for later runs, made under a lock so that runs started together share it
  (:mod:`virnucpro.bench.ab.checkout`);
- each side runs in its own long-lived worker process (:mod:`virnucpro.bench.ab.worker`) that
  loads the models once, so rounds measure the steady state. Two processes of the same code
  differ by a steady offset of their own, so with ``fresh_workers_every`` in the protocol both
  workers are replaced by fresh processes every so many pairs (between pairs, warmed up as the
  first were, the seconds recorded), and every pair records which worker pair measured it: the
  judge widens its interval by the spread between worker pairs. A session over workers it does
  not own (the bisection's pool) never replaces them. A side runs with its own checkout
  first on ``PYTHONPATH``, and with this interpreter unless the base declares requirements this
  environment does not meet: then with its own environment, cached per commit, that shares this
  environment's torch build (:mod:`virnucpro.bench.ab.env`);
- both sides read the same workload file, generated once by the head;
- rounds come in pairs, one predict on each side, after the same number of warm-up rounds on
  each side. How they are measured is the session's :class:`RoundProtocol` (recorded): the
  order of the two sides (``abba``: drawn from a seeded generator for the first pair of every
  two, reversed for the second, so each side goes first equally often at every even count;
  ``random``: drawn per pair), CPU pinning (:mod:`virnucpro.bench.ab.pinning`), the worker's
  garbage collector (collected before a round, off during it), and predicts per round (the
  round's times are their mean, so fixed costs and the timer weigh less);
- every pair records both sides' wall seconds, stage times and token counts, and how busy the
  machine was meanwhile (others' share of the CPUs; the benchmark's own processes are "self");
- the wall seconds the judge uses are this process's clock around each round (from sending the
  command to reading the answer, per predict), outside the worker: code in a worker cannot
  change them by patching its own timers. The worker's own reading is kept beside it;
- each side's published outputs are read after its first measured round and again after the
  last (:class:`~virnucpro.bench.outputs.OutputKeeper`), between pairs, never inside a timed
  round, for the output check.

:class:`ABRecord` keeps every raw pair; :meth:`ABRecord.paired_metrics` turns it into per-metric
paired samples for the judge.
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

import psutil

from virnucpro.bench.ab.pinning import cpus_for_pair, pinning_plan
from virnucpro.bench.ab.profile import ProfileRecord, SideProfile
from virnucpro.bench.ab.schema import (
    ABRecord,
    PairedRound,
    PairOutputs,
    RoundProtocol,
    Side,
    SideInfo,
)
from virnucpro.bench.ab.worker_process import Worker, WorkerSpec
from virnucpro.bench.outputs import OutputKeeper
from virnucpro.bench.run.host import machine_busy_seconds, others_share, process_tree_cpu_seconds
from virnucpro.errors import RunFailure


class ABSession:
    """A base and a head worker; pairs of rounds in a seeded random order.

    :meth:`start` starts both workers and closes them on exit; a session made from running
    workers (the power study reuses them across trials) leaves them running.
    """

    def __init__(
        self,
        *,
        ref: str,
        workers: dict[Side, Worker],
        spec: WorkerSpec,
        seed: int,
        owns: bool,
        protocol: RoundProtocol | None = None,
    ) -> None:
        self.ref = ref
        self.spec = spec
        self.seed = seed
        self._rng = random.Random(seed)
        self._workers = workers
        self._owns = owns
        self._info: dict[str, SideInfo] = {}
        self._rounds: list[PairedRound] = []
        self._warmup = 0
        protocol = protocol or RoundProtocol()
        if not owns and protocol.fresh_workers_every:  # another's workers: never replaced
            protocol = protocol.model_copy(update={"fresh_workers_every": None})
        self.protocol, self._cpus = pinning_plan(protocol)
        self._pinned: dict[Side, int] = {}
        self._generation = 0
        self._restarts: list[float] = []
        self._keepers = {side: OutputKeeper(w.outdir) for side, w in workers.items()}
        self._outputs: PairOutputs | None = None

    @classmethod
    def start(
        cls,
        *,
        ref: str,
        base_root: Path,
        head_root: Path,
        spec: WorkerSpec,
        workdir: Path,
        seed: int,
        base_python: Path | None = None,
        protocol: RoundProtocol | None = None,
        head_python: Path | None = None,
    ) -> ABSession:
        workers: dict[Side, Worker] = {
            "base": Worker("base", base_root, spec, workdir, base_python),
            "head": Worker("head", head_root, spec, workdir, head_python),
        }
        return cls(ref=ref, workers=workers, spec=spec, seed=seed, owns=True, protocol=protocol)

    def __enter__(self) -> ABSession:
        try:
            self._info = {side: w.wait_ready() for side, w in self._workers.items()}
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._owns:
            self.close()

    def close(self) -> None:
        for worker in self._workers.values():
            worker.close()

    def warm_up(self, rounds: int) -> None:
        """Unmeasured rounds on both sides (alternating), before any pair is measured."""
        self._pin_for(len(self._rounds))
        for _ in range(rounds):
            for worker in self._workers.values():
                worker.round(self.protocol)
        self._warmup += rounds

    def _replace_workers(self) -> None:
        """Both workers replaced by fresh processes of the same code, warmed up as the first
        were; between pairs, outside every timed round (the seconds are recorded)."""
        start = time.perf_counter()
        old = self._workers
        for worker in old.values():
            worker.stop()  # idle between pairs: nothing of it is lost, and no CPU is shared
        self._workers = {side: worker.successor() for side, worker in old.items()}
        try:
            info = {side: w.wait_ready() for side, w in self._workers.items()}
        except BaseException:
            self.close()
            raise
        for side, fresh in info.items():
            if fresh.commit != self._info[side].commit:
                raise RunFailure(
                    f"the {side} worker's checkout moved during the run "
                    f"({self._info[side].commit} -> {fresh.commit})"
                )
        self._generation += 1
        self._pinned = {}
        self._pin_for(len(self._rounds))
        for _ in range(self._warmup):
            for worker in self._workers.values():
                worker.round(self.protocol)
        self._restarts.append(time.perf_counter() - start)

    def _fresh_workers_due(self) -> bool:
        every = self.protocol.fresh_workers_every
        done = len(self._rounds)
        return bool(every) and done > 0 and done % every == 0 and done // every > self._generation

    def _first(self) -> Side:
        """Which side goes first in the next pair (the protocol's order)."""
        if self.protocol.order == "abba" and len(self._rounds) % 2 == 1:
            return "head" if self._rounds[-1].first == "base" else "base"
        return self._rng.choice(("base", "head"))

    def _pin_for(self, index: int) -> dict[Side, int] | None:
        """Pin the workers as pair ``index`` wants; the CPUs of each side, or None."""
        if self._cpus is None:
            return None
        wanted = cpus_for_pair(self._cpus, index)
        for side, cpu in wanted.items():
            if self._pinned.get(side) != cpu:
                self._workers[side].pin(cpu)
        self._pinned = wanted
        return dict(wanted)

    def run_pairs(self, count: int) -> None:
        """Measure ``count`` more pairs."""
        cpus = psutil.cpu_count() or 1
        for _ in range(count):
            if self._fresh_workers_due():
                self._replace_workers()
            pids = [w.pid for w in self._workers.values()]
            pinned = self._pin_for(len(self._rounds))
            first = self._first()
            second: Side = "head" if first == "base" else "base"
            collected = self.protocol.gc_off  # both collect first, outside the rounds' clocks
            if collected:
                for worker in self._workers.values():
                    worker.collect()
            machine, own, start = (
                machine_busy_seconds(),
                process_tree_cpu_seconds(pids),
                time.perf_counter(),
            )
            samples = {first: self._workers[first].round(self.protocol, collected=collected)}
            samples[second] = self._workers[second].round(self.protocol, collected=collected)
            wall = time.perf_counter() - start
            machine = machine_busy_seconds() - machine
            own = process_tree_cpu_seconds(pids) - own
            self._rounds.append(
                PairedRound(
                    index=len(self._rounds),
                    first=first,
                    base=samples["base"],
                    head=samples["head"],
                    wall_seconds=wall,
                    others_share=others_share(machine, own, wall, cpus),
                    cpus=pinned,
                    workers=self._generation,
                )
            )
            if len(self._rounds) == 1:  # between pairs: outside every timed round
                for keeper in self._keepers.values():
                    keeper.after_first_round()

    @property
    def pairs(self) -> int:
        return len(self._rounds)

    def profile(self, label: str) -> ProfileRecord:
        """One profiled round per side after the timed rounds, in a seeded order; not a pair."""
        sides: list[Side] = ["base", "head"]
        self._rng.shuffle(sides)
        profiled = {side: self._profile_side(side) for side in sides}
        return ProfileRecord(label=label, base=profiled["base"], head=profiled["head"])

    def _profile_side(self, side: Side) -> SideProfile:
        start = time.perf_counter()
        answer = self._workers[side].profile()
        wall = time.perf_counter() - start
        timed = [getattr(r, side).seconds for r in self._rounds]
        return SideProfile.model_validate(
            {
                **answer,
                "commit": self._info[side].commit,
                "wall_seconds": wall,
                "timed_median_seconds": statistics.median(timed) if timed else None,
            }
        )

    def keep_outputs(self) -> PairOutputs:
        """Both sides' outputs of the first measured round and (read now) of the last; call
        once, when no more pairs will run."""
        if self._outputs is None:
            rounds = {side: keeper.rounds() for side, keeper in self._keepers.items()}
            problems = [
                f"{side}: {keeper.problem}"
                for side, keeper in self._keepers.items()
                if keeper.problem is not None
            ]
            self._outputs = PairOutputs(
                base=rounds["base"],
                head=rounds["head"],
                problem="; ".join(problems) or None,
                read_seconds=sum(k.seconds for k in self._keepers.values()),
            )
        return self._outputs

    def record(self) -> ABRecord:
        return ABRecord(
            ref=self.ref,
            base=self._info["base"],
            head=self._info["head"],
            workload=str(self.spec.workload),
            seed=self.seed,
            warmup=self._warmup,
            cpus=psutil.cpu_count() or 1,
            rounds=tuple(self._rounds),
            protocol=self.protocol,
            precision=self.spec.precision,
            outputs=self._outputs,
            restart_seconds=tuple(self._restarts),
        )
