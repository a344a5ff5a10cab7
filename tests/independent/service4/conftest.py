"""A fake ConductorOne and a real client pointed at it (`tests/baton/c1/conftest.py`'s `make_client`, without its leak
guard: these tests log no credential), and the in-process write rig of `tests/independent/writes` (the real processor,
handlers and Datadog connector against the fake Datadog, with a scripted ConductorOne client), and service3's fake
Datadog for the runner in process (`tests/independent/jit/rig.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from connector.baton.c1 import BatonServiceClient
from tests.baton.c1.conftest import make_client
from tests.fakes.c1 import FakeC1
from tests.independent.service3.conftest import datadog
from tests.independent.writes.conftest import fake, rig

__all__ = ["c1", "client", "datadog", "fake", "rig"]


@pytest.fixture
def c1() -> Iterator[FakeC1]:
    with FakeC1() as running:
        yield running


@pytest.fixture
async def client(c1: FakeC1) -> AsyncIterator[BatonServiceClient]:
    async with make_client(c1) as made:
        yield made
