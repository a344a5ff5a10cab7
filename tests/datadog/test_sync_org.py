"""A full sync of the Datadog connector against the fake Datadog: exactly the org, in the fewest requests."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions
from tests.datadog.helpers import FAST_RETRY
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.datadog.expect import enabled_service_accounts, expected_sync

NOW = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)
ALL_ON = DatadogOptions(sync_secrets=True, sync_schedules=True, sync_service_account_application_keys=True)


def pages(n: int) -> int:
    """Requests to list n items at page[size]=100: an empty list still costs its one request."""
    return max(1, math.ceil(n / 100))


@pytest.fixture
def org_fake() -> Iterator[FakeDatadog]:
    org = generate_org(users=260, seed=7, teams=14, schedules=4, api_keys=130, clock=lambda: NOW)
    with FakeDatadog(org) as server:
        yield server


async def sync(fake: FakeDatadog, path: Path, options: DatadogOptions = ALL_ON) -> DatadogClient:
    client = DatadogClient(api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url, retry=FAST_RETRY)
    async with client:
        connector = DatadogConnector(client, options)
        await sync_to_file(connector.syncers(), path, SyncOptions())
    return client


async def test_the_c1z_holds_exactly_the_org(org_fake: FakeDatadog, tmp_path: Path) -> None:
    path = tmp_path / "sync.c1z"
    await sync(org_fake, path)
    expected = expected_sync(org_fake.org, on_call_at=NOW, secrets=True, app_keys=True)
    assert sum(1 for t in org_fake.org.teams.values() if any(m.role == "admin" for m in t.members.values())) > 0
    assert any(len(org_fake.org.shifts(s, NOW)) > 1 for s in org_fake.org.schedules.values()), "several on call at once"
    with C1ZReader(path) as reader:
        for type_id, ids in expected.resources.items():
            assert {r.id.resource for r in reader.resources(type_id)} == ids, type_id
        assert {rt.id for rt in reader.resource_types()} == set(expected.resources)
        assert {g.id for g in reader.grants()} == expected.grants
        assert {e.id for e in reader.entitlements()} == expected.entitlements


async def test_request_count_is_the_lower_bound(org_fake: FakeDatadog, tmp_path: Path) -> None:
    org = org_fake.org
    org_fake.reset_counters()
    client = await sync(org_fake, tmp_path / "sync.c1z")
    teams_with_members = [t for t in org.teams.values() if t.members]
    assert len(teams_with_members) < len(org.teams), "the org must have an empty team: it costs no request"
    bound = (
        pages(len(org.users))
        + pages(len(org.roles))
        + pages(len(org.teams))
        + sum(pages(len(t.members)) for t in teams_with_members)
    )
    opt_in = (
        pages(len(org.schedules))
        + len(org.schedules)  # who is on call: one request per schedule
        + pages(len(org.api_keys))
        + sum(pages(sum(1 for k in org.app_keys.values() if k.owner_id == sa)) for sa in enabled_service_accounts(org))
        + sum(pages(sum(1 for t in org.tokens.values() if t.owner_id == sa)) for sa in enabled_service_accounts(org))
    )
    assert client.stats.total_requests == bound + opt_in
    assert org_fake.count("GET", "/api/v2/roles/{role_id}/users") == 0, "role grants come from the users walk"


async def test_only_the_default_types_without_opt_ins(org_fake: FakeDatadog, tmp_path: Path) -> None:
    path = tmp_path / "sync.c1z"
    await sync(org_fake, path, DatadogOptions())
    with C1ZReader(path) as reader:
        assert sorted(rt.id for rt in reader.resource_types()) == ["role", "team", "user"]


async def test_injected_429s_and_5xx_change_nothing(org_fake: FakeDatadog, tmp_path: Path) -> None:
    clean, flaky = tmp_path / "clean.c1z", tmp_path / "flaky.c1z"
    await sync(org_fake, clean)
    org_fake.faults.seed = 3
    org_fake.faults.__post_init__()
    org_fake.faults.error_rate = 0.05
    org_fake.faults.throttle_rate = 0.05
    org_fake.faults.throttle_reset = 0
    # On top of the random 10 %, a few certain ones, so the test never passes by luck with none injected.
    org_fake.faults.force(503, times=2)
    org_fake.faults.force(429, times=2, reset=0)
    org_fake.reset_counters()
    client = await sync(org_fake, flaky)
    assert client.stats.rate_limit_waits > 0, "some 429s were injected and waited out"
    assert sum(n for (_, status), n in client.stats.requests.items() if status == "5xx") > 0

    def rows(path: Path) -> set[tuple[str, bytes]]:
        with C1ZReader(path) as reader:
            sid = reader.default_sync_id()
            out: set[tuple[str, bytes]] = set()
            for table in ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants"):
                query = f"SELECT external_id, data FROM {table} WHERE sync_id = ?"
                out |= set(reader.connection.execute(query, (sid,)).fetchall())
            return out

    assert rows(flaky) == rows(clean)
