"""A full sync reading a team's memberships while the daemon's own grant and revoke change that team (two tasks of two
accesses run side by side, and neither waits for a sync): the c1z must not record a state of the team that never
existed.

Datadog pages by number. A member removed from a page the sync has read moves the next page's first member onto it,
unread; a member added at the end of the list meanwhile keeps the total where it was, so none of the listing's own
checks (a total that fell, fewer distinct members than the first total: `ListingGuard`) sees the change. The sync
finished complete without a member who was on the team before, during and after it, and ConductorOne took that
membership for revoked. Here the change is the connector's own: a removal it made from a listing one of its walks
was reading is a change that walk must see. Datadog holds the second page's request at its door (a gate on the wire,
no sleeps) while the grant and the revoke run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.errors import UnexpectedResponse
from connector.datadog.paging import ListingGuard
from tests.fakes.datadog.org import APIKey
from tests.fakes.tasks import grant_task, revoke_task
from tests.independent.meets.shared import (
    MEMBERS,
    failed_for_the_change,
    large_team,
    second_page_held,
    team_member_held,
)
from tests.independent.writes.conftest import Rig
from tests.independent.writes.tasks import action_task, delete_task


async def test_a_sync_reading_a_team_its_own_grant_and_revoke_change_records_no_team_that_never_was(
    rig: Rig, tmp_path: Path
) -> None:
    """The sync has read the team's first page; the revoke removes a member listed there, the grant adds one (at the
    end of the list), then the second page is served. The c1z held every member but the 101st, who never left: now
    the sync fails, retryably (a later sync reads the team whole), naming the change."""
    team = large_team(rig)
    listed = list(team.members)
    leaving, staying = listed[5], listed[100]  # on the first page; the first of the second page
    joiner = rig.fake.org.add_user("joiner@example.com", name="Joiner", status="Active")
    gate, arrived = asyncio.Event(), asyncio.Event()
    memberships = f"/api/v2/team/{team.id}/memberships"
    rig.wire.on("GET", memberships, second_page_held(gate, arrived), times=10)
    path = tmp_path / "sync.c1z"
    syncing = asyncio.create_task(sync_to_file(rig.connector.syncers(), path, SyncOptions(), save_on_error=False))
    await asyncio.wait_for(arrived.wait(), 10)
    revoked = await rig.run(revoke_task("team", team.id, "member", leaving))
    granted = await rig.run(grant_task("team", team.id, "member", joiner.id))
    assert revoked.ok, revoked.message
    assert granted.ok, granted.message
    assert staying in team.members
    assert len(team.members) == MEMBERS  # the total the sync sees is unchanged
    gate.set()
    (ended,) = await asyncio.gather(syncing, return_exceptions=True)
    failed_for_the_change(ended, path, team_member_held(team.id, staying), "team")
    assert "removed or moved an item of the list" in str(ended)


async def test_a_sync_reading_the_org_keys_while_its_own_deletion_takes_one_records_no_key_list_that_never_was(
    rig: Rig, tmp_path: Path
) -> None:
    """The same with a credential: the sync (secrets on) has read the first page of the organization API keys; a
    `delete_resource` task deletes a key listed there while someone creates one that sorts last, then the second page
    is served. The c1z lacked a key that was live throughout, which ConductorOne would take for revoked."""
    org = rig.fake.org
    org.api_keys.clear()
    for i in range(MEMBERS):
        key = APIKey(org.new_id(), f"key-{i:03d}", org.new_secret(32), None, org.now(), org.now())
        org.api_keys[key.id] = key
    by_name = sorted(org.api_keys.values(), key=lambda k: k.name)
    deleted, staying = by_name[5], by_name[100]
    gate, arrived = asyncio.Event(), asyncio.Event()
    rig.wire.on("GET", "/api/v2/api_keys", second_page_held(gate, arrived), times=10)
    path = tmp_path / "sync.c1z"
    syncing = asyncio.create_task(sync_to_file(rig.connector.syncers(), path, SyncOptions(), save_on_error=False))
    await asyncio.wait_for(arrived.wait(), 10)
    removed = await rig.run(delete_task("api-key", deleted.id))
    assert removed.ok, removed.message
    created = APIKey(org.new_id(), "zzz-created-meanwhile", org.new_secret(32), None, org.now(), org.now())
    org.api_keys[created.id] = created
    gate.set()
    (ended,) = await asyncio.gather(syncing, return_exceptions=True)
    failed_for_the_change(ended, path, _resource_held("api-key", staying.id), "org's keys")
    assert "removed or moved an item of the list" in str(ended)


def _page(guard: ListingGuard, key: str, number: int, ids: list[str], *, last: bool = False, total: int = 150) -> int:
    return guard.check(
        key,
        number=number,
        size=100,
        total=total,
        ids=ids,
        next_number=None if last else number + 1,
        path=f"/{key}",
        status=200,
    )


FIRST, SECOND = [f"a{i:03d}" for i in range(100)], [f"a{i:03d}" for i in range(100, 150)]


def test_a_walk_begun_while_a_removal_from_its_list_is_under_way_fails_at_its_next_page() -> None:
    """The removal was sent before the walk's first page was read, and may land after Datadog served it: the walk is
    marked as it begins, not only by removals begun while it runs."""
    guard = ListingGuard()
    with guard.removing(lambda key: key == "members"):
        _page(guard, "members", 0, FIRST)
    with pytest.raises(UnexpectedResponse, match="removed or moved an item of the list while it was read") as failed:
        _page(guard, "members", 1, SECOND, last=True)
    assert failed.value.retryable
    assert not failed.value.resumable


def test_a_removal_marks_only_the_walks_of_its_own_list_and_only_those_under_way() -> None:
    """Another list's walk, a walk begun after the removal ended, and a list read in one page are read as before:
    only a walk between pages while the removal was under way can have missed an item."""
    guard = ListingGuard()
    _page(guard, "keys", 0, FIRST)
    with guard.removing(lambda key: key == "members"):
        pass
    _page(guard, "members", 0, FIRST)
    with guard.removing(lambda key: key == "members"):
        _page(guard, "members", 0, FIRST[:10], last=True, total=10)  # one page: read at once, nothing to miss
    _page(guard, "keys", 1, SECOND, last=True)
    # The walk of "members" begun before that removal was between pages while it was under way.
    with pytest.raises(UnexpectedResponse, match="removed or moved an item"):
        _page(guard, "members", 1, SECOND, last=True)
    assert guard.walks == 0


async def test_a_sync_reading_the_users_while_its_own_update_renames_one_records_no_org_that_never_was(
    rig: Rig, tmp_path: Path
) -> None:
    """The users are listed by name. The sync has read the first page; an `update_user` task renames a user listed
    there so that it sorts last, and someone is invited meanwhile, then the rest is served. The renamed user moved out
    of the first page and pulled the 101st user onto it, unread; read again at the end, and with the new user, the
    listing held as many distinct users as its first total. The c1z lacked a user who was there throughout, whom
    ConductorOne would take for deleted."""
    org = rig.fake.org
    for i in range(MEMBERS - len(org.users)):
        org.add_user(f"person-{i:03d}@example.com", name=f"Person {i:03d}", status="Active")
    by_name = org.sorted_users()
    renamed, staying = by_name[10], by_name[100]
    gate, arrived = asyncio.Event(), asyncio.Event()
    rig.wire.on("GET", "/api/v2/users", second_page_held(gate, arrived), times=10)
    path = tmp_path / "sync.c1z"
    syncing = asyncio.create_task(sync_to_file(rig.connector.syncers(), path, SyncOptions(), save_on_error=False))
    await asyncio.wait_for(arrived.wait(), 10)
    updated = await rig.run(action_task("update_user", renamed.id, name="Zzz Renamed"))
    assert updated.ok, updated.message
    org.add_user("zzz-invited@example.com", name="Zzz Invited")
    gate.set()
    (ended,) = await asyncio.gather(syncing, return_exceptions=True)
    failed_for_the_change(ended, path, _resource_held("user", staying.id), "org's users")


def _resource_held(type_id: str, resource_id: str) -> Callable[[C1ZReader], bool]:
    """Whether a c1z holds the resource."""

    def held(reader: C1ZReader) -> bool:
        return resource_id in {r.id.resource for r in reader.resources() if r.id.resource_type == type_id}

    return held
