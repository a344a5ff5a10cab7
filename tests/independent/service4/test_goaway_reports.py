"""A report refused UNAVAILABLE on a connection ConductorOne is closing (its GOAWAY, a deploy or a load balancer's
connection age, sent while it held the FinishTask): the retry goes out on a new connection, and ConductorOne has the
report once, as a success, with no line saying it was lost."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, cast

import grpc
import structlog

from connector.baton.c1 import BatonServiceClient
from connector.baton.connector import Connector
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.processor import TaskProcessor
from tests.baton.tasks.stubs import INSTANT, StubConnector
from tests.fakes.c1 import FakeC1
from tests.fakes.tasks import grant_task
from tests.polling import until


async def _no_hello(task_id: str, awaiting: Callable[[bool], None]) -> None:
    return None


def _processor(client: BatonServiceClient) -> TaskProcessor:
    handlers = Handlers(cast(Connector, StubConnector()), provisioning=True)
    return TaskProcessor(client, handlers, cast(Any, None), _no_hello, finish_retry=INSTANT)


async def _goaway_while_held(c1: FakeC1, release: threading.Event, left: int) -> None:
    """Once the held FinishTask arrived (`left` holds still to be taken), a GOAWAY, then its scripted answer."""
    await until(lambda: c1.state.holds_pending("FinishTask") == left, "the held FinishTask")
    c1.send_goaway(error_code=0, debug=b"deploy")  # NO_ERROR: a graceful stop; the held call was taken
    release.set()


async def test_a_report_refused_on_a_connection_going_away_arrives_once_on_the_next(
    c1: FakeC1, client: BatonServiceClient
) -> None:
    c1.fail_next("FinishTask", grpc.StatusCode.UNAVAILABLE, times=2)
    task = grant_task("role", "r1", "member", "u1")
    with structlog.testing.capture_logs() as events:
        first, second = c1.hold_next("FinishTask"), c1.hold_next("FinishTask")
        processing = asyncio.create_task(_processor(client).process(task))
        await _goaway_while_held(c1, first, left=1)
        await _goaway_while_held(c1, second, left=0)
        await processing
    (report,) = c1.recorded().finish_tasks[task.id]
    assert report.WhichOneof("final_state") == "success"
    assert [e["attempts"] for e in events if e["event"] == "task reported after retries"] == [3]
    assert not [e for e in events if e["event"] == "task not reported to ConductorOne"]
