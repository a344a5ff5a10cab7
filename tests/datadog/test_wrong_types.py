"""A field of the wrong JSON type in any answer the Datadog layer reads fails with an error that names the endpoint, the
field's path in the answer (`data[0].relationships.roles.data[0].id`) and the JSON type expected and found: what the
on-call engineer needs to tell Datadog what it sent wrong, from the error alone. Never an exception's class name, a
pydantic dump or a Python repr of the value (which could hold a secret or forge a log line).

Table-driven against the fake Datadog on 127.0.0.1: each call's real answer is taken, every member of its first items
is changed in turn to each wrong JSON type (or removed), and the same call is made again through the real client.
A member the connector does not read may change freely (the call succeeds); one it reads fails, naming it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import pytest
from pydantic import model_validator

from connector.datadog import decode
from connector.datadog.client import DatadogClient
from connector.datadog.decode import parse_model
from connector.datadog.errors import DatadogError, UnexpectedResponse
from connector.datadog.models import ItemEnvelope, Resource
from connector.datadog.transport import Reply
from tests.datadog.helpers import CANARY_API_KEY, CANARY_APP_KEY, ClientFactory, listed
from tests.fakes.datadog import FakeDatadog, generate_org

# The wrong values: each would show in a message that quoted it.
CANARY = "QUOTED-CANARY-7f3e"
WRONG: dict[str, Any] = {
    "a string": CANARY,
    "a number": 918273645,
    "an object": {"canary": CANARY},
    "an array": [CANARY],
    "null": None,
}
REMOVED = "removed"


@dataclass(frozen=True)
class Call:
    """One client call, the request whose answer is changed, and how much of the answer is walked."""

    name: str
    method: str
    path: Callable[[FakeDatadog], str]
    run: Callable[[DatadogClient, FakeDatadog], Awaitable[Any]]


def _sa(fake: FakeDatadog) -> str:
    """The service account holding an application key (its listing has an item to change)."""
    return next(k.owner_id for k in fake.org.app_keys.values() if fake.org.users[k.owner_id].service_account)


def _token_owner(fake: FakeDatadog) -> str:
    return next(t.owner_id for t in fake.org.tokens.values())


def _human(fake: FakeDatadog) -> str:
    return next(u.id for u in fake.org.users.values() if not u.service_account and u.status == "Active")


def _team(fake: FakeDatadog) -> str:
    return next(t.id for t in fake.org.teams.values() if t.members)


def _app_key(fake: FakeDatadog) -> str:
    return next(iter(fake.org.app_keys))


def _member(fake: FakeDatadog) -> str:
    return next(iter(fake.org.teams[_team(fake)].members))


def _schedule(fake: FakeDatadog) -> str:
    return next(iter(fake.org.schedules))


def _role(fake: FakeDatadog) -> str:
    return next(r.id for r in fake.org.roles.values() if fake.org.role_members.get(r.id))


CALLS = [
    Call("users", "GET", lambda f: "/api/v2/users", lambda c, f: listed(c.fetch_users)()),
    Call("user", "GET", lambda f: f"/api/v2/users/{_human(f)}", lambda c, f: c.get_user(_human(f))),
    Call("roles", "GET", lambda f: "/api/v2/roles", lambda c, f: listed(c.fetch_roles)()),
    Call("role users", "GET", lambda f: f"/api/v2/roles/{_role(f)}/users", lambda c, f: c.list_role_users(_role(f))),
    Call("teams", "GET", lambda f: "/api/v2/team", lambda c, f: listed(c.fetch_teams)()),
    Call(
        "memberships",
        "GET",
        lambda f: f"/api/v2/team/{_team(f)}/memberships",
        lambda c, f: c.list_team_memberships(_team(f)),
    ),
    Call("schedules", "GET", lambda f: "/api/v2/on-call/schedules", lambda c, f: c.list_schedules()),
    Call(
        "responders",
        "GET",
        lambda f: f"/api/v2/on-call/schedules/{_schedule(f)}/responders",
        lambda c, f: c.get_schedule_responders(_schedule(f)),
    ),
    Call("api keys", "GET", lambda f: "/api/v2/api_keys", lambda c, f: c.list_api_keys()),
    Call("role", "GET", lambda f: f"/api/v2/roles/{_role(f)}", lambda c, f: c.get_role(_role(f))),
    Call("team", "GET", lambda f: f"/api/v2/team/{_team(f)}", lambda c, f: c.get_team(_team(f))),
    Call(
        "schedule",
        "GET",
        lambda f: f"/api/v2/on-call/schedules/{_schedule(f)}",
        lambda c, f: c.get_schedule(_schedule(f)),
    ),
    Call(
        "application key",
        "GET",
        lambda f: f"/api/v2/application_keys/{_app_key(f)}",
        lambda c, f: c.get_application_key(_app_key(f)),
    ),
    Call(
        "invitation sent",
        "POST",
        lambda f: "/api/v2/user_invitations",
        lambda c, f: c.send_invitation(_human(f)),
    ),
    Call(
        "application keys",
        "GET",
        lambda f: f"/api/v2/service_accounts/{_sa(f)}/application_keys",
        lambda c, f: c.list_service_account_app_keys(_sa(f)),
    ),
    Call(
        "access tokens",
        "GET",
        lambda f: f"/api/v2/service_accounts/{_token_owner(f)}/access_tokens",
        lambda c, f: c.list_service_account_access_tokens(_token_owner(f)),
    ),
    Call(
        "access token issued",
        "POST",
        lambda f: f"/api/v2/service_accounts/{_sa(f)}/access_tokens",
        lambda c, f: c.create_service_account_access_token(_sa(f), "wrong-types", ["dashboards_read"]),
    ),
    Call(
        "application key issued",
        "POST",
        lambda f: f"/api/v2/service_accounts/{_sa(f)}/application_keys",
        lambda c, f: c.create_service_account_app_key(_sa(f), "wrong-types"),
    ),
    Call("api key issued", "POST", lambda f: "/api/v2/api_keys", lambda c, f: c.create_api_key("wrong-types")),
    Call(
        "user updated",
        "PATCH",
        lambda f: f"/api/v2/users/{_human(f)}",
        lambda c, f: c.update_user(_human(f), name="Renamed"),
    ),
    Call(
        "role granted",
        "POST",
        lambda f: f"/api/v2/roles/{_role(f)}/users",
        lambda c, f: c.add_user_to_role(_role(f), _human(f)),
    ),
    Call(
        "team membership changed",
        "PATCH",
        lambda f: f"/api/v2/team/{_team(f)}/memberships/{_member(f)}",
        lambda c, f: c.update_team_membership(_team(f), _member(f), role="admin"),
    ),
]


def _members(value: Any, path: str = "") -> Iterator[tuple[str, tuple[str | int, ...]]]:
    """Each member's path as the answer's own (`data[0].attributes.email`) and as keys, walking the first element of
    each array only (every element is read alike)."""
    if isinstance(value, dict):
        for key, child in value.items():
            sub = f"{path}.{key}" if path else key
            yield sub, (key,)
            yield from ((p, (key, *k)) for p, k in _members(child, sub))
    elif isinstance(value, list) and value:
        yield f"{path}[0]", (0,)
        yield from ((p, (0, *k)) for p, k in _members(value[0], f"{path}[0]"))


def _changed(body: Any, keys: tuple[str | int, ...], wrong: str, _sent: Any = None) -> Any:
    body = copy.deepcopy(body)
    parent = body
    for key in keys[:-1]:
        parent = parent[key]
    if wrong == REMOVED:
        del parent[keys[-1]]
    else:
        parent[keys[-1]] = copy.deepcopy(WRONG[wrong])
    return body


def _type_of(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )


@pytest.fixture
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(
        generate_org(users=30, seed=3, teams=2, schedules=1), api_key=CANARY_API_KEY, app_key=CANARY_APP_KEY
    ) as server:
        yield server


@pytest.mark.parametrize("call", CALLS, ids=[c.name for c in CALLS])
async def test_a_member_of_the_wrong_json_type_is_named_by_its_path(
    fake: FakeDatadog, make_client: ClientFactory, call: Call
) -> None:
    client = make_client(fake)
    answers: list[Any] = []

    def keep(body: Any) -> Any:
        answers.append(body)
        return body

    fake.faults.rewrite(keep, path=call.path(fake), method=call.method)
    await call.run(client, fake)
    assert answers, f"{call.name}: the fake never answered {call.method} {call.path(fake)}"
    original = answers[0]
    unnamed: list[str] = []
    for path, keys in _members(original):
        current = _type_of(_value_at(original, keys))
        # An array's element is changed, never removed: a list one item shorter is no wrong type.
        for wrong in (*WRONG, REMOVED) if isinstance(keys[-1], str) else WRONG:
            if wrong == current:
                continue
            fake.faults.rewrite(partial(_changed, original, keys, wrong), path=call.path(fake), method=call.method)
            try:
                await call.run(client, fake)
            except DatadogError as exc:
                text = f"{exc} {exc!r}"
                # A member null or gone may be named by what lacks it (a user's roles lacking the role asked about).
                named = path in str(exc) or (wrong in ("null", REMOVED) and any(p in str(exc) for p in _within(path)))
                if not named or CANARY in text or "918273645" in text or "Error" in str(exc):
                    unnamed.append(f"{path} <- {wrong}: {exc}")
            finally:
                fake.faults.clear()
    assert not unnamed, "\n".join(unnamed)


def _within(path: str) -> Iterator[str]:
    """The members holding `path` below a resource's own level (`data[0].relationships.roles.data` for one of its
    links' ids), each of which may be what an error names as lacking it."""
    while (cut := max(path.rfind("."), path.rfind("["))) > 0:
        path = path[:cut]
        if path.count(".") + path.count("[") >= 3:
            yield path


