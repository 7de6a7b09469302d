"""The fixtures every GitHub test shares: the loopback fake and a sleep that only records."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tools.bench.fake_github import FakeGitHub, SleepRecorder


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()
