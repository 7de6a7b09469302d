"""What ``virnucpro benchmark --bisect`` prints when it is done: the outcome in its colour,
what it names and why, and the files written (a renderer over the command's outcome).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from tools.bench.report.bisect import headline, summary_lines

if TYPE_CHECKING:
    from virnucpro.cli.bisect import BisectOutcome

STYLES = {
    "culprit": "bold red",
    "gradual": "bold red",
    "no_slowdown": "bold green",
    "budget_spent": "bold yellow",
    "could_not_judge": "bold yellow",
}


def render_bisect_summary(outcome: BisectOutcome, console: Console) -> None:
    result = outcome.result
    console.print(
        f"bisect: {headline(result)} (exit {result.exit_code}, {result.seconds:.0f} s)",
        style=STYLES.get(result.outcome, "bold"),
        highlight=False,
        markup=False,
    )
    lines = summary_lines(result)
    if outcome.profile is not None:
        from tools.bench.report.profile import profile_lines

        lines += [f"where the time went: {line}" for line in profile_lines(outcome.profile)]
    lines += [f"report: {outcome.markdown_path}", f"record: {outcome.json_path}"]
    for line in lines:
        console.print(f"  {line}", highlight=False, markup=False)
