"""The task stream over a process's life: what the processor remembers of the tasks it ran stays bounded whatever
ConductorOne answers. A ConductorOne answering every report as gone (NOT_FOUND, each task's report given up) made the
processor keep every such task's id for the life of the process, to count them on the closing line: a few hundred
bytes a task, without bound. The count stays whole; the ids kept are the latest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import grpc
import pytest

from connector.baton.c1 import BatonServiceClient
from connector.baton.connector import Connector
from connector.baton.tasks import processor as processor_module
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.processor import TaskProcessor
from connector.baton.tasks.report import GONE_CONFIRMATIONS
from tests.baton.tasks.stubs import INSTANT, StubConnector
from tests.fakes.c1 import FakeC1
from tests.fakes.tasks import kind_task

REMEMBERED = 3


async def _no_hello(task_id: str, awaiting: Callable[[bool], None]) -> None:
    return None


def _processor(client: BatonServiceClient) -> TaskProcessor:
    handlers = Handlers(cast(Connector, StubConnector()), provisioning=True)
    return TaskProcessor(client, handlers, cast(Any, None), _no_hello, finish_retry=INSTANT)


async def test_tasks_whose_reports_conductorone_calls_gone_are_all_counted_and_only_the_latest_kept(
    c1: FakeC1, client: BatonServiceClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processor_module, "_UNREPORTED_REMEMBERED", REMEMBERED, raising=False)
    processor = _processor(client)
    tasks = [kind_task("event_feed") for _ in range(REMEMBERED + 4)]
    c1.fail_next("FinishTask", grpc.StatusCode.NOT_FOUND, times=GONE_CONFIRMATIONS * len(tasks))
    for task in tasks:
        await processor.process(task)
    assert processor.unreported == len(tasks)
    assert len(processor._unreported) == REMEMBERED  # the memory the ids take is bounded
    assert c1.recorded().finish_tasks == {}


async def test_a_task_given_up_then_offered_again_and_reported_is_no_longer_counted(
    c1: FakeC1, client: BatonServiceClient
) -> None:
    processor = _processor(client)
    task = kind_task("event_feed")
    c1.fail_next("FinishTask", grpc.StatusCode.NOT_FOUND, times=GONE_CONFIRMATIONS)
    await processor.process(task)
    assert processor.unreported == 1
    await processor.process(task)  # ConductorOne offers it again, and takes its report this time
    assert processor.unreported == 0
    assert len(c1.recorded().finish_tasks[task.id]) == 1
