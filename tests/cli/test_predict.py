"""``virnucpro predict`` on the command line: exit codes, one-line errors, untouched outputs."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from virnucpro.cli import main

RESULT_FILES = {"prediction_results.txt", "prediction_results_highestscore.csv", "run_metrics.json"}


@pytest.fixture
def no_model_loads(monkeypatch):
    """Any model build or load fails the test loudly: the input must be refused first."""
    from virnucpro.models import presets

    def loaded(*args, **kwargs):
        raise AssertionError("a model was loaded before the bad input was refused")

    for name in ("_build_dnabert", "_build_esm", "_load_dnabert", "_load_esm", "_classifier"):
        monkeypatch.setattr(presets, name, loaded)


def _tree(root: Path) -> dict[str, int]:
    """Every path under ``root`` (links not followed) with its size: what a run must not change."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            found[str(path.relative_to(root))] = path.lstat().st_size
    return found


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


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "example.fasta"


def test_the_example_reports_its_reads_without_a_kept_frame(tmp_path, capsys):
    """The README's first predict: 8 of its 40 reads keep no frame (a stop in every frame)."""
    out = tmp_path / "out"
    code, stdout, _ = _run(capsys, EXAMPLE, "-o", out, "--device", "cpu", "--keep-intermediate")
    assert code == 0
    assert "without a kept frame (no row in the outputs): 8 of 40 reads, 17 of 79 chunks" in stdout
    assert "a stop codon in every frame: 8 reads, 17 chunks" in stdout
    listed = out / "example_no_kept_frame.tsv"
    assert f"their ids: {listed}" in stdout
    reads = [row.split("\t")[0] for row in listed.read_text().splitlines() if "\tread\t" in row]
    assert len(reads) == 8 and "host_000001" in reads
    dropped = json.loads((out / "run_metrics.json").read_text())["dropped"]
    assert dropped["reads_without_kept_frame"] == 8
    assert dropped["chunks_by_reason"] == {"stop_codon": 17, "mostly_n": 0, "too_short": 0}


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
def test_bad_fasta_exit_2_no_outputs(kind, tmp_path, capsys, no_model_loads):
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
def test_missing_model_path(flag, orf_fasta, tmp_path, capsys, no_model_loads):
    code, _, err = _run(
        capsys, orf_fasta, "-o", tmp_path / "o", "--device", "cpu", flag, tmp_path / "nope"
    )
    assert code == 2
    _assert_one_line_error(err)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.mark.parametrize("flag", ["--dnabert", "--esm", "--classifier"])
def test_model_path_of_wrong_kind(flag, orf_fasta, tmp_path, capsys, no_model_loads):
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


# ---- every path checked before any model loads ------------------------------------------------


def _fasta(tmp: Path, text: str = ">a\nACGTACGTAAACCC\n", name: str = "in.fa") -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def _gz(tmp: Path, data: bytes) -> Path:
    path = tmp / "in.fa.gz"
    path.write_bytes(gzip.compress(data))
    return path


def _loop(tmp: Path) -> Path:
    (tmp / "loop_a").symlink_to(tmp / "loop_b")
    (tmp / "loop_b").symlink_to(tmp / "loop_a")
    return tmp / "loop_a"


def _fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "pipe.fa")
    return tmp / "pipe.fa"


def _folder_with_input(tmp: Path) -> Path:
    (tmp / "out").mkdir()
    return _fasta(tmp / "out")


def _junk(tmp: Path) -> Path:
    path = tmp / "junk.pt"
    path.write_bytes(b"this is not a checkpoint")
    return path


def _file(tmp: Path) -> Path:
    path = tmp / "plain"
    path.write_text("x")
    return path


