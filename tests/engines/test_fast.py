"""The fast engine: registration, precision policy, casting once, pooling and vanilla parity."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from virnucpro.engines import get_engine
from virnucpro.engines.fast import FastEngine, residue_mean_pool
from virnucpro.engines.precision import cast_module, dtype_of, resolve_precision
from virnucpro.engines.vanilla import ESM_POOL_LIMIT
from virnucpro.errors import InputError, RunFailure
from virnucpro.models.presets import ModelSet, load_model_set

FP32_RTOL = 1e-5
PAD = 1  # ESM <pad>
AMINO = "ACDEFGHIKLMNPQRSTVWY"


@pytest.fixture(scope="module")
def models() -> ModelSet:
    return load_model_set(preset="tiny", device="cpu")


def _relative(reference: torch.Tensor, candidate: torch.Tensor) -> float:
    error = (reference - candidate).abs().amax(dim=1)
    return float((error / reference.abs().amax(dim=1)).max())


def _dna(n: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices("ACGT", k=rng.randint(20, 400))) for _ in range(n)]


def _proteins(lengths: list[int], seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(AMINO, k=n)) for n in lengths]


# --- registration and options ----------------------------------------------------------------


def test_fast_is_registered_with_its_options() -> None:
    engine = get_engine("fast", precision="bf16", token_budget=512)
    assert isinstance(engine, FastEngine)
    assert engine.name == "fast"
    assert engine.precision == "bf16"
    assert engine.token_budget("cpu") == 512


@pytest.mark.parametrize("options", [{"precision": "fp64"}, {"token_budget": 0}])
def test_bad_options_are_input_errors(options: dict[str, object]) -> None:
    with pytest.raises(InputError):
        FastEngine(**options)  # type: ignore[arg-type]


def test_auto_precision_reports_fp32_once_resolved_on_the_cpu(models: ModelSet) -> None:
    engine = FastEngine()
    assert engine.precision == "auto"
    engine.prepare(models)
    assert engine.precision == "fp32"


@pytest.mark.parametrize(
    ("requested", "device", "expected"),
    [("auto", "cpu", "fp32"), ("bf16", "cpu", "bf16"), ("fp16", "cpu", "fp16")],
)
def test_resolve_precision(requested: str, device: str, expected: str) -> None:
    assert resolve_precision(requested, device) == expected


def test_auto_precision_without_a_resolved_device_has_no_dtype() -> None:
    with pytest.raises(InputError, match="resolve"):
        dtype_of("auto")


# --- casting ---------------------------------------------------------------------------------


def test_fp32_uses_the_loaded_models_without_a_copy(models: ModelSet) -> None:
    prepared = FastEngine(precision="fp32").prepare(models)
    assert prepared.dnabert is models.dnabert.model
    assert prepared.esm is models.esm.model


def test_bf16_casts_a_copy_once_per_model_set(models: ModelSet) -> None:
    engine = FastEngine(precision="bf16")
    first = engine.prepare(models)
    assert engine.prepare(models) is first
    assert {p.dtype for p in first.esm.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in first.dnabert.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in models.esm.model.parameters()} == {torch.float32}  # untouched


def test_a_new_model_set_gets_its_own_cast(models: ModelSet) -> None:
    engine = FastEngine(precision="bf16")
    first = engine.prepare(models)
    other = load_model_set(preset="tiny", device="cpu")
    assert engine.prepare(other).esm is not first.esm


def test_models_loaded_in_the_engines_dtype_are_used_without_a_copy() -> None:
    """One copy of the weights: a bf16 load is what the engine computes with, and it holds
    exactly the values a cast copy of the float32 load holds."""
    engine = FastEngine(precision="bf16")
    loaded = load_model_set(preset="tiny", device="cpu", dtype=engine.weights_dtype("cpu"))
    prepared = engine.prepare(loaded)
    assert loaded.dtype == torch.bfloat16
    assert prepared.esm is loaded.esm.model and prepared.dnabert is loaded.dnabert.model
    copied = FastEngine(precision="bf16").prepare(load_model_set(preset="tiny", device="cpu"))
    for one, cast in ((prepared.esm, copied.esm), (prepared.dnabert, copied.dnabert)):
        pairs = zip(one.state_dict().items(), cast.state_dict().values(), strict=True)
        for (name, tensor), expected in pairs:
            assert tensor.dtype == expected.dtype and torch.equal(tensor, expected), name
    assert {p.dtype for p in loaded.classifier.model.parameters()} == {torch.float32}


def test_weights_rounded_to_another_dtype_are_refused() -> None:
    rounded = load_model_set(preset="tiny", device="cpu", dtype=torch.bfloat16)
    for engine in (FastEngine(precision="fp32"), FastEngine(precision="fp16")):
        with pytest.raises(RunFailure, match=r"loaded in torch\.bfloat16"):
            engine.prepare(rounded)
    vanilla = get_engine("vanilla")
    with pytest.raises(RunFailure, match="float32"):
        vanilla.prepare(rounded)
    with pytest.raises(RunFailure, match="float32"):
        vanilla.embed_protein(rounded, ["MKV"])


def test_cast_module_keeps_integer_buffers_and_original() -> None:
    module = torch.nn.Linear(3, 2)
    module.register_buffer("counts", torch.arange(3))
    cast = cast_module(module, torch.float16)
    assert cast.weight.dtype == torch.float16
    assert cast.counts.dtype == torch.int64
    assert module.weight.dtype == torch.float32
    assert cast_module(cast, torch.float16) is cast


# --- pooling ---------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    residues=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=6),
    limit=st.integers(min_value=1, max_value=14),
    seed=st.integers(0, 1000),
)
def test_residue_pool_matches_the_published_slice(
    residues: list[int], limit: int, seed: int
) -> None:
    width = max(residues) + 2
    tokens = torch.full((len(residues), width), PAD)
    for row, n in enumerate(residues):
        tokens[row, : n + 2] = 5  # <cls>, residues, <eos>: anything but <pad>
    reps = torch.randn(len(residues), width, 3, generator=torch.Generator().manual_seed(seed))
    pooled = residue_mean_pool(reps, tokens, PAD, limit)
    for row, n in enumerate(residues):
        expected = reps[row, 1 : min(n, limit) + 1].mean(0)
        torch.testing.assert_close(pooled[row], expected)


def test_dna_pooling_over_padded_batches_equals_one_sequence_at_a_time(models: ModelSet) -> None:
    sequences = _dna(9)
    vanilla = get_engine("vanilla").embed_dna(models, sequences)
    fast = FastEngine(token_budget=256).embed_dna(models, sequences)  # several padded batches
    assert fast.batches > 1
    assert fast.tokens == vanilla.tokens
    assert _relative(vanilla.vectors, fast.vectors) < FP32_RTOL


def test_esm_pools_only_the_first_1024_residues_of_a_long_protein(models: ModelSet) -> None:
    sequences = _proteins([ESM_POOL_LIMIT + 90, 40, 7])
    vanilla = get_engine("vanilla").embed_protein(models, sequences)
    fast = FastEngine(token_budget=64).embed_protein(models, sequences)
    assert fast.tokens == vanilla.tokens == sum(len(s) + 2 for s in sequences)
    assert _relative(vanilla.vectors, fast.vectors) < FP32_RTOL
    with torch.inference_mode():  # the limit matters: pooling every residue gives another vector
        reps = models.esm.model(models.esm.alphabet.batch_tokens(sequences[:1], truncation=None))
    assert not torch.allclose(reps[0, 1:-1].mean(0), fast.vectors[0], atol=1e-4)


def test_empty_input_gives_empty_float32_vectors(models: ModelSet) -> None:
    engine = FastEngine()
    assert engine.embed_dna(models, []).vectors.shape == (0, models.dnabert.hidden_size)
    assert engine.embed_protein(models, []).vectors.shape == (0, models.esm.hidden_size)
    width = models.dnabert.hidden_size + models.esm.hidden_size
    assert engine.classify(models, torch.empty(0, width)).shape == (0, 2)


def test_classify_matches_the_published_batches(models: ModelSet) -> None:
    width = models.dnabert.hidden_size + models.esm.hidden_size
    features = torch.randn(300, width, generator=torch.Generator().manual_seed(1))
    expected = get_engine("vanilla").classify(models, features)
    got = FastEngine().classify(models, features)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected)


@contextlib.contextmanager
def _no_reads_to_the_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any tensor value read back to the host (a device sync on a GPU) fails the test."""

    def refuse(self: torch.Tensor, *args: object) -> object:
        raise AssertionError("the forward read a tensor value back to the host (a GPU sync)")

    with monkeypatch.context() as patch:
        for name in ("__bool__", "item", "tolist", "__int__", "__float__"):
            patch.setattr(torch.Tensor, name, refuse)
        yield


