"""Paging: one request per 100 items, never an extra empty page, page[size]=100 on every list call,
across both of Datadog's paging styles (meta.page counts, and Teams' meta.pagination + links)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import UnexpectedResponse
from connector.datadog.paging import Page, next_page_number, paginate
from tests.datadog.helpers import ClientFactory, answered_by, listed
from tests.fakes.datadog import FakeDatadog, Org
from tests.fakes.datadog.org import APIKey, AppKey, Layer, Schedule

SIZES = [0, 1, 99, 100, 101, 250]
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeDatadog]:
    with FakeDatadog() as fake:
        yield fake


def _users(org: Org, n: int, prefix: str = "user") -> list[str]:
    return [
        org.add_user(f"{prefix}{i:04d}@example.com", name=f"{prefix} {i:04d}", status="Active").id for i in range(n)
    ]


def _org_users(n: int) -> Org:
    org = Org()
    _users(org, n)
    return org


def _org_roles(n: int) -> Org:
    org = Org()
    for role_id in list(org.roles):  # the org's three managed roles: only the n counted here are listed
        org.delete_role(role_id)
    for i in range(n):
        org.add_role(f"bucket role {i:04d}")
    return org


def _org_teams(n: int) -> Org:
    org = Org()
    for i in range(n):
        org.add_team(f"team {i:04d}", f"team-{i:04d}")
    return org


def _org_members(n: int) -> Org:
    org = Org()
    team = org.add_team("the team", "the-team", id="11111111-1111-4111-8111-111111111111")
    for uid in _users(org, n):
        org.add_member(team, uid)
    return org


def _org_schedules(n: int) -> Org:
    org = Org()
    for i in range(n):
        layer = Layer(f"layer-{i}", "Layer 1", EPOCH, EPOCH, timedelta(days=1), [])
        org.schedules[f"schedule-{i:04d}"] = Schedule(f"schedule-{i:04d}", f"schedule {i:04d}", "UTC", [layer])
    return org


def _org_api_keys(n: int) -> Org:
    org = Org()
    for i in range(n):
        org.api_keys[f"k{i}"] = APIKey(f"k{i}", f"key {i:04d}", f"{i:032d}", None, EPOCH, EPOCH)
    return org


SA_ID = "22222222-2222-4222-8222-222222222222"


def _org_app_keys(n: int) -> Org:
    org = Org()
    org.add_user("robot@example.com", service_account=True, status="Active", id=SA_ID)
    for i in range(n):
        org.app_keys[f"a{i}"] = AppKey(f"a{i}", f"app key {i:04d}", f"{i:040d}", SA_ID, EPOCH)
    return org


Walk = Callable[[DatadogClient], AsyncIterator[Page[Any]]]
KINDS: dict[str, tuple[Callable[[int], Org], Walk, str]] = {
    "users": (_org_users, lambda c: paginate(listed(c.fetch_users)), "/api/v2/users"),
    "roles": (_org_roles, lambda c: paginate(listed(c.fetch_roles)), "/api/v2/roles"),
    "teams": (_org_teams, lambda c: paginate(listed(c.fetch_teams)), "/api/v2/team"),
    "team_memberships": (
        _org_members,
        lambda c: c.iter_team_memberships("11111111-1111-4111-8111-111111111111"),
        "/api/v2/team/{team_id}/memberships",
    ),
    "schedules": (_org_schedules, lambda c: paginate(c.list_schedules), "/api/v2/on-call/schedules"),
    "api_keys": (_org_api_keys, lambda c: paginate(c.list_api_keys), "/api/v2/api_keys"),
    "sa_app_keys": (
        _org_app_keys,
        lambda c: paginate(lambda n: c.list_service_account_app_keys(SA_ID, n)),
        "/api/v2/service_accounts/{sa_id}/application_keys",
    ),
}


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", list(KINDS))
async def test_request_count_is_one_per_hundred(
    server: FakeDatadog, make_client: ClientFactory, kind: str, n: int
) -> None:
    build, walk, route = KINDS[kind]
    server.state.org = build(n)
    server.reset_counters()
    client = make_client(server)

    ids = [item.id async for page in walk(client) for item in page.items]

    assert len(ids) == n
    assert len(set(ids)) == n
    expected = max(1, math.ceil(n / 100))
    assert server.count("GET", route) == expected, f"{kind}: {n} items"
    seen = server.requests("GET", route)
    assert [s.param("page[size]") for s in seen] == ["100"] * expected
    assert [s.param("page[number]") for s in seen] == [str(i) for i in range(expected)]


@pytest.mark.parametrize("count", [120, 151, 1000])
async def test_server_capping_the_page_size_loses_nothing(make_client: ClientFactory, count: int) -> None:
    """Datadog is said to serve 50 schedules a page whatever is asked; a short page must not end the walk, and the
    pages are counted at that size (counted at the 100 asked for, more than 150 schedules failed the listing as
    "page 4 is past the 3 page(s) the list's first total implied")."""
    with FakeDatadog(_org_schedules(count), schedules_page_cap=50) as fake:
        client = make_client(fake)
        names = [s.name async for page in paginate(client.list_schedules) for s in page.items]
        assert names == [f"schedule {i:04d}" for i in range(count)]
        assert fake.count("GET", "/api/v2/on-call/schedules") == math.ceil(count / 50)


async def test_single_page_reports_where_to_continue(server: FakeDatadog, make_client: ClientFactory) -> None:
    server.state.org = _org_users(150)
    client = make_client(server)
    first = await listed(client.fetch_users)()
    second = await listed(client.fetch_users)(first.next_number or 0)
    assert (first.number, first.next_number, first.total) == (0, 1, 150)
    assert (second.number, second.next_number, len(second.items)) == (1, None, 50)


@pytest.mark.parametrize(
    ("count", "meta", "expected"),
    [
        # No meta at all: only a short page proves the end, so a full page costs one more request.
        (100, None, 1),
        (99, None, None),
        (0, None, None),
        # meta.page totals (users, roles, keys): stop exactly at the total.
        (100, {"page": {"total_count": 100, "total_filtered_count": 100}}, None),
        (100, {"page": {"total_filtered_count": 101}}, 1),
        (100, {"page": {"total_count": 200}}, 1),
        # Teams: number_size pagination; next_number is never null, total and last_number are used.
        (100, {"pagination": {"type": "number_size", "number": 0, "size": 100, "total": 100, "next_number": 1}}, None),
        (100, {"pagination": {"type": "number_size", "size": 100, "last_number": 0, "next_number": 1}}, None),
        # Schedules: a server-reported size smaller than asked, and a null next_number.
        (50, {"page": {"size": 50, "total": 120, "number": 0, "next_number": 1}}, 1),
        (100, {"page": {"size": 100, "number": 0, "next_number": None}}, None),
    ],
)
def test_next_page_number(count: int, meta: dict[str, Any] | None, expected: int | None) -> None:
    assert next_page_number(number=0, requested_size=100, count=count, meta=meta, status=200) == expected


def test_a_filtered_listing_stops_at_its_filtered_total_not_the_whole_lists() -> None:
    # A name filter (credential dedupe lookups): `total_count` is the whole list's size, `total_filtered_count` the
    # listing's. Unfiltered, the two name one list (tests/independent/counts/).
    meta = {"page": {"total_count": 500, "total_filtered_count": 100}}
    assert next_page_number(number=0, requested_size=100, count=100, meta=meta, status=200, filtered=True) is None


@pytest.mark.parametrize(
    ("number", "meta"),
    [
        (0, {"page": {"total_count": 1, "total_filtered_count": 1}}),
        (2, {"page": {"total_filtered_count": 201}}),
        (1, {"pagination": {"type": "number_size", "size": 100, "total": 150, "last_number": 1}}),
        (1, {"page": {"size": 50, "total": 51, "number": 1}}),
    ],
)
def test_an_empty_page_before_its_own_total_is_reached_is_an_error(number: int, meta: dict[str, Any]) -> None:
    # Stopping would end the listing without the items the total says follow (the sync reports them gone);
    # Datadog counting and paging a list that changed in between can do it once, so it is worth another sync.
    with pytest.raises(UnexpectedResponse) as raised:
        next_page_number(number=number, requested_size=100, count=0, meta=meta, status=200, path="/api/v2/users")
    assert raised.value.retryable
    assert f"page {number}: no items, though the list's own total of" in str(raised.value)


@pytest.mark.parametrize(
    ("size", "meta"),
    [
        (1, {"page": {"total_count": 250, "size": 1}}),
        (50, {"page": {"total": 250, "size": 50, "number": 0}}),
        (20, {"pagination": {"type": "number_size", "size": 20, "total": 250}}),
        (10, {"pagination": {"type": "offset_limit", "limit": 10, "total": 250}}),
    ],
)
async def test_a_page_holding_more_items_than_the_size_it_reports_is_named(size: int, meta: dict[str, Any]) -> None:
    """A page contradicting its own `meta.page.size`: every later page's place was computed at that size, and the
    walk of 250 users ended at page 3, "no items, though the list's own total of 250 says there are more", retryable,
    at every sync for ever. The contradiction is named instead, and asking again cannot help."""
    users = [{"type": "users", "id": f"u{n}", "attributes": {}} for n in range(250)]

    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params.get("page[number]", "0"))
        return httpx.Response(200, json={"data": users[number * 100 : number * 100 + 100], "meta": meta})

    async with answered_by(handler) as client:
        with pytest.raises(UnexpectedResponse) as raised:
            async for _ in paginate(listed(client.fetch_users)):
                pass
    assert str(raised.value) == (
        f"Datadog unexpected response: GET /api/v2/users -> 200: page 0: 100 items, more than the page size of {size} "
        "it reports"
    )
    assert not raised.value.retryable


@pytest.mark.parametrize(
    ("number", "meta"),
    [(0, {"page": {"total_count": 0, "total_filtered_count": 0}}), (2, {"page": {"total_filtered_count": 200}})],
)
def test_an_empty_page_at_its_own_total_ends_the_list(number: int, meta: dict[str, Any]) -> None:
    assert next_page_number(number=number, requested_size=100, count=0, meta=meta, status=200) is None


@pytest.mark.parametrize("token", ["x", "-1", "1.0", "²", "٣", "9" * 5000])
def test_a_page_token_that_is_not_an_ascii_page_number_is_named_not_a_traceback(token: str) -> None:
    # The page token of a resumed sync comes from the c1z file: untrusted. `str.isdigit` alone accepts "²" (which
    # `int` refuses) and digit strings past `int`'s 4,300-digit limit.
    from connector.baton.errors import InvalidArgumentError
    from connector.datadog.resources.tokens import page_number

    with pytest.raises(InvalidArgumentError, match="malformed page token"):
        page_number(token)
    assert page_number("") == 0
    assert page_number("12") == 12


@pytest.mark.parametrize(
    ("meta", "named"),
    [
        (
            {"page": None, "pagination": {"total": "40"}},
            "meta.pagination.total (expected a whole number, got a string)",
        ),
        ({"page": [], "pagination": {}}, "meta.pagination.total (missing)"),
        ({"page": {"total_count": "40"}, "pagination": {"total": 40}}, "meta.page.total_count (expected a whole"),
        ({"page": "40"}, "meta.page (expected an object, got a string)"),
    ],
)
def test_an_unusable_total_is_named_where_the_reader_looked_for_it(meta: dict[str, Any], named: str) -> None:
    """A `meta.page` that is no object is not read (the reader goes on to `meta.pagination`): an answer whose
    `pagination.total` was the wrong type was reported as "meta.page (missing)", a member that was not the one read."""
    with pytest.raises(UnexpectedResponse) as raised:
        next_page_number(number=0, requested_size=100, count=1, meta=meta, total_required=True, status=200)
    assert f"no usable meta total (this list always reports one): {named}" in str(raised.value)
