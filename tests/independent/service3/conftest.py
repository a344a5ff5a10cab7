"""One fake Datadog per test: a small org, its state changed only by the writes under test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.datadog import FakeDatadog, generate_org


@pytest.fixture
def datadog() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=8, seed=905, teams=1, schedules=0)) as server:
        yield server
