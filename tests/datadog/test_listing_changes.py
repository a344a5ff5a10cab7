"""A list that changes while it is read: Datadog pages by number, not by cursor, so an item deleted from a page
already read moves the next page's first item onto that page, unread, and an item repeated on the next page (one
added before it meanwhile, or a peer's bug) hides one the total says exists. The sync must fail (retryably: a
later one may read the list whole) rather than finish without those items, which ConductorOne would take for
deleted. A list that only grows past the page being read loses nothing and must still sync. An item of a list
that names no user is not lost unsaid either: the engine drops, logs and counts it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import structlog

from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.connector import DatadogConnector, DatadogOptions
from connector.datadog.errors import UnexpectedResponse
from connector.datadog.paging import ListingGuard
from tests.datadog.helpers import answered_by, listed

TEAM = "team-1"
# The listings a full sync with secrets walks by page number, and how each names its items and its total.
LISTINGS = {
    "users": "/api/v2/users",
    "roles": "/api/v2/roles",
    "teams": "/api/v2/team",
    "team memberships": f"/api/v2/team/{TEAM}/memberships",
    "api keys": "/api/v2/api_keys",
}
Ids = Callable[[int], list[str]]  # page number -> the ids the list holds when that page is read


def _item(path: str, item_id: str) -> dict[str, Any]:
    # Of the listing's own kind, every team's memberships and every role's users alike: the client refuses an item of
    # another kind in a listing.
    if path == LISTINGS["users"] or (path.startswith("/api/v2/roles/") and path.endswith("/users")):
        return {"type": "users", "id": item_id, "attributes": {"email": f"{item_id}@example.com", "status": "Active"}}
    if path == LISTINGS["roles"]:
        return {"type": "roles", "id": item_id, "attributes": {"name": item_id}}
    if path == LISTINGS["teams"]:
        return {"type": "team", "id": item_id, "attributes": {"name": item_id, "handle": item_id, "user_count": 1}}
    if path.startswith("/api/v2/team/") and path.endswith("/memberships"):
        return {
            "type": "team_memberships",
            "id": f"TeamMembership-{path.split('/')[4]}-{item_id}",
            "attributes": {"role": None},
            "relationships": {"user": {"data": {"type": "users", "id": item_id}}},
        }
    # Each key listing's own type: the client refuses an item of another kind in it.
    kind = "application_keys" if path.endswith("/application_keys") else "api_keys"
    if path.endswith("/access_tokens"):
        kind = "service_access_tokens"
    return {"type": kind, "id": item_id, "attributes": {"name": item_id, "last4": "abcd"}}


class Emptied(list[str]):
    """A list whose pages answer no items while its total still counts these."""


class Counted(list[str]):
    """A list whose pages report the total Datadog counted a moment before it read them (`counted`)."""

    def __init__(self, ids: list[str], counted: int) -> None:
        super().__init__(ids)
        self.counted = counted


def _body(path: str, ids: list[str], number: int) -> dict[str, Any]:
    items = [] if isinstance(ids, Emptied) else [_item(path, i) for i in ids[number * 100 : (number + 1) * 100]]
    total = ids.counted if isinstance(ids, Counted) else len(ids)
    if path.startswith("/api/v2/team"):
        return {"data": items, "meta": {"pagination": {"type": "number_size", "total": total, "size": 100}}}
    return {"data": items, "meta": {"page": {"total_count": total, "total_filtered_count": total}}}


def _steady(path: str) -> list[str]:
    if path == LISTINGS["teams"]:
        return [TEAM]
    if path == LISTINGS["team memberships"]:
        return ["u000"]
    prefix = "u" if path == LISTINGS["users"] else path.rsplit("/", 1)[-1][:1]
    return [f"{prefix}{i:03d}" for i in range(3)]


async def _sync(path: str, ids: Ids, tmp_path: Path) -> set[str]:
    """Sync an org whose `path` list holds `ids(page)` when that page is read (every other list is small and
    steady); the ids of the resources and grant principals stored under `path`'s type."""

    def handler(request: httpx.Request) -> httpx.Response:
        number = int(parse_qs(request.url.query.decode())["page[number]"][0])
        listed = ids(number) if request.url.path == path else _steady(request.url.path)
        return httpx.Response(200, json=_body(request.url.path, listed, number))

    client = answered_by(handler)
    try:
        connector = DatadogConnector(client, DatadogOptions(sync_secrets=True))
        await sync_to_file(connector.syncers(), tmp_path / "s.c1z", SyncOptions())
    finally:
        await client.aclose()
    with C1ZReader(tmp_path / "s.c1z") as reader:
        stored = {f"{r.id.resource_type}:{r.id.resource}" for r in reader.resources()}
        stored |= {f"member:{g.principal.id.resource}" for g in reader.grants() if g.entitlement.id.endswith(":member")}
    return stored


