"""A write that reached Datadog and was answered with a success status (200, 202, 204) whose answer cannot be read as
the change done: a 204 where Datadog sends the role's users or the membership, an empty object, a page that is not
JSON. The change may well have been made (here it was: the fake made it), so the failure must say so, as it does for
a write whose answer was lost; it said only "unexpected response", and ConductorOne and the operator read a grant
or a revoke that had not happened. A read failing before any write (nothing was sent) still says nothing of the kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.datadog.errors import MAY_HAVE_LANDED, SUCCESS_UNSHOWN
from tests.fakes.datadog import FakeDatadog
from tests.fakes.tasks import grant_task, revoke_task
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import (
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
from tests.independent.writes.tasks import action_task, delete_task
from tests.independent.writes.wire import Action, landed_then

EMPTY = landed_then(204, b"", None)
API_KEY = r"/api/v2/api_keys/[^/]+"
NOT_JSON = landed_then(200, b"<html><body>OK</body></html>", "text/html")
NO_DATA = landed_then(200, b"{}")
ACCEPTED = landed_then(202, b"")

# (method, path, task, what Datadog holds once the write landed)
Case = Callable[[FakeDatadog], tuple[str, str, baton_pb2.Task, Callable[[], bool]]]


def role_grant(fake: FakeDatadog) -> tuple[str, str, baton_pb2.Task, Callable[[], bool]]:
    role, user = new_role(fake), human(fake)
    return "POST", ROLE_USERS, grant_task("role", role.id, "member", user.id), lambda: holds_role(fake, role, user)


def role_revoke(fake: FakeDatadog) -> tuple[str, str, baton_pb2.Task, Callable[[], bool]]:
    role, user = new_role(fake), human(fake)
    fake.org.assign_role(user.id, role.id)
    return (
        "DELETE",
        ROLE_USERS,
        revoke_task("role", role.id, "member", user.id),
        lambda: not holds_role(fake, role, user),
    )


def member_grant(fake: FakeDatadog) -> tuple[str, str, baton_pb2.Task, Callable[[], bool]]:
    team, user = new_team(fake), human(fake)
    return "POST", MEMBERSHIPS, grant_task("team", team.id, "member", user.id), lambda: user.id in team.members


def admin_promotion(fake: FakeDatadog) -> tuple[str, str, baton_pb2.Task, Callable[[], bool]]:
    user = human(fake)
    team = new_team(fake, {user.id: None})
    return (
        "PATCH",
        MEMBERSHIP,
        grant_task("team", team.id, "admin", user.id),
        lambda: team.members[user.id].role == "admin",
    )


def admin_demotion(fake: FakeDatadog) -> tuple[str, str, baton_pb2.Task, Callable[[], bool]]:
    user = human(fake)
    team = new_team(fake, {user.id: "admin"})
    return (
        "PATCH",
        MEMBERSHIP,
        revoke_task("team", team.id, "admin", user.id),
        lambda: team.members[user.id].role is None,
    )


def member_removal(fake: FakeDatadog) -> tuple[str, str, baton_pb2.Task, Callable[[], bool]]:
    user = human(fake)
    team = new_team(fake, {user.id: None})
    return "DELETE", MEMBERSHIP, revoke_task("team", team.id, "member", user.id), lambda: user.id not in team.members


def disable(fake: FakeDatadog) -> tuple[str, str, baton_pb2.Task, Callable[[], bool]]:
    user = human(fake)
    return "DELETE", USER, action_task("disable_user", user.id), lambda: user.disabled


def enable(fake: FakeDatadog) -> tuple[str, str, baton_pb2.Task, Callable[[], bool]]:
    user = human(fake)
    fake.org.update_user(user, disabled=True)
    return "PATCH", USER, action_task("enable_user", user.id), lambda: not user.disabled


def update(fake: FakeDatadog) -> tuple[str, str, baton_pb2.Task, Callable[[], bool]]:
    user = human(fake)
    return "PATCH", USER, action_task("update_user", user.id, title="Auditor"), lambda: user.title == "Auditor"


def api_key_deletion(fake: FakeDatadog) -> tuple[str, str, baton_pb2.Task, Callable[[], bool]]:
    key_id = next(iter(fake.org.api_keys))
    return "DELETE", API_KEY, delete_task("api-key", key_id), lambda: key_id not in fake.org.api_keys


CASES: dict[str, tuple[Case, Action]] = {
    "role-grant-204": (role_grant, EMPTY),
    "role-grant-202": (role_grant, ACCEPTED),
    "role-revoke-204": (role_revoke, EMPTY),
    "role-revoke-html": (role_revoke, NOT_JSON),
    "member-grant-204": (member_grant, EMPTY),
    "admin-promotion-204": (admin_promotion, EMPTY),
    "admin-demotion-no-data": (admin_demotion, NO_DATA),
    "member-removal-html": (member_removal, NOT_JSON),
    "disable-html": (disable, NOT_JSON),
    "enable-204": (enable, EMPTY),
    "update-no-data": (update, NO_DATA),
    # A credential's deletion (how ConductorOne revokes one) goes through the same words.
    "api-key-deletion-html": (api_key_deletion, NOT_JSON),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_write_answered_2xx_unreadably_is_reported_failed_saying_it_may_have_been_made(
    rig: Rig, case: str, logs: list[Any]
) -> None:
    build, action = CASES[case]
    method, path, task, made = build(rig.fake)
    rig.wire.on(method, path, action)
    finish = await rig.run(task)
    assert made(), "the write was meant to land in Datadog"
    # An action's failure is final unless it passes (spec §3.4; tests/independent/tasks2/test_action_retries.py).
    assert not finish.ok if task.HasField("action_invoke") else failed_for_good(finish), finish
    assert SUCCESS_UNSHOWN in finish.message, finish.message
    if task.HasField("revoke") or task.HasField("delete_resource") or task.action_invoke.name == "disable_user":
        # The failed revoke's (or offboarding's) line names the access as maybe still held, not as surely left in place.
        failed = [e for e in logs if e.get("event") == "task failed"]
        assert failed
        assert "may_be_live" in failed[-1], failed
        assert "left_live" not in failed[-1], failed


async def test_a_read_refused_before_any_write_does_not_say_the_change_may_have_been_made(rig: Rig) -> None:
    role, user = new_role(rig.fake), human(rig.fake)
    rig.wire.on("GET", USER, landed_then(200, b"{}"))
    finish = await rig.run(grant_task("role", role.id, "member", user.id))
    assert failed_for_good(finish), finish
    assert MAY_HAVE_LANDED not in finish.message, finish.message
    assert SUCCESS_UNSHOWN not in finish.message, finish.message
    assert rig.wire.reached("POST", ROLE_USERS) == 0
    assert not holds_role(rig.fake, role, user)
