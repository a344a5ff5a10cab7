"""Review r1703 of `ListingGuard.removing`: a walk whose first page Datadog served before the connector's own removal
but whose answer (and its check) came after the removal ended is marked too (its first page's request is stamped
with the guard's `removal_epoch`); and a revoke that removed nothing (Datadog's 404, "already revoked", as a
ConductorOne retry of a done revoke gets) marks no walk: a sync of the unchanged team is not failed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from tests.fakes.tasks import grant_task, revoke_task
from tests.independent.meets.shared import failed_for_the_change, large_team, second_page_held, team_member_held
from tests.independent.writes.conftest import Rig
from tests.independent.writes.wire import JSON, Action, Wire


def _first_answer_late(gate: asyncio.Event, served: asyncio.Event) -> Action:
    """Datadog serves page 0 at once; its answer reaches the client only once `gate` opens (a large page still on
    the way while a small DELETE's 204 comes back)."""

    async def act(request: httpx.Request, wire: Wire) -> httpx.Response:
        status, body = await wire.forward(request)
        if request.url.params.get("page[number]") == "0":
            served.set()
            await gate.wait()
        return httpx.Response(status, content=body, headers={"Content-Type": JSON})

    return act


async def test_a_removal_between_a_first_page_served_and_checked_fails_the_walk(rig: Rig, tmp_path: Path) -> None:
    team = large_team(rig)
    listed = list(team.members)
    leaving, staying = listed[5], listed[100]
    joiner = rig.fake.org.add_user("joiner@example.com", name="Joiner", status="Active")
    # The memberships bucket learned first: until then the client sends one request of a group at a time.
    rig.client.stop_reading(await rig.client.list_team_memberships(team.id))
    gate, served = asyncio.Event(), asyncio.Event()
    rig.wire.on("GET", f"/api/v2/team/{team.id}/memberships", _first_answer_late(gate, served), times=10)
    path = tmp_path / "sync.c1z"
    syncing = asyncio.create_task(sync_to_file(rig.connector.syncers(), path, SyncOptions(), save_on_error=False))
    await asyncio.wait_for(served.wait(), 10)
    revoked = await rig.run(revoke_task("team", team.id, "member", leaving))
    granted = await rig.run(grant_task("team", team.id, "member", joiner.id))
    assert revoked.ok, revoked.message
    assert granted.ok, granted.message
    assert staying in team.members
    gate.set()
    (ended,) = await asyncio.gather(syncing, return_exceptions=True)
    failed_for_the_change(ended, path, team_member_held(team.id, staying), "team")


async def test_a_revoke_that_removed_nothing_fails_no_sync(rig: Rig, tmp_path: Path) -> None:
    team = large_team(rig)
    outsider = rig.fake.org.add_user("outsider@example.com", name="Outsider", status="Active")
    assert outsider.id not in team.members
    gate, arrived = asyncio.Event(), asyncio.Event()
    rig.wire.on("GET", f"/api/v2/team/{team.id}/memberships", second_page_held(gate, arrived), times=10)
    syncing = asyncio.create_task(
        sync_to_file(rig.connector.syncers(), tmp_path / "sync.c1z", SyncOptions(), save_on_error=False)
    )
    await asyncio.wait_for(arrived.wait(), 10)
    revoked = await rig.run(revoke_task("team", team.id, "member", outsider.id))
    assert revoked.ok, revoked.message  # already revoked: nothing changed in Datadog
    gate.set()
    (ended,) = await asyncio.gather(syncing, return_exceptions=True)
    assert not isinstance(ended, BaseException), f"the sync failed though the team never changed: {ended}"
