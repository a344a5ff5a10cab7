"""Class: a task refused for an id its own answer allows. A `hello` task is answered by a Hello carrying its id, and a
Hello's `task_id` is 27 letters or digits or empty (docs/spec/service-mode.md §2.2); Go's handler sends it as it came,
so a hello task without an id is answered by a plain Hello (§3.4). It was refused as "invalid task", an error line and
a `not_run`, and ConductorOne heard nothing. Every other task type still needs a valid id (its FinishTask would be
refused without one)."""

from __future__ import annotations

import grpc
import structlog
from google.protobuf import duration_pb2

from connector.baton.c1.errors import C1FatalError, C1UnreadableTaskError
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.baton.c1.conftest import make_client
from tests.baton.tasks.stubs import make_rig, processor_over
from tests.daemon.test_control_plane import _run
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


async def test_a_hello_without_an_id_left_unanswered_stays_counted_when_another_is_answered() -> None:
    """Nothing names a task without an id again: one left unreported counts for good, and another one answered takes
    nothing off the count the closing line reads (review r1401: it fell from 1 to 0)."""
    answers = iter([C1FatalError("refused", code=grpc.StatusCode.INVALID_ARGUMENT, method="Hello"), None])

    async def hello(task_id: str, awaiting: object) -> None:
        failure = next(answers)
        if failure is not None:
            raise failure

    rig = make_rig(hello=hello)
    first, second = kind_task("hello"), kind_task("hello")
    first.id = second.id = ""
    await rig.processor.process(first)
    assert rig.processor.unreported == 1
    await rig.processor.process(second)
    assert rig.processor.unreported == 1


async def test_an_undecodable_hello_without_an_id_paces_the_next_poll_as_a_task_that_runs() -> None:
    """The scheduler asks the processor whether a task runs with the type the undecodable answer named: a hello task
    without an id runs (it is answered), so its answer's next_poll of 0 is kept, not raised to the idle pause."""
    rig = make_rig()
    unreadable = C1UnreadableTaskError(
        "GetTask: ConductorOne's hello could not be decoded",
        task_id="",
        task_type="hello",
        problem="Wire format was corrupt",
        next_poll=duration_pb2.Duration(seconds=0),
    )
    idle = baton_pb2.BatonServiceGetTaskResponse(next_poll=duration_pb2.Duration(seconds=7))
    rig.client.poll_script.extend([unreadable, idle])
    _, pauses = await _run(rig.client, rig.processor, pauses=1)
    assert rig.hellos == [""]
    assert pauses.delays == [7.0]  # no pause after the hello task (0 s is not waited): the idle answer's is the first
