"""Provisioning through the connector's lookups, against the fake Datadog.

Each test asserts what Datadog holds afterwards (`fake.org`), the annotations returned, and where it
matters how many requests the decision cost.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import structlog
from google.protobuf import struct_pb2

from connector.baton import annotations as ann
from connector.baton import builders as b
from connector.baton.connector import AccountInfo, GrantResult, ResourceProvisioner
from connector.baton.errors import (
    AlreadyExistsError,
    Code,
    ConnectorError,
    InvalidArgumentError,
    NotFoundError,
    UnavailableError,
    UnimplementedError,
)
from connector.baton.pb.c1.connector.v2 import annotation_grant_pb2, entitlement_pb2, grant_pb2, resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.outcome import TaskError
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions
from connector.datadog.errors import UnexpectedResponse
from connector.datadog.models import TeamMembership
from connector.datadog.paging import Page
from connector.datadog.provisioning import InvitationNotSentError
from connector.datadog.resources import roles, teams, types
from tests.datadog.helpers import (
    ClientFactory,
    FirstAnswerLost,
    MixedUpAnswers,
    ToTheFake,
    answered_by,
    other_users_answers,
)
from tests.fakes.datadog import FakeDatadog, render
from tests.fakes.datadog.org import Role, Team, User

ON = DatadogOptions(provisioning=True)
ROLE_USERS = "/api/v2/roles/{role_id}/users"
MEMBERSHIPS = "/api/v2/team/{team_id}/memberships"
MEMBERSHIP = "/api/v2/team/{team_id}/memberships/{user_id}"
USER = "/api/v2/users/{user_id}"
INVITATIONS = "/api/v2/user_invitations"

GrantAlreadyExists = annotation_grant_pb2.GrantAlreadyExists
GrantAlreadyRevoked = annotation_grant_pb2.GrantAlreadyRevoked


@dataclass
class Env:
    fake: FakeDatadog
    client: DatadogClient
    connector: DatadogConnector

    def provisioner(self, resource_type_id: str) -> ResourceProvisioner:
        found = self.connector.provisioner(resource_type_id)
        assert found is not None
        return found


@pytest.fixture
def env(fake: FakeDatadog, make_client: ClientFactory) -> Env:
    client = make_client(fake)
    return Env(fake, client, DatadogConnector(client, ON))


def _human(fake: FakeDatadog, *, status: str = "Active", skip: int = 0) -> User:
    found = [u for u in fake.org.users.values() if u.status == status and not u.service_account]
    return found[skip]


def _principal(user: User) -> resource_pb2.Resource:
    return b.resource(types.USER, user.id, user.name or "")


def _role(fake: FakeDatadog) -> tuple[Role, entitlement_pb2.Entitlement]:
    role = fake.org.add_role("JIT Role")
    return role, roles.member_entitlement(b.resource(types.ROLE, role.id, role.name))


def _team(fake: FakeDatadog, members: dict[str, str | None] | None = None) -> Team:
    team = fake.org.add_team("JIT Team", "jit-team")
    for user_id, role in (members or {}).items():
        fake.org.add_member(team, user_id, role=role)
    return team


def _team_entitlement(team: Team, slug: str) -> entitlement_pb2.Entitlement:
    res = b.resource(types.TEAM, team.id, team.name)
    return b.entitlement(res, slug)


def _grant_of(entitlement: entitlement_pb2.Entitlement, user: User) -> grant_pb2.Grant:
    """The grant as the syncers build it: the entitlement embedded as {id, resource}, the principal as {id}."""
    return b.grant(entitlement.resource, entitlement.slug, b.resource_id(types.USER.id, user.id))


def _only(result: GrantResult) -> grant_pb2.Grant:
    assert len(result.grants) == 1
    return result.grants[0]


def _membership_role(team: Team, user: User) -> str | None:
    return team.members[user.id].role


# -- roles ---------------------------------------------------------------------------------------------


async def test_role_grant_regrant_revoke_rerevoke(env: Env) -> None:
    fake = env.fake
    role, entitlement = _role(fake)
    user = _human(fake)
    provisioner = env.provisioner(types.ROLE.id)
    fake.reset_counters()

    granted = await provisioner.grant(_principal(user), entitlement)
    assert user.id in fake.org.role_members[role.id]
    assert role.id in user.role_ids
    assert granted.annotations == []
    # The id the users walk gives this grant, so ConductorOne joins the two.
    assert _only(granted).id == f"role:{role.id}:member:user:{user.id}"
    assert (fake.count("GET", USER), fake.count("POST", ROLE_USERS)) == (1, 1)

    again = await provisioner.grant(_principal(user), entitlement)
    assert ann.has(again.annotations, GrantAlreadyExists)
    assert _only(again).id == _only(granted).id
    assert user.role_ids.count(role.id) == 1
    # A repeat is told by the read, and the add is sent all the same (the read may lag): Datadog answers it 200.
    assert (fake.count("GET", USER), fake.count("POST", ROLE_USERS)) == (2, 2)

    revoked = await provisioner.revoke(_only(granted))
    assert revoked == []
    assert user.id not in fake.org.role_members[role.id]
    assert role.id not in user.role_ids

    assert ann.has(await provisioner.revoke(_only(granted)), GrantAlreadyRevoked)
    assert fake.count("DELETE", ROLE_USERS) == 2


class GrantedMeanwhile(ToTheFake):
    """Another writer gives the user the role between the grant's read and its add, which Datadog answers 409."""

    def __init__(self, fake: FakeDatadog, role: Role, user: User) -> None:
        super().__init__()
        self._fake, self._role, self._user = fake, role, user

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == f"/api/v2/roles/{self._role.id}/users":
            self._fake.org.assign_role(self._user.id, self._role.id)
            return httpx.Response(409, json={"errors": ["User is already a member of the role"]})
        return await self._inner.handle_async_request(request)


async def test_role_grant_answered_409_after_another_writer_granted_it_is_already_granted(
    env: Env, make_client: ClientFactory
) -> None:
    role, entitlement = _role(env.fake)
    user = _human(env.fake)
    client = make_client(env.fake, transport=GrantedMeanwhile(env.fake, role, user))
    provisioner = DatadogConnector(client, ON).provisioner(types.ROLE.id)
    assert provisioner is not None
    result = await provisioner.grant(_principal(user), entitlement)
    assert ann.has(result.annotations, GrantAlreadyExists)


async def test_role_grant_answered_409_without_the_role_held_is_not_granted(env: Env) -> None:
    """The read said the user lacks the role, and Datadog answered the add 409: that was reported as the grant
    already there, with the user never given the role."""
    role, entitlement = _role(env.fake)
    user = _human(env.fake)
    env.fake.faults.force(409, path=f"/api/v2/roles/{role.id}/users", method="POST")
    with pytest.raises(
        UnexpectedResponse, match="a conflict, yet the user does not hold the role: nothing was granted"
    ):
        await env.provisioner(types.ROLE.id).grant(_principal(user), entitlement)
    assert role.id not in user.role_ids


def _mixed_up(fake: FakeDatadog, make_client: ClientFactory, asked: User, answered: User) -> Env:
    client = make_client(fake, transport=other_users_answers(asked.id, answered.id))
    return Env(fake, client, DatadogConnector(client, ON))


async def test_a_grant_is_not_decided_on_another_users_roles(env: Env, make_client: ClientFactory) -> None:
    """The role grant reads the user's roles first: another user's object holding the role made it 'already
    granted', with no write, while the user never got the role."""
    role, entitlement = _role(env.fake)
    user, other = _human(env.fake), _human(env.fake, skip=1)
    env.fake.org.assign_role(other.id, role.id)
    mixed = _mixed_up(env.fake, make_client, user, other)
    env.fake.reset_counters()
    with pytest.raises(UnexpectedResponse, match="the answer is about another object"):
        await mixed.provisioner(types.ROLE.id).grant(_principal(user), entitlement)
    assert env.fake.count("POST", ROLE_USERS) == 0
    assert role.id not in user.role_ids


async def test_disable_user_is_not_decided_on_a_read(env: Env, make_client: ClientFactory) -> None:
    """A read first made "already disabled" the read's word alone: another user's object (a cache mixing up
    answers), or a stale one, showing the user disabled ended the offboarding with no write and the user active.
    The DELETE decides now; a read only tells a 404's "already disabled" from "no such user"."""
    user, other = _human(env.fake), _human(env.fake, status="Disabled")
    mixed = _mixed_up(env.fake, make_client, user, other)
    actions = mixed.connector.action_manager()
    assert actions is not None
    result = await actions.invoke_action("disable_user", _args(user_id=user.id))
    assert result.response["success"] is True
    assert user.status == "Disabled"
    assert env.fake.count("DELETE", USER) == 1


async def test_disable_user_of_nobody_is_not_found(env: Env) -> None:
    actions = env.connector.action_manager()
    assert actions is not None
    with pytest.raises(NotFoundError):
        await actions.invoke_action("disable_user", _args(user_id="00000000-0000-4000-8000-000000000000"))


async def test_an_answer_naming_the_object_in_another_case_is_about_that_object() -> None:
    """Ids are compared as UUIDs are, whatever their case: the same user with its id in capitals is no mixed-up
    answer (refused, every read of it would fail)."""
    asked = "3f2a9c1e-aaaa-bbbb-cccc-0123456789ab"

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/api/v2/users/{asked}"
        return httpx.Response(200, json={"data": {"id": asked.upper(), "type": "users", "attributes": {}}})

    async with answered_by(handler) as client:
        assert (await client.get_user(asked)).id == asked.upper()


