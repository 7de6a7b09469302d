"""The one builder of synthetic results documents: defaults, overrides, validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from tools.bench.synthetic import SYNTHETIC_CPU, draw_samples, synthetic_document
from virnucpro.bench.metric_names import TOTAL_TIME_METRIC
from virnucpro.bench.records import first_error_line
from virnucpro.bench.schema import (
    GpuTelemetry,
    Metric,
    document_to_json,
    metric_from_samples,
    parse_document,
)


def _metric(count: int = 4) -> Metric:
    return metric_from_samples(TOTAL_TIME_METRIC, [1.0 + i for i in range(count)], unit="s")


def test_defaults_are_a_valid_cpu_document_that_round_trips() -> None:
    doc = synthetic_document([_metric(4)])
    assert doc.run.rounds == 4 and doc.run.device == "cpu"
    assert doc.environment.cpu_model == SYNTHETIC_CPU
    assert doc.validity.valid and not doc.gpu.available
    assert parse_document(json.loads(document_to_json(doc))) == doc


def test_run_environment_and_document_fields_can_be_replaced() -> None:
    telemetry = GpuTelemetry(available=False, reason="no GPU in the tests")
    doc = synthetic_document(
        [_metric()],
        run_id="r",
        run={"precision": "fp32", "rounds": 9},
        environment={"git_commit": "abc", "cpu_model": "Other CPU"},
        gpu=telemetry,
        notes=("a note",),
    )
    assert (doc.run.run_id, doc.run.precision, doc.run.rounds) == ("r", "fp32", 9)
    assert (doc.environment.git_commit, doc.environment.cpu_model) == ("abc", "Other CPU")
    assert doc.gpu == telemetry and doc.notes == ("a note",)


def test_an_invalid_run_says_why() -> None:
    doc = synthetic_document([_metric()], invalid_reason="GPU throttled")
    assert not doc.validity.valid and doc.validity.reasons == ("GPU throttled",)


def test_unknown_fields_are_refused_with_a_one_line_error() -> None:
    with pytest.raises(ValidationError) as caught:
        synthetic_document([_metric()], run={"no_such_field": 1})
    line = first_error_line(caught.value)
    assert line.startswith("no_such_field: ") and "\n" not in line


def test_draw_samples_is_reproducible_and_spread_as_asked() -> None:
    first = draw_samples(np.random.default_rng(3), level=100.0, noise=0.02, count=2000)
    again = draw_samples(np.random.default_rng(3), level=100.0, noise=0.02, count=2000)
    assert first == again
    logs = np.log(np.array(first) / 100.0)
    assert abs(float(np.median(first)) - 100.0) < 1.0
    assert 0.018 < float(logs.std()) < 0.022
