"""Builders of A/B records for tests: one round sample, one side, one record, one worker spec.

Defaults are small round numbers the tests compute with (10 reads, 1000 DNABERT-S and 2000 ESM
tokens a round); any field can be given instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from virnucpro.bench.ab import schema as ab_schema
from virnucpro.bench.ab.session import WorkerSpec

SAMPLE_COUNTS = {
    "reads": 10,
    "bases": 5000,
    "kept_frames": 60,
    "dnabert_tokens": 1000,
    "esm_tokens": 2000,
}


def round_sample(
    seconds: float, dnabert: float, *, stages: dict[str, float] | None = None, **fields: object
) -> ab_schema.RoundSample:
    """One side's round: ``seconds`` wall (and CPU), ``dnabert`` seconds in DNABERT-S; the
    stages default to that plus 0.1 s of ESM and an unmeasurably short merge."""
    return ab_schema.RoundSample(
        seconds=seconds,
        cpu_seconds=seconds,
        stages=stages if stages is not None else {"dnabert": dnabert, "esm": 0.1, "merge": 0.0},
        **{**SAMPLE_COUNTS, **fields},
    )


def side_info(root: str = "/r") -> ab_schema.SideInfo:
    return ab_schema.SideInfo(
        commit="a" * 40, dirty=False, root=root, package=f"{root}/virnucpro", load_seconds=1.0
    )


def ab_record(
    rounds: tuple[ab_schema.PairedRound, ...], *, root: str = "/r", **fields: object
) -> ab_schema.ABRecord:
    """A record of ``rounds`` with the same side on both ends (an A/A record's metadata)."""
    side = side_info(root)
    given = {"ref": "main", "workload": "w.fa", "seed": 1, "warmup": 2, "cpus": 2, **fields}
    return ab_schema.ABRecord(base=side, head=side, rounds=rounds, **given)


def tiny_spec(workload: Path, device: str = "cpu") -> WorkerSpec:
    """The tiny models, the fast engine in fp32, one thread, reads of about 300 bases."""
    return WorkerSpec(
        workload=workload,
        preset="tiny",
        engine="fast",
        precision="fp32",
        expected_length=300,
        threads=1,
        device=device,
    )


def paired_rounds(
    base: Sequence[float], head: Sequence[float], *, wall: float = 0.5, others: float = 0.0
) -> tuple[ab_schema.PairedRound, ...]:
    """Pairs of rounds with these total times (half of each in DNABERT-S), the sides' order
    alternating, ``wall`` seconds a pair and ``others`` the other processes' share."""
    return tuple(
        ab_schema.PairedRound(
            index=i,
            first="base" if i % 2 else "head",
            base=round_sample(b, b / 2),
            head=round_sample(h, h / 2),
            wall_seconds=wall,
            others_share=others,
        )
        for i, (b, h) in enumerate(zip(base, head, strict=True))
    )
