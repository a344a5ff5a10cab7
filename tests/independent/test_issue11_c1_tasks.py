"""Issue 11 against ConductorOne's side: tasks of surprising content and each RPC failing with each status code.

One daemon per test, the real process, against the fake ConductorOne (gRPC over TLS) and the fake Datadog. The
invariant checked every time: each task the daemon can report gets exactly one accepted FinishTask, with the outcome
Datadog's state shows; one it cannot report (an invalid id) gets an error line naming it; no Python traceback reaches
the output; the daemon stays up and goes on taking tasks.
"""

from __future__ import annotations

import grpc
import pytest

from connector.baton.errors import Code
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.e2e.harness import ACT_TIMEOUT, Daemon, Stack, assert_error, assert_success, only_finish, wait_finished
from tests.fakes.datadog import Org
from tests.fakes.tasks import grant_task, kind_task, length_delimited

pytestmark = pytest.mark.slow

FAST = {"BATON_PROVISIONING": "true", "BATON_BACKOFF_SCALE": "0.01"}


def _role_and_user_without_it(org: Org) -> tuple[str, str]:
    role = next(r for r in org.roles.values() if not r.managed)
    user = next(u for u in org.users.values() if u.status == "Active" and role.id not in u.role_ids)
    return role.id, user.id


def _no_traceback(daemon: Daemon) -> None:
    assert "Traceback" not in daemon.output(), daemon.tail()
    assert "was never retrieved" not in daemon.output(), daemon.tail()


def _errors(daemon: Daemon) -> list[dict[str, object]]:
    return [e for e in daemon.events() if e.get("level") == "error"]


def test_tasks_of_surprising_content_are_each_reported_once_with_a_clear_outcome(stack: Stack) -> None:
    daemon = stack.start(FAST)
    role, user = _role_and_user_without_it(stack.dd.org)

    no_payload = baton_pb2.Task(id=new_ksuid())
    unknown_type = grant_task("widget", "w1", "member", user)
    no_principal = grant_task("role", role, "member", user)
    no_principal.grant.ClearField("principal")
    team_principal = grant_task("role", role, "member", user)
    team_principal.grant.principal.id.resource_type = "team"
    empty_revoke = baton_pb2.Task(id=new_ksuid())
    empty_revoke.revoke.SetInParent()
    huge_type = grant_task("w" * 200_000 + "\x1b[2J\n", "r", "member", user)
    newer_type = kind_task("event_feed")
    cases = [no_payload, unknown_type, no_principal, team_principal, empty_revoke, huge_type, newer_type]
    for task in cases:
        stack.c1.enqueue(task)
    recorded = wait_finished(daemon, stack.c1, [t.id for t in cases], timeout=30)

    # A task without a payload this connector knows (none, or a type newer than its protos): "unsupported", retryable.
    assert_error(only_finish(recorded, no_payload.id), code=Code.UNKNOWN, non_retryable=False)
    assert_error(only_finish(recorded, newer_type.id), code=Code.UNKNOWN, non_retryable=False)
    # A resource type the connector lacks: refused before Datadog, naming the type.
    unknown = only_finish(recorded, unknown_type.id)
    assert_error(unknown, code=Code.UNIMPLEMENTED, non_retryable=True)
    assert "widget" in unknown.status.message
    # A grant or revoke missing its parts, or granting to a principal that cannot hold the entitlement: invalid.
    for task in (no_principal, empty_revoke):
        assert only_finish(recorded, task.id).status.code == Code.INVALID_ARGUMENT
    assert only_finish(recorded, team_principal.id).WhichOneof("final_state") == "error"
    # 200 KB of a peer's text: reported within bounds, inert (no terminal control reaches the wire or the log).
    huge = only_finish(recorded, huge_type.id)
    assert huge.WhichOneof("final_state") == "error"
    assert len(huge.status.message) <= 4096
    assert "\x1b" not in huge.status.message
    assert "\n" not in huge.status.message
    assert all(len(line) < 20_000 for line in daemon.log_lines()), "a peer's text made a log line of its size"
    assert "\x1b" not in daemon.output()
    # Nothing of the above touched Datadog's roles.
    assert user not in stack.dd.org.role_members.get(role, {})
    _no_traceback(daemon)
    assert daemon.alive()


