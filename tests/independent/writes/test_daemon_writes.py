"""The write paths' defects found by this suite, end to end: the real daemon process against the fake ConductorOne
(gRPC over TLS) and the fake Datadog answering one write as a gateway or stub would. ConductorOne must hear a
non-retryable failure, Datadog must still hold the access, and the same task offered again must then do it."""

from __future__ import annotations

import pytest

from connector.baton.errors import Code
from tests.e2e.harness import Stack, assert_error, assert_success, only_finish, wait_finished
from tests.fakes.tasks import revoke_task

pytestmark = pytest.mark.slow

FAST = {"BATON_PROVISIONING": "true", "BATON_BACKOFF_SCALE": "0.01"}


@pytest.mark.parametrize("mode", ["gateway-ok", "accepted"])
def test_a_revoke_answered_by_a_gateway_is_a_failure_until_datadog_itself_answers(stack: Stack, mode: str) -> None:
    daemon = stack.start(FAST)
    org = stack.dd.org
    team = next(t for t in org.teams.values() if t.members)
    user_id = next(iter(team.members))
    stack.dd.faults.hostile(mode, path=f"/api/v2/team/{team.id}/memberships/", method="DELETE")

    first = revoke_task("team", team.id, "member", user_id)
    stack.c1.enqueue(first)
    assert_error(
        only_finish(wait_finished(daemon, stack.c1, [first.id]), first.id), code=Code.INTERNAL, non_retryable=True
    )
    assert user_id in team.members, "Datadog never saw the removal"

    again = revoke_task("team", team.id, "member", user_id)
    stack.c1.enqueue(again)
    assert_success(only_finish(wait_finished(daemon, stack.c1, [again.id]), again.id))
    assert user_id not in team.members
    assert "Traceback" not in daemon.output()
