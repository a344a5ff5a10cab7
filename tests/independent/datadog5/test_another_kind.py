"""Answers holding objects of another JSON:API kind than the one asked for (a cache or a proxy mixing up answers).

Every field of the connector's models is optional, so any JSON:API object reads as any kind: a roles page answered to
the users request was synced as the org's users (each role a user with no email, every real user reported deleted), a
users page answered for a team's memberships or a role's users as memberships of no one. Only the credential listings
checked the `type`. Every listing and every single-object answer is refused now, naming the member (`data[i].type`)
and the type expected; a whole sync ends with that error and stores nothing of it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import DatadogError, UnexpectedResponse
from tests.datadog.helpers import listed
from tests.independent.datadog2.org import (
    API_KEY,
    APP_KEY,
    Datadog,
    client,
    contents,
    membership,
    page_body,
    role,
    sync,
    team,
    team_page,
    user,
)
from tests.independent.rawpeer import RawPeer, http

Call = Callable[[DatadogClient], Awaitable[object]]


def _untyped(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "type"}


LISTINGS: dict[str, tuple[Call, bytes, str]] = {
    "users page of roles": (lambda dd: listed(dd.fetch_users)(0), page_body([role("r-1"), role("r-2")]), "users"),
    "roles page of users": (lambda dd: listed(dd.fetch_roles)(0), page_body([user("u-1")]), "roles"),
    "teams page of users": (lambda dd: listed(dd.fetch_teams)(0), team_page([user("u-1")]), "team"),
    "memberships of users": (lambda dd: dd.list_team_memberships("t-1"), team_page([user("u-1")]), "team_memberships"),
    "role users of roles": (lambda dd: dd.list_role_users("r-1"), page_body([role("r-1")]), "users"),
    "schedules of teams": (
        lambda dd: dd.list_schedules(),
        json.dumps({"data": [team("s-1", 0)]}).encode(),
        "schedules",
    ),
    "users page of one untyped user": (
        lambda dd: listed(dd.fetch_users)(0),
        page_body([_untyped(user("u-1"))]),
        "users",
    ),
    "memberships, the second a team": (
        lambda dd: dd.list_team_memberships("t-1"),
        team_page([membership("t-1", "u-1"), team("t-1", 1)]),
        "team_memberships",
    ),
}

SINGLE: dict[str, tuple[Call, bytes, str]] = {
    # The same id (UUIDs are Datadog's across kinds, an id check alone cannot tell).
    "a user that is a role": (lambda dd: dd.get_user("x-1"), json.dumps({"data": role("x-1")}).encode(), "users"),
    "a role that is a user": (lambda dd: dd.get_role("x-1"), json.dumps({"data": user("x-1")}).encode(), "roles"),
    "a team that is a user": (lambda dd: dd.get_team("x-1"), json.dumps({"data": user("x-1")}).encode(), "team"),
    "an enabled user that is a role": (
        lambda dd: dd.enable_user("x-1"),
        json.dumps({"data": {**role("x-1"), "attributes": {"status": "Active", "disabled": False}}}).encode(),
        "users",
    ),
}


async def _outcome(call: Call, body: bytes) -> tuple[object, int]:
    async with RawPeer([http(200, body)]) as peer:
        dd = client(peer.base_url)
        try:
            result: object = await call(dd)
        except DatadogError as exc:
            result = exc
        finally:
            await dd.aclose()
    for canary in (API_KEY, APP_KEY):
        assert canary not in str(result)
    return result, len(peer.requests)


@pytest.mark.parametrize("case", list(LISTINGS))
async def test_a_listing_holding_another_kind_of_object_is_refused(case: str) -> None:
    call, body, expected = LISTINGS[case]
    result, requests = await _outcome(call, body)
    assert isinstance(result, UnexpectedResponse), result
    position = 1 if "second" in case else 0
    assert f'page 0: an item of another type (data[{position}].type: expected "{expected}")' in str(result)
    assert requests == 1  # the same answer would come again: not retried


@pytest.mark.parametrize("case", list(SINGLE))
async def test_one_object_of_another_kind_is_refused(case: str) -> None:
    call, body, expected = SINGLE[case]
    result, requests = await _outcome(call, body)
    assert isinstance(result, UnexpectedResponse), result
    assert f'the answer is about another kind of object (data.type: expected "{expected}")' in str(result)
    assert requests == 1


async def test_a_sync_given_the_roles_for_the_users_stores_no_role_as_a_user(tmp_path: Path) -> None:
    """The whole sync: before, it finished with r-admin and r-ro as the org's users and u-0..u-2 gone."""
    dd = Datadog()
    dd.routes["/api/v2/users"] = lambda _path, _query: (200, page_body(dd.org.roles))
    async with dd:
        error = await sync(dd, tmp_path / "sync.c1z")
    assert isinstance(error, UnexpectedResponse), error
    assert "GET /api/v2/users" in str(error)
    assert 'data[0].type: expected "users"' in str(error)
    assert contents(tmp_path / "sync.c1z").finished == [False]


async def test_an_invitation_answered_with_the_user_is_no_invitation_sent() -> None:
    """A stub echoing the user back (its relationships naming its roles): the invitation was reported sent, or failed
    as one 'naming no user', which sent the operator to look at the user link."""
    body = json.dumps({"data": [user("u-1", "r-admin")]}).encode()
    result, requests = await _outcome(lambda dd: dd.send_invitation("u-1"), body)
    assert isinstance(result, UnexpectedResponse), result
    assert 'the answer is about another kind of object (data[0].type: expected "user_invitations")' in str(result)
    assert requests == 1


async def test_a_schedule_answered_for_its_responders_is_not_nobody_on_call() -> None:
    """The schedule's own object (answers mixed up) names no responder: it was read as the schedule's answer that
    nobody is on call, and every on-call grant of the schedule was revoked."""
    schedule = {"type": "schedules", "id": "s-1", "attributes": {"name": "primary", "time_zone": "UTC"}}
    result, requests = await _outcome(
        lambda dd: dd.get_schedule_responders("s-1"), json.dumps({"data": schedule, "included": []}).encode()
    )
    assert isinstance(result, UnexpectedResponse), result
    expected = 'the answer is about another kind of object (data.type: expected "schedule_oncall_responders")'
    assert expected in str(result)
    assert requests == 1


@pytest.mark.parametrize("change", ["grant", "revoke"])
async def test_a_role_change_answered_with_a_page_of_roles_is_not_done(change: str) -> None:
    """Datadog answers a role grant or revoke with (a page of) the role's users. A page of roles short of its total
    (answers mixed up) said nothing against the change, and it was reported done."""
    body = page_body([role("r-1")], 150)

    async def call(dd: DatadogClient) -> None:
        if change == "grant":
            await dd.add_user_to_role("r-1", "u-1")
        else:
            await dd.remove_user_from_role("r-1", "u-1")

    result, requests = await _outcome(call, body)
    assert isinstance(result, UnexpectedResponse), result
    assert 'the answer is about another kind of object (data[0].type: expected "users")' in str(result)
    assert requests == 1