async def test_a_revoke_is_not_decided_on_another_teams_memberships(env: Env, make_client: ClientFactory) -> None:
    """Revoking admin reads the team's memberships first: another team's, where the user is a plain member, made
    it 'already revoked' with the user still this team's admin. That read is refused ("a membership of another
    team"), and the demotion it only reports on is sent all the same: the revoke is done, and reported as a change."""
    user = _human(env.fake)
    team, other = _team(env.fake, {user.id: "admin"}), env.fake.org.add_team("Other", "other")
    env.fake.org.add_member(other, user.id, role=None)
    memberships = "/api/v2/team/{}/memberships"
    client = make_client(env.fake, transport=MixedUpAnswers(memberships.format(team.id), memberships.format(other.id)))
    provisioner = DatadogConnector(client, ON).provisioner(types.TEAM.id)
    assert provisioner is not None
    with structlog.testing.capture_logs() as logs:
        annotations = await provisioner.revoke(_grant_of(_team_entitlement(team, teams.ADMIN), user))
    assert annotations == []
    assert _membership_role(team, user) is None
    assert user.id in team.members
    assert any("a membership of another team" in str(line.get("error")) for line in logs)


@pytest.mark.parametrize(
    ("resource_type", "entitlement"),
    [
        (types.ROLE.id, roles.member_entitlement(b.resource(types.ROLE, "r1", "R"))),
        (types.TEAM.id, b.entitlement(b.resource(types.TEAM, "t1", "T"), teams.MEMBER)),
    ],
)
async def test_a_revoke_answered_by_a_404_page_is_not_already_revoked(
    resource_type: str, entitlement: entitlement_pb2.Entitlement
) -> None:
    """A 404 is "not a member: already revoked" only in Datadog's words (a JSON error body); a proxy's or web front
    end's 404 page was reported as GrantAlreadyRevoked with the access still there."""
    page = httpx.Response(
        404, text="<html><body><h1>404 Not Found</h1></body></html>", headers={"content-type": "text/html"}
    )
    client = answered_by(lambda r: page)
    async with client:
        provisioner = DatadogConnector(client, ON).provisioner(resource_type)
        assert provisioner is not None
        user = b.resource(types.USER, "u1", "U")
        grant = b.grant(entitlement.resource, entitlement.slug, user.id)
        with pytest.raises(UnexpectedResponse, match="a 404 without Datadog's JSON error body"):
            await provisioner.revoke(grant)


@pytest.mark.parametrize(
    ("resource_type", "entitlement"),
    [
        (types.ROLE.id, roles.member_entitlement(b.resource(types.ROLE, "r1", "R"))),
        (types.TEAM.id, b.entitlement(b.resource(types.TEAM, "t1", "T"), teams.MEMBER)),
        (types.TEAM.id, b.entitlement(b.resource(types.TEAM, "t1", "T"), teams.ADMIN)),
    ],
    ids=["role", "team-member", "team-admin"],
)
@pytest.mark.parametrize("status", [404, 409])
async def test_a_grant_or_revoke_answered_by_a_gateways_json_is_not_already_so(
    resource_type: str, entitlement: entitlement_pb2.Entitlement, status: int
) -> None:
    """A JSON object is not Datadog's word: an API gateway's `{"message": "Not Found"}` (or its 409) in front of
    Datadog was taken for Datadog's error body, and the grant reported already there, or the revoke already done,
    with nothing changed in Datadog."""
    page = httpx.Response(status, json={"message": "Not Found" if status == 404 else "Conflict"})
    client = answered_by(lambda r: page)
    async with client:
        provisioner = DatadogConnector(client, ON).provisioner(resource_type)
        assert provisioner is not None
        user = b.resource(types.USER, "u1", "U")
        grant = b.grant(entitlement.resource, entitlement.slug, user.id)
        with pytest.raises(UnexpectedResponse, match=f"a {status} without Datadog's JSON error body"):
            await provisioner.grant(user, entitlement)
        with pytest.raises(UnexpectedResponse, match=f"a {status} without Datadog's JSON error body"):
            await provisioner.revoke(grant)


class RoleIgnored(ToTheFake):
    """A Datadog (or a proxy rewriting bodies) that applies a membership change with another role than asked."""

    def __init__(self, method: str, applied: str | None) -> None:
        super().__init__()
        self._method, self._applied = method, applied

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == self._method and "/memberships" in request.url.path:
            body = json.loads(request.content)
            body["data"]["attributes"]["role"] = self._applied
            request = httpx.Request(request.method, request.url, json=body, headers={
                k: v for k, v in request.headers.items() if k.lower() != "content-length"
            })  # fmt: skip
        return await self._inner.handle_async_request(request)


async def test_an_admin_grant_answered_with_a_plain_membership_is_not_granted(
    env: Env, make_client: ClientFactory
) -> None:
    """Datadog answered the add with role null (a plain member): the admin grant was reported done."""
    team, user = _team(env.fake), _human(env.fake)
    client = make_client(env.fake, transport=RoleIgnored("POST", None))
    provisioner = DatadogConnector(client, ON).provisioner(types.TEAM.id)
    assert provisioner is not None
    with pytest.raises(UnexpectedResponse, match="the membership's role is member, not the admin asked for"):
        await provisioner.grant(_principal(user), _team_entitlement(team, teams.ADMIN))
    assert _membership_role(team, user) is None


async def test_a_member_grant_answered_with_an_admin_membership_is_granted(
    env: Env, make_client: ClientFactory
) -> None:
    # An admin is a member too: the member grant holds, whatever role Datadog kept or gave.
    team, user = _team(env.fake), _human(env.fake)
    client = make_client(env.fake, transport=RoleIgnored("POST", "admin"))
    provisioner = DatadogConnector(client, ON).provisioner(types.TEAM.id)
    assert provisioner is not None
    result = await provisioner.grant(_principal(user), _team_entitlement(team, teams.MEMBER))
    assert _only(result).id == f"team:{team.id}:member:user:{user.id}"
    assert _membership_role(team, user) == "admin"


async def test_an_admin_revoke_answered_with_an_admin_membership_is_not_revoked(
    env: Env, make_client: ClientFactory
) -> None:
    """Datadog answered the demotion with role admin: the revoke was reported done with the user still admin."""
    user = _human(env.fake)
    team = _team(env.fake, {user.id: "admin"})
    client = make_client(env.fake, transport=RoleIgnored("PATCH", "admin"))
    provisioner = DatadogConnector(client, ON).provisioner(types.TEAM.id)
    assert provisioner is not None
    with pytest.raises(UnexpectedResponse, match="the membership's role is admin, not the member asked for"):
        await provisioner.revoke(_grant_of(_team_entitlement(team, teams.ADMIN), user))
    assert _membership_role(team, user) == "admin"


