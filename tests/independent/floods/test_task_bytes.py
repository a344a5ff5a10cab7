"""The bytes of tasks the daemon holds at once are bounded, whatever the task concurrency (`TASK_BYTES_BUDGET`).

A running task holds its whole GetTask answer, and an answer may be as large as the client's receive limit; with 100
task slots of such tasks the daemon held 100 answers (3.2 GiB at 32 MiB each, against the chart's 1 GiB limit: an
OOM kill, every task under way lost). Here the same at a smaller scale: answers of 3 MiB under a 4 MiB receive
limit, or of many empty messages (which the parser makes 28 times their size on the wire), ten slots.
"""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
import structlog
from google.protobuf import any_pb2

from connector.baton.c1.salvage import ITEM_BYTES
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
from tests.polling import until

MiB = 1024 * 1024
WAITING = "polling waits for the tasks under way to end: they hold the memory budget of task bytes"


def _padded_grant(*, blob: int = 0, items: int = 0) -> baton_pb2.Task:
    """A grant whose principal carries an annotation of `blob` bytes and `items` empty ones, which no handler reads."""
    task = grant_task("role", "admin", "member", "user-1")
    annotations = task.grant.principal.annotations
    annotations.append(any_pb2.Any(type_url="type.googleapis.com/x.Padding", value=b"p" * blob))
    annotations.extend(any_pb2.Any() for _ in range(items))
    return task


async def _no_hello(task_id: str, awaiting: object) -> None:
    return None


@pytest.mark.parametrize(
    ("shape", "task_bytes"),
    [
        # 3 MiB in one annotation: about 3 MiB once decoded.
        ({"blob": 3 * MiB}, 3 * MiB),
        # 40,000 empty annotations: 80 kB on the wire, 2.2 MB decoded (56 bytes each in the parser's arena).
        ({"items": 40_000}, 40_000 * ITEM_BYTES),
    ],
    ids=["one-large-annotation", "many-empty-annotations"],
)
async def test_tasks_are_claimed_only_while_the_budget_of_task_bytes_holds_them(
    fake: FakeC1, shape: dict[str, int], task_bytes: int
) -> None:
    """Room for the largest answer a poll may bring and one and a half such tasks: the second task fits, the third
    poll does not, and polling waits with eight slots free. Without the budget all six were claimed and held at once;
    weighed by their size on the wire alone, six tasks of many empty annotations (480 kB) held 13 MB."""
    tasks = [_padded_grant(**shape) for _ in range(6)]
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
        budget = client.max_task_bytes + task_bytes * 3 // 2
        scheduler = Scheduler(client, processor, concurrency=10, task_bytes=budget)
        with structlog.testing.capture_logs() as events:
            polling = asyncio.create_task(scheduler.run(stop))
            await until(
                lambda: any(e["event"] == WAITING for e in events) or len(fake.recorded().handed_out_at) == 6,
                "the polling neither waited for the budget nor took the six tasks",
                within=60,
            )
            assert len(fake.recorded().handed_out_at) == 2
            (waiting,) = [e for e in events if e["event"] == WAITING]
            assert waiting["budget_bytes"] == budget
            assert waiting["tasks"] == 2
            assert 2 * task_bytes <= waiting["held_bytes"] < 2.2 * task_bytes  # and their bytes on the wire
            gate.set()
            await until(
                lambda: len(fake.recorded().finish_tasks) == len(tasks), "not every task was reported", within=60
            )
            stop.set()
            await polling
        await scheduler.drain(1.0)
    reports = fake.recorded().finish_tasks
    assert {task.id for task in tasks} == set(reports)
    assert all(len(report) == 1 and report[0].HasField("success") for report in reports.values())


async def test_a_stop_while_polling_waits_for_the_budget_ends_the_polling_and_reports_what_was_claimed(
    fake: FakeC1,
) -> None:
    """SIGTERM while the budget is full: polling ends at once (it claims nothing more), the tasks under way are given
    the grace and then reported retryable, and ConductorOne keeps the rest queued for another daemon."""
    tasks = [_padded_grant(blob=3 * MiB) for _ in range(4)]
    for task in tasks:
        fake.enqueue(task)
    connector = StubConnector()
    connector.provisioning.gate = asyncio.Event()  # never opens: Datadog does not answer
    stop = asyncio.Event()
    async with make_client(fake, max_receive_bytes=4 * MiB) as client:
        handlers = Handlers(cast(Connector, connector), provisioning=True)
        processor = TaskProcessor(
            client, handlers, cast(FullSyncHandler, StubFullSync()), _no_hello, finish_retry=INSTANT
        )
        scheduler = Scheduler(client, processor, concurrency=10, task_bytes=client.max_task_bytes + 4 * MiB)
        with structlog.testing.capture_logs() as events:
            polling = asyncio.create_task(scheduler.run(stop))
            await until(
                lambda: any(e["event"] == WAITING for e in events), "the polling never waited for the budget", within=60
            )
            stop.set()
            await asyncio.wait_for(polling, timeout=30)
            await scheduler.drain(0.05, report_within=5.0)
    claimed = set(fake.recorded().handed_out_at)
    assert len(claimed) == 2
    reports = fake.recorded().finish_tasks
    assert set(reports) == claimed
    for task_id in claimed:
        (report,) = reports[task_id]
        assert report.HasField("error")
        assert not report.error.non_retryable
