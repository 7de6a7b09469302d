"""Load and write DNABERT-S snapshot folders laid out like ``zhihan1996/DNABERT-S``.

A folder holds ``config.json`` (BertConfig fields), ``tokenizer.json``, ``model.safetensors``
and/or ``pytorch_model.bin``, and remote model code (``bert_layers.py`` ...) named by the
config's ``auto_map``. Only data is read: ``auto_map`` is ignored, no ``.py`` file from the folder
is imported or executed, the tokenizer file is parsed by the ``tokenizers`` library, and
``pytorch_model.bin`` is read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from virnucpro.atomic import atomic_write_bytes, atomic_write_text
from virnucpro.errors import ModelLoadError
from virnucpro.hashing import file_sha256
from virnucpro.models.common import LoadReport, ModelIdentity
from virnucpro.models.dnabert import DnaBert, DnaBertConfig, count_parameters
from virnucpro.models.dnabert_tokenizer import DnaTokenizer, write_tokenizer_json

CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
SAFETENSORS_FILE = "model.safetensors"
BIN_FILE = "pytorch_model.bin"
WEIGHT_FILES: tuple[str, ...] = (SAFETENSORS_FILE, BIN_FILE)
"""In order of preference: safetensors holds no pickle at all."""

KEY_PREFIX = "bert."
"""Prefix of every encoder key in checkpoints saved from a task head (e.g. masked LM)."""

IGNORED_KEYS: tuple[str, ...] = (
    "encoder.alibi",  # ALiBi matrix buffer: recomputed from the head count
    "embeddings.token_type_ids",  # all-zero buffer
    "embeddings.position_ids",  # position buffer of plain BERT; ALiBi has no positions
)
IGNORED_PREFIXES: tuple[str, ...] = ("cls.",)
"""Masked-LM head: not part of the encoder."""

POOLER_PREFIX = "pooler."
REQUIRED_CONFIG_FIELDS: tuple[str, ...] = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
)
OPTIONAL_INT_CONFIG_FIELDS: tuple[str, ...] = ("max_position_embeddings", "type_vocab_size")
MAX_KEYS_IN_MESSAGE = 3
ROLE = "dnabert"

REMOTE_CODE_FILES: tuple[str, ...] = ("bert_layers.py", "configuration_bert.py")
REMOTE_CODE_SENTINEL = "REMOTE_CODE_WAS_EXECUTED"
_DUMMY_REMOTE_CODE = f'''"""Stand-in for the published remote model code: never to be run."""

from pathlib import Path

Path(__file__).with_name("{REMOTE_CODE_SENTINEL}").touch()
raise RuntimeError("remote model code was executed; virnucpro must only read data files")
'''

PUBLISHED_CONFIG_EXTRAS: dict[str, object] = {
    "architectures": ["BertModel"],
    "attention_probs_dropout_prob": 0.0,
    "auto_map": {
        "AutoConfig": "configuration_bert.BertConfig",
        "AutoModel": "bert_layers.BertModel",
        "AutoModelForMaskedLM": "bert_layers.BertForMaskedLM",
        "AutoModelForSequenceClassification": "bert_layers.BertForSequenceClassification",
    },
    "classifier_dropout": None,
    "gradient_checkpointing": False,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "initializer_range": 0.02,
    "model_type": "bert",
    "position_embedding_type": "absolute",
    "torch_dtype": "float32",
    "transformers_version": "4.28.0",
    "use_cache": True,
}
"""Fields of the published ``config.json`` that this implementation does not read."""


@dataclass(frozen=True)
class _Weights:
    """A weights file read into memory, with its checksum."""

    path: Path
    tensors: dict[str, Tensor]
    sha256: str


def load_dnabert(
    folder: Path,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[DnaBert, DnaTokenizer, LoadReport, ModelIdentity]:
    """Load a DNABERT-S snapshot folder: model (eval mode), tokenizer, load report, identity.

    Any problem with the folder is a one-line :class:`ModelLoadError`.
    """
    folder = _check_folder(Path(folder))
    config = read_config(folder / CONFIG_FILE, default_name=folder.name)
    tokenizer = _read_tokenizer(folder / TOKENIZER_FILE, config)
    weights = _read_weights(folder)
    tensors, ignored = _normalize_keys(weights.tensors)
    with_pooler = any(key.startswith(POOLER_PREFIX) for key in tensors)
    with torch.device("meta"):
        model = DnaBert(config, with_pooler=with_pooler)
    unexpected = _assign_weights(model, tensors, weights.path)
    model = model.to(device=device, dtype=dtype).eval()
    report = LoadReport(source=str(weights.path), unexpected_keys=unexpected, ignored_keys=ignored)
    return model, tokenizer, report, _identity(model, folder, weights)


def _check_folder(folder: Path) -> Path:
    if not folder.exists():
        raise ModelLoadError(f"DNABERT-S model path does not exist: {folder}")
    if not folder.is_dir():
        raise ModelLoadError(
            f"DNABERT-S model path must be a Hugging Face snapshot folder, not a file: {folder}"
        )
    for name in (CONFIG_FILE, TOKENIZER_FILE):
        if not (folder / name).is_file():
            raise ModelLoadError(f"{folder} is not a DNABERT-S folder: it has no {name}")
    return folder


def read_config(path: Path, *, default_name: str) -> DnaBertConfig:
    """The model sizes in a published ``config.json``; other fields (``auto_map``...) ignored."""
    raw = _read_json(path)
    missing = [field for field in REQUIRED_CONFIG_FIELDS if field not in raw]
    if missing:
        raise ModelLoadError(f"{path} lacks {', '.join(missing)}")
    sizes = {
        field: _positive_int(raw[field], field, path)
        for field in REQUIRED_CONFIG_FIELDS + OPTIONAL_INT_CONFIG_FIELDS
        if field in raw
    }
    eps = raw.get("layer_norm_eps", DnaBertConfig.layer_norm_eps)
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or eps <= 0:
        raise ModelLoadError(f"{path}: layer_norm_eps must be a positive number, got {eps!r}")
    name = raw.get("_name_or_path") or default_name
    try:
        return DnaBertConfig(**sizes, layer_norm_eps=float(eps), name=str(name))
    except ValueError as exc:
        raise ModelLoadError(f"{path}: {exc}") from exc


def _read_json(path: Path) -> dict[str, object]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{path} is not a JSON object")
    return raw


def _positive_int(value: object, field: str, path: Path) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ModelLoadError(f"{path}: {field} must be a positive integer, got {value!r}")
    return value


def _read_tokenizer(path: Path, config: DnaBertConfig) -> DnaTokenizer:
    tokenizer = DnaTokenizer.from_file(path)
    if tokenizer.vocab_size > config.vocab_size:
        raise ModelLoadError(
            f"{path} has {tokenizer.vocab_size} tokens but the model embeds only "
            f"{config.vocab_size} (config.json vocab_size)"
        )
    return tokenizer


def _read_weights(folder: Path) -> _Weights:
    for name in WEIGHT_FILES:
        path = folder / name
        if path.is_file():
            tensors = _load_safetensors(path) if name == SAFETENSORS_FILE else _load_bin(path)
            return _Weights(path=path, tensors=tensors, sha256=file_sha256(path))
    raise ModelLoadError(
        f"{folder} is not a DNABERT-S folder: it has no {' or '.join(WEIGHT_FILES)}"
    )


def _load_safetensors(path: Path) -> dict[str, Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (OSError, SafetensorError) as exc:
        raise ModelLoadError(f"cannot read {path} as safetensors: {_first_line(exc)}") from exc


def _load_bin(path: Path) -> dict[str, Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors: all mean "not a weights file"
        raise ModelLoadError(f"cannot read {path} as a weights file: {_first_line(exc)}") from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ModelLoadError(f"{path} does not hold a state dict of tensors")
    return dict(state)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _normalize_keys(tensors: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], tuple[str, ...]]:
    """Strip the ``bert.`` prefix; set aside recomputed buffers and the masked-LM head."""
    kept: dict[str, Tensor] = {}
    ignored: list[str] = []
    for key, tensor in tensors.items():
        name = key.removeprefix(KEY_PREFIX)
        if name in IGNORED_KEYS or name.startswith(IGNORED_PREFIXES):
            ignored.append(key)
        elif name in kept:
            raise ModelLoadError(f"weights hold {name} both with and without {KEY_PREFIX!r}")
        else:
            kept[name] = tensor
    return kept, tuple(sorted(ignored))


def _assign_weights(model: DnaBert, tensors: Mapping[str, Tensor], source: Path) -> tuple[str, ...]:
    """Put ``tensors`` into the meta-device ``model``; return the keys the model has no use for."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise ModelLoadError(
            f"{source} lacks {len(missing)} required weights, e.g. {_some(missing)}"
        )
    for key, target in expected.items():
        if tensors[key].shape != target.shape:
            raise ModelLoadError(
                f"{source}: {key} has shape {tuple(tensors[key].shape)} but config.json implies "
                f"{tuple(target.shape)}"
            )
    model.load_state_dict({key: tensors[key] for key in expected}, strict=True, assign=True)
    return tuple(sorted(set(tensors) - set(expected)))