class MembershipChangesStubbed(ToTheFake):
    """A stub in front of Datadog answers membership changes itself, with the membership minus its `role`."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method not in ("PATCH", "POST") or "/memberships" not in request.url.path:
            return await self._inner.handle_async_request(request)
        team_id = request.url.path.split("/")[4]
        user_id = request.url.path.rsplit("/", 1)[-1] if request.method == "PATCH" else ""
        if not user_id:
            user_id = json.loads(request.content)["data"]["relationships"]["user"]["data"]["id"]
        membership = {
            "type": "team_memberships",
            "id": f"TeamMembership-{team_id}-1",
            "attributes": {"provisioned_by": None},
            "relationships": {"user": {"data": {"type": "users", "id": user_id}}},
        }
        return httpx.Response(200, json={"data": membership})


async def test_a_membership_answer_without_its_role_is_no_demotion(env: Env, make_client: ClientFactory) -> None:
    """Datadog's membership answers always hold `role` ("admin", or null for a member). One leaving it out says
    nothing of the role, yet read as null, a member: the admin revoke was reported done, the user still admin."""
    user = _human(env.fake)
    team = _team(env.fake, {user.id: "admin"})
    client = make_client(env.fake, transport=MembershipChangesStubbed())
    provisioner = DatadogConnector(client, ON).provisioner(types.TEAM.id)
    assert provisioner is not None
    with pytest.raises(UnexpectedResponse, match="the answer does not show the membership's role"):
        await provisioner.revoke(_grant_of(_team_entitlement(team, teams.ADMIN), user))
    assert _membership_role(team, user) == "admin"


async def test_grant_to_a_non_user_principal_is_refused_before_any_write(env: Env) -> None:
    _, entitlement = _role(env.fake)
    team = _team(env.fake)
    principal = b.resource(types.TEAM, team.id, team.name)
    env.fake.reset_counters()

    for provisioner, target in (
        (env.provisioner(types.ROLE.id), entitlement),
        (env.provisioner(types.TEAM.id), _team_entitlement(team, teams.MEMBER)),
    ):
        with pytest.raises(InvalidArgumentError, match="'team'"):
            await provisioner.grant(principal, target)
    assert env.fake.requests() == []


async def test_unknown_slug_and_foreign_entitlement_are_refused(env: Env) -> None:
    team = _team(env.fake)
    user = _human(env.fake)
    provisioner = env.provisioner(types.TEAM.id)
    with pytest.raises(InvalidArgumentError, match="'owner'"):
        await provisioner.grant(_principal(user), _team_entitlement(team, "owner"))
    _, role_entitlement = _role(env.fake)
    with pytest.raises(InvalidArgumentError, match="'role'"):
        await provisioner.grant(_principal(user), role_entitlement)
    assert team.members == {}


async def test_role_grant_5xx_is_retryable_and_not_success(env: Env) -> None:
    role, entitlement = _role(env.fake)
    user = _human(env.fake)
    # More failures than the retry policy's attempts: the error must reach the caller.
    env.fake.faults.force(503, times=10, path=f"/api/v2/roles/{role.id}/users", method="POST")

    with pytest.raises(UnavailableError) as caught:
        await env.provisioner(types.ROLE.id).grant(_principal(user), entitlement)
    assert caught.value.retryable
    assert role.id not in user.role_ids
    env.fake.faults.clear()


# -- teams ---------------------------------------------------------------------------------------------


async def test_team_member_grant_adds_a_member(env: Env) -> None:
    team = _team(env.fake)
    user = _human(env.fake)

    result = await env.provisioner(types.TEAM.id).grant(_principal(user), _team_entitlement(team, teams.MEMBER))
    assert _membership_role(team, user) is None
    assert result.annotations == []
    assert _only(result).id == f"team:{team.id}:member:user:{user.id}"


async def test_team_admin_grant_to_a_non_member_adds_an_admin_in_one_request(env: Env) -> None:
    team = _team(env.fake)
    user = _human(env.fake)
    env.fake.reset_counters()

    result = await env.provisioner(types.TEAM.id).grant(_principal(user), _team_entitlement(team, teams.ADMIN))
    assert _membership_role(team, user) == "admin"
    assert result.annotations == []
    # Both grants the next sync will show: admin, and the membership it implies.
    assert [g.id for g in result.grants] == [
        f"team:{team.id}:admin:user:{user.id}",
        f"team:{team.id}:member:user:{user.id}",
    ]
    assert [(s.method, s.route) for s in env.fake.requests()] == [("POST", MEMBERSHIPS)]


async def test_team_admin_grant_to_a_member_promotes(env: Env) -> None:
    user = _human(env.fake)
    team = _team(env.fake, members={user.id: None})
    env.fake.reset_counters()

    result = await env.provisioner(types.TEAM.id).grant(_principal(user), _team_entitlement(team, teams.ADMIN))
    assert _membership_role(team, user) == "admin"
    assert result.annotations == []  # the state changed: not a repeat
    assert _only(result).id == f"team:{team.id}:admin:user:{user.id}"
    assert [(s.method, s.route, s.status) for s in env.fake.requests()] == [
        ("POST", MEMBERSHIPS, 409),
        ("GET", MEMBERSHIPS, 200),
        ("PATCH", MEMBERSHIP, 200),
    ]


async def test_team_admin_grant_to_an_admin_is_already_granted(env: Env) -> None:
    user = _human(env.fake)
    team = _team(env.fake, members={user.id: "admin"})
    env.fake.reset_counters()

    result = await env.provisioner(types.TEAM.id).grant(_principal(user), _team_entitlement(team, teams.ADMIN))
    assert ann.has(result.annotations, GrantAlreadyExists)
    assert _membership_role(team, user) == "admin"
    assert env.fake.count("PATCH", MEMBERSHIP) == 1  # the promotion is sent all the same (the read may lag)


class LaggingRoles(ToTheFake):
    """A user read lagging behind a removal: `GET /api/v2/users/{id}` still lists the role `stale`."""

    def __init__(self, stale: str) -> None:
        super().__init__()
        self._stale = stale

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "GET" or not request.url.path.startswith("/api/v2/users/"):
            return response
        body = json.loads(await response.aread())
        await response.aclose()
        body["data"]["relationships"]["roles"]["data"].append({"type": "roles", "id": self._stale})
        return httpx.Response(response.status_code, json=body)


async def test_a_grant_is_not_ended_by_a_read_lagging_behind_a_removal(env: Env, make_client: ClientFactory) -> None:
    """A revoke, then the grant again while the read still shows the old state: the role grant (the user's roles
    still listing the role) and the team admin grant (the memberships still showing an admin) ended on that read,
    "already granted", with nothing written and the access not there."""
    user = _human(env.fake)
    role, entitlement = _role(env.fake)
    client = make_client(env.fake, transport=LaggingRoles(role.id))
    provisioner = DatadogConnector(client, ON).provisioner(types.ROLE.id)
    assert provisioner is not None
    await provisioner.grant(_principal(user), entitlement)
    assert role.id in user.role_ids

    team = _team(env.fake, members={user.id: None})
    admin = _team_entitlement(team, teams.ADMIN)
    lagging = make_client(env.fake, transport=LaggingMemberships(role="admin"))
    teams_provisioner = DatadogConnector(lagging, ON).provisioner(types.TEAM.id)
    assert teams_provisioner is not None
    await teams_provisioner.grant(_principal(user), admin)
    assert _membership_role(team, user) == "admin"


async def test_team_member_grant_never_demotes_an_admin(env: Env) -> None:
    user = _human(env.fake)
    team = _team(env.fake, members={user.id: "admin"})
    env.fake.reset_counters()

    result = await env.provisioner(types.TEAM.id).grant(_principal(user), _team_entitlement(team, teams.MEMBER))
    assert ann.has(result.annotations, GrantAlreadyExists)
    assert _membership_role(team, user) == "admin"
    assert [(s.method, s.route) for s in env.fake.requests()] == [("POST", MEMBERSHIPS)]


async def test_team_admin_revoke_demotes_and_keeps_the_membership(env: Env) -> None:
    user = _human(env.fake)
    team = _team(env.fake, members={user.id: "admin"})
    admin = _team_entitlement(team, teams.ADMIN)
    provisioner = env.provisioner(types.TEAM.id)
    env.fake.reset_counters()

    assert await provisioner.revoke(_grant_of(admin, user)) == []
    assert user.id in team.members
    assert _membership_role(team, user) is None
    assert (env.fake.count("GET", MEMBERSHIPS), env.fake.count("PATCH", MEMBERSHIP)) == (1, 1)

    # Now a plain member: admin is already revoked; the demotion is sent all the same and changes nothing.
    assert ann.has(await provisioner.revoke(_grant_of(admin, user)), GrantAlreadyRevoked)
    assert user.id in team.members
    assert _membership_role(team, user) is None
    assert env.fake.count("PATCH", MEMBERSHIP) == 2


class LaggingMemberships(ToTheFake):
    """A team's memberships list that lags behind a promotion or demotion: it still shows every member's role as
    `role`."""

    def __init__(self, role: str | None = None) -> None:
        super().__init__()
        self._role = role

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "GET" or not request.url.path.endswith("/memberships"):
            return response
        body = json.loads(await response.aread())
        await response.aclose()
        for membership in body["data"]:
            membership["attributes"]["role"] = self._role
        return httpx.Response(response.status_code, json=body)


async def test_team_admin_revoke_is_not_ended_by_a_list_lagging_behind_the_promotion(
    env: Env, make_client: ClientFactory
) -> None:
    """A just-in-time admin grant, then its revoke while the memberships list still shows the user a plain member:
    the revoke ended on that read, "already revoked", with nothing written and the user admin."""
    user = _human(env.fake)
    team = _team(env.fake, members={user.id: "admin"})
    client = make_client(env.fake, transport=LaggingMemberships())
    provisioner = DatadogConnector(client, ON).provisioner(types.TEAM.id)
    assert provisioner is not None
    await provisioner.revoke(_grant_of(_team_entitlement(team, teams.ADMIN), user))
    assert user.id in team.members
    assert _membership_role(team, user) is None


async def test_team_admin_revoke_of_a_non_member_is_already_revoked(env: Env) -> None:
    team = _team(env.fake, members={_human(env.fake, skip=1).id: "admin"})
    user = _human(env.fake)

    annotations = await env.provisioner(types.TEAM.id).revoke(_grant_of(_team_entitlement(team, teams.ADMIN), user))
    assert ann.has(annotations, GrantAlreadyRevoked)
    assert user.id not in team.members
    # Absence from the listing is confirmed by Datadog's 404 on the demotion itself.
    assert [s.status for s in env.fake.requests("PATCH", MEMBERSHIP)] == [404]


async def test_team_admin_revoke_does_not_trust_absence_from_the_paged_read(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = _human(env.fake)
    team = _team(env.fake, members={user.id: "admin"})

    async def missed(team_id: str) -> AsyncIterator[Page[TeamMembership]]:
        # A listing whose pages shifted under concurrent writes and skipped the user.
        yield Page(items=[], number=0, next_number=None)

    monkeypatch.setattr(env.client, "iter_team_memberships", missed)
    annotations = await env.provisioner(types.TEAM.id).revoke(_grant_of(_team_entitlement(team, teams.ADMIN), user))
    assert annotations == []
    assert _membership_role(team, user) is None


async def test_team_member_revoke_removes_the_membership_even_of_an_admin(env: Env) -> None:
    user = _human(env.fake)
    team = _team(env.fake, members={user.id: "admin"})
    grant = _grant_of(_team_entitlement(team, teams.MEMBER), user)
    provisioner = env.provisioner(types.TEAM.id)

    assert await provisioner.revoke(grant) == []
    assert user.id not in team.members

    assert ann.has(await provisioner.revoke(grant), GrantAlreadyRevoked)
    assert user.id not in team.members


async def test_team_decisions_find_members_beyond_the_first_page(env: Env) -> None:
    fake = env.fake
    team = fake.org.add_team("Big Team", "big-team")
    for i in range(150):
        fake.org.add_user(f"bulk-{i:03d}@example.com", name=f"Bulk {i:03d}", status="Active")
    bulk = [u for u in fake.org.users.values() if u.email.startswith("bulk-")]
    for user in bulk:
        fake.org.add_member(team, user.id)
    last = bulk[-1]
    provisioner = env.provisioner(types.TEAM.id)
    admin = _team_entitlement(team, teams.ADMIN)
    fake.reset_counters()

    assert (await provisioner.grant(_principal(last), admin)).annotations == []
    assert _membership_role(team, last) == "admin"
    assert fake.count("GET", MEMBERSHIPS) == 2

    assert await provisioner.revoke(_grant_of(admin, last)) == []
    assert _membership_role(team, last) is None


async def test_team_admin_grant_starts_over_when_the_membership_vanishes(env: Env) -> None:
    user = _human(env.fake)
    team = _team(env.fake, members={user.id: None})
    # A 404 on the promotion, as when a concurrent revoke removed the user right after the 409.
    env.fake.faults.force(404, path=f"/api/v2/team/{team.id}/memberships/{user.id}", method="PATCH")

    result = await env.provisioner(types.TEAM.id).grant(_principal(user), _team_entitlement(team, teams.ADMIN))
    assert result.annotations == []
    assert _membership_role(team, user) == "admin"
    assert env.fake.count("POST", MEMBERSHIPS) == 2


async def test_revoke_of_a_grant_carrying_only_ids(env: Env) -> None:
    user = _human(env.fake)
    team = _team(env.fake, members={user.id: None})
    grant = grant_pb2.Grant(
        entitlement=entitlement_pb2.Entitlement(id=f"team:{team.id}:member"),
        principal=resource_pb2.Resource(id=b.resource_id(types.USER.id, user.id)),
    )

    assert await env.provisioner(types.TEAM.id).revoke(grant) == []
    assert user.id not in team.members


async def test_a_revoke_whose_grant_id_names_another_grant_is_refused_before_any_request(env: Env) -> None:
    """The grant's id, entitlement and principal must name one grant: acting on the entitlement of a task whose id
    says `admin` removed a whole membership (member revoke) where a demotion was asked for, or revoked another
    user's access."""
    admin, other = _human(env.fake), _human(env.fake, skip=1)
    team = _team(env.fake, members={admin.id: "admin", other.id: None})
    member_grant = _grant_of(_team_entitlement(team, teams.MEMBER), admin)
    disagreeing = [
        grant_pb2.Grant(
            id=member_grant.id.replace(":member:", ":admin:"),
            entitlement=member_grant.entitlement,
            principal=member_grant.principal,
        ),
        grant_pb2.Grant(
            id=member_grant.id.replace(admin.id, other.id),
            entitlement=member_grant.entitlement,
            principal=member_grant.principal,
        ),
        grant_pb2.Grant(
            id=f"role:r1:member:user:{admin.id}", entitlement=member_grant.entitlement, principal=member_grant.principal
        ),
    ]
    env.fake.reset_counters()

    for grant in disagreeing:
        with pytest.raises(InvalidArgumentError, match="does not match the grant's entitlement and principal"):
            await env.provisioner(types.TEAM.id).revoke(grant)
    assert env.fake.requests() == []
    assert (_membership_role(team, admin), _membership_role(team, other)) == ("admin", None)

    # The id as the SDK builds it, or none at all (not needed to revoke), is acted on.
    demote = _grant_of(_team_entitlement(team, teams.ADMIN), admin)
    assert await env.provisioner(types.TEAM.id).revoke(demote) == []
    assert _membership_role(team, admin) is None
    without_id = grant_pb2.Grant(entitlement=member_grant.entitlement, principal=member_grant.principal)
    assert await env.provisioner(types.TEAM.id).revoke(without_id) == []
    assert admin.id not in team.members


