"""The long-lived worker of one A/B side: load the models once, then time predict rounds.

This file is the *source* of the worker, not a module the measuring process imports: the
orchestrator (:mod:`virnucpro.bench.ab`) runs it as ``python -c <this source> <spec JSON>`` with
the side's checkout first on ``PYTHONPATH``, so every ``virnucpro`` import below resolves to that
side's code. It uses only the public API that commits before the A/B mode already had
(``virnucpro.pipeline.predict`` / ``PredictConfig``, ``virnucpro.models.presets.load_model_set``)
and the ``run_metrics.json`` each predict writes, so a base commit needs nothing new.

Protocol: one JSON object per line. The worker answers ``{"ready": ...}`` after loading the
models, then reads commands from stdin (``{"op": "round"}`` or ``{"op": "quit"}``) and answers
each round with its wall seconds, its own CPU seconds and the run metrics. Anything the pipeline
prints goes to stderr, never into the protocol.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time


def _send(stream, payload: dict) -> None:
    stream.write(json.dumps(payload) + "\n")
    stream.flush()


def _cpu_seconds() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _run_metrics(outdir: str) -> dict:
    with open(os.path.join(outdir, "run_metrics.json"), encoding="utf-8") as handle:
        data = json.load(handle)
    return {
        "reads": data["reads"],
        "bases": data["bases"],
        "kept_frames": data["kept_frames"],
        "dnabert_tokens": data["dnabert_tokens"],
        "esm_tokens": data["esm_tokens"],
        "stages": {s["name"]: s["seconds"] for s in data["stages"]},
    }


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # the pipeline's own prints go to stderr
    spec = json.loads(sys.argv[1])

    import torch

    torch.set_num_threads(spec["threads"])
    import virnucpro
    from virnucpro.models.presets import load_model_set
    from virnucpro.pipeline import PredictConfig, predict

    device = torch.device(spec["device"])
    start = time.perf_counter()
    models = load_model_set(preset=spec["preset"], device=device)
    load_seconds = time.perf_counter() - start
    wanted = {
        "input": spec["workload"],
        "outdir": spec["outdir"],
        "expected_length": spec["expected_length"],
        "engine": spec["engine"],
        "models": spec["preset"],
        "precision": spec["precision"],
        "device": spec["device"],
        "threads": spec["threads"],
        "force": True,
    }
    known = {f.name for f in dataclasses.fields(PredictConfig)}
    from pathlib import Path

    wanted["input"], wanted["outdir"] = Path(wanted["input"]), Path(wanted["outdir"])
    config = PredictConfig(**{k: v for k, v in wanted.items() if k in known})

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    _send(
        protocol,
        {
            "ready": True,
            "package": os.path.dirname(os.path.abspath(virnucpro.__file__)),
            "version": getattr(virnucpro, "__version__", "unknown"),
            "load_seconds": load_seconds,
            "ignored_options": sorted(set(wanted) - known),
        },
    )
    for line in sys.stdin:
        command = json.loads(line)
        if command.get("op") != "round":
            break
        cpu = _cpu_seconds()
        sync()
        start = time.perf_counter()
        predict(config, models=models)
        sync()
        seconds = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu
        _send(protocol, {"seconds": seconds, "cpu_seconds": cpu, **_run_metrics(spec["outdir"])})


if __name__ == "__main__":
    main()
