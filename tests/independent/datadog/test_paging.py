"""Listings a hostile Datadog pages through: duplicates that keep the count, totals that lie in either direction,
team pages whose `meta.pagination` contradicts itself. Each ends in a named `UnexpectedResponse` within the pages
the first total implies (+1), never in a walk that ends short of the org and reports the rest gone."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import UnexpectedResponse
from connector.datadog.paging import Page, paginate
from tests.datadog.helpers import listed
from tests.independent.datadog.peer import client, user
from tests.independent.rawpeer import Answer, RawPeer, http


def _users(ids: list[str], total: int) -> bytes:
    page = {"total_count": total, "total_filtered_count": total}
    return json.dumps({"data": [user(uid) for uid in ids], "meta": {"page": page}}).encode()


def _members(team: str, ids: list[str], pagination: dict[str, Any]) -> bytes:
    data = [
        {
            "type": "team_memberships",
            "id": f"TeamMembership-{team}-{uid}",
            "attributes": {"role": None},
            "relationships": {"user": {"data": {"type": "users", "id": uid}}},
        }
        for uid in ids
    ]
    return json.dumps({"data": data, "meta": {"pagination": pagination}}).encode()


async def _walk(answers: list[Answer], fetch: Callable[[DatadogClient, int], Any]) -> tuple[object, int]:
    """Every page of a walk, or the error that ended it; and how many requests it cost."""
    async with RawPeer(answers) as peer:
        dd = client(peer.base_url)
        seen: list[str] = []
        try:
            page: Page[Any]
            async for page in paginate(lambda n: fetch(dd, n)):
                seen += [item.id for item in page.items]
            result: object = seen
        except UnexpectedResponse as exc:
            result = exc
        finally:
            await dd.aclose()
    return result, len(peer.requests)


def _users_of(dd: DatadogClient, number: int) -> Any:
    return listed(dd.fetch_users)(number)


def _members_of(dd: DatadogClient, number: int) -> Any:
    return dd.list_team_memberships("t-1", number)


FIRST = [f"u-{i:03d}" for i in range(100)]


async def test_an_item_repeated_on_the_next_page_while_the_total_holds_fails_the_listing_retryably() -> None:
    """150 users, page 1 starting with page 0's last: 149 distinct, one user never read, and the sync would have
    reported them gone."""
    second = [FIRST[-1]] + [f"u-{i:03d}" for i in range(100, 149)]
    result, requests = await _walk([http(200, _users(FIRST, 150)), http(200, _users(second, 150))], _users_of)
    assert isinstance(result, UnexpectedResponse), result
    assert "149 distinct item(s), fewer than its total of 150" in str(result)
    assert result.retryable
    assert requests == 2


async def test_the_same_id_twice_on_one_page_is_one_item_short_of_its_total() -> None:
    ids = ["u-1", "u-1", "u-2"]
    result, _ = await _walk([http(200, _users(ids, 3))], _users_of)
    assert isinstance(result, UnexpectedResponse), result
    assert "fewer than its total of 3" in str(result)


async def test_ids_differing_only_by_letter_case_are_two_items() -> None:
    """Datadog's ids are compared as Go compares them, byte for byte: `U-1` and `u-1` are two users, so the listing
    is whole at its total of 2."""
    result, _ = await _walk([http(200, _users(["u-1", "U-1"], 2))], _users_of)
    assert result == ["u-1", "U-1"]


async def test_a_total_below_a_full_first_page_ends_the_listing_at_the_next_page_at_most() -> None:
    """A full page past its total of 50: the total is older than the page (users added meanwhile); the next page says
    where the list ends, and nothing past the first total's pages + 1 is asked for."""
    answers: list[Answer] = [http(200, _users(FIRST, 50)), http(200, _users(["u-100"], 101))]
    result, requests = await _walk(answers, _users_of)
    assert result == [*FIRST, "u-100"]
    assert requests == 2


async def test_a_total_that_grows_by_a_page_at_every_page_stops_at_the_first_totals_pages_plus_one() -> None:
    pages = [[f"u-{n}-{i}" for i in range(100)] for n in range(5)]
    answers: list[Answer] = [http(200, _users(ids, 100 * (n + 2))) for n, ids in enumerate(pages)]
    result, requests = await _walk(answers, _users_of)
    assert isinstance(result, UnexpectedResponse), result
    assert "page 3 is past the 2 page(s) the list's first total implied" in str(result)
    assert requests == 4  # pages 0 and 1 the first total implies, page 2 its "+1", and page 3 refused


@pytest.mark.parametrize(
    ("pagination", "words"),
    [
        ({"type": "number_size", "number": 0, "size": 100, "total": "150"}, "meta.pagination.total"),
        ({"type": "number_size", "number": 0, "size": 100}, "meta.pagination.total (missing)"),
        ({"type": "number_size", "number": 0, "size": 100, "total": -1}, "meta.pagination.total"),
        ({"type": "number_size", "number": 0, "size": 1, "total": 3}, "more than the page size of 1"),
    ],
    ids=["total-as-text", "no-total", "negative-total", "size-below-the-page"],
)
async def test_a_memberships_page_whose_pagination_contradicts_itself_is_named(
    pagination: dict[str, Any], words: str
) -> None:
    result, requests = await _walk([http(200, _members("t-1", ["u-1", "u-2", "u-3"], pagination))], _members_of)
    assert isinstance(result, UnexpectedResponse), result
    assert "/api/v2/team/t-1/memberships" in str(result)
    assert words in str(result), str(result)
    assert requests == 1


async def test_an_empty_memberships_page_with_a_next_link_and_members_still_counted_is_no_end() -> None:
    """Teams keep `links.next` on their last page (docs/spec/datadog-api.md §2.3): only the total says whether the
    list went on. An empty page 0 of a team its own total gives 3 members fails retryably."""
    pagination = {"type": "number_size", "number": 0, "size": 100, "total": 3, "next_number": 1, "last_number": 0}
    result, _ = await _walk([http(200, _members("t-1", [], pagination))], _members_of)
    assert isinstance(result, UnexpectedResponse), result
    assert "no items, though the list's own total of 3 says there are more" in str(result)
    assert result.retryable
