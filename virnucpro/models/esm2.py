"""ESM-2, re-implemented to compute exactly what fair-esm's ``esm.model.esm2.ESM2`` computes.

Only the encoder is kept: the last layer representation after ``emb_layer_norm_after`` is what
VirNucPro pools. The state-dict keys are fair-esm's, minus ``lm_head.*`` and ``contact_head.*``.
Shapes: B batch, T tokens, D width, H heads, Dh = D / H, F = 4 D.
"""

from __future__ import annotations

import hashlib
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from virnucpro.models.esm_alphabet import EsmAlphabet
from virnucpro.models.sdpa import sdpa_backend

AttnImpl = Literal["eager", "sdpa"]
Device = torch.device | str | None
ATTN_IMPLS: tuple[str, ...] = ("eager", "sdpa")
VOCAB_SIZE = 33
FFN_MULTIPLIER = 4
ROTARY_BASE = 10000.0
MASK_RATIO_TRAIN = 0.15 * 0.8  # fraction of tokens masked in ESM-2 training (token dropout)
INIT_STD = 0.02  # std of the random weights of build_random_esm
MAX_INIT_THREADS = 16  # threads drawing random weights (each parameter has its own generator)


@dataclass(frozen=True)
class EsmConfig:
    """Size of an ESM-2 model; ``name`` is the fair-esm model name."""

    name: str
    num_layers: int
    embed_dim: int
    attention_heads: int
    vocab_size: int = VOCAB_SIZE
    token_dropout: bool = True

    @property
    def ffn_dim(self) -> int:
        return FFN_MULTIPLIER * self.embed_dim

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.attention_heads


def _registry(*configs: EsmConfig) -> dict[str, EsmConfig]:
    return {c.name: c for c in configs}


ESM2_SIZES: dict[str, EsmConfig] = _registry(
    EsmConfig("esm2_t6_8M_UR50D", num_layers=6, embed_dim=320, attention_heads=20),
    EsmConfig("esm2_t12_35M_UR50D", num_layers=12, embed_dim=480, attention_heads=20),
    EsmConfig("esm2_t30_150M_UR50D", num_layers=30, embed_dim=640, attention_heads=20),
    EsmConfig("esm2_t33_650M_UR50D", num_layers=33, embed_dim=1280, attention_heads=20),
    EsmConfig("esm2_t36_3B_UR50D", num_layers=36, embed_dim=2560, attention_heads=40),
)
TINY_ESM_CONFIG = EsmConfig("tiny-esm", num_layers=2, embed_dim=64, attention_heads=4)


def rotary_inv_freq(head_dim: int, device: Device = None) -> torch.Tensor:
    """Rotary inverse frequencies [Dh/2], in fp32, as fair-esm's ``RotaryEmbedding`` builds them."""
    exponents = torch.arange(0, head_dim, 2, device=device).float() / head_dim
    return 1.0 / (ROTARY_BASE**exponents)


def rotary_tables(
    seq_len: int, head_dim: int, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables [T, Dh], computed in fp32 whatever the model dtype, then cast."""
    positions = torch.arange(seq_len, device=device, dtype=torch.float32)  # [T]
    freqs = torch.outer(positions, rotary_inv_freq(head_dim, device))  # [T, Dh/2]
    angles = torch.cat((freqs, freqs), dim=-1)  # [T, Dh]
    return angles.cos().to(dtype), angles.sin().to(dtype)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Apply rotary positions to x [B, H, T, Dh] (fair-esm's ``apply_rotary_pos_emb``)."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


def _gelu(x: torch.Tensor) -> torch.Tensor:
    """Exact (erf) GELU written as fair-esm writes it, so fp32 results agree bit for bit."""
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


class RotaryEmbedding(nn.Module):
    """Holds ``inv_freq`` so state dicts keep fair-esm's keys; tables come from rotary_tables."""

    def __init__(self, head_dim: int, device: Device = None) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.register_buffer("inv_freq", rotary_inv_freq(head_dim).to(device))

    def reset_inv_freq(self) -> None:
        with torch.no_grad():
            self.inv_freq.copy_(rotary_inv_freq(self.head_dim))


class SelfAttention(nn.Module):
    """Multi-head self-attention with rotary q/k and a key-padding mask."""

    def __init__(self, embed_dim: int, heads: int, device: Device = None) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = embed_dim // heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, device=device)
        self.k_proj = nn.Linear(embed_dim, embed_dim, device=device)
        self.v_proj = nn.Linear(embed_dim, embed_dim, device=device)
        self.out_proj = nn.Linear(embed_dim, embed_dim, device=device)
        self.rot_emb = RotaryEmbedding(self.head_dim, device)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq_len, _ = x.shape
        return x.view(batch, seq_len, self.heads, self.head_dim).transpose(1, 2)  # [B, H, T, Dh]

    def forward(
        self,
        x: torch.Tensor,  # [B, T, D]
        rotary: tuple[torch.Tensor, torch.Tensor],  # cos, sin [T, Dh]
        key_padding: torch.Tensor | None,  # [B, T] True at <pad>, None when nothing is padded
        attn_impl: AttnImpl,
    ) -> torch.Tensor:
        # fair-esm scales q before the rotation; rotation is linear, so the order only matters
        # for rounding, and this keeps fp32 results equal to fair-esm's.
        q = _rotate(self._split(self.q_proj(x) * self.head_dim**-0.5), *rotary)  # [B, H, T, Dh]
        k = _rotate(self._split(self.k_proj(x)), *rotary)  # [B, H, T, Dh]
        v = self._split(self.v_proj(x))  # [B, H, T, Dh]
        if attn_impl == "sdpa":
            keep = None if key_padding is None else ~key_padding[:, None, None, :]  # [B,1,1,T]
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, scale=1.0)  # q scaled
        else:
            scores = q @ k.transpose(-1, -2)  # [B, H, T, T]
            if key_padding is not None:
                scores = scores.masked_fill(key_padding[:, None, None, :], float("-inf"))
            probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(v.dtype)  # fp32 softmax
            out = probs @ v  # [B, H, T, Dh]
        batch, _, seq_len, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(batch, seq_len, -1))  # [B, T, D]