async def test_team_grant_and_revoke_5xx_surface_as_unavailable(env: Env) -> None:
    user = _human(env.fake)
    team = _team(env.fake, members={_human(env.fake, skip=1).id: None})
    provisioner = env.provisioner(types.TEAM.id)

    env.fake.faults.force(503, times=10, path=f"/api/v2/team/{team.id}/memberships", method="POST")
    with pytest.raises(UnavailableError):
        await provisioner.grant(_principal(user), _team_entitlement(team, teams.MEMBER))
    assert user.id not in team.members
    env.fake.faults.clear()

    member = _human(env.fake, skip=1)
    env.fake.faults.force(503, times=10, path=f"/api/v2/team/{team.id}/memberships/", method="DELETE")
    with pytest.raises(UnavailableError):
        await provisioner.revoke(_grant_of(_team_entitlement(team, teams.MEMBER), member))
    assert member.id in team.members
    env.fake.faults.clear()


# -- gating --------------------------------------------------------------------------------------------


async def test_lookups_are_none_without_provisioning(fake: FakeDatadog, make_client: ClientFactory) -> None:
    client = make_client(fake)
    off = DatadogConnector(
        client, DatadogOptions(provisioning=False, allow_org_api_key_deletion=True, sync_secrets=True)
    )
    assert off.provisioner(types.ROLE.id) is None
    assert off.provisioner(types.TEAM.id) is None
    assert off.account_manager() is None
    assert off.action_manager() is None
    assert off.resource_deleter(types.API_KEY.id) is None

    on = DatadogConnector(client, ON)
    for rtype in (types.USER, types.SCHEDULE, types.API_KEY, types.SERVICE_ACCOUNT_APP_KEY):
        assert on.provisioner(rtype.id) is None
    assert on.account_manager() is not None
    assert on.action_manager() is not None


@pytest.mark.parametrize(
    ("deletion", "secrets", "allowed"),
    [(False, False, False), (True, False, False), (False, True, False), (True, True, True)],
)
async def test_api_key_deletion_needs_both_flags(
    fake: FakeDatadog, make_client: ClientFactory, deletion: bool, secrets: bool, allowed: bool
) -> None:
    options = DatadogOptions(provisioning=True, allow_org_api_key_deletion=deletion, sync_secrets=secrets)
    connector = DatadogConnector(make_client(fake), options)
    assert connector.resource_deleter(types.USER.id) is None
    deleter = connector.resource_deleter(types.API_KEY.id)
    assert (deleter is not None) == allowed
    if deleter is None:
        return

    key_id = next(iter(fake.org.api_keys))
    assert await deleter.delete_resource(b.resource_id(types.API_KEY.id, key_id)) == []
    assert key_id not in fake.org.api_keys
    # Already deleted is deleted.
    assert await deleter.delete_resource(b.resource_id(types.API_KEY.id, key_id)) == []
    assert fake.count("DELETE", "/api/v2/api_keys/{key_id}") == 2
    with pytest.raises(InvalidArgumentError):
        await deleter.delete_resource(b.resource_id(types.USER.id, key_id))


# -- accounts ------------------------------------------------------------------------------------------


def _account(email: object, **profile: object) -> AccountInfo:
    return AccountInfo(emails=[], login="", profile={"email": email, **profile})


async def test_account_schema(env: Env) -> None:
    manager = env.connector.account_manager()
    assert manager is not None
    fields = manager.account_creation_schema().field_map
    assert {k: (f.order, f.required, f.WhichOneof("field")) for k, f in fields.items()} == {
        "email": (1, True, "string_field"),
        "name": (2, False, "string_field"),
        "title": (3, False, "string_field"),
    }


async def test_create_account_sends_exactly_one_invitation(env: Env) -> None:
    manager = env.connector.account_manager()
    assert manager is not None
    env.fake.reset_counters()

    result = await manager.create_account(_account("New.Person@Example.com", name="New Person", title="SRE"))
    user = env.fake.org.user_by_email("new.person@example.com")
    assert user is not None
    assert (user.name, user.title, user.status) == ("New Person", "SRE", "Pending")
    invitations = [i for i in env.fake.org.invitations.values() if i.user_id == user.id]
    assert len(invitations) == 1
    assert env.fake.count("POST", INVITATIONS) == 1
    assert result.resource.id == b.resource_id(types.USER.id, user.id)
    assert result.action_required
    assert "invitation was emailed" in result.message


@pytest.mark.parametrize(
    ("resource_type_id", "created"), [("user", True), ("", True), ("role", False), ("api-key", False)]
)
async def test_a_create_account_task_for_a_type_without_account_creation_creates_nothing(
    env: Env, resource_type_id: str, created: bool
) -> None:
    """CreateAccountTask names the resource type of the account (field 4). Only `user` advertises
    ACCOUNT_PROVISIONING; a task for any other type made a Datadog user (and emailed an invitation) all the same."""
    handlers = Handlers(env.connector, provisioning=True)
    task = baton_pb2.Task.CreateAccountTask(resource_type_id=resource_type_id)
    task.account_info.profile.update({"email": f"typed.{resource_type_id or 'none'}@example.com"})
    env.fake.reset_counters()
    if created:
        outcome = await handlers.create_account(task)
        assert outcome.ok
    else:
        with pytest.raises(TaskError) as refused:
            await handlers.create_account(task)
        assert refused.value.code is Code.UNIMPLEMENTED
        assert str(refused.value) == f"resource type {resource_type_id!r} does not have account creation"
        assert env.fake.requests() == []


