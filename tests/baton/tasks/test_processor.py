"""TaskProcessor in process, against a scripted client: validation, exactly one report, traces, cancellation.

The invariant under test: every task given to the processor ends in exactly one accepted FinishTask, or in an
error log line naming it; the in-flight count returns to 0 whatever happens.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import grpc
import pytest
import structlog
from google.protobuf import any_pb2, struct_pb2

from connector.baton import actions
from connector.baton.c1.errors import C1AuthRejectedError, C1FatalError, C1TransientError, C1UnreadableTaskError
from connector.baton.connector import ActionResult
from connector.baton.errors import Code, ConnectorError
from connector.baton.pb.c1.connector.v2 import action_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks import processor as processor_module
from connector.baton.tasks.outcome import MAX_FAILURE_MESSAGE, MAX_REPORT_BYTES, Outcome
from connector.baton.tasks.processor import FAILED_MID_WRITE
from connector.daemon import logging as daemon_logging
from tests.baton.tasks.stubs import Rig, StubClient, make_rig
from tests.fakes.tasks import grant_task, kind_task, revoke_task

ActionType = action_pb2.ActionType

GRANT = ("role", "r1", "member", "u1")


def _errors(events: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [e for e in events if e["log_level"] == "error"]


@pytest.mark.parametrize(
    ("task_id", "shown"),
    [
        ("", ""),
        ("short", "short"),
        ("a" * 26 + "-", "a" * 26 + "-"),
        ("é" * 27, "\\xe9" * 10),
        ("x" * 1_000_000, "x" * 40 + "...(1000000 chars)"),
    ],
)
async def test_a_task_with_a_malformed_id_is_never_executed_and_is_logged(task_id: str, shown: str) -> None:
    rig = make_rig()
    task = grant_task(*GRANT)
    task.id = task_id
    with structlog.testing.capture_logs() as events:
        await rig.processor.process(task)
    assert rig.connector.provisioning.calls == []
    assert rig.client.finish_attempts == 0  # ConductorOne refuses a FinishTask with such an id
    (error,) = _errors(events)
    assert str(error["event"]).startswith("invalid task")
    assert error["task_type"] == "grant"
    assert str(error["task_id"]).startswith(shown)
    assert len(str(error["task_id"])) < 500  # a 1 MB id does not make a 1 MB log line
    assert rig.observer.in_flight == 0
    assert rig.observer.finished == [("grant", "not_run")]  # counted, so the failed-tasks alert sees it


def _newer_task_type(task_id: str) -> baton_pb2.Task:
    """A task whose type a newer ConductorOne added: a field number our protos do not know (here 999, bytes)."""
    wire = baton_pb2.Task(id=task_id).SerializeToString() + bytes([0xBA, 0x3E, 0x02]) + b"{}"
    return baton_pb2.Task.FromString(wire)


@pytest.mark.parametrize("make", [lambda i: baton_pb2.Task(id=i), _newer_task_type], ids=["unset", "newer-type"])
async def test_a_task_without_a_payload_we_know_is_reported_unsupported_and_retryable(
    make: Callable[[str], baton_pb2.Task],
) -> None:
    """docs/spec/service-mode.md §0.2 (item 8): "anything unknown" gets UNKNOWN "unsupported task type", retryable,
    as in Go (another connector version may know it). It was INVALID_ARGUMENT "malformed task"."""
    rig = make_rig()
    task = make(kind_task("grant").id)
    assert task.WhichOneof("task_type") is None
    await rig.processor.process(task)
    (finish,) = rig.client.finishes
    assert (finish.task_id, finish.ok, finish.code, finish.message) == (
        task.id,
        False,
        Code.UNKNOWN,
        "unsupported task type",
    )
    assert finish.non_retryable is False
    assert rig.connector.provisioning.calls == []
    assert rig.observer.in_flight == 0


@pytest.mark.parametrize(
    ("kind", "with_resource", "code", "message"),
    [
        ("rotate_credentials", True, Code.UNIMPLEMENTED, "resource type does not have credential manager configured"),
        ("rotate_credentials", False, Code.INVALID_ARGUMENT, "malformed rotate credentials task"),
        (
            "create_resource",
            True,
            Code.UNIMPLEMENTED,
            "resource type team\\n does not have resource Create() configured",
        ),
        ("create_resource", False, Code.INVALID_ARGUMENT, "malformed create resource task"),
    ],
    ids=["rotate", "rotate-malformed", "create", "create-malformed"],
)
async def test_a_rotation_or_a_resource_creation_is_refused_for_good_as_go_refuses_it(
    kind: str, with_resource: bool, code: Code, message: str
) -> None:
    """docs/spec/service-mode.md §3.4: rotate_credentials and create_resource errors are non-retryable, and Go's
    builder answers a type without a credential or resource manager with UNIMPLEMENTED. Both were answered
    "unsupported task type", retryable, so ConductorOne would offer again what no version of this connector can do.
    The type named is peer text: shown escaped."""
    rig = make_rig()
    task = kind_task(kind)
    if with_resource and kind == "rotate_credentials":
        task.rotate_credentials.resource_id.resource_type = "service_account"
        task.rotate_credentials.resource_id.resource = "sa-1"
    elif with_resource:
        task.create_resource.resource.id.resource_type = "team\n"
        task.create_resource.resource.display_name = "New team"
    await rig.processor.process(task)
    (finish,) = rig.client.finishes
    assert (finish.ok, finish.code, finish.message, finish.non_retryable) == (False, code, message, True)
    assert rig.connector.provisioning.calls == []
    assert rig.observer.finished == [(kind, "failed_final")]


@pytest.mark.parametrize("retryable", [False, True], ids=["final-upstream-error", "retryable-upstream-error"])
async def test_a_failed_sync_is_reported_retryable_whatever_failed(retryable: bool) -> None:
    """docs/spec/service-mode.md §3.4: a sync's error is non-retryable only for an ingest-invariant violation; Go
    reports every other one retryable and ConductorOne decides when to run it again. A Datadog 403 (a key without a
    scope) was reported non-retryable, with its code."""
    rig = make_rig()

    class Refused(ConnectorError):
        code = Code.PERMISSION_DENIED

    Refused.retryable = retryable

    async def failing(task_id: str, task: object) -> Outcome:
        raise Refused("GET /api/v2/users -> 403: Forbidden")

    rig.full_sync.run = failing  # type: ignore[method-assign]
    task = kind_task("sync_full")
    await rig.processor.process(task)
    (finish,) = rig.client.finishes
    assert (finish.ok, finish.code, finish.non_retryable) == (False, Code.PERMISSION_DENIED, False)
    assert "403" in finish.message
    assert rig.observer.finished == [("sync_full", "failed_retryable")]


async def test_a_grant_is_reported_once_with_its_response() -> None:
    rig = make_rig()
    task = grant_task(*GRANT)
    await rig.processor.process(task)
    (finish,) = rig.client.finishes
    assert finish.ok
    assert finish.response is not None
    assert rig.observer.finished == [("grant", "success")]
    assert rig.observer.in_flight == 0


async def test_a_hello_task_is_answered_by_hello_without_finish() -> None:
    rig = make_rig()
    task = kind_task("hello")
    await rig.processor.process(task)
    assert rig.hellos == [task.id]
    assert rig.client.finishes == []


async def test_an_unexpected_handler_error_is_terse_on_the_wire_and_logged_with_a_redacted_traceback() -> None:
    secret = "canary-secret-value-42"
    daemon_logging.register_secret(secret)
    rig = make_rig()
    rig.connector.provisioning.error = KeyError(f"lookup of {secret}")
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    daemon_logging.configure("info", "json", stream)
    try:
        await rig.processor.process(grant_task(*GRANT))
    finally:
        structlog.reset_defaults()
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    (finish,) = rig.client.finishes
    assert (finish.ok, finish.message, finish.non_retryable) == (
        False,
        f"internal error (KeyError); {FAILED_MID_WRITE}",
        True,
    )
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    (unexpected,) = [r for r in records if r["event"] == "task handler raised an unexpected error"]
    assert unexpected["level"] == "error"
    assert "Traceback (most recent call last)" in unexpected["exception"]
    assert "KeyError" in unexpected["exception"]
    assert secret not in stream.getvalue()
    assert daemon_logging.REDACTED in unexpected["exception"]


async def test_a_processor_cancelled_mid_task_reports_then_reraises() -> None:
    rig = make_rig()
    rig.connector.provisioning.gate = asyncio.Event()  # the grant never finishes by itself
    task = grant_task(*GRANT)
    running = asyncio.create_task(rig.processor.process(task))
    await rig.connector.provisioning.entered.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    (finish,) = rig.client.finishes
    assert (finish.ok, finish.code, finish.non_retryable) == (False, Code.UNAVAILABLE, False)
    assert rig.observer.in_flight == 0


async def test_a_processor_cancelled_at_shutdown_makes_one_bounded_attempt_and_logs_the_loss(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The drain cancels a task whose handler outlived the grace and the abandon: the processor still reports it,
    but the stop deadline has passed, so its attempt gets LAST_ATTEMPT_SECONDS. Unbounded, a ConductorOne that
    does not answer held the exit for the FinishTask's own deadline (30 s, more with a token fetch), past the pod's
    kill, and the task's loss was never logged."""
    monkeypatch.setattr(processor_module, "LAST_ATTEMPT_SECONDS", 0.01)
    rig = make_rig()
    rig.connector.provisioning.gate = asyncio.Event()  # the grant never finishes by itself
    rig.client.finish_gate = asyncio.Event()  # ConductorOne never answers
    task = grant_task(*GRANT)
    with structlog.testing.capture_logs() as events:
        running = asyncio.create_task(rig.processor.process(task))
        await rig.connector.provisioning.entered.wait()
        rig.processor.stop_reporting_within(0.0)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(30):  # not a measure: a failure instead of a hang (it waited for ever)
                await running
    assert rig.client.finish_attempts == 1
    (lost,) = _errors(events)
    assert (lost["event"], lost["task_id"], lost["reason"], lost["error"]) == (
        "task not reported to ConductorOne",
        task.id,
        "the connector is shutting down",
        "no answer before the stop deadline",
    )
    assert (lost["code"], lost["attempts"]) == ("UNAVAILABLE", 1)
    assert rig.observer.in_flight == 0


