"""The GPU check's summary: each step's headline figure judged against its target, as a table.

Input is the step outcomes of :mod:`virnucpro.bench.gpu_check.plan` (plain dictionaries, the
form ``summary.json`` keeps). Targets (issue 11): ESM-2 3B at least half the measured bf16
ceiling; fast at least 10x vanilla end to end at 3B size; the GPU sampler at most 1% of
throughput. A dry run (tiny models on the CPU) judges no target: its sizes say nothing.
A step that did not give its figure is never judged as met.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

from tools.bench.report.targets import MIN_SPEEDUP
from tools.bench.thresholds import MAX_SAMPLER_OVERHEAD, MIN_ESM_CEILING_FRACTION

SUMMARY_KIND = "virnucpro-gpu-check"
SUMMARY_VERSION = 1
NOT_JUDGED_DRY = "n/a (dry run)"
STATUS_WORDS = {
    "ok": "ok",
    "failed": "FAILED",
    "timed out": "TIMED OUT",
    "not run": "NOT RUN",
    "not available": "not available",
}
GIB = 2**30

Step = Mapping[str, Any]


@dataclass(frozen=True)
class Row:
    """One line of the summary table."""

    step: str
    status: str
    figure: str
    target: str
    met: str  # "yes" | "NO" | "n/a (...)" | "-"

    def as_dict(self) -> dict[str, str]:
        return {
            "step": self.step,
            "status": self.status,
            "figure": self.figure,
            "target": self.target,
            "met": self.met,
        }


def _pct(value: float | None) -> str:
    return "unavailable" if value is None else f"{value:.1%}"


def _flops(value: float) -> str:
    return f"{value / 1e12:.1f} TFLOP/s" if value >= 1e12 else f"{value / 1e9:.1f} GFLOP/s"


def _number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _met(ok: bool | None, dry_run: bool) -> str:
    if dry_run:
        return NOT_JUDGED_DRY
    if ok is None:
        return "-"
    return "yes" if ok else "NO"


def _throughput(figures: Mapping[str, Any], dry_run: bool) -> tuple[str, str, str]:
    stages = figures.get("stages", {})
    parts = []
    for stage in stages.values():
        peak = stage.get("peak_allocated_bytes")
        memory = f", peak {peak / GIB:.1f} GiB" if peak else ""
        kernel = f", attention {stage['attention_kernel']}" if stage.get("attention_kernel") else ""
        parts.append(
            f"{stage['model']}: {stage['tokens_per_s']:,.0f} tok/s, "
            f"{_pct(stage['fraction_of_ceiling'])} of ceiling{memory}{kernel}"
        )
    ceiling = figures.get("ceiling", {})
    if ceiling.get("best_flops_per_s"):
        parts.append(
            f"{ceiling['dtype']} ceiling {_flops(ceiling['best_flops_per_s'])} (best of "
            f"{ceiling['blocks']} blocks of {ceiling['matmuls_per_block']} after "
            f"{ceiling['warmup_seconds']:.1f} s warm-up; {ceiling['conditions']})"
        )
    activity = figures.get("gpu_activity", {})
    busy = [
        f"{stage} SM active {activity[f'gpu.{stage}.sm_active']:.0f}%, tensor "
        f"{activity[f'gpu.{stage}.tensor_active']:.0f}%"
        for stage in stages
        if isinstance(activity.get(f"gpu.{stage}.sm_active"), float)
        and isinstance(activity.get(f"gpu.{stage}.tensor_active"), float)
    ]
    parts += busy or [f"GPM: {activity.get('gpm') or activity.get('unavailable', 'not read')}"]
    esm = stages.get("esm", {}).get("fraction_of_ceiling")
    met = None if esm is None else esm >= MIN_ESM_CEILING_FRACTION
    target = f"ESM-2 >= {MIN_ESM_CEILING_FRACTION:.0%} of ceiling"
    return "; ".join(parts), target, _met(met, dry_run)


def _end_to_end(figures: Mapping[str, Any], dry_run: bool) -> tuple[str, str, str]:
    seconds = figures["seconds"]
    speedup = figures["speedup_median"]

    def median(xs: Sequence[float]) -> float:
        return sorted(xs)[len(xs) // 2]

    figure = (
        f"vanilla {median(seconds['vanilla']):.2f} s, fast {median(seconds['fast']):.2f} s: "
        f"{speedup:.2f}x (median of {len(figures['speedup'])}, {figures['frames']} frames)"
    )
    return figure, f">= {MIN_SPEEDUP:g}x", _met(speedup >= MIN_SPEEDUP, dry_run)


def _equivalence(figures: Mapping[str, Any], dry_run: bool) -> tuple[str, str, str]:
    figure = (
        f"labels {_pct(figures['label_agreement'])}, min cosine DNABERT "
        f"{figures['min_cosine_dnabert']:.4f} / ESM {figures['min_cosine_esm']:.4f}, "
        f"max score diff {figures['max_score_diff']:.3g}"
    )
    failures = figures.get("failures") or []
    if failures:
        figure += f"; failed: {'; '.join(failures)}"
    return figure, "equivalence criteria", _met(bool(figures["passed"]), dry_run)


def _overhead(figures: Mapping[str, Any], dry_run: bool) -> tuple[str, str, str]:
    target = f"<= {MAX_SAMPLER_OVERHEAD:.0%}"
    median = figures.get("median")
    if not figures.get("sampler_active") or median is None:
        return f"unavailable (sampler not polling: {figures.get('reason')})", target, "-"
    figure = f"{median:+.2%} (median of {len(figures['fractions'])} interleaved pairs)"
    return figure, target, _met(median <= MAX_SAMPLER_OVERHEAD, dry_run)


def _gpu_tests(figures: Mapping[str, Any], dry_run: bool) -> tuple[str, str, str]:
    counts = figures.get("counts", {})
    text = ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "no summary line"
    return text, "all pass", "-"


def _quick(figures: Mapping[str, Any], dry_run: bool) -> tuple[str, str, str]:
    medians = figures.get("medians", {})
    validity = {True: "valid", False: "INVALID", None: "validity unknown"}[figures.get("valid")]
    parts = [validity]
    parts += [f"{name} {_number(value)}" for name, value in medians.items() if value is not None]
    return "; ".join(str(p) for p in parts), "valid run", "-"


FIGURES: dict[str, Callable[[Mapping[str, Any], bool], tuple[str, str, str]]] = {
    "throughput": _throughput,
    "end_to_end": _end_to_end,
    "equivalence": _equivalence,
    "sampler_overhead": _overhead,
    "gpu_tests": _gpu_tests,
    "quick_tier": _quick,
    "ab_self_check": _quick,
}


def judge_step(step: Step, *, dry_run: bool) -> Row:
    """The table row of one step; a step without figures shows its error or reason."""
    status = STATUS_WORDS.get(step["status"], step["status"])
    if step["status"] != "ok" and not step.get("figures"):
        return Row(step["name"], status, step.get("detail") or "-", "-", "-")
    try:
        figure, target, met = FIGURES[step["name"]](step.get("figures", {}), dry_run)
    except (KeyError, TypeError, ZeroDivisionError) as exc:
        figure, target, met = f"figures unreadable ({type(exc).__name__}: {exc})", "-", "-"
    if step["status"] != "ok" and step.get("detail"):
        figure = f"{figure}; {step['detail']}"
    return Row(step["name"], status, figure, target, met)


def judge(steps: Sequence[Step], *, dry_run: bool) -> list[Row]:
    return [judge_step(step, dry_run=dry_run) for step in steps]


HEADERS = ("step", "status", "figure", "target", "met")


def table(rows: Sequence[Row], *, fmt: str = "simple") -> str:
    """The short table printed last (``fmt="github"`` for markdown)."""
    return tabulate(
        [[r.step, r.status, r.figure, r.target, r.met] for r in rows],
        headers=HEADERS,
        tablefmt=fmt,
        maxcolwidths=[None, None, 90, None, None] if fmt == "simple" else None,
    )


ESTIMATE_HEADERS = (
    "step",
    "dry run wall",
    "dry run CPU",
    "host",
    "GPU compute",
    "fixed",
    "estimate on the GPU",
    "GPU limit",
    "fits",
)


def _seconds(value: float | None) -> str:
    return "not timed" if value is None else f"{value:.1f} s"


def estimate_table(estimate: Mapping[str, Any], *, fmt: str = "simple") -> str:
    """The dry run's estimate of each step on the GPU machine, and the total against the budget
    (see :mod:`virnucpro.bench.gpu_check.estimate`)."""
    rows = [
        [
            step["name"],
            _seconds(step["dry_seconds"]),
            _seconds(step["dry_cpu_seconds"]),
            _seconds(step["host_s"]),
            _seconds(step["gpu_s"]),
            _seconds(step["fixed_s"]),
            _seconds(step["estimate_s"]),
            _seconds(step["limit_s"]),
            "yes" if step["fits"] else "NO",
        ]
        for step in estimate["steps"]
    ]
    total = estimate["seconds"] <= estimate["budget_s"]
    rows.append(["all steps", "", "", "", "", "", _seconds(estimate["seconds"])])
    rows[-1] += [_seconds(estimate["budget_s"]) + " budget", "yes" if total else "NO"]
    return tabulate(rows, headers=ESTIMATE_HEADERS, tablefmt=fmt)


def estimate_verdict(estimate: Mapping[str, Any]) -> str:
    """One line: whether every step fits its limit and all of them the budget."""
    words = "fits" if estimate["fits"] else "DOES NOT FIT"
    late = [s["name"] for s in estimate["steps"] if not s["fits"]]
    over = f" (over their limit: {', '.join(late)})" if late else ""
    return (
        f"estimated time on the GPU machine: {estimate['seconds']:.0f} s of the "
        f"{estimate['budget_s']:.0f} s budget: {words}{over}"
    )


def markdown(summary: Mapping[str, Any], rows: Sequence[Row]) -> str:
    """``summary.md``: what ran where, the table, and every step's error in full."""
    env = summary.get("environment", {})
    lines = [
        "# GPU check" + (" (dry run: tiny sizes on the CPU)" if summary.get("dry_run") else ""),
        "",
        f"- started {summary.get('started_at')}, {summary.get('seconds', 0):.0f} s in all "
        f"(budget {summary.get('budget_s', 0):.0f} s)",
        *(f"- {key}: {value}" for key, value in env.items()),
        "",
        table(rows, fmt="github"),
        "",
    ]
    estimate = summary.get("estimate")
    if estimate:
        lines += ["## Estimated time on the GPU machine", "", estimate_verdict(estimate), ""]
        lines += [estimate_table(estimate, fmt="github"), ""]
    problems = [s for s in summary.get("steps", []) if s["status"] != "ok"]
    if problems:
        lines += ["## Steps not ok", ""]
        lines += [f"- `{s['name']}` {s['status']}: {s.get('detail') or '-'}" for s in problems]
        lines.append("")
    return "\n".join(lines)
