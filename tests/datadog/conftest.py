"""Fixtures for the Datadog layer tests: a fake Datadog with a small org, and clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from connector.datadog.client import DatadogClient
from tests.datadog.helpers import FAST_RETRY, ClientFactory, loopback_trust
from tests.fakes.datadog import FakeDatadog, generate_org


@pytest.fixture
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=40, seed=11, teams=6, schedules=3)) as server:
        yield server


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    made: list[DatadogClient] = []

    def factory(server: FakeDatadog, **kwargs: Any) -> DatadogClient:
        kwargs.setdefault("api_key", server.api_key)
        kwargs.setdefault("app_key", server.app_key)
        kwargs.setdefault("retry", FAST_RETRY)
        kwargs.setdefault("verify", loopback_trust())
        client = DatadogClient(base_url=server.base_url, **kwargs)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()


@pytest.fixture
async def client(fake: FakeDatadog, make_client: ClientFactory) -> DatadogClient:
    return make_client(fake)