def _names(path: str) -> str:
    return {
        LISTINGS["users"]: "user",
        LISTINGS["roles"]: "role",
        LISTINGS["teams"]: "team",
        LISTINGS["team memberships"]: "member",
        LISTINGS["api keys"]: "api-key",
    }[path]


ORG = [f"x{i:03d}" for i in range(250)]


@pytest.mark.parametrize("path", LISTINGS.values(), ids=LISTINGS.keys())
async def test_an_item_deleted_from_a_page_already_read_fails_the_sync(path: str, tmp_path: Path) -> None:
    """x005 is deleted after page 0 is read: x100 moves onto page 0 and page 1 starts at x101. The sync finished
    complete without x100."""
    shrunk = [i for i in ORG if i != "x005"]
    with pytest.raises(UnexpectedResponse, match="total fell from 250 to 249") as raised:
        await _sync(path, lambda number: ORG if number == 0 else shrunk, tmp_path)
    assert raised.value.retryable


@pytest.mark.parametrize("path", LISTINGS.values(), ids=LISTINGS.keys())
async def test_an_item_repeated_on_the_next_page_fails_the_sync(path: str, tmp_path: Path) -> None:
    """Page 1 starts with page 0's last item and the total stays 200: the last page ends at the total with x199
    never sent. The sync finished complete without it."""
    org = ORG[:200]
    pages = {0: org, 1: [*org[:100], org[99], *org[100:199]]}
    with pytest.raises(
        UnexpectedResponse, match=re.escape("199 distinct item(s), fewer than its total of 200")
    ) as raised:
        await _sync(path, lambda number: pages[number], tmp_path)
    assert raised.value.retryable


@pytest.mark.parametrize("change", ["total fell", "empty page"])
async def test_a_sync_failed_on_a_changed_listing_starts_over_rather_than_resume(change: str, tmp_path: Path) -> None:
    """The failed run stored page 0 as it was before the change. Resumed, it went on at page 1 of the changed list
    and finished complete without x100 (which moved onto page 0): the next run must start over."""
    shrunk = [i for i in ORG if i != "x005"]
    if change == "total fell":
        first: Ids = lambda number: ORG if number == 0 else shrunk  # noqa: E731
    else:  # page 1 answered empty while the total still says 250
        first = lambda number: ORG if number == 0 else Emptied(ORG)  # noqa: E731
    with pytest.raises(UnexpectedResponse, match="total fell" if change == "total fell" else "no items") as raised:
        await _sync(LISTINGS["users"], first, tmp_path)
    assert raised.value.retryable
    with C1ZReader(tmp_path / "s.c1z") as reader:
        (run,) = reader.sync_runs()
        assert not run.finished  # saved, but as a run never to resume
    stored = await _sync(LISTINGS["users"], lambda number: shrunk, tmp_path)
    assert {f"user:{i}" for i in shrunk} <= stored


async def test_one_page_holding_an_item_twice_fails_the_sync(tmp_path: Path) -> None:
    with pytest.raises(UnexpectedResponse, match=re.escape("1 distinct item(s), fewer than its total of 2")):
        await _sync(LISTINGS["api keys"], lambda number: ["k1", "k1"], tmp_path)


@pytest.mark.parametrize("path", LISTINGS.values(), ids=LISTINGS.keys())
async def test_a_list_growing_past_the_page_being_read_syncs_every_item(path: str, tmp_path: Path) -> None:
    """Items added after the part already read shift nothing that was read: the sync finishes with all of them."""
    grown = [*ORG, "z000", "z001"]
    stored = await _sync(path, lambda number: ORG if number == 0 else grown, tmp_path)
    assert {f"{_names(path)}:{i}" for i in grown} <= stored


@pytest.mark.parametrize("path", LISTINGS.values(), ids=LISTINGS.keys())
async def test_a_list_growing_before_the_page_being_read_syncs_every_item_it_held(path: str, tmp_path: Path) -> None:
    """Two items added at the front after page 0 is read: x098 and x099 are read again on page 1, and the new items
    are not read at all. Every item the list held when the sync began is stored (the next sync has the new ones), so
    the sync must not fail: a large org growing all day would fail every sync."""
    grown = ["a000", "a001", *ORG]
    stored = await _sync(path, lambda number: ORG if number == 0 else grown, tmp_path)
    assert {f"{_names(path)}:{i}" for i in ORG} <= stored


