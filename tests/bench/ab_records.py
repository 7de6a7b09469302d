"""Builders of A/B records for tests: one round sample, one side, one record, one worker spec.

Defaults are small round numbers the tests compute with (10 reads, 1000 DNABERT-S and 2000 ESM
tokens a round); any field can be given instead.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from virnucpro.bench.ab import schema as ab_schema
from virnucpro.bench.ab.worker_process import WorkerSpec
from virnucpro.bench.schema import ResultsDocument

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
    given.setdefault("base", side)
    given.setdefault("head", side)
    return ab_schema.ABRecord(rounds=rounds, **given)


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


def timed_record(
    slowdown: float,
    *,
    pairs: int = 20,
    head_commit: str = "b" * 40,
    outputs: ab_schema.PairOutputs | None = None,
    seed: int = 7,
) -> ab_schema.ABRecord:
    """An A/B record of ``pairs`` rounds in which the head is ``slowdown`` slower (a fraction)
    on a drifting machine, the harness's clock in every round; both sides' outputs the same
    unless ``outputs`` are given."""
    import random

    from tests.bench.output_records import same_rounds

    rng = random.Random(seed)
    rounds = []
    for i in range(pairs):
        drift = 1.0 + 0.3 * rng.random()
        base = drift * (1.0 + 0.01 * rng.gauss(0, 1))
        head = drift * (1.0 + slowdown) * (1.0 + 0.01 * rng.gauss(0, 1))
        rounds.append(
            ab_schema.PairedRound(
                index=i,
                first="base" if i % 2 else "head",
                base=round_sample(base, base / 2, harness_seconds=base + 0.002),
                head=round_sample(head, head / 2, harness_seconds=head + 0.002),
                wall_seconds=base + head,
                others_share=0.02,
            )
        )
    head_side = side_info("/pr").model_copy(update={"commit": head_commit})
    default = ab_schema.PairOutputs(base=same_rounds(), head=same_rounds(), read_seconds=0.01)
    return ab_record(
        tuple(rounds),
        head=head_side,
        precision="fp32",
        outputs=outputs if outputs is not None else default,
    )


def drawn_rounds(
    count: int, *, slowdown: float, noise: float = 0.01, seed: int = 0
) -> tuple[ab_schema.PairedRound, ...]:
    """``count`` pairs whose head is ``slowdown`` slower than the base (about 1 s a round),
    each side with its own ``noise`` (relative, seeded), and a quiet machine."""
    rng = random.Random(seed)

    def side(level: float) -> ab_schema.RoundSample:
        seconds = level * (1.0 + noise * rng.gauss(0.0, 1.0))
        return round_sample(
            seconds,
            seconds / 2,
            stages={"dnabert": seconds / 2, "esm": seconds / 4, "merge": seconds / 100},
            host_peak_rss=1_000_000_000,
        )

    return tuple(
        ab_schema.PairedRound(
            index=i,
            first="base" if i % 2 else "head",
            base=side(1.0),
            head=side(1.0 + slowdown),
            wall_seconds=2.0 + slowdown,
            others_share=0.01,
        )
        for i in range(count)
    )


def side_documents(
    record: ab_schema.ABRecord, workload: Path, *, pairs: str = "0123456789abcdef"
) -> dict[str, ResultsDocument]:
    """The base and head results documents of ``record``, as an A/B run writes them."""
    from virnucpro.bench.ab.document import side_document
    from virnucpro.bench.options import for_tier

    options = for_tier("quick", output_dir=workload.parent)
    spec = tiny_spec(workload)
    return {
        side: side_document(
            record, side=side, options=options, spec=spec, command="test", notes=(), pairs=pairs
        )
        for side in ("base", "head")
    }
