"""Two runs judged as one answer: paired when they are the two sides of one A/B run.

An A/B run (``virnucpro benchmark --against REF``) writes its raw pairs (``ab_pairs.json``) and
one results document per side beside them; every metric it paired carries the id of the raw
pairs file (the first hex digits of its sha256) and its side (``PAIRS_LABEL``, ``SIDE_LABEL``).
Given the base side and the head side of the same run (its ``results-base.json`` and its report
or ``results-head.json``), :func:`compare_documents` finds that raw pairs file (beside either
file, or where the documents' notes say), checks its id, and judges it with the A/B run's own
judge (:func:`tools.bench.judge.paired.judge_record`: the same looks and intervals, the output
check), so ``compare`` gives the run's verdict, not a second, weaker one. Without the file the
pairs are rebuilt from the two documents (each holds its side's samples in pair order) and
judged as one look, which the verdict says. Any other two runs are compared unpaired by the
stored check (:func:`tools.bench.judge.stored.check_regression`), and the verdict says so: runs
measured at different times differ by the machine's drift as much as by the code, so an
unpaired comparison is weaker, and its total time never fails by itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from tools.bench.judge.paired import judge_paired, judge_record
from tools.bench.judge.rejudge import read_pairs
from tools.bench.judge.stored import check_regression
from tools.bench.thresholds import DEFAULT_THRESHOLDS, Thresholds
from tools.bench.verdict import Verdict
from virnucpro.bench.ab.schema import PairedMetric
from virnucpro.bench.metric_names import (
    OTHERS_CPU_METRIC,
    PAIRS_ID_CHARS,
    PAIRS_LABEL,
    SIDE_LABEL,
    TOTAL_TIME_METRIC,
)
from virnucpro.bench.schema import Metric, ResultsDocument

PAIRS_FILE = "ab_pairs.json"
RAW_PAIRS_NOTE = "raw pairs: "
ONE_LOOK_NOTE = (
    "the raw pairs file was not found beside either file: the pairs were rebuilt from the two "
    "documents and judged as one look (the run itself may have judged them at a later look of "
    "its sequential design, and checked the outputs)"
)
UNPAIRED_NOTE = (
    "unpaired comparison: the two runs were measured apart (not the two sides of one A/B run), "
    "so the machine's drift between them reads as a change; this is weaker than a paired "
    "comparison, and its total time never fails by itself (measure side by side: virnucpro "
    "benchmark --against REF)"
)


@dataclass(frozen=True)
class Pairing:
    """The pairs rebuilt from the two side documents of one A/B run."""

    pairs_id: str
    metrics: tuple[PairedMetric, ...]
    others_shares: tuple[float, ...]

    @property
    def pairs(self) -> int:
        total = next((m for m in self.metrics if m.name == TOTAL_TIME_METRIC), None)
        return len(total.head) if total is not None else 0


def pairs_of(doc: ResultsDocument) -> tuple[str, str] | None:
    """(pairs id, side) of an A/B side document, read from its total time; None otherwise."""
    total = doc.metric(TOTAL_TIME_METRIC)
    if total is None:
        return None
    pairs, side = total.labels.get(PAIRS_LABEL), total.labels.get(SIDE_LABEL)
    return (pairs, side) if pairs and side else None


def _side_metrics(doc: ResultsDocument, pairs: str, side: str) -> dict[str, Metric]:
    return {
        m.name: m
        for m in doc.metrics
        if m.available and m.labels.get(PAIRS_LABEL) == pairs and m.labels.get(SIDE_LABEL) == side
    }


def find_pairing(base: ResultsDocument, head: ResultsDocument) -> Pairing | str:
    """The pairs of ``base`` and ``head`` when they are the base and head sides of one A/B run,
    else why they cannot be paired (one line)."""
    mine, theirs = pairs_of(base), pairs_of(head)
    if mine is None or theirs is None:
        which = "neither run is" if mine is None and theirs is None else "only one run is"
        return f"{which} a side of an A/B run"
    if mine[0] != theirs[0]:
        return f"they are sides of two different A/B runs (pairs {mine[0]} and {theirs[0]})"
    if (mine[1], theirs[1]) != ("base", "head"):
        return f"BASE is the {mine[1]} side and CANDIDATE the {theirs[1]} side: give base, head"
    pairs = mine[0]
    base_side, head_side = _side_metrics(base, pairs, "base"), _side_metrics(head, pairs, "head")
    metrics = []
    for name, h in head_side.items():
        b = base_side.get(name)
        if (
            b is None
            or len(b.samples) != len(h.samples)
            or (b.unit, b.better) != (h.unit, h.better)
        ):
            continue
        if name != OTHERS_CPU_METRIC:
            metrics.append(PairedMetric(name, h.unit, h.better, b.samples, h.samples))
    shares = head_side.get(OTHERS_CPU_METRIC)
    return Pairing(pairs, tuple(metrics), shares.samples if shares is not None else ())


@dataclass(frozen=True)
class Comparison:
    """The verdict of two runs and how it was reached (paired or not, and why)."""

    verdict: Verdict
    paired: bool
    how: str  # one line: which comparison was made


def pairs_file(
    pairs: str, *near: Path | None, docs: tuple[ResultsDocument, ...] = ()
) -> Path | None:
    """The raw pairs file whose id is ``pairs``: beside one of ``near``, or where a document's
    notes say it was written; None when none is found."""
    candidates = [Path(p).parent / PAIRS_FILE for p in near if p is not None]
    for doc in docs:
        for note in doc.notes:
            if note.startswith(RAW_PAIRS_NOTE):
                candidates.append(Path(note[len(RAW_PAIRS_NOTE) :].split(" (id ")[0]))
    for path in candidates:
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:PAIRS_ID_CHARS]
            if digest == pairs:
                return path
    return None


def compare_documents(
    base: ResultsDocument,
    candidate: ResultsDocument,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    base_label: str,
    base_path: Path | None = None,
    candidate_path: Path | None = None,
) -> Comparison:
    """One answer for two runs: paired when they are one A/B run's sides, else unpaired."""
    pairing = find_pairing(base, candidate)
    if isinstance(pairing, Pairing):
        return _paired(pairing, base, candidate, thresholds, (base_path, candidate_path))
    verdict = check_regression(
        candidate, base, thresholds=thresholds, baseline_label=base_label, no_baseline_hint=None
    )
    how = f"{UNPAIRED_NOTE}; not paired because {pairing}"
    return Comparison(verdict=_first(verdict, how), paired=False, how=how)


