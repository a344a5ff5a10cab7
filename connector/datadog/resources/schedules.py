"""On-Call schedules (opt-in): `on_call` is granted to everyone on call right now, not just one person."""

from __future__ import annotations

from connector.baton import builders as b
from connector.baton.connector import Page
from connector.baton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from connector.datadog.client import DatadogClient
from connector.datadog.models import Schedule
from connector.datadog.resources import types
from connector.datadog.resources.tokens import PageNumberTokens, next_token, page_number

ON_CALL = "on_call"


def schedule_resource(schedule: Schedule) -> resource_pb2.Resource:
    name = schedule.name or f"Schedule {schedule.id}"
    res = b.resource(types.SCHEDULE, schedule.id, name)
    return b.add_group_trait(
        res,
        profile_values={
            "schedule_id": schedule.id,
            "schedule_name": schedule.name,
            "schedule_type": schedule.type,
            "schedule_timezone": schedule.time_zone,
        },
    )


class ScheduleSyncer(PageNumberTokens):
    def __init__(self, client: DatadogClient) -> None:
        self._client = client

    def resource_type(self) -> resource_pb2.ResourceType:
        return types.SCHEDULE

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        page = self._read(await self._client.list_schedules(page_number(page_token)))
        return Page([schedule_resource(s) for s in page.items], next_token(page))

    def entitlements(self, resource: resource_pb2.Resource) -> list[entitlement_pb2.Entitlement]:
        name = resource.display_name
        return [
            b.entitlement(
                resource,
                ON_CALL,
                purpose=b.Purpose.PURPOSE_VALUE_PERMISSION,
                grantable_to=[types.USER],
                display_name=f"{name} Schedule on_call",
                description=f"on_call role for {name} Datadog on-call schedule",
            )
        ]

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        responders = await self._client.get_schedule_responders(resource.id.resource)
        return Page([b.grant(resource, ON_CALL, b.resource_id(types.USER.id, uid)) for uid in responders.user_ids])

    async def get_resource(self, resource_id: resource_pb2.ResourceId) -> resource_pb2.Resource:
        return schedule_resource(await self._client.get_schedule(resource_id.resource))
