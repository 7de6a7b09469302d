"""ESM-2 checkpoints: published layouts round-trip, reports list key problems, bad paths fail."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import esm
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from virnucpro.errors import ModelLoadError
from virnucpro.models.esm2 import ESM2, TINY_ESM_CONFIG, EsmConfig, build_random_esm
from virnucpro.models.esm_alphabet import ESM_TOKENS, EsmAlphabet
from virnucpro.models.esm_checkpoint import EsmCheckpointKeyError, esm_identity, load_esm
from virnucpro.models.esm_export import save_fair_esm_checkpoint, save_hf_esm_folder

ALPHABET = EsmAlphabet()
CONFIG = EsmConfig("esm2_t2_tiny", num_layers=2, embed_dim=32, attention_heads=4)
FAIR_PREFIX = "encoder.sentence_encoder."
LM_HEAD_KEYS = ("bias", "dense.bias", "dense.weight", "layer_norm.bias", "layer_norm.weight")
# Per layer, the names transformers' EsmForMaskedLM gives ESM-2 weights (published folders).
HF_LAYER_KEYS = (
    "attention.self.query.weight",
    "attention.self.query.bias",
    "attention.self.key.weight",
    "attention.self.key.bias",
    "attention.self.value.weight",
    "attention.self.value.bias",
    "attention.self.rotary_embeddings.inv_freq",
    "attention.output.dense.weight",
    "attention.output.dense.bias",
    "attention.LayerNorm.weight",
    "attention.LayerNorm.bias",
    "intermediate.dense.weight",
    "intermediate.dense.bias",
    "output.dense.weight",
    "output.dense.bias",
    "LayerNorm.weight",
    "LayerNorm.bias",
)
# What each transformers name holds, under fair-esm's name (transformers' convert_esm.py).
HF_TO_FAIR_ESM_LAYER0 = {
    "attention.self.query.weight": "layers.0.self_attn.q_proj.weight",
    "attention.self.key.bias": "layers.0.self_attn.k_proj.bias",
    "attention.self.value.weight": "layers.0.self_attn.v_proj.weight",
    "attention.output.dense.weight": "layers.0.self_attn.out_proj.weight",
    "attention.LayerNorm.weight": "layers.0.self_attn_layer_norm.weight",
    "intermediate.dense.weight": "layers.0.fc1.weight",
    "output.dense.bias": "layers.0.fc2.bias",
    "LayerNorm.bias": "layers.0.final_layer_norm.bias",
}
HF_OTHER_KEYS = {
    "esm.embeddings.word_embeddings.weight",
    "esm.embeddings.position_embeddings.weight",  # transformers creates it even for rotary ESM-2
    "esm.encoder.emb_layer_norm_after.weight",
    "esm.encoder.emb_layer_norm_after.bias",
    "esm.contact_head.regression.weight",
    "esm.contact_head.regression.bias",
    "lm_head.decoder.weight",
    *(f"lm_head.{k}" for k in LM_HEAD_KEYS),
}
CODE_RAN: list[str] = []


@pytest.fixture(scope="module")
def model() -> ESM2:
    """Random weights with every LayerNorm moved off 1/0, so any swapped key shows."""
    built = build_random_esm(CONFIG, seed=11)
    generator = torch.Generator().manual_seed(12)
    with torch.no_grad():
        for param in built.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.05)
    return built


@pytest.fixture(scope="module")
def tokens() -> torch.Tensor:
    return ALPHABET.batch_tokens(["MKTAYIAKQRQISFVK", "MKV", "ACDEFGHIKLMNPQRSTVWY"])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_pt(path: Path) -> dict:
    with torch.serialization.safe_globals([argparse.Namespace]):
        return torch.load(path, weights_only=True)


def _assert_same_model(loaded: ESM2, original: ESM2, tokens: torch.Tensor) -> None:
    for (name, got), want in zip(
        loaded.state_dict().items(), original.state_dict().values(), strict=True
    ):
        assert torch.equal(got, want), name
    assert torch.equal(loaded(tokens), original(tokens))


# ---- fair-esm .pt ----------------------------------------------------------------------------


def test_fair_esm_round_trip(model: ESM2, tokens: torch.Tensor, tmp_path: Path) -> None:
    path = tmp_path / "esm2_t2_tiny.pt"
    save_fair_esm_checkpoint(model, path)
    loaded, alphabet, report, identity = load_esm(path)
    _assert_same_model(loaded, model, tokens)
    assert alphabet == ALPHABET
    assert report.clean and report.source == str(path)
    assert report.ignored_keys == tuple(sorted(f"lm_head.{k}" for k in (*LM_HEAD_KEYS, "weight")))
    assert identity.as_dict() == {
        "role": "esm",
        "name": "esm2_t2_tiny",
        "source": str(path),
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "hidden_size": 32,
        "meaningful": True,
        "checksum": _sha256(path),
        "extra": {"format": "fair-esm"},
    }
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())


def test_fair_esm_layout_is_what_fair_esm_loads(
    model: ESM2, tokens: torch.Tensor, tmp_path: Path
) -> None:
    path = tmp_path / "esm2_t2_tiny.pt"
    save_fair_esm_checkpoint(model, path)
    data = _read_pt(path)
    assert set(data) == {"model", "cfg", "args"}
    assert all(k.startswith((FAIR_PREFIX, "encoder.lm_head.")) for k in data["model"])
    cfg = data["cfg"]["model"]
    assert (cfg.encoder_layers, cfg.encoder_embed_dim, cfg.encoder_attention_heads) == (2, 32, 4)
    with pytest.warns(UserWarning, match="Regression weights not found"):
        fair, _ = esm.pretrained.load_model_and_alphabet_core("esm2_t2_tiny", data, None)
    with torch.no_grad():
        expected = fair.eval()(tokens, repr_layers=[2])["representations"][2]
    assert float((model(tokens) - expected).abs().max()) <= 1e-5


def test_load_in_bf16(model: ESM2, tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    save_fair_esm_checkpoint(model, path)
    loaded, *_ = load_esm(path, dtype=torch.bfloat16)
    assert {p.dtype for p in loaded.parameters()} == {torch.bfloat16}
    want = model.layers[0].fc1.weight.to(torch.bfloat16)
    assert torch.equal(loaded.layers[0].fc1.weight, want)


def _rewrite_pt(path: Path, edit: dict[str, torch.Tensor | None]) -> None:
    data = _read_pt(path)
    for key, value in edit.items():
        if value is None:
            del data["model"][key]
        else:
            data["model"][key] = value
    torch.save(data, path)


def test_report_lists_missing_and_unexpected_keys(model: ESM2, tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    save_fair_esm_checkpoint(model, path)
    _rewrite_pt(path, {f"{FAIR_PREFIX}extra.weight": torch.zeros(2)})
    _, _, report, _ = load_esm(path)
    assert report.unexpected_keys == ("extra.weight",)
    assert report.missing_keys == ()
    assert not report.clean

    _rewrite_pt(path, {f"{FAIR_PREFIX}layers.1.fc2.bias": None})
    with pytest.raises(EsmCheckpointKeyError, match=r"1 missing weights \(layers\.1\.fc2\.bias\)"):
        load_esm(path)
    try:
        load_esm(path)
    except EsmCheckpointKeyError as exc:
        assert exc.report.missing_keys == ("layers.1.fc2.bias",)
        assert exc.report.unexpected_keys == ("extra.weight",)
        assert isinstance(exc, ModelLoadError) and "\n" not in str(exc)


def test_rotary_buffer_is_optional_but_checked(model: ESM2, tokens: torch.Tensor, tmp_path: Path):
    path = tmp_path / "m.pt"
    save_fair_esm_checkpoint(model, path)
    key = f"{FAIR_PREFIX}layers.0.self_attn.rot_emb.inv_freq"
    _rewrite_pt(path, {key: None})
    loaded, _, report, _ = load_esm(path)
    assert report.clean
    _assert_same_model(loaded, model, tokens)
    _rewrite_pt(path, {key: torch.full((4,), 0.5)})
    with pytest.raises(ModelLoadError, match="rotary"):
        load_esm(path)


def test_config_that_does_not_fit_the_weights(model: ESM2, tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    save_fair_esm_checkpoint(model, path)
    data = _read_pt(path)
    data["cfg"]["model"].encoder_embed_dim = 48
    torch.save(data, path)
    with pytest.raises(ModelLoadError, match="do not fit") as info:
        load_esm(path)
    assert "\n" not in str(info.value)


def test_legacy_serialization_is_read_without_running_code(
    model: ESM2, tokens: torch.Tensor, tmp_path: Path
) -> None:
    """A .pt written before PyTorch 1.6's zip format loads, weights-only, as the zip one does."""
    save_fair_esm_checkpoint(model, tmp_path / "zip.pt")
    with torch.serialization.safe_globals([argparse.Namespace]):
        data = torch.load(tmp_path / "zip.pt", weights_only=True)
    legacy = tmp_path / "legacy.pt"
    torch.save(data, legacy, _use_new_zipfile_serialization=False)
    assert not legacy.read_bytes().startswith(b"PK")
    loaded, _, report, identity = load_esm(legacy)
    _assert_same_model(loaded, model, tokens)
    assert report.clean
    assert identity.checksum == _sha256(legacy)