def test_a_task_id_seen_before_is_run_again_and_reported_again(stack: Stack) -> None:
    """ConductorOne re-offers a finished task (its acceptance lost on its side): the task is idempotent in effect, and
    each offer gets its own FinishTask, never a silent drop."""
    daemon = stack.start(FAST)
    role, user = _role_and_user_without_it(stack.dd.org)
    task = grant_task("role", role, "member", user)
    stack.c1.enqueue(task)
    wait_finished(daemon, stack.c1, [task.id])
    stack.c1.enqueue(task)
    daemon.wait_for(
        lambda: len(stack.c1.recorded().finish_tasks.get(task.id, [])) == 2, timeout=ACT_TIMEOUT, what="2nd report"
    )
    for finish in stack.c1.recorded().finish_tasks[task.id]:
        assert_success(finish)
    assert user in stack.dd.org.role_members[role]
    _no_traceback(daemon)


@pytest.mark.parametrize("task_id", ["", "short", "x" * 1_000_000, "\x1b]0;owned\x07" + "a" * 20])
def test_a_task_with_an_id_no_report_can_carry_is_not_run_and_is_named_in_an_error_line(
    stack: Stack, task_id: str
) -> None:
    """Not run (the grant is not made), no FinishTask (ConductorOne would refuse the id), one error line naming it
    (escaped and cut), and the next task runs."""
    daemon = stack.start(FAST)
    role, user = _role_and_user_without_it(stack.dd.org)
    bad = grant_task("role", role, "member", user)
    bad.id = task_id
    stack.c1.enqueue(bad)
    daemon.wait_for(
        lambda: any("invalid task" in str(e.get("event")) for e in _errors(daemon)),
        timeout=ACT_TIMEOUT,
        what="the error line",
    )
    assert user not in stack.dd.org.role_members.get(role, {})
    good = grant_task("role", role, "member", user)
    stack.c1.enqueue(good)
    wait_finished(daemon, stack.c1, [good.id])
    assert set(stack.c1.recorded().finish_tasks) == {good.id}
    assert all(len(line) < 20_000 for line in daemon.log_lines())
    assert "\x1b" not in daemon.output()
    _no_traceback(daemon)


def test_a_task_holding_fields_unknown_to_this_version_is_run_as_the_fields_it_knows(stack: Stack) -> None:
    """Proto evolution: a newer ConductorOne adds fields; the task is read without them, not refused."""
    daemon = stack.start(FAST)
    role, user = _role_and_user_without_it(stack.dd.org)
    task = grant_task("role", role, "member", user)
    # GetTaskResponse.task is field 1: the task with an unknown field 999 inside it, and an unknown field 998 beside it.
    task_bytes = task.SerializeToString() + length_delimited(999, b"from the future")
    stack.c1.answer_raw("GetTask", length_delimited(1, task_bytes) + length_delimited(998, b"more"))
    wait_finished(daemon, stack.c1, [task.id])
    assert_success(only_finish(stack.c1.recorded(), task.id))
    assert user in stack.dd.org.role_members[role]
    _no_traceback(daemon)


REPORT_FAILURES = [
    (grpc.StatusCode.UNAVAILABLE, 3),
    (grpc.StatusCode.INTERNAL, 2),
    (grpc.StatusCode.UNKNOWN, 2),
    (grpc.StatusCode.DEADLINE_EXCEEDED, 1),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, 2),
    (grpc.StatusCode.ABORTED, 2),
    (grpc.StatusCode.CANCELLED, 1),
    (grpc.StatusCode.DATA_LOSS, 1),
    (grpc.StatusCode.PERMISSION_DENIED, 2),
    (grpc.StatusCode.UNIMPLEMENTED, 1),
    (grpc.StatusCode.UNAUTHENTICATED, 2),
    (grpc.StatusCode.NOT_FOUND, 2),
    (grpc.StatusCode.FAILED_PRECONDITION, 2),
    (grpc.StatusCode.INVALID_ARGUMENT, 1),
    (grpc.StatusCode.OUT_OF_RANGE, 1),
]