async def test_create_account_for_an_existing_email_sends_nothing(env: Env) -> None:
    manager = env.connector.account_manager()
    assert manager is not None
    existing = _human(env.fake)
    env.fake.reset_counters()

    with pytest.raises(AlreadyExistsError, match="already exists"):
        await manager.create_account(_account(existing.email.upper()))
    assert env.fake.count("POST", INVITATIONS) == 0
    assert env.fake.org.invitations == {}


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two words@example.com", "a@@example.com", "", None, 42])
async def test_create_account_rejects_a_bad_email(env: Env, email: object) -> None:
    manager = env.connector.account_manager()
    assert manager is not None
    env.fake.reset_counters()

    with pytest.raises(InvalidArgumentError, match="email"):
        await manager.create_account(_account(email))
    assert env.fake.requests() == []


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ({"email": 42.0}, "the account profile's email must be a string, not a number"),
        ({"email": {"address": "a@example.com"}}, "the account profile's email must be a string, not an object"),
        ({"email": "a@example.com", "name": ["Ada"]}, "the account profile's name must be a string, not an array"),
        ({"email": "a@example.com", "title": True}, "the account profile's title must be a string, not a boolean"),
    ],
)
async def test_a_profile_value_of_the_wrong_json_type_is_named_in_json_words(
    env: Env, profile: dict[str, object], message: str
) -> None:
    """The profile ConductorOne sends is a Struct (JSON values): "email must be a string, not float" (or dict, list)
    named Python's types, not what was sent, and not where it was."""
    manager = env.connector.account_manager()
    assert manager is not None
    env.fake.reset_counters()
    with pytest.raises(InvalidArgumentError) as raised:
        await manager.create_account(AccountInfo(emails=[], login="", profile=profile))
    assert str(raised.value) == message
    assert env.fake.requests() == []


async def test_create_account_uses_the_emails_list_when_the_profile_has_none(env: Env) -> None:
    manager = env.connector.account_manager()
    assert manager is not None

    result = await manager.create_account(AccountInfo(emails=["listed@example.com"], login="", profile={}))
    user = env.fake.org.user_by_email("listed@example.com")
    assert user is not None
    assert result.resource.id.resource == user.id


async def test_create_account_says_when_the_invitation_was_not_sent(env: Env) -> None:
    manager = env.connector.account_manager()
    assert manager is not None
    env.fake.faults.force(403, path=INVITATIONS, method="POST")

    with pytest.raises(InvitationNotSentError, match="was created, but the invitation email was NOT sent") as caught:
        await manager.create_account(_account("uninvited@example.com"))
    user = env.fake.org.user_by_email("uninvited@example.com")
    assert user is not None
    assert caught.value.user_id == user.id
    assert caught.value.code == Code.PERMISSION_DENIED
    assert not caught.value.retryable
    assert env.fake.org.invitations == {}


# -- actions -------------------------------------------------------------------------------------------


def _args(**values: str | dict[str, str]) -> struct_pb2.Struct:
    args = struct_pb2.Struct()
    args.update(values)
    return args


async def test_disable_and_enable_user(env: Env) -> None:
    actions = env.connector.action_manager()
    assert actions is not None
    assert set(actions.action_names()) == {"disable_user", "enable_user", "update_user"}
    user = _human(env.fake)
    env.fake.reset_counters()

    disabled = await actions.invoke_action("disable_user", _args(user_id=user.id))
    assert user.status == "Disabled"
    assert dict(disabled.response) == {"success": True, "user_id": user.id, "status": "Disabled"}
    assert (env.fake.count("GET", USER), env.fake.count("DELETE", USER)) == (0, 1)  # the DELETE decides

    again = await actions.invoke_action("disable_user", _args(user_id=user.id))
    assert again.response["success"] is True
    assert user.status == "Disabled"
    # Datadog's 404 to the repeat is "disabled or unknown": the read tells which.
    assert (env.fake.count("GET", USER), env.fake.count("DELETE", USER)) == (1, 2)

    enabled = await actions.invoke_action("enable_user", _args(user_id=user.id))
    assert user.status == "Active"
    assert dict(enabled.response) == {"success": True, "user_id": user.id, "status": "Active"}


async def test_action_accepts_a_resource_id_argument(env: Env) -> None:
    actions = env.connector.action_manager()
    assert actions is not None
    user = _human(env.fake)

    await actions.invoke_action("disable_user", _args(user_id={"resource_type_id": "user", "resource_id": user.id}))
    assert user.status == "Disabled"
    with pytest.raises(InvalidArgumentError, match="'team'"):
        await actions.invoke_action("enable_user", _args(user_id={"resource_type_id": "team", "resource_id": user.id}))


@pytest.mark.parametrize(
    ("name", "resource_type_id", "runs"),
    [
        ("update_user", "user", True),
        ("update_user", "", True),
        ("disable_user", "", True),
        ("disable_user", "user", True),
        ("update_user", "team", False),
        ("update_user", "role", False),
    ],
)
async def test_an_action_scoped_to_one_resource_type_does_not_run_for_another(
    env: Env, name: str, resource_type_id: str, runs: bool
) -> None:
    """ActionInvokeTask.resource_type_id names the type whose actions are meant (the listing filters by it): the SDK
    finds only actions scoped to that type there. The handler ignored it, so `update_user`, a `user` action, ran when
    invoked as a `team` one. Global actions still run whatever type is named (offboarding is not refused on a
    label)."""
    user = _human(env.fake)
    task = baton_pb2.Task.ActionInvokeTask(name=name, resource_type_id=resource_type_id)
    task.args.update({"user_id": {"resource_type_id": "user", "resource_id": user.id}, "name": "Renamed"})
    handlers = Handlers(env.connector, provisioning=True)
    env.fake.reset_counters()
    if runs:
        assert (await handlers.invoke_action(task)).ok
        return
    with pytest.raises(TaskError) as refused:
        await handlers.invoke_action(task)
    assert refused.value.code is Code.UNIMPLEMENTED
    assert str(refused.value) == f"action {name!r} not found for resource type {resource_type_id!r}"
    assert env.fake.requests() == []


async def test_unknown_action_and_missing_user_id(env: Env) -> None:
    actions = env.connector.action_manager()
    assert actions is not None
    with pytest.raises(UnimplementedError, match="'delete_user'"):
        await actions.invoke_action("delete_user", _args(user_id="x"))
    with pytest.raises(InvalidArgumentError, match="user_id"):
        await actions.invoke_action("disable_user", _args())
    with pytest.raises(InvalidArgumentError, match="user_id"):
        await actions.invoke_action("disable_user", _args(user_id=""))


HUGE_ID = "u" * 1_000_000


@pytest.mark.parametrize(
    "call",
    [
        "role grant principal",
        "role grant role",
        "team revoke principal",
        "team revoke team",
        "disable_user",
        "update_user",
    ],
)
async def test_an_id_no_path_can_hold_is_refused_at_once_and_never_quoted_whole(env: Env, call: str) -> None:
    """A task's 1 MB id: refused before any request, and no log line or message carries it whole (update_user's
    failure line quoted the user id as sent, 1 MB, once the request it could never fit in was refused)."""
    user = _human(env.fake)
    team = _team(env.fake, {user.id: "admin"})
    _, role_entitlement = _role(env.fake)
    actions = env.connector.action_manager()
    assert actions is not None
    huge_user = b.resource(types.USER, HUGE_ID, "")
    huge_team = b.entitlement(b.resource(types.TEAM, HUGE_ID, ""), teams.ADMIN)
    huge_role = roles.member_entitlement(b.resource(types.ROLE, HUGE_ID, ""))
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "role grant principal": lambda: env.provisioner(types.ROLE.id).grant(huge_user, role_entitlement),
        "role grant role": lambda: env.provisioner(types.ROLE.id).grant(_principal(user), huge_role),
        "team revoke principal": lambda: env.provisioner(types.TEAM.id).revoke(
            grant_pb2.Grant(entitlement=_team_entitlement(team, teams.ADMIN), principal=huge_user)
        ),
        "team revoke team": lambda: env.provisioner(types.TEAM.id).revoke(
            grant_pb2.Grant(entitlement=huge_team, principal=_principal(user))
        ),
        "disable_user": lambda: actions.invoke_action("disable_user", _args(user_id=HUGE_ID)),
        "update_user": lambda: actions.invoke_action(
            "update_user", _args(user_id={"resource_type_id": "user", "resource_id": HUGE_ID}, name="x")
        ),
    }
    env.fake.reset_counters()
    with structlog.testing.capture_logs() as events, pytest.raises(InvalidArgumentError) as caught:
        await calls[call]()
    assert len(str(caught.value)) < 300
    assert all(len(repr(event)) < 2000 for event in events)
    assert env.fake.requests() == []
    assert _membership_role(team, user) == "admin"


# -- what each decision costs: the exact Datadog requests of every grant and revoke ----------------------

Held = str | None  # the state before: None (no access), "member", "admin" (team) or "holder" (role)
Expected = list[tuple[str, str, int]]

