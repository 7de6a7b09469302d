"""ESM2 against fair-esm's own esm.model.esm2.ESM2, sdpa against eager, and random builds."""

from __future__ import annotations

import hashlib

import pytest
import torch
from esm.model.esm2 import ESM2 as FairESM2

from virnucpro.models.esm2 import (
    ESM2,
    ESM2_SIZES,
    INIT_STD,
    TINY_ESM_CONFIG,
    EsmConfig,
    build_random_esm,
)
from virnucpro.models.esm_alphabet import EsmAlphabet

ALPHABET = EsmAlphabet()
FP32_TOL = 1e-5
HEAD_PREFIXES = ("lm_head.", "contact_head.")
# sha256 of the tiny preset's fp32 weights for seed 0: changes only if the weights change.
TINY_SEED0_SHA256 = "ccb9209585a5daf4a001df8516c122e399bd43da1d379f88c4f444f6bd149274"
PADDED_SEQS = ["MKTAYIAKQRQISFVKSHFSRQ", "MK", "ACDEFGHIKLMNPQRSTVWYJJ", "MKTAYIAKQR" * 3, "W"]


def _perturbed_fair_esm(config: EsmConfig, *, seed: int = 0) -> FairESM2:
    """fair-esm's ESM2 with every parameter moved off its init (LayerNorms and biases too)."""
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(seed)
        model = FairESM2(
            num_layers=config.num_layers,
            embed_dim=config.embed_dim,
            attention_heads=config.attention_heads,
            alphabet="ESM-1b",
            token_dropout=config.token_dropout,
        ).eval()
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.1)
    return model


def _ours_from(fair: FairESM2, config: EsmConfig) -> ESM2:
    ours = ESM2(config).eval()
    result = ours.load_state_dict(fair.state_dict(), strict=False)
    assert result.missing_keys == []
    assert all(k.startswith(HEAD_PREFIXES) for k in result.unexpected_keys)
    return ours


def _padded_tokens() -> torch.Tensor:
    tokens = ALPHABET.batch_tokens(PADDED_SEQS)
    tokens[0, 5] = ALPHABET.mask_idx  # exercises the token-dropout rescaling
    return tokens


def _fair_last_layer(fair: FairESM2, tokens: torch.Tensor) -> torch.Tensor:
    layer = fair.num_layers
    return fair(tokens, repr_layers=[layer])["representations"][layer]


def _max_diff_at(a: torch.Tensor, b: torch.Tensor, keep: torch.Tensor) -> float:
    return float((a - b).abs()[keep].max())


def test_state_dict_keys_are_fair_esm_minus_heads() -> None:
    fair_keys = set(_perturbed_fair_esm(TINY_ESM_CONFIG).state_dict())
    ours_keys = set(ESM2(TINY_ESM_CONFIG).state_dict())
    assert ours_keys == {k for k in fair_keys if not k.startswith(HEAD_PREFIXES)}


@pytest.mark.parametrize("token_dropout", [True, False])
@torch.no_grad()
def test_last_layer_matches_fair_esm_on_padded_batch(token_dropout: bool) -> None:
    config = EsmConfig(
        "t", num_layers=2, embed_dim=64, attention_heads=4, token_dropout=token_dropout
    )
    fair = _perturbed_fair_esm(config)
    ours = _ours_from(fair, config)
    tokens = _padded_tokens()
    assert tokens.eq(ALPHABET.padding_idx).any() and tokens.eq(ALPHABET.unk_idx).any()
    expected = _fair_last_layer(fair, tokens)
    got = ours(tokens)
    assert got.shape == (len(PADDED_SEQS), tokens.shape[1], config.embed_dim)
    assert float((got - expected).abs().max()) <= FP32_TOL  # padded rows included


@torch.no_grad()
def test_last_layer_matches_fair_esm_unpadded_odd_heads() -> None:
    config = EsmConfig("t", num_layers=3, embed_dim=48, attention_heads=6)
    fair = _perturbed_fair_esm(config, seed=1)
    tokens = ALPHABET.batch_tokens(["MKTAYIAKQR", "ACDEFGHIKL"])
    expected = _fair_last_layer(fair, tokens)
    assert float((_ours_from(fair, config)(tokens) - expected).abs().max()) <= FP32_TOL


