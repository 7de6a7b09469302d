"""The A/B mode's worker processes: one per side, the models loaded once, rounds on request.

:class:`Worker` starts :mod:`virnucpro.bench.ab.worker` (its source run as ``python -c`` with the
side's checkout first on ``PYTHONPATH``), reads its answers (one JSON line each), and stops or
closes it; :meth:`Worker.successor` starts a fresh process of the same side, code and options
(the session's fresh workers). :class:`WorkerSpec` is what both sides run. The session
(:mod:`virnucpro.bench.ab.session`) decides when rounds run and pairs them.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from virnucpro.bench.ab.pinning import pin_process
from virnucpro.bench.ab.schema import RoundProtocol, RoundSample, Side, SideInfo
from virnucpro.errors import RunFailure

WORKER_SOURCE = Path(__file__).with_name("worker.py")
PROFILER_SOURCE = Path(__file__).with_name("profiling.py")
WORKER_QUIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class WorkerSpec:
    """What both workers run: the same workload and options."""

    workload: Path
    preset: str
    engine: str
    precision: str
    expected_length: int
    threads: int
    device: str


class Worker:
    """One side's worker process; its stderr goes to a log file."""

    def __init__(
        self,
        side: Side,
        root: Path,
        spec: WorkerSpec,
        workdir: Path,
        python: Path | None = None,
        generation: int = 0,
    ) -> None:
        self.side = side
        self.root = root
        self.spec = spec
        self.python = python
        self.workdir = workdir
        self.generation = generation
        suffix = f"-{generation}" if generation else ""
        self.log_path = workdir / f"{side}-worker{suffix}.log"
        self.outdir = workdir / f"{side}-out"
        payload = {
            "workload": str(spec.workload),
            "outdir": str(self.outdir),
            "preset": spec.preset,
            "engine": spec.engine,
            "precision": spec.precision,
            "expected_length": spec.expected_length,
            "threads": spec.threads,
            "device": spec.device,
            "profiler": str(PROFILER_SOURCE),
        }
        env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
        workdir.mkdir(parents=True, exist_ok=True)
        self._log: IO[str] = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115
        source = WORKER_SOURCE.read_text(encoding="utf-8")
        self.process = subprocess.Popen(
            [str(python or sys.executable), "-c", source, json.dumps(payload)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=workdir,
            env=env,
        )
        self.info: SideInfo | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> dict[str, object]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=WORKER_QUIT_TIMEOUT_S)
            raise RunFailure(
                f"the {self.side} worker stopped (exit {self.process.returncode}); "
                f"see {self.log_path}"
            )
        return json.loads(line)

    def wait_ready(self) -> SideInfo:
        """The side's facts once its models are loaded (read once, then remembered)."""
        if self.info is not None:
            return self.info
        ready = self._read()
        package = Path(str(ready["package"])).resolve()
        if not package.is_relative_to(self.root.resolve()):
            raise RunFailure(
                f"the {self.side} worker imported virnucpro from {package}, not from {self.root}"
            )
        from virnucpro.bench.run.envinfo import git_state

        commit, dirty = git_state(self.root)
        self.info = SideInfo(
            commit=commit,
            dirty=dirty,
            root=str(self.root),
            package=str(package),
            load_seconds=float(ready["load_seconds"]),  # type: ignore[arg-type]
        )
        return self.info

    def collect(self) -> None:
        """A garbage collection in the worker now, before a round and outside its clock."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": "collect"}) + "\n")
        self.process.stdin.flush()
        self._read()

    def round(
        self, protocol: RoundProtocol | None = None, *, collected: bool = False
    ) -> RoundSample:
        """One measured round (the protocol's predicts and collector setting);
        ``harness_seconds`` is this process's clock around it, per predict. ``collected``: the
        worker collected just before (:meth:`collect`), so the round does not."""
        assert self.process.stdin is not None
        command: dict[str, object] = {"op": "round"}
        if protocol is not None:
            command.update(repeat=protocol.repeat, gc_off=protocol.gc_off, collect=not collected)
        start = time.perf_counter()
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer = self._read()
        seconds = time.perf_counter() - start
        predicts = answer.get("predicts", 1)
        per_predict = seconds / predicts if isinstance(predicts, int) and predicts > 0 else seconds
        return RoundSample.model_validate({**answer, "harness_seconds": per_predict})

    def profile(self) -> dict[str, object]:
        """One profiled round (never a timed one): the worker's operator table."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": "profile"}) + "\n")
        self.process.stdin.flush()
        answer = self._read()
        if "profile" not in answer:
            raise RunFailure(f"the {self.side} worker: {answer.get('error', 'no profile')}")
        return answer["profile"]  # type: ignore[return-value]

    def pin(self, cpu: int) -> None:
        """Every thread of the worker onto ``cpu`` (threads it starts later inherit it)."""
        pin_process(self.pid, cpu)

    def successor(self) -> Worker:
        """A fresh worker process of the same side, code and options (the next generation)."""
        return Worker(
            self.side, self.root, self.spec, self.workdir, self.python, self.generation + 1
        )

    def stop(self) -> None:
        """End an idle worker at once (its outputs are on disk; a replacement needs the CPU)."""
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._log.close()

    def close(self) -> None:
        try:
            if self.process.poll() is None and self.process.stdin is not None:
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.close()
            self.process.wait(timeout=WORKER_QUIT_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()
            self._log.close()
