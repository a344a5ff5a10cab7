"""A listing's total contradicted by another statement of the same answer: `meta.pagination.last_number` (teams, a
team's memberships), `meta.page.next_number` (On-Call schedules), or `meta.page.total_count` of a listing asked without
a filter (users, roles). Trusted alone, a total below the others ended the listing at it, and the items past it (teams,
members, users with their role grants) were synced as gone: access ConductorOne no longer saw. The next page tells
which statement was wrong, so an answer whose statements agree (every honest one) costs no request more."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connector.datadog.client import DatadogClient
from connector.datadog.paging import Page, paginate
from tests.independent.datadog2.org import (
    C1z,
    Datadog,
    Org,
    Query,
    Reply,
    contents,
    membership,
    number,
    sync,
    team,
    user,
)
from tests.independent.rawpeer import Answer, RawPeer, http


def _pagination(items: list[dict[str, Any]], page: int, total: int, last: int) -> bytes:
    pagination = {"type": "number_size", "number": page, "size": 100, "total": total, "next_number": page + 1}
    pagination["last_number"] = last
    return json.dumps({"data": items, "meta": {"pagination": pagination}}).encode()


async def _sync(dd: Datadog, tmp_path: Path) -> tuple[BaseException | None, C1z]:
    path = tmp_path / "sync.c1z"
    async with dd:
        error = await sync(dd, path)
    return error, contents(path)


async def test_a_teams_total_below_its_own_last_number_does_not_end_the_listing(tmp_path: Path) -> None:
    """150 teams; page 0 counts 100 (a full page exactly at its total) while its `last_number` names page 1: the
    50 teams there were never listed, nor their members' grants."""
    teams = [team(f"t-{i:03d}", 0) for i in range(150)]

    def answer(_: str, query: Query) -> Reply:
        n = number(query)
        total = 100 if n == 0 else 150
        return 200, _pagination(teams[100 * n : 100 * n + 100], n, total, last=1)

    dd = Datadog(org=Org(teams=teams, members={}), routes={"/api/v2/team": answer})
    error, c1z = await _sync(dd, tmp_path)
    assert error is None, error
    assert len(c1z.resources["team"]) == 150
    assert dd.count("/api/v2/team") == 2


async def test_a_teams_members_past_a_total_below_its_last_number_are_granted(tmp_path: Path) -> None:
    members = [membership("t-1", f"u-{i:03d}") for i in range(120)]

    def answer(_: str, query: Query) -> Reply:
        n = number(query)
        total = 100 if n == 0 else 120
        return 200, _pagination(members[100 * n : 100 * n + 100], n, total, last=1)

    dd = Datadog(org=Org(teams=[team("t-1", 120)]), routes={"/api/v2/team/t-1/memberships": answer})
    error, c1z = await _sync(dd, tmp_path)
    assert error is None, error
    granted = [g for g in c1z.grants if g.startswith("team:t-1:member:")]
    assert len(granted) == 120
    assert "team:t-1:member:user:u-119" in c1z.grants
    assert dd.count("/api/v2/team/t-1/memberships") == 2


async def test_an_unfiltered_users_total_below_its_total_count_does_not_end_the_listing(tmp_path: Path) -> None:
    """Unfiltered, `total_filtered_count` and `total_count` count one list (203,828 both in Datadog's recorded answer):
    page 0 filtered-counting 100 of a `total_count` of 150 ended the walk, and 50 users and their role grants were
    synced as gone."""
    users = [user(f"u-{i:03d}", "r-admin") for i in range(150)]

    def answer(_: str, query: Query) -> Reply:
        n = number(query)
        counts = {"total_count": 150, "total_filtered_count": 100 if n == 0 else 150}
        return 200, json.dumps({"data": users[100 * n : 100 * n + 100], "meta": {"page": counts}}).encode()

    dd = Datadog(org=Org(users=users), routes={"/api/v2/users": answer})
    error, c1z = await _sync(dd, tmp_path)
    assert error is None, error
    assert len(c1z.resources["user"]) == 150
    assert "role:r-admin:member:user:u-149" in c1z.grants
    assert dd.count("/api/v2/users") == 2


async def test_a_users_total_that_keeps_lying_below_its_total_count_fails_the_sync_not_the_users(
    tmp_path: Path,
) -> None:
    """Every page counting 100 of a `total_count` of 150: the users past 100 are read, and found past the listing's own
    total, a contradiction the sync fails on, rather than ending with them synced as gone."""
    users = [user(f"u-{i:03d}", "r-admin") for i in range(150)]

    def answer(_: str, query: Query) -> Reply:
        n = number(query)
        counts = {"total_count": 150, "total_filtered_count": 100}
        return 200, json.dumps({"data": users[100 * n : 100 * n + 100], "meta": {"page": counts}}).encode()

    dd = Datadog(org=Org(users=users), routes={"/api/v2/users": answer})
    error, c1z = await _sync(dd, tmp_path)
    assert error is not None
    assert "page 1: 50 items past the list's own total of 100" in str(error), error
    assert c1z.finished == [False]


