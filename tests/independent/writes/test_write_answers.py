"""A grant, revoke or user action whose answer is not what Datadog sends for a change it made: a 2xx that is empty,
not JSON, about another object or another user's membership; a 409 that does not say "already"; a 404 from the path
rather than from Datadog. None of them may be reported done (spec service-mode.md §3.4: the report is ConductorOne's
only knowledge of the access), and every failure is non-retryable (provisioning never retries)."""

from __future__ import annotations

import pytest

from connector.baton.errors import Code
from tests.fakes.tasks import grant_task, revoke_task
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import (
    ALREADY_EXISTS,
    ALREADY_REVOKED,
    MEMBERSHIP,
    MEMBERSHIPS,
    ROLE_USERS,
    failed_for_good,
    failed_retryably,
    holds_role,
    human,
    new_role,
    new_team,
    role_users_answer,
)
from tests.independent.writes.wire import answer, edited

NOT_JSON = (b"<html><body>OK</body></html>", "text/html")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"", "application/json"), NOT_JSON, (b"{}", "application/json"), (b'{"data": null}', "application/json")],
    ids=["empty", "html", "empty-object", "null-data"],
)
async def test_a_role_grant_answered_2xx_without_the_roles_users_is_not_reported_granted(
    rig: Rig, body: bytes, content_type: str
) -> None:
    role, user = new_role(rig.fake), human(rig.fake)
    rig.wire.on("POST", ROLE_USERS, answer(200, body, content_type))
    finish = await rig.run(grant_task("role", role.id, "member", user.id))
    assert failed_for_good(finish), finish
    assert not holds_role(rig.fake, role, user)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"", "application/json"), NOT_JSON, (b'{"data": {"type": "team_memberships"}}', "application/json")],
    ids=["empty", "html", "no-id"],
)
async def test_a_team_member_grant_answered_2xx_without_a_membership_is_not_reported_granted(
    rig: Rig, body: bytes, content_type: str
) -> None:
    team, user = new_team(rig.fake), human(rig.fake)
    rig.wire.on("POST", MEMBERSHIPS, answer(200, body, content_type))
    finish = await rig.run(grant_task("team", team.id, "member", user.id))
    assert failed_for_good(finish), finish
    assert user.id not in team.members


async def test_a_team_member_grant_answered_with_another_users_membership_is_not_reported_granted(rig: Rig) -> None:
    team, user, other = new_team(rig.fake), human(rig.fake), human(rig.fake, 1)
    rig.fake.org.add_member(team, other.id)
    membership = team.members[other.id]
    body = {
        "data": {
            "type": "team_memberships",
            "id": membership.id,
            "attributes": {"role": None},
            "relationships": {"user": {"data": {"type": "users", "id": other.id}}},
        }
    }
    rig.wire.on("POST", MEMBERSHIPS, answer(200, body))
    finish = await rig.run(grant_task("team", team.id, "member", user.id))
    assert failed_for_good(finish), finish


async def test_a_team_admin_grant_answered_with_the_users_plain_membership_is_not_reported_granted(rig: Rig) -> None:
    team, user = new_team(rig.fake), human(rig.fake)

    def as_plain_member(payload: dict[str, object]) -> dict[str, object]:
        data = payload["data"]
        assert isinstance(data, dict)
        data["attributes"] = {**data.get("attributes", {}), "role": None}
        return payload

    # Datadog (a release ignoring `role`) adds a plain member and says so.
    rig.wire.on("POST", MEMBERSHIPS, edited(as_plain_member))
    rig.wire.on("PATCH", MEMBERSHIP, edited(as_plain_member))
    finish = await rig.run(grant_task("team", team.id, "admin", user.id))
    assert failed_for_good(finish), finish


@pytest.mark.parametrize(
    "message",
    ["Team is managed by an identity provider", "Conflict", "users already present on the team [someone-else]"],
)
async def test_a_team_member_grant_answered_409_without_already_for_this_user_is_not_reported_granted(
    rig: Rig, message: str
) -> None:
    team, user = new_team(rig.fake), human(rig.fake)
    rig.wire.on("POST", MEMBERSHIPS, answer(409, {"errors": [message]}))
    finish = await rig.run(grant_task("team", team.id, "member", user.id))
    assert failed_for_good(finish), finish
    assert ALREADY_EXISTS not in finish.annotation_types


