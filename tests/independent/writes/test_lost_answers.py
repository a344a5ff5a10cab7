"""A write whose answer is lost after the request reached Datadog (the connection reset, a timeout, a gateway's 502),
and a rate limit or an outage in the middle of a task. What the retry does decides the report: no second grant, no
revoke reported done that was not, no "already so" for what the lost attempt itself did, and nothing reported done
that Datadog never answered."""

from __future__ import annotations

import httpx
import pytest

from connector.baton.errors import Code
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.fakes.tasks import grant_task, revoke_task
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import (
    ALREADY_EXISTS,
    ALREADY_REVOKED,
    MEMBERSHIP,
    MEMBERSHIPS,
    ROLE_USERS,
    USER,
    failed_for_good,
    holds_role,
    human,
    new_role,
    new_team,
)
from tests.independent.writes.tasks import action_task
from tests.independent.writes.wire import answer, landed_then, landed_then_lost

LOSSES = {
    "reset": landed_then_lost(httpx.RemoteProtocolError),
    "read-timeout": landed_then_lost(httpx.ReadTimeout),
    "502": landed_then(502, b"<html>502 Bad Gateway</html>", "text/html"),
    "503": landed_then(503, {"errors": ["Service Unavailable"]}),
}


@pytest.mark.parametrize("loss", list(LOSSES))
async def test_a_role_grant_whose_answer_is_lost_is_granted_once_and_reported_as_a_change(rig: Rig, loss: str) -> None:
    role, user = new_role(rig.fake), human(rig.fake)
    rig.wire.on("POST", ROLE_USERS, LOSSES[loss])
    finish = await rig.run(grant_task("role", role.id, "member", user.id))
    assert finish.ok, finish
    assert ALREADY_EXISTS not in finish.annotation_types
    assert holds_role(rig.fake, role, user)


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("slug", ["member", "admin"])
async def test_a_team_grant_whose_answer_is_lost_is_reported_as_a_change(rig: Rig, loss: str, slug: str) -> None:
    team, user = new_team(rig.fake), human(rig.fake)
    rig.wire.on("POST", MEMBERSHIPS, LOSSES[loss])
    finish = await rig.run(grant_task("team", team.id, slug, user.id))
    assert finish.ok, finish
    assert ALREADY_EXISTS not in finish.annotation_types
    assert team.members[user.id].role == ("admin" if slug == "admin" else None)
    assert len([m for m in team.members.values() if m.user_id == user.id]) == 1


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize(("kind", "method", "path"), [("role", "DELETE", ROLE_USERS), ("team", "DELETE", MEMBERSHIP)])
async def test_a_revoke_whose_answer_is_lost_is_reported_revoked_not_already_revoked(
    rig: Rig, loss: str, kind: str, method: str, path: str
) -> None:
    user = human(rig.fake)
    role, team = new_role(rig.fake), new_team(rig.fake, {user.id: None})
    rig.fake.org.assign_role(user.id, role.id)
    rig.wire.on(method, path, LOSSES[loss])
    finish = await rig.run(revoke_task(kind, role.id if kind == "role" else team.id, "member", user.id))
    assert finish.ok, finish
    assert ALREADY_REVOKED not in finish.annotation_types
    if kind == "role":
        assert not holds_role(rig.fake, role, user)
    else:
        assert user.id not in team.members


async def test_a_revoke_whose_every_answer_is_lost_is_a_failure_never_a_success(rig: Rig) -> None:
    """The removal never reaches Datadog and no answer arrives: the access is held, and the report must say so."""
    user = human(rig.fake)
    team = new_team(rig.fake, {user.id: None})
    rig.wire.on("DELETE", MEMBERSHIP, answer(503, {"errors": ["Service Unavailable"]}), times=100)
    finish = await rig.run(revoke_task("team", team.id, "member", user.id))
    assert failed_for_good(finish, Code.UNAVAILABLE), finish
    assert user.id in team.members