async def test_a_retry_begun_before_the_stop_deadline_is_cut_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once stopping, a report's retries end at the stop deadline: a retry begun just before it gets what is left, not
    LAST_ATTEMPT_SECONDS (the second a late report's first attempt gets, when none is left). A retry begun in the last
    second on a ConductorOne that then held its answer ran up to that second past the deadline, into the one the
    drain leaves an issued credential's undo. (LAST_ATTEMPT_SECONDS is raised here so that the overrun is a hang.)"""
    monkeypatch.setattr(processor_module, "LAST_ATTEMPT_SECONDS", 60.0)
    rig = make_rig()
    rig.client.finish_script.append(C1TransientError("FinishTask: UNAVAILABLE", code=grpc.StatusCode.UNAVAILABLE))
    rig.processor.stop_reporting_within(0.2)
    task = grant_task(*GRANT)
    with structlog.testing.capture_logs() as events:
        running = asyncio.create_task(rig.processor.process(task))
        await rig.client.wait_finish_attempts(1)
        rig.client.finish_gate = asyncio.Event()  # the retry is taken and never answered
        async with asyncio.timeout(10):  # not a measure: a failure instead of a hang (the retry got 60 s)
            await running
    assert rig.client.finish_attempts == 2
    (lost,) = _errors(events)
    assert (lost["event"], lost["task_id"], lost["reason"], lost["error"], lost["attempts"]) == (
        "task not reported to ConductorOne",
        task.id,
        "the connector is shutting down",
        "no answer before the stop deadline",
        2,
    )
    assert rig.observer.in_flight == 0


async def test_abandoned_tasks_are_reported_retryable_and_the_processor_returns() -> None:
    rig = make_rig()
    rig.connector.provisioning.gate = asyncio.Event()
    task = grant_task(*GRANT)
    running = asyncio.create_task(rig.processor.process(task))
    await rig.connector.provisioning.entered.wait()
    rig.processor.abandon_all("the connector is shutting down", finish_within=1.0)
    await running  # returns normally: only the handler was cancelled
    (finish,) = rig.client.finishes
    assert finish.code == Code.UNAVAILABLE
    assert "shutting down" in finish.message
    assert rig.observer.in_flight == 0


async def test_a_task_delivered_again_while_running_runs_once() -> None:
    rig = make_rig()
    rig.connector.provisioning.gate = gate = asyncio.Event()
    task = grant_task(*GRANT)
    first = asyncio.create_task(rig.processor.process(task))
    await rig.connector.provisioning.entered.wait()
    await rig.processor.process(task)
    gate.set()
    await first
    assert rig.connector.provisioning.calls == ["grant"]
    assert len(rig.client.finishes) == 1


async def test_a_running_task_offered_at_every_poll_is_one_warning_not_one_per_poll() -> None:
    """ConductorOne re-offering a task that still runs (a grant waiting on Datadog) gets an answer per poll, 10 a second
    at the idle pace: a warning line for each flooded the log for as long as the task ran. One warning says it; the
    copies after it are at debug, and the next run of that id warns again."""
    rig = make_rig()
    rig.connector.provisioning.gate = gate = asyncio.Event()
    task = grant_task(*GRANT)
    with structlog.testing.capture_logs() as events:
        first = asyncio.create_task(rig.processor.process(task))
        await rig.connector.provisioning.entered.wait()
        for _ in range(50):
            await rig.processor.process(task)
        gate.set()
        await first
        second = asyncio.create_task(rig.processor.process(task))
        await asyncio.sleep(0)
        await rig.processor.process(task)
        await second
    redelivered = [e for e in events if e["event"].startswith("task delivered again")]
    assert [e["log_level"] for e in redelivered] == ["warning"] + ["debug"] * 49 + ["warning"]
    assert rig.connector.provisioning.calls == ["grant", "grant"]


async def test_a_tasks_digest_is_made_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keeping what tells a copy ConductorOne re-offers once only a task's report is left, telling such a copy from
    another task, and telling an unrunnable task from one already logged hash the task's payload: up to 32 MiB. On the
    event loop it took 130 ms for a 30 MiB task, at every copy (10 a second at the idle pace), and nothing else ran
    meanwhile (/healthz, heartbeats, reports). Every digest is made on a worker thread; a copy of a task still
    running is compared in place, without one."""
    made_on: list[str] = []
    digest = processor_module._work_digest

    def recording(task: baton_pb2.Task) -> bytes:
        try:
            asyncio.get_running_loop()
            made_on.append("the event loop")
        except RuntimeError:
            made_on.append("a worker thread")
        return digest(task)

    monkeypatch.setattr(processor_module, "_work_digest", recording)
    rig = make_rig()
    rig.connector.provisioning.gate = gate = asyncio.Event()
    task = grant_task(*GRANT)
    first = asyncio.create_task(rig.processor.process(task))
    await rig.connector.provisioning.entered.wait()
    await rig.processor.process(task)  # a copy of the running task: compared in place
    other = grant_task("role", "r9", "member", "u9")
    other.id = task.id
    await rig.processor.process(other)  # another task under its id: the refusal's digest
    invalid = grant_task(*GRANT)
    invalid.id = "not a task id"
    await rig.processor.process(invalid)  # the refusal's digest
    gate.set()
    await first
    assert len(made_on) == 2
    # A report retried: of the task only its digest is kept, and a copy offered meanwhile is told by its own.
    revoke = revoke_task(*GRANT)
    rig.client.finish_gate = held = asyncio.Event()
    rig.client.finish_script.append(C1TransientError("FinishTask: UNAVAILABLE", code=grpc.StatusCode.UNAVAILABLE))
    reporting = asyncio.create_task(rig.processor.process(revoke))
    await rig.client.wait_finish_attempts(2)  # the grant's, and the revoke's first
    held.set()  # the first attempt goes on (and fails); the retry waits at the gate, closed again
    held.clear()
    await rig.client.wait_finish_attempts(3)  # the retry: the task is held only as its digest now
    await rig.processor.process(revoke)
    held.set()
    await reporting
    assert [f.ok for f in rig.client.finishes] == [True, True]
    assert made_on == ["a worker thread"] * 4


async def test_an_unrunnable_task_offered_at_every_poll_is_one_error_line_and_every_copy_counted() -> None:
    """A task that can neither run nor be reported (an invalid id; another task under a running task's id) is offered
    again at every poll, since ConductorOne cannot hear it was refused: 10 a second at the idle pace, and each copy
    was an error line. The first is at error, its copies at debug; each still counts as `not_run`, and another such
    task gets its own error line."""
    rig = make_rig()
    rig.connector.provisioning.gate = gate = asyncio.Event()
    running = grant_task(*GRANT)
    invalid, other_invalid = kind_task("grant"), kind_task("revoke")
    invalid.id, other_invalid.id = "short", ""
    reuse = revoke_task("team", "t1", "admin", "u2")
    reuse.id = running.id
    with structlog.testing.capture_logs() as events:
        first = asyncio.create_task(rig.processor.process(running))
        await rig.connector.provisioning.entered.wait()
        for _ in range(20):
            await rig.processor.process(invalid)
            await rig.processor.process(reuse)
        await rig.processor.process(other_invalid)
        gate.set()
        await first
    told = [(e["event"].split(";")[0], e["log_level"]) for e in events if "cannot be reported" in e["event"]]
    invalid_lines = [level for event, level in told if event.startswith("invalid task")]
    reuse_lines = [level for event, level in told if event.startswith("task id reused")]
    assert invalid_lines == ["error"] + ["debug"] * 19 + ["error"]
    assert reuse_lines == ["error"] + ["debug"] * 19
    assert rig.observer.finished.count(("grant", "not_run")) == 20
    assert rig.observer.finished.count(("revoke", "not_run")) == 21
    assert rig.connector.provisioning.calls == ["grant"]


async def test_a_running_task_delivered_again_with_another_status_is_a_redelivery_not_another_task() -> None:
    """`Task.status` is ConductorOne's bookkeeping (the SDK never reads it, spec §2.3): the copy of a running task it
    re-offers may say RUNNING where the first said PENDING. That copy was taken for a different task under the same
    id: an error line, and a `not_run` count the failed-tasks alert pages on, for a harmless redelivery."""
    rig = make_rig()
    rig.connector.provisioning.gate = gate = asyncio.Event()
    task = grant_task(*GRANT)
    task.status = baton_pb2.Task.STATUS_PENDING
    first = asyncio.create_task(rig.processor.process(task))
    await rig.connector.provisioning.entered.wait()
    again = baton_pb2.Task()
    again.CopyFrom(task)
    again.status = baton_pb2.Task.STATUS_RUNNING
    with structlog.testing.capture_logs() as events:
        await rig.processor.process(again)
    assert _errors(events) == []
    assert [e["event"] for e in events] == ["task delivered again while it is still running; ignoring the copy"]
    gate.set()
    await first
    assert rig.connector.provisioning.calls == ["grant"]
    assert rig.observer.finished == [("grant", "success")]


async def test_a_different_task_under_a_running_tasks_id_is_not_run_and_is_logged_as_an_error() -> None:
    """The invariant: a task ends in one FinishTask or an error line naming it. A *different* task reusing the id
    of one still running can have neither a run nor a report of its own (that id's report is the running task's);
    it was dropped with only the warning meant for a harmless redelivery."""
    rig = make_rig()
    rig.connector.provisioning.gate = gate = asyncio.Event()
    first = grant_task(*GRANT)
    running = asyncio.create_task(rig.processor.process(first))
    await rig.connector.provisioning.entered.wait()
    other = revoke_task("team", "t1", "admin", "u2")
    other.id = first.id
    with structlog.testing.capture_logs() as events:
        await rig.processor.process(other)
    (error,) = _errors(events)
    assert str(error["event"]).startswith("task id reused by a different task")
    assert (error["task_id"], error["task_type"], error["running_task_type"]) == (first.id, "revoke", "grant")
    gate.set()
    await running
    assert rig.connector.provisioning.calls == ["grant"]
    (finish,) = rig.client.finishes
    assert (finish.task_id, finish.ok) == (first.id, True)
    assert rig.observer.in_flight == 0
    assert rig.observer.finished == [("revoke", "not_run"), ("grant", "success")]


async def test_a_report_is_retried_through_transient_and_token_failures() -> None:
    rig = make_rig()
    unavailable = C1TransientError("FinishTask: UNAVAILABLE", code=grpc.StatusCode.UNAVAILABLE)
    twice_unauthenticated = C1FatalError("FinishTask: UNAUTHENTICATED", code=grpc.StatusCode.UNAUTHENTICATED)
    rig.client.finish_script.extend([unavailable] * 5 + [twice_unauthenticated] * 3)
    await rig.processor.process(grant_task(*GRANT))
    assert rig.client.finish_attempts == 9
    (finish,) = rig.client.finishes
    assert finish.ok


async def test_a_report_still_failing_when_the_process_stops_is_logged_with_task_and_outcome() -> None:
    rig = make_rig()
    rig.client.finish_script.extend(
        [C1TransientError("FinishTask: UNAVAILABLE", code=grpc.StatusCode.UNAVAILABLE)] * 1_000_000
    )
    task = grant_task(*GRANT)
    with structlog.testing.capture_logs() as events:
        running = asyncio.create_task(rig.processor.process(task))
        await rig.client.wait_finish_attempts(3)
        rig.processor.stop_reporting_within(0.02)
        await running
    (lost,) = _errors(events)
    assert lost["event"] == "task not reported to ConductorOne"
    assert (lost["task_id"], lost["outcome"], lost["reason"]) == (task.id, "success", "the connector is shutting down")
    assert rig.client.finishes == []
    assert rig.observer.in_flight == 0


async def test_a_report_cancelled_while_retrying_is_logged_then_reraised() -> None:
    rig = make_rig()
    rig.client.finish_script.extend([C1TransientError("down", code=grpc.StatusCode.UNAVAILABLE)] * 1_000_000)
    task = grant_task(*GRANT)
    with structlog.testing.capture_logs() as events:
        running = asyncio.create_task(rig.processor.process(task))
        await rig.client.wait_finish_attempts(2)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    (lost,) = _errors(events)
    assert (lost["event"], lost["task_id"], lost["reason"]) == (
        "task not reported to ConductorOne",
        task.id,
        "the report was cancelled",
    )
    assert rig.observer.in_flight == 0


async def test_more_annotations_than_the_wire_allows_are_trimmed_not_lost() -> None:
    rig = make_rig()

    async def many(principal: object, entitlement: object) -> Outcome:
        return Outcome(annotations=[any_pb2.Any()] * 40)

    rig.processor._dispatch = lambda kind, task: many(None, None)  # type: ignore[method-assign]
    await rig.processor.process(grant_task(*GRANT))
    (finish,) = rig.client.finishes
    assert finish.annotations == 16


async def test_annotations_too_large_for_a_report_are_dropped_and_the_rest_sent() -> None:
    """Response and annotations must fit the 4 MiB a gRPC server takes (MAX_REPORT_BYTES): a FinishTask over it is
    refused at every attempt. What does not fit is dropped with a warning, never the report."""
    rig = make_rig()
    small, huge = any_pb2.Any(type_url="t/small"), any_pb2.Any(type_url="t/huge", value=b"x" * MAX_REPORT_BYTES)

    async def answer() -> Outcome:
        return Outcome(annotations=[huge, small])

    rig.processor._dispatch = lambda kind, task: answer()  # type: ignore[method-assign]
    with structlog.testing.capture_logs() as events:
        await rig.processor.process(grant_task(*GRANT))
    (finish,) = rig.client.finishes
    assert (finish.ok, finish.annotation_types) == (True, ("t/small",))  # the one that fits, wherever it stood
    (warning,) = [e for e in events if e["event"] == "task annotations too large to report; sending those that fit"]
    assert (warning["count"], warning["sent"]) == (2, 1)


async def test_a_huge_peer_value_in_a_failure_does_not_make_a_huge_report_or_log_line() -> None:
    """Handlers quote what the task named (`unknown action 'x…'`); a 1 MB name must not become a 1 MB FinishTask
    message (which ConductorOne may refuse, losing the report) nor a 1 MB log line."""
    rig = make_rig()
    task = baton_pb2.Task(id=kind_task("action_invoke").id)
    task.action_invoke.name = "x" * 1_000_000
    task.action_invoke.args.SetInParent()
    with structlog.testing.capture_logs() as events:
        await rig.processor.process(task)
    (finish,) = rig.client.finishes
    assert not finish.ok
    assert finish.message.startswith("unknown action 'xxx")
    assert len(finish.message) <= MAX_FAILURE_MESSAGE
    assert "(1000000 characters)" in finish.message  # the name cut where it is quoted, its length said
    assert all(len(repr(e)) < 2 * MAX_FAILURE_MESSAGE for e in events)
    assert rig.observer.in_flight == 0


async def test_a_failure_quoting_text_utf8_cannot_carry_is_still_reported() -> None:
    """Datadog's stringified-dict error bodies (`{"errors": ["{'errors': ['\\ud800']}"]}`) read as Python literals
    can hold a lone surrogate; protobuf refuses such a string, so the FinishTask could not even be built and the
    report was lost ("unexpected error while reporting"). The message is escaped, never dropped."""
    rig = make_rig()
    rig.connector.provisioning.error = ConnectorError("Datadog said: bad \ud800 role \udfff")
    with structlog.testing.capture_logs() as events:
        await rig.processor.process(grant_task(*GRANT))
    (finish,) = rig.client.finishes
    assert not finish.ok
    assert finish.message == "Datadog said: bad \\ud800 role \\udfff"
    assert _errors(events) == []
    assert rig.observer.in_flight == 0


class _NativePanic(BaseException):
    """Stands in for pyo3's PanicException, which derives from BaseException, not Exception."""


async def test_a_native_library_panic_is_reported_as_a_failure_not_escaped() -> None:
    rig = make_rig()
    rig.connector.provisioning.error = _NativePanic("rust panicked")
    await rig.processor.process(grant_task(*GRANT))
    (finish,) = rig.client.finishes
    assert (finish.ok, finish.message) == (False, f"internal error (_NativePanic); {FAILED_MID_WRITE}")
    assert rig.processor.running == 0


async def test_a_provisioning_task_that_timed_out_says_a_change_it_sent_may_have_been_made() -> None:
    """A grant timed out on its second write (a team admin grant: the add, then the promotion): "the task timed out"
    alone read as nothing done, as a stop's "shutting down" did; its handler knew nothing of what it had sent."""
    rig = make_rig()
    rig.connector.provisioning.error = TimeoutError()
    await rig.processor.process(grant_task(*GRANT))
    (finish,) = rig.client.finishes
    assert (finish.ok, finish.message) == (False, f"the task timed out; {FAILED_MID_WRITE}")


async def test_a_sync_that_timed_out_says_nothing_of_changes() -> None:
    rig = make_rig()

    async def timed_out(task_id: str, task: object) -> Outcome:
        raise TimeoutError

    rig.full_sync.run = timed_out  # type: ignore[method-assign]
    await rig.processor.process(kind_task("sync_full"))
    (finish,) = rig.client.finishes
    assert (finish.ok, finish.message) == (False, "the task timed out")


async def test_an_abandoned_credential_issuance_is_reported_final() -> None:
    """§3.4: issuance is always non-retryable (it is not idempotent). One stopped by a shutdown may have minted
    already, so its report must not invite ConductorOne to run it again (it was reported retryable, like a grant)."""
    rig = make_rig()
    entered = asyncio.Event()

    async def issuing(kind: str, task: baton_pb2.Task) -> Outcome:
        entered.set()
        await asyncio.Event().wait()  # the mint is in flight
        raise AssertionError("unreachable")

    rig.processor._dispatch = issuing  # type: ignore[method-assign]
    running = asyncio.create_task(rig.processor.process(kind_task("issue_credential")))
    await entered.wait()
    rig.processor.abandon_all("the connector is shutting down", finish_within=1.0)
    await running
    (finish,) = rig.client.finishes
    assert (finish.ok, finish.code, finish.non_retryable) == (False, Code.UNAVAILABLE, True)
    assert "shutting down" in finish.message
    assert "may retry" not in finish.message
    assert rig.observer.finished == [("issue_credential", "failed_final")]


async def test_work_that_finished_before_a_cancellation_is_reported_as_it_ended() -> None:
    """The processor is cancelled (the shutdown's last resort) in the loop turn where its handler has just finished:
    what the handler did (a credential minted and encrypted, a grant applied) is the outcome reported, not a
    made-up 'stopped mid-way' failure that leaves a live credential nobody is told about."""
    rig = make_rig()
    response = any_pb2.Any(type_url="type.googleapis.com/minted")
    runner: asyncio.Task[None] | None = None

    async def issued(kind: str, task: baton_pb2.Task) -> Outcome:
        assert runner is not None
        # Runs before the processor resumes from the finished handler: the cancellation arrives in that gap.
        asyncio.get_running_loop().call_soon(runner.cancel)
        return Outcome(response=response)

    rig.processor._dispatch = issued  # type: ignore[method-assign]
    runner = asyncio.create_task(rig.processor.process(kind_task("issue_credential")))
    with pytest.raises(asyncio.CancelledError):
        await runner
    (finish,) = rig.client.finishes
    assert (finish.ok, finish.response) == (True, response)
    assert rig.observer.finished == [("issue_credential", "success")]


async def _json_logs(work: Callable[[], Awaitable[None]]) -> list[dict[str, Any]]:
    """Run `work` with the daemon's JSON logging (the task's bound context included); the records it logged."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    daemon_logging.configure("info", "json", stream)
    try:
        await work()
    finally:
        structlog.reset_defaults()
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_a_failed_revoke_is_an_error_naming_the_access_left_in_place() -> None:
    # The line a security engineer acts on: which user keeps which access, without looking the task up.
    rig = make_rig()
    rig.connector.provisioning.error = ConnectorError("Datadog error: 403 Forbidden")
    task = revoke_task(*GRANT)
    records = await _json_logs(lambda: rig.processor.process(task))
    (failed,) = [r for r in records if r["event"] == "task failed"]
    assert failed["level"] == "error"
    assert failed["task_id"] == task.id
    assert failed["entitlement"] == "role:r1:member"
    assert failed["principal"] == "user:u1"
    assert failed["left_live"] == "role:r1:member:user:u1"
    # Every line of the task says what it is about.
    assert all(r.get("principal") == "user:u1" for r in records if r.get("task_id") == task.id)


async def test_a_failed_grant_is_a_warning_naming_what_was_asked() -> None:
    rig = make_rig()
    rig.connector.provisioning.error = ConnectorError("Datadog error: 403 Forbidden")
    records = await _json_logs(lambda: rig.processor.process(grant_task(*GRANT)))
    (failed,) = [r for r in records if r["event"] == "task failed"]
    assert failed["level"] == "warning"
    assert (failed["entitlement"], failed["principal"]) == ("role:r1:member", "user:u1")
    assert "left_live" not in failed


async def test_a_peers_ids_in_the_task_context_are_escaped_and_capped() -> None:
    rig = make_rig()
    rig.connector.provisioning.error = ConnectorError("refused")
    task = revoke_task("role", "r1\x1b]0;owned\x07" + "x" * 1_000_000, "member", 'u1\n{"forged": 1}')
    records = await _json_logs(lambda: rig.processor.process(task))
    (failed,) = [r for r in records if r["event"] == "task failed"]
    assert len(failed["entitlement"]) < 300
    assert "\x1b" not in failed["entitlement"]
    assert "\n" not in failed["principal"]
    assert len(failed["left_live"]) < 300


async def test_a_revoke_that_did_not_decode_names_no_grant_left_in_place() -> None:
    rig = make_rig()
    task = baton_pb2.Task(id=revoke_task(*GRANT).id)
    unreadable = C1UnreadableTaskError(
        "GetTask: undecodable", task_id=task.id, task_type="revoke", problem="a field of the wrong type", next_poll=None
    )
    records = await _json_logs(lambda: rig.processor.process(task, unreadable))
    (failed,) = [r for r in records if r["event"] == "task failed"]
    assert failed["level"] == "error"
    assert "left_live" not in failed
    assert rig.connector.provisioning.calls == []


async def test_a_create_account_profile_holding_numbers_json_cannot_carry_reaches_the_connector() -> None:
    """NaN and infinities are valid in a Struct (Go hands the profile over as is); JSON has no words for them, and
    reading the profile through json_format failed the task as an internal error with a traceback."""
    rig = make_rig()
    task = kind_task("create_account")
    profile = task.create_account.account_info.profile
    profile.update({"email": "a@example.com", "nested": {"list": [1, None, True, "x"]}})
    profile.fields["age"].number_value = float("nan")
    profile.fields["nested"].struct_value.fields["far"].number_value = float("-inf")
    with structlog.testing.capture_logs() as events:
        await rig.processor.process(task)
    assert _errors(events) == []
    profiles = [info.profile for info in rig.connector.accounts.created]
    (profile_seen,) = profiles
    assert profile_seen["email"] == "a@example.com"
    assert profile_seen["age"] != profile_seen["age"]  # NaN
    assert profile_seen["nested"] == {"list": [1.0, None, True, "x"], "far": float("-inf")}
    (finish,) = rig.client.finishes
    assert finish.ok
    assert rig.observer.in_flight == 0


async def test_a_create_account_task_hands_the_primary_email_first_wherever_it_is_listed() -> None:
    """AccountInfo's emails carry `is_primary`; the connector was handed the addresses alone, in the task's order, and
    one whose profile names no email (Datadog's) invited the first listed: a secondary address got the account."""
    rig = make_rig()
    task = kind_task("create_account")
    emails = task.create_account.account_info.emails
    emails.add(address="old@example.com")
    emails.add(address="work@example.com", is_primary=True)
    emails.add(address="other@example.com")
    await rig.processor.process(task)
    (info,) = rig.connector.accounts.created
    assert info.emails == ["work@example.com", "old@example.com", "other@example.com"]


async def _report_known_gone() -> Rig:
    rig = make_rig()
    rig.client.finish_script.extend([C1FatalError("FinishTask: NOT_FOUND", code=grpc.StatusCode.NOT_FOUND)] * 3)
    await rig.processor.process(grant_task(*GRANT))
    return rig


async def _report_cut_by_the_stop() -> Rig:
    rig = make_rig()
    rig.client.finish_script.extend([C1TransientError("down", code=grpc.StatusCode.UNAVAILABLE)] * 1_000_000)
    running = asyncio.create_task(rig.processor.process(grant_task(*GRANT)))
    await rig.client.wait_finish_attempts(2)
    rig.processor.stop_reporting_within(0.01)
    await running
    return rig


async def _hello_unanswered() -> Rig:
    async def refused(task_id: str, awaiting: object) -> None:
        raise C1TransientError("Hello: UNAVAILABLE", code=grpc.StatusCode.UNAVAILABLE)

    rig = make_rig(hello=refused)
    await rig.processor.process(kind_task("hello"))
    return rig


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        (_report_known_gone, [("grant", "unreported")]),
        (_report_cut_by_the_stop, [("grant", "unreported")]),
        (_hello_unanswered, [("hello", "unreported")]),
    ],
    ids=lambda value: getattr(value, "__name__", "")[1:] or None,
)
async def test_a_task_conductorone_never_hears_of_is_counted_unreported_not_as_its_outcome(
    scenario: Callable[[], Awaitable[Rig]], expected: list[tuple[str, str]]
) -> None:
    """The task series say what ConductorOne has: a grant done in Datadog whose report was given up is no success
    there (it was counted as one), and neither is a hello task whose Hello went unanswered. Both were invisible to the
    failure alert (`outcome!="success"`), with one error line the only trace."""
    rig = await scenario()
    assert rig.observer.finished == expected
    assert rig.observer.in_flight == 0


async def test_a_hello_task_whose_hello_conductorone_refuses_ends_in_an_error_line_naming_it() -> None:
    """The invariant: a task ends in its acknowledgement or an error line naming it. A hello task's only
    acknowledgement is its Hello; a refused one was a warning, below the level the lost-task alerts and searches read."""

    async def refused(task_id: str, awaiting: object) -> None:
        raise C1FatalError("Hello: INVALID_ARGUMENT: no", code=grpc.StatusCode.INVALID_ARGUMENT)

    rig = make_rig(hello=refused)
    task = kind_task("hello")
    with structlog.testing.capture_logs() as events:
        await rig.processor.process(task)
    (lost,) = _errors(events)
    assert (lost["event"], lost["task_id"]) == ("hello task not answered", task.id)
    assert "INVALID_ARGUMENT" in lost["error"]
    assert rig.client.finish_attempts == 0


async def test_a_hello_task_whose_hello_conductorone_holds_at_shutdown_is_cut_at_the_stop_deadline() -> None:
    """A hello task's Hello is held to the stop deadline as a report's FinishTask is: one awaiting its answer when the
    process stops is cut there, and the task's one trace, its error line, is written then. It ran on until the drain
    cancelled it a second after the deadline, when the pod's kill may already have come (the chart allows the grace
    and 5 s)."""
    entered = asyncio.Event()

    async def silent(task_id: str, awaiting: object) -> None:
        entered.set()
        await asyncio.Event().wait()  # ConductorOne never answers

    rig = make_rig(hello=silent)
    task = kind_task("hello")
    with structlog.testing.capture_logs() as events:
        running = asyncio.create_task(rig.processor.process(task))
        await entered.wait()
        rig.processor.stop_reporting_within(0.01)
        async with asyncio.timeout(10):  # not a measure: a failure instead of a hang (it waited for the drain)
            await running
    (lost,) = _errors(events)
    assert (lost["event"], lost["task_id"], lost["reason"]) == (
        "hello task not answered",
        task.id,
        "no answer before the stop deadline",
    )
    assert rig.observer.finished == [("hello", "unreported")]
    assert rig.observer.in_flight == 0


async def test_a_hello_task_whose_hello_meets_a_brief_outage_is_answered_on_a_retry() -> None:
    """A hello task's Hello was tried once: a ConductorOne blip (UNAVAILABLE, a token fetch failing) lost the task's
    only acknowledgement, though every other task's report is retried under the one backoff policy."""
    calls: list[str] = []

    async def blip_then_up(task_id: str, awaiting: object) -> None:
        calls.append(task_id)
        if len(calls) < 3:
            raise C1TransientError("Hello: UNAVAILABLE", code=grpc.StatusCode.UNAVAILABLE)

    rig = make_rig(hello=blip_then_up)
    task = kind_task("hello")
    with structlog.testing.capture_logs() as events:
        await rig.processor.process(task)
    assert calls == [task.id] * 3
    assert rig.observer.finished == [("hello", "success")]
    assert _errors(events) == []
    assert rig.client.finish_attempts == 0


@pytest.mark.parametrize(
    "refusal",
    [
        C1AuthRejectedError(
            "failed to get a token from c1.example: HTTP 400 Bad Request (invalid_grant)", status_code=400
        ),
        C1FatalError("Hello: UNAUTHENTICATED: token expired", code=grpc.StatusCode.UNAUTHENTICATED),
        C1FatalError("Hello: PERMISSION_DENIED: rotating", code=grpc.StatusCode.PERMISSION_DENIED),
    ],
    ids=["token-endpoint-400", "unauthenticated-twice", "permission-denied"],
)
async def test_a_hello_task_whose_hello_meets_what_a_report_retries_is_answered_on_a_retry(
    refusal: C1FatalError,
) -> None:
    """Mid-run, a token endpoint refusing one refresh (a 400 invalid_grant, a 401) or a Hello refused as a report's
    FinishTask would be and retried (the report table: credentials being rotated, a clock stepped back) ended the hello
    task unanswered at once, its only acknowledgement lost, while a report beside it went on and landed."""
    calls: list[str] = []

    async def refused_once(task_id: str, awaiting: object) -> None:
        calls.append(task_id)
        if len(calls) == 1:
            raise refusal

    rig = make_rig(hello=refused_once)
    task = kind_task("hello")
    with structlog.testing.capture_logs() as events:
        await rig.processor.process(task)
    assert calls == [task.id] * 2
    assert rig.observer.finished == [("hello", "success")]
    assert _errors(events) == []


async def test_a_hello_task_refused_for_good_is_not_retried() -> None:
    """Only a passing failure is tried again: a refusal (INVALID_ARGUMENT) would be refused the same way."""
    calls: list[str] = []

    async def refused(task_id: str, awaiting: object) -> None:
        calls.append(task_id)
        raise C1FatalError("Hello: INVALID_ARGUMENT: no", code=grpc.StatusCode.INVALID_ARGUMENT)

    rig = make_rig(hello=refused)
    await rig.processor.process(kind_task("hello"))
    assert len(calls) == 1
    assert rig.observer.finished == [("hello", "unreported")]


@pytest.mark.parametrize(
    ("first", "may_have_landed"),
    [
        (
            C1TransientError(
                "FinishTask: ConductorOne at c1:443 unreachable: timed out", code=grpc.StatusCode.DEADLINE_EXCEEDED
            ),
            True,
        ),
        (C1TransientError("FinishTask: UNAVAILABLE: connection refused", code=grpc.StatusCode.UNAVAILABLE), False),
    ],
    ids=["unanswered", "refused"],
)
async def test_a_report_known_gone_after_an_unanswered_attempt_says_it_may_have_landed(
    first: C1TransientError, may_have_landed: bool
) -> None:
    """A FinishTask that timed out was sent, and may have landed: the task then left ConductorOne's queue, and the
    retries' NOT_FOUND may be ConductorOne holding this very report. The loss line said only "no longer takes it", and
    an operator took the task as never reported (an issued credential as never handed over, though it is deleted
    now); it now says the report may have landed, so that ConductorOne is looked at."""
    rig = make_rig()
    gone = C1FatalError("FinishTask: NOT_FOUND: no such task", code=grpc.StatusCode.NOT_FOUND)
    rig.client.finish_script.extend([first, gone, gone, gone])
    task = grant_task(*GRANT)
    with structlog.testing.capture_logs() as events:
        await rig.processor.process(task)
    (lost,) = _errors(events)
    assert (lost["event"], lost["task_id"], lost["reason"]) == (
        "task not reported to ConductorOne",
        task.id,
        "ConductorOne no longer takes it",
    )
    assert lost.get("may_have_landed", False) is may_have_landed


async def test_a_report_cancelled_while_conductorone_holds_its_answer_counts_that_attempt() -> None:
    """The loss line tells the operator whether ConductorOne may have the report after all: one FinishTask sent and
    never answered may have landed. It said `attempts: 0`, as if nothing had been sent."""
    rig = make_rig(client=StubClient(finish_gate=asyncio.Event()))
    task = grant_task(*GRANT)
    with structlog.testing.capture_logs() as events:
        running = asyncio.create_task(rig.processor.process(task))
        await rig.client.wait_finish_attempts(1)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    (lost,) = _errors(events)
    assert (lost["event"], lost["task_id"], lost["attempts"]) == ("task not reported to ConductorOne", task.id, 1)
    assert "awaited its answer" in lost["error"]


async def test_a_report_waits_the_retry_delay_conductorone_asks_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """A FinishTask refused with RetryInfo (RESOURCE_EXHAUSTED: slow down) is sent again after the delay asked for, not
    on the report backoff's first step (under a second)."""
    rig = make_rig()
    rig.client.finish_script.append(
        C1TransientError("FinishTask: RESOURCE_EXHAUSTED", code=grpc.StatusCode.RESOURCE_EXHAUSTED, retry_after=30.0)
    )
    pauses: list[float] = []

    async def recorded(delay: float) -> bool:  # the pause before the next attempt, recorded instead of slept
        pauses.append(delay)
        return True

    monkeypatch.setattr(rig.processor, "_wait_before_retry", recorded)
    await rig.processor.process(grant_task(*GRANT))
    assert pauses == [30.0]
    assert [finish.ok for finish in rig.client.finishes] == [True]


@pytest.mark.parametrize(
    ("code", "reported"),
    [
        (grpc.StatusCode.DATA_LOSS, 15),  # an upload the server ended before its end
        (grpc.StatusCode.OUT_OF_RANGE, 11),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 8),
        (grpc.StatusCode.OK, Code.UNKNOWN),  # no failure code: FinishTask refuses to carry it
    ],
)
async def test_a_sync_failed_by_conductorone_is_reported_with_conductorones_code(
    monkeypatch: pytest.MonkeyPatch, code: grpc.StatusCode, reported: int
) -> None:
    """A sync failed by ConductorOne's own answer (its Heartbeat or UploadAsset) is reported with that answer's code.
    Codes the project's code table lacked (DATA_LOSS, OUT_OF_RANGE) were reported UNKNOWN; and an OK code, which no
    failed report may carry, made the FinishTask unbuildable: the report was lost with an unexpected-error line."""
    rig = make_rig()

    async def failed(task_id: str, task: Any) -> Outcome:
        raise C1TransientError(f"UploadAsset: {code.name}: the server ended the upload before its end", code=code)

    monkeypatch.setattr(rig.full_sync, "run", failed)
    task = kind_task("sync_full")
    with structlog.testing.capture_logs() as events:
        await rig.processor.process(task)
    (finish,) = rig.client.finishes
    assert (finish.ok, finish.code, finish.non_retryable) == (False, reported, False)
    assert _errors(events) == []


