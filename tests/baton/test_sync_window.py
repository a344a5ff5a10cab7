"""Per-resource grant listings run in a sliding window: the next batch of resources starts while the last
listings of the previous one are still running, and an interrupted sync still resumes to the same rows."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from connector.baton.c1z import store as store_module
from connector.baton.c1z.reader import C1ZReader
from connector.baton.connector import Page
from connector.baton.pb.c1.connector.v2 import grant_pb2, resource_pb2
from connector.baton.sync import syncer as syncer_module
from connector.baton.sync.syncer import _RESOURCE_BATCH, SyncOptions
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, GroupSyncer, InjectedFailure, Org, RoleSyncer, UserSyncer
from tests.baton.test_sync_engine import rows_of

# More groups than one batch of resources the engine turns into grant actions at a time.
GROUPS = _RESOURCE_BATCH + 50


class GatedGroups(GroupSyncer):
    """The last group of the first batch answers only once a group of the second batch has been asked for;
    `failing`: that group's listing fails then."""

    def __init__(self, org: Org, faults: Faults, failing: str = "") -> None:
        super().__init__(org, faults)
        self.second_batch_asked = asyncio.Event()
        self.failing = failing

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        index = int(resource.id.resource[1:])
        if index >= _RESOURCE_BATCH:
            self.second_batch_asked.set()
            if resource.id.resource == self.failing:
                raise InjectedFailure(f"injected failure listing {self.failing}")
        elif index == _RESOURCE_BATCH - 1 and not page_token:
            # A barrier per batch would never ask for the second batch while this waits: fail, do not hang.
            await asyncio.wait_for(self.second_batch_asked.wait(), 10)
            if self.failing:
                # Still listing when the second batch's failure stops the sync (which cancels this wait).
                await asyncio.sleep(10)
                raise AssertionError("the failure in the second batch never stopped the sync")
        return await super().list_grants(resource, page_token)


async def test_the_next_batch_starts_while_the_last_listings_of_a_batch_run(tmp_path: Path) -> None:
    org, faults = Org(groups=GROUPS), Faults()
    groups = GatedGroups(org, faults)
    path = tmp_path / "s.c1z"
    result = await sync_to_file(
        [UserSyncer(org, faults), RoleSyncer(org, faults), groups], path, SyncOptions(concurrency=3)
    )
    assert groups.second_batch_asked.is_set()
    with C1ZReader(path) as reader:
        assert {g.entitlement.resource.id.resource for g in reader.grants("group")} == {f"g{i}" for i in range(GROUPS)}
    assert not result.warnings


async def test_connector_calls_stay_within_the_bound_across_batches(tmp_path: Path) -> None:
    faults = Faults(delay=0.001)
    org = Org(groups=GROUPS)
    await sync_to_file(
        [UserSyncer(org, faults), RoleSyncer(org, faults), GroupSyncer(org, faults)],
        tmp_path / "s.c1z",
        SyncOptions(concurrency=3),
    )
    assert faults.max_in_flight == 3


def _grant_actions_by_batch(path: Path) -> set[bool]:
    """For the per-group grant actions in the saved token: whether each group is in the second batch."""
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
    token = json.loads(run.sync_token)
    return {
        int(a["resource_id"][1:]) >= _RESOURCE_BATCH
        for a in token.get("actions_map", {}).values()
        if a["operation"] == "list-grants" and a.get("resource_id")
    }


def _make(org: Org, faults: Faults) -> list[UserSyncer | RoleSyncer | GroupSyncer]:
    return [UserSyncer(org, faults), RoleSyncer(org, faults), GroupSyncer(org, faults)]


async def test_a_sync_interrupted_with_two_batches_in_flight_resumes_to_the_same_rows(tmp_path: Path) -> None:
    org = Org(groups=GROUPS)
    clean = tmp_path / "clean.c1z"
    await sync_to_file(_make(org, Faults()), clean, SyncOptions(concurrency=3))
    path = tmp_path / "sync.c1z"
    faults = Faults()
    gated = GatedGroups(org, faults, failing=f"g{_RESOURCE_BATCH + 1}")
    with pytest.raises(InjectedFailure):
        await sync_to_file([UserSyncer(org, faults), RoleSyncer(org, faults), gated], path, SyncOptions(concurrency=3))
    # The last group of the first batch was still listing: the saved token names actions of both batches.
    assert _grant_actions_by_batch(path) == {False, True}
    result = await sync_to_file(_make(org, Faults()), path, SyncOptions(concurrency=3))
    assert result.resumed
    assert rows_of(path) == rows_of(clean)


@pytest.mark.parametrize("fail_at", [640, 700, 760])
async def test_a_sync_interrupted_around_the_turn_of_a_batch_resumes_to_the_same_rows(
    tmp_path: Path, fail_at: int
) -> None:
    org = Org(groups=GROUPS)
    clean = tmp_path / "clean.c1z"
    await sync_to_file(_make(org, Faults()), clean, SyncOptions(concurrency=3))
    path = tmp_path / "sync.c1z"
    with pytest.raises(InjectedFailure):
        await sync_to_file(_make(org, Faults(fail_at_call=fail_at)), path, SyncOptions(concurrency=3))
    resumed = Faults()
    result = await sync_to_file(_make(org, resumed), path, SyncOptions(concurrency=3))
    assert result.resumed
    assert rows_of(path) == rows_of(clean)
    fresh = Faults()
    await sync_to_file(_make(org, fresh), tmp_path / "again.c1z", SyncOptions(concurrency=3))
    assert resumed.calls < fresh.calls


@pytest.mark.parametrize("concurrency", [1, 2, 3])
async def test_a_sync_interrupted_at_any_call_while_the_store_queue_is_full_resumes_to_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, concurrency: int
) -> None:
    # Many small batches and a store queue that is always full: a worker whose page waits for room in the queue
    # must not let another worker's token claim that page before it is queued (issue 12 goal 2's window).
    monkeypatch.setattr(syncer_module, "_RESOURCE_BATCH", 3)
    monkeypatch.setattr(store_module, "MAX_PENDING_WRITES", 1)
    org = Org(users=7, groups=10, members_per_group=6)
    clean = tmp_path / "clean.c1z"
    counted = Faults()
    await sync_to_file(_make(org, counted), clean, SyncOptions(concurrency=concurrency))
    for fail_at in range(1, counted.calls + 1):
        path = tmp_path / f"at{fail_at}.c1z"
        with pytest.raises(InjectedFailure):
            await sync_to_file(_make(org, Faults(fail_at_call=fail_at)), path, SyncOptions(concurrency=concurrency))
        await sync_to_file(_make(org, Faults()), path, SyncOptions(concurrency=concurrency))
        assert rows_of(path) == rows_of(clean), f"interrupted at call {fail_at}"
