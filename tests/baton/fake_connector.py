"""A small in-memory connector for exercising the generic sync engine (no Datadog involved).

Users list in pages of `page_size` and carry their role grants (side-loaded, like Datadog's users walk);
groups list their member grants in pages of `page_size`. Failures and delays are injectable so tests can
interrupt a sync at any page and check that resuming gives the same file.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from connector.baton import builders as b
from connector.baton.connector import Page
from connector.baton.errors import ConnectorError, NotFoundError, UnavailableError
from connector.baton.pb.c1.connector.v2 import (
    annotation_resource_pb2,
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)

USER = b.resource_type(
    "user", "User", [b.Trait.TRAIT_USER], annotations=[annotation_resource_pb2.SkipEntitlementsAndGrants()]
)
GROUP = b.resource_type("group", "Group", [b.Trait.TRAIT_GROUP])
ROLE = b.resource_type("role", "Role", [b.Trait.TRAIT_ROLE])


class InjectedFailure(ConnectorError):
    """A non-retryable failure the tests inject to stop a sync mid-way."""


@dataclass
class Org:
    users: int = 23
    groups: int = 7
    roles: int = 3
    members_per_group: int = 9

    def user_ids(self) -> list[str]:
        return [f"u{i:04d}" for i in range(self.users)]

    def group_members(self, group: int) -> list[str]:
        ids = self.user_ids()
        return [ids[(group * 5 + k) % len(ids)] for k in range(self.members_per_group)]

    def user_roles(self, user: int) -> list[str]:
        return [f"r{user % self.roles}"] + ([f"r{(user + 1) % self.roles}"] if user % 4 == 0 else [])


@dataclass
class Faults:
    """Injection points, counted over every connector call."""

    fail_at_call: int | None = None  # raise InjectedFailure on this call number (1-based)
    unavailable_calls: set[int] = field(default_factory=set)  # raise UnavailableError on these call numbers
    retry_after: float | None = None
    missing_groups: set[str] = field(default_factory=set)  # list_grants raises NotFound for these
    delay: float = 0.0
    calls: int = 0
    in_flight: int = 0
    max_in_flight: int = 0

    async def enter(self) -> None:
        self.calls += 1
        if self.fail_at_call is not None and self.calls == self.fail_at_call:
            raise InjectedFailure(f"injected failure at call {self.calls}")
        if self.calls in self.unavailable_calls:
            raise UnavailableError("injected outage", retry_after=self.retry_after)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1


def page_of(items: list[str], token: str, size: int) -> tuple[list[str], str]:
    start = int(token or 0)
    chunk = items[start : start + size]
    nxt = start + size
    return chunk, str(nxt) if nxt < len(items) else ""


class UserSyncer:
    def __init__(self, org: Org, faults: Faults, page_size: int = 5) -> None:
        self.org, self.faults, self.page_size = org, faults, page_size

    def resource_type(self) -> resource_pb2.ResourceType:
        return USER

    def user(self, uid: str) -> resource_pb2.Resource:
        return b.add_user_trait(b.resource(USER, uid, f"User {uid}"), emails=[f"{uid}@example.com"], login=uid)

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        await self.faults.enter()
        chunk, nxt = page_of(self.org.user_ids(), page_token, self.page_size)
        grants = [
            b.grant(role_resource(rid), "member", b.resource_id("user", uid))
            for uid in chunk
            for rid in self.org.user_roles(int(uid[1:]))
        ]
        return Page([self.user(uid) for uid in chunk], nxt, grants=grants)

    def entitlements(self, resource: resource_pb2.Resource) -> list[entitlement_pb2.Entitlement]:
        return []

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        raise AssertionError("users carry SkipEntitlementsAndGrants; the engine must not list their grants")

    async def get_resource(self, resource_id: resource_pb2.ResourceId) -> resource_pb2.Resource:
        await self.faults.enter()
        if resource_id.resource not in self.org.user_ids():
            raise NotFoundError(f"user {resource_id.resource} not found")
        return self.user(resource_id.resource)


def role_resource(rid: str) -> resource_pb2.Resource:
    return b.add_role_trait(b.resource(ROLE, rid, f"Role {rid}"))


class RoleSyncer:
    def __init__(self, org: Org, faults: Faults) -> None:
        self.org, self.faults = org, faults

    def resource_type(self) -> resource_pb2.ResourceType:
        return ROLE

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        await self.faults.enter()
        return Page([role_resource(f"r{i}") for i in range(self.org.roles)])

    def entitlements(self, resource: resource_pb2.Resource) -> list[entitlement_pb2.Entitlement]:
        return [b.entitlement(resource, "member", grantable_to=[USER])]

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        return Page([])  # side-loaded from the users walk


class GroupSyncer:
    def __init__(self, org: Org, faults: Faults, page_size: int = 4) -> None:
        self.org, self.faults, self.page_size = org, faults, page_size

    def resource_type(self) -> resource_pb2.ResourceType:
        return GROUP

    def group(self, gid: str) -> resource_pb2.Resource:
        return b.add_group_trait(b.resource(GROUP, gid, f"Group {gid}"), profile_values={"gid": gid})

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        await self.faults.enter()
        chunk, nxt = page_of([f"g{i}" for i in range(self.org.groups)], page_token, 3)
        return Page([self.group(g) for g in chunk], nxt)

    def entitlements(self, resource: resource_pb2.Resource) -> list[entitlement_pb2.Entitlement]:
        return [
            b.entitlement(resource, "member", grantable_to=[USER]),
            b.entitlement(resource, "admin", grantable_to=[USER]),
        ]

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        await self.faults.enter()
        if resource.id.resource in self.faults.missing_groups:
            raise NotFoundError(f"group {resource.id.resource} vanished")
        members = self.org.group_members(int(resource.id.resource[1:]))
        chunk, nxt = page_of(members, page_token, self.page_size)
        grants = [b.grant(resource, "member", b.resource_id("user", uid)) for uid in chunk]
        if not page_token:
            grants.append(b.grant(resource, "admin", b.resource_id("user", members[0])))
        return Page(grants, nxt)

    async def get_resource(self, resource_id: resource_pb2.ResourceId) -> resource_pb2.Resource:
        await self.faults.enter()
        return self.group(resource_id.resource)


def syncers(org: Org, faults: Faults) -> list[UserSyncer | RoleSyncer | GroupSyncer]:
    return [UserSyncer(org, faults), RoleSyncer(org, faults), GroupSyncer(org, faults)]


def expected_grant_ids(org: Org) -> set[str]:
    out = set()
    for i, uid in enumerate(org.user_ids()):
        for rid in org.user_roles(i):
            out.add(f"role:{rid}:member:user:{uid}")
    for g in range(org.groups):
        members = org.group_members(g)
        out |= {f"group:g{g}:member:user:{uid}" for uid in members}
        out.add(f"group:g{g}:admin:user:{members[0]}")
    return out
