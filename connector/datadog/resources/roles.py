"""Roles. Their member grants come from the users walk (see users.py), so listing grants costs nothing in a
full sync; a sync that does not walk the users (a targeted role, or `--sync-resource-types role`) reads them
from the per-role endpoint instead (the engine calls `list_grants_directly`)."""

from __future__ import annotations

import functools

from connector.baton import builders as b
from connector.baton.connector import Page
from connector.baton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from connector.datadog.client import DatadogClient
from connector.datadog.models import Role
from connector.datadog.paging import PagePrefetch
from connector.datadog.resources import types
from connector.datadog.resources.tokens import PageNumberTokens, next_token, page_number

MEMBER = "member"


RoleFacts = tuple[str, str, int | None, bool | None]


def role_facts(role: Role) -> RoleFacts:
    """All `role_resource` reads of a role: roles with the same facts build the same resource (the users walk reuses
    a built one on them)."""
    return role.id, role.name, role.user_count, role.managed


def role_resource(role: Role) -> resource_pb2.Resource:
    role_id, name, user_count, managed = role_facts(role)
    res = b.resource(types.ROLE, role_id, name)
    return b.add_role_trait(
        res,
        profile_values={"role_name": name, "role_id": role_id, "user_count": user_count, "managed": managed},
    )


def member_entitlement(res: resource_pb2.Resource) -> entitlement_pb2.Entitlement:
    name = res.display_name
    return b.entitlement(
        res,
        MEMBER,
        purpose=b.Purpose.PURPOSE_VALUE_ASSIGNMENT,
        grantable_to=[types.USER],
        display_name=f"{name} Role member",
        description=f"Member of {name} Datadog role",
    )


class RoleSyncer(PageNumberTokens):
    def __init__(self, client: DatadogClient) -> None:
        self._client = client

    @functools.cached_property
    def _pages(self) -> PagePrefetch[Role]:
        # The pages the total implies are requested while the engine stores this one (same requests, overlapped).
        # Built on first use: `baton-datadog capabilities` builds the syncers without a client.
        return PagePrefetch(self._client.fetch_roles, window=self._client.max_concurrency)

    def resource_type(self) -> resource_pb2.ResourceType:
        return types.ROLE

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        page = self._read(await self._pages.get(page_number(page_token)))
        return Page([role_resource(r) for r in page.items], next_token(page))

    def entitlements(self, resource: resource_pb2.Resource) -> list[entitlement_pb2.Entitlement]:
        return [member_entitlement(resource)]

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        return Page([])

    async def get_resource(self, resource_id: resource_pb2.ResourceId) -> resource_pb2.Resource:
        return role_resource(await self._client.get_role(resource_id.resource))

    def grants_side_loaded_by(self) -> str:
        return types.USER.id

    async def list_grants_directly(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        page = self._read(await self._client.list_role_users(resource.id.resource, page_number(page_token)))
        # A user without an id goes on too: the engine drops, logs and counts it (see TeamSyncer.list_grants).
        grants = [b.grant(resource, MEMBER, b.resource_id(types.USER.id, u.id)) for u in page.items]
        return Page(grants, next_token(page))
