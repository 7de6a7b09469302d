"""Tests for loading and writing DNABERT-S snapshot folders."""

from __future__ import annotations

import hashlib
import json
import runpy
import sys
from pathlib import Path

import pytest
import torch

from virnucpro.errors import ModelLoadError
from virnucpro.models.dnabert import TINY_DNABERT_CONFIG, DnaBert, build_random_dnabert
from virnucpro.models.dnabert_checkpoint import (
    BIN_FILE,
    CONFIG_FILE,
    REMOTE_CODE_FILES,
    REMOTE_CODE_SENTINEL,
    SAFETENSORS_FILE,
    TOKENIZER_FILE,
    load_dnabert,
    save_dnabert_folder,
)
from virnucpro.models.dnabert_tokenizer import DnaTokenizer, build_tiny_tokenizer

FORMATS = pytest.mark.parametrize("use_safetensors", [False, True], ids=["bin", "safetensors"])
SEQUENCES = ["ACGTACGTTTGA", "GGCATTA"]


@pytest.fixture(scope="module")
def model() -> DnaBert:
    return build_random_dnabert(TINY_DNABERT_CONFIG, seed=11)


@pytest.fixture(scope="module")
def tokenizer() -> DnaTokenizer:
    return build_tiny_tokenizer()


def assert_same_weights(left: DnaBert, right: DnaBert) -> None:
    left_state, right_state = left.state_dict(), right.state_dict()
    assert left_state.keys() == right_state.keys()
    for key, tensor in left_state.items():
        assert torch.equal(tensor, right_state[key]), key


def embed(model: DnaBert, tokenizer: DnaTokenizer) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(torch.tensor([tokenizer.encode(s)]))[0] for s in SEQUENCES])


@FORMATS
def test_round_trip(
    tmp_path: Path, model: DnaBert, tokenizer: DnaTokenizer, use_safetensors: bool
) -> None:
    weights_path = save_dnabert_folder(model, tokenizer, tmp_path, safetensors=use_safetensors)
    assert weights_path.name == (SAFETENSORS_FILE if use_safetensors else BIN_FILE)
    loaded, loaded_tokenizer, report, identity = load_dnabert(tmp_path)
    assert_same_weights(model, loaded)
    assert not loaded.training
    assert loaded_tokenizer.to_json() == tokenizer.to_json()
    assert torch.equal(embed(loaded, loaded_tokenizer), embed(model, tokenizer))
    assert report.clean
    assert report.ignored_keys == ()
    assert report.source == str(weights_path)
    assert identity.role == "dnabert"
    assert identity.meaningful
    assert identity.name == "tiny-dnabert"
    assert identity.hidden_size == 64
    assert identity.n_parameters == sum(p.numel() for p in model.parameters())
    assert identity.checksum == hashlib.sha256(weights_path.read_bytes()).hexdigest()


@FORMATS
def test_bert_prefix_alibi_buffer_and_mlm_head_are_handled(
    tmp_path: Path, model: DnaBert, tokenizer: DnaTokenizer, use_safetensors: bool
) -> None:
    extras = {
        "bert.encoder.alibi": torch.zeros(1, 4, 512, 512),
        "cls.predictions.bias": torch.zeros(TINY_DNABERT_CONFIG.vocab_size),
        "cls.predictions.transform.dense.weight": torch.zeros(64, 64),
    }
    save_dnabert_folder(
        model,
        tokenizer,
        tmp_path,
        safetensors=use_safetensors,
        key_prefix="bert.",
        extra_tensors=extras,
    )
    loaded, _, report, _ = load_dnabert(tmp_path)
    assert_same_weights(model, loaded)
    assert report.clean
    assert report.ignored_keys == tuple(sorted(extras))


def test_unexpected_keys_are_reported(
    tmp_path: Path, model: DnaBert, tokenizer: DnaTokenizer
) -> None:
    extra = {"encoder.layer.0.adapter.weight": torch.zeros(3)}
    save_dnabert_folder(model, tokenizer, tmp_path, safetensors=True, extra_tensors=extra)
    _, _, report, _ = load_dnabert(tmp_path)
    assert report.unexpected_keys == ("encoder.layer.0.adapter.weight",)
    assert not report.clean


def test_checkpoint_without_pooler_loads_without_pooler(
    tmp_path: Path, tokenizer: DnaTokenizer
) -> None:
    bare = build_random_dnabert(TINY_DNABERT_CONFIG, seed=3, with_pooler=False)
    save_dnabert_folder(bare, tokenizer, tmp_path, safetensors=False)
    loaded, _, report, _ = load_dnabert(tmp_path)
    assert loaded.pooler is None
    assert report.clean
    assert_same_weights(bare, loaded)


def test_safetensors_preferred_over_bin(
    tmp_path: Path, model: DnaBert, tokenizer: DnaTokenizer
) -> None:
    other = build_random_dnabert(TINY_DNABERT_CONFIG, seed=99)
    save_dnabert_folder(other, tokenizer, tmp_path, safetensors=False)
    save_dnabert_folder(model, tokenizer, tmp_path, safetensors=True)
    loaded, _, report, identity = load_dnabert(tmp_path)
    assert_same_weights(model, loaded)
    assert report.source.endswith(SAFETENSORS_FILE)
    assert identity.extra["weights_file"] == SAFETENSORS_FILE


