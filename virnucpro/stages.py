"""The pipeline's stages, in order: the names run metrics and benchmark results use.

A plain constant with no imports, so the measuring schema and the judging tools (``tools.bench``)
can name the stages without importing the pipeline or torch.
"""

from __future__ import annotations

STAGES = (
    "load_models",
    "read",
    "chunk",
    "translate",
    "dnabert",
    "esm",
    "merge",
    "classify",
    "aggregate",
    "write",
)
