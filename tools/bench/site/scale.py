"""Chart axes: a unit people read (ms, not 0.08 s; GiB, not 3.2e9 B) and subplot axis ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tools.bench.report.formatting import BYTE_UNITS, SECOND_UNITS

TIME_SCALES = ((60.0, "min"), (1.0, "s"), (1e-3, "ms"), (1e-6, "µs"))
MINUTES_FROM_S = 120.0  # times whose typical value passes this are shown in minutes
BYTE_SCALES = ((2.0**30, "GiB"), (2.0**20, "MiB"), (2.0**10, "KiB"), (1.0, "B"))


@dataclass(frozen=True)
class Scale:
    """Divide by ``factor`` to show a value in ``unit``."""

    factor: float
    unit: str

    def apply(self, value: float | None) -> float | None:
        return None if value is None else value / self.factor

    def text(self, value: float | None) -> str:
        return "not measured" if value is None else f"{value / self.factor:.4g} {self.unit}"


def choose_scale(unit: str, values: Sequence[float]) -> Scale:
    """The largest unit in which the typical value is at least 1 (seconds and bytes)."""
    typical = sorted(abs(v) for v in values)[len(values) // 2] if values else 0.0
    options = TIME_SCALES if unit in SECOND_UNITS else BYTE_SCALES if unit in BYTE_UNITS else ()
    for factor, label in options:
        if typical >= (MINUTES_FROM_S if label == "min" else factor):
            return Scale(factor, label)
    return Scale(*options[-1]) if options else Scale(1.0, unit)


def axes(cell: int) -> tuple[str, str]:
    """Trace axis ids ('x', 'y') and ('x2', 'y2') ... for subplot ``cell`` (0-based)."""
    suffix = "" if cell == 0 else str(cell + 1)
    return f"x{suffix}", f"y{suffix}"
