"""Scale-out: ranks started by torchrun or --nproc give the 1-rank output, byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from virnucpro.bench.workload.reads import make_reads, write_fasta
from virnucpro.distributed import parse_gpus
from virnucpro.errors import InputError
from virnucpro.shards import assign_shards

RESULT_FILES = ("prediction_results.txt", "prediction_results_highestscore.csv")


@pytest.fixture(scope="module")
def reads_fasta(tmp_path_factory):
    return write_fasta(make_reads(30, seed=5), tmp_path_factory.mktemp("in") / "reads.fa")


def _predict(argv, *, env=None, launcher=()):
    cmd = [sys.executable, *launcher] if launcher else [sys.executable, "-m", "virnucpro"]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        full_env.pop(key, None)
    return subprocess.run([*cmd, *argv], capture_output=True, text=True, env=full_env, check=False)


def _args(inp, out):
    return ["predict", str(inp), "-o", str(out), "--device", "cpu", "--shard-frames", "7", "-q"]


@pytest.fixture(scope="module")
def one_rank(reads_fasta, tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "out"
    proc = _predict(_args(reads_fasta, out))
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.slow
def test_two_gloo_ranks_via_nproc_match_one_rank(reads_fasta, one_rank, tmp_path):
    out = tmp_path / "out"
    proc = _predict([*_args(reads_fasta, out), "--nproc", "2"])
    assert proc.returncode == 0, proc.stderr
    for name in RESULT_FILES:
        assert (out / name).read_bytes() == (one_rank / name).read_bytes()
    import json

    metrics = json.loads((out / "run_metrics.json").read_text())
    assert metrics["world_size"] == 2
    assert len(metrics["extra"]["rank_stage_seconds"]) == 2


@pytest.mark.slow
def test_two_gloo_ranks_via_torchrun_match_one_rank(reads_fasta, one_rank, tmp_path):
    out = tmp_path / "out"
    launcher = ("-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "virnucpro")
    proc = _predict(_args(reads_fasta, out), launcher=launcher)
    assert proc.returncode == 0, proc.stderr
    for name in RESULT_FILES:
        assert (out / name).read_bytes() == (one_rank / name).read_bytes()


def test_assign_shards_balances_cost_and_covers_all():
    costs = [100, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10]
    owned = assign_shards(costs, 2)
    assert sorted(i for rank in owned for i in rank) == list(range(len(costs)))
    loads = [sum(costs[i] for i in rank) for rank in owned]
    assert max(loads) - min(loads) <= 10
    assert assign_shards(costs, 2) == owned  # deterministic: every rank derives the same plan


def test_assign_more_ranks_than_shards():
    assert assign_shards([5], 3) == [[0], [], []]


@pytest.mark.parametrize("text", ["", "a,b", "0,0", "-1"])
def test_parse_gpus_rejects(text):
    with pytest.raises(InputError):
        parse_gpus(text)


def test_parse_gpus():
    assert parse_gpus("0,1, 3") == (0, 1, 3)
