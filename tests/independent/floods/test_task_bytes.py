"""The bytes of tasks the daemon holds at once are bounded, whatever the task concurrency (`TASK_BYTES_BUDGET`).

A running task holds its whole GetTask answer, and an answer may be as large as the client's receive limit; with 100
task slots of such tasks the daemon held 100 answers (3.2 GiB at 32 MiB each, against the chart's 1 GiB limit: an
OOM kill, every task under way lost). Here the same at a smaller scale: answers of 3 MiB under a 4 MiB receive
limit, a budget of 10 MiB, ten slots.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

import structlog
from google.protobuf import any_pb2

from connector.baton.connector import Connector
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.runtime.scheduler import Scheduler
from connector.baton.tasks.full_sync import FullSyncHandler
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.processor import TaskProcessor
from tests.baton.c1.conftest import make_client
from tests.baton.tasks.stubs import INSTANT, StubConnector, StubFullSync
from tests.fakes.c1 import FakeC1
from tests.fakes.tasks import grant_task

MiB = 1024 * 1024
WAITING = "polling waits for the tasks under way to end: they hold the memory budget of task bytes"


def _large_grant(size: int) -> baton_pb2.Task:
    """A grant whose principal carries `size` bytes of an annotation no handler reads."""
    task = grant_task("role", "admin", "member", "user-1")
    task.grant.principal.annotations.append(any_pb2.Any(type_url="type.googleapis.com/x.Padding", value=b"p" * size))
    return task


async def _no_hello(task_id: str) -> None:
    return None


async def _until(check: Callable[[], bool]) -> None:
    """Until `check` holds; a minute at most (a guard against a hang, not a measure of time)."""
    for _ in range(6000):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_tasks_are_claimed_only_while_the_budget_of_task_bytes_holds_their_answers(fake: FakeC1) -> None:
    tasks = [_large_grant(3 * MiB) for _ in range(6)]
    for task in tasks:
        fake.enqueue(task)
    connector = StubConnector()
    connector.provisioning.gate = gate = asyncio.Event()
    stop = asyncio.Event()
    async with make_client(fake, max_receive_bytes=4 * MiB) as client:
        handlers = Handlers(cast(Connector, connector), provisioning=True)
        processor = TaskProcessor(
            client, handlers, cast(FullSyncHandler, StubFullSync()), _no_hello, finish_retry=INSTANT
        )
        scheduler = Scheduler(client, processor, concurrency=10, task_bytes=10 * MiB)
        with structlog.testing.capture_logs() as events:
            polling = asyncio.create_task(scheduler.run(stop))
            # Two answers of 3 MiB held, a third poll (which may bring 4 MiB) does not fit in 10: polling waits,
            # with six slots free. Without the budget, all six were claimed and held at once.
            await _until(lambda: any(e["event"] == WAITING for e in events) or len(fake.recorded().handed_out_at) == 6)
            assert len(fake.recorded().handed_out_at) == 2
            (waiting,) = [e for e in events if e["event"] == WAITING]
            assert waiting["budget_bytes"] == 10 * MiB
            assert waiting["tasks"] == 2
            assert 6 * MiB < waiting["held_bytes"] < 7 * MiB
            gate.set()
            await _until(lambda: len(fake.recorded().finish_tasks) == len(tasks))
            stop.set()
            await polling
        await scheduler.drain(1.0)
    reports = fake.recorded().finish_tasks
    assert {task.id for task in tasks} == set(reports)
    assert all(len(report) == 1 and report[0].HasField("success") for report in reports.values())
