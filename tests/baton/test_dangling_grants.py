"""A finished full sync holds every object its grants name: a grant whose entitlement, entitlement resource or principal
the file does not hold claims access on something ConductorOne cannot show.

The users walk side-loads role grants, so a role created between the roles listing and the users walk (or a user
who joined a group after the users listing) gave a grant naming a role (or a user) missing from the c1z. Go's engine
counts and skips a reference it does not find (docs/spec/c1z-format.md §5.6, "A source entitlement that is not found
is counted and skipped"), as the Go connector skipped a membership whose user was gone (reference-connector.md §3.1,
"a 404 from that call skipped the membership instead of failing"): such grants are left out, counted and logged with
their reason. A principal of a type the sync does not list (a type filter) is no claim this file can check, and a
partial sync's grants name its parent sync's objects: both are kept.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import structlog

from connector.baton import builders as b
from connector.baton.c1z.reader import C1ZReader
from connector.baton.connector import Page
from connector.baton.pb.c1.connector.v2 import grant_pb2, resource_pb2
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import (
    Faults,
    GroupSyncer,
    Org,
    RoleSyncer,
    UserSyncer,
    expected_grant_ids,
    role_resource,
)


class NewRoleUsers(UserSyncer):
    """The users walk names role `r9`, created after the roles listing: the roles listing never had it."""

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        page = await super().list_resources(parent, page_token)
        if not page_token:
            page.grants.append(b.grant(role_resource("r9"), "member", page.items[0].id))
        return page


class LateMemberGroups(GroupSyncer):
    """Group g0 lists a member created after the users listing, and a grant of an entitlement g0 does not have."""

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        page = await super().list_grants(resource, page_token)
        if resource.id.resource == "g0" and not page_token:
            page.items.append(b.grant(resource, "member", b.resource_id("user", "u-late")))
            page.items.append(b.grant(resource, "owner", b.resource_id("user", "u0000")))
        return page


async def _sync(tmp_path: Path, **options: object) -> tuple[set[str], list[MutableMapping[str, Any]]]:
    org, faults = Org(), Faults()
    path = tmp_path / "s.c1z"
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(
            [NewRoleUsers(org, faults), RoleSyncer(org, faults), LateMemberGroups(org, faults)],
            path,
            SyncOptions(**options),  # type: ignore[arg-type]
        )
    with C1ZReader(path) as reader:
        grants = {g.id for g in reader.grants(sync_id=result.sync_id)}
    assert result.stats.get("grants", 0) == len(grants)  # the stats count what the file holds
    return grants, events


async def test_grants_naming_objects_the_file_does_not_hold_are_left_out_counted_and_logged(tmp_path: Path) -> None:
    grants, events = await _sync(tmp_path)
    assert grants == expected_grant_ids(Org())
    warning = next(e for e in events if e["event"].startswith("grants naming an object the sync does not hold"))
    assert warning["log_level"] == "warning"
    assert warning["grants"] == 3
    assert warning["reasons"] == {
        "entitlement resource not stored": 1,
        "entitlement not stored": 1,
        "principal not stored": 1,
    }
    assert sorted(warning["examples"]) == [
        "group:g0:member:user:u-late (principal not stored)",
        "group:g0:owner:user:u0000 (entitlement not stored)",
        "role:r9:member:user:u0000 (entitlement resource not stored)",
    ]
    finished = next(e for e in events if e["event"] == "sync finished")
    assert finished["dropped_dangling_grants"] == 3


async def test_a_principal_of_a_type_the_sync_does_not_list_is_kept(tmp_path: Path) -> None:
    grants, events = await _sync(tmp_path, resource_type_ids=["group"])
    assert "group:g0:member:user:u-late" in grants
    assert "group:g0:owner:user:u0000" not in grants
    finished = next(e for e in events if e["event"] == "sync finished")
    assert finished["dropped_dangling_grants"] == 1


async def test_a_partial_sync_keeps_grants_naming_its_parents_objects(tmp_path: Path) -> None:
    grants, events = await _sync(tmp_path, targeted_resources=[b.resource_id("group", "g0")])
    assert "group:g0:member:user:u-late" in grants
    assert not any(e["event"].startswith("grants naming an object") for e in events)
