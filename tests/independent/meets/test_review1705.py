"""Review r1705 of `ListingGuard.removing`: a removal under way when a walk's first page is asked for marks the walk
(its stamp names the removals under way), as does one pushed out of the guard's history of landed
removals; a removal Datadog refused (a 403 with its error body: `errors.nothing_done`) fails no sync."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.errors import UnexpectedResponse
from connector.datadog.paging import ListingGuard
from tests.fakes.tasks import grant_task, revoke_task
from tests.independent.meets.shared import (
    failed_for_the_change,
    guard_page,
    large_team,
    of_key,
    second_page_held,
    team_member_held,
)
from tests.independent.writes.conftest import Rig
from tests.independent.writes.wire import JSON, Wire


def test_a_removal_under_way_when_the_first_page_is_asked_for_and_landed_before_its_check_marks_the_walk() -> None:
    """The DELETE goes out, then page 0's GET; Datadog serves page 0, then applies the DELETE (an item of page 1 moves
    onto page 0, unread); the 204 comes back and ends the removal before page 0's answer is checked: the walk, whose
    first page was asked for before the write ended, fails at its next page."""
    guard = ListingGuard()
    removal = guard.removing(of_key)
    removal.__enter__()
    since = guard.removal_epoch  # read before page 0's request, the removal under way
    removal.__exit__(None, None, None)  # the 204: landed
    guard_page(guard, 0, since=since)
    with pytest.raises(UnexpectedResponse, match="removed or moved"):
        guard_page(guard, 1)


def test_a_removal_landed_after_the_first_page_was_asked_for_marks_the_walk() -> None:
    """Control: the case r1703 fixed (the removal begun after the request) is marked."""
    guard = ListingGuard()
    since = guard.removal_epoch
    with guard.removing(of_key):
        pass
    guard_page(guard, 0, since=since)
    with pytest.raises(UnexpectedResponse, match="removed or moved"):
        guard_page(guard, 1)


# End to end, through the client and the fake Datadog.


async def test_a_revoke_sent_before_the_first_page_and_answered_before_it_fails_the_walk(
    rig: Rig, tmp_path: Path
) -> None:
    """The revoke's DELETE is out first; the sync's page 0 GET after it. Datadog serves page 0, then applies the
    DELETE and answers 204 (the removal ends), a grant lands, then page 0's answer reaches the client."""
    team = large_team(rig)
    listed = list(team.members)
    leaving, staying = listed[5], listed[100]
    joiner = rig.fake.org.add_user("joiner@example.com", name="Joiner", status="Active")
    rig.client.stop_reading(await rig.client.list_team_memberships(team.id))
    delete_arrived, page_served, page_gate = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def delete(request: httpx.Request, wire: Wire) -> httpx.Response:
        delete_arrived.set()
        await page_served.wait()
        status, body = await wire.forward(request)
        return httpx.Response(status, content=body, headers={"Content-Type": JSON} if body else {})

    async def page(request: httpx.Request, wire: Wire) -> httpx.Response:
        status, body = await wire.forward(request)
        if request.url.params.get("page[number]") == "0":
            page_served.set()
            await page_gate.wait()
        return httpx.Response(status, content=body, headers={"Content-Type": JSON})

    rig.wire.on("DELETE", f"/api/v2/team/{team.id}/memberships/.*", delete, times=1)
    rig.wire.on("GET", f"/api/v2/team/{team.id}/memberships", page, times=10)
    revoking = asyncio.create_task(rig.run(revoke_task("team", team.id, "member", leaving)))
    await asyncio.wait_for(delete_arrived.wait(), 10)
    path = tmp_path / "sync.c1z"
    syncing = asyncio.create_task(sync_to_file(rig.connector.syncers(), path, SyncOptions(), save_on_error=False))
    revoked = await asyncio.wait_for(revoking, 10)
    granted = await rig.run(grant_task("team", team.id, "member", joiner.id))
    assert revoked.ok, revoked.message
    assert granted.ok, granted.message
    assert staying in team.members
    page_gate.set()
    (ended,) = await asyncio.gather(syncing, return_exceptions=True)
    failed_for_the_change(ended, path, team_member_held(team.id, staying), "team")


async def test_a_revoke_datadog_refused_with_403_fails_no_sync(rig: Rig, tmp_path: Path) -> None:
    """The revoke's DELETE is refused by Datadog itself (403, its JSON error body: the app key lacks the permission):
    nothing was removed (`errors.nothing_done` says so), the team never changed."""
    team = large_team(rig)
    leaving = list(team.members)[5]
    page_gate, page_arrived = asyncio.Event(), asyncio.Event()

    async def refused(request: httpx.Request, wire: Wire) -> httpx.Response:
        return httpx.Response(403, content=b'{"errors":["Forbidden"]}', headers={"Content-Type": JSON})

    rig.wire.on("GET", f"/api/v2/team/{team.id}/memberships", second_page_held(page_gate, page_arrived), times=10)
    rig.wire.on("DELETE", f"/api/v2/team/{team.id}/memberships/.*", refused, times=5)
    syncing = asyncio.create_task(
        sync_to_file(rig.connector.syncers(), tmp_path / "sync.c1z", SyncOptions(), save_on_error=False)
    )
    await asyncio.wait_for(page_arrived.wait(), 10)
    revoked = await rig.run(revoke_task("team", team.id, "member", leaving))
    assert not revoked.ok  # refused: nothing done
    assert leaving in team.members
    page_gate.set()
    (ended,) = await asyncio.gather(syncing, return_exceptions=True)
    assert not isinstance(ended, BaseException), f"the sync failed though the team never changed: {ended}"


def test_a_removal_pushed_out_of_the_history_behind_a_long_one_still_marks_the_walk() -> None:
    """The guard's history of landed removals is in the order they ended, not their ids: a removal of the list that
    landed after the first page was asked for, pushed out behind a long one begun before it (1,024 removals of other
    lists landing while one first page is on its way, e.g. through a long rate-limit wait), still marks the walk."""
    guard = ListingGuard()
    long_one = guard.removing(lambda key: False)
    long_one.__enter__()  # id 1, under way when the page is asked for
    since = guard.removal_epoch
    with guard.removing(of_key):  # id 2: this list's item removed after page 0 was asked for
        pass
    long_one.__exit__(None, None, None)
    for _ in range(1023):
        with guard.removing(lambda key: False):
            pass
    guard_page(guard, 0, since=since)
    with pytest.raises(UnexpectedResponse, match="removed or moved"):
        guard_page(guard, 1)
