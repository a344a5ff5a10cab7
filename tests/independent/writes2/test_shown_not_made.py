"""A write Datadog answers with a success status whose answer shows the change NOT made (the role's users still naming
the user after a removal, the user still enabled after a disable, a field otherwise than asked after an update, the
membership of the other of Datadog's two roles, a whole list of the role's users without the user after an addition).
The client refuses it for what it shows: a plain failure, the access left live. The note for a 2xx that only fails to
show the change (SUCCESS_UNSHOWN, tests/independent/writes2/test_unreadable_success.py) was added to these too (review
r1201): "Datadog may have made the change all the same" and `may_be_live`, of a user Datadog's own answer shows
enabled (a wording an earlier review ruled wrong)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from connector.datadog.errors import MAY_HAVE_LANDED, SUCCESS_UNSHOWN
from tests.fakes.tasks import grant_task, revoke_task
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import (
    MEMBERSHIP,
    ROLE_USERS,
    USER,
    failed_for_good,
    holds_role,
    human,
    new_role,
    new_team,
    role_users_answer,
)
from tests.independent.writes.tasks import action_task
from tests.independent.writes.wire import Wire, answer


def _failed_line(logs: list[Any]) -> dict[str, Any]:
    failed = [e for e in logs if e.get("event") == "task failed"]
    assert failed
    return dict(failed[-1])


def _plain(message: str) -> None:
    assert SUCCESS_UNSHOWN not in message, message
    assert MAY_HAVE_LANDED not in message, message
    assert "may have" not in message, message


def _left_live(logs: list[Any]) -> None:
    line = _failed_line(logs)
    assert "left_live" in line, line
    assert "may_be_live" not in line, line


def _user_body(user_id: str, **attributes: Any) -> dict[str, Any]:
    return {"data": {"type": "users", "id": user_id, "attributes": attributes}}


async def test_a_disable_answered_200_showing_the_user_enabled_is_a_plain_failure(rig: Rig, logs: list[Any]) -> None:
    """Datadog's answer to the DELETE shows the user still enabled (the request never took): the account is left
    live, not "may have been disabled"."""
    user = human(rig.fake)
    rig.wire.on("DELETE", USER, answer(200, _user_body(user.id, disabled=False, status="Active")))
    finish = await rig.run(action_task("disable_user", user.id))
    assert not user.disabled
    assert failed_for_good(finish), finish
    assert "shows the user not disabled" in finish.message, finish.message
    _plain(finish.message)
    _left_live(logs)


async def test_a_role_revoke_answered_200_still_listing_the_user_is_a_plain_failure(rig: Rig, logs: list[Any]) -> None:
    """The removal's answer is the role's users, still naming the user: the revoke is shown not made."""
    role, user = new_role(rig.fake), human(rig.fake)
    rig.fake.org.assign_role(user.id, role.id)
    listed = role_users_answer(user, role.id, filtered=True, disabled=False, status="Active")
    rig.wire.on("DELETE", ROLE_USERS, answer(200, listed))
    finish = await rig.run(revoke_task("role", role.id, "member", user.id))
    assert holds_role(rig.fake, role, user)
    assert failed_for_good(finish), finish
    assert "still lists the user" in finish.message, finish.message
    _plain(finish.message)
    _left_live(logs)


async def test_a_role_revoke_answered_202_still_listing_the_user_may_yet_be_made(rig: Rig, logs: list[Any]) -> None:
    """Under a 202 (accepted, not completed) the list may be the role's users from before the change: the status is
    the failure, and the change may come all the same."""
    role, user = new_role(rig.fake), human(rig.fake)
    rig.fake.org.assign_role(user.id, role.id)
    listed = role_users_answer(user, role.id)
    rig.wire.on("DELETE", ROLE_USERS, answer(202, listed))
    finish = await rig.run(revoke_task("role", role.id, "member", user.id))
    assert failed_for_good(finish), finish
    assert "HTTP 202 is no completed change" in finish.message, finish.message
    assert SUCCESS_UNSHOWN in finish.message, finish.message
    assert "may_be_live" in _failed_line(logs)


async def test_a_role_grant_answered_with_the_whole_list_without_the_user_is_a_plain_failure(rig: Rig) -> None:
    """The addition's answer is all of the role's users (none), without the user: the grant is shown not made."""
    role, user = new_role(rig.fake), human(rig.fake)
    rig.wire.on("POST", ROLE_USERS, answer(200, {"data": [], "meta": {"page": {"total_count": 0}}}))
    finish = await rig.run(grant_task("role", role.id, "member", user.id))
    assert not holds_role(rig.fake, role, user)
    assert failed_for_good(finish), finish
    assert "without the user" in finish.message, finish.message
    _plain(finish.message)


async def test_an_update_answered_with_the_field_unchanged_is_a_plain_failure(rig: Rig) -> None:
    """update_user's answer is the user, its name otherwise than asked: the update is shown not made."""
    user = human(rig.fake)
    body = _user_body(user.id, name="Someone Else", email=user.email, status="Active", disabled=False)
    rig.wire.on("PATCH", USER, answer(200, body))
    finish = await rig.run(action_task("update_user", user.id, name="New Name"))
    assert failed_for_good(finish), finish
    assert "the answer shows name not changed as asked" in finish.message, finish.message
    _plain(finish.message)