def _paired(
    pairing: Pairing,
    base: ResultsDocument,
    candidate: ResultsDocument,
    thresholds: Thresholds,
    near: tuple[Path | None, Path | None],
) -> Comparison:
    commit = (base.environment.git_commit or "unknown")[:12]
    label = f"the base side {commit} of A/B run {pairing.pairs_id}"
    found = pairs_file(pairing.pairs_id, *near, docs=(base, candidate))
    if found is not None:
        record = read_pairs(found)
        outputs = record.check_outputs(accepted=False)
        verdict = judge_record(record, thresholds=thresholds, label=label, outputs=outputs)
        how = (
            f"paired comparison: the two files are the base and head sides of A/B run "
            f"{pairing.pairs_id} ({len(record.rounds)} pairs), judged from its raw pairs "
            f"{found} as that run judged them"
        )
        return Comparison(verdict=_first(verdict, how), paired=True, how=how)
    verdict = judge_paired(
        pairing.metrics, thresholds=thresholds, label=label, others_shares=pairing.others_shares
    )
    how = (
        f"paired comparison: the two files are the base and head sides of A/B run "
        f"{pairing.pairs_id} ({pairing.pairs} pairs); {ONE_LOOK_NOTE}"
    )
    return Comparison(verdict=_first(verdict, how), paired=True, how=how)


def _first(verdict: Verdict, line: str) -> Verdict:
    return verdict.model_copy(update={"reasons": (line, *verdict.reasons)})