async def test_every_line_of_an_action_names_the_action_and_the_resource_it_acts_on() -> None:
    """A failed `disable_user` is an offboarding that did not happen; its lines said `task_type: action_invoke` and
    nothing of which action ran, nor on whom (a refusal before any request quoted neither). The action's name and
    its resource-id argument (the SDK's resource_id_field shape) are bound to every line, escaped and capped."""
    rig = make_rig()
    task = baton_pb2.Task(id=kind_task("action_invoke").id)
    task.action_invoke.name = "disable_user"
    task.action_invoke.args.update({"user_id": {"resource_type_id": "user", "resource_id": "u1\n"}, "note": "x"})
    records = await _json_logs(lambda: rig.processor.process(task))
    mine = [r for r in records if r.get("task_id") == task.id]
    assert {r["event"] for r in mine} >= {"task started", "task failed"}
    for record in mine:
        assert record["action"] == "disable_user"
        assert record["action_target"] == "user:u1\\n"


class _FailingActions:
    """Two actions, both failing: an account disable and a profile update."""

    def action_names(self) -> list[str]:
        return ["disable_user", "update_user"]

    def action_schemas(self) -> list[action_pb2.BatonActionSchema]:
        return [
            action_pb2.BatonActionSchema(name="disable_user", action_type=[ActionType.ACTION_TYPE_ACCOUNT_DISABLE]),
            action_pb2.BatonActionSchema(
                name="update_user", action_type=[ActionType.ACTION_TYPE_ACCOUNT_UPDATE_PROFILE]
            ),
        ]

    async def invoke_action(self, name: str, args: Any) -> Any:
        raise ConnectorError("Datadog error: 403 Forbidden")


