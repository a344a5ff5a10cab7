"""A finished full sync holds every entitlement its grants name: a grant whose entitlement, or entitlement resource, the
file does not hold claims access on something ConductorOne cannot show.

The users walk side-loads role grants, so a role created or deleted between the roles listing and the users walk gave a
grant naming a role missing from the c1z. Go's syncer fetches a missing entitlement resource even in a partial sync
(docs/spec/c1z-format.md §5.2, `list-grants`), and counts and skips a reference it does not find (§5.6, "A source
entitlement that is not found is counted and skipped"): such grants are left out, counted and logged with their
reason. A principal the file does not hold is kept: the Go connector takes a member straight from the membership with
no user lookup (reference-connector.md §3.1), and ConductorOne creates a principal it first sees in a grant
(`CREATION_SOURCE_CONNECTOR_LIST_GRANTS_PRINCIPAL_JIT`, c1z-format.md appendix A;
tests/independent/datadog2/test_contradictions.py). A partial sync's grants name its parent sync's objects: kept.
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


async def test_grants_of_entitlements_the_file_does_not_hold_are_left_out_counted_and_logged(tmp_path: Path) -> None:
    grants, events = await _sync(tmp_path)
    assert grants == expected_grant_ids(Org()) | {"group:g0:member:user:u-late"}, "a principal it lacks is kept"
    warning = next(e for e in events if e["event"].startswith("grants of an entitlement the sync does not hold"))
    assert warning["log_level"] == "warning"
    assert warning["grants"] == 2
    assert warning["reasons"] == {"entitlement resource not stored": 1, "entitlement not stored": 1}
    assert sorted(warning["examples"]) == [
        "group:g0:owner:user:u0000 (entitlement not stored)",
        "role:r9:member:user:u0000 (entitlement resource not stored)",
    ]
    finished = next(e for e in events if e["event"] == "sync finished")
    assert finished["dropped_dangling_grants"] == 2


async def test_with_a_type_filter_the_grants_of_the_types_synced_are_checked(tmp_path: Path) -> None:
    grants, events = await _sync(tmp_path, resource_type_ids=["group"])
    assert "group:g0:member:user:u-late" in grants
    assert "group:g0:owner:user:u0000" not in grants
    finished = next(e for e in events if e["event"] == "sync finished")
    assert finished["dropped_dangling_grants"] == 1


async def test_a_partial_sync_keeps_grants_naming_its_parents_objects(tmp_path: Path) -> None:
    grants, events = await _sync(tmp_path, targeted_resources=[b.resource_id("group", "g0")])
    assert "group:g0:member:user:u-late" in grants
    assert not any(e["event"].startswith("grants of an entitlement") for e in events)
