from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from virnucpro.errors import InputError
from virnucpro.models.presets import load_model_set
from virnucpro.pipeline import NoKeptFramesWarning, PredictConfig, predict
from virnucpro.pipeline.metrics import RunMetrics
from virnucpro.pipeline.workdir import WORK_DIR_NAME
from virnucpro.stages.chunking import chunk_records
from virnucpro.stages.fasta import read_fasta
from virnucpro.stages.translate import keep_frames

RESULT_FILES = ["prediction_results.txt", "prediction_results_highestscore.csv", "run_metrics.json"]


@pytest.fixture(scope="module")
def tiny_models():
    return load_model_set(preset="tiny", device="cpu")


def _config(inp, out, **kw):
    return PredictConfig(input=inp, outdir=out, device="cpu", **kw)


def _frames(path):
    return keep_frames(chunk_records(read_fasta(path), 500))


def test_end_to_end_tiny_outputs(orf_fasta, tmp_path, tiny_models):
    out = tmp_path / "out"
    predict(_config(orf_fasta, out), models=tiny_models)
    frames = _frames(orf_fasta)
    rows = (out / "prediction_results.txt").read_text().splitlines()
    assert rows[0] == "Sequence_ID\tPrediction\tscore1\tscore2"
    assert [r.split("\t")[0] for r in rows[1:]] == [f.id for f in frames]
    first = rows[1].split("\t")
    assert first[1] in ("virus", "others")
    assert abs(float(first[2]) + float(first[3]) - 1) < 1e-6
    calls = (out / "prediction_results_highestscore.csv").read_text().splitlines()
    assert calls[0] == "Modified_ID\tIs_Virus"
    ids = [c.split("\t")[0] for c in calls[1:]]
    assert ids == sorted({f.chunk_id for f in frames})
    assert {c.split("\t")[1] for c in calls[1:]} <= {"True", "False"}
    assert sorted(p.name for p in out.iterdir()) == RESULT_FILES


def test_run_metrics_record(orf_fasta, tmp_path, tiny_models):
    out = tmp_path / "out"
    result = predict(_config(orf_fasta, out), models=tiny_models)
    frames = _frames(orf_fasta)
    metrics = RunMetrics.read(out / "run_metrics.json")
    assert metrics == result.metrics
    assert metrics.reads == 6
    assert metrics.kept_frames == len(frames)
    assert metrics.engine == "fast" and metrics.precision == "fp32"  # fast is the default
    assert not metrics.models_meaningful
    assert "not biologically meaningful" in metrics.model_note
    names = [s.name for s in metrics.stages]
    expected = {"read", "chunk", "translate", "dnabert", "esm", "merge", "classify", "aggregate"}
    assert expected <= set(names)
    assert metrics.esm_tokens == sum(len(f.protein) + 2 for f in frames)
    assert metrics.dnabert_tokens > 0
    assert json.loads((out / "run_metrics.json").read_text())["schema_version"] == 2
    assert metrics.dropped is not None and metrics.dropped.reads_without_kept_frame == 0


def test_a_version_1_record_reads_with_dropped_unknown(orf_fasta, tmp_path, tiny_models):
    out = tmp_path / "out"
    predict(_config(orf_fasta, out), models=tiny_models)
    data = json.loads((out / "run_metrics.json").read_text())
    del data["dropped"]
    data["schema_version"] = 1
    assert RunMetrics.from_dict(data).dropped is None


def _mixed_fasta(path):
    """One read of each kind: kept, a stop in every frame, mostly N, shorter than a codon, and a
    read with a kept chunk and a chunk lost to stops."""
    from tests.conftest import orf_sequence

    orf = orf_sequence(random.Random(2), 400)
    stops = "TTAATTAATTAACTC"  # every one of the six frames holds a stop
    path.write_text(
        f">kept\n{orf}\n>stops\n{stops}\n>ns\n{'ANN' * 40}\n>short\nAC\n"
        f">half\n{orf[:300]}{stops * 14}\n"
    )
    return path


