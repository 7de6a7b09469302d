"""What ``virnucpro benchmark --bisect`` prints when it is done: the outcome in its colour,
what it names and why, and the files written (a renderer over the bisection's record).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from tools.bench.culprit.bisect import headline, summary_lines

if TYPE_CHECKING:
    from virnucpro.bench.bisect.schema import BisectResult

STYLES = {
    "culprit": "bold red",
    "gradual": "bold red",
    "no_slowdown": "bold green",
    "budget_spent": "bold yellow",
    "could_not_judge": "bold yellow",
}


def render_bisect_summary(
    result: BisectResult,
    console: Console,
    *,
    files: tuple[Path, ...],
) -> None:
    """The headline in the outcome's colour, the findings and reasons, the files written."""
    console.print(
        f"bisect: {headline(result)} (exit {result.exit_code}, {result.seconds:.0f} s)",
        style=STYLES.get(result.outcome, "bold"),
        highlight=False,
        markup=False,
    )
    lines = summary_lines(result)
    if result.culprit_profile is not None:
        from tools.bench.culprit.profile import profile_lines

        where = profile_lines(result.culprit_profile)
        lines += [f"where the time went: {line}" for line in where]
    lines += [f"written: {path}" for path in files]
    for line in lines:
        console.print(f"  {line}", highlight=False, markup=False)
