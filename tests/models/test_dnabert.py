"""Tests for the DNABERT-2 encoder: ALiBi, masking, attention paths, pooling, init."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from virnucpro.models.dnabert import (
    DNABERT_S_CONFIG,
    PAD_KEY_BIAS,
    TINY_DNABERT_CONFIG,
    DnaBert,
    DnaBertConfig,
    alibi_bias,
    alibi_slopes,
    build_random_dnabert,
    count_parameters,
    mean_pool,
)
from virnucpro.models.dnabert_tokenizer import build_tiny_tokenizer
from virnucpro.models.sdpa import aligned_rows

SEQUENCES = ("ACGTACGTTTGACCA", "GGC", "ACGTTGCAACGTAGCTAGCTAGGATCCA", "TTTTAAAACG")
TOKENIZER = build_tiny_tokenizer()
CPU_ATOL = 1e-5
WEIGHT_SCALE = 10.0


@pytest.fixture(scope="module")
def model() -> DnaBert:
    return build_random_dnabert(TINY_DNABERT_CONFIG, seed=7)


def padded_batch(sequences: tuple[str, ...] = SEQUENCES) -> tuple[Tensor, Tensor]:
    """Right-padded ids and mask, the way a batched engine builds them."""
    ids = TOKENIZER.encode_batch(sequences)
    width = max(map(len, ids))
    rows = [row + [TOKENIZER.pad_id] * (width - len(row)) for row in ids]
    mask = [[1] * len(row) + [0] * (width - len(row)) for row in ids]
    return torch.tensor(rows), torch.tensor(mask)


def test_alibi_slopes_for_8_heads_by_hand() -> None:
    # start = 2**(-2**-(3 - 3)) = 1/2; slope_h = (1/2) * (1/2)**h
    expected = [1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256]
    assert alibi_slopes(8).tolist() == expected


def test_alibi_slopes_for_12_heads_by_hand() -> None:
    # 8-head slopes, then slopes 0, 2, 4, 6 of the 16-head list 2**(-(h + 1) / 2).
    first = [1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256]
    rest = [0.7071067811865476, 0.35355339059327373, 0.17677669529663687, 0.08838834764831843]
    assert torch.allclose(alibi_slopes(12), torch.tensor(first + rest), rtol=0, atol=1e-7)
    assert alibi_slopes(12).dtype == torch.float32


def test_alibi_slopes_for_6_heads_by_hand() -> None:
    # 4-head slopes (start 1/4), then slopes 0 and 2 of the 8-head list.
    assert alibi_slopes(6).tolist() == [1 / 4, 1 / 16, 1 / 64, 1 / 256, 1 / 2, 1 / 8]


def test_alibi_bias_is_symmetric_with_zero_diagonal() -> None:
    bias = alibi_bias(12, 9)
    assert bias.shape == (12, 9, 9)
    assert torch.equal(bias, bias.transpose(1, 2))
    assert torch.all(bias.diagonal(dim1=1, dim2=2) == 0)
    assert bias[0, 0, 3].item() == -1.5  # -slope_0 * |0 - 3| = -(1/2) * 3
    assert bias[1, 7, 2].item() == -1.25  # -(1/4) * 5


def test_attention_bias_masks_padded_keys_only(model: DnaBert) -> None:
    _, mask = padded_batch()
    length = mask.shape[1]
    bias = model.attention_bias(mask, length, torch.device("cpu"), torch.float32)
    alibi = alibi_bias(TINY_DNABERT_CONFIG.num_attention_heads, length)
    expected = alibi[None] + (1 - mask.float())[:, None, None, :] * PAD_KEY_BIAS
    assert bias.shape == (len(SEQUENCES), TINY_DNABERT_CONFIG.num_attention_heads, length, length)
    assert torch.equal(bias, expected)


def _unaligned_batch() -> tuple[Tensor, Tensor]:
    ids, mask = padded_batch()
    assert ids.shape[1] % 8, "the test needs a length the fused kernels would pad"
    return ids, mask


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_padded_bias_rows_are_aligned_for_the_fused_kernels(
    model: DnaBert, dtype: torch.dtype
) -> None:
    """The per-batch bias is laid out so SDPA's memory-efficient kernel takes it as it is (no
    copy padded in every layer), in the compute dtype, equal to ALiBi plus the padding term."""
    _, mask = _unaligned_batch()
    length = mask.shape[1]
    bias = model.attention_bias(mask, length, torch.device("cpu"), dtype)
    assert bias.dtype == dtype
    assert bias.shape == (len(SEQUENCES), TINY_DNABERT_CONFIG.num_attention_heads, length, length)
    assert aligned_rows(bias), bias.stride()
    alibi = alibi_bias(TINY_DNABERT_CONFIG.num_attention_heads, length).to(dtype)
    pad = ((1 - mask.float()) * PAD_KEY_BIAS).to(dtype)
    assert torch.equal(bias, alibi[None] + pad[:, None, None, :])  # the unaligned formula


def test_unpadded_bias_rows_are_aligned_too(model: DnaBert) -> None:
    bias = model.attention_bias(None, 21, torch.device("cpu"), torch.bfloat16)
    assert bias.shape == (1, TINY_DNABERT_CONFIG.num_attention_heads, 21, 21)
    assert aligned_rows(bias), bias.stride()


def test_an_odd_position_table_keeps_the_cached_alibi_aligned() -> None:
    config = DnaBertConfig(
        vocab_size=TINY_DNABERT_CONFIG.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=100,
    )
    odd = build_random_dnabert(config, seed=1)
    assert aligned_rows(odd.attention_bias(None, 7, torch.device("cpu"), torch.float32))


def test_the_aligned_bias_changes_no_output(model: DnaBert, monkeypatch) -> None:
    """The same forward with the bias copied to a plain contiguous tensor gives the same bits."""
    ids, mask = _unaligned_batch()
    with torch.no_grad():
        aligned = {impl: model(ids, mask, attn_impl=impl) for impl in ("eager", "sdpa")}
        build = DnaBert.attention_bias
        monkeypatch.setattr(
            DnaBert, "attention_bias", lambda self, *args: build(self, *args).contiguous()
        )
        for impl, expected in aligned.items():
            assert torch.equal(model(ids, mask, attn_impl=impl), expected), impl


def test_sdpa_backend_names_the_kernel_torch_picks(model: DnaBert) -> None:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    ids, mask = _unaligned_batch()
    with sdpa_kernel(SDPBackend.MATH):
        assert model.sdpa_backend(ids, mask) == "math"
        with torch.no_grad():
            model(ids, mask, attn_impl="sdpa")  # and it runs under the kernel named
    assert model.sdpa_backend(ids, mask) in ("flash_attention", "math")  # the CPU's two
    with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION), pytest.raises(RuntimeError, match="backend"):
        model.sdpa_backend(ids, mask)  # no CPU kernel is left: torch's own error


def _ops_run(call) -> set[str]:
    """The names of the aten ops ``call()`` runs (CUDA synchronized before the profile ends)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        call()
        torch.cuda.synchronize()
    return {event.key for event in prof.key_averages()}


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@torch.no_grad()
def test_padded_batches_run_a_fused_kernel_without_padding_the_bias(dtype: torch.dtype) -> None:
    """On a GPU a masked batch runs a fused kernel that takes a bias (flash takes none), the
    one ``sdpa_backend`` names, and no layer pads the bias: no ``constant_pad_nd`` runs. Forced
    to the memory-efficient kernel (the one that pads unaligned biases) it runs and pads none."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    from torch.nn.attention import SDPBackend, sdpa_kernel

    ids, mask = _unaligned_batch()
    ids, mask = ids.cuda(), mask.cuda()
    gpu = build_random_dnabert(TINY_DNABERT_CONFIG, seed=7, device="cuda", dtype=dtype)
    backend = gpu.sdpa_backend(ids, mask)
    assert backend in ("efficient_attention", "cudnn_attention"), backend
    ran = _ops_run(lambda: gpu(ids, mask, attn_impl="sdpa"))
    assert f"aten::_scaled_dot_product_{backend}" in ran, sorted(ran)
    assert "aten::constant_pad_nd" not in ran, sorted(ran)
    with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):  # raises if it cannot run
        assert gpu.sdpa_backend(ids, mask) == "efficient_attention"
        ran = _ops_run(lambda: gpu(ids, mask, attn_impl="sdpa"))
    assert "aten::_scaled_dot_product_efficient_attention" in ran, sorted(ran)
    assert "aten::constant_pad_nd" not in ran, sorted(ran)


def test_alibi_is_cached_not_rebuilt(model: DnaBert) -> None:
    first = model.attention_bias(None, 20, torch.device("cpu"), torch.float32)
    second = model.attention_bias(None, 30, torch.device("cpu"), torch.float32)
    assert first.untyped_storage().data_ptr() == second.untyped_storage().data_ptr()


def test_padded_tokens_do_not_leak_into_real_positions(model: DnaBert) -> None:
    ids, mask = padded_batch()
    noise = torch.randint(5, 80, ids.shape, generator=torch.Generator().manual_seed(0))
    scrambled = torch.where(mask.bool(), ids, noise)
    with torch.no_grad():
        reference = model(ids, mask)
        other = model(scrambled, mask)
    assert torch.allclose(reference, other, atol=CPU_ATOL, rtol=0)


def test_padded_positions_are_zero(model: DnaBert) -> None:
    ids, mask = padded_batch()
    with torch.no_grad():
        hidden = model(ids, mask)
    assert torch.all(hidden[mask == 0] == 0)
    assert torch.all(hidden[mask == 1].abs().sum(-1) > 0)


def test_eager_matches_sdpa_on_a_padded_batch(model: DnaBert) -> None:
    ids, mask = padded_batch()
    with torch.no_grad():
        eager = model(ids, mask, attn_impl="eager")
        sdpa = model(ids, mask, attn_impl="sdpa")
    real = mask.bool()
    assert torch.allclose(eager[real], sdpa[real], atol=CPU_ATOL, rtol=0)


def test_sequence_alone_equals_sequence_in_a_padded_batch(model: DnaBert) -> None:
    ids, mask = padded_batch()
    with torch.no_grad():
        batched = model(ids, mask)
        for row, sequence in enumerate(SEQUENCES):
            alone = model(torch.tensor([TOKENIZER.encode(sequence)]))[0]
            length = alone.shape[0]
            assert torch.allclose(alone, batched[row, :length], atol=CPU_ATOL, rtol=0)


def test_forward_matches_a_hand_written_reference() -> None:
    model = build_random_dnabert(TINY_DNABERT_CONFIG, seed=5)
    with torch.no_grad():  # larger weights: GELU inputs of order 1, where erf and tanh GELU differ
        for name, parameter in model.named_parameters():
            if "LayerNorm" not in name and "layernorm" not in name:
                parameter.mul_(WEIGHT_SCALE)
    ids = torch.tensor([TOKENIZER.encode(SEQUENCES[2])])
    with torch.no_grad():
        hidden = model(ids)[0]
        expected = reference_forward(model, ids[0])
    assert torch.allclose(hidden, expected, atol=CPU_ATOL, rtol=0)


def reference_forward(model: DnaBert, ids: Tensor) -> Tensor:
    """The spec's layer description written out for one unpadded sequence, head by head."""
    weights = model.state_dict()
    config = model.config
    width, heads, inner = config.hidden_size, config.num_attention_heads, config.intermediate_size
    d = width // heads
    slopes = [1 / 4, 1 / 16, 1 / 64, 1 / 256]  # 4 heads: start = 2**(-2**-(2 - 3)) = 1/4
    distance = (torch.arange(len(ids))[None, :] - torch.arange(len(ids))[:, None]).abs()

    def norm(x: Tensor, prefix: str) -> Tensor:
        return torch.nn.functional.layer_norm(
            x, (width,), weights[prefix + ".weight"], weights[prefix + ".bias"], 1e-12
        )

    x = weights["embeddings.word_embeddings.weight"][ids]
    x = norm(x + weights["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
    for i in range(config.num_hidden_layers):
        p = f"encoder.layer.{i}."
        qkv = (
            x @ weights[p + "attention.self.Wqkv.weight"].T
            + weights[p + "attention.self.Wqkv.bias"]
        )
        q, k, v = qkv[:, :width], qkv[:, width : 2 * width], qkv[:, 2 * width :]
        heads_out = []
        for h in range(heads):
            cols = slice(h * d, (h + 1) * d)
            scores = q[:, cols] @ k[:, cols].T / math.sqrt(d) - slopes[h] * distance
            heads_out.append(torch.softmax(scores, dim=-1) @ v[:, cols])
        attended = torch.cat(heads_out, dim=-1)
        dense = attended @ weights[p + "attention.output.dense.weight"].T
        x = norm(
            dense + weights[p + "attention.output.dense.bias"] + x, p + "attention.output.LayerNorm"
        )
        up = x @ weights[p + "mlp.gated_layers.weight"].T
        gelu = 0.5 * up[:, :inner] * (1 + torch.erf(up[:, :inner] / math.sqrt(2)))
        out = (gelu * up[:, inner:]) @ weights[p + "mlp.wo.weight"].T + weights[p + "mlp.wo.bias"]
        x = norm(out + x, p + "mlp.layernorm")
    return x


def test_mean_pool_matches_a_manual_mean() -> None:
    generator = torch.Generator().manual_seed(3)
    hidden = torch.randn(3, 6, 5, generator=generator)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]])
    pooled = mean_pool(hidden, mask)
    for row, length in enumerate((6, 3, 1)):
        manual = sum(hidden[row, t] for t in range(length)) / length
        assert torch.allclose(pooled[row], manual, atol=1e-6, rtol=0)
    assert torch.allclose(mean_pool(hidden), hidden.mean(dim=1))
    assert pooled.dtype == torch.float32