# A 409 naming this user somewhere, but not as one of the users its "already present" lists.
@pytest.mark.parametrize(
    "template",
    [
        "users already present on the team [{other}] (asked to add {user})",
        "{user}: users already present on the team [{other}]",
        "users already present on the team [{user_part}]",
        "users already present on the team [{user}0]",
        "users already present on the team []; {user}",
        "users not already present on the team [{user}] cannot be changed",
    ],
    ids=["beside-the-list", "before-it", "a-part-of-the-id", "a-longer-id", "after-an-empty-list", "not-present"],
)
async def test_a_team_member_grant_answered_409_naming_the_user_outside_already_present_is_not_reported_granted(
    rig: Rig, template: str
) -> None:
    """Only the users in the brackets of "users already present on the team [<user>]" (datadog-api §6.2) are members.
    The user's id anywhere in the text was taken as "already a member", so a refusal that mentioned the user, or
    listed a user whose id holds this one's, was reported GrantAlreadyExists with the user never added."""
    team, user, other = new_team(rig.fake), human(rig.fake), human(rig.fake, skip=1)
    message = template.format(user=user.id, other=other.id, user_part=user.id[:8])
    rig.wire.on("POST", MEMBERSHIPS, answer(409, {"errors": [{"status": "409", "detail": message}]}))
    finish = await rig.run(grant_task("team", team.id, "member", user.id))
    assert failed_for_good(finish), finish
    assert ALREADY_EXISTS not in finish.annotation_types
    assert user.id not in team.members


@pytest.mark.parametrize(
    "template",
    [
        "users already present on the team [{user}]",
        "users already present on the team [{other}, {user}]",
        "Users Already Present on the team ['{upper}']",
    ],
    ids=["alone", "second-of-two", "quoted-and-upper-case"],
)
async def test_a_team_member_grant_answered_409_listing_the_user_as_already_present_is_already_granted(
    rig: Rig, template: str
) -> None:
    """Datadog's own "already a member" answer, however the list is written, is the grant already there: reported
    GrantAlreadyExists with no read of the team."""
    user, other = human(rig.fake), human(rig.fake, skip=1)
    team = new_team(rig.fake, {user.id: None})
    message = template.format(user=user.id, other=other.id, upper=user.id.upper())
    rig.wire.on("POST", MEMBERSHIPS, answer(409, {"errors": [{"status": "409", "detail": message}]}))
    finish = await rig.run(grant_task("team", team.id, "member", user.id))
    assert finish.ok, finish
    assert ALREADY_EXISTS in finish.annotation_types


async def test_a_role_grant_answered_with_the_role_linked_as_another_type_is_not_reported_granted(rig: Rig) -> None:
    """The answer's role links must name roles (datadog-api.md §2.1), as a synced user's must: a link to a permission
    that shares the role's id was read as the role held, and the grant reported done on an answer that shows no role."""
    role, user = new_role(rig.fake), human(rig.fake)

    def roles_as_permissions(payload: dict[str, object]) -> dict[str, object]:
        users = payload["data"]
        assert isinstance(users, list)
        for listed in users:
            for link in listed["relationships"]["roles"]["data"]:
                link["type"] = "permissions"
        return payload

    rig.wire.on("POST", ROLE_USERS, edited(roles_as_permissions))
    finish = await rig.run(grant_task("role", role.id, "member", user.id))
    assert not finish.ok, finish
    assert 'roles.data[0].type (expected "roles", got a string)' in finish.message, finish


