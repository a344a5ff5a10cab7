"""A removal's 2xx answer that shows another object than the one removed (another id, another kind, a list).

Datadog answers a removal (a revoke, an offboarding, a key's or a token's deletion, a team removal) 204 with no body.
An answer whose body shows an object is another request's (a cache or a proxy mixing up answers, a GET's answer read
as the DELETE's): one about another key, user, membership or kind of object was taken for the removal done on its
status alone, the access maybe still held. Each is refused now, naming the member at fault, and reported as a write
that may have been done (never "nothing done"); Datadog's 204, and a body about the object removed, still pass."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import DatadogError, UnexpectedResponse, nothing_done
from tests.independent.datadog2.org import API_KEY, APP_KEY, client, membership
from tests.independent.rawpeer import RawPeer, http

Call = Callable[[DatadogClient], Awaitable[None]]

REMOVALS: dict[str, tuple[Call, str, str]] = {
    "an offboarding": (lambda dd: dd.disable_user("u-1"), "users", "u-1"),
    "an API key's deletion": (lambda dd: dd.delete_api_key("k-1"), "api_keys", "k-1"),
    "an application key's deletion": (lambda dd: dd.delete_application_key("k-1"), "application_keys", "k-1"),
    "a service account's key's deletion": (
        lambda dd: dd.delete_service_account_app_key("sa-1", "k-1"),
        "application_keys",
        "k-1",
    ),
    "a token's revocation": (
        lambda dd: dd.revoke_service_account_access_token("sa-1", "t-1"),
        "service_access_tokens",
        "t-1",
    ),
}


def _object(kind: str, object_id: Any) -> bytes:
    attributes = {"disabled": True, "status": "Disabled"} if kind == "users" else {"name": "n"}
    return json.dumps({"data": {"type": kind, "id": object_id, "attributes": attributes}}).encode()


async def _outcome(call: Call, answer: bytes) -> tuple[DatadogError | None, int]:
    async with RawPeer([answer]) as peer:
        dd = client(peer.base_url)
        try:
            await call(dd)
            error = None
        except DatadogError as exc:
            error = exc
        finally:
            await dd.aclose()
    for canary in (API_KEY, APP_KEY):
        assert canary not in str(error)
    return error, len(peer.requests)


def _refused(error: DatadogError | None, said: str) -> None:
    assert isinstance(error, UnexpectedResponse), error
    assert said in str(error), str(error)
    assert not nothing_done(error)  # the removal may have landed: reported so, never as refused


@pytest.mark.parametrize("removal", list(REMOVALS))
async def test_an_answer_about_another_object_is_no_removal_done(removal: str) -> None:
    call, kind, object_id = REMOVALS[removal]
    error, requests = await _outcome(call, http(200, _object(kind, object_id + "-other")))
    _refused(error, "the answer is about another object (data.id)")
    assert requests == 1


@pytest.mark.parametrize("removal", list(REMOVALS))
async def test_an_answer_about_another_kind_of_object_is_no_removal_done(removal: str) -> None:
    call, kind, object_id = REMOVALS[removal]
    other = "roles" if kind != "roles" else "users"
    error, _ = await _outcome(call, http(200, _object(other, object_id)))
    _refused(error, f'the answer is about another kind of object (data.type: expected "{kind}")')


@pytest.mark.parametrize("removal", list(REMOVALS))
async def test_a_list_of_objects_is_no_removal_done(removal: str) -> None:
    call, kind, object_id = REMOVALS[removal]
    body = json.dumps({"data": [json.loads(_object(kind, object_id))["data"]], "meta": {}}).encode()
    error, _ = await _outcome(call, http(200, body))
    _refused(error, "the answer is a list of objects (data), no answer to the removal of one")


@pytest.mark.parametrize("removal", list(REMOVALS))
async def test_an_id_that_is_no_string_is_named(removal: str) -> None:
    call, kind, _ = REMOVALS[removal]
    error, _ = await _outcome(call, http(200, _object(kind, 7)))
    _refused(error, "data.id (expected a string, got a number)")


@pytest.mark.parametrize("removal", list(REMOVALS))
@pytest.mark.parametrize("answer", ["204", "about the object removed"])
async def test_datadogs_answers_are_the_removal_done(removal: str, answer: str) -> None:
    call, kind, object_id = REMOVALS[removal]
    sent = (
        http(204, b"", [(b"Content-Type", b"text/html; charset=utf-8")])
        if answer == "204"
        else http(200, _object(kind, object_id))
    )
    error, requests = await _outcome(call, sent)
    assert error is None
    assert requests == 1


async def test_a_team_removal_answered_with_another_members_membership_is_no_removal_done() -> None:
    """A membership's id is its own, not the user's: the member it names is compared."""
    body = json.dumps({"data": membership("t-1", "u-2")}).encode()
    error, _ = await _outcome(lambda dd: dd.remove_team_member("t-1", "u-1"), http(200, body))
    _refused(error, "the answer is about another membership (data.relationships.user.data.id)")
    body = json.dumps({"data": {"type": "users", "id": "u-1", "attributes": {}}}).encode()
    error, _ = await _outcome(lambda dd: dd.remove_team_member("t-1", "u-1"), http(200, body))
    _refused(error, 'the answer is about another kind of object (data.type: expected "team_memberships")')
    body = json.dumps({"data": membership("t-1", "u-1")}).encode()
    error, _ = await _outcome(lambda dd: dd.remove_team_member("t-1", "u-1"), http(200, body))
    assert error is None


TEAM = "11111111-1111-1111-1111-111111111111"
OTHER_TEAM = "22222222-2222-2222-2222-222222222222"


@pytest.mark.parametrize("named_by", ["its team link", "the team in its id"])
async def test_a_team_removal_answered_with_the_members_membership_of_another_team_is_no_removal_done(
    named_by: str,
) -> None:
    """The same user's membership of another team (named by `relationships.team`, or by the team in `data.id`
    `TeamMembership-<team>-<n>`) was taken for the removal done: the member alone was compared. The team is compared
    as an add's or an update's answer compares it (`_another_membership`)."""
    shown = membership(OTHER_TEAM, "u-1")
    shown["id"] = f"TeamMembership-{OTHER_TEAM}-7"
    if named_by == "its team link":
        shown["id"] = f"TeamMembership-{TEAM}-7"  # the id says this team; the link says another
        shown["relationships"]["team"] = {"data": {"type": "team", "id": OTHER_TEAM}}
    error, requests = await _outcome(
        lambda dd: dd.remove_team_member(TEAM, "u-1"), http(200, json.dumps({"data": shown}).encode())
    )
    _refused(error, "the answer is about another membership (data.relationships.team.data.id, or the team in data.id)")
    assert requests == 1
    # Control: the same answer about this team's membership is the removal done.
    mine = {**membership(TEAM, "u-1"), "id": f"TeamMembership-{TEAM}-7"}
    error, _ = await _outcome(
        lambda dd: dd.remove_team_member(TEAM, "u-1"), http(200, json.dumps({"data": mine}).encode())
    )
    assert error is None
