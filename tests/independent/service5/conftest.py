"""A fake ConductorOne and a real client pointed at it (`tests/baton/c1/conftest.py`'s `make_client`, without its leak
guard: these tests log no credential)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from connector.baton.c1 import BatonServiceClient
from tests.baton.c1.conftest import make_client
from tests.fakes.c1 import FakeC1


@pytest.fixture
def c1() -> Iterator[FakeC1]:
    with FakeC1() as running:
        yield running


@pytest.fixture
async def client(c1: FakeC1) -> AsyncIterator[BatonServiceClient]:
    async with make_client(c1) as made:
        yield made