async def test_a_role_grant_answered_409_without_the_role_held_is_not_reported_granted(rig: Rig) -> None:
    role, user = new_role(rig.fake), human(rig.fake)
    rig.wire.on("POST", ROLE_USERS, answer(409, {"errors": ["Conflict"]}))
    finish = await rig.run(grant_task("role", role.id, "member", user.id))
    assert failed_for_good(finish), finish
    assert ALREADY_EXISTS not in finish.annotation_types


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (404, b"<html>Not Found</html>", "text/html"),
        (404, b"", None),
        (404, b'{"message": "Not Found"}', "application/json"),
        (404, b'{"errors": "not a list"}', "application/json"),
    ],
    ids=["html", "empty", "gateway-json", "errors-not-a-list"],
)
@pytest.mark.parametrize("slug", ["member", "admin"])
async def test_a_team_revoke_answered_404_by_the_path_is_not_already_revoked(
    rig: Rig, status: int, body: bytes, content_type: str | None, slug: str
) -> None:
    user = human(rig.fake)
    team = new_team(rig.fake, {user.id: "admin"})
    method = "DELETE" if slug == "member" else "PATCH"
    rig.wire.on(method, MEMBERSHIP, answer(status, body, content_type), times=10)
    finish = await rig.run(revoke_task("team", team.id, slug, user.id))
    assert failed_for_good(finish), finish
    assert ALREADY_REVOKED not in finish.annotation_types
    assert team.members[user.id].role == "admin"


async def test_a_revoke_of_a_membership_never_there_is_already_revoked(rig: Rig) -> None:
    """Datadog's own 404: "not a member" (spec reference-connector.md §4: 404 → GrantAlreadyRevoked)."""
    team, user = new_team(rig.fake), human(rig.fake)
    finish = await rig.run(revoke_task("team", team.id, "member", user.id))
    assert finish.ok, finish
    assert ALREADY_REVOKED in finish.annotation_types


async def test_a_revoke_on_a_team_that_is_gone_is_already_revoked_and_a_grant_on_it_fails(rig: Rig) -> None:
    """Datadog answers the membership paths of a deleted team with its own 404 ("<id> not found"): nothing can be held
    there, so the revoke is done (spec reference-connector.md §4), while a grant to it fails, never "already"."""
    user = human(rig.fake)
    team = new_team(rig.fake, {user.id: None})
    del rig.fake.org.teams[team.id]
    for slug in ("member", "admin"):
        revoked = await rig.run(revoke_task("team", team.id, slug, user.id))
        assert revoked.ok, revoked
        assert ALREADY_REVOKED in revoked.annotation_types
        granted = await rig.run(grant_task("team", team.id, slug, user.id))
        assert failed_for_good(granted, Code.NOT_FOUND), granted
        assert ALREADY_EXISTS not in granted.annotation_types


@pytest.mark.parametrize("status", [200, 204])
async def test_a_role_revoke_answered_2xx_with_no_list_is_not_reported_revoked(rig: Rig, status: int) -> None:
    role, user = new_role(rig.fake), human(rig.fake)
    rig.fake.org.assign_role(user.id, role.id)
    rig.wire.on("DELETE", ROLE_USERS, answer(status, b"", None))
    finish = await rig.run(revoke_task("role", role.id, "member", user.id))
    assert failed_for_good(finish), finish
    assert holds_role(rig.fake, role, user)


async def test_a_role_revoke_answered_with_the_user_still_listed_is_not_reported_revoked(rig: Rig) -> None:
    role, user = new_role(rig.fake), human(rig.fake)
    rig.fake.org.assign_role(user.id, role.id)
    still = role_users_answer(user, role.id)
    rig.wire.on("DELETE", ROLE_USERS, answer(200, still))
    finish = await rig.run(revoke_task("role", role.id, "member", user.id))
    assert failed_for_good(finish), finish


async def test_a_disable_answered_by_a_proxy_page_is_not_reported_done(rig: Rig) -> None:
    from tests.independent.writes.helpers import USER
    from tests.independent.writes.tasks import action_task

    user = human(rig.fake)
    rig.wire.on("DELETE", USER, answer(200, *NOT_JSON), times=10)
    finish = await rig.run(action_task("disable_user", user.id))
    assert failed_retryably(finish), finish  # a proxy's page passes: ConductorOne may run the offboarding again
    assert not rig.fake.org.users[user.id].disabled


