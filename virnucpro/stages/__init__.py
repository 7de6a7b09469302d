"""The pipeline's stages, one module each: ``fasta`` (read), ``chunking``, ``translate``,
``classify``, ``aggregate``, ``merge``; they import nothing of :mod:`virnucpro.pipeline`.

:data:`STAGES` names them in order, as run metrics and benchmark results do: a plain constant
with no imports, so the measuring schema and the judging tools (``tools.bench``) can name the
stages without importing the pipeline or torch.
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
