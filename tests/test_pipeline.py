from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from virnucpro.metrics import RunMetrics
from virnucpro.models.presets import load_model_set
from virnucpro.pipeline import NoKeptFramesWarning, PredictConfig, predict


@pytest.fixture(scope="module")
def tiny_models():
    return load_model_set(preset="tiny", device="cpu")


def _config(inp, out, **kw):
    return PredictConfig(input=inp, outdir=out, device="cpu", **kw)


def test_end_to_end_tiny_outputs(orf_fasta, tmp_path, tiny_models):
    out = tmp_path / "out"
    result = predict(_config(orf_fasta, out), models=tiny_models)
    rows = (out / "prediction_results.txt").read_text().splitlines()
    assert rows[0] == "Sequence_ID\tPrediction\tscore1\tscore2"
    assert len(rows) - 1 == len(result.frames) > 0
    first = rows[1].split("\t")
    assert first[0] == result.frames[0].id
    assert first[1] in ("virus", "others")
    assert abs(float(first[2]) + float(first[3]) - 1) < 1e-6
    calls = (out / "prediction_results_highestscore.csv").read_text().splitlines()
    assert calls[0] == "Modified_ID\tIs_Virus"
    ids = [c.split("\t")[0] for c in calls[1:]]
    assert ids == sorted(ids)
    assert {c.split("\t")[1] for c in calls[1:]} <= {"True", "False"}
    assert sorted(p.name for p in out.iterdir()) == [
        "prediction_results.txt",
        "prediction_results_highestscore.csv",
        "run_metrics.json",
    ]


def test_run_metrics_record(orf_fasta, tmp_path, tiny_models):
    out = tmp_path / "out"
    result = predict(_config(orf_fasta, out), models=tiny_models)
    metrics = RunMetrics.read(out / "run_metrics.json")
    assert metrics == result.metrics
    assert metrics.reads == 6
    assert metrics.kept_frames == len(result.frames)
    assert metrics.engine == "vanilla" and metrics.precision == "fp32"
    assert not metrics.models_meaningful
    assert "not biologically meaningful" in metrics.model_note
    names = [s.name for s in metrics.stages]
    assert names[:3] == ["read", "chunk", "translate"]
    assert {"dnabert", "esm", "merge", "classify", "aggregate", "write"} <= set(names)
    assert metrics.esm_tokens == sum(len(f.protein) + 2 for f in result.frames)
    assert metrics.dnabert_tokens > 0
    assert json.loads((out / "run_metrics.json").read_text())["schema_version"] == 1


def test_keep_intermediate_published_names(orf_fasta, tmp_path, tiny_models):
    out = tmp_path / "out"
    result = predict(_config(orf_fasta, out, keep_intermediate=True), models=tiny_models)
    assert (out / "reads_chunked500.fa").read_text().startswith(">read0_chunk_1\n")
    nuc = (out / "reads_identified_nucleotide.fa").read_text().splitlines()
    prot = (out / "reads_identified_protein.faa").read_text().splitlines()
    assert nuc[0::2] == prot[0::2] == [f">{f.id}" for f in result.frames]
    assert prot[1::2] == [f.protein for f in result.frames]
    emb = np.load(out / "reads_embeddings.npz")
    assert list(emb["ids"]) == [f.id for f in result.frames]
    assert torch.equal(torch.from_numpy(emb["dnabert"]), result.dnabert)
    assert emb["esm"].shape == (len(result.frames), tiny_models.esm.hidden_size)


def test_no_kept_frame_warns_and_writes_headers(tmp_path, tiny_models):
    inp = tmp_path / "stops.fa"
    inp.write_text(">s\nTTAATTAATTAACTC\n")  # every one of the six frames holds a stop
    out = tmp_path / "out"
    with pytest.warns(NoKeptFramesWarning):
        result = predict(_config(inp, out), models=tiny_models)
    assert result.frames == ()
    assert (
        out / "prediction_results.txt"
    ).read_text() == "Sequence_ID\tPrediction\tscore1\tscore2\n"
    assert (out / "prediction_results_highestscore.csv").read_text() == "Modified_ID\tIs_Virus\n"


def test_deterministic_across_runs(orf_fasta, tmp_path):
    a = predict(_config(orf_fasta, tmp_path / "a"))
    b = predict(_config(orf_fasta, tmp_path / "b"))
    assert (tmp_path / "a" / "prediction_results.txt").read_bytes() == (
        tmp_path / "b" / "prediction_results.txt"
    ).read_bytes()
    assert a.metrics.models == b.metrics.models
