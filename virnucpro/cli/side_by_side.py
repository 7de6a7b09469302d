"""What ``virnucpro benchmark`` compares, and the quick tier's default: side by side.

``virnucpro benchmark --quick`` (and so ``nox -s bench_quick``) without ``--against`` measures
the checkout against a reference commit (:mod:`virnucpro.cli.reference`: the commit the stored
baseline was recorded at, else the merge base with the default branch), paired, with the A/B
judge (:func:`virnucpro.cli.ab.run_against`). The stored baseline is still compared, and shown
as drift against the stored run of its day (:mod:`tools.bench.judge.drift`); it never decides
the verdict. Without a reference commit the checkout is measured alone (the plain quick
suites), the stored numbers are shown as drift, and the verdict is COULD NOT JUDGE, exit 2,
unless the run history judged the total time (enough runs from enough days).

Every other run keeps stored-baseline mode (a plain run, for trends): the full and vanilla
tiers, a custom run, and a quick run with ``--stored-baseline``, ``--suite``, ``--compare-to``,
``--update-baseline`` or ``--append-history``; :func:`stored_mode_reason` says which.

The first lines of the output say what is compared with what, and why (:func:`say_first`).

``tools.bench`` lives in the source checkout: import this module only after
:func:`virnucpro.cli.benchmark.checkout_importable`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from tools.bench.judge.drift import Drift, drift_against_stored, stored_run_words
from tools.bench.judge.history_noise import load_run_history
from tools.bench.verdict import EXIT_FOR_OUTCOME, Verdict
from virnucpro.bench.options import BenchOptions
from virnucpro.bench.records import SchemaError
from virnucpro.bench.schema import ResultsDocument
from virnucpro.cli.reference import Reference, Stored, choose_reference, stored_for

if TYPE_CHECKING:
    from tools.bench.thresholds import Thresholds
    from virnucpro.cli.ab import ABOutcome

QUICK_TIER = "quick"
DRIFT_ONLY = "shown as drift only, never the verdict"
NO_REFERENCE_VERDICT = (
    "the checkout was measured alone and the stored numbers are drift only: nothing decided "
    "whether the code changed"
)


def stored_mode_reason(args: argparse.Namespace, options: BenchOptions) -> str | None:
    """Why this run keeps stored-baseline mode, or None when it runs side by side."""
    if options.tier != QUICK_TIER:
        tier = "a run without --quick" if options.tier == "custom" else f"the {options.tier} tier"
        return f"{tier} keeps stored-baseline mode, for trends"
    given = [
        ("--stored-baseline", args.stored_baseline),
        ("--suite (side by side pairs end_to_end, throughput and memory only)", args.suite),
        ("--compare-to", options.compare_to is not None),
        ("--update-baseline", options.update_baseline),
        ("--append-history", options.append_history),
    ]
    named = [flag for flag, on in given if on]
    return f"{', '.join(named)} asks for a plain run against the stored baseline" if named else None


def say_first(lines: tuple[str, ...]) -> None:
    """The first lines of the output: what is compared with what, and why."""
    for line in lines:
        print(line, flush=True)


def stored_mode_lines(reason: str) -> tuple[str, ...]:
    return (
        "compared: this run against the stored baseline of its hardware and workload (a plain "
        "run; a stored number fails only against a history of runs from 2 or more days)",
        f"why: {reason}",
    )


def against_lines(ref: str) -> tuple[str, ...]:
    return (
        f"compared: this checkout against {ref}, side by side (paired rounds)",
        f"why: --against {ref}",
    )


def _checkout_words(root: Path) -> str:
    from virnucpro.bench.run.envinfo import git_state

    commit, dirty = git_state(root)
    if commit is None:
        return "this checkout"
    state = "with uncommitted changes" if dirty else "no uncommitted changes"
    return f"this checkout ({commit[:12]}, {state})"


def reference_lines(root: Path, reference: Reference, stored: Stored) -> tuple[str, ...]:
    """compared / why / also: the first lines of a quick run."""
    if stored.record is not None:
        also = f"also: {stored_run_words(stored.record)}, {DRIFT_ONLY}"
    else:
        also = f"also: no stored run to show drift against ({stored.problem or stored.key})"
    if reference.sha is None:
        return (
            f"compared: {_checkout_words(root)} alone: {reference.why}",
            f"why: {NO_REFERENCE_VERDICT}, so the verdict is COULD NOT JUDGE (exit 2) unless "
            "the run history judges the total time",
            also,
        )
    return (
        f"compared: {_checkout_words(root)} against {reference.sha[:12]}, side by side "
        "(paired rounds)",
        f"why: {reference.why}",
        also,
    )


def _with_lines(verdict: Verdict, first: tuple[str, ...], last: tuple[str, ...]) -> Verdict:
    return verdict.model_copy(update={"reasons": (*first, *verdict.reasons, *last)})


def _drift(
    doc: ResultsDocument, stored: Stored, options: BenchOptions, thresholds: Thresholds
) -> Drift:
    from virnucpro.cli.bench_run import judging_history

    folder = judging_history(options)
    try:
        history = load_run_history(folder, doc) if folder is not None else None
    except SchemaError as exc:
        return Drift(None, (f"drift: not judged, the run history is unusable: {exc}",))
    return drift_against_stored(doc, stored.record, thresholds=thresholds, history=history)


def run_side_by_side(
    options: BenchOptions,
    *,
    command: str,
    overrides: dict[str, float | int | None],
    run_plain: Callable[[BenchOptions, Callable[[Verdict], Verdict]], int],
    render_ab: Callable[[ABOutcome], None],
) -> int:
    """The quick tier's default: against the reference commit, paired; see the docstring.

    ``run_plain`` runs the plain suites with a verdict review (no reference commit);
    ``render_ab`` prints the A/B outcome.
    """
    from virnucpro.bench.options import validate_options
    from virnucpro.bench.run.runner import anchored, check_machine, find_checkout
    from virnucpro.bench.workload.prepare import prepare_workload
    from virnucpro.cli.ab import run_against, worker_spec
    from virnucpro.cli.bench_run import judging_history, judging_thresholds

    root = find_checkout()
    options = anchored(options, root)
    options = replace(options, output_dir=Path(options.output_dir).resolve())
    validate_options(options)  # every input is checked before anything runs
    check_machine(options)
    thresholds = judging_thresholds(options)
    judging_history(options)
    workload = prepare_workload(options)
    stored = stored_for(options, worker_spec(options, workload.path), workload, root)
    reference = choose_reference(root, stored)
    lines = reference_lines(root, reference, stored)
    say_first(lines)
    if reference.sha is None:
        return run_plain(options, lambda verdict: _alone(verdict, lines))

    def annotate(verdict: Verdict, head: ResultsDocument) -> Verdict:
        return _with_lines(verdict, lines[:2], _drift(head, stored, options, thresholds).lines)

    paired = replace(options, history_dir=None)  # the history judges the drift, not the pairs
    outcome = run_against(
        paired,
        ref=reference.sha,
        label=reference.label,
        command=command,
        overrides=overrides,
        say=lambda text: print(text, file=sys.stderr),
        annotate=annotate,
    )
    render_ab(outcome)
    return outcome.exit_code


def _alone(verdict: Verdict, lines: tuple[str, ...]) -> Verdict:
    """No reference commit: the stored numbers decide only where the history judged the total
    time; otherwise the run could not be judged."""
    from virnucpro.bench.metric_names import TOTAL_TIME_METRIC

    total = next((j for j in verdict.judgements if j.name == TOTAL_TIME_METRIC), None)
    if total is not None and total.history_runs is not None:
        return _with_lines(verdict, lines[:1], ())
    if verdict.outcome in ("invalid", "could_not_judge"):
        return _with_lines(verdict, lines[:1], ())
    return verdict.model_copy(
        update={
            "outcome": "could_not_judge",
            "exit_code": EXIT_FOR_OUTCOME["could_not_judge"],
            "reasons": (lines[0], f"{NO_REFERENCE_VERDICT}: COULD NOT JUDGE", *verdict.reasons),
        }
    )