def test_esm_forward_decides_padding_on_the_host(models: ModelSet, monkeypatch) -> None:
    """The fast engine's ESM-2 batches read nothing back from the device (no sync per batch),
    padded or not, and compute what they computed before."""
    sequences = _proteins([40, 40, 12, 30, 7])  # budget 90: [40, 40] unpadded, [30, 12] padded
    engine = FastEngine(token_budget=90)
    expected = engine.embed_protein(models, sequences)
    model_class = type(engine.prepare(models).esm)
    forward = model_class.forward
    calls = []

    def guarded(self: torch.nn.Module, *args: object, **kwargs: object) -> torch.Tensor:
        calls.append(kwargs.get("padded"))
        with _no_reads_to_the_host(monkeypatch):
            return forward(self, *args, **kwargs)

    monkeypatch.setattr(model_class, "forward", guarded)
    got = engine.embed_protein(models, sequences)
    assert calls == [False, True, False]  # known from the lengths, batch by batch
    assert torch.equal(got.vectors, expected.vectors)


def test_dna_forward_reads_nothing_back_from_the_device(models: ModelSet, monkeypatch) -> None:
    engine = FastEngine(token_budget=256)
    sequences = _dna(9)
    expected = engine.embed_dna(models, sequences)
    model_class = type(engine.prepare(models).dnabert)
    forward = model_class.forward

    def guarded(self: torch.nn.Module, *args: object, **kwargs: object) -> torch.Tensor:
        with _no_reads_to_the_host(monkeypatch):
            return forward(self, *args, **kwargs)

    monkeypatch.setattr(model_class, "forward", guarded)
    assert torch.equal(engine.embed_dna(models, sequences).vectors, expected.vectors)