Argv = Callable[[Path], list[object]]
BAD_PATHS: dict[str, tuple[Argv, str]] = {
    "missing input": (lambda t: [t / "nope.fa", "-o", t / "o"], "no such file"),
    "input is a folder": (lambda t: [t, "-o", t / "o"], "is a folder"),
    "input is a FIFO": (lambda t: [_fifo(t), "-o", t / "o"], "FIFO"),
    "input is a link loop": (lambda t: [_loop(t), "-o", t / "o"], "symbolic link loop"),
    "input is a broken link": (
        lambda t: [(t / "dangling").symlink_to(t / "gone") or t / "dangling", "-o", t / "o"],
        "broken symbolic link",
    ),
    "input is the output folder": (lambda t: [t, "-o", t], "is the output folder"),
    "input inside the output folder": (
        lambda t: [_folder_with_input(t), "-o", t / "out", "--force"],
        "inside",
    ),
    "only record is all N": (
        lambda t: [_fasta(t, ">a\n" + "N" * 900 + "\n"), "-o", t / "o"],
        "its only record is all N",
    ),
    "every record is all N": (
        lambda t: [_fasta(t, ">a\nNNNN\n>b\nnnnnNNN\n"), "-o", t / "o"],
        "all 2 records are all N",
    ),
    "gzip of text that is not FASTA": (
        lambda t: [_gz(t, b"hello\nworld\n"), "-o", t / "o"],
        "not FASTA",
    ),
    "gzip of a gzip": (
        lambda t: [_gz(t, gzip.compress(b">a\nACGT\n")), "-o", t / "o"],
        "binary data",
    ),
    "output folder is a file": (lambda t: [_fasta(t), "-o", _file(t)], "not a folder"),
    "output folder under a file": (lambda t: [_fasta(t), "-o", _file(t) / "sub"], "not a folder"),
    "output folder is a link loop": (lambda t: [_fasta(t), "-o", _loop(t)], "link loop"),
    "--dnabert is a file": (lambda t: [_fasta(t), "-o", t / "o", "--dnabert", _file(t)], "folder"),
    "--dnabert missing": (
        lambda t: [_fasta(t), "-o", t / "o", "--dnabert", t / "nope"],
        "no such file",
    ),
    "--esm junk": (lambda t: [_fasta(t), "-o", t / "o", "--esm", _junk(t)], "not a fair-esm"),
    "--esm link loop": (lambda t: [_fasta(t), "-o", t / "o", "--esm", _loop(t)], "link loop"),
    "--classifier is a folder": (
        lambda t: [_fasta(t), "-o", t / "o", "--classifier", t],
        "is a folder",
    ),
    "--classifier junk": (
        lambda t: [_fasta(t), "-o", t / "o", "--classifier", _junk(t)],
        "not a PyTorch checkpoint",
    ),
    "--classifier junk safetensors": (
        lambda t: [_fasta(t), "-o", t / "o", "--classifier", _file(t).rename(t / "c.safetensors")],
        "not a safetensors file",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PATHS))
def test_bad_paths_refused_before_any_model_loads(case, capsys, no_model_loads):
    build, message = BAD_PATHS[case]
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        argv = build(tmp)
        before = _tree(tmp)
        code, _, err = _run(capsys, *argv, "--device", "cpu")
        assert code == 2, err
        _assert_one_line_error(err)
        assert message in err
        assert _tree(tmp) == before  # nothing written, not even an empty output folder


@pytest.mark.parametrize("case", ["missing input", "only record is all N", "--esm junk"])
def test_launcher_refuses_before_starting_ranks(case, capsys, no_model_loads, monkeypatch):
    from virnucpro.pipeline import distributed

    def launched(*args, **kwargs):
        raise AssertionError("ranks were started before the bad input was refused")

    monkeypatch.setattr(distributed, "launch_local", launched)
    build, message = BAD_PATHS[case]
    with tempfile.TemporaryDirectory() as folder:
        code, _, err = _run(capsys, *build(Path(folder)), "--nproc", "2")
    assert code == 2, err
    _assert_one_line_error(err)
    assert message in err


def test_unreadable_input_simulated(orf_fasta, tmp_path, capsys, no_model_loads, monkeypatch):
    """A permission check with ``os.access`` patched (root reads every file; see the next test)."""
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if Path(p) == orf_fasta else real_access(p, mode)
    )
    code, _, err = _run(capsys, orf_fasta, "-o", tmp_path / "o", "--device", "cpu")
    assert code == 2
    _assert_one_line_error(err)
    assert "permission denied" in err