def test_a_grants_report_refused_with_any_status_a_few_times_still_arrives(stack: Stack) -> None:
    """The grant is done in Datadog; its report must reach ConductorOne whatever FinishTask answers meanwhile (short of
    ConductorOne saying the task is gone three times in a row)."""
    daemon = stack.start(FAST)
    role, user = _role_and_user_without_it(stack.dd.org)
    for code, times in REPORT_FAILURES:
        stack.c1.fail_next("FinishTask", code, times)
        task = grant_task("role", role, "member", user)
        stack.c1.enqueue(task)
        recorded = wait_finished(daemon, stack.c1, [task.id], timeout=30)
        assert_success(only_finish(recorded, task.id))
    assert user in stack.dd.org.role_members[role]
    _no_traceback(daemon)
    assert not [e for e in _errors(daemon) if "not reported" in str(e.get("event"))]


@pytest.mark.parametrize("method", ["GetTask", "Heartbeat"])
def test_polling_and_heartbeats_survive_every_status_code(stack: Stack, method: str) -> None:
    daemon = stack.start(FAST)
    codes = [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK]
    for code in codes:
        stack.c1.fail_next(method, code)
    role, user = _role_and_user_without_it(stack.dd.org)
    task = kind_task("sync_full") if method == "Heartbeat" else grant_task("role", role, "member", user)
    stack.c1.enqueue(task)
    recorded = wait_finished(daemon, stack.c1, [task.id], timeout=60)
    finish = only_finish(recorded, task.id)
    if method == "GetTask":
        assert_success(finish)
    else:
        # Nine heartbeats failing in a row cancel a sync (as Go does); fewer must not: sixteen codes, spread over a
        # sync of a second or two, end either way in one report.
        assert finish.WhichOneof("final_state") in ("success", "error")
    assert daemon.alive()
    _no_traceback(daemon)


def test_a_syncs_upload_refused_with_any_status_once_still_ends_in_one_report(stack: Stack) -> None:
    """The upload is retried on what a retry can help (its three attempts), and a refusal no retry helps fails the sync
    retryably, so ConductorOne runs it again: never a sync reported done without its file, never none at all."""
    daemon = stack.start(FAST)
    for code in (c for c in grpc.StatusCode if c is not grpc.StatusCode.OK):
        stack.c1.fail_next("UploadAsset", code)
        task = kind_task("sync_full")
        stack.c1.enqueue(task)
        finish = only_finish(wait_finished(daemon, stack.c1, [task.id], timeout=60), task.id)
        uploads = [u for u in stack.c1.recorded().uploads if u.task_id == task.id]
        if finish.WhichOneof("final_state") == "success":
            assert any(u.ok for u in uploads), code
        else:
            assert not finish.error.non_retryable, code
            assert "UploadAsset" in finish.status.message, (code, finish.status.message)
    assert daemon.alive()
    _no_traceback(daemon)


FATAL_AT_HELLO = {
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.NOT_FOUND,
}
"""docs/spec/service-mode.md §3.1: the codes on which Go gives up at start-up (UNAUTHENTICATED too, but only after the
client's one retry with a fresh token, which a single refusal never reaches)."""


@pytest.mark.parametrize("code", [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK], ids=lambda c: c.name)
def test_a_hello_refused_once_with_any_status_is_retried_or_ends_the_process_with_one_clear_line(
    stack: Stack, code: grpc.StatusCode
) -> None:
    stack.c1.fail_next("Hello", code)
    if code in FATAL_AT_HELLO:
        daemon = stack.run_to_exit(FAST)
        assert daemon.process.returncode == 1, daemon.tail()
        closing = daemon.stderr().splitlines()[-1]
        assert closing.startswith("baton-datadog: ConductorOne refused the connector"), daemon.tail()
        assert code.name in closing
    else:
        daemon = stack.start(FAST)  # ready: the Hello was retried
        assert len(stack.c1.recorded().hellos) == 1
    _no_traceback(daemon)
