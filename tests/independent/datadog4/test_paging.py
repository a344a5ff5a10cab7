"""Paging that never ends, fourth round: a listing that serves the same items again in another order. Pages are
numbered (docs/spec/datadog-api.md §2.3), so a page holding exactly the items of an earlier one is the list going
round, whatever their order: it ends at once naming the endpoint and the page, not at the page bound (10,000 pages
for On-Call schedules, which may come without a total) or at the end of the pages the first total allows."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import UnexpectedResponse
from connector.datadog.paging import Page, paginate
from tests.datadog.helpers import listed
from tests.independent.datadog2.org import API_KEY, APP_KEY, client, membership, page_body, team_page, user
from tests.independent.rawpeer import Answer, RawPeer, http

Fetch = Callable[[DatadogClient, int], Any]
IDS = [f"x{i:02d}" for i in range(100)]


def _rotated(n: int) -> list[str]:
    """The same 100 ids, rotated by `n`: page n of a peer that serves one page in a new order each time."""
    return IDS[n % 100 :] + IDS[: n % 100]


def _schedules(ids: list[str]) -> bytes:
    data = [{"type": "schedules", "id": sid, "attributes": {"name": sid, "time_zone": "UTC"}} for sid in ids]
    return json.dumps({"data": data, "meta": {"page": {"number": 0, "size": 100}}}).encode()


PAGES: dict[str, tuple[Callable[[list[str], int], bytes], Fetch, str]] = {
    "schedules": (lambda ids, n: _schedules(ids), lambda dd, n: dd.list_schedules(n), "/api/v2/on-call/schedules"),
    "users": (
        lambda ids, n: page_body([user(i) for i in ids], 5000),
        lambda dd, n: listed(dd.fetch_users)(n),
        "/api/v2/users",
    ),
    "memberships": (
        lambda ids, n: team_page([membership("t-1", i) for i in ids], n, 5000),
        lambda dd, n: dd.list_team_memberships("t-1", n),
        "/api/v2/team/t-1/memberships",
    ),
}


async def _walk(answers: list[Answer], fetch: Fetch, **options: Any) -> tuple[object, RawPeer]:
    async with RawPeer(answers) as peer:
        dd = client(peer.base_url, **options)
        try:
            pages: list[Page[Any]] = [page async for page in paginate(lambda n: fetch(dd, n))]
            result: object = [item.id for page in pages for item in page.items]
        except UnexpectedResponse as exc:
            result = exc
        finally:
            await dd.aclose()
    assert API_KEY not in str(result)
    assert APP_KEY not in str(result)
    return result, peer


@pytest.mark.parametrize("kind", list(PAGES))
async def test_the_same_items_served_again_in_another_order_are_a_repeat_at_once(kind: str) -> None:
    """Each page is the first one rotated: never the same bytes twice, so a fingerprint of the ids in order saw 50 new
    pages (schedules: up to the page bound; users and memberships: up to the 51 pages a total of 5,000 allows)."""
    render, fetch, path = PAGES[kind]
    answers: list[Answer] = [http(200, render(_rotated(n), n)) for n in range(60)]
    result, peer = await _walk(answers, fetch, max_pages=50)
    assert isinstance(result, UnexpectedResponse), result
    assert f"GET {path}" in str(result)
    assert "page 1 repeats page 0" in str(result)
    assert len(peer.requests) == 2


async def test_a_page_sharing_only_some_items_with_an_earlier_one_is_no_repeat() -> None:
    """Items added ahead of the walk push the last ones of a page onto the next (read twice): the next page is not a
    repeat, and the walk goes on to its end."""
    first = [f"s{i:03d}" for i in range(100)]
    second = first[-3:] + [f"s{i:03d}" for i in range(100, 150)]
    result, peer = await _walk(
        [http(200, _schedules(first)), http(200, _schedules(second))], lambda dd, n: dd.list_schedules(n)
    )
    assert result == first + second
    assert len(peer.requests) == 2


async def test_items_without_an_id_are_each_one_item_never_a_repeat() -> None:
    """Items without an id are dropped and counted by the engine, each one item: as a set, the 100 of one page were
    the 37 of the next, and the next page 'repeated page 0' (a lasting failure of the sync)."""
    first, second = [""] * 100, [""] * 37
    answers: list[Answer] = [
        http(200, page_body([user(uid) for uid in first], 137)),
        http(200, page_body([user(uid) for uid in second], 137)),
    ]
    result, peer = await _walk(answers, lambda dd, n: listed(dd.fetch_users)(n))
    assert result == first + second
    assert len(peer.requests) == 2
