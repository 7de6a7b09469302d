"""Write ESM-2 in the published layouts (a fair-esm ``.pt`` file, a Hugging Face folder), for
tests and tools: what :func:`virnucpro.models.esm_checkpoint.load_esm` reads back.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Literal

import torch
from safetensors.torch import save as safetensors_bytes

from virnucpro.atomic import atomic_write_text, atomic_writer
from virnucpro.models.esm2 import ESM2, EsmConfig
from virnucpro.models.esm_alphabet import ESM_TOKENS, EsmAlphabet
from virnucpro.models.esm_checkpoint import (
    HF_CONFIG,
    HF_LAYER_NORM_EPS,
    HF_MAX_POSITIONS,
    HF_POSITION_TABLE,
    HF_VOCAB,
    HF_WEIGHTS,
    ours_key_to_fair_esm,
    ours_key_to_hf,
)

WeightsFormat = Literal["safetensors", "bin"]


def _placeholder_heads(model: ESM2) -> dict[str, torch.Tensor]:
    """LM and contact heads under fair-esm names, so written files hold the published key set.

    Random-weight models have no trained heads; these are zeros (LayerNorm 1), with the LM
    decoder tied to the token embeddings as in fair-esm. The encoder never reads them.
    """
    dim, vocab = model.config.embed_dim, model.config.vocab_size
    embed = model.embed_tokens.weight.detach()
    contact_features = model.config.num_layers * model.config.attention_heads
    return {
        "lm_head.weight": embed.clone(),
        "lm_head.bias": embed.new_zeros(vocab),
        "lm_head.dense.weight": embed.new_zeros(dim, dim),
        "lm_head.dense.bias": embed.new_zeros(dim),
        "lm_head.layer_norm.weight": embed.new_ones(dim),
        "lm_head.layer_norm.bias": embed.new_zeros(dim),
        "contact_head.regression.weight": embed.new_zeros(1, contact_features),
        "contact_head.regression.bias": embed.new_zeros(1),
    }


def _cpu_state(model: ESM2) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def save_fair_esm_checkpoint(model: ESM2, path: Path) -> None:
    """Write ``model`` as fair-esm publishes ESM-2 (``{"model", "cfg", "args"}``, no regression)."""
    config = model.config
    heads = {k: v.cpu() for k, v in _placeholder_heads(model).items() if k.startswith("lm_head.")}
    state = {ours_key_to_fair_esm(k): v for k, v in (_cpu_state(model) | heads).items()}
    cfg = argparse.Namespace(
        encoder_layers=config.num_layers,
        encoder_embed_dim=config.embed_dim,
        encoder_ffn_embed_dim=config.ffn_dim,
        encoder_attention_heads=config.attention_heads,
        token_dropout=config.token_dropout,
    )
    with atomic_writer(Path(path), mode="wb", encoding=None) as handle:
        torch.save({"model": state, "cfg": {"model": cfg}, "args": None}, handle)


def _hf_config_json(config: EsmConfig) -> dict[str, object]:
    alphabet = EsmAlphabet()
    return {
        "_name_or_path": f"facebook/{config.name}",
        "architectures": ["EsmForMaskedLM"],
        "model_type": "esm",
        "hidden_size": config.embed_dim,
        "num_hidden_layers": config.num_layers,
        "num_attention_heads": config.attention_heads,
        "intermediate_size": config.ffn_dim,
        "vocab_size": config.vocab_size,
        "token_dropout": config.token_dropout,
        "position_embedding_type": "rotary",
        "emb_layer_norm_before": False,
        "layer_norm_eps": HF_LAYER_NORM_EPS,
        "hidden_act": "gelu",
        "mask_token_id": alphabet.mask_idx,
        "pad_token_id": alphabet.padding_idx,
        "max_position_embeddings": HF_MAX_POSITIONS,
        "attention_probs_dropout_prob": 0.0,
        "hidden_dropout_prob": 0.0,
        "is_folding_model": False,
    }


def save_hf_esm_folder(
    model: ESM2, folder: Path, *, weights_format: WeightsFormat = "safetensors"
) -> None:
    """Write ``model`` as a ``facebook/esm2_*`` folder: config.json, vocab.txt and weights.

    The weights hold every key transformers writes, the unused absolute position table included.
    """
    folder = Path(folder)
    heads = {k: v.cpu() for k, v in _placeholder_heads(model).items()}
    state = {ours_key_to_hf(k): v for k, v in (_cpu_state(model) | heads).items()}
    state[HF_POSITION_TABLE] = torch.zeros(HF_MAX_POSITIONS, model.config.embed_dim)
    atomic_write_text(folder / HF_CONFIG, json.dumps(_hf_config_json(model.config), indent=2))
    atomic_write_text(folder / HF_VOCAB, "\n".join(ESM_TOKENS) + "\n")
    name = HF_WEIGHTS[0] if weights_format == "safetensors" else HF_WEIGHTS[1]
    with atomic_writer(folder / name, mode="wb", encoding=None) as handle:
        if weights_format == "safetensors":
            handle.write(safetensors_bytes(state, metadata={"format": "pt"}))
        else:
            torch.save(state, handle)