def _as_nobody() -> dict[str, object]:
    """subprocess options that drop root to the 'nobody' user (empty when not root)."""
    if os.geteuid() != 0:
        return {}
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("running as root and there is no 'nobody' user to drop to")
    options = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
    try:
        subprocess.run([sys.executable, "-c", "pass"], check=True, capture_output=True, **options)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"running as root and 'nobody' cannot run {sys.executable} ({exc})")
    return options


def test_unreadable_input_real_permissions():
    """A real mode-000 file read by a real unprivileged process (root drops to 'nobody')."""
    options = _as_nobody()
    folder = Path(tempfile.mkdtemp(prefix="virnucpro-perm-"))
    try:
        folder.chmod(0o777)
        inp = _fasta(folder)
        inp.chmod(0)
        proc = subprocess.run(
            [sys.executable, "-m", "virnucpro", "predict", str(inp), "-o", str(folder / "o")],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
            **options,
        )
        assert proc.returncode == 2, proc.stderr
        _assert_one_line_error(proc.stderr)
        assert "permission denied" in proc.stderr
        assert not (folder / "o").exists()
    finally:
        inp.chmod(0o644)
        import shutil

        shutil.rmtree(folder)


# ---- progress where people read logs -----------------------------------------------------------

SHARD_LINE = re.compile(
    r"^\[\d+:\d\d:\d\d\] shard (\d+) done: (\d+) frames \((\d+) so far; (\d+)% of the input read\)$"
)


def test_one_progress_line_per_shard(orf_fasta, tmp_path, capsys):
    out = tmp_path / "o"
    code, stdout, _ = _run(capsys, orf_fasta, "-o", out, "--device", "cpu", "--shard-frames", "3")
    assert code == 0
    metrics = json.loads((out / "run_metrics.json").read_text())
    found = [SHARD_LINE.match(line) for line in stdout.splitlines()]
    shards = [m.groups() for m in found if m]
    assert len(shards) == metrics["extra"]["shards"] > 2
    assert [int(s[0]) for s in shards] == list(range(1, len(shards) + 1))
    assert sum(int(s[1]) for s in shards) == int(shards[-1][2]) == metrics["kept_frames"]
    assert shards[-1][3] == "100"
    assert stdout.index("shard 1 done") < stdout.index("virnucpro predict:")


def test_quiet_prints_no_progress(orf_fasta, tmp_path, capsys):
    code, stdout, _ = _run(capsys, orf_fasta, "-o", tmp_path / "o", "--device", "cpu", "-q")
    assert code == 0 and stdout == ""


OOM_TEXT = "CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of 139 GiB"


def _files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _assert_no_partial_outputs(out: Path) -> None:
    """Nothing that looks like a result: no result file, no staging folder, no temporary file.
    Only the work folder's complete shards stay, as after any stopped run (see --resume)."""
    from virnucpro.pipeline.workdir import WORK_DIR_NAME

    assert {p.name for p in out.iterdir()} <= {WORK_DIR_NAME}
    assert not [name for name in _files_under(out) if name.endswith(".tmp")]


@pytest.fixture
def exhausted_memory(monkeypatch):
    """Make one model's forward run out of memory (as a GPU would); returns the batch shapes."""
    import torch

    from virnucpro.models.dnabert import DnaBert
    from virnucpro.models.esm2 import ESM2

    shapes: list[tuple[int, int]] = []

    def install(stage: str) -> list[tuple[int, int]]:
        def forward(self, tokens, *args, **kwargs):
            shapes.append(tuple(tokens.shape))
            raise torch.OutOfMemoryError(OOM_TEXT)

        monkeypatch.setattr(DnaBert if stage == "dnabert" else ESM2, "forward", forward)
        return shapes

    return install


@pytest.mark.parametrize("stage", ["dnabert", "esm"])
def test_out_of_memory_in_a_batch_is_one_line_naming_its_size(
    stage, orf_fasta, tmp_path, capsys, exhausted_memory
):
    shapes = exhausted_memory(stage)
    out = tmp_path / "out"
    code, _, err = _run(capsys, orf_fasta, "-o", out, "--device", "cpu", "--max-tokens", "2000")
    assert code == 1
    _assert_one_line_error(err)
    rows, width = shapes[0]
    assert rows > 1, "the test needs a batch of several sequences"
    assert err.startswith("virnucpro: error: out of memory on cpu in a batch of ")
    assert f"{rows * width} padded tokens ({rows} sequences, --max-tokens 2000)" in err
    assert f"lower --max-tokens, e.g. --max-tokens {min(2000, rows * width) // 2}" in err
    _assert_no_partial_outputs(out)