@pytest.mark.parametrize("path", LISTINGS.values(), ids=LISTINGS.keys())
async def test_a_full_page_holding_more_than_its_total_is_not_the_end(path: str, tmp_path: Path) -> None:
    """The list held 99 items when Datadog counted it, and two were added at the front before it read page 0: a full
    page of 100 under a total of 99. The total was taken for the end of the list, and x098, pushed onto page 1, was
    never read: the sync finished complete without an item the list held all along, which ConductorOne takes for
    deleted. A full page that overflows its own total ends nothing; the next page says where the list ends."""
    held = ORG[:99]
    grown = ["a000", "a001", *held]
    stored = await _sync(path, lambda number: Counted(grown, len(held)) if number == 0 else grown, tmp_path)
    assert {f"{_names(path)}:{i}" for i in held} <= stored


async def test_items_without_an_id_are_dropped_not_counted_as_repeats(tmp_path: Path) -> None:
    """Two users without an id are two items the sync drops and counts, as before; not a repeat of each other."""
    org = ["", "", *ORG[:98]]
    stored = await _sync(LISTINGS["users"], lambda number: org, tmp_path)
    assert {f"user:{i}" for i in ORG[:98]} <= stored


SAT_PATH = "/api/v2/service_accounts/u000/access_tokens"


@pytest.mark.parametrize(
    "path", [LISTINGS["team memberships"], "/api/v2/roles/r000/users", LISTINGS["api keys"], SAT_PATH]
)
async def test_a_record_without_its_id_is_dropped_logged_and_counted(path: str, tmp_path: Path) -> None:
    """A team membership naming no user, a role user, API key or access token without an id was skipped by the
    syncer without a word; as every record without an identity, the engine drops it, logs it and counts it in
    `sync finished`."""

    def handler(request: httpx.Request) -> httpx.Response:
        number = int(parse_qs(request.url.query.decode())["page[number]"][0])
        if request.url.path == LISTINGS["users"]:
            sa = _item(LISTINGS["users"], "u000")
            sa["attributes"]["service_account"] = True
            return httpx.Response(200, json={"data": [sa], "meta": {"page": {"total_count": 1}}})
        if request.url.path != path:
            return httpx.Response(200, json=_body(request.url.path, _steady(request.url.path), number))
        meta: dict[str, Any] = {"page": {"total_count": 2}}
        if path == LISTINGS["team memberships"]:
            nameless = {"type": "team_memberships", "id": "TeamMembership-team-1-9", "attributes": {"role": None}}
            items = [_item(path, "u001"), nameless]
            meta = {"pagination": {"type": "number_size", "total": 2, "size": 100}}
        elif path == LISTINGS["api keys"]:
            items = [_item(path, "k1"), _item(path, "")]
        elif path == SAT_PATH:
            items = [{"type": "service_access_tokens", "id": i, "attributes": {"name": "t"}} for i in ("t1", "")]
        else:
            items = [_item(LISTINGS["users"], "u001"), {"type": "users", "id": "", "attributes": {}}]
        return httpx.Response(200, json={"data": items, "meta": meta})

    client = answered_by(handler)
    connector = DatadogConnector(
        client, DatadogOptions(sync_secrets=True, sync_service_account_application_keys=path == SAT_PATH)
    )
    # A role's users are read by a sync that does not walk the users (the per-role endpoint).
    options = SyncOptions(resource_type_ids=["role"] if "roles" in path else [])
    with structlog.testing.capture_logs() as events:
        await sync_to_file(connector.syncers(), tmp_path / "s.c1z", options)
    await client.aclose()
    (finished,) = [e for e in events if e["event"] == "sync finished"]
    assert finished["dropped_invalid_records"] == 1
    assert [e for e in events if e["event"] == "records without an identity dropped"]
    with C1ZReader(tmp_path / "s.c1z") as reader:
        kept = {g.principal.id.resource for g in reader.grants()} | {r.display_name for r in reader.resources()}
        assert "" not in {r.id.resource for r in reader.resources()}
    assert {LISTINGS["api keys"]: "k1", SAT_PATH: "t"}.get(path, "u001") in kept, "the record with an id is kept"


