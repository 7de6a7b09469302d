"""The noise study: false-alarm and detection rates, from folders and from synthetic draws."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tools.bench.judge.noise_study import main, study, synthetic_runs, synthetic_study
from virnucpro.bench.schema import write_document

SMALL = {"runs": 4, "samples": 10, "noise": 0.02, "run_noise": 0.0, "metrics": 1}


def test_synthetic_quiet_runs_never_alarm_and_catch_a_large_slowdown() -> None:
    result = synthetic_study(**SMALL, slowdowns=(0.02, 0.30), seed=5)
    assert result.pairs == 12
    assert result.false_alarm_rate == 0.0
    assert result.detection[0.30] == 1.0
    assert result.detection[0.02] == 0.0
    assert result.smallest_reliable == 0.30


def test_run_to_run_noise_raises_false_alarms() -> None:
    quiet = synthetic_study(**{**SMALL, "runs": 6}, slowdowns=(), seed=9)
    shaky = synthetic_study(**{**SMALL, "runs": 6, "run_noise": 0.15}, slowdowns=(), seed=9)
    assert quiet.false_alarms == 0
    assert shaky.false_alarms > 0


def test_study_of_other_hardware_counts_pairs_as_not_comparable() -> None:
    rng = np.random.default_rng(1)
    runs = synthetic_runs(rng, **SMALL)
    moved = runs[0].model_copy(
        update={"environment": runs[0].environment.model_copy(update={"cpu_model": "other"})}
    )
    result = study([moved, *runs[1:]], {})
    assert result.not_comparable == 6  # the moved run against the 3 others, both ways
    assert result.pairs == 6


def test_folders_of_results_documents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(2)
    for folder, slowdown in (("same", 0.0), ("slow", 0.25)):
        for doc in synthetic_runs(rng, **SMALL, slowdown=slowdown, prefix=folder):
            write_document(doc, tmp_path / folder / f"{doc.run.run_id}.json")
    out = tmp_path / "study.json"
    argv = [str(tmp_path / "same"), "--slowed", f"0.25={tmp_path / 'slow'}", "--json", str(out)]
    assert main(argv) == 0
    assert "false-alarm rate: 0.0%" in capsys.readouterr().out
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["detection"] == {"0.25": 1.0}


@pytest.mark.parametrize("argv", [[], ["{tmp}/nowhere"]])
def test_bad_input_exits_two_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tools.bench.judge.noise_study: error: ")
    assert "\n" not in err
