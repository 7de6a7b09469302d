from __future__ import annotations

import sys

import pytest
import torch

from virnucpro.errors import ModelLoadError
from virnucpro.stages.classify import (
    MLPClassifier,
    build_random_classifier,
    classify,
    load_classifier,
    predicted_labels,
    save_classifier,
)

INPUT_DIM = 24


@pytest.fixture
def model():
    m = build_random_classifier(INPUT_DIM, seed=3)
    with torch.no_grad():
        m.bn1.running_mean.uniform_(-0.1, 0.1)
        m.bn1.running_var.uniform_(0.5, 1.5)
    return m


def test_architecture_and_published_key_names(model):
    keys = set(model.state_dict())
    assert {"hidden_layer.weight", "bn1.running_mean", "output_layer.bias"} <= keys
    assert model.hidden_layer.out_features == 512


def test_probabilities_sum_to_one_and_eval_mode_is_batch_independent(model):
    x = torch.randn(10, INPUT_DIM)
    probs = classify(model, x, batch_size=3)
    assert probs.shape == (10, 2)
    assert torch.allclose(probs.sum(1), torch.ones(10))
    assert torch.allclose(classify(model, x[:1]), probs[:1], atol=1e-6)  # BLAS may differ by batch


def test_labels_argmax_index_one_is_virus():
    probs = torch.tensor([[0.2, 0.8], [0.7, 0.3], [0.5, 0.5]])
    assert predicted_labels(probs) == ["virus", "others", "others"]


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_state_dict_round_trip(tmp_path, model, suffix):
    path = tmp_path / f"clf{suffix}"
    save_classifier(model, path)
    bundle = load_classifier(path)
    x = torch.randn(4, INPUT_DIM)
    assert torch.equal(classify(bundle.model, x), classify(model, x))
    assert bundle.identity.meaningful
    assert len(bundle.identity.checksum) == 64
    assert bundle.report.clean


def _published_pickle(tmp_path, model):
    """Save the module as the published train.py did: class defined in ``__main__``."""
    main = sys.modules["__main__"]
    cls = type("MLPClassifier", (MLPClassifier,), {"__module__": "__main__"})
    had = hasattr(main, "MLPClassifier")
    old = getattr(main, "MLPClassifier", None)
    main.MLPClassifier = cls
    try:
        published = cls(INPUT_DIM)
        published.load_state_dict(model.state_dict())
        path = tmp_path / "500_model.pth"
        torch.save(published, path)
    finally:
        if had:
            main.MLPClassifier = old
        else:
            del main.MLPClassifier
    return path


def test_pickled_module_needs_opt_in(tmp_path, model):
    path = _published_pickle(tmp_path, model)
    with pytest.raises(ModelLoadError, match="runs code"):
        load_classifier(path)
    bundle = load_classifier(path, allow_pickle=True)
    x = torch.randn(5, INPUT_DIM)
    assert torch.equal(classify(bundle.model, x), classify(model, x))


def test_bad_classifier_files(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        load_classifier(tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelLoadError):
        load_classifier(junk)
    other = tmp_path / "other.pth"
    torch.save({"w": torch.zeros(2)}, other)
    with pytest.raises(ModelLoadError, match=r"hidden_layer\.weight"):
        load_classifier(other)
    bad_st = tmp_path / "x.safetensors"
    bad_st.write_bytes(b"\x00" * 20)
    with pytest.raises(ModelLoadError):
        load_classifier(bad_st)


def test_pickle_opt_in_never_needed_for_state_dicts(tmp_path, model, monkeypatch):
    path = tmp_path / "sd.pth"
    save_classifier(model, path)

    def refuse(*args, **kwargs):
        raise AssertionError("unpickler used for a state dict")

    monkeypatch.setattr("virnucpro.stages.classify._load_pickled_module", refuse)
    assert load_classifier(path).report.clean
