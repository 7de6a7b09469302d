"""``virnucpro predict`` on the command line: exit codes, one-line errors, untouched outputs."""

from __future__ import annotations

import gzip
import subprocess
import sys

import pytest

from virnucpro.cli import main

RESULT_FILES = {"prediction_results.txt", "prediction_results_highestscore.csv", "run_metrics.json"}


def _run(capsys, *argv):
    code = main(["predict", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line_error(err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "error" in lines[0]
    assert "Traceback" not in err


def test_predict_success(orf_fasta, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, _ = _run(capsys, orf_fasta, "-o", out, "--device", "cpu")
    assert code == 0
    assert {p.name for p in out.iterdir()} == RESULT_FILES
    assert "not biologically meaningful" in stdout


BAD_FASTA = {
    "empty": b"",
    "not_fasta": b"just some text\n",
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00",
    "no_sequence": b">a\n>b\nACGT\n",
    "no_id": b">\nACGT\n",
    "bad_letter": b">a\nACGTJ\n",
    "duplicate": b">a\nACGT\n>a\nACGA\n",
    "zero_length_only": b">a\n\n",
}


@pytest.mark.parametrize("kind", sorted(BAD_FASTA))
def test_bad_fasta_exit_2_no_outputs(kind, tmp_path, capsys):
    inp = tmp_path / "in.fa"
    inp.write_bytes(BAD_FASTA[kind])
    out = tmp_path / "out"
    code, _, err = _run(capsys, inp, "-o", out, "--device", "cpu")
    assert code == 2
    _assert_one_line_error(err)
    assert not out.exists() or not (RESULT_FILES & {p.name for p in out.iterdir()})


def test_bad_letter_names_record_and_position(tmp_path, capsys):
    inp = tmp_path / "in.fa"
    inp.write_text(">ok\nACGT\n>bad one\nACGT\nAC!T\n")
    code, _, err = _run(capsys, inp, "-o", tmp_path / "o", "--device", "cpu")
    assert code == 2
    assert "record 'bad'" in err and "position 7" in err


def test_truncated_gzip(tmp_path, capsys):
    data = gzip.compress(b">a\n" + b"ACGT" * 10000)
    inp = tmp_path / "in.fa.gz"
    inp.write_bytes(data[:-20])
    code, _, err = _run(capsys, inp, "-o", tmp_path / "o", "--device", "cpu")
    assert code == 2
    _assert_one_line_error(err)


@pytest.mark.parametrize("value", ["0", "-5", "abc", "2.5"])
def test_expected_length_must_be_positive_integer(value, orf_fasta, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["predict", str(orf_fasta), "-o", str(tmp_path / "o"), "--expected-length", value])
    assert info.value.code == 2
    _assert_one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize("flag", ["--dnabert", "--esm", "--classifier"])
def test_missing_model_path(flag, orf_fasta, tmp_path, capsys):
    code, _, err = _run(
        capsys, orf_fasta, "-o", tmp_path / "o", "--device", "cpu", flag, tmp_path / "nope"
    )
    assert code == 2
    _assert_one_line_error(err)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.mark.parametrize("flag", ["--dnabert", "--esm", "--classifier"])
def test_model_path_of_wrong_kind(flag, orf_fasta, tmp_path, capsys):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"this is not a checkpoint")
    code, _, err = _run(capsys, orf_fasta, "-o", tmp_path / "o", "--device", "cpu", flag, junk)
    assert code == 2
    _assert_one_line_error(err)


def test_nonempty_outdir_refused_and_untouched(orf_fasta, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    code, _, err = _run(capsys, orf_fasta, "-o", out, "--device", "cpu")
    assert code == 2
    _assert_one_line_error(err)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "precious"
    code, _, _ = _run(capsys, orf_fasta, "-o", out, "--device", "cpu", "--force")
    assert code == 0
    assert (out / "keep.txt").read_text() == "precious"
    assert {p.name for p in out.iterdir()} >= RESULT_FILES


def test_unavailable_cuda_is_a_usage_error(orf_fasta, tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = _run(capsys, orf_fasta, "-o", tmp_path / "o", "--device", "cuda:0")
    assert code == 2
    assert "CUDA is not available" in err


def test_unknown_engine_and_preset(orf_fasta, tmp_path, capsys):
    code, _, err = _run(
        capsys, orf_fasta, "-o", tmp_path / "o", "--engine", "warp", "--device", "cpu"
    )
    assert code == 2 and "unknown engine" in err
    code, _, err = _run(
        capsys, orf_fasta, "-o", tmp_path / "o2", "--models", "huge", "--device", "cpu"
    )
    assert code == 2 and "unknown model preset" in err


def test_no_traceback_in_a_real_process(tmp_path):
    inp = tmp_path / "in.fa"
    inp.write_text(">a\nACGU-\n")
    proc = subprocess.run(
        [sys.executable, "-m", "virnucpro", "predict", str(inp), "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    _assert_one_line_error(proc.stderr)
    assert "position 5" in proc.stderr