def test_reads_and_chunks_without_a_kept_frame_are_counted_and_listed(tmp_path, tiny_models):
    inp = _mixed_fasta(tmp_path / "mixed.fa")
    plain, kept = tmp_path / "plain", tmp_path / "kept"
    predict(_config(inp, plain, expected_length=300), models=tiny_models)
    result = predict(
        _config(inp, kept, expected_length=300, keep_intermediate=True), models=tiny_models
    )
    dropped = result.metrics.dropped
    assert (dropped.reads_without_kept_frame, dropped.chunks_without_kept_frame) == (3, 4)
    assert dropped.reads_by_reason == {"stop_codon": 1, "mostly_n": 1, "too_short": 1}
    assert dropped.chunks_by_reason == {"stop_codon": 2, "mostly_n": 1, "too_short": 1}
    assert RunMetrics.read(kept / "run_metrics.json").dropped == dropped
    listed = (kept / "mixed_no_kept_frame.tsv").read_text().splitlines()
    assert listed == [
        "ID\tLevel\tReason",
        "stops_chunk_1\tchunk\tstop_codon",
        "stops\tread\tstop_codon",
        "ns_chunk_1\tchunk\tmostly_n",
        "ns\tread\tmostly_n",
        "short_chunk_1\tchunk\ttoo_short",
        "short\tread\ttoo_short",
        "half_chunk_2\tchunk\tstop_codon",
    ]
    assert not (plain / "mixed_no_kept_frame.tsv").exists()
    for name in RESULT_FILES[:2]:  # the published files are the same with or without the list
        assert (plain / name).read_bytes() == (kept / name).read_bytes()


def _rows(path):
    return [line.split("\t") for line in path.read_text().splitlines()[1:]]


def test_shards_give_the_same_calls(orf_fasta, tmp_path, tiny_models):
    """Smaller shards change ESM-2 batch padding (as the published 10,000-frame files do), so
    scores move in the last bits; ids, labels and chunk calls stay the same."""
    whole = tmp_path / "whole"
    sharded = tmp_path / "sharded"
    predict(_config(orf_fasta, whole), models=tiny_models)
    predict(_config(orf_fasta, sharded, shard_frames=2), models=tiny_models)
    a, b = _rows(whole / RESULT_FILES[0]), _rows(sharded / RESULT_FILES[0])
    assert [r[:2] for r in a] == [r[:2] for r in b]
    assert max(abs(float(x[2]) - float(y[2])) for x, y in zip(a, b, strict=True)) < 1e-5
    assert (whole / RESULT_FILES[1]).read_text() == (sharded / RESULT_FILES[1]).read_text()


def test_keep_intermediate_published_names(orf_fasta, tmp_path, tiny_models):
    out = tmp_path / "out"
    predict(_config(orf_fasta, out, keep_intermediate=True, shard_frames=3), models=tiny_models)
    frames = _frames(orf_fasta)
    chunked = (out / "reads_chunked500.fa").read_text().splitlines()
    assert chunked[0] == ">read0_chunk_1"
    assert max(len(line) for line in chunked) == 60  # wrapped like Biopython's writer
    nuc = (out / "reads_identified_nucleotide.fa").read_text().splitlines()
    prot = (out / "reads_identified_protein.faa").read_text().splitlines()
    assert nuc[0::2] == prot[0::2] == [f">{f.id}" for f in frames]
    assert prot[1::2] == [f.protein for f in frames]
    assert nuc[1::2] == [f.nucleotide for f in frames]
    emb = out / "reads_embeddings"
    assert (emb / "ids.txt").read_text().split() == [f.id for f in frames]
    assert np.load(emb / "dnabert.npy").shape == (len(frames), tiny_models.dnabert.hidden_size)
    assert np.load(emb / "esm.npy").shape == (len(frames), tiny_models.esm.hidden_size)
    assert not (out / WORK_DIR_NAME).exists()