@pytest.mark.parametrize(
    "body", [b'{"message": "ok"}', b'{"status": "success"}', b"[]", b'"ok"', b"true"], ids=lambda b: b.decode()
)
async def test_a_revoke_answered_2xx_by_a_gateways_json_is_not_reported_revoked(rig: Rig, body: bytes) -> None:
    """Datadog answers a membership's removal 204 with no body (datadog-api.md §2.5), and its JSON answers are JSON:API
    documents (§2.1: an object with `data`, or `errors`). A gateway's or a stub's own JSON under a 2xx (a mock
    integration answering every request `{"message": "ok"}`) is no word from Datadog, as the same JSON under a 404 is
    not (docs/service-mode.md): the revoke was reported done, the user left on the team."""
    user = human(rig.fake)
    team = new_team(rig.fake, {user.id: None})
    rig.wire.on("DELETE", MEMBERSHIP, answer(200, body))
    finish = await rig.run(revoke_task("team", team.id, "member", user.id))
    assert failed_for_good(finish), finish
    assert user.id in team.members


async def test_a_disable_answered_2xx_by_a_gateways_json_is_not_reported_done(rig: Rig) -> None:
    """The offboarding's sibling of the revoke above: Datadog answers the DELETE 204 with no body."""
    from tests.independent.writes.helpers import USER
    from tests.independent.writes.tasks import action_task

    user = human(rig.fake)
    rig.wire.on("DELETE", USER, answer(200, {"message": "ok"}), times=10)
    finish = await rig.run(action_task("disable_user", user.id))
    assert failed_retryably(finish), finish  # a gateway's answer passes: ConductorOne may run the offboarding again
    assert not rig.fake.org.users[user.id].disabled


@pytest.mark.parametrize(
    ("action", "args"),
    [("enable_user", {}), ("update_user", {"name": "Ada Lovelace"}), ("update_user", {"email": "ada@example.com"})],
    ids=["enable", "update-name", "update-email"],
)
async def test_a_user_change_answered_by_an_echo_of_the_request_is_not_reported_done(
    rig: Rig, action: str, args: dict[str, str]
) -> None:
    """A stub or mock integration on the path that reflects the request: the PATCH body names the user and the
    attributes asked, so the echo passed every check of the answer (this user, each field as asked) and the change
    was reported done with nothing sent to Datadog. Datadog's answer is the whole user, its `status` always shown
    (datadog-api.md §4.1; the recorded PATCH answer has it), which no request carries."""
    from tests.independent.writes.helpers import USER
    from tests.independent.writes.tasks import action_task
    from tests.independent.writes.wire import echoed

    user = human(rig.fake)
    if action == "enable_user":
        rig.fake.org.update_user(user, disabled=True)
    before = (user.name, user.email, user.status)
    rig.wire.on("PATCH", USER, echoed(200), times=10)
    finish = await rig.run(action_task(action, user.id, **args))
    # Failed, not done; retryable as an action that may have been made (its 200 did not show the change) is: a
    # repeat reads the state it finds.
    assert failed_retryably(finish), finish
    assert (user.name, user.email, user.status) == before
    assert "status" in finish.message


@pytest.mark.parametrize("status", [202, 203, 205, 206])
@pytest.mark.parametrize(
    ("kind", "method", "path"),
    [("team", "DELETE", MEMBERSHIP), ("role", "DELETE", ROLE_USERS), ("disable", "DELETE", r"/api/v2/users/[^/]+")],
)
async def test_a_removal_answered_with_a_status_that_is_no_completion_is_not_reported_done(
    rig: Rig, status: int, kind: str, method: str, path: str
) -> None:
    """Datadog answers these writes 204 (a removal) or 200 (a role's users after the change): datadog-api.md §2.5. A
    202 says the request was accepted and its processing not completed (RFC 9110 §15.3.3), and 203, 205 and 206 are
    a proxy's or another server's words: the access may well still be held, and the revoke or offboarding was
    reported done on them."""
    from tests.independent.writes.tasks import action_task

    user = human(rig.fake)
    role, team = new_role(rig.fake), new_team(rig.fake, {user.id: None})
    rig.fake.org.assign_role(user.id, role.id)
    listed = {"data": [], "meta": {"page": {"total_count": 0}}} if kind == "role" else b""
    rig.wire.on(method, path, answer(status, listed, "application/json" if kind == "role" else None), times=10)
    task = (
        action_task("disable_user", user.id)
        if kind == "disable"
        else revoke_task(kind, role.id if kind == "role" else team.id, "member", user.id)
    )
    finish = await rig.run(task)
    # A disable (an action: a repeat is harmless) that met a passing answer is retryable, a revoke final (spec §3.4).
    assert (failed_retryably if kind == "disable" else failed_for_good)(finish), finish
    assert holds_role(rig.fake, role, user)
    assert user.id in team.members
    assert not rig.fake.org.users[user.id].disabled


