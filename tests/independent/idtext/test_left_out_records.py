"""Class: what a record the store leaves out for its size (`rows.oversized`, `_Db._storable`) left behind pointing at it.

A left-out parent still had its children listed (the engine takes them from the page it received) and stored naming a
parent not in the file; a resource kept whose entitlements were left out kept grants on entitlements not in the file;
grants dropped because their role was left out were warned as a race between two listings. Now a parent's size is
checked before its children are listed (`rows.fits`), and at the sync's end everything that depends on a left-out
record (its entitlements, the grants on it or on them) is left out with it, counted, and warned with the true reason
(`_Db.drop_left_out_dependants`)."""

from __future__ import annotations

import json
from pathlib import Path

import structlog

from connector.baton.c1z.reader import C1ZReader
from connector.baton.c1z.rows import MAX_OBJECT_BYTES
from connector.baton.connector import Page
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.connector import DatadogConnector, DatadogOptions
from tests.baton.test_sync_children import FileSyncer, FolderSyncer, Tree, folder
from tests.independent.datadog2.org import Datadog, Org, Route, client, sync


class BigFolderSyncer(FolderSyncer):
    """Top-level folder `big` has a display name over MAX_OBJECT_BYTES; `small` is ordinary."""

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        if parent is None:
            big = folder("big", None)
            big.display_name = "N" * (MAX_OBJECT_BYTES + 1)
            return Page([big, folder("small", None)])
        return Page([folder(f, parent) for f in self.tree.under.get(parent.resource, [])])


async def test_a_left_out_parent_leaves_no_children_pointing_at_it(tmp_path: Path) -> None:
    """A parent left out for its size still had its children listed (pushed from the page, not the store) and
    stored: resources whose parent is not in the file. Go lists children only of resources it stored."""
    tree = Tree([], {"big": ["big-sub"]})
    path = tmp_path / "s.c1z"
    with structlog.testing.capture_logs() as events:
        await sync_to_file([BigFolderSyncer(tree), FileSyncer(tree)], path, SyncOptions())
    told = [e for e in events if e["event"].startswith("children of a resource too large")]
    assert [(e["resource"], e["child_types"]) for e in told] == [("big", ["file", "folder"])]
    with C1ZReader(path) as reader:
        resources = [r for t in ("folder", "file") for r in reader.resources(t)]
    ids = {(r.id.resource_type, r.id.resource) for r in resources}
    assert ("folder", "big") not in ids
    orphans = sorted(
        f"{r.id.resource_type}:{r.id.resource}"
        for r in resources
        if r.HasField("parent_resource_id")
        and (r.parent_resource_id.resource_type, r.parent_resource_id.resource) not in ids
    )
    assert orphans == [], f"children of a parent not in the file: {orphans}"


async def test_a_team_whose_entitlements_are_left_out_keeps_no_grants_on_them(tmp_path: Path) -> None:
    """A team of a 1.2 MB name: its resource (the name held three times) fits, its two entitlements (more copies)
    do not and are left out, but its grants (the resource and an id) fit and are kept: the file holds grants on
    `team:t-1:admin` and `team:t-1:member`, entitlements it does not hold."""
    org = Org()
    org.teams[0]["attributes"]["name"] = "N" * int(MAX_OBJECT_BYTES * 0.3)
    path = tmp_path / "s.c1z"
    with structlog.testing.capture_logs() as events:
        async with Datadog(org=org) as dd:
            assert await sync(dd, path) is None
    with C1ZReader(path) as reader:
        entitlements = {e.id for e in reader.entitlements()}
        grants = [(g.id, g.entitlement.id) for g in reader.grants()]
    on_missing = sorted(gid for gid, eid in grants if eid not in entitlements)
    assert on_missing == [], f"grants on entitlements not in the file: {on_missing}"
    told = [e for e in events if e["event"].startswith("records that depend on a record too large")]
    assert told
    assert all(e["table"] == "v1_entitlements" for e in told), told
    assert all(e["grants"] > 0 for e in told), told
    finished = next(e for e in events if e["event"] == "sync finished")
    assert finished["dropped_with_oversized_records"] == sum(e["grants"] for e in told)


async def test_grants_dropped_because_their_role_was_left_out_are_not_said_to_be_a_race(tmp_path: Path) -> None:
    """A role of a 5 MB name is left out; the users page's side-loaded grants on it are then dropped by
    `drop_dangling_grants`, whose warning says the role 'was created or deleted between the listings that name
    it': not what happened (the role exists, it was left out for its size)."""
    org = Org()
    org.roles[0]["attributes"]["name"] = "R" * (MAX_OBJECT_BYTES + 1000)
    path = tmp_path / "s.c1z"
    with structlog.testing.capture_logs() as events:
        async with Datadog(org=org) as dd:
            assert await sync(dd, path) is None
    words = [e["event"] for e in events if e["log_level"] == "warning"]
    assert not any("created or deleted between the listings" in w for w in words), words
    told = [e for e in events if e["event"].startswith("records that depend on a record too large")]
    assert [(e["table"], e["key"]) for e in told] == [("v1_resources", f"role:{org.roles[0]['id']}")]
    assert told[0]["grants"] > 0
    with C1ZReader(path) as reader:
        assert all(g.entitlement.resource.id.resource != org.roles[0]["id"] for g in reader.grants())


async def test_a_targeted_resource_left_out_has_nothing_listed_under_it(tmp_path: Path) -> None:
    """A targeted team too large to store: its entitlements were stored without it and its grants' listing found it
    missing, a sync warning saying it was "no longer in the store". Now nothing is listed under it, and the store's
    warning names it."""
    org = Org()
    org.teams[0]["attributes"]["name"] = "N" * (MAX_OBJECT_BYTES + 1)
    team = org.teams[0]["id"]
    path = tmp_path / "t.c1z"
    with structlog.testing.capture_logs() as events:
        one: dict[str, Route] = {
            "/api/v2/team/" + team: lambda path, query: (200, json.dumps({"data": org.teams[0]}).encode())
        }
        async with Datadog(org=org, routes=one) as dd, client(dd.base_url) as c:
            result = await sync_to_file(
                DatadogConnector(c, DatadogOptions()).syncers(),
                path,
                SyncOptions(targeted_resources=[resource_pb2.ResourceId(resource_type="team", resource=team)]),
            )
    assert result.warnings == []
    assert [e["key"] for e in events if e["event"] == "record too large for a c1z object left out"] == [f"team:{team}"]
    with C1ZReader(path) as reader:
        assert [r.sync_id for r in reader.sync_runs()] == [result.sync_id]
        assert list(reader.entitlements(sync_id=result.sync_id)) == []
        assert list(reader.grants(sync_id=result.sync_id)) == []
