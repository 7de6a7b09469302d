"""Load the CPU with a known duty cycle, to inject a real, graded slowdown into benchmarks.

Each of ``--procs`` processes spins for ``duty`` of every period and sleeps for the rest, until
killed. Used by ``scripts/noise_study_runs.sh`` to measure the smallest slowdown the regression
checker reliably flags (``python -m tools.bench.judge.noise_study``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import time

PERIOD_S = 0.01


def _spin(duty: float) -> None:
    while True:
        start = time.perf_counter()
        while time.perf_counter() - start < duty * PERIOD_S:
            pass
        time.sleep((1 - duty) * PERIOD_S)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duty", type=float, required=True, help="busy fraction, 0..1")
    parser.add_argument("--procs", type=int, default=multiprocessing.cpu_count())
    args = parser.parse_args()
    workers = [multiprocessing.Process(target=_spin, args=(args.duty,)) for _ in range(args.procs)]
    for w in workers:
        w.start()

    def stop(signum: int, frame: object) -> None:
        del signum, frame
        for w in workers:
            w.terminate()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()