def _some(keys: list[str]) -> str:
    shown = ", ".join(keys[:MAX_KEYS_IN_MESSAGE])
    return shown + (" ..." if len(keys) > MAX_KEYS_IN_MESSAGE else "")


def _identity(model: DnaBert, folder: Path, weights: _Weights) -> ModelIdentity:
    return ModelIdentity(
        role=ROLE,
        name=model.config.name,
        source=str(folder),
        n_parameters=count_parameters(model),
        hidden_size=model.config.hidden_size,
        meaningful=True,
        checksum=weights.sha256,
        extra={"weights_file": weights.path.name},
    )


def save_dnabert_folder(
    model: DnaBert,
    tokenizer: DnaTokenizer,
    folder: Path,
    *,
    safetensors: bool,
    key_prefix: str = "",
    extra_tensors: Mapping[str, Tensor] | None = None,
) -> Path:
    """Write ``model`` and ``tokenizer`` in the published snapshot layout; return the weights file.

    The folder gets ``config.json`` (published fields, ``auto_map`` included), ``tokenizer.json``,
    one weights file, and dummy remote-code files that raise if ever executed. ``key_prefix``
    (e.g. ``"bert."``) is put before every model key; ``extra_tensors`` are written verbatim
    beside them (an ``encoder.alibi`` buffer, a masked-LM head ...), for tests of the loader.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / CONFIG_FILE, json.dumps(published_config(model.config), indent=2))
    write_tokenizer_json(tokenizer, folder / TOKENIZER_FILE)
    for name in REMOTE_CODE_FILES:
        atomic_write_text(folder / name, _DUMMY_REMOTE_CODE)
    state = {key_prefix + key: tensor for key, tensor in model.state_dict().items()}
    state.update(extra_tensors or {})
    state = {key: tensor.detach().to("cpu").contiguous() for key, tensor in state.items()}
    path = folder / (SAFETENSORS_FILE if safetensors else BIN_FILE)
    atomic_write_bytes(path, _serialize(state, safetensors=safetensors))
    return path


def published_config(config: DnaBertConfig) -> dict[str, object]:
    """``config.json`` content as the published snapshot has it, for ``config``'s sizes."""
    return {
        "_name_or_path": config.name,
        "alibi_starting_size": config.max_position_embeddings,
        **PUBLISHED_CONFIG_EXTRAS,
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "layer_norm_eps": config.layer_norm_eps,
        "max_position_embeddings": config.max_position_embeddings,
        "num_attention_heads": config.num_attention_heads,
        "num_hidden_layers": config.num_hidden_layers,
        "type_vocab_size": config.type_vocab_size,
        "vocab_size": config.vocab_size,
    }


def _serialize(state: dict[str, Tensor], *, safetensors: bool) -> bytes:
    if safetensors:
        from safetensors.torch import save

        return save(state, metadata={"format": "pt"})
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()