def _value_at(body: Any, keys: tuple[str | int, ...]) -> Any:
    for key in keys:
        body = body[key]
    return body


def _responder(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return next((i, x) for i, x in enumerate(body["included"]) if x["type"] == "schedule_oncall_responder")


def _no_responders_member(body: dict[str, Any]) -> str:
    body["data"]["relationships"]["responders"] = "current"
    body["included"] = {"responders": body["included"]}
    return "data.relationships.responders (expected an object, got a string)"


def _responder_id_object(body: dict[str, Any]) -> str:
    i, responder = _responder(body)
    responder["id"] = {"id": responder["id"]}
    return f"included[{i}].id (expected a string, got an object)"


def _position_object(body: dict[str, Any]) -> str:
    i, responder = _responder(body)
    responder["attributes"]["position"] = {"value": "current"}
    where = f"included[{i}].attributes.position"
    return f"a responder's position is a JSON object, not 'previous', 'current' or 'next' ({where})"


def _shift_links_object(body: dict[str, Any]) -> str:
    i, responder = _responder(body)
    shifts = responder["relationships"]["shifts"]
    shifts["data"] = shifts["data"][0]
    return f"included[{i}].relationships.shifts.data (expected an array, got an object)"


def _shift_link_id_number(body: dict[str, Any]) -> str:
    i, responder = _responder(body)
    responder["relationships"]["shifts"]["data"][0]["id"] = 7
    return f"included[{i}].relationships.shifts.data[0].id (expected a string, got a number)"


@pytest.mark.parametrize(
    "edit",
    [_no_responders_member, _responder_id_object, _position_object, _shift_links_object, _shift_link_id_number],
)
async def test_a_responders_answer_of_the_wrong_shape_is_refused_naming_the_member(
    fake: FakeDatadog, make_client: ClientFactory, edit: Callable[[dict[str, Any]], str]
) -> None:
    """The responders answer is read without a model. A member of the wrong JSON type was read as absent: links that
    are no array, or a shift named by a number, said nobody was on call (every on-call grant revoked at the next sync);
    an id or a position that is an object failed with a TypeError naming nothing. Each is refused, naming the member."""
    schedule_id = _schedule(fake)
    client = make_client(fake)
    assert (await client.get_schedule_responders(schedule_id)).user_ids, "the fake's schedule has someone on call"
    expected: list[str] = []

    def changed(body: dict[str, Any]) -> dict[str, Any]:
        expected.append(edit(body))
        return body

    fake.faults.rewrite(changed, path=f"/api/v2/on-call/schedules/{schedule_id}/responders")
    with pytest.raises(DatadogError) as raised:
        await client.get_schedule_responders(schedule_id)
    assert expected[0] in str(raised.value)


class _FaultyReader(Resource):
    """A model whose own check has a fault (it reads `relationships` as an object without looking)."""

    @model_validator(mode="before")
    @classmethod
    def _faulty(cls, raw: Any) -> Any:
        raw["relationships"].get("owned_by")
        return raw


class _OwnerReader(Resource):
    """A model whose own check reads `relationships.owned_by` without looking whether it is there."""

    @model_validator(mode="before")
    @classmethod
    def _faulty(cls, raw: Any) -> Any:
        raw["relationships"]["owned_by"]
        return raw


def _token_created(body: dict[str, Any]) -> Reply:
    """A service access token's create answered with `body` (200, JSON)."""
    return Reply(
        status=200,
        headers=httpx.Headers({"content-type": "application/json"}),
        body=json.dumps(body).encode(),
        method="POST",
        path="/api/v2/service_accounts/sa/access_tokens",
    )


def test_a_readers_own_fault_still_names_where_the_answer_was_odd() -> None:
    """A validator raising anything but pydantic's errors (an AttributeError on a `relationships` that is an array) was
    reported as "body could not be interpreted (AttributeError)": the on-call engineer learnt the class of a Python
    exception, not what Datadog sent. The answer is walked again for the member of the wrong JSON type."""
    body = {"data": {"id": "k", "type": "x", "relationships": [CANARY]}}
    reply = _token_created(body)
    with pytest.raises(UnexpectedResponse) as raised:
        parse_model(ItemEnvelope[_FaultyReader], reply)
    assert str(raised.value) == (
        "Datadog unexpected response: POST /api/v2/service_accounts/sa/access_tokens -> 200: body could not be "
        "interpreted: data.relationships (expected an object, got an array)"
    )


@pytest.mark.parametrize(
    "echoed",
    [
        "ddsat_" + "0123456789abcdef" * 3,  # a token's prefix and 48 characters
        "Zx9Qm2Lp7Rt5Vw3Ny8Kb4Hd6Jf1Gc0Sa",  # 32 characters of base62
        "ZxQmLpRtVwNyKbHdJfGcSaPoIuYtReWq",  # 32 letters, no digit at all
        "tok_A1b2C3d4E5",  # short, but dense in digits
        CANARY_APP_KEY,
    ],
)
def test_a_secret_echoed_as_a_member_name_is_never_shown_in_the_path(echoed: str) -> None:
    """A member name is the peer's text: a broken proxy or Datadog echoing a secret as a relationship's name put it
    in the error, since any word of up to 64 characters was shown. Only short words with few digits are, as every
    member name Datadog sends is (`used_in_last_24_hours`)."""
    body = {"data": {"id": "k", "type": "x", "relationships": {echoed: [1]}}}  # no `owned_by`: the reader fails
    reply = _token_created(body)
    with pytest.raises(UnexpectedResponse) as raised:
        parse_model(ItemEnvelope[_OwnerReader], reply)
    assert echoed not in str(raised.value)
    assert "data.relationships[a key] (expected an object, got an array)" in str(raised.value)


@pytest.mark.parametrize(
    ("member", "value", "expected"),
    [
        ("disabled", "false", "a boolean, got a string"),
        ("disabled", 0, "a boolean, got a number"),
        ("service_account", "yes", "a boolean, got a string"),
        ("verified", 1, "a boolean, got a number"),
    ],
)
async def test_a_boolean_sent_as_another_json_type_is_refused_not_coerced(
    fake: FakeDatadog, make_client: ClientFactory, member: str, value: object, expected: str
) -> None:
    """pydantic's lax mode read "false", "yes", "off", 0 or 1 as booleans: `disabled: "no"` was an enabled user,
    `service_account: "1"` a service account, decided on a value Datadog never sends. Each is a member of the wrong
    JSON type, refused and named like any other."""

    def changed(body: dict[str, Any]) -> dict[str, Any]:
        body["data"][0]["attributes"][member] = value
        return body

    fake.faults.rewrite(changed, path="/api/v2/users", method="GET")
    with pytest.raises(UnexpectedResponse) as raised:
        await listed(make_client(fake).fetch_users)()
    assert f"data[0].attributes.{member} (expected {expected})" in str(raised.value)


async def test_a_count_sent_as_a_string_is_refused_not_coerced(fake: FakeDatadog, make_client: ClientFactory) -> None:
    """A team's `user_count` of "5" was read as 5: a count is a JSON number, and a string there is the wrong type."""

    def changed(body: dict[str, Any]) -> dict[str, Any]:
        body["data"][0]["attributes"]["user_count"] = "5"
        return body

    fake.faults.rewrite(changed, path="/api/v2/team", method="GET")
    with pytest.raises(UnexpectedResponse) as raised:
        await listed(make_client(fake).fetch_teams)()
    assert "data[0].attributes.user_count (expected a whole number, got a string)" in str(raised.value)


def _listed_id(body: dict[str, Any]) -> str:
    body["data"][1]["id"] = ".."
    return "an item's id cannot name it (blank, a dot segment, a control character or over 1024 characters): data[1].id"


def _linked_id(body: dict[str, Any]) -> str:
    body["data"][1]["relationships"]["roles"]["data"] = [{"type": "roles", "id": "a\nb"}]
    return (
        "an item links to an id that cannot name it (blank, a dot segment, a control character or over 1024 "
        "characters): data[1].relationships.roles.data"
    )


@pytest.mark.parametrize("edit", [_listed_id, _linked_id])
async def test_an_id_no_request_can_use_is_named_by_its_path(
    fake: FakeDatadog, make_client: ClientFactory, edit: Callable[[dict[str, Any]], str]
) -> None:
    """A page holding an id (or a link's id) no later request can use was refused without saying which item held it:
    the on-call engineer had a page of 100 users to search. The error names the member."""
    expected: list[str] = []

    def changed(body: dict[str, Any]) -> dict[str, Any]:
        expected.append(edit(body))
        return body

    fake.faults.rewrite(changed, path="/api/v2/users", method="GET")
    with pytest.raises(UnexpectedResponse) as raised:
        await listed(make_client(fake).fetch_users)()
    assert f"page 0: {expected[0]}" in str(raised.value)
    assert "a\nb" not in str(raised.value)


async def test_a_key_of_another_owner_is_named_by_its_path(fake: FakeDatadog, make_client: ClientFactory) -> None:
    """A service account's keys listing holding another account's key said "a key of another owner", not which."""

    def changed(body: dict[str, Any]) -> dict[str, Any]:
        body["data"][0]["relationships"]["owned_by"]["data"]["id"] = "00000000-0000-4000-8000-000000000000"
        return body

    sa = _sa(fake)
    fake.faults.rewrite(changed, path=f"/api/v2/service_accounts/{sa}/application_keys", method="GET")
    with pytest.raises(UnexpectedResponse) as raised:
        await make_client(fake).list_service_account_app_keys(sa)
    assert "page 0: a key of another owner (data[0].relationships.owned_by.data.id)" in str(raised.value)


@pytest.mark.parametrize(
    ("linkage", "member"),
    [({"type": "users"}, "type"), ({"type": None}, "type"), ({"type": 5}, "type"), ({"id": None}, "id")],
    ids=["a person's", "null type", "a number type", "no id"],
)
async def test_a_token_of_another_owner_kind_is_named_by_its_path(
    fake: FakeDatadog, make_client: ClientFactory, linkage: dict[str, Any], member: str
) -> None:
    """A service account's tokens listing holding a token whose owner is no service account (a person's token, or an
    owner of no type) was synced as that account's token, its revocation sent under the account's path (where Datadog
    has no such token: "revoked", the token live). The listing fails as for another account's key, naming the member,
    as the issuance's duplicate check and a create's answer judge a token's owner (AccessToken.owner_mismatch)."""

    def changed(body: dict[str, Any]) -> dict[str, Any]:
        owner = body["data"][0]["relationships"]["owned_by"]["data"]
        owner.update(linkage)
        if owner.get("id", "") is None:
            del owner["id"]
        return body

    sa = _token_owner(fake)
    fake.faults.rewrite(changed, path=f"/api/v2/service_accounts/{sa}/access_tokens", method="GET")
    with pytest.raises(UnexpectedResponse) as raised:
        await make_client(fake).list_service_account_access_tokens(sa)
    assert f"page 0: a key of another owner (data[0].relationships.owned_by.data.{member})" in str(raised.value)


async def test_an_answer_about_another_object_names_the_member(fake: FakeDatadog, make_client: ClientFactory) -> None:
    """A read answered with another object's id said "the answer is about another object", not which member said so."""
    user_id = _human(fake)

    def changed(body: dict[str, Any]) -> dict[str, Any]:
        body["data"]["id"] = "00000000-0000-4000-8000-000000000000"
        return body

    fake.faults.rewrite(changed, path=f"/api/v2/users/{user_id}", method="GET")
    with pytest.raises(UnexpectedResponse) as raised:
        await make_client(fake).get_user(user_id)
    assert str(raised.value).endswith("-> 200: the answer is about another object (data.id)")


def _every_user_disabled_as(value: object) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def changed(body: dict[str, Any]) -> dict[str, Any]:
        for user in body["data"]:
            user["attributes"]["disabled"] = value
        return body

    return changed


async def test_the_places_named_are_the_first_in_the_answer(fake: FakeDatadog, make_client: ClientFactory) -> None:
    """Of a page whose every item is wrong, the first five are named, in the answer's order: sorted as text, the message
    read "data[0], data[10], data[11], ..." (or "data[1000000]" second, on a hostile page), as if those came first."""
    fake.faults.rewrite(_every_user_disabled_as("no"), path="/api/v2/users", method="GET")
    with pytest.raises(UnexpectedResponse) as raised:
        await listed(make_client(fake).fetch_users)()
    named = "; ".join(f"data[{i}].attributes.disabled (expected a boolean, got a string)" for i in range(5))
    assert str(raised.value).endswith(f"{len(fake.org.users)} invalid field(s): {named}; …")


async def test_a_page_failing_on_every_item_is_walked_only_for_the_places_it_names(
    fake: FakeDatadog, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error names five places; each failure walked in the answer to name it cost the event loop seconds on a
    hostile page under the body cap (a million items, each wrong), all to show those five. Only the failures it names
    are walked, and one more to know there are more."""
    walked: list[tuple[int | str, ...]] = []
    walk = decode._wire_path

    def counted(raw: Any, loc: tuple[int | str, ...], *field: int) -> tuple[str, Any]:
        walked.append(loc)
        return walk(raw, loc, *field)

    monkeypatch.setattr(decode, "_wire_path", counted)
    fake.faults.rewrite(_every_user_disabled_as(0), path="/api/v2/users", method="GET")
    with pytest.raises(UnexpectedResponse, match=r"data\[4\]\.attributes\.disabled \(expected a boolean"):
        await listed(make_client(fake).fetch_users)()
    assert len(fake.org.users) > 6
    assert walked == [("data", i, "disabled") for i in range(6)]


async def test_a_member_is_named_where_it_was_read_not_where_its_name_also_occurs(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    """A resource's fields are read from its `attributes` (all but `id` and `type`): a member of the same name beside
    them (`data.email`, a broken peer's) is not what failed. The path named was that other member's, and the type
    "found" its type, so the message read "expected a string, got a string"."""
    user_id = _human(fake)

    def changed(body: dict[str, Any]) -> dict[str, Any]:
        body["data"]["email"] = "beside@example.com"
        body["data"]["attributes"]["email"] = 918273645
        return body

    fake.faults.rewrite(changed, path=f"/api/v2/users/{user_id}", method="GET")
    with pytest.raises(UnexpectedResponse) as raised:
        await make_client(fake).get_user(user_id)
    assert str(raised.value).endswith("1 invalid field(s): data.attributes.email (expected a string, got a number)")


async def test_a_listed_member_is_named_where_it_was_read(fake: FakeDatadog, make_client: ClientFactory) -> None:
    """As for one object, for each item of a list: `data[0].attributes.disabled` failed, not `data[0].disabled`."""

    def changed(body: dict[str, Any]) -> dict[str, Any]:
        body["data"][0]["disabled"] = False
        body["data"][0]["attributes"]["disabled"] = "no"
        return body

    fake.faults.rewrite(changed, path="/api/v2/users", method="GET")
    with pytest.raises(UnexpectedResponse) as raised:
        await listed(make_client(fake).fetch_users)()
    assert str(raised.value).endswith(
        "1 invalid field(s): data[0].attributes.disabled (expected a boolean, got a string)"
    )


async def test_a_membership_of_another_team_is_named_by_its_path(fake: FakeDatadog, make_client: ClientFactory) -> None:
    """A team's memberships listing holding another team's membership said "a membership of another team", not which
    item, nor that its team came from its relationship (or, without one, from its id), as a key of another owner is."""
    team = next(t for t in fake.org.teams.values() if len(t.members) > 1)

    def changed(body: dict[str, Any]) -> dict[str, Any]:
        other = {"type": "team", "id": "00000000-0000-4000-8000-000000000000"}
        body["data"][1].setdefault("relationships", {})["team"] = {"data": other}
        return body

    fake.faults.rewrite(changed, path=f"/api/v2/team/{team.id}/memberships", method="GET")
    with pytest.raises(UnexpectedResponse) as raised:
        await make_client(fake).list_team_memberships(team.id)
    assert str(raised.value).endswith(
        "page 0: a membership of another team (data[1].relationships.team.data.id, or without it the team in data[1].id)"
    )


@pytest.mark.parametrize(
    "included", [CANARY, 918273645, [None, 5, {"type": "users", "id": [CANARY], "attributes": []}]]
)
async def test_a_memberships_answer_is_read_without_its_included(
    fake: FakeDatadog, make_client: ClientFactory, included: Any
) -> None:
    """Nothing reads a team's memberships answer's `included` (its member users), so it is not decoded (issue 12): one
    of any shape fails no listing, and the page holds the answer's memberships and no included object."""
    team = next(t for t in fake.org.teams.values() if len(t.members) > 1)

    def changed(body: dict[str, Any]) -> dict[str, Any]:
        assert body["included"]  # the fake includes the member users, as Datadog does
        body["included"] = included
        return body

    fake.faults.rewrite(changed, path=f"/api/v2/team/{team.id}/memberships", method="GET")
    page = await make_client(fake).list_team_memberships(team.id)
    assert page.included == ()
    assert sorted(m.user_id or "" for m in page.items) == sorted(team.members)
