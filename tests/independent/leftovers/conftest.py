"""A fake ConductorOne on 127.0.0.1 for the suite's tests of the task contract."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.c1 import FakeC1


@pytest.fixture
def fake() -> Iterator[FakeC1]:
    with FakeC1() as running:
        yield running
