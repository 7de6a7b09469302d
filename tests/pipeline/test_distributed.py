"""Scale-out: ranks started by torchrun or --nproc give the 1-rank output, byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist

from virnucpro.bench.workload.reads import make_reads, write_fasta
from virnucpro.errors import InputError, RunFailure
from virnucpro.pipeline.distributed import CONTROL_TIMEOUT, DistContext, parse_gpus
from virnucpro.pipeline.shards import assign_shards

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


# --- control traffic: a one-process gloo group on the CPU stands in for the ranks ------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def one_rank_group(monkeypatch):
    """A DistContext that takes part in a real (one-process) group, on a fake GPU device."""
    for key, value in {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
        "RANK": "0",
        "WORLD_SIZE": "1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(DistContext, "active", property(lambda self: True))
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)  # a GPU rank, on a CPU
    joined = []
    init = dist.init_process_group

    def spy(*args, **kwargs):
        joined.append(kwargs)
        return init(*args, **kwargs)

    monkeypatch.setattr(dist, "init_process_group", spy)
    yield DistContext(), joined
    if dist.is_initialized():
        dist.destroy_process_group()


def test_gpu_ranks_send_their_control_traffic_over_gloo_with_a_short_timeout(one_rank_group):
    ctx, joined = one_rank_group
    ctx.init(torch.device("cuda", 0))  # NCCL would need the GPU (and its device_id)
    assert dist.get_backend() == "gloo"
    assert joined[0]["timeout"] == CONTROL_TIMEOUT <= timedelta(minutes=10)
    ctx.barrier()
    assert ctx.all_ok(True) is True
    assert ctx.all_ok(False) is False
    ctx.close()
    assert not dist.is_initialized()


def _timed_out(*args, **kwargs):
    raise dist.DistBackendError(
        "[../third_party/gloo/gloo/transport/tcp/unbound_buffer.cc:81] Timed out waiting "
        "600000ms for recv operation to complete"
    )


@pytest.mark.parametrize(
    ("collective", "call", "step"),
    [
        ("barrier", lambda ctx: ctx.barrier(), "the start"),
        ("all_reduce", lambda ctx: ctx.all_ok(True), "the end of the embedding"),
    ],
)
def test_a_timed_out_wait_is_one_line_and_leaves_the_group(
    one_rank_group, monkeypatch, collective, call, step
):
    ctx, _ = one_rank_group
    ctx.init(torch.device("cpu"))
    monkeypatch.setattr(dist, collective, _timed_out)
    with pytest.raises(RunFailure) as caught:
        call(ctx)
    message = str(caught.value)
    assert message == (
        f"rank 0: the other ranks did not reach {step} within 10 min (CONTROL_TIMEOUT): "
        "a rank failed or hangs, see its error"
    )
    assert not dist.is_initialized()  # no second wait on a broken group
    ctx.close()  # and leaving afterwards waits on nothing


def test_a_lost_rank_is_one_line_too(one_rank_group, monkeypatch):
    ctx, _ = one_rank_group
    ctx.init(torch.device("cpu"))

    def closed(*args, **kwargs):
        raise RuntimeError("[gloo/transport/tcp/pair.cc:534] Connection closed by peer\nmore")

    monkeypatch.setattr(dist, "all_reduce", closed)
    with pytest.raises(RunFailure) as caught:
        ctx.all_ok(False)
    assert str(caught.value) == (
        "rank 0: lost the other ranks at the end of the embedding ([gloo/transport/tcp/"
        "pair.cc:534] Connection closed by peer): a rank failed, see its error"
    )


def test_a_rendezvous_timeout_is_one_line(monkeypatch):
    monkeypatch.setattr(DistContext, "active", property(lambda self: True))

    def never(*args, **kwargs):
        raise dist.DistStoreError("Timed out after 601 seconds waiting for clients. 1/2 clients")

    monkeypatch.setattr(dist, "init_process_group", never)
    with pytest.raises(RunFailure, match=r"^rank 0: the other ranks did not reach the rendezvous"):
        DistContext().init(torch.device("cpu"))


def test_rank_zero_merges_after_the_ranks_have_left(
    one_rank_group, orf_fasta, tmp_path, monkeypatch
):
    """No rank waits (under the timeout) while rank 0 merges and publishes a long run."""
    from virnucpro.pipeline import PredictConfig, predict
    from virnucpro.pipeline import run as pipeline

    merge = pipeline.merge_shards
    joined_while_merging = []

    def spy(*args, **kwargs):
        joined_while_merging.append(dist.is_initialized())
        return merge(*args, **kwargs)

    monkeypatch.setattr(pipeline, "merge_shards", spy)
    result = predict(PredictConfig(input=orf_fasta, outdir=tmp_path / "out", device="cpu"))
    assert result.metrics is not None
    assert joined_while_merging == [False]
