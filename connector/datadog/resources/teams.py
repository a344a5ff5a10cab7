"""Teams: `member` for every membership, `admin` for memberships whose role is admin."""

from __future__ import annotations

import functools

from connector.baton import builders as b
from connector.baton.connector import Page
from connector.baton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from connector.datadog.client import DatadogClient, closed_set_value
from connector.datadog.models import Team
from connector.datadog.paging import PagePrefetch
from connector.datadog.resources import types
from connector.datadog.resources.tokens import PageNumberTokens, next_token, page_number

MEMBER = "member"
ADMIN = "admin"
# A membership's role as Datadog sends it: "admin" or null, an ordinary member (datadog-api.md §6.2).
_WIRE_ROLES = frozenset({ADMIN, None})


def team_resource(team: Team) -> resource_pb2.Resource:
    res = b.resource(types.TEAM, team.id, team.name)
    return b.add_group_trait(
        res,
        profile_values={
            "team_name": team.name,
            "team_description": team.description,
            "team_id": team.id,
            "team_handle": team.handle,
            "user_count": team.user_count,
        },
    )


class TeamSyncer(PageNumberTokens):
    def __init__(self, client: DatadogClient) -> None:
        self._client = client

    @functools.cached_property
    def _pages(self) -> PagePrefetch[Team]:
        # The pages the total implies are requested while the engine stores this one (same requests, overlapped).
        # Built on first use: `baton-datadog capabilities` builds the syncers without a client.
        return PagePrefetch(self._client.fetch_teams, window=self._client.max_concurrency)

    def resource_type(self) -> resource_pb2.ResourceType:
        return types.TEAM

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        page = self._read(await self._pages.get(page_number(page_token)))
        return Page([team_resource(t) for t in page.items], next_token(page))

    def entitlements(self, resource: resource_pb2.Resource) -> list[entitlement_pb2.Entitlement]:
        name = resource.display_name
        return [
            b.entitlement(
                resource,
                MEMBER,
                purpose=b.Purpose.PURPOSE_VALUE_ASSIGNMENT,
                grantable_to=[types.USER],
                display_name=f"{name} Team member",
                description=f"member of {name} Datadog team",
            ),
            b.entitlement(
                resource,
                ADMIN,
                purpose=b.Purpose.PURPOSE_VALUE_PERMISSION,
                grantable_to=[types.USER],
                display_name=f"{name} Team admin",
                description=f"admin of {name} Datadog team",
            ),
        ]

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        # The team list reports user_count: an empty team needs no membership request at all.
        count = resource.profile.fields.get("user_count")
        if not page_token and count is not None and count.number_value == 0:
            return Page([])
        page = self._read(await self._client.list_team_memberships(resource.id.resource, page_number(page_token)))
        grants: list[grant_pb2.Grant] = []
        member, admin = b.grant_factory(resource, MEMBER), b.grant_factory(resource, ADMIN)
        for membership in page.items:
            if (role := membership.role) not in _WIRE_ROLES:
                # A role Datadog never sends ("Admin", "owner") read as an ordinary member: that admin's grant was
                # missing from ConductorOne, as if revoked. The answer is wrong, and no reading of it is safe.
                # Which item, found only now that one failed (identity: equal memberships may be listed twice).
                at = next(i for i, listed in enumerate(page.items) if listed is membership)
                raise page.refused(
                    f"a membership's role is {closed_set_value(role, _WIRE_ROLES)}, not 'admin' or null "
                    f"(data[{at}].attributes.role)"
                )
            # A membership naming no user goes on with an empty principal: the engine drops it, logs and counts it
            # as it does every record without an identity, where skipping it here lost it without a word.
            principal = b.resource_id(types.USER.id, membership.user_id or "")
            grants.append(member(principal))
            if role == ADMIN:
                grants.append(admin(principal))
        return Page(grants, next_token(page))

    async def get_resource(self, resource_id: resource_pb2.ResourceId) -> resource_pb2.Resource:
        return team_resource(await self._client.get_team(resource_id.resource))
