"""Load ESM-2 from a fair-esm ``.pt`` file or a Hugging Face folder; write both layouts.

Nothing in a checkpoint is executed: ``.pt`` files are read with ``torch.load(weights_only=True)``
allowing only ``argparse.Namespace`` (the fair-esm config object), in the zip format (memory-mapped)
or the legacy pre-1.6 pickle format (read whole), and Hugging Face folders are read as JSON plus
``safetensors`` or weights-only ``pytorch_model.bin`` files.
Source keys are translated to fair-esm's ``ESM2`` names; ``lm_head.*``, ``contact_head.*``,
similar heads and the absolute position table transformers always creates (unused: ESM-2's
positions are rotary) are reported as ignored, anything else unknown as unexpected.
"""

from __future__ import annotations

import argparse
import json
import pickle
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from virnucpro.errors import ModelLoadError
from virnucpro.hashing import files_sha256
from virnucpro.models.checkpoint_format import checkpoint_format
from virnucpro.models.common import LoadReport, ModelIdentity
from virnucpro.models.esm2 import (
    ESM2,
    ESM2_SIZES,
    FFN_MULTIPLIER,
    VOCAB_SIZE,
    EsmConfig,
    rotary_inv_freq,
)
from virnucpro.models.esm_alphabet import ESM_TOKENS, EsmAlphabet

TensorGetter = Callable[[], torch.Tensor]
KeyPairs = tuple[tuple[str, str], ...]

FAIR_ESM_PREFIXES = ("encoder.sentence_encoder.", "encoder.")  # stripped as fair-esm does
HF_PREFIX = "esm."
HF_CONFIG = "config.json"
HF_VOCAB = "vocab.txt"
HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")  # preferred first
HF_INDEX_SUFFIX = ".index.json"  # sharded weights: <weights file>.index.json
HF_LAYER_NORM_EPS = 1e-5
HF_MAX_POSITIONS = 1026
HF_DIM_FIELDS = ("num_hidden_layers", "hidden_size", "num_attention_heads")
IGNORED_KEYS = re.compile(
    r"^(lm_head|contact_head|pooler)\.|^embeddings\.(position_ids|position_embeddings\.weight)$"
)
HF_POSITION_TABLE = "esm.embeddings.position_embeddings.weight"  # rotary models never read it
INV_FREQ_SUFFIX = "rot_emb.inv_freq"  # recomputable buffer: optional in a checkpoint
INV_FREQ_RTOL = 1e-2  # loose enough for fp16/bf16 checkpoints, tight enough to catch another base
FIRST_KEYS_SHOWN = 5

# Hugging Face name fragment <-> fair-esm name fragment (prefix match, first match wins).
HF_TOP_KEYS = (
    ("embeddings.word_embeddings.", "embed_tokens."),
    ("encoder.emb_layer_norm_after.", "emb_layer_norm_after."),
    ("lm_head.decoder.weight", "lm_head.weight"),
)
HF_LAYER_KEYS = (
    ("attention.self.query.", "self_attn.q_proj."),
    ("attention.self.key.", "self_attn.k_proj."),
    ("attention.self.value.", "self_attn.v_proj."),
    ("attention.self.rotary_embeddings.", "self_attn.rot_emb."),
    ("attention.output.dense.", "self_attn.out_proj."),
    ("attention.LayerNorm.", "self_attn_layer_norm."),
    ("intermediate.dense.", "fc1."),
    ("output.dense.", "fc2."),
    ("LayerNorm.", "final_layer_norm."),
)
HF_LAYER = re.compile(r"^encoder\.layer\.(\d+)\.")
OUR_LAYER = re.compile(r"^layers\.(\d+)\.")