# ---- Hugging Face folders --------------------------------------------------------------------


@pytest.mark.parametrize("weights_format", ["safetensors", "bin"])
def test_hf_round_trip(
    model: ESM2, tokens: torch.Tensor, tmp_path: Path, weights_format: str
) -> None:
    folder = tmp_path / "esm2_hf"
    save_hf_esm_folder(model, folder, weights_format=weights_format)  # type: ignore[arg-type]
    weights = folder / (
        "model.safetensors" if weights_format == "safetensors" else "pytorch_model.bin"
    )
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["config.json", "vocab.txt", weights.name]
    )
    loaded, _, report, identity = load_esm(folder)
    _assert_same_model(loaded, model, tokens)
    assert report.clean and len(report.ignored_keys) == 9
    assert "embeddings.position_embeddings.weight" in report.ignored_keys
    assert identity.name == CONFIG.name
    assert identity.checksum == _sha256(weights)
    assert identity.extra == {"format": f"hf-{weights.suffix.lstrip('.')}"}


def test_hf_layout_uses_transformers_names(model: ESM2, tmp_path: Path) -> None:
    save_hf_esm_folder(model, tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as handle:
        keys = set(handle.keys())
    layers = {f"esm.encoder.layer.{i}.{k}" for i in range(2) for k in HF_LAYER_KEYS}
    assert keys == layers | HF_OTHER_KEYS
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as handle:
        for hf_name, ours_name in HF_TO_FAIR_ESM_LAYER0.items():
            want = model.state_dict()[ours_name]
            assert torch.equal(handle.get_tensor(f"esm.encoder.layer.0.{hf_name}"), want), hf_name
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "esm" and config["position_embedding_type"] == "rotary"
    assert (config["num_hidden_layers"], config["hidden_size"], config["intermediate_size"]) == (
        2,
        32,
        128,
    )
    assert (tmp_path / "vocab.txt").read_text().split() == list(ESM_TOKENS)


def test_hf_sharded_safetensors(model: ESM2, tokens: torch.Tensor, tmp_path: Path) -> None:
    save_hf_esm_folder(model, tmp_path)
    state = load_file(tmp_path / "model.safetensors")
    (tmp_path / "model.safetensors").unlink()
    names = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
    keys = sorted(state)
    halves = (keys[: len(keys) // 2], keys[len(keys) // 2 :])
    weight_map = {}
    for name, half in zip(names, halves, strict=True):
        save_file({k: state[k] for k in half}, tmp_path / name)
        weight_map |= dict.fromkeys(half, name)
    index = {"metadata": {}, "weight_map": weight_map}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    loaded, _, report, identity = load_esm(tmp_path)
    _assert_same_model(loaded, model, tokens)
    assert report.clean
    joined = b"".join((tmp_path / name).read_bytes() for name in names)
    assert identity.checksum == hashlib.sha256(joined).hexdigest()


def test_hf_missing_weight_is_reported(model: ESM2, tmp_path: Path) -> None:
    save_hf_esm_folder(model, tmp_path, weights_format="bin")
    state = torch.load(tmp_path / "pytorch_model.bin", weights_only=True)
    del state["esm.encoder.layer.0.attention.self.key.weight"]
    state["esm.encoder.layer.0.attention.self.surprise"] = torch.zeros(1)
    torch.save(state, tmp_path / "pytorch_model.bin")
    with pytest.raises(EsmCheckpointKeyError) as info:
        load_esm(tmp_path)
    assert info.value.report.missing_keys == ("layers.0.self_attn.k_proj.weight",)
    assert info.value.report.unexpected_keys == ("layers.0.attention.self.surprise",)


# ---- paths that are not ESM-2 checkpoints -----------------------------------------------------


class _Payload:
    """Pickles as a call to _record_call: loading it must never run it."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (_record_call, ("ran",))


def _record_call(marker: str) -> str:
    CODE_RAN.append(marker)
    return marker


def _write_bad(tmp_path: Path, kind: str, model: ESM2) -> Path:
    path = tmp_path / kind
    if kind == "random-bytes.pt":
        path.write_bytes(bytes(range(256)) * 8)
    elif kind == "truncated.pt":
        save_fair_esm_checkpoint(model, tmp_path / "full.pt")
        path.write_bytes((tmp_path / "full.pt").read_bytes()[:5000])
    elif kind == "state-dict-only.pt":
        torch.save(model.state_dict(), path)
    elif kind == "code.pt":
        torch.save({"model": {}, "cfg": _Payload()}, path)
    elif kind == "legacy-code.pt":
        torch.save({"model": {}, "cfg": _Payload()}, path, _use_new_zipfile_serialization=False)
    elif kind == "dnabert-folder":
        path.mkdir()
        (path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 768}))
        torch.save(
            {"bert.embeddings.word_embeddings.weight": torch.zeros(2, 2)},
            path / "pytorch_model.bin",
        )
    elif kind == "esm1b-folder":
        save_hf_esm_folder(model, path)
        config = json.loads((path / "config.json").read_text())
        (path / "config.json").write_text(
            json.dumps(config | {"position_embedding_type": "absolute"})
        )
    elif kind == "no-weights-folder":
        save_hf_esm_folder(model, path)
        (path / "model.safetensors").unlink()
    elif kind == "empty-folder":
        path.mkdir()
    elif kind == "bad-index-folder":
        save_hf_esm_folder(model, path)
        (path / "model.safetensors").rename(path / "model.safetensors.index.json")
    elif kind == "bad-safetensors-folder":
        save_hf_esm_folder(model, path)
        (path / "model.safetensors").write_bytes(b"not safetensors at all")
    return path


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("does-not-exist.pt", "not found"),
        ("random-bytes.pt", "not a PyTorch checkpoint"),
        ("truncated.pt", "not a PyTorch checkpoint|unreadable"),
        ("state-dict-only.pt", "not a fair-esm ESM-2 checkpoint"),
        ("code.pt", "refusing to unpickle"),
        ("legacy-code.pt", "refusing to unpickle"),
        ("dnabert-folder", "model_type is 'bert'"),
        ("esm1b-folder", "position_embedding_type is 'absolute'"),
        ("no-weights-folder", "no weights file"),
        ("empty-folder", "not an ESM-2 folder"),
        ("bad-safetensors-folder", "unreadable safetensors"),
        ("bad-index-folder", "unreadable weights index"),
    ],
)
def test_bad_paths_raise_one_line_model_load_error(
    model: ESM2, tmp_path: Path, kind: str, reason: str
) -> None:
    path = _write_bad(tmp_path, kind, model)
    with pytest.raises(ModelLoadError, match=reason) as info:
        load_esm(path)
    assert "\n" not in str(info.value)
    assert CODE_RAN == []


def test_identity_of_a_random_preset() -> None:
    model = build_random_esm(TINY_ESM_CONFIG, seed=0)
    identity = esm_identity(model, source="preset:tiny (seed 0)", meaningful=False)
    assert (identity.role, identity.name, identity.meaningful) == ("esm", "tiny-esm", False)
    assert identity.hidden_size == 64 and identity.checksum == ""
