"""The suite's fake ConductorOne (its token endpoint answers carry its own `Date`, as a real server's do)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.c1 import FakeC1


@pytest.fixture
def fake() -> Iterator[FakeC1]:
    with FakeC1() as running:
        yield running