@torch.no_grad()
def test_sdpa_matches_eager_at_non_padded_positions() -> None:
    fair = _perturbed_fair_esm(TINY_ESM_CONFIG)
    ours = _ours_from(fair, TINY_ESM_CONFIG)
    padded = _padded_tokens()
    keep = padded.ne(ALPHABET.padding_idx)
    assert _max_diff_at(ours(padded, attn_impl="sdpa"), ours(padded), keep) <= FP32_TOL
    unpadded = ALPHABET.batch_tokens(["MKTAYIAKQR", "ACDEFGHIKL"])
    diff = (ours(unpadded, attn_impl="sdpa") - ours(unpadded)).abs().max()
    assert float(diff) <= FP32_TOL


@pytest.mark.parametrize("attn_impl", ["eager", "sdpa"])
@torch.no_grad()
def test_padding_does_not_leak_into_other_rows(attn_impl: str) -> None:
    model = build_random_esm(TINY_ESM_CONFIG, seed=5)
    batch = model(ALPHABET.batch_tokens(["MKTAYIAKQR", "MK"]), attn_impl=attn_impl)
    alone = model(ALPHABET.batch_tokens(["MK"]), attn_impl=attn_impl)
    assert float((batch[1, :4] - alone[0]).abs().max()) <= FP32_TOL


@torch.no_grad()
def test_padding_told_by_the_caller_changes_nothing() -> None:
    """``padded`` from the host gives what the model computes without being told: with a mask
    on a padded batch, and on an unpadded one without (eager: masking nothing is bit for bit
    no mask, so fair-esm's arithmetic is kept either way)."""
    model = build_random_esm(TINY_ESM_CONFIG, seed=5)
    padded = ALPHABET.batch_tokens(["MKTAYIAKQR", "MK"])
    unpadded = ALPHABET.batch_tokens(["MKTAYIAKQR", "ACDEFGHIKL"])
    for attn_impl in ("eager", "sdpa"):
        told = model(padded, attn_impl=attn_impl, padded=True)
        assert torch.equal(told, model(padded, attn_impl=attn_impl))
    assert torch.equal(model(unpadded, padded=False), model(unpadded))


def test_sdpa_backend_names_the_kernel_torch_picks() -> None:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    model = build_random_esm(TINY_ESM_CONFIG, seed=5)
    tokens = ALPHABET.batch_tokens(["MKTAYIAKQR", "MK"])
    with sdpa_kernel(SDPBackend.MATH):
        assert model.sdpa_backend(tokens, padded=True) == "math"
    assert model.sdpa_backend(tokens, padded=True) in ("flash_attention", "math")  # the CPU's


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@torch.no_grad()
def test_on_a_gpu_the_kernel_named_is_the_one_that_runs() -> None:
    """Unpadded batches run without a mask (flash or cuDNN), padded ones a kernel that takes
    one; the profiler sees the very kernel ``sdpa_backend`` names."""
    from torch.profiler import ProfilerActivity, profile

    model = build_random_esm(TINY_ESM_CONFIG, seed=3, device="cuda", dtype=torch.bfloat16)
    cases = {
        False: (ALPHABET.batch_tokens(["MKTAYIAKQR", "ACDEFGHIKL"]).cuda(), "flash_attention"),
        True: (_padded_tokens().cuda(), "efficient_attention"),
    }
    for padded, (tokens, usual) in cases.items():
        backend = model.sdpa_backend(tokens, padded=padded)
        assert backend in (usual, "cudnn_attention"), backend
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            model(tokens, attn_impl="sdpa", padded=padded)
            torch.cuda.synchronize()
        ran = {event.key for event in prof.key_averages()}
        assert f"aten::_scaled_dot_product_{backend}" in ran, sorted(ran)


def test_unknown_attn_impl_is_rejected() -> None:
    model = build_random_esm(TINY_ESM_CONFIG, seed=0)
    with pytest.raises(ValueError, match="attn_impl"):
        model(ALPHABET.batch_tokens(["MK"]), attn_impl="flash")  # type: ignore[arg-type]


def _weights_sha256(model: ESM2) -> str:
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.float().contiguous().numpy().tobytes())
    return digest.hexdigest()


