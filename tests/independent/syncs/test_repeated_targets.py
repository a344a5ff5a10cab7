"""A targeted sync (a sync_resources task, BATON_SYNC_RESOURCES) naming one resource many times: each mention cost a
lookup and a grants listing of its own, so a task's 32 MiB naming one role 500,000 times was a million Datadog requests
for one role, and a target deleted since was one warning per mention, until "too many warnings" failed a sync that
had nothing else to do. The engine takes each target once (in the order first named), and lists the grants of each
resource the connector answers once, however it was named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.baton import builders as b
from connector.baton.c1z.reader import C1ZReader
from connector.baton.connector import Page
from connector.baton.pb.c1.connector.v2 import grant_pb2, resource_pb2
from connector.baton.sync.syncer import SyncOptions, SyncResult
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector
from tests.baton.fake_connector import Faults, GroupSyncer, Org
from tests.datadog.helpers import FAST_RETRY
from tests.datadog.test_sync_org import ALL_ON, NOW
from tests.fakes.datadog import FakeDatadog, generate_org


async def _sync(fake: FakeDatadog, path: Path, targets: list[tuple[str, str]]) -> SyncResult:
    client = DatadogClient(api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url, retry=FAST_RETRY)
    async with client:
        options = SyncOptions(targeted_resources=[b.resource_id(t, i) for t, i in targets])
        return await sync_to_file(DatadogConnector(client, ALL_ON).syncers(), path, options)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=30, seed=5, teams=3, schedules=1, api_keys=2, clock=lambda: NOW)) as server:
        yield server


def _grants(path: Path, sync_id: str) -> list[str]:
    with C1ZReader(path) as reader:
        return sorted(g.id for g in reader.grants(sync_id=sync_id))


async def test_a_target_named_many_times_costs_the_requests_of_naming_it_once(
    fake: FakeDatadog, tmp_path: Path
) -> None:
    team = max(fake.org.teams.values(), key=lambda t: len(t.members))
    role = next(iter(fake.org.roles.values()))
    once = [("team", team.id), ("role", role.id)]
    fake.reset_counters()
    result = await _sync(fake, tmp_path / "once.c1z", once)
    asked_once = [(s.method, s.path) for s in fake.requests()]
    fake.reset_counters()
    repeated = await _sync(fake, tmp_path / "many.c1z", once * 40)
    assert sorted((s.method, s.path) for s in fake.requests()) == sorted(asked_once)
    assert _grants(tmp_path / "many.c1z", repeated.sync_id) == _grants(tmp_path / "once.c1z", result.sync_id)


async def test_a_target_deleted_since_and_named_many_times_is_one_warning(fake: FakeDatadog, tmp_path: Path) -> None:
    """Twelve mentions of a user gone since: twelve warnings of twelve actions failed the sync ("too many warnings");
    a sync of the one target that is gone finishes with one warning (as a target gone once does)."""
    gone = "00000000-0000-4000-8000-00000000dead"
    result = await _sync(fake, tmp_path / "s.c1z", [("user", gone)] * 12)
    assert len(result.warnings) == 1, result.warnings
    assert gone in result.warnings[0]
    with C1ZReader(tmp_path / "s.c1z") as reader:
        assert [run.finished for run in reader.sync_runs()] == [True]


async def test_one_resource_named_in_two_cases_has_its_grants_listed_once(tmp_path: Path) -> None:
    """A connector answering a target named otherwise with the resource as it knows it (Datadog's UUIDs in any case)."""

    class AnyCase(GroupSyncer):
        def __init__(self, org: Org) -> None:
            super().__init__(org, Faults())
            self.listed: list[str] = []

        async def get_resource(self, resource_id: resource_pb2.ResourceId) -> resource_pb2.Resource:
            return self.group(resource_id.resource.lower())

        async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
            self.listed.append(resource.id.resource)
            return await super().list_grants(resource, page_token)

    org = Org(groups=2)
    groups = AnyCase(org)
    targets = [b.resource_id("group", "g1"), b.resource_id("group", "G1")]
    await sync_to_file([groups], tmp_path / "s.c1z", SyncOptions(targeted_resources=targets))
    assert groups.listed == ["g1"] * 3, "the grants of g1 once: its three pages (9 members, 4 a page)"