class TransformerLayer(nn.Module):
    """Pre-LayerNorm block: x + attn(LN(x)), then x + fc2(gelu(fc1(LN(x))))."""

    def __init__(self, config: EsmConfig, device: Device = None) -> None:
        super().__init__()
        dim = config.embed_dim
        self.self_attn = SelfAttention(dim, config.attention_heads, device)
        self.self_attn_layer_norm = nn.LayerNorm(dim, device=device)
        self.fc1 = nn.Linear(dim, config.ffn_dim, device=device)
        self.fc2 = nn.Linear(config.ffn_dim, dim, device=device)
        self.final_layer_norm = nn.LayerNorm(dim, device=device)

    def forward(
        self,
        x: torch.Tensor,  # [B, T, D]
        rotary: tuple[torch.Tensor, torch.Tensor],
        key_padding: torch.Tensor | None,
        attn_impl: AttnImpl,
    ) -> torch.Tensor:
        x = x + self.self_attn(self.self_attn_layer_norm(x), rotary, key_padding, attn_impl)
        hidden = self.fc1(self.final_layer_norm(x))
        # eager: fair-esm's own erf formula, bit for bit; sdpa (fast engine): torch's fused GELU,
        # the same function within ~2e-6 and 10-25% faster on CPU
        act = F.gelu(hidden) if attn_impl == "sdpa" else _gelu(hidden)
        return x + self.fc2(act)  # [B, T, D]


