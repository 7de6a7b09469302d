"""The GPU check's table: headline figures judged against the issue's targets."""

from __future__ import annotations

from tools.bench.report.gpu_check import (
    estimate_table,
    estimate_verdict,
    judge,
    judge_step,
    markdown,
    table,
)

THROUGHPUT = {
    "ceiling": {
        "dtype": "bfloat16",
        "flops_per_s": [7.0e14, 7.2e14, 7.1e14],
        "best_flops_per_s": 7.2e14,
        "blocks": 3,
        "matmuls_per_block": 10,
        "warmup_seconds": 1.02,
        "conditions": "SM clock 1980 MHz, power median 690 W, throttle: none",
    },
    "stages": {
        "dnabert": {
            "model": "dnabert-s",
            "tokens_per_s": 900_000.0,
            "fraction_of_ceiling": 0.31,
            "peak_allocated_bytes": 3 * 2**30,
        },
        "esm": {
            "model": "esm2_t36_3B_UR50D",
            "tokens_per_s": 71_000.0,
            "fraction_of_ceiling": 0.55,
            "peak_allocated_bytes": 20 * 2**30,
        },
    },
}


def _step(name: str, figures: dict, status: str = "ok", detail: str = "") -> dict:
    return {"name": name, "status": status, "figures": figures, "detail": detail}


def test_esm_at_or_above_half_the_ceiling_meets_the_target() -> None:
    row = judge_step(_step("throughput", THROUGHPUT), dry_run=False)
    assert row.met == "yes"
    assert "esm2_t36_3B_UR50D: 71,000 tok/s, 55.0% of ceiling, peak 20.0 GiB" in row.figure
    assert (
        "bfloat16 ceiling 720.0 TFLOP/s (best of 3 blocks of 10 after 1.0 s warm-up; "
        "SM clock 1980 MHz, power median 690 W, throttle: none)"
    ) in row.figure
    assert "GPM: not read" in row.figure


def test_gpm_activity_per_stage_shows_in_the_throughput_row() -> None:
    activity = {"gpm": "read", "gpu.esm.sm_active": 91.2, "gpu.esm.tensor_active": 63.0}
    row = judge_step(_step("throughput", {**THROUGHPUT, "gpu_activity": activity}), dry_run=False)
    assert "esm SM active 91%, tensor 63%" in row.figure


def test_esm_below_half_the_ceiling_does_not() -> None:
    slow = {
        **THROUGHPUT,
        "stages": {"esm": {**THROUGHPUT["stages"]["esm"], "fraction_of_ceiling": 0.49}},
    }
    assert judge_step(_step("throughput", slow), dry_run=False).met == "NO"


def test_speedup_target_is_ten_times_vanilla_end_to_end() -> None:
    figures = {
        "seconds": {"vanilla": [30.0, 31.0], "fast": [2.9, 3.0]},
        "speedup": [10.3, 10.3],
        "speedup_median": 10.3,
        "frames": 430,
    }
    row = judge_step(_step("end_to_end", figures), dry_run=False)
    assert (row.met, row.target) == ("yes", ">= 10x")
    low = {**figures, "speedup_median": 9.9}
    assert judge_step(_step("end_to_end", low), dry_run=False).met == "NO"


def test_sampler_overhead_is_judged_only_when_measured() -> None:
    measured = {"sampler_active": True, "median": 0.004, "fractions": [0.01, 0.004, -0.002]}
    row = judge_step(_step("sampler_overhead", measured), dry_run=False)
    assert (row.figure, row.met) == ("+0.40% (median of 3 interleaved pairs)", "yes")
    assert (
        judge_step(_step("sampler_overhead", {**measured, "median": 0.02}), dry_run=False).met
        == "NO"
    )
    absent = {"sampler_active": False, "median": None, "reason": "no NVML", "fractions": [0.1]}
    row = judge_step(_step("sampler_overhead", absent), dry_run=False)
    assert row.met == "-" and "unavailable" in row.figure and "no NVML" in row.figure