async def test_a_last_number_above_the_total_costs_one_empty_page_and_ends_cleanly(tmp_path: Path) -> None:
    """The other way round: the total was right and `last_number` wrong. The next page is empty, and the listing ends
    there, whole: one request more, for an answer that contradicts itself only."""
    teams = [team(f"t-{i}", 0) for i in range(3)]

    def answer(_: str, query: Query) -> Reply:
        n = number(query)
        return 200, _pagination(teams[100 * n : 100 * n + 100], n, 3, last=1)

    dd = Datadog(org=Org(teams=teams, members={}), routes={"/api/v2/team": answer})
    error, c1z = await _sync(dd, tmp_path)
    assert error is None, error
    assert c1z.resources["team"] == ["t-0", "t-1", "t-2"]
    assert dd.count("/api/v2/team") == 2


async def test_an_honest_org_costs_the_lower_bound(tmp_path: Path) -> None:
    """Statements that agree: not one request more than the pages the totals imply, even with 200 users (a full last
    page exactly at the total) and a team of 100 members."""
    org = Org(
        users=[user(f"u-{i:03d}", "r-admin") for i in range(200)],
        teams=[team("t-1", 100), team("t-2", 0)],
        members={"t-1": [membership("t-1", f"u-{i:03d}") for i in range(100)]},
    )
    dd = Datadog(org=org)
    error, c1z = await _sync(dd, tmp_path)
    assert error is None, error
    assert len(c1z.resources["user"]) == 200
    assert [dd.count(p) for p in ("/api/v2/users", "/api/v2/roles", "/api/v2/team")] == [2, 1, 1]
    assert dd.count("/api/v2/team/t-1/memberships") == 1
    assert dd.count("/api/v2/team/t-2/memberships") == 0


def _schedules(ids: list[str], page: int, total: int, next_number: int | None) -> bytes:
    data = [{"type": "schedules", "id": sid, "attributes": {"name": sid, "time_zone": "UTC"}} for sid in ids]
    meta = {"type": "number_size", "number": page, "size": 100, "total": total, "next_number": next_number}
    return json.dumps({"data": data, "meta": {"page": meta}}).encode()


async def _walk(answers: list[Answer], fetch: Any) -> tuple[list[str], int]:
    async with RawPeer(answers) as peer:
        dd = DatadogClient(api_key="k" * 32, app_key="a" * 40, base_url=peer.base_url)
        try:
            seen: list[str] = []
            page: Page[Any]
            async for page in paginate(lambda n: fetch(dd, n)):
                seen += [item.id for item in page.items]
        finally:
            await dd.aclose()
    return seen, len(peer.requests)


async def test_a_schedules_total_below_its_own_next_number_does_not_end_the_listing() -> None:
    """The Go connector follows `meta.page.next_number` until null (reference-connector.md §5.3): a page 0 counting
    100 schedules while naming page 1 next ended the walk here, its 30 schedules (and who is on call) unread."""
    first = [f"s-{i:03d}" for i in range(100)]
    second = [f"s-{i:03d}" for i in range(100, 130)]
    answers: list[Answer] = [http(200, _schedules(first, 0, 100, 1)), http(200, _schedules(second, 1, 130, None))]
    seen, requests = await _walk(answers, lambda dd, n: dd.list_schedules(n))
    assert seen == first + second
    assert requests == 2


async def test_a_filtered_listing_stops_at_its_filtered_total() -> None:
    """A name-filtered listing (a credential's duplicate check): `total_count` is the whole list's, not the listing's
    size, and says nothing of a page to follow."""
    keys = [{"type": "api_keys", "id": f"k-{i:03d}", "attributes": {"name": f"c1-{i}"}} for i in range(100)]
    body = json.dumps({"data": keys, "meta": {"page": {"total_filtered_count": 100, "total_count": 500}}}).encode()
    seen, requests = await _walk([http(200, body)], lambda dd, n: dd.list_api_keys(n, name_filter="c1-"))
    assert len(seen) == 100
    assert requests == 1


async def test_a_short_schedules_page_whose_next_number_names_another_is_not_the_last() -> None:
    """Datadog serves On-Call schedules 50 a page whatever `page[size]` asks (reference-connector.md §5.2, row 16): a
    page of 50 stating neither its size nor a total, but naming page 1 next, was taken for the last (a short page), and
    the schedules past the first 50 were never synced. The Go connector reads on until `next_number` is null."""
    first = [f"s-{i:03d}" for i in range(50)]
    second = [f"s-{i:03d}" for i in range(50, 70)]

    def page(ids: list[str], n: int, following: int | None) -> bytes:
        data = [{"type": "schedules", "id": sid, "attributes": {"name": sid, "time_zone": "UTC"}} for sid in ids]
        return json.dumps({"data": data, "meta": {"page": {"number": n, "next_number": following}}}).encode()

    answers: list[Answer] = [http(200, page(first, 0, 1)), http(200, page(second, 1, None))]
    seen, requests = await _walk(answers, lambda dd, n: dd.list_schedules(n))
    assert seen == first + second
    assert requests == 2
