"""Stop and resume: SIGTERM/SIGINT leave no result files and a valid work folder; --resume
finishes with output identical to an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from virnucpro.bench.workload.reads import make_reads, write_fasta
from virnucpro.cli import main
from virnucpro.pipeline.workdir import WORK_DIR_NAME

RESULT_FILES = ("prediction_results.txt", "prediction_results_highestscore.csv")
SHARD = "5"
POLL_S = 0.01
DEADLINE_S = 120


@pytest.fixture(scope="module")
def reads_fasta(tmp_path_factory):
    return write_fasta(make_reads(300, seed=9), tmp_path_factory.mktemp("in") / "reads.fa")


def _argv(inp, out, *extra):
    return [
        "predict",
        str(inp),
        "-o",
        str(out),
        "--device",
        "cpu",
        "--shard-frames",
        SHARD,
        "-q",
        *extra,
    ]


@pytest.fixture(scope="module")
def uninterrupted(reads_fasta, tmp_path_factory):
    out = tmp_path_factory.mktemp("full") / "out"
    assert main(_argv(reads_fasta, out, "--threads", "1")) == 0
    return out


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop_after_some_shards(argv, work, sig):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "virnucpro", *argv],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        # A harness started in the background (nohup, `&` in a script) ignores SIGINT, and a
        # child inherits that: Python would then never raise KeyboardInterrupt. Restore it.
        preexec_fn=_default_sigint,
    )
    deadline = time.monotonic() + DEADLINE_S
    while len(list(work.glob("shard_*.done"))) < 3:
        assert proc.poll() is None, "run ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(POLL_S)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=DEADLINE_S)
    return proc.returncode, err


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_then_resume_gives_identical_output(sig, reads_fasta, uninterrupted, tmp_path, capsys):
    out = tmp_path / "out"
    work = out / WORK_DIR_NAME
    code, err = _stop_after_some_shards(_argv(reads_fasta, out, "--threads", "1"), work, sig)
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not any((out / name).exists() for name in (*RESULT_FILES, "run_metrics.json"))
    done = sorted(work.glob("shard_*.done"))
    assert len(done) >= 3
    for marker in done:  # every finished shard is complete and readable
        rows = marker.with_suffix(".pred.tsv").read_text().splitlines()
        assert 0 < len(rows) <= int(SHARD)
        assert all(len(r.split("\t")) == 4 for r in rows)
    assert not list(work.glob(".*.tmp"))
    # without --resume or --force the folder is refused, with a hint
    assert main(_argv(reads_fasta, out)) == 2
    assert "--resume" in capsys.readouterr().err
    # no --threads: the resumed run adopts the interrupted run's thread count, so the remaining
    # shards compute exactly as they would have
    assert main(_argv(reads_fasta, out, "--resume")) == 0
    for name in RESULT_FILES:
        assert (out / name).read_bytes() == (uninterrupted / name).read_bytes()
    assert not work.exists()


def test_resume_with_other_options_is_refused(reads_fasta, tmp_path, capsys):
    out = tmp_path / "out"
    work = out / WORK_DIR_NAME
    work.mkdir(parents=True)
    (work / "manifest.json").write_text('{"expected_length": 300}')
    assert main(_argv(reads_fasta, out, "--resume")) == 2
    err = capsys.readouterr().err
    assert "cannot resume" in err and "expected_length" in err


def test_resume_adopts_the_recorded_thread_count(tmp_path):
    import torch

    from virnucpro.pipeline.run import PredictConfig, _adopt_recorded_threads
    from virnucpro.pipeline.workdir import WorkDir

    work = WorkDir.inside(tmp_path)
    work.start({"torch_threads": 1}, resume=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        config = PredictConfig(input=tmp_path / "x.fa", outdir=tmp_path, resume=True)
        assert "1 torch threads" in (_adopt_recorded_threads(config, work) or "")
        assert torch.get_num_threads() == 1
        fresh = PredictConfig(input=tmp_path / "x.fa", outdir=tmp_path, resume=False)
        torch.set_num_threads(2)
        assert _adopt_recorded_threads(fresh, work) is None
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