def test_mean_pool_counts_cls_and_sep_like_the_published_tool(model: DnaBert) -> None:
    ids, mask = padded_batch()
    with torch.no_grad():
        pooled = mean_pool(model(ids, mask), mask)
        for row, sequence in enumerate(SEQUENCES):
            alone = model(torch.tensor([TOKENIZER.encode(sequence)]))[0]
            assert torch.allclose(pooled[row], alone.mean(dim=0), atol=CPU_ATOL, rtol=0)


def test_random_build_is_deterministic_and_leaves_the_global_rng_alone() -> None:
    rng_before = torch.get_rng_state()
    first = build_random_dnabert(TINY_DNABERT_CONFIG, seed=1).state_dict()
    second = build_random_dnabert(TINY_DNABERT_CONFIG, seed=1).state_dict()
    other = build_random_dnabert(TINY_DNABERT_CONFIG, seed=2).state_dict()
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert not torch.equal(
        first["encoder.layer.0.mlp.wo.weight"], other["encoder.layer.0.mlp.wo.weight"]
    )


def test_random_init_statistics() -> None:
    weights = build_random_dnabert(
        DnaBertConfig(hidden_size=128, num_attention_heads=4, num_hidden_layers=4), seed=0
    )
    state = weights.state_dict()
    assert torch.all(state["encoder.layer.3.mlp.layernorm.weight"] == 1)
    assert torch.all(state["embeddings.LayerNorm.bias"] == 0)
    std = state["embeddings.word_embeddings.weight"].std().item()
    assert abs(std - 0.02) < 0.001
    assert not weights.training


