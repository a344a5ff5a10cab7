"""A team admin revoke whose demotion Datadog answers 404 ("not a member") just after the connector's own read showed
the user as the team's admin. The 404 was taken as "already revoked" on its word alone, its read ignored: the revoke
was reported GrantAlreadyRevoked with the user still admin. Only a second read tells a membership removed meanwhile
(a concurrent revoke: already revoked, true) from a 404 Datadog gave for a membership that is there (the revoke not
made: a failure saying so). The read before a demotion that finds no admin (the usual "already revoked") costs no
second read (docs/benchmarks.md pins its requests). And an offboarding whose DELETE Datadog answers 404 for a user
its read then shows active: reported as "not found" (code NOT_FOUND) of a user that is there."""

from __future__ import annotations

import httpx

from connector.baton.errors import Code
from tests.fakes.tasks import revoke_task
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import (
    ALREADY_REVOKED,
    MEMBERSHIP,
    MEMBERSHIPS,
    USER,
    failed_for_good,
    human,
    new_team,
)
from tests.independent.writes.tasks import action_task
from tests.independent.writes.wire import Wire, answer


def _not_a_member(user_id: str, team_id: str) -> dict[str, list[str]]:
    return {"errors": [f"User {user_id} is not a member of Team {team_id}"]}


async def test_a_demotion_answered_404_for_an_admin_datadog_still_shows_is_not_already_revoked(rig: Rig) -> None:
    user = human(rig.fake)
    team = new_team(rig.fake, {user.id: "admin"})
    rig.wire.on("PATCH", MEMBERSHIP, answer(404, _not_a_member(user.id, team.id)))
    finish = await rig.run(revoke_task("team", team.id, "admin", user.id))
    assert team.members[user.id].role == "admin"
    assert failed_for_good(finish), finish
    assert ALREADY_REVOKED not in finish.annotation_types
    assert "still shows the user admin" in finish.message, finish.message


async def test_a_demotion_answered_404_after_a_concurrent_removal_is_already_revoked(rig: Rig) -> None:
    user = human(rig.fake)
    team = new_team(rig.fake, {user.id: "admin"})

    async def removed_meanwhile(request: httpx.Request, wire: Wire) -> httpx.Response:
        # Another task removed the membership between the read and the demotion: Datadog's 404 is the truth.
        del team.members[user.id]
        return httpx.Response(404, json=_not_a_member(user.id, team.id))

    rig.wire.on("PATCH", MEMBERSHIP, removed_meanwhile)
    finish = await rig.run(revoke_task("team", team.id, "admin", user.id))
    assert finish.ok, finish
    assert ALREADY_REVOKED in finish.annotation_types
    assert user.id not in team.members


async def test_a_demotion_of_a_non_member_answered_404_reads_the_team_once(rig: Rig) -> None:
    user = human(rig.fake)
    team = new_team(rig.fake)
    finish = await rig.run(revoke_task("team", team.id, "admin", user.id))
    assert finish.ok, finish
    assert ALREADY_REVOKED in finish.annotation_types
    assert rig.wire.reached("GET", MEMBERSHIPS) == 1


async def test_a_disable_answered_404_for_a_user_datadog_shows_active_is_not_reported_not_found(rig: Rig) -> None:
    """The same contradiction on an offboarding: the DELETE's 404 and then the read showing the user active. The
    failure was the 404 itself, code NOT_FOUND and "Datadog not found", of a user Datadog had just shown, active:
    read as "no such account", an offboarding with nothing left to do. It says what the read showed now."""
    user = human(rig.fake)
    rig.wire.on("DELETE", USER, answer(404, {"errors": ["Not found"]}))
    finish = await rig.run(action_task("disable_user", user.id))
    assert not user.disabled
    assert failed_for_good(finish), finish
    assert finish.code != Code.NOT_FOUND, finish
    assert "yet Datadog shows the user enabled: nothing was disabled" in finish.message, finish.message


async def test_a_contradicted_demotion_404_whose_second_read_fails_is_left_to_the_404(rig: Rig) -> None:
    """The second read only ever turns the 404 into a failure when it shows the admin; failing itself (a 503 each
    time), it leaves the 404 to decide, as it did before the read existed."""
    user = human(rig.fake)
    team = new_team(rig.fake, {user.id: "admin"})
    rig.wire.on("PATCH", MEMBERSHIP, answer(404, _not_a_member(user.id, team.id)))
    # The first read reaches Datadog (and shows the admin); every later one meets an outage.
    rig.wire.on("GET", MEMBERSHIPS, _forwarded, times=1)
    rig.wire.on("GET", MEMBERSHIPS, answer(503, {"errors": ["Service Unavailable"]}), times=100)
    finish = await rig.run(revoke_task("team", team.id, "admin", user.id))
    assert finish.ok, finish
    assert ALREADY_REVOKED in finish.annotation_types


async def _forwarded(request: httpx.Request, wire: Wire) -> httpx.Response:
    status, body = await wire.forward(request)
    return httpx.Response(status, content=body, headers={"Content-Type": "application/json"})
