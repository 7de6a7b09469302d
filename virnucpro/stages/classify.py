"""Stage 8: the published MLP classifier, its checkpoint formats, and classification.

``Linear(in, 512) -> BatchNorm1d(512) -> ReLU -> Dropout(0.5) -> Linear(512, 2)`` in eval mode,
then softmax: column 0 is P(others) (``score1``), column 1 is P(virus) (``score2``). The
attribute names match the published module so its state dict loads unchanged.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

from virnucpro.errors import ModelLoadError
from virnucpro.hashing import file_sha256
from virnucpro.models.common import LoadReport, ModelIdentity
from virnucpro.stages.aggregate import FramePrediction
from virnucpro.stages.translate import KeptFrame

HIDDEN_DIM = 512
NUM_CLASSES = 2
DROPOUT = 0.5
CLASSIFY_BATCH_SIZE = 256  # the published DataLoader batch size
LABELS = ("others", "virus")
PICKLE_OPT_IN_FLAG = "--allow-pickle-classifier"


class MLPClassifier(nn.Module):
    """The published classifier head."""

    def __init__(self, input_dim: int, hidden_dim: int = HIDDEN_DIM, num_class: int = NUM_CLASSES):
        super().__init__()
        self.hidden_layer = nn.Linear(input_dim, hidden_dim)
        self.bn1 = nn.BatchNorm1d(hidden_dim)
        self.output_layer = nn.Linear(hidden_dim, num_class)
        self.dropout = nn.Dropout(DROPOUT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, in] -> [N, 2] logits
        x = torch.relu(self.bn1(self.hidden_layer(x)))
        return self.output_layer(self.dropout(x))


@dataclass(frozen=True)
class ClassifierBundle:
    model: MLPClassifier
    identity: ModelIdentity
    report: LoadReport

    @property
    def input_dim(self) -> int:
        return self.model.hidden_layer.in_features


def build_random_classifier(input_dim: int, *, seed: int) -> MLPClassifier:
    """Deterministic random weights (xavier-uniform like the published init)."""
    generator = torch.Generator().manual_seed(seed)
    model = MLPClassifier(input_dim)
    with torch.no_grad():
        for layer in (model.hidden_layer, model.output_layer):
            bound = (6.0 / (layer.in_features + layer.out_features)) ** 0.5
            layer.weight.copy_(
                torch.rand(layer.weight.shape, generator=generator) * 2 * bound - bound
            )
            layer.bias.zero_()
    return model.eval()


def classify(
    model: MLPClassifier, features: torch.Tensor, *, batch_size: int = CLASSIFY_BATCH_SIZE
) -> torch.Tensor:
    """Softmax probabilities ``[N, 2]`` (float32), eval mode, batched like the published tool."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for start in range(0, features.shape[0], batch_size):
            batch = features[start : start + batch_size].to(device, torch.float32)
            out.append(torch.softmax(model(batch), dim=1).float().cpu())
    if not out:
        return torch.empty((0, NUM_CLASSES), dtype=torch.float32)
    return torch.cat(out)


def predicted_labels(probabilities: torch.Tensor) -> list[str]:
    """``virus`` when index 1 is the argmax (torch.max picks the first index on ties)."""
    return [LABELS[int(i)] for i in torch.argmax(probabilities, dim=1)]


def frame_predictions(
    frames: Sequence[KeptFrame], probabilities: torch.Tensor
) -> list[FramePrediction]:
    """Per-frame label and scores, as the pipeline writes them (stage 8 output)."""
    scores = probabilities.tolist()
    labels = predicted_labels(probabilities)
    return [
        FramePrediction(f.id, label, s[0], s[1])
        for f, label, s in zip(frames, labels, scores, strict=True)
    ]


# --- checkpoint loading -------------------------------------------------------------------


class _PublishedUnpickler(pickle.Unpickler):
    """Resolves the published ``__main__.MLPClassifier`` to ours; everything else as pickle does."""

    def find_class(self, module: str, name: str) -> object:
        if name == "MLPClassifier" and module in ("__main__", "train", "prediction"):
            return MLPClassifier
        return super().find_class(module, name)


_PICKLE_MODULE = SimpleNamespace(Unpickler=_PublishedUnpickler, load=pickle.load, __name__="pickle")


def _read_state_dict(path: Path, *, allow_pickle: bool) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # safetensors raises several error types
            raise ModelLoadError(
                f"{path}: not a safetensors classifier ({exc.__class__.__name__})"
            ) from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if not allow_pickle:
            raise ModelLoadError(
                f"{path}: is a pickled module (like the published 300_model.pth/500_model.pth); "
                f"loading it runs code from the file: pass {PICKLE_OPT_IN_FLAG} if you trust it"
            ) from None
        obj = _load_pickled_module(path)
    except Exception as exc:
        raise ModelLoadError(
            f"{path}: not a classifier checkpoint ({exc.__class__.__name__})"
        ) from None
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelLoadError(f"{path}: not a classifier state dict")
    return obj


def _load_pickled_module(path: Path) -> object:
    try:
        return torch.load(
            path, map_location="cpu", weights_only=False, pickle_module=_PICKLE_MODULE
        )
    except Exception as exc:
        raise ModelLoadError(
            f"{path}: cannot unpickle classifier ({exc.__class__.__name__}: {exc})"
        ) from None


def load_classifier(path: Path | str, *, allow_pickle: bool = False) -> ClassifierBundle:
    """Load a classifier from a state dict (.pth/.pt), safetensors, or (opt-in) a pickled module."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: classifier checkpoint not found")
    state = _read_state_dict(path, allow_pickle=allow_pickle)
    weight = state.get("hidden_layer.weight")
    if weight is None or weight.ndim != 2:
        raise ModelLoadError(f"{path}: not a VirNucPro classifier (no hidden_layer.weight)")
    model = MLPClassifier(weight.shape[1], hidden_dim=weight.shape[0])
    result = model.load_state_dict(state, strict=False)
    report = LoadReport(
        source=str(path),
        missing_keys=tuple(result.missing_keys),
        unexpected_keys=tuple(result.unexpected_keys),
    )
    if report.missing_keys:
        raise ModelLoadError(f"{path}: classifier is missing {', '.join(report.missing_keys[:4])}")
    identity = ModelIdentity(
        role="classifier",
        name=path.name,
        source=str(path),
        n_parameters=sum(p.numel() for p in model.parameters()),
        hidden_size=weight.shape[1],
        meaningful=True,
        checksum=file_sha256(path),
    )
    return ClassifierBundle(model=model.eval(), identity=identity, report=report)


def save_classifier(model: MLPClassifier, path: Path | str) -> None:
    """Write a state dict (``.safetensors`` by suffix, else a torch state dict)."""
    path = Path(path)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save(state, path)