@pytest.mark.parametrize(("action", "level"), [("disable_user", "error"), ("update_user", "warning")])
async def test_a_failed_account_disable_is_an_error_naming_the_account_left_enabled(action: str, level: str) -> None:
    """An account-disable action that fails is an offboarding that did not happen: the account keeps every access it
    had, as a grant does after a failed revoke. It was a warning like any failed action; it is now the revoke's error
    line, `left_live` naming the account. Other actions' failures stay warnings."""
    rig = make_rig()
    failing = _FailingActions()
    rig.connector.action_manager = lambda: failing  # type: ignore[method-assign,assignment]
    task = baton_pb2.Task(id=kind_task("action_invoke").id)
    task.action_invoke.name = action
    task.action_invoke.args.update({"user_id": {"resource_type_id": "user", "resource_id": "u1"}})
    records = await _json_logs(lambda: rig.processor.process(task))
    (failed,) = [r for r in records if r["event"] == "task failed"]
    assert failed["level"] == level
    if level == "error":
        assert failed["left_live"] == "user:u1"
    else:
        assert "left_live" not in failed


async def test_tasks_on_the_same_access_run_in_the_order_given_and_others_side_by_side() -> None:
    """A revoke handed out while the grant of the same access still runs waits for it (run side by side, it found
    nothing to remove yet, and the grant then landed: access kept, reported revoked). A task naming the entitlement by
    id alone is the same access; other accesses do not wait."""
    rig = make_rig()
    rig.connector.provisioning.gate = gate = asyncio.Event()
    grant = grant_task(*GRANT)
    revoke = revoke_task(*GRANT)
    revoke.revoke.grant.entitlement.ClearField("resource")  # by id alone: `role:r1:member`
    other = grant_task("role", "r1", "member", "u2")
    first = asyncio.create_task(rig.processor.process(grant))
    await rig.connector.provisioning.entered.wait()
    later = [asyncio.create_task(rig.processor.process(task)) for task in (revoke, other)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert rig.connector.provisioning.calls == ["grant", "grant"], "the other user's grant runs; the revoke waits"
    gate.set()
    await asyncio.gather(first, *later)
    assert rig.connector.provisioning.calls == ["grant", "grant", "revoke"]
    assert [f.ok for f in rig.client.finishes] == [True, True, True]
    assert rig.observer.in_flight == 0


async def test_a_task_waiting_for_an_earlier_one_on_the_same_access_is_abandoned_retryable_at_shutdown() -> None:
    rig = make_rig()
    rig.connector.provisioning.gate = asyncio.Event()
    grant, revoke = grant_task(*GRANT), revoke_task(*GRANT)
    first = asyncio.create_task(rig.processor.process(grant))
    await rig.connector.provisioning.entered.wait()
    second = asyncio.create_task(rig.processor.process(revoke))
    for _ in range(20):
        await asyncio.sleep(0)
    rig.processor.abandon_all("the connector is shutting down", finish_within=1.0)
    await asyncio.gather(first, second)
    assert rig.connector.provisioning.calls == ["grant"], "the waiting revoke never ran"
    assert sorted((f.task_id, f.code, f.non_retryable) for f in rig.client.finishes) == sorted(
        [(grant.id, Code.UNAVAILABLE, False), (revoke.id, Code.UNAVAILABLE, False)]
    )
    assert rig.observer.in_flight == 0


class _GatedActions:
    """`disable_user` / `enable_user` naming their user by a resource-id argument; every call waits for `gate`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    def action_names(self) -> list[str]:
        return ["disable_user", "enable_user"]

    def action_schemas(self) -> list[action_pb2.BatonActionSchema]:
        user = actions.resource_id_field("user_id", "User", "The user.", ["user"], required=True)
        return [
            actions.action_schema(name, name, name, arguments=[user], return_types=[], action_types=[])
            for name in self.action_names()
        ]

    async def invoke_action(self, name: str, args: struct_pb2.Struct) -> ActionResult:
        value = args.fields["user_id"]
        who = value.string_value or value.struct_value.fields["resource_id"].string_value
        self.calls.append((name, who))
        self.entered.set()
        await self.gate.wait()
        return ActionResult(response=struct_pb2.Struct())


def _action_task(name: str, user: str | dict[str, str]) -> baton_pb2.Task:
    task = kind_task("action_invoke")
    task.action_invoke.name = name
    task.action_invoke.args.update({"user_id": user})
    return task


async def test_actions_on_the_same_resource_run_in_the_order_given() -> None:
    """An enable then a disable of the same user (a just-in-time window closed early): run side by side, whichever
    request reached the upstream last decided, and the user could stay enabled with both reported done. The user is
    named by id or by a resource-id value alike; another user's action does not wait."""
    rig = make_rig()
    manager = _GatedActions()
    rig.connector.action_manager = lambda: manager  # type: ignore[method-assign,assignment]
    first = asyncio.create_task(rig.processor.process(_action_task("enable_user", "u1")))
    await manager.entered.wait()
    later = [
        asyncio.create_task(rig.processor.process(task))
        for task in (
            _action_task("disable_user", {"resource_type_id": "user", "resource_id": "u1"}),
            _action_task("disable_user", "u2"),
        )
    ]
    for _ in range(20):
        await asyncio.sleep(0)
    assert manager.calls == [("enable_user", "u1"), ("disable_user", "u2")], "u1's disable waits for its enable"
    manager.gate.set()
    await asyncio.gather(first, *later)
    assert manager.calls[-1] == ("disable_user", "u1")
    assert [f.ok for f in rig.client.finishes] == [True, True, True]


class _GatedDeleter:
    """Deletes anything; every call waits for `gate`."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def delete_resource(self, resource_id: Any, parent_resource_id: Any = None) -> list[any_pb2.Any]:
        self.calls.append(resource_id.resource)
        self.entered.set()
        await self.gate.wait()
        return []


def _delete_task(resource: str, parent: str | None = None) -> baton_pb2.Task:
    task = kind_task("delete_resource")
    task.delete_resource.resource_id.resource_type = "key"
    task.delete_resource.resource_id.resource = resource
    if parent is not None:
        task.delete_resource.parent_resource_id.resource_type = "user"
        task.delete_resource.parent_resource_id.resource = parent
    return task


async def _settled(manager: _GatedActions, deleter: _GatedDeleter) -> list[str]:
    """What was called once every task that can run has started: the rest wait for an earlier one."""
    for _ in range(50):
        await asyncio.sleep(0)
    return [name for name, _ in manager.calls] + deleter.calls


async def test_a_deletion_whose_owner_is_unknown_runs_after_every_earlier_action_and_before_every_later_one() -> None:
    """An application key's deletion names no owner (ConductorOne sends no parent, and the key's id does not name its
    service account), and the deleter depends on the owner's state: run beside a disable of the owner handed out
    after it, the key was left live. It acts between the actions on any account handed out before it and after it;
    another such deletion, and tasks of other scopes (a grant), do not wait for it."""
    rig = make_rig()
    manager, deleter = _GatedActions(), _GatedDeleter()
    rig.connector.action_manager = lambda: manager  # type: ignore[method-assign,assignment]
    rig.connector.resource_deleter = lambda resource_type_id: deleter  # type: ignore[method-assign,assignment]
    enable = asyncio.create_task(rig.processor.process(_action_task("enable_user", "u1")))
    await manager.entered.wait()
    deletions = [asyncio.create_task(rig.processor.process(_delete_task(k))) for k in ("k1", "k2")]
    later = [
        asyncio.create_task(rig.processor.process(task))
        for task in (_action_task("disable_user", "u2"), grant_task(*GRANT))
    ]
    assert await _settled(manager, deleter) == ["enable_user"], "the deletions wait for the enable, u2's disable too"
    assert rig.connector.provisioning.calls == ["grant"], "a grant is of another scope"
    manager.gate.set()
    await enable
    assert await _settled(manager, deleter) == ["enable_user", "k1", "k2"], "side by side; the disable waits"
    deleter.gate.set()
    await asyncio.gather(*deletions, *later)
    assert await _settled(manager, deleter) == ["enable_user", "disable_user", "k1", "k2"]
    assert [f.ok for f in rig.client.finishes] == [True] * 5
    assert rig.processor._on_every == {}
    assert rig.processor._last_on_access == {}


async def test_a_deletion_naming_its_owner_is_ordered_with_that_account_only() -> None:
    rig = make_rig()
    manager, deleter = _GatedActions(), _GatedDeleter()
    rig.connector.action_manager = lambda: manager  # type: ignore[method-assign,assignment]
    rig.connector.resource_deleter = lambda resource_type_id: deleter  # type: ignore[method-assign,assignment]
    deleter.gate.set()
    enable = asyncio.create_task(rig.processor.process(_action_task("enable_user", "u1")))
    await manager.entered.wait()
    owned = [
        asyncio.create_task(rig.processor.process(_delete_task(k, parent)))
        for k, parent in (("k1", "u1"), ("k2", "u2"))
    ]
    assert await _settled(manager, deleter) == ["enable_user", "k2"], "u1's key waits for u1's enable; u2's does not"
    manager.gate.set()
    await asyncio.gather(enable, *owned)
    assert deleter.calls == ["k2", "k1"]


async def test_a_task_abandoned_while_it_waits_for_an_ownerless_deletion_did_nothing() -> None:
    rig = make_rig()
    manager, deleter = _GatedActions(), _GatedDeleter()
    manager.gate.set()
    rig.connector.action_manager = lambda: manager  # type: ignore[method-assign,assignment]
    rig.connector.resource_deleter = lambda resource_type_id: deleter  # type: ignore[method-assign,assignment]
    deletion = asyncio.create_task(rig.processor.process(_delete_task("k1")))
    await deleter.entered.wait()
    disable = _action_task("disable_user", "u1")
    disabling = asyncio.create_task(rig.processor.process(disable))
    await _settled(manager, deleter)
    rig.processor.abandon_all("the connector is shutting down", finish_within=1.0)
    await asyncio.gather(deletion, disabling)
    assert manager.calls == [], "the waiting disable never ran"
    waited = next(f for f in rig.client.finishes if f.task_id == disable.id)
    assert (waited.code, waited.non_retryable) == (Code.UNAVAILABLE, False)
    assert rig.processor._on_every == {}


async def test_a_create_account_profile_is_read_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A profile is a peer's Struct of any size up to the 32 MiB receive limit, read value by value in Python: one of
    three million numbers took 1.5 s of CPU on the event loop (no /healthz answer, no heartbeat, no report meanwhile).
    The account's details are read on a worker thread, as other work of that size is."""
    from connector.baton.tasks import handlers

    read_on: list[str] = []
    plain = handlers._plain_struct

    def recording(struct: struct_pb2.Struct) -> dict[str, object]:
        try:
            asyncio.get_running_loop()
            read_on.append("the event loop")
        except RuntimeError:
            read_on.append("a worker thread")
        return plain(struct)

    monkeypatch.setattr(handlers, "_plain_struct", recording)
    rig = make_rig()
    task = kind_task("create_account")
    task.create_account.account_info.profile.update({"email": "a@example.com", "nested": {"n": 1}})
    await rig.processor.process(task)
    (info,) = rig.connector.accounts.created
    assert info.profile == {"email": "a@example.com", "nested": {"n": 1.0}}
    assert read_on
    assert set(read_on) == {"a worker thread"}


