"""Issue 11, the process: SIGTERM while each kind of task waits on a slow Datadog. Whatever was running gets its one
report before the process exits (0, within the grace and the report window), or, for work ConductorOne cannot hear
of, an error line naming the task; the daemon writes no traceback.

The kubelet's SIGTERM: readiness drops, in-flight work gets `BATON_SHUTDOWN_GRACE_SECONDS`, and whatever is still
running then is reported as a retryable failure (an issuance, which may have minted, as a final one)."""

from __future__ import annotations

import signal

import pytest
from google.protobuf import struct_pb2

from connector.baton.errors import Code
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.e2e.harness import ACT_TIMEOUT, Stack, assert_error, finishes
from tests.fakes.tasks import grant_task, revoke_task
from tests.independent.test_issue11_c1_tasks import _no_traceback, _role_and_user_without_it

pytestmark = pytest.mark.slow

GRACE = 1.0
REPORT_WINDOW = 5.0
"""What the daemon allows itself after the grace to report abandoned tasks (4 s, and a second for the stragglers)."""


def _disable(user_id: str) -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid())
    task.action_invoke.name = "disable_user"
    args = struct_pb2.Struct()
    args.update({"user_id": {"resource_type_id": "user", "resource_id": user_id}})
    task.action_invoke.args.CopyFrom(args)
    return task


def _create_account(email: str) -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid())
    task.create_account.account_info.profile.update({"email": email})
    return task


def _delete_api_key(key_id: str) -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid())
    task.delete_resource.resource_id.resource_type = "api-key"
    task.delete_resource.resource_id.resource = key_id
    return task


@pytest.mark.parametrize("kind", ["grant", "revoke", "disable_user", "create_account", "delete_resource"])
def test_sigterm_while_a_task_waits_on_datadog_reports_it_once_and_exits_zero(stack: Stack, kind: str) -> None:
    env = {
        "BATON_PROVISIONING": "true",
        "BATON_SHUTDOWN_GRACE_SECONDS": str(GRACE),
        "BATON_SYNC_SECRETS": "true",
        "BATON_ALLOW_ORG_API_KEY_DELETION": "true",
    }
    daemon = stack.start(env)
    role, user = _role_and_user_without_it(stack.dd.org)
    task = {
        "grant": lambda: grant_task("role", role, "member", user),
        "revoke": lambda: revoke_task("role", role, "member", user),
        "disable_user": lambda: _disable(user),
        "create_account": lambda: _create_account("sigterm.newcomer@example.com"),
        "delete_resource": lambda: _delete_api_key(next(iter(stack.dd.org.api_keys))),
    }[kind]()
    stack.dd.faults.latency = 30.0  # every request from now on: far longer than the grace
    stack.c1.enqueue(task)
    daemon.wait_for(lambda: daemon.events("task started"), timeout=ACT_TIMEOUT, what="the task to start")
    daemon.wait_for(lambda: stack.dd.requests(), timeout=ACT_TIMEOUT, what="its first Datadog request")

    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait_exit(GRACE + REPORT_WINDOW + 5) == 0, daemon.tail()
    (finish,) = finishes(stack.c1, task.id)
    assert_error(finish, code=Code.UNAVAILABLE, non_retryable=False)
    assert "shutting down" in finish.status.message
    assert daemon.events("task not reported to ConductorOne") == []
    _no_traceback(daemon)
