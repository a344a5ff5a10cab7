"""An in-process service-mode rig for the write paths: the real task processor and handlers, the real Datadog
connector and client, the fake Datadog on 127.0.0.1 behind a scriptable hostile path (`wire.Wire`), and a scripted
ConductorOne client that records every FinishTask (`tests.baton.tasks.stubs.StubClient`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any, cast

import pytest
import structlog

from connector.baton.connector import Connector
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks.full_sync import FullSyncHandler
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.processor import TaskProcessor
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions
from tests.baton.tasks.stubs import INSTANT, Finish, StubClient
from tests.datadog.helpers import FAST_RETRY
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.independent.writes.wire import Wire

ALL_ON = DatadogOptions(
    provisioning=True, sync_secrets=True, sync_service_account_application_keys=True, allow_org_api_key_deletion=True
)


@dataclass
class Rig:
    fake: FakeDatadog
    wire: Wire
    client: DatadogClient
    connector: DatadogConnector
    c1: StubClient
    processor: TaskProcessor

    async def run(self, task: baton_pb2.Task) -> Finish:
        """Process `task` as the daemon does and return its one FinishTask."""
        before = len([f for f in self.c1.finishes if f.task_id == task.id])
        await self.processor.process(task)
        mine = [f for f in self.c1.finishes if f.task_id == task.id]
        assert len(mine) == before + 1, f"expected one more FinishTask for the task, got {len(mine) - before}"
        return mine[-1]


@pytest.fixture
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=20, seed=108, teams=3, schedules=0)) as server:
        yield server


@pytest.fixture
async def rig(fake: FakeDatadog) -> AsyncIterator[Rig]:
    wire = Wire()
    client = DatadogClient(
        api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url, retry=FAST_RETRY, transport=wire
    )
    connector = DatadogConnector(client, ALL_ON)
    c1 = StubClient()

    async def hello(task_id: str, awaiting: object) -> None:
        return None

    processor = TaskProcessor(
        c1.as_client(),
        Handlers(cast(Connector, connector), provisioning=True),
        cast(FullSyncHandler, None),
        hello,
        finish_retry=INSTANT,
    )
    yield Rig(fake, wire, client, connector, c1, processor)
    await client.aclose()


@pytest.fixture
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Every structlog event of the test, as the processors saw it."""
    with structlog.testing.capture_logs() as captured:
        yield captured