def test_a_dry_run_judges_no_target() -> None:
    assert judge_step(_step("throughput", THROUGHPUT), dry_run=True).met == "n/a (dry run)"


def test_a_step_without_figures_shows_its_error_loudly() -> None:
    row = judge_step(_step("end_to_end", {}, "timed out", "stopped at 180 s"), dry_run=False)
    assert (row.status, row.figure, row.met) == ("TIMED OUT", "stopped at 180 s", "-")
    failed = judge_step(
        _step("equivalence", {}, "failed", "RuntimeError: CUDA error"), dry_run=False
    )
    assert failed.status == "FAILED" and failed.figure == "RuntimeError: CUDA error"


def test_unreadable_figures_are_said_not_guessed() -> None:
    row = judge_step(_step("end_to_end", {"speedup_median": 12.0}), dry_run=False)
    assert row.figure.startswith("figures unreadable (KeyError") and row.met == "-"


def test_table_and_markdown_list_every_step() -> None:
    steps = [
        _step("throughput", THROUGHPUT),
        _step("ab_self_check", {}, "not available", "not run: A/B mode not available"),
    ]
    rows = judge(steps, dry_run=False)
    text = table(rows)
    assert text.splitlines()[0].split()[:5] == ["step", "status", "figure", "target", "met"]
    assert "not run: A/B mode not available" in text
    md = markdown(
        {
            "steps": steps,
            "environment": {"gpus": "NVIDIA H200"},
            "seconds": 400,
            "budget_s": 450,
            "started_at": "t",
        },
        rows,
    )
    assert "- gpus: NVIDIA H200" in md and "| throughput" in md
    assert "`ab_self_check` not available: not run: A/B mode not available" in md


ESTIMATE = {
    "steps": [
        {
            "name": "throughput",
            "dry_seconds": 27.9,
            "dry_cpu_seconds": 11.0,
            "host_s": 11.0,
            "gpu_s": 8.9,
            "fixed_s": 30.0,
            "estimate_s": 49.9,
            "limit_s": 70.0,
            "fits": True,
        },
        {
            "name": "gpu_tests",
            "dry_seconds": 12.1,
            "dry_cpu_seconds": 5.9,
            "host_s": 5.9,
            "gpu_s": 0.0,
            "fixed_s": 55.0,
            "estimate_s": 60.9,
            "limit_s": 60.0,
            "fits": False,
        },
    ],
    "seconds": 110.8,
    "budget_s": 450.0,
    "fits": False,
}


def test_the_estimate_says_which_step_does_not_fit() -> None:
    text = estimate_table(ESTIMATE)
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["step", "dry", "run", "wall"]
    assert " ".join(lines[2].split()) == (
        "throughput 27.9 s 11.0 s 11.0 s 8.9 s 30.0 s 49.9 s 70.0 s yes"
    )
    assert lines[3].split()[-1] == "NO"
    assert lines[4].split() == ["all", "steps", "110.8", "s", "450.0", "s", "budget", "yes"]
    assert estimate_verdict(ESTIMATE) == (
        "estimated time on the GPU machine: 111 s of the 450 s budget: DOES NOT FIT "
        "(over their limit: gpu_tests)"
    )


def test_the_summary_shows_the_estimate_of_a_dry_run() -> None:
    summary = {"dry_run": True, "steps": [], "estimate": {**ESTIMATE, "fits": True}}
    text = markdown(summary, [])
    assert "## Estimated time on the GPU machine" in text
    assert "| throughput |" in text.replace("  ", " ").replace("  ", " ")


def test_the_attention_kernel_shows_beside_each_model() -> None:
    stages = {
        k: {**v, "attention_kernel": "flash_attention"} for k, v in THROUGHPUT["stages"].items()
    }
    row = judge_step(_step("throughput", {**THROUGHPUT, "stages": stages}), dry_run=False)
    assert "55.0% of ceiling, peak 20.0 GiB, attention flash_attention" in row.figure