def test_state_dict_uses_the_published_key_names(model: DnaBert) -> None:
    keys = set(model.state_dict())
    layer = "encoder.layer.1."
    for key in (
        "embeddings.word_embeddings.weight",
        "embeddings.token_type_embeddings.weight",
        "embeddings.LayerNorm.weight",
        layer + "attention.self.Wqkv.weight",
        layer + "attention.self.Wqkv.bias",
        layer + "attention.output.dense.weight",
        layer + "attention.output.LayerNorm.bias",
        layer + "mlp.gated_layers.weight",
        layer + "mlp.wo.bias",
        layer + "mlp.layernorm.weight",
        "pooler.dense.weight",
    ):
        assert key in keys, key
    assert layer + "mlp.gated_layers.bias" not in keys
    assert not any("alibi" in key or "position" in key for key in keys)
    assert len(keys) == 4 + 2 + TINY_DNABERT_CONFIG.num_hidden_layers * 11


def test_full_size_parameter_count() -> None:
    with torch.device("meta"):
        full = DnaBert(DNABERT_S_CONFIG)
    h, i, v = 768, 3072, 4096
    embeddings = v * h + 2 * h + 2 * h
    layer = (h * 3 * h + 3 * h) + (h * h + h) + 2 * h + (h * 2 * i) + (i * h + h) + 2 * h
    pooler = h * h + h
    assert count_parameters(full) == embeddings + 12 * layer + pooler == 117_068_544


