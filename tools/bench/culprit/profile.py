"""Where the time went: the operators whose self time changed most between base and head.

Reads an A/B run's profiled rounds (:class:`~virnucpro.bench.ab.profile.ProfileRecord`, one
untimed round per side) and ranks, per stage, the operators (and on CUDA the kernels) by the
absolute change of their self time: calls, time per call and share of the stage on each side.
On the CPU an operator's self time is its CPU self time; on CUDA it is its device self time
(its kernels), since that is where a GPU run spends its time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tools.bench.report.formatting import format_duration, table
from virnucpro.bench.ab.profile import OperatorKind, OperatorTime, ProfileRecord, SideProfile

TOP_OPERATORS = 10
CONSOLE_OPERATORS = 3
US_PER_S = 1e6
KIND_TITLES = {"operator": "operators", "kernel": "CUDA kernels"}
PROFILE_TITLE = "## Where the time went (profiled rounds)"


@dataclass(frozen=True)
class OperatorChange:
    """One operator of one stage on both sides (absent on a side: 0 calls, 0 time)."""

    stage: str
    name: str
    base_calls: int
    head_calls: int
    base_us: float
    head_us: float
    base_share: float | None  # of the stage's self time on that side
    head_share: float | None

    @property
    def change_us(self) -> float:
        return self.head_us - self.base_us


@dataclass(frozen=True)
class StageChange:
    """A stage's self time on both sides and its operators that changed most."""

    stage: str
    kind: OperatorKind
    base_us: float
    head_us: float
    operators: tuple[OperatorChange, ...]


def _self_us(op: OperatorTime, side: SideProfile) -> float:
    return op.device_us if op.kind == "kernel" or side.on_device else op.self_cpu_us


def _by_name(side: SideProfile, kind: OperatorKind, stage: str) -> dict[str, OperatorTime]:
    return {o.name: o for o in side.operators if o.kind == kind and o.stage == stage}


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


def _stage(record: ProfileRecord, kind: OperatorKind, stage: str, top: int) -> StageChange:
    base, head = _by_name(record.base, kind, stage), _by_name(record.head, kind, stage)
    base_total = sum(_self_us(o, record.base) for o in base.values())
    head_total = sum(_self_us(o, record.head) for o in head.values())
    changes = []
    for name in sorted(set(base) | set(head)):
        b, h = base.get(name), head.get(name)
        b_us = _self_us(b, record.base) if b else 0.0
        h_us = _self_us(h, record.head) if h else 0.0
        changes.append(
            OperatorChange(
                stage=stage,
                name=name,
                base_calls=b.calls if b else 0,
                head_calls=h.calls if h else 0,
                base_us=b_us,
                head_us=h_us,
                base_share=_share(b_us, base_total),
                head_share=_share(h_us, head_total),
            )
        )
    changes.sort(key=lambda c: (-abs(c.change_us), c.name))
    return StageChange(stage, kind, base_total, head_total, tuple(changes[:top]))


def stage_changes(
    record: ProfileRecord, kind: OperatorKind = "operator", *, top: int = TOP_OPERATORS
) -> tuple[StageChange, ...]:
    """Per stage (largest absolute change of its self time first), the top ``top`` operators."""
    stages = {o.stage for side in (record.base, record.head) for o in side.operators}
    found = [_stage(record, kind, stage, top) for stage in stages]
    found = [s for s in found if s.operators]
    found.sort(key=lambda s: (-abs(s.head_us - s.base_us), s.stage))
    return tuple(found)


# ----------------------------------------------------------------------------- rendering


def _us(value: float) -> str:
    return format_duration(value / US_PER_S) if value else "0"


def _per_call(us: float, calls: int) -> str:
    return _us(us / calls) if calls else "-"


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def _relative(base: float, head: float) -> str:
    return f" ({head / base - 1:+.0%})" if base > 0 else ""


def _rows(stage: StageChange) -> Iterable[tuple[str, ...]]:
    for c in stage.operators:
        yield (
            f"`{c.name}`",
            f"{c.base_calls} → {c.head_calls}",
            f"{_per_call(c.base_us, c.base_calls)} → {_per_call(c.head_us, c.head_calls)}",
            f"{_us(c.base_us)} → {_us(c.head_us)}",
            f"{'+' if c.change_us >= 0 else '-'}{_us(abs(c.change_us))}",
            f"{_pct(c.base_share)} → {_pct(c.head_share)}",
        )


HEADERS = ("operator", "calls", "time per call", "self time", "change", "share of stage")


def cost_line(record: ProfileRecord) -> str:
    """What profiling cost, measured: each side's profiled round beyond a timed round."""
    parts = []
    for word, side in (("base", record.base), ("head", record.head)):
        timed = side.timed_median_seconds
        against = f" against {format_duration(timed)} timed" if timed is not None else ""
        parts.append(
            f"{word} {format_duration(side.wall_seconds)}{against} "
            f"({format_duration(side.processing_seconds)} of it reading the trace)"
        )
    return (
        f"Profiling cost {format_duration(record.cost_seconds)} beyond two timed rounds: "
        + "; ".join(parts)
        + "."
    )


def render_profile(record: ProfileRecord, *, heading: str = PROFILE_TITLE) -> str:
    """The markdown section: per stage and kind, the operators whose self time changed most."""
    measure = "device self time" if record.head.on_device else "CPU self time"
    parts = [
        heading,
        f"One profiled round per side after the timed rounds ({record.label}), under "
        f"`torch.profiler`; never part of the verdict. Ranked per stage by the absolute change "
        f"of each operator's {measure} in the round (top {TOP_OPERATORS}). {cost_line(record)}",
    ]
    kinds: tuple[OperatorKind, ...] = ("operator", "kernel")
    for kind in kinds if record.head.on_device else kinds[:1]:
        for stage in stage_changes(record, kind):
            title = (
                f"**`{stage.stage}`**, {KIND_TITLES[kind]}: {_us(stage.base_us)} → "
                f"{_us(stage.head_us)}{_relative(stage.base_us, stage.head_us)}"
            )
            parts.append(title + "\n\n" + table(HEADERS, _rows(stage)))
    return "\n\n".join(parts)


def profile_lines(record: ProfileRecord, *, top: int = CONSOLE_OPERATORS) -> list[str]:
    """A few console lines: per stage, its change and its operators that changed most."""
    lines = []
    for stage in stage_changes(record, top=top):
        ops = ", ".join(
            f"{c.name} {c.base_calls}→{c.head_calls} calls "
            f"{'+' if c.change_us >= 0 else '-'}{_us(abs(c.change_us))}"
            for c in stage.operators
        )
        change = _relative(stage.base_us, stage.head_us)
        lines.append(f"{stage.stage}: {_us(stage.base_us)} → {_us(stage.head_us)}{change}: {ops}")
    return [*lines, cost_line(record)]
