"""Paging that never ends or lies: pages that cycle with a period of 2 or 3, a page served again, totals that grow at
every page, empty pages with a `next` link, and links that point anywhere but Datadog's own list. Pages are numbered
(docs/spec/datadog-api.md §2.3: "No endpoint in this area uses cursors"; teams: "Do not use `links.next`"), so a link
is never followed: every request goes to the base URL's own path, and the count of requests is the pages the list's
own total implies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import UnexpectedResponse
from connector.datadog.paging import Page, paginate
from tests.datadog.helpers import listed
from tests.independent.datadog2.org import API_KEY, APP_KEY, client, membership, page_body, team, team_page, user
from tests.independent.rawpeer import Answer, RawPeer, http

Fetch = Callable[[DatadogClient, int], Any]


def _users(dd: DatadogClient, number: int) -> Any:
    return listed(dd.fetch_users)(number)


def _teams(dd: DatadogClient, number: int) -> Any:
    return listed(dd.fetch_teams)(number)


def _members(dd: DatadogClient, number: int) -> Any:
    return dd.list_team_memberships("t-1", number)


def _schedules(dd: DatadogClient, number: int) -> Any:
    return dd.list_schedules(number)


def _schedules_page(ids: list[str]) -> bytes:
    """An On-Call schedules page: `meta.page` without a total (a list that may omit one: bounded by its pages)."""
    data = [{"type": "schedules", "id": sid, "attributes": {"name": sid, "time_zone": "UTC"}} for sid in ids]
    return json.dumps({"data": data, "meta": {"page": {"number": 0, "size": 100}}}).encode()


def _block(kind: str, number: int, total: int) -> bytes:
    """Page `number` of a list of `kind`, 100 items whose ids say which block they are."""
    ids = [f"{kind}{number}-{i}" for i in range(100)]
    if kind == "u":
        return page_body([user(uid) for uid in ids], total)
    if kind == "t":
        return team_page([team(tid, 0) for tid in ids], number, total)
    if kind == "m":
        return team_page([membership("t-1", uid) for uid in ids], number, total)
    return _schedules_page(ids)


async def _walk(answers: list[Answer], fetch: Fetch, **options: Any) -> tuple[object, RawPeer]:
    async with RawPeer(answers) as peer:
        dd = client(peer.base_url, **options)
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
    assert API_KEY not in str(result)
    assert APP_KEY not in str(result)
    return result, peer


KINDS = [("u", _users, "/api/v2/users"), ("t", _teams, "/api/v2/team"), ("m", _members, "/api/v2/team/t-1/memberships")]


@pytest.mark.parametrize(("kind", "fetch", "path"), KINDS, ids=["users", "teams", "memberships"])
@pytest.mark.parametrize("period", [2, 3])
async def test_pages_that_cycle_fail_at_the_first_repeat_whatever_the_period(
    kind: str, fetch: Fetch, path: str, period: int
) -> None:
    """A list of 1,000 whose pages go A, B, A, B … (or A, B, C, A …): the page that repeats an earlier one is refused,
    by name, at once, not after the ten pages the total allows."""
    cycle = [_block(kind, n, 1000) for n in range(period)]
    result, peer = await _walk([http(200, cycle[n % period]) for n in range(11)], fetch)
    assert isinstance(result, UnexpectedResponse), result
    assert f"GET {path}" in str(result)
    assert f"page {period} repeats page 0" in str(result)
    assert len(peer.requests) == period + 1


async def test_a_list_without_a_total_that_cycles_is_caught_at_its_first_repeat() -> None:
    """On-Call schedules may come without a total (bounded by `MAX_PAGES` only): a cycle of 3 pages is still caught at
    page 3, not after 10,000 requests."""
    cycle = [_block("s", n, 0) for n in range(3)]
    result, peer = await _walk([http(200, cycle[n % 3]) for n in range(8)], _schedules)
    assert isinstance(result, UnexpectedResponse), result
    assert "page 3 repeats page 0" in str(result)
    assert len(peer.requests) == 4


async def test_a_list_without_a_total_stops_at_the_page_bound_and_names_it() -> None:
    result, peer = await _walk([http(200, _block("s", n, 0)) for n in range(8)], _schedules, max_pages=5)
    assert isinstance(result, UnexpectedResponse), result
    assert "the listing did not end within 5 pages" in str(result)
    assert len(peer.requests) == 5


async def test_an_offset_page_serving_the_same_users_again_is_a_repeat_not_more_users() -> None:
    same = _block("u", 0, 200)
    result, peer = await _walk([http(200, same), http(200, same)], _users)
    assert isinstance(result, UnexpectedResponse), result
    assert "page 1 repeats page 0" in str(result)
    assert len(peer.requests) == 2


async def test_a_team_total_that_grows_at_every_page_stops_at_the_first_totals_pages_plus_one() -> None:
    answers: list[Answer] = [http(200, _block("t", n, 100 * (n + 2))) for n in range(6)]
    result, peer = await _walk(answers, _teams)
    assert isinstance(result, UnexpectedResponse), result
    assert "page 3 is past the 2 page(s) the list's first total implied" in str(result)
    assert len(peer.requests) == 4


@pytest.mark.parametrize(("kind", "fetch", "path"), KINDS, ids=["users", "teams", "memberships"])
async def test_an_empty_list_with_a_next_link_costs_its_one_request(kind: str, fetch: Fetch, path: str) -> None:
    body = json.loads(_block(kind, 0, 0))
    body["data"] = []
    body["links"] = {"next": f"{path}?page[number]=1", "last": f"{path}?page[number]=9"}
    result, peer = await _walk([http(200, json.dumps(body).encode())], fetch)
    assert result == []
    assert len(peer.requests) == 1


def _hostile_links(evil: str) -> list[dict[str, str]]:
    """Every shape of `links.next` a hostile peer could hope a client follows with its keys."""
    return [
        {"next": f"http://{evil}/api/v2/team?page[number]=1"},
        {"next": f"https://{evil}/api/v2/team?page[number]=1"},
        {"next": f"//{evil}/api/v2/team?page[number]=1"},
        {"next": f"http://user:{API_KEY}@{evil}/api/v2/team?page[number]=1"},
        {"next": f"http://{evil}/api/v2/team?page[number]=1&api_key={API_KEY}&application_key={APP_KEY}"},
        {"next": "/api/v1/elsewhere?page[number]=1"},
        {"next": "../../elsewhere"},
        {"next": "http://127.0.0.1:1/api/v2/team?page[number]=1"},
    ]


@pytest.mark.parametrize("which", range(8))
async def test_a_next_link_is_never_followed_wherever_it_points(which: int) -> None:
    """Teams send absolute `links` (§2.3B). A 150-team list whose links point to another host, scheme, port or path,
    relative, protocol-relative, with userinfo or with the keys in its query: exactly 2 requests, both to
    `/api/v2/team` on the base URL with `page[number]` 0 then 1, none to the other host."""
    async with RawPeer([http(200, b"{}")]) as evil:
        links = _hostile_links(evil.address)[which]
        teams = [team(f"t{i}", 0) for i in range(150)]
        answers: list[Answer] = [
            http(200, team_page(teams[:100], 0, 150, links=links)),
            http(200, team_page(teams[100:], 1, 150, links=links)),
        ]
        result, peer = await _walk(answers, _teams)
    assert result == [t["id"] for t in teams]
    assert evil.connections == 0
    targets = [urlsplit(r.split(b"\r\n", 1)[0].split(b" ")[1].decode()) for r in peer.requests]
    assert [t.path for t in targets] == ["/api/v2/team", "/api/v2/team"]
    assert [dict(parse_qsl(t.query))["page[number]"] for t in targets] == ["0", "1"]
    for request in peer.requests:
        assert b"api_key=" not in request
        assert b"application_key=" not in request