async def test_an_enable_answered_with_the_user_still_disabled_is_a_plain_failure(rig: Rig) -> None:
    user = human(rig.fake)
    rig.fake.org.update_user(user, disabled=True)
    body = _user_body(user.id, email=user.email, status="Disabled", disabled=True)
    rig.wire.on("PATCH", USER, answer(200, body))
    finish = await rig.run(action_task("enable_user", user.id))
    assert user.disabled
    assert failed_for_good(finish), finish
    assert "not changed as asked" in finish.message, finish.message
    _plain(finish.message)


async def test_a_demotion_answered_with_the_membership_still_admin_is_a_plain_failure(
    rig: Rig, logs: list[Any]
) -> None:
    """The demotion's answer is the membership, its role still Datadog's "admin": the admin revoke is shown not made,
    the admin left live."""
    user = human(rig.fake)
    team = new_team(rig.fake, {user.id: "admin"})

    async def kept_admin(request: httpx.Request, wire: Wire) -> httpx.Response:
        status, body = await wire.forward(request)
        team.members[user.id].role = "admin"  # Datadog kept the admin (the fake's own answer, edited to say so)
        document = json.loads(body)
        document["data"]["attributes"]["role"] = "admin"
        return httpx.Response(status, json=document)

    rig.wire.on("PATCH", MEMBERSHIP, kept_admin)
    finish = await rig.run(revoke_task("team", team.id, "admin", user.id))
    assert team.members[user.id].role == "admin"
    assert failed_for_good(finish), finish
    assert "the membership's role is admin, not the member asked for" in finish.message, finish.message
    _plain(finish.message)
    _left_live(logs)


async def test_a_demotion_answered_with_a_role_datadog_never_sends_may_have_been_made(rig: Rig) -> None:
    """A role that is none of Datadog's two ("Admin") is no word of Datadog's on the change: still a failure that says
    the change may have been made (the fake made it here)."""
    user = human(rig.fake)
    team = new_team(rig.fake, {user.id: "admin"})

    async def odd_role(request: httpx.Request, wire: Wire) -> httpx.Response:
        status, body = await wire.forward(request)
        document = json.loads(body)
        document["data"]["attributes"]["role"] = "Admin"
        return httpx.Response(status, json=document)

    rig.wire.on("PATCH", MEMBERSHIP, odd_role)
    finish = await rig.run(revoke_task("team", team.id, "admin", user.id))
    assert team.members[user.id].role is None
    assert failed_for_good(finish), finish
    assert SUCCESS_UNSHOWN in finish.message, finish.message
