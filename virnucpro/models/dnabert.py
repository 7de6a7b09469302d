"""DNABERT-S: the DNABERT-2 (MosaicBERT) encoder, as a padded-batch PyTorch module.

Layer by layer as the published model code defines it: word + token-type embeddings and a
LayerNorm (no position embeddings); post-LayerNorm layers with a packed ``Wqkv`` projection,
a symmetric ALiBi bias, and a gated-GELU feed-forward. State-dict keys match the published
checkpoint (``embeddings.*``, ``encoder.layer.<i>.*``, ``pooler.dense.*``).

The published code removes padding between layers; here the batch stays padded and padded
keys get -10000 added to their scores, which gives the same values at real positions. Padded
positions of the output are zero, as the published ``pad_input`` leaves them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from virnucpro.models.dnabert_tokenizer import TINY_VOCAB_SIZE
from virnucpro.models.sdpa import BIAS_ALIGN, sdpa_backend

AttnImpl = Literal["eager", "sdpa"]
ATTN_IMPLS: tuple[str, ...] = ("eager", "sdpa")

PAD_KEY_BIAS = -10000.0
"""Added to the scores of padded keys, as the published code does (not -inf)."""

INIT_STD = 0.02
"""Standard deviation of the random weights of :func:`build_random_dnabert`."""

ALIBI_ALIGN = 64
"""The cached ALiBi matrix grows in multiples of this many positions (a multiple of
:data:`~virnucpro.models.sdpa.BIAS_ALIGN`, so its rows stay aligned for the fused kernels)."""


@dataclass(frozen=True)
class DnaBertConfig:
    """Sizes of a DNABERT-2 encoder (the fields of the published ``config.json`` we use)."""

    vocab_size: int = 4096
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    name: str = "DNABERT-S"

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not a multiple of "
                f"num_attention_heads {self.num_attention_heads}"
            )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


DNABERT_S_CONFIG = DnaBertConfig()
TINY_DNABERT_CONFIG = DnaBertConfig(
    vocab_size=TINY_VOCAB_SIZE,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    name="tiny-dnabert",
)


def alibi_slopes(n_heads: int) -> Tensor:
    """ALiBi slope per head (float32), as in the published code.

    For a power of two ``n``: ``start * start**h`` with ``start = 2**(-2**-(log2(n) - 3))``.
    Otherwise the slopes for the nearest lower power of two ``p``, then every other slope for
    ``2p``, as many as are missing (12 heads: 8 slopes, then slopes 0, 2, 4, 6 of 16).
    """
    return torch.tensor(_slopes(n_heads), dtype=torch.float32)


def _slopes(n_heads: int) -> list[float]:
    if n_heads < 1:
        raise ValueError(f"n_heads must be positive, got {n_heads}")
    lower = 2 ** math.floor(math.log2(n_heads))
    start = 2.0 ** (-(2.0 ** -(math.log2(lower) - 3)))
    slopes = [start * start**h for h in range(lower)]
    if lower == n_heads:
        return slopes
    return slopes + _slopes(2 * lower)[0::2][: n_heads - lower]


def alibi_bias(n_heads: int, length: int, *, device: torch.device | None = None) -> Tensor:
    """Float32 ALiBi bias ``[n_heads, length, length]``: ``-slope_h * |i - j|``."""
    positions = torch.arange(length, device=device)
    distance = (positions[None, :] - positions[:, None]).abs().to(torch.float32)
    return -alibi_slopes(n_heads).to(device)[:, None, None] * distance


def mean_pool(hidden: Tensor, attention_mask: Tensor | None = None) -> Tensor:
    """Float32 mean of ``hidden [B, T, H]`` over the real tokens (``[CLS]``/``[SEP]`` included).

    Padding (mask 0) is left out; with no mask every position counts.
    """
    hidden = hidden.to(torch.float32)
    if attention_mask is None:
        return hidden.mean(dim=1)
    weights = (attention_mask != 0).to(torch.float32).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


class DnaBertEmbeddings(nn.Module):
    """Word + token-type (always type 0) embeddings, then LayerNorm; no positions (ALiBi)."""

    def __init__(self, config: DnaBertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, input_ids: Tensor) -> Tensor:
        type_zero = self.token_type_embeddings.weight[0]  # [H], every token has type 0
        return self.LayerNorm(self.word_embeddings(input_ids) + type_zero)


class DnaBertSelfAttention(nn.Module):
    """Packed q/k/v projection and biased softmax attention."""

    def __init__(self, config: DnaBertConfig) -> None:
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.head_dim
        self.Wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)

    def forward(self, hidden: Tensor, bias: Tensor, attn_impl: AttnImpl) -> Tensor:
        batch, length, width = hidden.shape
        qkv = self.Wqkv(hidden).view(batch, length, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, heads, T, d]
        if attn_impl == "sdpa":
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        else:
            scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + bias
            context = scores.softmax(dim=-1) @ v
        return context.transpose(1, 2).reshape(batch, length, width)


class DnaBertSelfOutput(nn.Module):
    """Output projection, residual, LayerNorm (post-LN)."""

    def __init__(self, config: DnaBertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(self.dense(hidden) + residual)


class DnaBertAttention(nn.Module):
    """``attention.self`` then ``attention.output``, named as in the checkpoint."""

    def __init__(self, config: DnaBertConfig) -> None:
        super().__init__()
        self.self = DnaBertSelfAttention(config)
        self.output = DnaBertSelfOutput(config)

    def forward(self, hidden: Tensor, bias: Tensor, attn_impl: AttnImpl) -> Tensor:
        return self.output(self.self(hidden, bias, attn_impl), hidden)


class DnaBertMLP(nn.Module):
    """Gated GELU: ``wo(gelu(x W_gate) * (x W_up))``, residual, LayerNorm."""

    def __init__(self, config: DnaBertConfig) -> None:
        super().__init__()
        self.intermediate_size = config.intermediate_size
        self.gated_layers = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.wo = nn.Linear(config.intermediate_size, config.hidden_size)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden: Tensor) -> Tensor:
        gated, non_gated = self.gated_layers(hidden).split(self.intermediate_size, dim=-1)
        return self.layernorm(self.wo(F.gelu(gated) * non_gated) + hidden)


class DnaBertLayer(nn.Module):
    def __init__(self, config: DnaBertConfig) -> None:
        super().__init__()
        self.attention = DnaBertAttention(config)
        self.mlp = DnaBertMLP(config)

    def forward(self, hidden: Tensor, bias: Tensor, attn_impl: AttnImpl) -> Tensor:
        return self.mlp(self.attention(hidden, bias, attn_impl))


class DnaBertEncoder(nn.Module):
    def __init__(self, config: DnaBertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(DnaBertLayer(config) for _ in range(config.num_hidden_layers))


class DnaBertPooler(nn.Module):
    """``tanh(dense(first token))``: in the checkpoint, unused by VirNucPro (mean pooling)."""

    def __init__(self, config: DnaBertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: Tensor) -> Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))


class DnaBert(nn.Module):
    """DNABERT-2 encoder; ``forward`` returns the last hidden state ``[B, T, H]``.

    ``with_pooler`` keeps the checkpoint's ``pooler.dense`` (published DNABERT-S has one; a
    masked-LM checkpoint does not). The pooler is never used by ``forward``.
    """

    def __init__(self, config: DnaBertConfig, *, with_pooler: bool = True) -> None:
        super().__init__()
        self.config = config
        self.embeddings = DnaBertEmbeddings(config)
        self.encoder = DnaBertEncoder(config)
        self.pooler = DnaBertPooler(config) if with_pooler else None
        self._alibi: dict[tuple[torch.device, torch.dtype], Tensor] = {}

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        *,
        attn_impl: AttnImpl = "eager",
    ) -> Tensor:
        if attn_impl not in ATTN_IMPLS:
            raise ValueError(f"attn_impl must be one of {ATTN_IMPLS}, got {attn_impl!r}")
        hidden = self.embeddings(input_ids)
        bias = self.attention_bias(attention_mask, input_ids.shape[1], hidden.device, hidden.dtype)
        for layer in self.encoder.layer:
            hidden = layer(hidden, bias, attn_impl)
        if attention_mask is not None:
            hidden = hidden.masked_fill((attention_mask == 0).unsqueeze(-1), 0.0)
        return hidden

    def attention_bias(
        self,
        attention_mask: Tensor | None,
        length: int,
        device: torch.device,
        dtype: torch.dtype,
    ) -> Tensor:
        """ALiBi plus -10000 on padded keys: ``[B or 1, heads, T, T]`` in ``dtype``.

        Built once per forward pass (per batch) and shared by all layers, in the compute dtype.
        The ALiBi part is computed in float32 (like the published code), cast to ``dtype`` and
        cached per (device, dtype). Rows are laid out :data:`BIAS_ALIGN` elements apart in
        memory (a ``[..., T]`` view of a ``[..., T']`` tensor, ``T'`` rounded up), so torch's
        fused kernels take the bias as it is instead of padding a copy in every layer.
        """
        alibi = self._cached_alibi(length, device, dtype)[None]  # [1, heads, T, T]
        if attention_mask is None:
            return alibi
        pad = (attention_mask == 0).to(torch.float32) * PAD_KEY_BIAS  # [B, T]
        shape = (attention_mask.shape[0], alibi.shape[1], length)
        room = torch.empty((*shape, _round_up(length, BIAS_ALIGN)), device=device, dtype=dtype)
        bias = room[..., :length]  # [B, heads, T, T], rows aligned
        return torch.add(alibi, pad[:, None, None, :].to(dtype), out=bias)

    def sdpa_backend(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> str:
        """The SDPA kernel this model's attention runs on this batch (``attn_impl="sdpa"``),
        on its device and in its dtype: see :func:`virnucpro.models.sdpa.sdpa_backend`."""
        parameter = next(self.parameters())
        batch, length = input_ids.shape
        heads, head_dim = self.config.num_attention_heads, self.config.head_dim
        # laid out as DnaBertSelfAttention splits its packed projection
        packed = torch.empty(
            (batch, length, 3, heads, head_dim), device=parameter.device, dtype=parameter.dtype
        )
        q, k, v = packed.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, heads, T, d]
        bias = self.attention_bias(attention_mask, length, parameter.device, parameter.dtype)
        return sdpa_backend(q, k, v, bias)

    def _cached_alibi(self, length: int, device: torch.device, dtype: torch.dtype) -> Tensor:
        cached = self._alibi.get((device, dtype))
        if cached is None or cached.shape[-1] < length:
            size = _round_up(max(self.config.max_position_embeddings, length), ALIBI_ALIGN)
            cached = alibi_bias(self.config.num_attention_heads, size, device=device).to(dtype)
            self._alibi[(device, dtype)] = cached
        return cached[:, :length, :length]

    def pooled(self, hidden: Tensor) -> Tensor:
        """The checkpoint's first-token pooler output (not used by VirNucPro)."""
        if self.pooler is None:
            raise ValueError("this DNABERT model was built without a pooler")
        return self.pooler(hidden)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def count_parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def build_random_dnabert(
    config: DnaBertConfig,
    *,
    seed: int,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    with_pooler: bool = True,
    draw_on_device: bool = False,
) -> DnaBert:
    """A DNABERT with deterministic random weights, in eval mode.

    Weights and biases are drawn from ``normal(0, 0.02)`` by a ``torch.Generator`` seeded with
    ``seed`` (in float32 on the CPU, then moved), LayerNorms are 1 / 0. The global RNG is not
    touched: the module is built on the meta device and filled in place. ``draw_on_device``
    allocates and draws on ``device`` in ``dtype`` (same weights on the same kind of device).
    """
    with torch.device("meta"):
        model = DnaBert(config, with_pooler=with_pooler)
    where = torch.device(device or "cpu") if draw_on_device else torch.device("cpu")
    model = model.to(dtype=dtype if draw_on_device else torch.float32).to_empty(device=where)
    generator = torch.Generator(device=where).manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            _fill_parameter(name, parameter, generator)
    return model.to(device=device, dtype=dtype).eval()


def _fill_parameter(name: str, parameter: Tensor, generator: torch.Generator) -> None:
    if ".LayerNorm." in name or ".layernorm." in name:
        parameter.fill_(1.0 if name.endswith("weight") else 0.0)
    else:
        parameter.normal_(0.0, INIT_STD, generator=generator)