# (resource type, slug, operation, state before, exact requests, idempotency annotation or None)
COSTS: list[tuple[str, str, str, Held, Expected, type | None]] = [
    # Datadog answers a role add with 200 whether or not the user already had the role, so only a read of the
    # user tells a grant from a repeat: the one decision that needs two requests (docs/benchmarks.md).
    ("role", roles.MEMBER, "grant", None, [("GET", USER, 200), ("POST", ROLE_USERS, 200)], None),
    # The add is sent even when the read shows the role held: a read may lag behind a recent removal.
    ("role", roles.MEMBER, "grant", "holder", [("GET", USER, 200), ("POST", ROLE_USERS, 200)], GrantAlreadyExists),
    ("role", roles.MEMBER, "revoke", "holder", [("DELETE", ROLE_USERS, 200)], None),
    ("role", roles.MEMBER, "revoke", None, [("DELETE", ROLE_USERS, 404)], GrantAlreadyRevoked),
    ("team", teams.MEMBER, "grant", None, [("POST", MEMBERSHIPS, 200)], None),
    ("team", teams.MEMBER, "grant", "member", [("POST", MEMBERSHIPS, 409)], GrantAlreadyExists),
    ("team", teams.MEMBER, "grant", "admin", [("POST", MEMBERSHIPS, 409)], GrantAlreadyExists),
    ("team", teams.MEMBER, "revoke", "member", [("DELETE", MEMBERSHIP, 204)], None),
    ("team", teams.MEMBER, "revoke", None, [("DELETE", MEMBERSHIP, 404)], GrantAlreadyRevoked),
    ("team", teams.ADMIN, "grant", None, [("POST", MEMBERSHIPS, 200)], None),
    (
        "team", teams.ADMIN, "grant", "admin",
        [("POST", MEMBERSHIPS, 409), ("GET", MEMBERSHIPS, 200), ("PATCH", MEMBERSHIP, 200)], GrantAlreadyExists,
    ),
    (
        "team", teams.ADMIN, "grant", "member",
        [("POST", MEMBERSHIPS, 409), ("GET", MEMBERSHIPS, 200), ("PATCH", MEMBERSHIP, 200)], None,
    ),
    ("team", teams.ADMIN, "revoke", "admin", [("GET", MEMBERSHIPS, 200), ("PATCH", MEMBERSHIP, 200)], None),
    # The demotion is sent even when the read shows a plain member: a list may lag behind a recent promotion.
    ("team", teams.ADMIN, "revoke", "member", [("GET", MEMBERSHIPS, 200), ("PATCH", MEMBERSHIP, 200)], GrantAlreadyRevoked),
    (
        "team", teams.ADMIN, "revoke", None,
        [("GET", MEMBERSHIPS, 200), ("PATCH", MEMBERSHIP, 404)], GrantAlreadyRevoked,
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rtype", "slug", "operation", "before", "requests", "annotation"),
    COSTS,
    ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[3] or 'none'}" for c in COSTS],
)
async def test_each_decision_costs_exactly_these_requests(
    env: Env, rtype: str, slug: str, operation: str, before: Held, requests: Expected, annotation: type | None
) -> None:
    fake, user = env.fake, _human(env.fake)
    if rtype == "role":
        role, entitlement = _role(fake)
        if before == "holder":
            fake.org.assign_role(user.id, role.id)
    else:
        team = _team(fake, {user.id: "admin" if before == "admin" else None} if before else None)
        entitlement = _team_entitlement(team, slug)
    provisioner = env.provisioner(rtype)
    fake.reset_counters()

    if operation == "grant":
        annotations = list((await provisioner.grant(_principal(user), entitlement)).annotations)
    else:
        annotations = await provisioner.revoke(_grant_of(entitlement, user))

    assert [(s.method, s.route, s.status) for s in fake.requests()] == requests
    if annotation is None:
        assert annotations == []
    else:
        assert ann.has(annotations, annotation)
    # And Datadog ends in the requested state.
    if rtype == "role":
        assert (role.id in user.role_ids) is (operation == "grant")
    elif operation == "grant":
        assert _membership_role(team, user) == ("admin" if slug == teams.ADMIN or before == "admin" else None)
    elif slug == teams.MEMBER:
        assert user.id not in team.members
    else:
        assert before is None or _membership_role(team, user) is None