def test_no_kept_frame_warns_and_writes_headers(tmp_path, tiny_models):
    inp = tmp_path / "stops.fa"
    inp.write_text(">s\nTTAATTAATTAACTC\n")  # every one of the six frames holds a stop
    out = tmp_path / "out"
    with pytest.warns(NoKeptFramesWarning):
        result = predict(_config(inp, out), models=tiny_models)
    assert result.metrics.kept_frames == 0
    header = "Sequence_ID\tPrediction\tscore1\tscore2\n"
    assert (out / "prediction_results.txt").read_text() == header
    assert (out / "prediction_results_highestscore.csv").read_text() == "Modified_ID\tIs_Virus\n"


def test_deterministic_across_runs(orf_fasta, tmp_path):
    a = predict(_config(orf_fasta, tmp_path / "a"))
    b = predict(_config(orf_fasta, tmp_path / "b"))
    assert (tmp_path / "a" / "prediction_results.txt").read_bytes() == (
        tmp_path / "b" / "prediction_results.txt"
    ).read_bytes()
    assert a.metrics.models == b.metrics.models


def test_output_files_are_readable_by_others(orf_fasta, tmp_path, tiny_models):
    out = tmp_path / "out"
    predict(_config(orf_fasta, out), models=tiny_models)
    assert (out / "prediction_results.txt").stat().st_mode & 0o044


def test_load_reports_recorded_in_run_metrics(orf_fasta, tmp_path):
    import torch

    from virnucpro.stages.classify import build_random_classifier, save_classifier

    models = load_model_set(preset="tiny", device="cpu")
    width = models.dnabert.hidden_size + models.esm.hidden_size
    path = tmp_path / "clf.pth"
    save_classifier(build_random_classifier(width, seed=1), path)
    state = torch.load(path, weights_only=True)
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, path)
    result = predict(_config(orf_fasta, tmp_path / "out", classifier=path))
    reports = {r["source"]: r for r in result.metrics.extra["load_reports"]}
    assert reports[str(path)]["unexpected"] == ["extra.weight"]
    assert reports[str(path)]["missing"] == []


def test_check_equivalence_recorded_in_run_metrics(orf_fasta, tmp_path, tiny_models):
    result = predict(
        _config(orf_fasta, tmp_path / "out", check_equivalence=True), models=tiny_models
    )
    equivalence = result.metrics.extra["equivalence"]
    assert equivalence["passed"] is True
    assert equivalence["speedup"] > 0
    on_disk = json.loads((tmp_path / "out" / "run_metrics.json").read_text())
    assert on_disk["extra"]["equivalence"]["passed"] is True


def test_check_equivalence_uses_the_runs_max_tokens(orf_fasta, tmp_path, monkeypatch):
    from virnucpro.pipeline import equivalence

    options = []
    check = equivalence.equivalence_check

    def spy(*args, **kwargs):
        options.append(kwargs["candidate_options"])
        return check(*args, **kwargs)

    monkeypatch.setattr(equivalence, "equivalence_check", spy)
    predict(_config(orf_fasta, tmp_path / "out", check_equivalence=True, max_tokens=300))
    assert options == [{"precision": "auto", "token_budget": 300}]


def test_check_equivalence_of_the_vanilla_engine_runs(orf_fasta, tmp_path, tiny_models):
    config = _config(orf_fasta, tmp_path / "out", engine="vanilla", check_equivalence=True)
    equivalence = predict(config, models=tiny_models).metrics.extra["equivalence"]
    assert equivalence["passed"] is True


def test_engine_is_reused_across_runs(orf_fasta, tmp_path, tiny_models):
    from virnucpro.pipeline.run import _engine

    config = _config(orf_fasta, tmp_path / "a")
    assert _engine(config) is _engine(_config(orf_fasta, tmp_path / "b"))
    assert _engine(config) is not _engine(_config(orf_fasta, tmp_path / "c", engine="vanilla"))


@pytest.fixture
def prepared_models(monkeypatch):
    """Every (models, prepared) pair the fast engine prepares during the test."""
    from virnucpro.engines.fast import FastEngine

    seen = []
    prepare = FastEngine.prepare

    def spy(self, models):
        prepared = prepare(self, models)
        seen.append((models, prepared))
        return prepared

    monkeypatch.setattr(FastEngine, "prepare", spy)
    return seen


