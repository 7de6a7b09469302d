"""Model presets and the loaded model set a run uses.

``tiny`` (the default) builds small models with fixed-seed random weights in-process: no
download, deterministic, fast, and **not biologically meaningful** -- every output says so.
Real-size presets build the published architectures with random weights for performance work,
where only the shapes matter. ``--dnabert/--esm/--classifier`` replace a preset's component with
a real checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from virnucpro.errors import InputError
from virnucpro.models.common import LoadReport, ModelIdentity

PRESET_SEED = 0
RANDOM_NOTE = "random weights: predictions are not biologically meaningful"


@dataclass(frozen=True)
class PresetSpec:
    """Which architecture sizes a preset builds."""

    name: str
    dnabert: str  # "tiny" | "dnabert-s"
    esm: str  # "tiny" | a key of ESM2_SIZES
    description: str


PRESETS: dict[str, PresetSpec] = {
    spec.name: spec
    for spec in (
        PresetSpec(
            "tiny", "tiny", "tiny", "tiny DNABERT + tiny ESM-2, seeded random weights (default)"
        ),
        PresetSpec(
            "dnabert-s+esm2-35m",
            "dnabert-s",
            "esm2_t12_35M_UR50D",
            "DNABERT-S size + ESM-2 t12_35M size, random weights (CPU performance work)",
        ),
        PresetSpec(
            "dnabert-s+esm2-650m",
            "dnabert-s",
            "esm2_t33_650M_UR50D",
            "DNABERT-S size + ESM-2 t33_650M size, random weights",
        ),
        PresetSpec(
            "dnabert-s+esm2-3b",
            "dnabert-s",
            "esm2_t36_3B_UR50D",
            "DNABERT-S size + ESM-2 3B size (the published sizes), random weights (GPU)",
        ),
    )
}


@dataclass(frozen=True)
class DnaBertBundle:
    model: Any  # virnucpro.models.dnabert.DnaBert
    tokenizer: Any  # virnucpro.models.dnabert_tokenizer.DnaTokenizer
    identity: ModelIdentity
    report: LoadReport | None = None

    @property
    def hidden_size(self) -> int:
        return self.identity.hidden_size


@dataclass(frozen=True)
class EsmBundle:
    model: Any  # virnucpro.models.esm2.ESM2
    alphabet: Any  # virnucpro.models.esm_alphabet.EsmAlphabet
    identity: ModelIdentity
    report: LoadReport | None = None

    @property
    def hidden_size(self) -> int:
        return self.identity.hidden_size


@dataclass(frozen=True)
class ModelSet:
    """The three models of a run, on one device, in eval mode.

    ``dtype`` is the embedding models' dtype: float32 as loaded, or the fast engine's reduced
    precision when the weights were cast in place (one copy on the device; the vanilla engine
    and fp32 then need a float32 load). The classifier is always float32.
    """

    preset: str
    dnabert: DnaBertBundle
    esm: EsmBundle
    classifier: Any  # virnucpro.stages.classify.ClassifierBundle
    device: torch.device
    reports: tuple[LoadReport, ...] = field(default=())
    dtype: torch.dtype = torch.float32

    @property
    def identities(self) -> tuple[ModelIdentity, ...]:
        return (self.dnabert.identity, self.esm.identity, self.classifier.identity)

    @property
    def meaningful(self) -> bool:
        return all(identity.meaningful for identity in self.identities)

    def load_report_dicts(self) -> list[dict[str, object]]:
        """What each checkpoint load reported, as ``run_metrics.json`` keeps it."""
        return [
            {
                "source": r.source,
                "missing": list(r.missing_keys),
                "unexpected": list(r.unexpected_keys),
                "ignored": len(r.ignored_keys),
            }
            for r in self.reports
        ]

    @property
    def note(self) -> str:
        random = [i.role for i in self.identities if not i.meaningful]
        if not random:
            return "checkpoints loaded from disk"
        return f"preset '{self.preset}' ({', '.join(random)}): {RANDOM_NOTE}"


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _random_identity(
    role: str, name: str, model: torch.nn.Module, hidden: int, preset: str
) -> ModelIdentity:
    return ModelIdentity(
        role=role,
        name=name,
        source=f"preset:{preset} (seed {PRESET_SEED})",
        n_parameters=_n_params(model),
        hidden_size=hidden,
        meaningful=False,
    )


def _build_dnabert(kind: str, preset: str, device: torch.device, on_device: bool) -> DnaBertBundle:
    from virnucpro.models import dnabert, dnabert_tokenizer

    if kind == "tiny":
        tokenizer = dnabert_tokenizer.build_tiny_tokenizer()
        config = dnabert.TINY_DNABERT_CONFIG
    else:
        tokenizer = dnabert_tokenizer.build_synthetic_tokenizer()
        config = dnabert.DNABERT_S_CONFIG
    model = dnabert.build_random_dnabert(
        config, seed=PRESET_SEED, device=device, draw_on_device=on_device
    ).eval()
    identity = _random_identity("dnabert", f"{config.name}", model, config.hidden_size, preset)
    return DnaBertBundle(model=model, tokenizer=tokenizer, identity=identity)


def _build_esm(kind: str, preset: str, device: torch.device, on_device: bool) -> EsmBundle:
    from virnucpro.models import esm2, esm_alphabet

    config = esm2.TINY_ESM_CONFIG if kind == "tiny" else esm2.ESM2_SIZES[kind]
    model = esm2.build_random_esm(
        config, seed=PRESET_SEED, device=device, draw_on_device=on_device
    ).eval()
    identity = _random_identity("esm", config.name, model, config.embed_dim, preset)
    return EsmBundle(model=model, alphabet=esm_alphabet.EsmAlphabet(), identity=identity)


def _load_dnabert(path: Path, device: torch.device) -> DnaBertBundle:
    from virnucpro.models.dnabert_checkpoint import load_dnabert

    model, tokenizer, report, identity = load_dnabert(path, device=device)
    return DnaBertBundle(model=model.eval(), tokenizer=tokenizer, identity=identity, report=report)


def _load_esm(path: Path, device: torch.device) -> EsmBundle:
    from virnucpro.models.esm_checkpoint import load_esm

    model, alphabet, report, identity = load_esm(path, device=device)
    return EsmBundle(model=model.eval(), alphabet=alphabet, identity=identity, report=report)


def _classifier(path: Path | None, input_dim: int, preset: str, allow_pickle: bool) -> Any:
    from virnucpro.errors import ModelLoadError
    from virnucpro.stages.classify import ClassifierBundle, build_random_classifier, load_classifier

    if path is not None:
        bundle = load_classifier(path, allow_pickle=allow_pickle)
        if bundle.input_dim != input_dim:
            raise ModelLoadError(
                f"{path}: classifier expects {bundle.input_dim} features but the embedding models "
                f"give {input_dim}"
            )
        return bundle
    model = build_random_classifier(input_dim, seed=PRESET_SEED)
    identity = _random_identity("classifier", f"mlp-{input_dim}", model, input_dim, preset)
    return ClassifierBundle(
        model=model, identity=identity, report=LoadReport(source=f"preset:{preset}")
    )


def check_preset(preset: str) -> None:
    """Refuse an unknown preset name (before anything loads)."""
    if preset not in PRESETS:
        raise InputError(f"unknown model preset {preset!r} (choose from {', '.join(PRESETS)})")


def load_model_set(
    *,
    preset: str = "tiny",
    dnabert: Path | None = None,
    esm: Path | None = None,
    classifier: Path | None = None,
    allow_pickle_classifier: bool = False,
    device: torch.device | str = "cpu",
    draw_on_device: bool = False,
    dtype: torch.dtype = torch.float32,
) -> ModelSet:
    """Build or load the three models of a run on ``device`` (eval mode).

    The embedding models are loaded in float32, then cast in place to ``dtype``, one tensor at
    a time: a run that computes in bf16 keeps one copy of the weights on the device, and the
    weights are the float32 ones rounded, exactly as a cast copy would hold them. The
    classifier stays float32. ``draw_on_device`` draws a preset's random weights on ``device``
    (the 3B size in seconds on a GPU); they are then reproducible only on the same kind of
    device.
    """
    check_preset(preset)
    spec = PRESETS[preset]
    device = torch.device(device)
    dna = (
        _load_dnabert(Path(dnabert), device)
        if dnabert
        else _build_dnabert(spec.dnabert, preset, device, draw_on_device)
    )
    prot = (
        _load_esm(Path(esm), device)
        if esm
        else _build_esm(spec.esm, preset, device, draw_on_device)
    )
    for bundle in (dna, prot):
        bundle.model.to(dtype=dtype)  # in place: each float32 tensor is freed once cast
    head = _classifier(
        classifier, dna.hidden_size + prot.hidden_size, preset, allow_pickle_classifier
    )
    head.model.to(device)
    reports = tuple(r for r in (dna.report, prot.report, head.report) if r is not None)
    return ModelSet(
        preset=preset,
        dnabert=dna,
        esm=prot,
        classifier=head,
        device=device,
        reports=reports,
        dtype=dtype,
    )
