"""A hello task's only acknowledgement is its Hello (docs/spec/service-mode.md §3.4). One cut at the stop deadline, or
cancelled by the drain, while it was out unanswered may have landed: ConductorOne then holds the acknowledgement,
though the line says "not answered". The line says so as a lost report's does (`may_have_landed`, docs/runbook.md);
one that never went out, its token still being fetched, says nothing of the kind."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import pytest
import structlog

from connector.baton.c1 import BatonServiceClient
from connector.baton.connector import Connector
from connector.baton.pb.c1.connector.v2 import connector_pb2
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.processor import TaskProcessor
from tests.baton.tasks.stubs import StubConnector
from tests.fakes.c1 import FakeC1
from tests.fakes.c1.token_endpoint import TOKEN_HOLD
from tests.fakes.tasks import kind_task
from tests.polling import until

UNANSWERED = "hello task not answered"


def _processor(client: BatonServiceClient) -> TaskProcessor:
    async def hello(task_id: str, awaiting: Callable[[bool], None]) -> None:
        metadata = connector_pb2.ConnectorMetadata(display_name="service4")
        await client.hello(metadata, task_id=task_id, awaiting=awaiting)

    return TaskProcessor(client, Handlers(cast(Connector, StubConnector()), provisioning=True), cast(Any, None), hello)


async def _held_hello(fake: FakeC1, client: BatonServiceClient, hold: str) -> tuple[TaskProcessor, asyncio.Task[None]]:
    await client.hello(connector_pb2.ConnectorMetadata(display_name="service4"))  # a token and a channel, as at start
    if hold == TOKEN_HOLD:
        fake.set_token_expiry(0, token_lifetime=3600)
        fake.revoke_tokens()  # the Hello is refused UNAUTHENTICATED, and its retry waits for a fresh token
    release = fake.hold_next(hold) if hold != TOKEN_HOLD else fake.hold_next_token_request()
    processor = _processor(client)
    processing = asyncio.create_task(processor.process(kind_task("hello")))
    await until(lambda: fake.state.holds_pending(hold) == 0, f"the held {hold}")
    processing.add_done_callback(lambda _: release.set())
    return processor, processing


async def test_a_hello_tasks_hello_out_unanswered_at_the_stop_deadline_may_have_landed(
    c1: FakeC1, client: BatonServiceClient
) -> None:
    with structlog.testing.capture_logs() as events:
        processor, processing = await _held_hello(c1, client, "Hello")
        processor.stop_reporting_within(0.02)
        await processing
    (line,) = [e for e in events if e["event"] == UNANSWERED]
    assert line["reason"] == "no answer before the stop deadline"
    assert line["may_have_landed"] is True


async def test_a_hello_tasks_hello_cancelled_out_unanswered_may_have_landed(
    c1: FakeC1, client: BatonServiceClient
) -> None:
    with structlog.testing.capture_logs() as events:
        _, processing = await _held_hello(c1, client, "Hello")
        processing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await processing
    (line,) = [e for e in events if e["event"] == UNANSWERED]
    assert line["reason"] == "cancelled before ConductorOne answered"
    assert line["may_have_landed"] is True


async def test_a_hello_tasks_hello_waiting_for_its_token_at_the_stop_deadline_never_landed(
    c1: FakeC1, client: BatonServiceClient
) -> None:
    with structlog.testing.capture_logs() as events:
        processor, processing = await _held_hello(c1, client, TOKEN_HOLD)
        processor.stop_reporting_within(0.02)
        await processing
    (line,) = [e for e in events if e["event"] == UNANSWERED]
    assert line["reason"] == "no answer before the stop deadline"
    assert "may_have_landed" not in line