class EsmCheckpointKeyError(ModelLoadError):
    """Required weights are missing; ``report`` lists every key that was looked at."""

    def __init__(self, message: str, report: LoadReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class _Source:
    """A checkpoint read but not yet loaded: its config and tensors under fair-esm names."""

    config: EsmConfig
    tensors: Mapping[str, TensorGetter]
    files: tuple[Path, ...]  # weight files, hashed for the checksum
    fmt: str


# ---- key translation ---------------------------------------------------------------------------


def _swap_prefix(key: str, pairs: Iterable[tuple[str, str]]) -> str:
    for old, new in pairs:
        if key.startswith(old):
            return new + key[len(old) :]
    return key


def _swap_layer(key: str, src: re.Pattern[str], dst: str, pairs: KeyPairs) -> str:
    match = src.match(key)
    if match is None:
        return key
    return dst.format(match.group(1)) + _swap_prefix(key[match.end() :], pairs)


def hf_key_to_ours(key: str) -> str:
    """A Hugging Face ESM key under fair-esm's ``ESM2`` name (unknown keys keep their name)."""
    key = key.removeprefix(HF_PREFIX)
    if HF_LAYER.match(key):
        return _swap_layer(key, HF_LAYER, "layers.{}.", HF_LAYER_KEYS)
    return _swap_prefix(key, HF_TOP_KEYS)


def ours_key_to_hf(key: str) -> str:
    """The inverse of :func:`hf_key_to_ours` for the keys this module writes."""
    flipped = tuple((ours, hf) for hf, ours in HF_LAYER_KEYS)
    if OUR_LAYER.match(key):
        return HF_PREFIX + _swap_layer(key, OUR_LAYER, "encoder.layer.{}.", flipped)
    key = _swap_prefix(key, ((ours, hf) for hf, ours in HF_TOP_KEYS))
    return key if key.startswith("lm_head.") else HF_PREFIX + key


def fair_esm_key_to_ours(key: str) -> str:
    return _swap_prefix(key, ((p, "") for p in FAIR_ESM_PREFIXES))


def ours_key_to_fair_esm(key: str) -> str:
    return ("encoder." if key.startswith("lm_head.") else FAIR_ESM_PREFIXES[0]) + key


# ---- reading -----------------------------------------------------------------------------------


def _fail(path: Path, reason: str) -> ModelLoadError:
    first_line = (reason.strip().splitlines() or ["unreadable"])[0]
    return ModelLoadError(f"ESM-2 checkpoint {path}: {first_line}")


def _config_for(layers: int, dim: int, heads: int, token_dropout: bool, fallback: str) -> EsmConfig:
    """The registry config of these dimensions, or a new one named ``fallback``."""
    found = EsmConfig(fallback, layers, dim, heads, token_dropout=token_dropout)
    known = (c for c in ESM2_SIZES.values() if replace(c, name=fallback) == found)
    return next(known, found)


def _torch_load(path: Path) -> Any:
    fmt = checkpoint_format(path)
    if fmt not in ("torch-zip", "torch-legacy"):
        raise _fail(path, "not a PyTorch checkpoint (neither the zip nor the legacy format)")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            mmap = fmt == "torch-zip"  # the legacy format cannot be memory-mapped
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        raise _fail(path, f"refusing to unpickle {_unsafe_globals(path)}") from exc
    except (RuntimeError, EOFError, ValueError, OSError) as exc:
        raise _fail(path, f"unreadable ({exc})") from exc


def _unsafe_globals(path: Path) -> str:
    """The pickled globals that weights-only loading refused, for the error message."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except (RuntimeError, ValueError, OSError, pickle.UnpicklingError):
        return "objects that are not plain data"
    return f"objects {', '.join(names[:FIRST_KEYS_SHOWN])} (not plain data)"


def _getters(tensors: object, path: Path, fix_key: Callable[[str], str]) -> dict[str, TensorGetter]:
    """Lazy access to a loaded state dict, keys renamed by ``fix_key``."""
    if not isinstance(tensors, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in tensors.values()
    ):
        raise _fail(path, "not a state dict of tensors")
    return {fix_key(k): partial(_identity, v) for k, v in tensors.items()}


def _identity(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def _cfg_value(cfg: object, name: str) -> Any:
    value = cfg.get(name) if isinstance(cfg, Mapping) else getattr(cfg, name, None)
    if value is None:
        raise ValueError(f"config lacks {name!r}")
    return value


def _read_fair_esm(path: Path) -> _Source:
    data = _torch_load(path)
    if not isinstance(data, Mapping) or "model" not in data or "cfg" not in data:
        raise _fail(path, "not a fair-esm ESM-2 checkpoint (no 'model' and 'cfg' entries)")
    cfg = data["cfg"].get("model") if isinstance(data["cfg"], Mapping) else None
    try:
        dims = [int(_cfg_value(cfg, n)) for n in ("encoder_layers", "encoder_embed_dim")]
        heads = int(_cfg_value(cfg, "encoder_attention_heads"))
        token_dropout = bool(_cfg_value(cfg, "token_dropout"))
    except (TypeError, ValueError) as exc:
        raise _fail(path, f"not a fair-esm ESM-2 checkpoint ({exc})") from exc
    tensors = _getters(data["model"], path, fair_esm_key_to_ours)
    config = _config_for(*dims, heads, token_dropout, fallback=path.stem)
    return _Source(config, tensors, (path,), "fair-esm")


def _read_hf_config_json(folder: Path) -> dict[str, Any]:
    try:
        raw = json.loads((folder / HF_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise _fail(folder, f"not an ESM-2 folder (no readable {HF_CONFIG}: {exc})") from exc
    if not isinstance(raw, dict):
        raise _fail(folder, f"not an ESM-2 folder ({HF_CONFIG} is not a JSON object)")
    return raw


def _hf_config(folder: Path) -> EsmConfig:
    """The size from config.json, refusing Hugging Face ESM variants this model does not compute."""
    raw = _read_hf_config_json(folder)
    hidden = raw.get("hidden_size")
    checks = (
        ("model_type", raw.get("model_type"), "esm"),
        ("position_embedding_type", raw.get("position_embedding_type"), "rotary"),
        ("emb_layer_norm_before", bool(raw.get("emb_layer_norm_before")), False),
        ("vocab_size", raw.get("vocab_size"), VOCAB_SIZE),
        ("intermediate_size", raw.get("intermediate_size"), FFN_MULTIPLIER * (hidden or 0)),
        ("layer_norm_eps", raw.get("layer_norm_eps"), HF_LAYER_NORM_EPS),
    )
    for field_name, actual, want in checks:
        if actual != want:
            reason = f"{field_name} is {actual!r}, not {want!r}"
            raise _fail(folder, f"not an ESM-2 folder ({reason})")
    try:
        dims = [int(_cfg_value(raw, n)) for n in HF_DIM_FIELDS]
    except (TypeError, ValueError) as exc:
        raise _fail(folder, f"not an ESM-2 folder ({exc})") from exc
    name = str(raw.get("_name_or_path") or folder.name).rstrip("/").split("/")[-1]
    return _config_for(*dims, bool(raw.get("token_dropout", False)), fallback=name)


def _hf_weight_files(folder: Path) -> tuple[Path, ...]:
    for name in HF_WEIGHTS:
        if (folder / name).is_file():
            return (folder / name,)
        index = folder / (name + HF_INDEX_SUFFIX)
        if index.is_file():
            return _shards(index)
    raise _fail(folder, f"no weights file ({' or '.join(HF_WEIGHTS)})")


def _shards(index: Path) -> tuple[Path, ...]:
    """The weight files a sharded folder's ``*.index.json`` names, in sorted order."""
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        names = sorted(set(weight_map.values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _fail(index, f"unreadable weights index ({exc!r})") from exc
    return tuple(index.parent / name for name in names)


def _open_weights(path: Path) -> dict[str, TensorGetter]:
    if path.suffix != ".safetensors":
        return _getters(_torch_load(path), path, hf_key_to_ours)
    try:
        handle = safe_open(str(path), framework="pt")
    except (SafetensorError, OSError) as exc:
        raise _fail(path, f"unreadable safetensors file ({exc})") from exc
    return {hf_key_to_ours(k): partial(handle.get_tensor, k) for k in handle.keys()}  # noqa: SIM118


def _check_vocab(folder: Path) -> None:
    vocab = folder / HF_VOCAB
    if vocab.is_file() and tuple(vocab.read_text(encoding="utf-8").split()) != ESM_TOKENS:
        raise _fail(folder, f"{HF_VOCAB} is not the ESM-1b alphabet")


def _read_hf_folder(folder: Path) -> _Source:
    config = _hf_config(folder)
    _check_vocab(folder)
    files = _hf_weight_files(folder)
    tensors: dict[str, TensorGetter] = {}
    for file in files:
        tensors.update(_open_weights(file))
    return _Source(config, tensors, files, f"hf-{files[0].suffix.lstrip('.')}")


# ---- loading -----------------------------------------------------------------------------------


def _report(source: _Source, wanted: Iterable[str], label: str) -> LoadReport:
    wanted_set, found = set(wanted), set(source.tensors)
    extra = found - wanted_set
    missing = (k for k in wanted_set - found if not k.endswith(INV_FREQ_SUFFIX))
    return LoadReport(
        source=label,
        missing_keys=tuple(sorted(missing)),
        unexpected_keys=tuple(sorted(k for k in extra if not IGNORED_KEYS.search(k))),
        ignored_keys=tuple(sorted(k for k in extra if IGNORED_KEYS.search(k))),
    )


def _is_rotary_base(tensor: torch.Tensor, expected: torch.Tensor) -> bool:
    """Whether a stored inv_freq is ESM-2's (a shape mismatch is left to load_state_dict)."""
    if tensor.shape != expected.shape:
        return True
    return torch.allclose(tensor.float(), expected, rtol=INV_FREQ_RTOL)


def _state_dict(
    source: _Source, model: ESM2, device: torch.device, dtype: torch.dtype, label: str
) -> dict[str, torch.Tensor]:
    """Tensors for every model key, converted one at a time; missing inv_freq is recomputed."""
    expected_inv_freq = rotary_inv_freq(model.config.head_dim)
    state: dict[str, torch.Tensor] = {}
    for key in model.state_dict():
        getter = source.tensors.get(key)
        tensor = getter() if getter is not None else expected_inv_freq
        if key.endswith(INV_FREQ_SUFFIX) and not _is_rotary_base(tensor, expected_inv_freq):
            raise ModelLoadError(f"ESM-2 checkpoint {label}: {key} is not ESM-2's rotary base")
        state[key] = tensor.to(device=device, dtype=dtype)
    return state


def esm_identity(
    model: ESM2, *, source: str, meaningful: bool, checksum: str = "", fmt: str = ""
) -> ModelIdentity:
    """Who ``model`` is, for run metrics and reports (random presets: ``meaningful=False``)."""
    return ModelIdentity(
        role="esm",
        name=model.config.name,
        source=source,
        n_parameters=sum(p.numel() for p in model.parameters()),
        hidden_size=model.config.embed_dim,
        meaningful=meaningful,
        checksum=checksum,
        extra={"format": fmt} if fmt else {},
    )


def _read(path: Path) -> _Source:
    if path.is_dir():
        return _read_hf_folder(path)
    if path.is_file():
        return _read_fair_esm(path)
    raise ModelLoadError(f"ESM-2 checkpoint not found: {path}")


def load_esm(
    path: Path,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[ESM2, EsmAlphabet, LoadReport, ModelIdentity]:
    """Load ESM-2 weights from a fair-esm ``.pt`` file or a Hugging Face folder.

    Raises :class:`ModelLoadError` for a missing path, a file of another kind, or missing
    weights (:class:`EsmCheckpointKeyError`); unexpected keys are listed in the report.
    """
    path = Path(path)
    source = _read(path)
    label = str(path)
    model = ESM2(source.config, device="meta")
    report = _report(source, model.state_dict(), label)
    if report.missing_keys:
        shown = ", ".join(report.missing_keys[:FIRST_KEYS_SHOWN])
        message = f"ESM-2 checkpoint {path}: {len(report.missing_keys)} missing weights ({shown})"
        raise EsmCheckpointKeyError(message, report)
    state = _state_dict(source, model, torch.device(device or "cpu"), dtype, label)
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        raise _fail(path, f"weights do not fit {source.config.name} ({exc})") from exc
    model.eval().requires_grad_(False)
    checksum = files_sha256(source.files)
    identity = esm_identity(model, source=label, meaningful=True, checksum=checksum, fmt=source.fmt)
    return model, model.alphabet, report, identity