def test_a_bf16_run_keeps_one_copy_of_the_weights(orf_fasta, tmp_path, prepared_models):
    """The models are loaded in the engine's dtype: no float32 copy beside the bf16 one."""
    predict(_config(orf_fasta, tmp_path / "out", precision="bf16"))
    models, prepared = prepared_models[0]
    assert prepared.esm is models.esm.model and prepared.dnabert is models.dnabert.model
    assert models.dtype == torch.bfloat16
    dtypes = {t.dtype for m in (prepared.esm, prepared.dnabert) for t in m.parameters()}
    assert dtypes == {torch.bfloat16}


def test_check_equivalence_keeps_the_float32_weights_for_vanilla(
    orf_fasta, tmp_path, prepared_models
):
    result = predict(_config(orf_fasta, tmp_path / "out", precision="bf16", check_equivalence=True))
    assert result.metrics.extra["equivalence"]["passed"] is True
    models, prepared = prepared_models[0]
    assert models.dtype == torch.float32 and prepared.esm is not models.esm.model


def test_one_copy_computes_what_the_cast_copy_computed(orf_fasta, tmp_path, tiny_models):
    """Loading in bf16 gives the same bits as casting a float32 load (the earlier way)."""
    outs = {}
    for name, models in (("one copy", None), ("cast copy", tiny_models)):
        outs[name] = tmp_path / name.replace(" ", "_")
        config = _config(orf_fasta, outs[name], precision="bf16", keep_intermediate=True)
        predict(config, models=models)
    one, cast = outs["one copy"], outs["cast copy"]
    for name in ("prediction_results.txt", "prediction_results_highestscore.csv"):
        assert (one / name).read_bytes() == (cast / name).read_bytes(), name
    for name in ("dnabert.npy", "esm.npy"):
        found = np.load(one / "reads_embeddings" / name)
        assert np.array_equal(found, np.load(cast / "reads_embeddings" / name)), name


def test_max_tokens_sets_the_fast_engines_batches(orf_fasta, tmp_path):
    from virnucpro.engines.batching import plan_batches

    result = predict(_config(orf_fasta, tmp_path / "out", max_tokens=200))
    lengths = np.array([len(f.protein) + 2 for f in _frames(orf_fasta)])
    stages = {s.name: s for s in result.metrics.stages}
    assert stages["esm"].batches == len(plan_batches(lengths, 200)) > 1


@pytest.mark.parametrize("value", [0, -3, True, 2.5])
def test_max_tokens_must_be_a_positive_integer(value, orf_fasta, tmp_path):
    with pytest.raises(InputError, match=r"^--max-tokens must be a positive integer"):
        predict(_config(orf_fasta, tmp_path / "out", max_tokens=value))
    assert not (tmp_path / "out").exists()


def test_max_tokens_is_refused_with_the_vanilla_engine(orf_fasta, tmp_path):
    with pytest.raises(InputError, match="--max-tokens sets the fast engine's batches"):
        predict(_config(orf_fasta, tmp_path / "out", engine="vanilla", max_tokens=512))


def test_a_resume_with_another_max_tokens_is_refused(orf_fasta, tmp_path):
    """Batches decide which sequences share a kernel call, so the last bits: a resumed run
    computes its remaining shards with the budget the finished ones used."""
    out = tmp_path / "out"

    def stop(shard):
        raise KeyboardInterrupt  # stopped after its first shard

    with pytest.raises(KeyboardInterrupt):
        predict(_config(orf_fasta, out, max_tokens=300, shard_frames=3), on_shard=stop)
    assert (out / WORK_DIR_NAME).is_dir()
    with pytest.raises(InputError, match="differs in max_tokens"):
        predict(_config(orf_fasta, out, max_tokens=200, shard_frames=3, resume=True))
    result = predict(_config(orf_fasta, out, max_tokens=300, shard_frames=3, resume=True))
    assert result.metrics is not None