class ESM2(nn.Module):
    """ESM-2 encoder: tokens [B, T] -> last layer representation [B, T, D]."""

    def __init__(self, config: EsmConfig, *, device: Device = None) -> None:
        """``device="meta"`` builds the structure without allocating (loaders fill it)."""
        super().__init__()
        self.config = config
        self.alphabet = EsmAlphabet()
        dim, pad = config.embed_dim, self.alphabet.padding_idx
        self.embed_tokens = nn.Embedding(config.vocab_size, dim, padding_idx=pad, device=device)
        self.layers = nn.ModuleList(
            TransformerLayer(config, device) for _ in range(config.num_layers)
        )
        self.emb_layer_norm_after = nn.LayerNorm(dim, device=device)

    def _embed(self, tokens: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        """Token embeddings [B, T, D] with fair-esm's token-dropout scaling and zeroed padding."""
        x = self.embed_tokens(tokens)  # [B, T, D]
        if self.config.token_dropout:
            is_mask = tokens.eq(self.alphabet.mask_idx)  # [B, T]
            x = x.masked_fill(is_mask.unsqueeze(-1), 0.0)
            observed = is_mask.sum(-1).to(x.dtype) / (~padding).sum(-1)  # [B]
            x = x * (1 - MASK_RATIO_TRAIN) / (1 - observed)[:, None, None]
        return x * (1 - padding.unsqueeze(-1).type_as(x))

    def forward(
        self, tokens: torch.Tensor, *, attn_impl: AttnImpl = "eager", padded: bool | None = None
    ) -> torch.Tensor:
        """Last layer representation after ``emb_layer_norm_after``, one vector per token.

        ``eager`` is fair-esm's arithmetic; ``sdpa`` uses torch's fused attention and agrees at
        every non-padded position (rows at padded positions are not meaningful in either).

        ``padded`` says whether any row holds ``<pad>``. Callers know it on the host from the
        batch's lengths; reading it from ``tokens`` here would make the host wait for the GPU
        every batch. An unpadded batch runs without a mask, as fair-esm runs it; ``None`` (not
        known) keeps the mask, which changes nothing at real positions (eager: bit for bit).
        """
        if attn_impl not in ATTN_IMPLS:
            raise ValueError(f"attn_impl must be one of {ATTN_IMPLS}, got {attn_impl!r}")
        padding = tokens.eq(self.alphabet.padding_idx)  # [B, T]
        x = self._embed(tokens, padding)  # [B, T, D]
        key_padding = None if padded is False else padding  # no host sync: decided by the caller
        rotary = rotary_tables(tokens.shape[1], self.config.head_dim, x.device, x.dtype)
        for layer in self.layers:
            x = layer(x, rotary, key_padding, attn_impl)
        return self.emb_layer_norm_after(x)  # [B, T, D]

    def sdpa_backend(self, tokens: torch.Tensor, *, padded: bool | None = None) -> str:
        """The SDPA kernel this model's attention runs on this batch (``attn_impl="sdpa"``),
        on its device and in its dtype: see :func:`virnucpro.models.sdpa.sdpa_backend`."""
        parameter = next(self.parameters())
        batch, length = tokens.shape
        heads, head_dim = self.config.attention_heads, self.config.head_dim
        where = {"device": parameter.device, "dtype": parameter.dtype}
        q = torch.empty((batch, length, heads, head_dim), **where).transpose(1, 2)  # as _split
        keep = tokens.to(parameter.device).ne(self.alphabet.padding_idx)[:, None, None, :]
        return sdpa_backend(q, q, q, None if padded is False else keep, scale=1.0)


def parameter_seed(seed: int, name: str) -> int:
    """The generator seed of one parameter: a function of (seed, name) only, order-independent."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1  # 63 bits: any torch generator takes it


def _fill_normal(param: torch.Tensor, seed: int) -> None:
    # float64 draws take torch's scalar CPU path, the same under every CPU capability (checked:
    # DEFAULT, AVX2, AVX512); the vectorized float32 path gives DEFAULT and AVX2 other values.
    generator = torch.Generator(device="cpu").manual_seed(seed)
    draw = torch.empty(param.shape, dtype=torch.float64).normal_(0.0, INIT_STD, generator=generator)
    with torch.no_grad():
        param.copy_(draw.float())


def _fill_normal_on_device(param: torch.Tensor, seed: int) -> None:
    # Drawn where the parameter lives, in its dtype: fast, but the values depend on the device.
    generator = torch.Generator(device=param.device).manual_seed(seed)
    with torch.no_grad():
        param.normal_(0.0, INIT_STD, generator=generator)


def init_random_weights(model: ESM2, *, seed: int, draw_on_device: bool = False) -> None:
    """Overwrite every weight: normal(0, 0.02) per parameter from (seed, name), LayerNorms 1/0.

    ``draw_on_device`` draws each parameter on its own device (seconds instead of minutes for
    the 3B size on a GPU); the weights are then the same only on the same kind of device.
    """
    params, seeds = [], []
    for module_name, module in model.named_modules():
        for name, param in module.named_parameters(prefix=module_name, recurse=False):
            if isinstance(module, nn.LayerNorm):
                with torch.no_grad():
                    param.fill_(1.0 if name.endswith("weight") else 0.0)
            else:
                params.append(param)
                seeds.append(parameter_seed(seed, name))
    if draw_on_device:
        for param, param_seed in zip(params, seeds, strict=True):
            _fill_normal_on_device(param, param_seed)
    else:
        workers = max(1, min(len(params), os.cpu_count() or 1, MAX_INIT_THREADS))
        with ThreadPoolExecutor(max_workers=workers) as pool:  # torch ops release the GIL
            list(pool.map(_fill_normal, params, seeds))
    for module in model.modules():
        if isinstance(module, RotaryEmbedding):
            module.reset_inv_freq()


def build_random_esm(
    config: EsmConfig,
    *,
    seed: int,
    device: Device = None,
    dtype: torch.dtype = torch.float32,
    draw_on_device: bool = False,
) -> ESM2:
    """ESM-2 with deterministic random weights: same seed, same weights, on any machine.

    Weights are drawn on the CPU (see :func:`init_random_weights`), rounded to fp32, then to
    ``dtype``. Parameters are allocated once, on ``device`` in ``dtype``, with no default init
    first (the 3B size needs no fp32 copy on the GPU). Returned in eval mode without gradients.
    ``draw_on_device`` draws them on ``device`` instead (same weights on the same kind of device).
    """
    model = ESM2(config, device="meta").to(dtype=dtype).to_empty(device=device or "cpu")
    init_random_weights(model, seed=seed, draw_on_device=draw_on_device)
    return model.eval().requires_grad_(False)
