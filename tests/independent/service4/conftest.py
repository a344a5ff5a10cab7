"""A fake ConductorOne per test and a real client pointed at it (`tests/baton/c1/conftest.py`'s, without its leak
guard: these tests log no credential and read the processor's lines)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from connector.baton.c1 import BatonServiceClient
from tests.baton.c1.conftest import make_client
from tests.fakes.c1 import FakeC1


@pytest.fixture
def fake() -> Iterator[FakeC1]:
    with FakeC1() as running:
        yield running


@pytest.fixture
async def client(fake: FakeC1) -> AsyncIterator[BatonServiceClient]:
    async with make_client(fake) as made:
        yield made