def test_device_and_dtype_arguments(
    tmp_path: Path, model: DnaBert, tokenizer: DnaTokenizer
) -> None:
    save_dnabert_folder(model, tokenizer, tmp_path, safetensors=True)
    loaded, _, _, _ = load_dnabert(tmp_path, device="cpu", dtype=torch.float64)
    assert {p.dtype for p in loaded.parameters()} == {torch.float64}
    assert {p.device.type for p in loaded.parameters()} == {"cpu"}


def test_written_config_has_the_published_fields(
    tmp_path: Path, model: DnaBert, tokenizer: DnaTokenizer
) -> None:
    save_dnabert_folder(model, tokenizer, tmp_path, safetensors=True)
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert config["auto_map"]["AutoModel"] == "bert_layers.BertModel"
    assert config["model_type"] == "bert"
    assert config["vocab_size"] == TINY_DNABERT_CONFIG.vocab_size
    assert config["alibi_starting_size"] == TINY_DNABERT_CONFIG.max_position_embeddings
    assert all((tmp_path / name).is_file() for name in REMOTE_CODE_FILES)


def test_remote_code_is_never_executed(
    tmp_path: Path, model: DnaBert, tokenizer: DnaTokenizer
) -> None:
    save_dnabert_folder(model, tokenizer, tmp_path, safetensors=False)
    load_dnabert(tmp_path)
    assert not (tmp_path / REMOTE_CODE_SENTINEL).exists()
    assert not any(name.removesuffix(".py") in sys.modules for name in REMOTE_CODE_FILES)
    assert not (tmp_path / "__pycache__").exists()
    # The detector works: running the dummy code leaves the sentinel and raises.
    with pytest.raises(RuntimeError, match="remote model code was executed"):
        runpy.run_path(str(tmp_path / REMOTE_CODE_FILES[0]))
    assert (tmp_path / REMOTE_CODE_SENTINEL).exists()


class _PickleBomb:
    """Unpickling this (without weights_only) would create a file."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.target,))


def test_bin_is_read_with_weights_only(
    tmp_path: Path, model: DnaBert, tokenizer: DnaTokenizer
) -> None:
    save_dnabert_folder(model, tokenizer, tmp_path, safetensors=False)
    target = tmp_path / "pwned"
    state = dict(model.state_dict())
    state["bomb"] = _PickleBomb(target)  # type: ignore[assignment]
    torch.save(state, tmp_path / BIN_FILE)
    with pytest.raises(ModelLoadError, match="cannot read"):
        load_dnabert(tmp_path)
    assert not target.exists()


def _write_folder(folder: Path, model: DnaBert, tokenizer: DnaTokenizer) -> Path:
    save_dnabert_folder(model, tokenizer, folder, safetensors=True)
    return folder


def _edit_config(folder: Path, **changes: object) -> None:
    path = folder / CONFIG_FILE
    config = json.loads(path.read_text())
    config.update(changes)
    for key in [key for key, value in changes.items() if value is None]:
        config.pop(key)
    path.write_text(json.dumps(config))


def _drop_weight(folder: Path, key: str) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / SAFETENSORS_FILE))
    state.pop(key)
    save_file(state, str(folder / SAFETENSORS_FILE))


BREAKAGES = {
    "missing-config": (lambda f: (f / CONFIG_FILE).unlink(), "has no config.json"),
    "missing-tokenizer": (lambda f: (f / TOKENIZER_FILE).unlink(), "has no tokenizer.json"),
    "missing-weights": (lambda f: (f / SAFETENSORS_FILE).unlink(), "has no model.safetensors"),
    "corrupt-weights": (
        lambda f: (f / SAFETENSORS_FILE).write_bytes(b"\x00garbage"),
        "cannot read",
    ),
    "config-not-json": (lambda f: (f / CONFIG_FILE).write_text("{oops"), "cannot read"),
    "config-lacks-size": (lambda f: _edit_config(f, hidden_size=None), "lacks hidden_size"),
    "config-bad-size": (lambda f: _edit_config(f, num_hidden_layers="2"), "positive integer"),
    "config-wrong-size": (
        lambda f: _edit_config(f, hidden_size=32, intermediate_size=64),
        "has shape",
    ),
    "config-too-many-layers": (lambda f: _edit_config(f, num_hidden_layers=3), "lacks"),
    "config-vocab-too-small": (lambda f: _edit_config(f, vocab_size=50), "embeds only 50"),
    "config-heads": (lambda f: _edit_config(f, num_attention_heads=5), "multiple"),
    "missing-weight": (
        lambda f: _drop_weight(f, "encoder.layer.1.mlp.wo.weight"),
        "lacks 1 required weights",
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_broken_folders_raise_one_line_errors(
    tmp_path: Path, model: DnaBert, tokenizer: DnaTokenizer, breakage: str
) -> None:
    folder = _write_folder(tmp_path / "snapshot", model, tokenizer)
    breaker, message = BREAKAGES[breakage]
    breaker(folder)
    with pytest.raises(ModelLoadError, match=message) as error:
        load_dnabert(folder)
    assert "\n" not in str(error.value)


def test_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_dnabert(tmp_path / "nowhere")


def test_a_file_such_as_an_esm_checkpoint_raises(tmp_path: Path) -> None:
    esm_like = tmp_path / "esm2_t6_8M_UR50D.pt"
    torch.save({"model": {"embed_tokens.weight": torch.zeros(33, 8)}, "args": {}}, esm_like)
    with pytest.raises(ModelLoadError, match="not a file") as error:
        load_dnabert(esm_like)
    assert "\n" not in str(error.value)
