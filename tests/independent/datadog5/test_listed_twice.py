"""One object listed twice in one page, each time otherwise.

A page is one answer: no change to the list between two pages explains an id twice in it, as it does an item repeated
on the next page. Listed twice with different contents (a user Active with the admin role and Disabled without it, a
member both admin and not), the page contradicts itself, and the sync stored one of the two with the grants of both:
refused now, naming both places. Listed twice alike it is one object, as before; items without an id are each one."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.datadog.errors import DatadogError, UnexpectedResponse
from tests.datadog.helpers import listed
from tests.independent.datadog2.org import Datadog, client, contents, membership, page_body, sync, team_page, user
from tests.independent.rawpeer import RawPeer, http


async def _outcome(body: bytes, members: bool = False) -> object:
    async with RawPeer([http(200, body)]) as peer:
        dd = client(peer.base_url)
        try:
            if members:
                return await dd.list_team_memberships("t-1")
            return await listed(dd.fetch_users)(0)
        except DatadogError as exc:
            return exc
        finally:
            await dd.aclose()


CONTRADICTIONS = {
    "a user enabled and disabled": (page_body([user("u-1", "r-admin"), user("u-1", status="Disabled")], 1), False),
    "a user with two emails, apart": (
        page_body([user("u-1"), user("u-2"), user("u-1", email="other@example.com")], 2),
        False,
    ),
    "a member admin and not": (team_page([membership("t-1", "u-1", admin=True), membership("t-1", "u-1")], 0, 1), True),
}


@pytest.mark.parametrize("case", list(CONTRADICTIONS))
async def test_an_id_listed_twice_otherwise_is_refused(case: str) -> None:
    body, members = CONTRADICTIONS[case]
    result = await _outcome(body, members)
    assert isinstance(result, UnexpectedResponse), result
    second = 2 if "apart" in case else 1
    assert f"page 0: data[0] and data[{second}] list one id with different contents" in str(result)


async def test_an_id_listed_twice_alike_is_one_object() -> None:
    result = await _outcome(page_body([user("u-1", "r-admin"), user("u-1", "r-admin")], 1))
    assert not isinstance(result, DatadogError), result


async def test_items_without_an_id_are_no_repeat() -> None:
    nameless = [{**user("u-1"), "id": ""}, {**user("u-2"), "id": ""}]
    result = await _outcome(page_body(nameless, 2))
    assert not isinstance(result, DatadogError), result


async def test_a_sync_of_a_contradicting_page_stores_nothing_of_it(tmp_path: Path) -> None:
    """Before, the sync finished with u-1 as one of the two and role:r-admin granted to it."""
    dd = Datadog()
    users = [user("u-0", "r-admin"), user("u-0", status="Disabled")]
    dd.routes["/api/v2/users"] = lambda _path, _query: (200, page_body(users, 1))
    async with dd:
        error = await sync(dd, tmp_path / "sync.c1z")
    assert isinstance(error, UnexpectedResponse), error
    assert "list one id with different contents" in str(error)
    assert contents(tmp_path / "sync.c1z").finished == [False]
