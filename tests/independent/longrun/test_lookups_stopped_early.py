"""Listings a lookup stops reading once it found what it wanted. A grant or revoke of team admin reads the team's
memberships to find the user's, and stops at the user's page; the Datadog client's listing checks (`ListingGuard`)
kept that walk as unfinished, one per such task on a team of more than a page of members, until 4,096 of them pushed
out the walks syncs were reading. Guards the class "memory kept per task": a walk its reader stopped is dropped, as a
finished one is."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector
from tests.datadog.helpers import FAST_RETRY, loopback_trust
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.tasks import grant_task, revoke_task
from tests.independent.writes.conftest import ALL_ON


@pytest.fixture
async def team() -> AsyncIterator[tuple[DatadogClient, DatadogConnector, str, list[str]]]:
    with FakeDatadog(generate_org(users=160, seed=5, teams=0, schedules=0)) as fake:
        org = fake.org
        big = org.add_team("Big", "big")
        users = [user.id for user in org.sorted_users() if not user.service_account][:150]
        for user_id in users:
            org.add_member(big, user_id)
        client = DatadogClient(
            api_key=fake.api_key,
            app_key=fake.app_key,
            base_url=fake.base_url,
            retry=FAST_RETRY,
            verify=loopback_trust(),
        )
        try:
            yield client, DatadogConnector(client, ALL_ON), big.id, users
        finally:
            await client.aclose()


async def test_admin_grants_and_revokes_on_a_large_team_leave_no_walk(
    team: tuple[DatadogClient, DatadogConnector, str, list[str]],
) -> None:
    """Admin grants and revokes of five members found on the team's first page (of two): the client remembers no more
    walks of the team's memberships after them than before (it remembered one more after each of them)."""
    client, connector, team_id, users = team
    teams = connector.provisioner("team")
    assert teams is not None
    found_first = [m.user_id for m in (await client.list_team_memberships(team_id, 0)).items if m.user_id][:5]
    assert set(found_first) <= set(users)
    before = client._listings.walks  # this read's own walk, left unfinished
    for user_id in found_first:
        granted = grant_task("team", team_id, "admin", user_id).grant
        await teams.grant(granted.principal, granted.entitlement)
        await teams.revoke(revoke_task("team", team_id, "admin", user_id).revoke.grant)
    assert client._listings.walks == before
