"""Formatting helpers: units, durations, bytes, tables, sparklines."""

from __future__ import annotations

import pytest

from tools.bench.report import formatting as ru
from virnucpro.bench.schema import metric_from_samples, unavailable_metric


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0000425, "42.5 µs"),
        (0.0123, "12.3 ms"),
        (0.85, "850 ms"),
        (12.345, "12.35 s"),
        (125.0, "2 min 05.0 s"),
        (3 * 3600 + 7 * 60, "3 h 07 min"),
        (0.0, "0.00 s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert ru.format_duration(seconds) == text


@pytest.mark.parametrize(
    ("count", "text"),
    [(512, "512 B"), (1536, "1.50 KiB"), (3 * 2**30, "3.00 GiB"), (2**50, "1.00 PiB")],
)
def test_format_bytes(count: int, text: str) -> None:
    assert ru.format_bytes(count) == text


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (12345.6, "tokens/s", "12,346 tokens/s"),
        (0.913, "ratio", "0.913"),
        (14.2, "x", "14.20x"),
        (88.0, "%", "88.0%"),
        (None, "s", "unavailable"),
    ],
)
def test_format_quantity(value: float | None, unit: str, text: str) -> None:
    assert ru.format_quantity(value, unit) == text


def test_metric_summary_and_unavailable() -> None:
    metric = metric_from_samples("t", [1.0, 2.0, 3.0, 4.0, 5.0], unit="s")
    assert ru.metric_summary(metric) == "3.00 s ± 2.00 s IQR (n=5)"
    assert ru.metric_summary(metric_from_samples("t", [1.0], unit="s")).startswith("1.00 s (n=1")
    gone = unavailable_metric("m", unit="B", reason="no CUDA device")
    assert ru.metric_summary(gone) == "unavailable (no CUDA device)"
    assert ru.metric_value(None) == "unavailable (not recorded in this run)"


def test_format_change_and_p() -> None:
    assert ru.format_change(0.1234) == "+12.3%" and ru.format_change(-0.05) == "-5.0%"
    assert ru.format_p(0.0004) == "< 0.001" and ru.format_p(0.0316) == "0.0316"
    assert ru.format_p(None) == "n/a"


def test_table_escapes_pipes_and_keeps_text() -> None:
    text = ru.table(("a", "b"), [("x|y", "007")])
    assert "x\\|y" in text and "007" in text and text.splitlines()[1].startswith("|--")


def test_worker_count() -> None:
    assert ru.worker_count(1, "gpu") == "1 GPU" and ru.worker_count(4, "gpu") == "4 GPUs"
    assert ru.worker_count(2, "rank") == "2 ranks"


def test_sparkline() -> None:
    assert ru.sparkline([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]) == "▁▂▃▄▅▆▇█"
    assert ru.sparkline([3.0, 3.0]) == ru.SPARK_FLAT * 2
    assert ru.sparkline([1.0, None, 2.0]) == "▁ █"
    assert ru.sparkline([]) == ""
    assert ru.sparkline([None, None]) == "  "