def test_tiny_config_fits_the_tiny_tokenizer() -> None:
    assert TINY_DNABERT_CONFIG.vocab_size == TOKENIZER.vocab_size


def test_model_without_pooler(model: DnaBert) -> None:
    bare = build_random_dnabert(TINY_DNABERT_CONFIG, seed=7, with_pooler=False)
    assert bare.pooler is None
    assert not any(key.startswith("pooler.") for key in bare.state_dict())
    ids, mask = padded_batch()
    with torch.no_grad():
        assert torch.equal(bare(ids, mask), model(ids, mask))
        assert model.pooled(model(ids, mask)).shape == (len(SEQUENCES), 64)
    with pytest.raises(ValueError, match="without a pooler"):
        bare.pooled(torch.zeros(1, 3, 64))


def test_rejects_unknown_attention_implementation(model: DnaBert) -> None:
    with pytest.raises(ValueError, match="attn_impl"):
        model(torch.tensor([[1, 2]]), attn_impl="flash")  # type: ignore[arg-type]


def test_config_rejects_heads_that_do_not_divide_the_width() -> None:
    with pytest.raises(ValueError, match="multiple"):
        DnaBertConfig(hidden_size=100, num_attention_heads=12)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_on_gpu(dtype: torch.dtype) -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    ids, mask = padded_batch()
    ids, mask = ids.cuda(), mask.cuda()
    reference = build_random_dnabert(TINY_DNABERT_CONFIG, seed=7, device="cuda")
    half = build_random_dnabert(TINY_DNABERT_CONFIG, seed=7, device="cuda", dtype=dtype)
    with torch.no_grad():
        expected = mean_pool(reference(ids, mask), mask)
        for impl in ("eager", "sdpa"):
            pooled = mean_pool(half(ids, mask, attn_impl=impl), mask)
            assert torch.isfinite(pooled).all()
            cosine = torch.nn.functional.cosine_similarity(pooled, expected, dim=-1)
            assert cosine.min().item() > 0.99


def test_weights_drawn_on_the_device_are_seeded_in_the_dtype_asked() -> None:
    first = build_random_dnabert(
        TINY_DNABERT_CONFIG, seed=5, dtype=torch.bfloat16, draw_on_device=True
    )
    again = build_random_dnabert(
        TINY_DNABERT_CONFIG, seed=5, dtype=torch.bfloat16, draw_on_device=True
    )
    for (name, a), b in zip(first.named_parameters(), again.parameters(), strict=True):
        assert a.dtype == torch.bfloat16 and torch.equal(a, b), name
    weights = dict(first.named_parameters())
    assert any(float(w.detach().float().std()) > 0.01 for n, w in weights.items() if "weight" in n)


def test_cpu_draws_are_unchanged_by_the_device_option() -> None:
    before = build_random_dnabert(TINY_DNABERT_CONFIG, seed=5)
    same = build_random_dnabert(TINY_DNABERT_CONFIG, seed=5, draw_on_device=False)
    assert all(
        torch.equal(a, b) for a, b in zip(before.parameters(), same.parameters(), strict=True)
    )