async def test_a_disable_whose_answer_is_lost_is_reported_done_not_already_disabled(rig: Rig) -> None:
    user = human(rig.fake)
    rig.wire.on("DELETE", USER, landed_then_lost(httpx.ReadTimeout))
    finish = await rig.run(action_task("disable_user", user.id))
    assert finish.ok, finish
    assert rig.fake.org.users[user.id].disabled


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_a_rate_limit_or_outage_mid_grant_ends_in_one_clear_outcome(rig: Rig, status: int) -> None:
    """The user read succeeds, then the add meets one 429 / 5xx: it is waited out or retried, and the role is granted
    once; a 429 is not a lost answer (Datadog did not act), so a second add's 200 is an ordinary change."""
    role, user = new_role(rig.fake), human(rig.fake)
    rig.fake.faults.force(status, path=f"/api/v2/roles/{role.id}/users", method="POST", reset=0)
    finish = await rig.run(grant_task("role", role.id, "member", user.id))
    assert finish.ok, finish
    assert holds_role(rig.fake, role, user)
    assert rig.fake.count("POST", "/api/v2/roles/{role_id}/users") >= 1


async def test_a_long_rate_limit_mid_revoke_fails_the_revoke_and_leaves_it_unreported_as_done(rig: Rig) -> None:
    user = human(rig.fake)
    team = new_team(rig.fake, {user.id: "admin"})
    rig.wire.on(
        "PATCH",
        MEMBERSHIP,
        answer(429, {"errors": ["Too many requests"]}),
        times=1,
    )
    rig.fake.faults.force(429, path=f"/api/v2/team/{team.id}/memberships/", method="PATCH", reset=3600, times=5)
    finish = await rig.run(revoke_task("team", team.id, "admin", user.id))
    assert failed_for_good(finish), finish
    assert team.members[user.id].role == "admin"


INVITATIONS = r"/api/v2/user_invitations"
USERS = r"/api/v2/users"


def _account_task(email: str) -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid())
    task.create_account.resource_type_id = "user"
    task.create_account.account_info.profile.update({"email": email, "name": "Jane Doe"})
    return task


async def test_an_account_whose_create_answer_is_lost_is_not_reported_created_nor_invited(rig: Rig) -> None:
    """POST /api/v2/users is never resent (a create is not idempotent): the user may exist, nobody is invited, and the
    failure says both, so whoever reads it invites the user by hand."""
    rig.wire.on("POST", USERS, landed_then_lost(httpx.ReadTimeout))
    finish = await rig.run(_account_task("jane.lost@example.com"))
    assert failed_for_good(finish), finish
    assert "may have been created" in finish.message
    assert "no invitation was sent" in finish.message
    assert rig.wire.reached("POST", USERS) == 1
    assert rig.wire.reached("POST", INVITATIONS) == 0


async def test_an_account_whose_invitation_answer_is_lost_is_not_invited_twice(rig: Rig) -> None:
    rig.wire.on("POST", INVITATIONS, landed_then_lost(httpx.RemoteProtocolError))
    finish = await rig.run(_account_task("jane.invited@example.com"))
    assert failed_for_good(finish), finish
    assert "may not have been sent" in finish.message, "the email may well have gone out"
    assert rig.wire.reached("POST", INVITATIONS) == 1, "an invitation is never sent twice"
    assert rig.fake.org.user_by_email("jane.invited@example.com") is not None


async def test_the_same_account_delivered_twice_creates_one_user_and_one_invitation(rig: Rig) -> None:
    task = _account_task("jane.twice@example.com")
    first = await rig.run(task)
    second = await rig.run(task)
    assert first.ok, first
    assert failed_for_good(second, Code.ALREADY_EXISTS), second
    assert rig.wire.reached("POST", INVITATIONS) == 1


async def test_an_enable_whose_answer_is_lost_is_reported_done(rig: Rig) -> None:
    user = human(rig.fake)
    rig.fake.org.update_user(user, disabled=True)
    rig.wire.on("PATCH", USER, landed_then_lost(httpx.ReadTimeout))
    finish = await rig.run(action_task("enable_user", user.id))
    assert finish.ok, finish
    assert not rig.fake.org.users[user.id].disabled