def test_out_of_memory_with_the_vanilla_engine_points_to_the_fast_one(
    orf_fasta, tmp_path, capsys, exhausted_memory
):
    shapes = exhausted_memory("esm")
    out = tmp_path / "out"
    code, _, err = _run(capsys, orf_fasta, "-o", out, "--device", "cpu", "--engine", "vanilla")
    assert code == 1
    _assert_one_line_error(err)
    rows, width = shapes[0]
    assert f"{rows * width} padded tokens ({rows} sequences; the vanilla engine" in err
    assert "--max-tokens" in err
    _assert_no_partial_outputs(out)


def test_out_of_memory_outside_a_batch_is_one_line(orf_fasta, tmp_path, capsys, monkeypatch):
    import torch

    from virnucpro.pipeline import run as pipeline

    def load(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError(f"{OOM_TEXT}\nsecond line of torch's advice")

    monkeypatch.setattr(pipeline, "load_model_set", load)
    out = tmp_path / "out"
    code, _, err = _run(capsys, orf_fasta, "-o", out, "--device", "cpu")
    assert code == 1
    _assert_one_line_error(err)
    assert err.strip() == f"virnucpro: error: out of memory ({OOM_TEXT})"
    assert not out.exists() or not _files_under(out)


@pytest.mark.parametrize("value", ["0", "-1", "many", "1.5"])
def test_max_tokens_must_be_a_positive_integer(value, orf_fasta, tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:  # argparse refuses it: usage error, exit 2
        main(["predict", str(orf_fasta), "-o", str(out), "--max-tokens", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    _assert_one_line_error(err)
    assert "--max-tokens" in err and "positive integer" in err
    assert not out.exists()


def test_max_tokens_with_the_vanilla_engine_is_a_usage_error(orf_fasta, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ("-o", out, "--engine", "vanilla", "--max-tokens", "512", "--device", "cpu")
    code, _, err = _run(capsys, orf_fasta, *argv)
    assert code == 2
    _assert_one_line_error(err)
    assert not out.exists()


def test_max_tokens_reaches_the_engine(orf_fasta, tmp_path, capsys):
    runs = {}
    for budget in ("200", "4000"):
        out = tmp_path / budget
        code, _, _ = _run(capsys, orf_fasta, "-o", out, "--device", "cpu", "--max-tokens", budget)
        assert code == 0
        runs[budget] = json.loads((out / "run_metrics.json").read_text())
    batches = {b: {s["name"]: s["batches"] for s in m["stages"]} for b, m in runs.items()}
    assert batches["200"]["esm"] > batches["4000"]["esm"]
    assert batches["200"]["dnabert"] > batches["4000"]["dnabert"]


GPU_LIMIT_BYTES = 64 * 2**20
"""The caching allocator's limit for the real out-of-memory test: the tiny models fit, a batch
of 2000 chunks of 500 bases in one go does not (its DNABERT-S bias alone is about 0.5 GB)."""


@pytest.mark.gpu
def test_a_real_cuda_out_of_memory_is_one_line_naming_the_batch(tmp_path, capsys):
    import torch

    from tests.conftest import write_orf_fasta

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    reads = write_orf_fasta(tmp_path / "reads.fa", [500] * 2000)
    out = tmp_path / "out"
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(GPU_LIMIT_BYTES / total, 0)
    try:
        argv = ("-o", out, "--device", "cuda", "--max-tokens", "1000000", "--shard-frames", "2000")
        code, _, err = _run(capsys, reads, *argv)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, 0)
        torch.cuda.empty_cache()
    assert code == 1
    _assert_one_line_error(err)
    assert err.startswith("virnucpro: error: out of memory on cuda")
    assert "padded tokens (" in err and "--max-tokens 1000000)" in err
    _assert_no_partial_outputs(out)
