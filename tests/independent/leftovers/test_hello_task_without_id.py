"""Class: a task refused for an id its own answer allows. A `hello` task is answered by a Hello carrying its id, and a
Hello's `task_id` is 27 letters or digits or empty (docs/spec/service-mode.md §2.2); Go's handler sends it as it came,
so a hello task without an id is answered by a plain Hello (§3.4). It was refused as "invalid task", an error line and
a `not_run`, and ConductorOne heard nothing. Every other task type still needs a valid id (its FinishTask would be
refused without one)."""

from __future__ import annotations

import structlog

from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.baton.c1.conftest import make_client
from tests.baton.tasks.stubs import make_rig, processor_over
from tests.fakes.c1 import FakeC1
from tests.fakes.tasks import grant_task, kind_task


async def test_a_hello_task_without_an_id_is_answered_by_a_plain_hello() -> None:
    rig = make_rig()
    task = kind_task("hello")
    task.id = ""
    assert rig.processor.takes("", "hello")
    with structlog.testing.capture_logs() as events:
        await rig.processor.process(task)
    assert rig.hellos == [""]
    assert rig.observer.finished == [("hello", "success")]
    assert [e for e in events if e["log_level"] == "error"] == []


async def test_any_other_task_without_an_id_is_still_refused() -> None:
    rig = make_rig()
    task = grant_task("role", "r1", "member", "u1")
    task.id = ""
    assert not rig.processor.takes("", "grant")
    await rig.processor.process(task)
    assert rig.observer.finished == [("grant", "not_run")]
    assert rig.client.finish_attempts == 0


async def test_conductorone_records_the_plain_hello(fake: FakeC1) -> None:
    client = make_client(fake)
    try:
        await processor_over(client).process(baton_pb2.Task(id="", hello=baton_pb2.Task.HelloTask()))
    finally:
        await client.close()
    recorded = fake.recorded()
    assert [hello.task_id for hello in recorded.hellos] == [""]
    assert recorded.finish_attempts == []  # a hello task's only acknowledgement is its Hello
