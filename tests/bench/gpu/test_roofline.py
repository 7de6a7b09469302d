"""Roofline: FLOP counts from the model config, real vs padded tokens, metrics per round."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from virnucpro.bench.gpu.ceiling import Ceiling, CeilingPlan, ceiling_dtype
from virnucpro.bench.gpu.roofline import (
    StageWork,
    ceiling_metric,
    dnabert_flops,
    esm_flops,
    roofline_metrics,
    stage_work,
)
from virnucpro.engines.fast import FastEngine
from virnucpro.engines.vanilla import VanillaEngine
from virnucpro.models.dnabert import TINY_DNABERT_CONFIG
from virnucpro.models.esm2 import TINY_ESM_CONFIG
from virnucpro.models.presets import load_model_set


def test_esm_flops_follow_the_formula() -> None:
    d, f, layers = 64, TINY_ESM_CONFIG.ffn_dim, TINY_ESM_CONFIG.num_layers
    t = 10 + 2
    expected = layers * (2 * t * (4 * d * d + 2 * d * f) + 4 * t * t * d)
    assert esm_flops(np.array([10]), TINY_ESM_CONFIG) == expected
    assert esm_flops(np.array([10, 10]), TINY_ESM_CONFIG) == 2 * expected


def test_dnabert_flops_follow_the_formula() -> None:
    d, f, layers = 64, 128, 2
    expected = layers * (2 * 7 * (4 * d * d + 3 * d * f) + 4 * 7 * 7 * d)
    assert dnabert_flops(np.array([7]), TINY_DNABERT_CONFIG) == expected


@pytest.fixture(scope="module")
def models():
    return load_model_set(preset="tiny", device="cpu")


PROTEINS = ["M" * 30, "MK" * 5, "A" * 29, "W"]


def test_fast_engine_padding_is_counted_apart(models) -> None:
    engine = FastEngine(precision="fp32", token_budget=64)
    work = stage_work(models, engine, "esm", PROTEINS, torch.float32)
    assert work.real_tokens == sum(len(p) + 2 for p in PROTEINS)
    # budget 64, longest first: [32, 31] then [12, 3] -> 2 * 32 + 2 * 12
    assert work.padded_tokens == 2 * 32 + 2 * 12
    assert work.padding_share == pytest.approx(1 - work.real_tokens / work.padded_tokens)
    assert work.flops == esm_flops(np.array([len(p) for p in PROTEINS]), models.esm.model.config)


def test_vanilla_dnabert_computes_no_padding(models) -> None:
    dna = ["ACGTACGTAAACCCGGGTTT", "ACGT" * 20]
    work = stage_work(models, VanillaEngine(), "dnabert", dna, torch.float32)
    assert work.padded_tokens == work.real_tokens > 0


def test_vanilla_esm_pads_each_batch_to_its_longest(models) -> None:
    work = stage_work(models, VanillaEngine(), "esm", PROTEINS, torch.float32)
    assert work.padded_tokens >= work.real_tokens
    assert work.padded_tokens == VanillaEngine().padded_tokens(models, "esm", PROTEINS)


def test_stage_must_be_a_model_stage(models) -> None:
    with pytest.raises(ValueError, match="stage must be one of"):
        stage_work(models, FastEngine(), "classify", ["A"], torch.float32)


def test_ceiling_dtype_is_the_stages_compute_dtype() -> None:
    assert ceiling_dtype(torch.device("cpu"), "auto") == torch.float32
    assert ceiling_dtype(torch.device("cpu"), "bf16") == torch.bfloat16


def _ceiling(*figures: float) -> Ceiling:
    return Ceiling(
        dtype="float32",
        device="cpu",
        size=2048,
        flops_per_s=figures,
        plan=CeilingPlan(warmup_s=0.0, blocks=len(figures), matmuls=1),
        warmup_seconds=0.3,
        warmup_matmuls=1,
        conditions_reason="no GPU sampler",
    )


def test_the_ceiling_metric_keeps_every_block_and_says_how_it_was_taken() -> None:
    metric = ceiling_metric(_ceiling(4_000.0, 6_000.0))
    assert metric.name == "roofline.ceiling.float32.flops_per_s"
    assert metric.samples == (4_000.0, 6_000.0)
    assert metric.labels["matmul"] == "2048x2048"
    assert metric.labels["timed"] == "2 blocks of 1"
    assert metric.labels["warmup"] == "1 matmuls in 0.30 s"
    assert metric.labels["conditions"] == "clocks and power unavailable (no GPU sampler)"


def test_roofline_metrics_per_round_against_the_best_ceiling_block() -> None:
    work = StageWork("esm", "tiny-esm", "float32", 4, 80, 100, 1_000)
    ceiling = _ceiling(4_000.0, 5_000.0, 3_000.0)
    metrics = {m.name: m for m in roofline_metrics(work, [1.0, 2.0], ceiling)}
    assert metrics["roofline.esm.flops_per_s"].samples == (1_000.0, 500.0)
    assert metrics["roofline.esm.fraction_of_ceiling"].samples == (0.2, 0.1)
    assert metrics["roofline.esm.real_tokens"].samples == (80.0,)
    assert metrics["roofline.esm.padded_tokens"].samples == (100.0,)
