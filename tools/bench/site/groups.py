"""How the dashboard groups runs, and what it calls each group.

A group is one history key (the machine: CPU, GPUs, torch threads, driver, CUDA, torch; and the
workload, engine, preset, device and precision) and one kind of run. Plain runs and the head
sides of A/B runs share a key when they ran the same thing on the same machine, but they are
drawn apart: an A/B point was measured alternating with its base commit's rounds and judged
against that base, a plain point against the stored baseline and the history. The title says
what ran in words (``RunSetup.title``: preset, workload, device, engine, precision, machine,
kind of run); the key, a hash, is its tooltip. A group's stored baseline is the one stored
under its key, drawn as a line where it measured the metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from tools.bench.history.baseline import BaselineRecord
from tools.bench.history.runs import MODE_WORDS, RunEntry, RunMode
from tools.bench.site.marks import StoredLine
from tools.bench.site.names import key_dir

SHORT_COMMIT = 7
AB_SUFFIX = "--ab"


@dataclass(frozen=True)
class Group:
    """The runs of one key and kind, oldest first, and the key's stored baseline (if any)."""

    key: str
    mode: RunMode
    runs: tuple[RunEntry, ...]
    stored: BaselineRecord | None = None

    @property
    def folder(self) -> str:
        """The group's folder of metric pages (plain runs: the key's; A/B runs: ``--ab``)."""
        return key_dir(self.key) + (AB_SUFFIX if self.mode == "ab" else "")

    def title(self) -> str:
        """What ran, in words, and which kind of run; the key when the runs do not say."""
        described = next((e.setup for e in reversed(self.runs) if e.setup is not None), None)
        what = described.title() if described is not None else self.key
        return f"{what}: {MODE_WORDS[self.mode]}"

    def stored_line(self, name: str) -> StoredLine | None:
        """The stored baseline's median of ``name``, labelled with its day and commit."""
        if self.stored is None:
            return None
        metric = self.stored.results.metric(name)
        if metric is None or metric.median is None:
            return None
        commit = (self.stored.results.environment.git_commit or "unknown")[:SHORT_COMMIT]
        day = self.stored.results.run.created_at[:10]
        return StoredLine(median=metric.median, label=f"{day}, {commit}")

    def stored_lines(self, names: Sequence[str]) -> dict[str, StoredLine]:
        lines = {name: self.stored_line(name) for name in names}
        return {name: line for name, line in lines.items() if line is not None}


def run_order(entries: Sequence[RunEntry]) -> list[RunEntry]:
    """Runs oldest first (ties by run id)."""
    return sorted(entries, key=lambda e: (_moment(e.created_at), e.run_id))


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def groups_of(
    histories: Mapping[str, Sequence[RunEntry]], baselines: Mapping[str, BaselineRecord]
) -> list[Group]:
    """Every non-empty group, by key, plain runs before A/B runs."""
    groups = []
    for key in sorted(histories):
        runs = run_order(histories[key])
        for mode in MODE_WORDS:
            mine = tuple(e for e in runs if e.mode == mode)
            if mine:
                groups.append(Group(key, mode, mine, baselines.get(key)))
    return groups
