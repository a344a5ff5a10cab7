"""Provisioning calls change the fake's state, and repeat calls surface as typed errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from connector.baton.errors import InvalidArgumentError
from connector.datadog.client import DatadogClient
from connector.datadog.errors import Conflict, Invalid, NotFound, UnexpectedResponse
from connector.datadog.paging import paginate
from tests.datadog.helpers import answered_by, listed
from tests.fakes.datadog import FakeDatadog
from tests.fakes.datadog.org import Role, Team, User


def _custom_role(fake: FakeDatadog) -> Role:
    return next(r for r in fake.org.roles.values() if not r.managed)


def _active_user(fake: FakeDatadog, *, not_in: Team | None = None) -> User:
    return next(
        u
        for u in fake.org.users.values()
        if u.status == "Active" and not u.service_account and (not_in is None or u.id not in not_in.members)
    )


def _smallest_team(fake: FakeDatadog) -> Team:
    return min(fake.org.teams.values(), key=lambda t: len(t.members))


async def test_role_grant_and_revoke(fake: FakeDatadog, client: DatadogClient) -> None:
    role = _custom_role(fake)
    user = next(u for u in fake.org.users.values() if role.id not in u.role_ids)

    await client.add_user_to_role(role.id, user.id)
    assert role.id in user.role_ids
    assert user.id in fake.org.role_members[role.id]
    # The users walk now reports the grant, without any per-role request.
    walked = {u.id: u.role_ids async for page in paginate(listed(client.fetch_users)) for u in page.items}
    assert role.id in walked[user.id]

    await client.add_user_to_role(role.id, user.id)  # granting twice is harmless
    assert user.role_ids.count(role.id) == 1

    await client.remove_user_from_role(role.id, user.id)
    assert role.id not in user.role_ids
    assert user.id not in fake.org.role_members[role.id]
    with pytest.raises(NotFound):
        await client.remove_user_from_role(role.id, user.id)


async def test_team_membership_lifecycle(fake: FakeDatadog, client: DatadogClient) -> None:
    team = _smallest_team(fake)
    user = _active_user(fake, not_in=team)

    member = await client.add_team_member(team.id, user.id)
    assert (member.user_id, member.team_role, member.team_id) == (user.id, "member", team.id)
    assert fake.org.teams[team.id].members[user.id].role is None

    with pytest.raises(Conflict):
        await client.add_team_member(team.id, user.id, role="admin")

    promoted = await client.update_team_membership(team.id, user.id, role="admin")
    assert promoted.team_role == "admin"
    assert team.members[user.id].role == "admin"

    # Demotion keeps the membership (the Go connector deleted it) and sends role null, not "member".
    demoted = await client.update_team_membership(team.id, user.id, role="member")
    assert demoted.team_role == "member"
    assert team.members[user.id].role is None
    patch = fake.requests("PATCH", "/api/v2/team/{team_id}/memberships/{user_id}")
    assert [s.status for s in patch] == [200, 200]

    await client.remove_team_member(team.id, user.id)
    assert user.id not in team.members
    with pytest.raises(NotFound):
        await client.remove_team_member(team.id, user.id)


async def test_add_team_admin_directly(fake: FakeDatadog, client: DatadogClient) -> None:
    team = _smallest_team(fake)
    user = _active_user(fake, not_in=team)
    admin = await client.add_team_member(team.id, user.id, role="admin")
    assert admin.team_role == "admin"
    assert team.members[user.id].role == "admin"
    with pytest.raises(ValueError, match="member"):
        await client.add_team_member(team.id, user.id, role="owner")  # type: ignore[arg-type]


async def test_create_invite_disable_enable(fake: FakeDatadog, client: DatadogClient) -> None:
    created = await client.create_user("New.Person@Example.com", name="New Person", title="SRE")
    stored = fake.org.users[created.id]
    assert (created.email, created.status, created.verified) == ("new.person@example.com", "Pending", False)
    assert (stored.name, stored.title) == ("New Person", "SRE")

    invitation = await client.send_invitation(created.id)
    assert invitation.user_id == created.id
    assert fake.org.invitations[invitation.id].user_id == created.id
    assert invitation.expires_at is not None
    assert invitation.created_at is not None

    with pytest.raises(Conflict):
        await client.create_user("new.person@example.com")

    await client.disable_user(created.id)
    assert stored.status == "Disabled"
    assert (await client.get_user(created.id)).disabled
    with pytest.raises(NotFound):
        await client.disable_user(created.id)

    enabled = await client.enable_user(created.id)
    assert not enabled.disabled
    assert stored.status == "Pending"


async def test_update_user_and_validation(fake: FakeDatadog, client: DatadogClient) -> None:
    user = _active_user(fake)
    updated = await client.update_user(user.id, name="Renamed", title="Boss")
    assert (updated.name, fake.org.users[user.id].title) == ("Renamed", "Boss")
    with pytest.raises(ValueError, match="at least one"):
        await client.update_user(user.id)
    with pytest.raises(NotFound):
        await client.update_user("00000000-0000-4000-8000-000000000000", name="x")
    with pytest.raises(Invalid):
        await client.create_user("not-an-email")


async def test_ids_cannot_escape_their_path_segment(fake: FakeDatadog, client: DatadogClient) -> None:
    with pytest.raises(NotFound):
        await client.get_user("../roles")
    assert fake.requests()[-1].path == "/api/v2/users/../roles"
    assert fake.requests()[-1].route == "/api/v2/users/{user_id}"


@pytest.mark.parametrize("bad", [".", ".."])
async def test_a_dot_segment_id_is_refused_before_any_request(
    fake: FakeDatadog, client: DatadogClient, bad: str
) -> None:
    """`.` and `..` are kept by percent-encoding and then removed by URL normalisation: DELETE
    /api/v2/team/{tid}/memberships/.. would become DELETE /api/v2/team/{tid} (the whole team), and a key id
    `..` would name its service account. No Datadog id is a dot segment; the client refuses it unsent."""
    team = _smallest_team(fake)
    user = _active_user(fake)
    sent = len(fake.requests())
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: client.remove_team_member(team.id, bad),
        lambda: client.remove_team_member(bad, user.id),
        lambda: client.update_team_membership(team.id, bad, role="admin"),
        lambda: client.remove_user_from_role(bad, user.id),
        lambda: client.add_user_to_role(bad, user.id),
        lambda: client.get_user(bad),
        lambda: client.disable_user(bad),
        lambda: client.delete_service_account_app_key(user.id, bad),
        lambda: client.revoke_service_account_access_token(user.id, bad),
        lambda: client.delete_api_key(bad),
    ]
    for call in calls:
        with pytest.raises(InvalidArgumentError, match="not a valid Datadog id"):
            await call()
    assert len(fake.requests()) == sent
    assert fake.org.teams[team.id] is not None


async def test_an_absurdly_long_id_or_filter_is_a_clear_error_before_any_request(
    fake: FakeDatadog, client: DatadogClient
) -> None:
    """A 100 KB id from a task made httpx raise `InvalidURL` (no DatadogError, so `internal error` and a
    traceback); ids are bounded, and any URL httpx refuses is an `Invalid` naming the call, with a short text."""
    sent = len(fake.requests())
    with pytest.raises(InvalidArgumentError, match=r"not a valid Datadog id .*too long") as caught:
        await client.get_user("x" * 100_000)
    assert len(str(caught.value)) < 300
    with pytest.raises(Invalid, match="request URL is invalid") as invalid:
        await client.list_api_keys(name_filter="k" * 100_000)
    assert "/api/v2/api_keys" in str(invalid.value)
    assert len(str(invalid.value)) < 500
    assert len(fake.requests()) == sent


ROLE_USERS_PATH = "/api/v2/roles/r1/users"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=b"<not json>", headers={"content-type": "application/json"}),
        httpx.Response(200, content=b""),
        httpx.Response(204),
        httpx.Response(200, json={"errors": []}),
        httpx.Response(200, json={"data": {"type": "users", "id": "u1"}}),
    ],
    ids=["garbled", "empty-200", "204", "no-data", "one-object"],
)
async def test_a_role_change_answered_without_the_roles_users_is_not_done(answer: httpx.Response) -> None:
    """Datadog answers a role's user added or removed with the role's users: a 200 or 204 without that list (a
    proxy's or a stub's, or a body cut short) was taken as the grant or revoke done, when nothing says Datadog saw
    it. An error status still raises as itself."""
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        if request.method == "DELETE" and len(seen) > 2:
            return httpx.Response(404, json={"errors": ["User u1 is not a member of role r1"]})
        return answer

    async with answered_by(handler) as client:
        for change in (client.add_user_to_role, client.remove_user_from_role):
            with pytest.raises(UnexpectedResponse, match="the answer is not the list of the role's users"):
                await change("r1", "u1")
        with pytest.raises(NotFound):
            await client.remove_user_from_role("r1", "u1")
    assert seen == [("POST", ROLE_USERS_PATH), ("DELETE", ROLE_USERS_PATH), ("DELETE", ROLE_USERS_PATH)]


@pytest.mark.parametrize(
    "data",
    [["u1"], [{"type": "users"}], [1, None], [{"type": "users", "id": 7}]],
    ids=["ids-as-strings", "objects-without-id", "scalars", "numeric-id"],
)
async def test_a_role_change_answered_with_a_list_of_no_users_is_not_done(data: list[Any]) -> None:
    """A `data` list whose items are not user objects with an id is no list of the role's users either: read as an
    empty page of it, the user was "not listed", and a revoke (or a grant, the list not being whole) was reported
    done on a garbled answer."""

    async with answered_by(lambda request: httpx.Response(200, json={"data": data})) as client:
        for change in (client.add_user_to_role, client.remove_user_from_role):
            with pytest.raises(UnexpectedResponse, match="the answer is not the list of the role's users"):
                await change("r1", "u1")


WRITES_DECIDED_BY_STATUS: list[tuple[str, Callable[[DatadogClient], Awaitable[None]]]] = [
    ("role grant", lambda c: c.add_user_to_role("r1", "u1")),
    ("role revoke", lambda c: c.remove_user_from_role("r1", "u1")),
    ("team revoke", lambda c: c.remove_team_member("t1", "u1")),
    ("disable user", lambda c: c.disable_user("u1")),
    ("API key delete", lambda c: c.delete_api_key("k1")),
    ("app key delete", lambda c: c.delete_service_account_app_key("sa1", "k1")),
    ("SAT revoke", lambda c: c.revoke_service_account_access_token("sa1", "t1")),
]


def _answering(response: httpx.Response) -> DatadogClient:
    return answered_by(lambda request: response)


@pytest.mark.parametrize(("what", "write"), WRITES_DECIDED_BY_STATUS, ids=[w for w, _ in WRITES_DECIDED_BY_STATUS])
async def test_a_write_answered_by_a_web_page_is_not_done(
    what: str, write: Callable[[DatadogClient], Awaitable[None]]
) -> None:
    # A captive portal's or a web front end's 200 page: its status is no word from Datadog, and a grant or revoke
    # was reported done that Datadog never saw.
    page = httpx.Response(
        200, text="<html><body>Sign in to continue</body></html>", headers={"content-type": "text/html"}
    )
    async with _answering(page) as client:
        with pytest.raises(UnexpectedResponse, match="content type 'text/html' where JSON or no body was expected"):
            await write(client)


@pytest.mark.parametrize(("what", "write"), WRITES_DECIDED_BY_STATUS, ids=[w for w, _ in WRITES_DECIDED_BY_STATUS])
async def test_a_write_answered_success_with_an_error_body_is_not_done(
    what: str, write: Callable[[DatadogClient], Awaitable[None]]
) -> None:
    """A gateway's (or an API's) refusal under a 200: `{"errors": [...]}` is Datadog's error shape, and its 200 alone
    reported the revoke, delete or disable done."""
    refusal = httpx.Response(200, json={"errors": ["Forbidden: user_access_manage required"]})
    async with _answering(refusal) as client:
        with pytest.raises(UnexpectedResponse, match="a success status with Datadog's error body"):
            await write(client)


@pytest.mark.parametrize(("what", "write"), WRITES_DECIDED_BY_STATUS, ids=[w for w, _ in WRITES_DECIDED_BY_STATUS])
async def test_a_write_answered_with_json_or_nothing_is_done(
    what: str, write: Callable[[DatadogClient], Awaitable[None]]
) -> None:
    # Datadog's own answers: JSON (the role's users), or a 204 with no body, even labelled text/html (observed; never
    # for a role's users, which are always answered with their list).
    # (After an addition the role's users include the user: an empty first page would say the role has none.)
    listed = b'{"data":[{"type":"users","id":"u1"}]}' if what == "role grant" else b'{"data":[]}'
    answers = [httpx.Response(200, content=listed, headers={"content-type": "application/json"})]
    if not what.startswith("role "):
        answers.append(httpx.Response(204, headers={"content-type": "text/html; charset=utf-8"}))
    for answer in answers:
        async with _answering(answer) as client:
            await write(client)


@pytest.mark.parametrize(
    "attributes",
    [{"disabled": False, "status": "Active"}, {"status": "Active"}, {"disabled": False}, {"status": "Pending"}],
    ids=["enabled", "active", "not-disabled", "pending"],
)
async def test_a_disable_answered_with_the_user_still_enabled_is_not_done(attributes: dict[str, Any]) -> None:
    """Datadog answers the disable with 204 and no body; its status alone decides. A 2xx whose body is the user still
    enabled says the offboarding did not happen, and it was reported done all the same. It shows the change not made
    (`shows_not_made`, a plain failure) only with both fields there saying so (review r1205); one alone fails to
    show the change."""
    answer = httpx.Response(200, json={"data": {"type": "users", "id": "u1", "attributes": attributes}})
    both = "disabled" in attributes and "status" in attributes
    words = "the answer shows the user not disabled" if both else "the answer does not show the user disabled"
    async with _answering(answer) as client:
        with pytest.raises(UnexpectedResponse, match=words) as caught:
            await client.disable_user("u1")
    assert caught.value.shows_not_made is both


@pytest.mark.parametrize(
    "body",
    [{"data": {"type": "users", "id": "u1", "attributes": {"disabled": True, "status": "Disabled"}}}],
    # A gateway's own JSON ({"status": "ok"}): tests/independent/writes/; another user's object (answers mixed up) is no
    # word about this one: tests/independent/datadog5/test_removal_answers.py.
    ids=["disabled"],
)
async def test_a_disable_answered_with_a_body_not_showing_the_user_enabled_is_done(body: dict[str, Any]) -> None:
    async with _answering(httpx.Response(200, json=body)) as client:
        await client.disable_user("u1")


_MEMBER = {"type": "team_memberships", "id": "TeamMembership-1", "relationships": {"user": {"data": {"type": "users", "id": "u1"}}}}  # fmt: skip
# Writes whose answer is the object (or list) they made or changed, each with an answer showing it done as asked.
WRITES_DECIDED_BY_THEIR_OBJECT: list[tuple[str, Callable[[DatadogClient], Awaitable[object]], int, Any]] = [
    ("update_user", lambda c: c.update_user("u1", name="N"), 200, {"type": "users", "id": "u1", "attributes": {"name": "N", "status": "Active"}}),
    ("enable_user", lambda c: c.enable_user("u1"), 200, {"type": "users", "id": "u1", "attributes": {"disabled": False, "status": "Active"}}),
    ("create_user", lambda c: c.create_user("new@example.com"), 201, {"type": "users", "id": "u9", "attributes": {"email": "new@example.com"}}),
    ("team member", lambda c: c.add_team_member("t1", "u1"), 200, {**_MEMBER, "attributes": {"role": None}}),
    ("team admin", lambda c: c.update_team_membership("t1", "u1", role="admin"), 200, {**_MEMBER, "attributes": {"role": "admin"}}),
    ("invitation", lambda c: c.send_invitation("u1"), 201, [{"type": "user_invitations", "id": "i1", "relationships": {"user": {"data": {"type": "users", "id": "u1"}}}}]),
    ("api key", lambda c: c.create_api_key("c1-x"), 201, {"type": "api_keys", "id": "k1", "attributes": {"name": "c1-x", "key": "k" * 32}}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "write", "status", "data"),
    WRITES_DECIDED_BY_THEIR_OBJECT,
    ids=[w[0] for w in WRITES_DECIDED_BY_THEIR_OBJECT],
)
async def test_a_write_answered_with_its_object_beside_an_error_body_is_not_done(
    what: str, write: Callable[[DatadogClient], Awaitable[object]], status: int, data: Any
) -> None:
    """Datadog's error shape under a 2xx is a refusal (the writes decided by their status refuse it), and a JSON:API
    document never holds `data` beside `errors`. The writes decided by the object they answer with read the `data`
    alone: an update, an enabled user, a membership, an invitation or a new credential was reported done on a body
    saying it failed. The same `data` alone is done."""
    async with _answering(httpx.Response(status, json={"data": data})) as client:
        await write(client)
    refusal = httpx.Response(status, json={"data": data, "errors": ["Forbidden: user_access_manage required"]})
    async with _answering(refusal) as client:
        with pytest.raises(UnexpectedResponse, match="a success status with Datadog's error body"):
            await write(client)


def _users(*ids: str, total: int | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"data": [{"type": "users", "id": i, "attributes": {}} for i in ids]}
    if total is not None:
        answer["meta"] = {"page": {"total_count": total}}
    return answer


@pytest.mark.parametrize(
    ("method", "answer", "wrong"),
    [
        ("DELETE", _users("u1", total=1), "the answer still lists the user among the role's users"),
        ("DELETE", _users("u2", "U1", total=150), "the answer still lists the user among the role's users"),
        ("POST", _users("u2", total=1), "the answer lists all of the role's users, without the user"),
        ("POST", _users(total=0), "the answer lists all of the role's users, without the user"),
        # No user beside a count of 1,000: the count contradicts the list, which then shows nothing either way (a page
        # cut short may leave out the user; tests/independent/counts/).
        ("POST", _users(total=1000), r"meta.page.total_count\) contradicts the 0 it lists"),
        ("POST", _users(), "the answer lists all of the role's users, without the user"),
        ("DELETE", _users(total=0), None),
        ("DELETE", _users("u2"), None),
        ("POST", _users("u1", total=1), None),
        ("POST", _users("u2", total=150), None),  # a page of a longer list proves nothing
        ("POST", _users("u2"), None),  # nor one without a total
    ],
)
async def test_a_role_change_answered_with_a_list_that_contradicts_it_is_not_done(
    method: str, answer: dict[str, Any], wrong: str | None
) -> None:
    """Datadog answers a role's user added or removed with (a page of) the role's users after the change: one still
    naming the user after the removal, or the whole list without the user after the addition, was reported as the
    revoke or grant done on the 200 alone."""
    async with answered_by(lambda request: httpx.Response(200, json=answer)) as client:
        change = client.remove_user_from_role if method == "DELETE" else client.add_user_to_role
        if wrong is None:
            await change("r1", "u1")
        else:
            with pytest.raises(UnexpectedResponse, match=wrong):
                await change("r1", "u1")


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_a_membership_change_answered_with_a_membership_of_nobody_is_not_done(method: str) -> None:
    """Datadog answers a membership added or changed with the membership, naming its user: a body naming none (a
    proxy's or a stub's JSON) was taken as the change done, the member grant or admin revoke reported done."""
    nobody = {"data": {"id": "m1", "type": "team_memberships", "attributes": {"role": None}}}
    async with answered_by(lambda request: httpx.Response(200, json=nobody)) as client:
        change = (
            client.add_team_member("t1", "u1")
            if method == "POST"
            else client.update_team_membership("t1", "u1", role="member")
        )
        with pytest.raises(UnexpectedResponse, match="the answer names no member"):
            await change


def _with_roles(user_id: str, *role_ids: str) -> dict[str, Any]:
    roles = {"data": [{"type": "roles", "id": r} for r in role_ids]}
    return {"type": "users", "id": user_id, "attributes": {}, "relationships": {"roles": roles}}


@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_a_role_change_answered_with_another_roles_users_is_not_done(method: str) -> None:
    """Each user in the answer names its roles, the changed one among them: an answer listing users of another role
    (answers mixed up), where the list is partial, was taken as the change done."""
    users = [_with_roles("u2", "r2"), _with_roles("u1", "r2", "r3")]
    answer = {"data": users[:1] if method == "DELETE" else users, "meta": {"page": {"total_count": 500}}}
    async with answered_by(lambda request: httpx.Response(200, json=answer)) as client:
        change = client.remove_user_from_role if method == "DELETE" else client.add_user_to_role
        with pytest.raises(UnexpectedResponse, match="the answer is about another role"):
            await change("r1", "u1")
    same_role = {"data": [_with_roles("u1", "R1")], "meta": {"page": {"total_count": 9}}}
    async with answered_by(lambda request: httpx.Response(200, json=same_role)) as client:
        await client.add_user_to_role("r1", "u1")  # the role's id in another case is the role


@pytest.mark.parametrize("name", [b"a\\ud800b", b"c\xffd"], ids=["half-a-surrogate-pair", "not-utf8"])
async def test_a_role_change_answered_with_a_name_go_reads_is_done(name: bytes) -> None:
    """A name the JSON parser refuses and Go's decoder reads (U+FFFD in its place) is synced (test_hostile); in the
    role's users answering a grant or revoke it made the answer "not the list of the role's users", and every change
    of that role's members failed while that user was on the answer's page."""
    other = b'{"type":"users","id":"u2","attributes":{"name":"' + name + b'"}}'
    for method, users in (("POST", b'{"type":"users","id":"u1"},' + other), ("DELETE", other)):
        body = b'{"data":[' + users + b'],"meta":{"page":{"total_count":2}}}'
        async with _answering(
            httpx.Response(200, content=body, headers={"content-type": "application/json"})
        ) as client:
            change = client.remove_user_from_role if method == "DELETE" else client.add_user_to_role
            await change("r1", "u1")


@pytest.mark.parametrize(
    ("attributes", "said"),
    [
        ({"disabled": "false"}, "data.attributes.disabled (expected a boolean, got a string)"),
        ({"disabled": 0}, "data.attributes.disabled (expected a boolean, got a number)"),
        ({"status": 1}, "data.attributes.status (expected a string, got a number)"),
        ({"disabled": True, "status": ["Active"]}, "data.attributes.status (expected a string, got an array)"),
    ],
)
async def test_a_disable_answered_with_the_users_state_of_the_wrong_json_type_is_not_done(
    attributes: dict[str, Any], said: str
) -> None:
    """The user's `disabled` or `status` of another JSON type in a disable's answer was read as absent, and the
    offboarding reported done on an answer that may say the user is still enabled (`"false"`). It fails, naming the
    member and the JSON types, so ConductorOne does not take the access as removed."""
    answer = httpx.Response(200, json={"data": {"type": "users", "id": "u1", "attributes": attributes}})
    async with _answering(answer) as client:
        with pytest.raises(UnexpectedResponse) as raised:
            await client.disable_user("u1")
    assert str(raised.value).endswith(f"-> 200: {said}")


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"type": "users", "id": "u9", "attributes": {"email": None}}, "(data.attributes.email: missing or null)"),
        ({"type": "users", "id": "u9", "attributes": {}}, "(data.attributes.email: missing or null)"),
        ({"type": "users", "id": "u9", "attributes": {"email": "other@example.com"}}, "(data.attributes.email)"),
        ({"type": "users", "id": "..", "attributes": {"email": "new@example.com"}}, "(data.id)"),
    ],
)
async def test_a_create_user_answer_refused_names_the_member(data: dict[str, Any], said: str) -> None:
    """The account creation's answer refused for its email or id said so without the member ("the answer is about
    another user"): the on-call engineer could not tell a missing email from another one, or from the id."""
    async with _answering(httpx.Response(201, json={"data": data})) as client:
        with pytest.raises(UnexpectedResponse) as raised:
            await client.create_user("new@example.com")
    assert str(raised.value).endswith(said)