def test_build_random_esm_is_deterministic_and_seed_dependent() -> None:
    first = build_random_esm(TINY_ESM_CONFIG, seed=0)
    again = build_random_esm(TINY_ESM_CONFIG, seed=0)
    other = build_random_esm(TINY_ESM_CONFIG, seed=1)
    assert _weights_sha256(first) == _weights_sha256(again) == TINY_SEED0_SHA256
    assert _weights_sha256(other) != _weights_sha256(first)
    assert not first.training
    assert not any(p.requires_grad for p in first.parameters())


def test_build_random_esm_distribution() -> None:
    model = build_random_esm(TINY_ESM_CONFIG, seed=0)
    fc1 = model.layers[0].fc1.weight
    assert abs(float(fc1.std()) - INIT_STD) < 0.1 * INIT_STD
    assert abs(float(fc1.mean())) < 0.1 * INIT_STD
    norm = model.layers[1].final_layer_norm
    assert torch.equal(norm.weight, torch.ones_like(norm.weight))
    assert torch.equal(norm.bias, torch.zeros_like(norm.bias))
    assert not torch.equal(model.layers[0].fc1.weight, model.layers[1].fc1.weight)


def test_build_random_esm_low_precision_is_the_fp32_weights_rounded() -> None:
    fp32 = build_random_esm(TINY_ESM_CONFIG, seed=2)
    bf16 = build_random_esm(TINY_ESM_CONFIG, seed=2, dtype=torch.bfloat16)
    for (name, low), high in zip(
        bf16.state_dict().items(), fp32.state_dict().values(), strict=True
    ):
        assert low.dtype == torch.bfloat16, name
        if not name.endswith("inv_freq"):
            assert torch.equal(low, high.to(torch.bfloat16)), name
    out = bf16(ALPHABET.batch_tokens(["MKTAYIAKQR", "MK"]))
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()


def test_registry_sizes_match_the_published_table() -> None:
    table = {
        name: (c.num_layers, c.embed_dim, c.attention_heads, c.ffn_dim)
        for name, c in ESM2_SIZES.items()
    }
    assert table == {
        "esm2_t6_8M_UR50D": (6, 320, 20, 1280),
        "esm2_t12_35M_UR50D": (12, 480, 20, 1920),
        "esm2_t30_150M_UR50D": (30, 640, 20, 2560),
        "esm2_t33_650M_UR50D": (33, 1280, 20, 5120),
        "esm2_t36_3B_UR50D": (36, 2560, 40, 10240),
    }
    assert all(c.vocab_size == 33 and c.token_dropout for c in ESM2_SIZES.values())


def test_parameter_count_of_the_3b_size() -> None:
    model = ESM2(ESM2_SIZES["esm2_t36_3B_UR50D"], device="meta")
    # the 3B encoder without LM head holds 2.83e9 parameters ("3B").
    assert 2.8e9 < sum(p.numel() for p in model.parameters()) < 2.9e9


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@torch.no_grad()
def test_low_precision_sdpa_on_gpu_tracks_fp32_eager(dtype: torch.dtype) -> None:
    reference = build_random_esm(TINY_ESM_CONFIG, seed=3)
    fast = build_random_esm(TINY_ESM_CONFIG, seed=3, device="cuda", dtype=dtype)
    tokens = ALPHABET.batch_tokens(PADDED_SEQS * 4)
    keep = tokens.ne(ALPHABET.padding_idx)
    expected = reference(tokens)[keep]
    got = fast(tokens.cuda(), attn_impl="sdpa").float().cpu()[keep]
    cosine = torch.nn.functional.cosine_similarity(got, expected, dim=-1)
    assert float(cosine.min()) > 0.999


def test_weights_drawn_on_the_device_are_seeded_and_normal() -> None:
    first = build_random_esm(TINY_ESM_CONFIG, seed=5, draw_on_device=True)
    again = build_random_esm(TINY_ESM_CONFIG, seed=5, draw_on_device=True)
    other = build_random_esm(TINY_ESM_CONFIG, seed=6, draw_on_device=True)
    for (name, a), b, c in zip(
        first.named_parameters(), again.parameters(), other.parameters(), strict=True
    ):
        assert torch.equal(a, b), name
        if "layer_norm" not in name and a.numel() > 100:
            assert not torch.equal(a, c), name
            assert abs(float(a.std()) - 0.02) < 0.005, name
