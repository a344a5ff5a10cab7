"""A Datadog sync claims no access on a role its c1z does not hold (tests/baton/test_dangling_grants.py for the engine's
rule): a user's link to a role missing from the roles listing (one created or deleted between the users walk and the
roles listing) is left out, counted and logged; the rest of the org is synced whole. A team membership of a user
missing from the users listing is kept, as the Go connector keeps it (reference-connector.md §3.1)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import structlog

from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions
from tests.datadog.helpers import FAST_RETRY
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.datadog.expect import expected_sync

NOW = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)


async def test_a_role_missing_from_its_listing_gives_no_grant(tmp_path: Path) -> None:
    org = generate_org(users=30, seed=3, teams=3, schedules=0, clock=lambda: NOW)
    expected = expected_sync(org, on_call_at=NOW).grants
    some_user = next(iter(org.users))
    ghost_role = org.add_role("Created between the listings")
    org.assign_role(some_user, ghost_role.id)
    del org.roles[ghost_role.id]  # the users walk links to it; the roles listing does not have it
    team = next(iter(org.teams.values()))
    org.add_member(team, "00000000-0000-4000-8000-0000000000aa")  # a user the users listing does not have
    path = tmp_path / "s.c1z"
    with FakeDatadog(org) as fake, structlog.testing.capture_logs() as events:
        client = DatadogClient(api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url, retry=FAST_RETRY)
        async with client:
            await sync_to_file(DatadogConnector(client, DatadogOptions()).syncers(), path, SyncOptions())
    with C1ZReader(path) as reader:
        assert {g.id for g in reader.grants()} == expected | {
            f"team:{team.id}:member:user:00000000-0000-4000-8000-0000000000aa"
        }
    (warning,) = [e for e in events if e["log_level"] == "warning"]
    assert warning["reasons"] == {"entitlement resource not stored": 1}
