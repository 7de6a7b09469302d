"""Running ``predict``: the run (:mod:`~virnucpro.pipeline.run`), streamed in shards over one
or several ranks, with a resumable work folder, the published outputs and the run's metrics.

It wires the stages (:mod:`virnucpro.stages`) and the engines and models below it; the command
line and the benchmark sit above. The library API: ``from virnucpro.pipeline import
PredictConfig, predict``.
"""

from __future__ import annotations

from virnucpro.pipeline.run import NoKeptFramesWarning, PredictConfig, PredictResult, predict

__all__ = ["NoKeptFramesWarning", "PredictConfig", "PredictResult", "predict"]