def test_bf16_embeddings_track_fp32_on_the_cpu(models: ModelSet) -> None:
    sequences = _proteins([30, 60, 120])
    reference = get_engine("vanilla").embed_protein(models, sequences).vectors
    bf16 = FastEngine(precision="bf16").embed_protein(models, sequences)
    assert bf16.vectors.dtype == torch.float32
    assert torch.nn.functional.cosine_similarity(reference, bf16.vectors).min() > 0.999


@pytest.mark.gpu
def test_a_bf16_load_keeps_one_copy_of_the_weights_on_the_gpu() -> None:
    """No float32 model beside the bf16 one: after load and prepare, the GPU holds the bf16
    embedding weights and the float32 classifier, and nothing of that size more."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated()
    engine = FastEngine(precision="bf16")
    gpu_models = load_model_set(
        preset="dnabert-s+esm2-35m", device="cuda", dtype=engine.weights_dtype("cuda")
    )
    prepared = engine.prepare(gpu_models)
    weights = sum(
        t.numel() * t.element_size()
        for model in (prepared.dnabert, prepared.esm, gpu_models.classifier.model)
        for t in (*model.parameters(), *model.buffers())
    )
    held = torch.cuda.memory_allocated() - before
    assert weights <= held < 1.2 * weights  # a float32 copy would make it about 3x


@pytest.mark.gpu
def test_auto_on_the_gpu_uses_half_precision_and_tracks_fp32() -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    gpu_models = load_model_set(preset="tiny", device="cuda")
    engine = FastEngine()
    sequences = _dna(20)
    reference = get_engine("vanilla").embed_dna(gpu_models, sequences).vectors
    fast = engine.embed_dna(gpu_models, sequences)
    assert engine.precision in ("bf16", "fp16")
    assert fast.vectors.device.type == "cpu"
    assert torch.nn.functional.cosine_similarity(reference, fast.vectors).min() > 0.999