def _membership_body(team_id: str, user_id: str, role: str | None) -> dict[str, object]:
    return {
        "data": {
            "type": "team_memberships",
            "id": f"TeamMembership-{team_id}-1",
            "attributes": {"role": role},
            "relationships": {
                "user": {"data": {"type": "users", "id": user_id}},
                "team": {"data": {"type": "team", "id": team_id}},
            },
        }
    }


@pytest.mark.parametrize("status", [202, 203])
async def test_a_change_answered_202_with_the_object_as_asked_is_not_reported_done(rig: Rig, status: int) -> None:
    """The sibling of the removals above for the writes answered with their object (a membership added or promoted, a
    user updated): a 202 showing the object as asked describes a change not completed, whatever the body says."""
    from tests.independent.writes.helpers import USER
    from tests.independent.writes.tasks import action_task

    user = human(rig.fake)
    team = new_team(rig.fake)
    rig.wire.on("POST", MEMBERSHIPS, answer(status, _membership_body(team.id, user.id, "admin")))
    granted = await rig.run(grant_task("team", team.id, "admin", user.id))
    assert failed_for_good(granted), granted
    assert user.id not in team.members

    member = human(rig.fake, 1)
    rig.fake.org.add_member(team, member.id)
    rig.wire.on("PATCH", MEMBERSHIP, answer(status, _membership_body(team.id, member.id, "admin")), times=10)
    promoted = await rig.run(grant_task("team", team.id, "admin", member.id))
    assert failed_for_good(promoted), promoted
    assert team.members[member.id].role is None

    shown = {
        "data": {
            "type": "users",
            "id": user.id,
            "attributes": {"name": "Ada Lovelace", "email": user.email, "status": "Active", "disabled": False},
        }
    }
    rig.wire.on("PATCH", USER, answer(status, shown), times=10)
    updated = await rig.run(action_task("update_user", user.id, name="Ada Lovelace"))
    assert failed_retryably(updated), updated  # an action: a 202 passes, and a repeat of the update is harmless
    assert rig.fake.org.users[user.id].name != "Ada Lovelace"


@pytest.mark.parametrize("kind", ["role-grant", "team-member", "team-admin", "admin-revoke", "account", "issue"])
async def test_any_write_answered_by_an_echo_of_its_request_is_not_reported_done(rig: Rig, kind: str) -> None:
    """Every write that sends a body, answered by a stub reflecting it: none reaches Datadog, none is reported done.
    (A removal sends no body; its echo is an empty 200, which Datadog's 204 is read as: left as the project decided,
    tests/independent/test_issue11_datadog_http.py.)"""
    from tests.independent.writes.test_credential_writes import issue_task
    from tests.independent.writes.test_lost_answers import _account_task
    from tests.independent.writes.wire import echoed

    user, member = human(rig.fake), human(rig.fake, 1)
    role, team = new_role(rig.fake), new_team(rig.fake, {member.id: "admin"})
    robot = rig.fake.org.add_user("robot-echo@example.com", name="Robot", service_account=True, status="Active")
    task = {
        "role-grant": lambda: grant_task("role", role.id, "member", user.id),
        "team-member": lambda: grant_task("team", team.id, "member", user.id),
        "team-admin": lambda: grant_task("team", team.id, "admin", user.id),
        "admin-revoke": lambda: revoke_task("team", team.id, "admin", member.id),
        "account": lambda: _account_task("echo@example.com"),
        "issue": lambda: issue_task(robot.id, "service-account-application-key"),
    }[kind]()
    for method in ("POST", "PATCH", "DELETE"):
        rig.wire.on(method, r"/api/v2/.*", echoed(200), times=100)
    finish = await rig.run(task)
    assert failed_for_good(finish), finish
    assert all(s.method == "GET" for s in rig.wire.seen if s.by == "datadog"), "no write reached Datadog"
