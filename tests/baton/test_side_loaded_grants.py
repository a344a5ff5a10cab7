"""Grants side-loaded by another type's listing (`SideLoadedGrants`): read directly when that type is not walked.

The fake connector's role grants arrive with the users pages; without the users walk (a type filter, or a
targeted sync) the engine must ask the role syncer itself, or the sync would succeed with grants missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from connector.baton import builders as b
from connector.baton.c1z.reader import C1ZReader
from connector.baton.connector import Page, SideLoadedGrants
from connector.baton.pb.c1.connector.v2 import grant_pb2, resource_pb2
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import GROUP, USER, Faults, GroupSyncer, Org, RoleSyncer, UserSyncer


class DirectRoleSyncer(RoleSyncer):
    calls: int = 0

    def grants_side_loaded_by(self) -> str:
        return USER.id

    async def list_grants_directly(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        self.calls += 1
        members = [uid for i, uid in enumerate(self.org.user_ids()) if resource.id.resource in self.org.user_roles(i)]
        return Page([b.grant(resource, "member", b.resource_id(USER.id, uid)) for uid in members])

    async def get_resource(self, resource_id: resource_pb2.ResourceId) -> resource_pb2.Resource:
        return b.add_role_trait(b.resource(self.resource_type(), resource_id.resource, f"Role {resource_id.resource}"))


def _role_grants(org: Org, role: str | None = None) -> set[str]:
    return {
        f"role:{rid}:member:user:{uid}"
        for i, uid in enumerate(org.user_ids())
        for rid in org.user_roles(i)
        if role is None or rid == role
    }


async def _run(tmp_path: Path, org: Org, roles: DirectRoleSyncer, **options: object) -> set[str]:
    assert isinstance(roles, SideLoadedGrants)
    faults = Faults()
    path = tmp_path / "s.c1z"
    opts = SyncOptions(**options)  # type: ignore[arg-type]
    result = await sync_to_file([UserSyncer(org, faults), roles, GroupSyncer(org, faults)], path, opts)
    with C1ZReader(path) as reader:
        return {g.id for g in reader.grants(sync_id=result.sync_id) if g.id.startswith("role:")}


async def test_with_the_users_walk_the_side_loaded_grants_are_used(tmp_path: Path) -> None:
    org = Org()
    roles = DirectRoleSyncer(org, Faults())
    assert await _run(tmp_path, org, roles) == _role_grants(org)
    assert roles.calls == 0


@pytest.mark.parametrize("types", [["role"], ["role", "group"]])
async def test_without_the_users_walk_grants_are_read_directly(tmp_path: Path, types: list[str]) -> None:
    org = Org()
    roles = DirectRoleSyncer(org, Faults())
    assert await _run(tmp_path, org, roles, resource_type_ids=types) == _role_grants(org)
    assert roles.calls == org.roles


async def test_a_targeted_role_reads_its_grants_directly(tmp_path: Path) -> None:
    org = Org()
    roles = DirectRoleSyncer(org, Faults())
    grants = await _run(tmp_path, org, roles, targeted_resources=[b.resource_id("role", "r1")])
    assert grants == _role_grants(org, "r1")
    assert roles.calls == 1


@pytest.mark.parametrize("blank", ["id", "principal", "entitlement resource"])
async def test_a_side_loaded_grant_without_an_identity_is_dropped_and_counted(tmp_path: Path, blank: str) -> None:
    """As a listed grant is (docs/spec/c1z-format.md §5.2): the page's other grants are stored. A grant of a type the
    sync leaves out (groups here) is left out, and not counted as dropped."""
    org = Org()
    blanked: list[str] = []

    class Blank(UserSyncer):
        async def list_resources(
            self, parent: resource_pb2.ResourceId | None, page_token: str
        ) -> Page[resource_pb2.Resource]:
            page = await super().list_resources(parent, page_token)
            if not page_token:
                grant = page.grants[0]
                blanked.append(grant.id)
                if blank == "id":
                    grant.id = ""
                elif blank == "principal":
                    grant.principal.id.resource = ""
                else:
                    grant.entitlement.resource.id.resource = ""
                group = b.add_group_trait(b.resource(GROUP, "g0", "g0"))
                page.grants.append(b.grant(group, "member", page.items[0].id))
            return page

    path = tmp_path / "s.c1z"
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(
            [Blank(org, Faults()), DirectRoleSyncer(org, Faults())],
            path,
            SyncOptions(resource_type_ids=["user", "role"]),
        )
    with C1ZReader(path) as reader:
        stored = {g.id for g in reader.grants(sync_id=result.sync_id)}
    assert stored == _role_grants(org) - set(blanked)
    finished = next(line for line in events if line.get("event") == "sync finished")
    assert finished["dropped_invalid_records"] == 1
