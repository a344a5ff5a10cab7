"""Grant and revoke tasks end to end: Datadog really changes, ConductorOne hears exactly what changed.

The state checks read the fake Datadog's org directly, so a task reported done while access is unchanged
(or the reverse) fails here, whatever the connector believes.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import any_pb2
from google.protobuf.message import Message

from connector.baton.errors import Code
from connector.baton.pb.c1.connector.v2 import annotation_grant_pb2, grant_pb2
from tests.e2e.harness import FinishRequest, Stack, assert_error, assert_success, only_finish, wait_finished
from tests.fakes.datadog import Org
from tests.fakes.tasks import grant_id, grant_task, revoke_task

PROVISIONING = {"BATON_PROVISIONING": "true"}
GRANT_RESPONSE = "type.googleapis.com/c1.connector.v2.GrantManagerServiceGrantResponse"
REVOKE_RESPONSE = "type.googleapis.com/c1.connector.v2.GrantManagerServiceRevokeResponse"


def _role_and_user_without_it(org: Org) -> tuple[str, str]:
    role = next(r for r in org.roles.values() if not r.managed)
    user = next(u for u in org.users.values() if u.status == "Active" and role.id not in u.role_ids)
    return role.id, user.id


def _grant_response(finish: FinishRequest) -> grant_pb2.GrantManagerServiceGrantResponse:
    assert finish.success.response.type_url == GRANT_RESPONSE
    response = grant_pb2.GrantManagerServiceGrantResponse()
    assert finish.success.response.Unpack(response)
    return response


def _has(annotations: Iterable[any_pb2.Any], kind: type[Message]) -> bool:
    return any(a.TypeName() == kind.DESCRIPTOR.full_name for a in annotations)


def test_role_grant_repeat_and_revoke(stack: Stack) -> None:
    c1, org = stack.c1, stack.dd.org
    role_id, user_id = _role_and_user_without_it(org)
    expected_id = grant_id("role", role_id, "member", user_id)
    daemon = stack.start(PROVISIONING)

    # Grant: the user gets the role in Datadog, and the response names the grant as the syncer would.
    first = grant_task("role", role_id, "member", user_id)
    c1.enqueue(first)
    finish = only_finish(wait_finished(daemon, c1, [first.id]), first.id)
    assert_success(finish)
    assert role_id in org.users[user_id].role_ids
    response = _grant_response(finish)
    assert [g.id for g in response.grants] == [expected_id]
    assert response.grants[0].principal.id.resource == user_id
    assert response.grants[0].entitlement.id == f"role:{role_id}:member"
    assert not _has(finish.success.annotations, annotation_grant_pb2.GrantAlreadyExists), "it was a new grant"

    # The same grant again: still a success, marked as already there, and the role is held once.
    again = grant_task("role", role_id, "member", user_id)
    c1.enqueue(again)
    finish = only_finish(wait_finished(daemon, c1, [again.id]), again.id)
    assert_success(finish)
    assert _has(finish.success.annotations, annotation_grant_pb2.GrantAlreadyExists)
    assert [g.id for g in _grant_response(finish).grants] == [expected_id]
    assert org.users[user_id].role_ids.count(role_id) == 1

    # Revoke: the role is gone in Datadog.
    revoke = revoke_task("role", role_id, "member", user_id)
    c1.enqueue(revoke)
    finish = only_finish(wait_finished(daemon, c1, [revoke.id]), revoke.id)
    assert_success(finish)
    assert finish.success.response.type_url == REVOKE_RESPONSE
    assert role_id not in org.users[user_id].role_ids
    assert user_id not in org.role_members[role_id]
    assert not _has(finish.success.annotations, annotation_grant_pb2.GrantAlreadyRevoked)

    # Revoking again changes nothing and says so.
    revoke_again = revoke_task("role", role_id, "member", user_id)
    c1.enqueue(revoke_again)
    finish = only_finish(wait_finished(daemon, c1, [revoke_again.id]), revoke_again.id)
    assert_success(finish)
    assert _has(finish.success.annotations, annotation_grant_pb2.GrantAlreadyRevoked)

    daemon.wait_no_task_in_flight()  # a task is counted once FinishTask's answer is back, after the fake recorded it
    assert daemon.metric("baton_datadog_tasks_finished_total", type="grant", outcome="success") == 2
    assert daemon.metric("baton_datadog_tasks_finished_total", type="revoke", outcome="success") == 2


def test_team_admin_revoke_demotes_to_member(stack: Stack) -> None:
    c1, org = stack.c1, stack.dd.org
    team, user_id = next((t, uid) for t in org.teams.values() for uid, m in t.members.items() if m.role == "admin")
    members_before = set(team.members)
    daemon = stack.start(PROVISIONING)

    task = revoke_task("team", team.id, "admin", user_id)
    c1.enqueue(task)
    finish = only_finish(wait_finished(daemon, c1, [task.id]), task.id)
    assert_success(finish)
    assert finish.success.response.type_url == REVOKE_RESPONSE
    assert user_id in team.members, "revoking admin must not remove the team membership"
    assert team.members[user_id].role is None, "the admin must be demoted to member"
    assert set(team.members) == members_before, "no other membership changes"


def test_without_provisioning_grants_and_revokes_fail_for_good(stack: Stack) -> None:
    c1, dd = stack.c1, stack.dd
    org = dd.org
    role_id, user_id = _role_and_user_without_it(org)
    holder = next(u for u in org.users.values() if role_id in u.role_ids)
    daemon = stack.start({"BATON_PROVISIONING": None})

    grant = grant_task("role", role_id, "member", user_id)
    revoke = revoke_task("role", role_id, "member", holder.id)
    c1.enqueue(grant)
    c1.enqueue(revoke)
    recorded = wait_finished(daemon, c1, [grant.id, revoke.id])
    for task in (grant, revoke):
        finish = only_finish(recorded, task.id)
        assert_error(finish, code=Code.FAILED_PRECONDITION, non_retryable=True)
        assert "provisioning" in finish.status.message.lower(), finish.status.message
    assert role_id not in org.users[user_id].role_ids
    assert role_id in holder.role_ids
    assert [r for r in dd.requests() if r.method != "GET"] == [], "nothing may be written to Datadog"
    daemon.wait_no_task_in_flight()  # a task is counted once FinishTask's answer is back, after the fake recorded it
    assert daemon.metric("baton_datadog_tasks_finished_total", type="grant", outcome="failed_final") == 1


def test_a_grant_and_a_revoke_of_the_same_access_offered_together_end_in_the_order_given(stack: Stack) -> None:
    """ConductorOne hands out a grant, then at once a revoke of the same role for the same user (a just-in-time window
    closed early). Both run in their own task slots; the revoke must act after the grant, as ConductorOne ordered them.
    They ran side by side: with Datadog answering in 1 s, the revoke's removal arrived while the grant was still
    reading the user, found nothing to remove ("already revoked"), and the grant's add then landed: the user kept the
    role, and ConductorOne was told it was revoked."""
    c1, org = stack.c1, stack.dd.org
    role_id, user_id = _role_and_user_without_it(org)
    daemon = stack.start(PROVISIONING)
    stack.dd.faults.latency = 1.0
    grant = grant_task("role", role_id, "member", user_id)
    revoke = revoke_task("role", role_id, "member", user_id)
    c1.enqueue(grant)
    c1.enqueue(revoke)
    recorded = wait_finished(daemon, c1, [grant.id, revoke.id], timeout=30.0)
    assert_success(only_finish(recorded, grant.id))
    revoked = only_finish(recorded, revoke.id)
    assert_success(revoked)
    assert not _has(revoked.success.annotations, annotation_grant_pb2.GrantAlreadyRevoked), "the grant came first"
    assert role_id not in org.users[user_id].role_ids, "the revoke was the last word, yet the user holds the role"