async def test_two_syncs_walking_one_list_side_by_side_each_have_their_pages_checked() -> None:
    """The service's periodic sync and a task's sync share the client. With one memory per list, each one's page
    restarted the other's walk: B's page 1 followed no walk, so its listing was not counted and ended short."""
    org = ORG[:200]
    pages = {0: org, 1: [*org[:100], org[99], *org[100:199]]}  # page 1 repeats x099; x199 is never sent

    def handler(request: httpx.Request) -> httpx.Response:
        number = int(parse_qs(request.url.query.decode())["page[number]"][0])
        return httpx.Response(200, json=_body(LISTINGS["users"], pages[number], number))

    client = answered_by(handler)
    await listed(client.fetch_users)(0)  # sync A
    await listed(client.fetch_users)(0)  # sync B
    for _ in range(2):  # A's page 1, then B's
        with pytest.raises(UnexpectedResponse, match="199 distinct"):
            await listed(client.fetch_users)(1)
    await client.aclose()


async def test_a_walk_goes_on_from_its_own_page_when_another_walk_of_the_list_starts_meanwhile() -> None:
    """Walks side by side are not in step: a sync starting the list (its page 0) between two pages of another must
    not hide the other's walk, whose next page follows its own last one and is counted against its own total."""
    org = [f"x{i:03d}" for i in range(300)]
    pages = {0: org, 1: org, 2: [*org[:200], org[199], *org[200:299]]}  # page 2 repeats x199; x299 is never sent

    def handler(request: httpx.Request) -> httpx.Response:
        number = int(parse_qs(request.url.query.decode())["page[number]"][0])
        return httpx.Response(200, json=_body(LISTINGS["users"], pages[number], number))

    client = answered_by(handler)
    await listed(client.fetch_users)(0)  # sync A
    await listed(client.fetch_users)(1)  # A
    await listed(client.fetch_users)(0)  # sync B starts
    with pytest.raises(UnexpectedResponse, match="299 distinct"):
        await listed(client.fetch_users)(2)  # A's last page
    await client.aclose()


def test_the_guard_remembers_at_most_its_capacity_of_unfinished_walks() -> None:
    """Walks side by side cost memory per walk: beyond the capacity the least recently used key's oldest walk is
    forgotten (its next page starts afresh, unchecked against it), whatever the number of walks per key."""
    guard = ListingGuard(capacity=2)

    def page(key: str, number: int, ids: list[str]) -> None:
        guard.check(
            key,
            number=number,
            size=100,
            total=None,
            ids=ids,
            next_number=number + 1,
            path=key,
            status=200,
        )

    page("a", 0, ["x"])
    page("b", 0, ["y"])
    page("b", 0, ["z"])  # a second walk of b: a's is forgotten
    page("a", 1, ["x"])  # a repeat of a's page 0, not caught: that walk is gone
    with pytest.raises(UnexpectedResponse, match="page 1 repeats page 0"):
        page("b", 1, ["z"])


async def test_a_users_role_linkage_without_an_id_is_dropped_not_granted_on_no_role(tmp_path: Path) -> None:
    """A user's `relationships.roles` naming a role `{"id": ""}` (a peer's blank linkage) became a grant of
    `role::member` on a role with no id, stored and sent to ConductorOne as access to nothing. A grant's entitlement
    without its resource's identity is an invalid record (spec c1z-format §5.2): dropped, logged and counted; the
    user's other role grant is kept."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == LISTINGS["users"]:
            user = _item(LISTINGS["users"], "u001")
            user["relationships"] = {"roles": {"data": [{"type": "roles", "id": ""}, {"type": "roles", "id": "r1"}]}}
            return httpx.Response(200, json={"data": [user], "meta": {"page": {"total_count": 1}}})
        if request.url.path == LISTINGS["roles"]:
            return httpx.Response(
                200, json={"data": [_item(LISTINGS["roles"], "r1")], "meta": {"page": {"total_count": 1}}}
            )
        return httpx.Response(200, json={"data": [], "meta": {"page": {"total_count": 0}, "pagination": {"total": 0}}})

    client = answered_by(handler)
    with structlog.testing.capture_logs() as events:
        await sync_to_file(DatadogConnector(client, DatadogOptions()).syncers(), tmp_path / "s.c1z", SyncOptions())
    await client.aclose()
    (finished,) = [e for e in events if e["event"] == "sync finished"]
    assert finished["dropped_invalid_records"] == 1
    with C1ZReader(tmp_path / "s.c1z") as reader:
        assert {g.id for g in reader.grants()} == {"role:r1:member:user:u001"}