async def test_an_action_with_a_flood_of_arguments_is_not_read_whole_for_its_log_target(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An action's log target is its first resource-id argument by name; a 32 MiB task of a million arguments was
    sorted and read whole for it, on the event loop (1.4 s of CPU at 16 MB, and again for a failure's line). An
    action takes a handful of arguments: one with more than `MAX_TARGET_ARGS` (64) names no target in its lines."""
    looked_at = 0
    resource_arg = processor_module._resource_arg

    def counting(value: struct_pb2.Value) -> Any:
        nonlocal looked_at
        looked_at += 1
        return resource_arg(value)

    monkeypatch.setattr(processor_module, "_resource_arg", counting)
    task = baton_pb2.Task(id=kind_task("hello").id)
    task.action_invoke.name = "disable_user"
    for n in range(1000):
        task.action_invoke.args.fields[f"arg{n:05}"].struct_value.fields["x"].number_value = n
    assert processor_module.task_target(task, "action_invoke") == {"action": "disable_user"}
    assert looked_at == 0

    small = baton_pb2.Task(id=task.id)
    small.action_invoke.name = "disable_user"
    small.action_invoke.args.fields["user_id"].struct_value.update({"resource_type_id": "user", "resource_id": "u1"})
    assert processor_module.task_target(small, "action_invoke") == {
        "action": "disable_user",
        "action_target": "user:u1",
    }