class AnsweredAbout(ToTheFake):
    """Forwards to the fake; the answer to a POST of `path` is replaced by `answer(original body)`."""

    def __init__(self, path: str, answer: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        super().__init__()
        self._path, self._answer = path, answer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "POST" or request.url.path != self._path:
            return response
        body = json.loads(await response.aread())
        await response.aclose()
        return httpx.Response(response.status_code, json=self._answer(body))


async def test_create_account_answered_with_another_user_invites_nobody(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    """The invitation goes to the user the create's answer names: an answer about another (pending) user had that
    user invited and reported as the account created, while the new one stayed uninvited."""
    other = _human(fake, status="Pending")
    transport = AnsweredAbout("/api/v2/users", lambda _: {"data": render.user(other, fake.org)})
    client = make_client(fake, transport=transport)
    manager = DatadogConnector(client, ON).account_manager()
    assert manager is not None
    fake.reset_counters()
    with pytest.raises(ConnectorError, match="the answer is about another user") as caught:
        await manager.create_account(_account("asked.for@example.com"))
    assert "may have been created" in str(caught.value)
    assert "no invitation was sent" in str(caught.value)
    assert fake.count("POST", INVITATIONS) == 0
    assert fake.org.user_by_email("asked.for@example.com") is not None


async def test_create_account_answered_without_the_users_email_invites_nobody(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    """Datadog's create answer is the new user, email and all. One that leaves the email out (a stub's) named a user
    all the same, who was invited and reported as the account created: only an answer showing the address asked for
    says which user the create made."""

    def without_email(body: dict[str, Any]) -> dict[str, Any]:
        body["data"]["attributes"].pop("email", None)
        return body

    client = make_client(fake, transport=AnsweredAbout("/api/v2/users", without_email))
    manager = DatadogConnector(client, ON).account_manager()
    assert manager is not None
    fake.reset_counters()
    with pytest.raises(ConnectorError, match="the answer does not show the user's email") as caught:
        await manager.create_account(_account("asked.for@example.com"))
    assert "may have been created" in str(caught.value)
    assert fake.count("POST", INVITATIONS) == 0


@pytest.mark.parametrize(("named", "says"), [("other", "the answer is about another user"), (None, "names no user")])
async def test_create_account_whose_invitation_answer_names_another_user_is_not_invited(
    fake: FakeDatadog, make_client: ClientFactory, named: str | None, says: str
) -> None:
    """The invitation's answer names the user it was sent to: one naming another user, or nobody, was reported as
    this user invited."""
    other = _human(fake, status="Pending")

    def elsewhere(body: dict[str, Any]) -> dict[str, Any]:
        for invitation in body["data"]:
            if named is None:
                del invitation["relationships"]
            else:
                invitation["relationships"]["user"]["data"]["id"] = other.id
        return body

    client = make_client(fake, transport=AnsweredAbout(INVITATIONS, elsewhere))
    manager = DatadogConnector(client, ON).account_manager()
    assert manager is not None
    with pytest.raises(InvitationNotSentError, match=says):
        await manager.create_account(_account(f"asked.for.{named}@example.com"))


async def test_create_account_says_the_invitation_may_have_gone_out_when_its_answer_is_lost(env: Env) -> None:
    """A 5xx to the invitation may come after Datadog sent it: "was NOT sent" told the operator something nobody
    knows (and a resend then emails twice). Only a refusal says it was not sent."""
    manager = env.connector.account_manager()
    assert manager is not None
    env.fake.faults.force(502, path=INVITATIONS, method="POST")
    with pytest.raises(InvitationNotSentError, match="the invitation email may not have been sent"):
        await manager.create_account(_account("maybe.invited@example.com"))


async def test_create_account_whose_create_answer_is_lost_says_the_user_may_exist(env: Env) -> None:
    """A 5xx to the create may come after Datadog made the user; ConductorOne's retry then stops at "already exists,
    no account was created", and the user stays uninvited with nothing said."""
    manager = env.connector.account_manager()
    assert manager is not None
    env.fake.faults.force(503, path="/api/v2/users", method="POST")
    env.fake.reset_counters()
    with pytest.raises(ConnectorError, match="the user may have been created all the same") as caught:
        await manager.create_account(_account("maybe.created@example.com"))
    assert caught.value.code == Code.UNAVAILABLE
    assert env.fake.count("POST", INVITATIONS) == 0


@pytest.mark.parametrize(
    ("rtype", "slug", "operation", "method", "before"),
    [
        ("role", roles.MEMBER, "revoke", "DELETE", "holder"),
        ("team", teams.MEMBER, "grant", "POST", None),
        ("team", teams.MEMBER, "revoke", "DELETE", "member"),
        ("team", teams.ADMIN, "grant", "POST", None),
    ],
    ids=["role-revoke", "team-member-grant", "team-member-revoke", "team-admin-grant"],
)
async def test_a_change_whose_answer_was_lost_is_not_reported_as_already_so(
    env: Env, make_client: ClientFactory, rtype: str, slug: str, operation: str, method: str, before: str | None
) -> None:
    """The first attempt made the change and its answer was lost; the retry's 404 or 409 is that change, and it was
    reported "already revoked" / "already granted" (the one-shot: "nothing changed") when this very call made it."""
    user = _human(env.fake)
    transport = FirstAnswerLost(method)
    client = make_client(env.fake, transport=transport)
    provisioner = DatadogConnector(client, ON).provisioner(rtype)
    assert provisioner is not None
    if rtype == "role":
        role, entitlement = _role(env.fake)
        env.fake.org.assign_role(user.id, role.id)
    else:
        team = _team(env.fake, {user.id: None} if before else None)
        entitlement = _team_entitlement(team, slug)
    if operation == "grant":
        annotations = list((await provisioner.grant(_principal(user), entitlement)).annotations)
    else:
        annotations = await provisioner.revoke(_grant_of(entitlement, user))
    assert transport.lost == 1
    assert annotations == []
    if rtype == "role":
        assert role.id not in user.role_ids
    else:
        assert (user.id in team.members) is (operation == "grant")


class DemotionLostAsTheMemberLeaves(ToTheFake):
    """The first PATCH of a membership never lands: its answer is a 502, and meanwhile another writer removes the
    user from the team, so the retry finds no membership (404)."""

    def __init__(self, team: Team, user_id: str) -> None:
        super().__init__()
        self._team, self._user_id = team, user_id
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "PATCH" or self.lost:
            return await self._inner.handle_async_request(request)
        self.lost += 1
        del self._team.members[self._user_id]
        return httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>")


async def test_a_demotion_retried_into_a_404_is_already_revoked(env: Env, make_client: ClientFactory) -> None:
    """An add's 409 or a removal's 404 after a lost answer may be that attempt's own doing (above); a demotion's 404
    never is: demoting makes no one a non-member. The admin grant was ended by whoever removed the user, and the
    revoke reports it already revoked rather than done by this call."""
    user = _human(env.fake)
    team = _team(env.fake, {user.id: "admin"})
    transport = DemotionLostAsTheMemberLeaves(team, user.id)
    client = make_client(env.fake, transport=transport)
    provisioner = DatadogConnector(client, ON).provisioner(types.TEAM.id)
    assert provisioner is not None
    annotations = await provisioner.revoke(_grant_of(_team_entitlement(team, teams.ADMIN), user))
    assert transport.lost == 1
    assert ann.has(annotations, GrantAlreadyRevoked)
    assert [s.status for s in env.fake.requests("PATCH", MEMBERSHIP)] == [404]


async def test_a_task_carrying_megabytes_is_refused_in_a_short_error(env: Env) -> None:
    """Refusals quote the task's ids: a task carrying a megabyte id (ConductorOne's messages go up to 4 MB) made a
    megabyte error, sent back to ConductorOne and written to the log, four times the size where the id held
    control characters (each quoted as `\\x01`)."""
    _, entitlement = _role(env.fake)
    huge = "\x01" * 1_000_000
    provisioner = env.provisioner(types.ROLE.id)
    env.fake.reset_counters()
    with pytest.raises(InvalidArgumentError, match=r"malformed: .*\.\.\.\(1000000 characters\)") as bad_principal:
        await provisioner.grant(b.resource(types.USER, huge, "x"), entitlement)
    foreign = entitlement_pb2.Entitlement(resource=entitlement.resource, id=huge)
    with pytest.raises(InvalidArgumentError, match=r"does not belong to") as bad_entitlement:
        await provisioner.grant(_principal(_human(env.fake)), foreign)
    assert max(len(str(bad_principal.value)), len(str(bad_entitlement.value))) < 2000
    assert env.fake.requests() == []


@pytest.mark.parametrize(
    "given", ["", " ", "..", "u\n1", "u" * 1025], ids=["empty", "blank", "dots", "newline", "long"]
)
async def test_create_account_answered_with_an_unusable_user_id_invites_nobody(
    fake: FakeDatadog, make_client: ClientFactory, given: str
) -> None:
    """The create's answer names the new user by its id, which the invitation, ConductorOne's record of the account and
    every later grant or action use. An id no request can carry (empty, a dot segment, a control character, over 1,024
    characters) had an invitation sent for it, and the account was reported created under it, never to be granted
    anything: such an answer says nothing usable of which user was made."""

    def renamed(body: dict[str, Any]) -> dict[str, Any]:
        body["data"]["id"] = given
        return body

    client = make_client(fake, transport=AnsweredAbout("/api/v2/users", renamed))
    manager = DatadogConnector(client, ON).account_manager()
    assert manager is not None
    fake.reset_counters()
    with pytest.raises(ConnectorError, match="the answer names the user by an id no later request can use") as caught:
        await manager.create_account(_account("asked.for@example.com"))
    assert "may have been created" in str(caught.value)
    assert "no invitation was sent" in str(caught.value)
    assert fake.count("POST", INVITATIONS) == 0
    assert fake.org.user_by_email("asked.for@example.com") is not None


# -- a 409 that does not say "already a member" ----------------------------------------------------------


async def test_a_team_member_grant_answered_409_for_another_reason_is_not_already_granted(env: Env) -> None:
    """Datadog's 409 on a membership add says "users already present on the team [<user>]" (datadog-api §6.2): only
    that 409 is the grant already there. Any other 409 was reported GrantAlreadyExists with the user never added; a
    read of the team now decides, and a user it does not list is an error naming the refusal."""
    user = _human(env.fake)
    team = _team(env.fake)
    env.fake.faults.force(409, path=f"/api/v2/team/{team.id}/memberships", method="POST")

    with pytest.raises(UnexpectedResponse, match="a conflict, yet the user is not a member of the team"):
        await env.provisioner(types.TEAM.id).grant(_principal(user), _team_entitlement(team, teams.MEMBER))
    assert user.id not in team.members


async def test_a_team_member_grant_answered_409_for_another_reason_reads_an_existing_member_as_a_repeat(
    env: Env,
) -> None:
    user = _human(env.fake)
    team = _team(env.fake, members={user.id: "admin"})
    env.fake.faults.force(409, path=f"/api/v2/team/{team.id}/memberships", method="POST")
    env.fake.reset_counters()

    result = await env.provisioner(types.TEAM.id).grant(_principal(user), _team_entitlement(team, teams.MEMBER))
    assert ann.has(result.annotations, GrantAlreadyExists)
    assert _membership_role(team, user) == "admin"
    assert [(s.method, s.route) for s in env.fake.requests()] == [("POST", MEMBERSHIPS), ("GET", MEMBERSHIPS)]


async def test_a_team_admin_grant_answered_409_for_another_reason_is_refused_not_retried_as_a_race(
    env: Env,
) -> None:
    """A 409 that is no "already present" and a promotion answered 404 (no membership): the grant is refused, naming
    the conflict, where it tried three rounds and blamed a membership that "kept changing"."""
    user = _human(env.fake)
    team = _team(env.fake)
    env.fake.faults.force(409, times=3, path=f"/api/v2/team/{team.id}/memberships", method="POST")

    with pytest.raises(UnexpectedResponse, match="a conflict, yet the user is not a member of the team"):
        await env.provisioner(types.TEAM.id).grant(_principal(user), _team_entitlement(team, teams.ADMIN))
    assert user.id not in team.members
    assert env.fake.count("POST", MEMBERSHIPS) == 1


# -- ids with surrounding whitespace ----------------------------------------------------------------------

# How an id given with whitespace is refused: around it (`<uuid> `, a no-break or em space), or inside it (a row of
# `inspect` pasted whole, `<uuid>  Jane Doe`).
SPACED = [(pad, "surrounding whitespace") for pad in (" {}", "{} ", "{}\u00a0", "\u2003{}")] + [
    ("{}  Jane Doe", "whitespace or an invisible character, which no Datadog id holds")
]


@pytest.mark.parametrize(("spaced", "refusal"), SPACED)
@pytest.mark.parametrize("where", ["principal", "team", "role"])
async def test_a_revoke_naming_an_id_with_whitespace_is_refused_not_already_revoked(
    env: Env, where: str, spaced: str, refusal: str
) -> None:
    """Datadog's ids are UUIDs: `<uuid> ` or `<uuid>  Jane Doe` names nothing, so Datadog answered the revoke 404 and
    it was reported GrantAlreadyRevoked (the one-shot printed "not in Datadog", exit 0) while the user kept the role or
    membership the task meant. The task is refused as malformed, before any request (a grant of it was refused too,
    by Datadog's 404 on the user)."""
    user = _human(env.fake)
    team = _team(env.fake, members={user.id: None})
    role, _ = _role(env.fake)
    env.fake.org.assign_role(user.id, role.id)
    principal_id = spaced.format(user.id) if where == "principal" else user.id
    if where == "role":
        rtype = types.ROLE.id
        entitlement = roles.member_entitlement(b.resource(types.ROLE, spaced.format(role.id), role.name))
    else:
        rtype = types.TEAM.id
        team_id = spaced.format(team.id) if where == "team" else team.id
        entitlement = b.entitlement(b.resource(types.TEAM, team_id, team.name), teams.MEMBER)
    grant = b.grant(entitlement.resource, entitlement.slug, b.resource_id(types.USER.id, principal_id))
    env.fake.reset_counters()

    with pytest.raises(InvalidArgumentError, match=refusal):
        await env.provisioner(rtype).revoke(grant)
    assert env.fake.requests() == []
    assert user.id in team.members
    assert role.id in user.role_ids


async def test_a_team_admin_revoke_whose_membership_read_answers_404_still_sends_the_demotion(env: Env) -> None:
    """The read before an admin revoke is for the report only. A 404 on it ended the revoke "already revoked" with no
    demotion sent (taken as "the team no longer exists"), and the user stayed admin: the demotion's own answer
    decides, as it does for every other read."""
    user = _human(env.fake)
    team = _team(env.fake, members={user.id: "admin"})
    env.fake.faults.force(404, path=f"/api/v2/team/{team.id}/memberships", method="GET")

    assert await env.provisioner(types.TEAM.id).revoke(_grant_of(_team_entitlement(team, teams.ADMIN), user)) == []
    assert _membership_role(team, user) is None
    assert user.id in team.members


async def test_a_team_admin_revoke_of_a_team_that_is_gone_is_already_revoked(env: Env) -> None:
    user = _human(env.fake)
    team = _team(env.fake, members={user.id: "admin"})
    entitlement = _team_entitlement(team, teams.ADMIN)
    del env.fake.org.teams[team.id]
    env.fake.reset_counters()

    assert ann.has(await env.provisioner(types.TEAM.id).revoke(_grant_of(entitlement, user)), GrantAlreadyRevoked)
    assert [(s.method, s.route, s.status) for s in env.fake.requests()] == [
        ("GET", MEMBERSHIPS, 404),
        ("PATCH", MEMBERSHIP, 404),
    ]


async def test_a_team_admin_grant_whose_membership_read_answers_404_still_sends_the_promotion(env: Env) -> None:
    """The same read before an admin grant's promotion: its 404 failed the grant, with the promotion never sent."""
    user = _human(env.fake)
    team = _team(env.fake, members={user.id: None})
    env.fake.faults.force(404, path=f"/api/v2/team/{team.id}/memberships", method="GET")

    result = await env.provisioner(types.TEAM.id).grant(_principal(user), _team_entitlement(team, teams.ADMIN))
    assert result.annotations == []
    assert _membership_role(team, user) == "admin"


# -- ids compared as UUIDs, whatever their case -------------------------------------------------------------


class _ReadsInUpperCase(ToTheFake):
    """Datadog's reads naming `value` in upper case (UUIDs compare without case; the client's checks take them so)."""

    def __init__(self, value: str, path_part: str) -> None:
        super().__init__()
        self._value, self._path_part = value, path_part

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = await self._inner.handle_async_request(request)
        if request.method != "GET" or self._path_part not in request.url.path:
            return answer
        body = (await answer.aread()).replace(self._value.encode(), self._value.upper().encode())
        headers = [(k, v) for k, v in answer.headers.items() if k.lower() not in ("content-length", "content-encoding")]
        return httpx.Response(answer.status_code, headers=headers, content=body)


async def test_a_repeated_team_admin_grant_is_already_granted_whatever_the_case_of_the_listed_id(
    env: Env, make_client: ClientFactory
) -> None:
    """The membership read matched the user by exact text, where the client takes ids as UUIDs (any case): a repeated
    admin grant was reported as a change, and a 409 checked by the read would be taken as "not a member"."""
    user = _human(env.fake)
    team = _team(env.fake, members={user.id: "admin"})
    client = make_client(env.fake, transport=_ReadsInUpperCase(user.id, "/memberships"))
    provisioner = DatadogConnector(client, ON).provisioner(types.TEAM.id)
    assert provisioner is not None

    result = await provisioner.grant(_principal(user), _team_entitlement(team, teams.ADMIN))
    assert ann.has(result.annotations, GrantAlreadyExists)
    env.fake.faults.force(409, path=f"/api/v2/team/{team.id}/memberships", method="POST")
    result = await provisioner.grant(_principal(user), _team_entitlement(team, teams.MEMBER))
    assert ann.has(result.annotations, GrantAlreadyExists)
    assert _membership_role(team, user) == "admin"


async def test_a_repeated_role_grant_is_already_granted_whatever_the_case_of_the_listed_role(
    env: Env, make_client: ClientFactory
) -> None:
    role, entitlement = _role(env.fake)
    user = _human(env.fake)
    env.fake.org.assign_role(user.id, role.id)
    client = make_client(env.fake, transport=_ReadsInUpperCase(role.id, "/api/v2/users/"))
    provisioner = DatadogConnector(client, ON).provisioner(types.ROLE.id)
    assert provisioner is not None

    result = await provisioner.grant(_principal(user), entitlement)
    assert ann.has(result.annotations, GrantAlreadyExists)
    assert role.id in user.role_ids


class _RoleAnsweredAs(ToTheFake):
    """A membership write answered with `role` shown as `shown` (a value Datadog never sends: "admin" or null)."""

    def __init__(self, shown: str, methods: tuple[str, ...] = ("POST", "PATCH")) -> None:
        super().__init__()
        self._shown, self._methods = shown, methods

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = await self._inner.handle_async_request(request)
        if request.method not in self._methods or "/memberships" not in request.url.path:
            return answer
        document = json.loads(await answer.aread())
        data = document["data"]
        for membership in data if isinstance(data, list) else [data]:
            membership["attributes"]["role"] = self._shown
        return httpx.Response(answer.status_code, json=document)


@pytest.mark.parametrize("shown", ["maintainer", "Admin", "admin "])
async def test_a_demotion_answered_with_a_role_datadog_never_sends_is_not_done(
    env: Env, make_client: ClientFactory, shown: str
) -> None:
    """Datadog's membership role is "admin" or null (datadog-api §6.2). Any other value read as a plain member, so a
    demotion answered "Admin" (or "admin ", "maintainer") was reported done on an answer that does not say so."""
    user = _human(env.fake)
    team = _team(env.fake, members={user.id: "admin"})
    client = make_client(env.fake, transport=_RoleAnsweredAs(shown))
    provisioner = DatadogConnector(client, ON).provisioner(types.TEAM.id)
    assert provisioner is not None

    with pytest.raises(UnexpectedResponse, match="the membership's role is"):
        await provisioner.revoke(_grant_of(_team_entitlement(team, teams.ADMIN), user))
    other = _human(env.fake, skip=1)
    with pytest.raises(UnexpectedResponse, match="the membership's role is"):
        await provisioner.grant(_principal(other), _team_entitlement(team, teams.MEMBER))


async def test_an_admin_revoke_read_showing_a_role_datadog_never_sends_is_not_already_revoked(
    env: Env, make_client: ClientFactory
) -> None:
    """The read before a demotion labels the report: only a plain member's (role null) admin is already revoked. A read
    showing "Admin" counted as a member, and the demotion that changed the membership was reported
    GrantAlreadyRevoked."""
    user = _human(env.fake)
    team = _team(env.fake, members={user.id: "admin"})
    client = make_client(env.fake, transport=_RoleAnsweredAs("Admin", methods=("GET",)))
    provisioner = DatadogConnector(client, ON).provisioner(types.TEAM.id)
    assert provisioner is not None

    assert await provisioner.revoke(_grant_of(_team_entitlement(team, teams.ADMIN), user)) == []
    assert _membership_role(team, user) is None


# -- a large team whose membership changes while it is read -------------------------------------------------------


class MemberLeavesMidRead(ToTheFake):
    """Another member leaves `team` just before the memberships page 1 is read: a busy team of thousands (members
    leaving through SCIM all day) whose listing shrinks under a walk of its pages."""

    def __init__(self, team: Team, leaver: str) -> None:
        super().__init__()
        self._team, self._leaver = team, leaver

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        page = request.url.params.get("page[number]")
        if request.method == "GET" and request.url.path.endswith("/memberships") and page == "1":
            self._team.members.pop(self._leaver, None)
        return await self._inner.handle_async_request(request)


class Page1Unavailable(ToTheFake):
    """Every attempt at page 1 of a team's memberships answers 503 (the other requests reach the fake)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        page = request.url.params.get("page[number]")
        if request.method == "GET" and request.url.path.endswith("/memberships") and page == "1":
            return httpx.Response(503, json={"errors": ["Service Unavailable"]})
        return await self._inner.handle_async_request(request)


def _busy_team(fake: FakeDatadog, user: User, role: str | None) -> tuple[Team, str]:
    """A team of 150 members, `user` the last (on page 1) with `role`; and the member who leaves mid-read (page 0)."""
    team = _team(fake)
    fillers = [fake.org.add_user(f"busy-{i:03d}@example.com", status="Active").id for i in range(149)]
    for filler in fillers:
        fake.org.add_member(team, filler)
    fake.org.add_member(team, user.id, role=role)
    return team, fillers[0]


@pytest.mark.parametrize("failure", ["a member leaves mid-read", "page 1 answers 503 on every attempt"])
@pytest.mark.parametrize("operation", ["grant", "revoke"])
async def test_a_team_admin_change_is_sent_when_the_read_for_its_report_fails(
    env: Env, make_client: ClientFactory, operation: str, failure: str
) -> None:
    """The memberships read before an admin grant's promotion or an admin revoke's demotion only tells the report
    "already so" from "changed". A member leaving a large team while its pages were read failed that read (its total
    fell), as did a page answering 503 past the retries, and with it the grant or revoke, the promotion or demotion
    never sent (and provisioning failures are final to ConductorOne): a just-in-time admin stayed admin. The write is
    sent; without the read, the report says it changed Datadog."""
    user = _human(env.fake)
    team, leaver = _busy_team(env.fake, user, "admin" if operation == "revoke" else None)
    transport = MemberLeavesMidRead(team, leaver) if failure == "a member leaves mid-read" else Page1Unavailable()
    client = make_client(env.fake, transport=transport)
    provisioner = DatadogConnector(client, ON).provisioner(types.TEAM.id)
    assert provisioner is not None
    entitlement = _team_entitlement(team, teams.ADMIN)
    env.fake.reset_counters()

    if operation == "grant":
        assert (await provisioner.grant(_principal(user), entitlement)).annotations == []
        assert _membership_role(team, user) == "admin"
    else:
        assert await provisioner.revoke(_grant_of(entitlement, user)) == []
        assert _membership_role(team, user) is None
    assert env.fake.count("PATCH", MEMBERSHIP) == 1
