"""The process under SIGTERM while a revoke's DELETE waits on a slow Datadog: exit 0, the revoke reported once saying
its change may have been made, and the last log line the closing `stopped`, counting no lost report."""

from __future__ import annotations

import signal

import pytest

from connector.baton.errors import Code
from connector.baton.tasks.processor import STOPPED_MID_WRITE
from tests.e2e.harness import ACT_TIMEOUT, Stack, assert_error, finishes
from tests.fakes.tasks import revoke_task
from tests.independent.test_issue11_c1_tasks import _role_and_user_without_it

pytestmark = pytest.mark.slow

GRACE = 1.0


def test_sigterm_while_a_revoke_awaits_datadog_reports_it_may_be_made_and_closes_on_stopped(stack: Stack) -> None:
    daemon = stack.start({"BATON_PROVISIONING": "true", "BATON_SHUTDOWN_GRACE_SECONDS": str(GRACE)})
    role, user = _role_and_user_without_it(stack.dd.org)
    stack.dd.org.assign_role(user, role)
    task = revoke_task("role", role, "member", user)
    stack.dd.faults.latency = 30.0  # far longer than the grace
    stack.c1.enqueue(task)
    daemon.wait_for(lambda: daemon.events("task started"), timeout=ACT_TIMEOUT, what="the revoke to start")

    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait_exit(GRACE + 10) == 0, daemon.tail()
    (finish,) = finishes(stack.c1, task.id)
    assert_error(finish, code=Code.UNAVAILABLE, non_retryable=False)
    assert STOPPED_MID_WRITE in finish.status.message
    events = daemon.events()
    assert events[-1]["event"] == "stopped", daemon.tail()
    assert (events[-1]["level"], events[-1]["tasks_unreported"]) == ("info", 0)
    (failed,) = daemon.events("task failed")
    assert failed["level"] == "error"  # a revoke's failure is the security engineer's line
    assert STOPPED_MID_WRITE in failed["error"]
