"""A stop while the syncers' own work ends never turns a finished sync into a cancelled one (review r1604).

The engine waited for the work its syncers stopped (`EndsWithTheSync`) after the store had ended the sync: a stop
arriving in that wait found a finished sync and saved it by the unfinished sync's path, which keeps the older runs the
finished save drops (two finished syncs in one file). The wait now comes before the store ends the sync: a stop there
is a stop during the sync, saved unfinished and resumed by the next run, as a stop at any page is.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from connector.baton.c1z.store import C1ZStore
from connector.baton.connector import Page
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, UserSyncer
from tests.baton.fake_connector import Org as FakeOrg


class SlowToStop(UserSyncer):
    """Work of its own whose stop takes a moment (a graceful close): the engine waits for it, as the protocol says."""

    def __init__(self, org: FakeOrg, faults: Faults) -> None:
        super().__init__(org, faults)
        self.stopping = asyncio.Event()
        self.release = asyncio.Event()
        self.work: asyncio.Task[None] | None = None

    async def _background(self) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.stopping.set()
            await self.release.wait()
            raise

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        if self.work is None:
            self.work = asyncio.create_task(self._background())
        return await super().list_resources(parent, page_token)

    def sync_ended(self) -> list[asyncio.Task[None]]:
        assert self.work is not None
        self.work.cancel()
        return [self.work]


async def _runs(path: Path) -> list[tuple[str, bool]]:
    store = await C1ZStore.open(path)
    try:
        return [(run.sync_id, run.finished) for run in await store.sync_runs()]
    finally:
        await store.close()


async def test_a_stop_while_the_syncers_work_ends_leaves_the_sync_unfinished_and_resumable(tmp_path: Path) -> None:
    path = tmp_path / "s.c1z"
    earlier = await sync_to_file([UserSyncer(FakeOrg(users=12), Faults())], path, SyncOptions())
    syncer = SlowToStop(FakeOrg(users=12), Faults())
    sync = asyncio.create_task(sync_to_file([syncer], path, SyncOptions()))
    await syncer.stopping.wait()  # every action done: the engine waits for the syncer's own work to end
    sync.cancel()
    syncer.release.set()
    (outcome,) = await asyncio.gather(sync, return_exceptions=True)
    assert isinstance(outcome, asyncio.CancelledError)
    runs = await _runs(path)
    assert runs[0] == (earlier.sync_id, True)
    assert [finished for _, finished in runs] == [True, False], runs  # the earlier sync, and this one unfinished

    resumed = await sync_to_file([UserSyncer(FakeOrg(users=12), Faults())], path, SyncOptions())
    assert (resumed.resumed, resumed.sync_id) == (True, runs[1][0])
    assert await _runs(path) == [(resumed.sync_id, True)]  # the finished save keeps exactly the one finished sync


async def test_each_syncer_is_told_once_that_its_sync_is_over(tmp_path: Path) -> None:
    told: list[str] = []

    class Counting(UserSyncer):
        def sync_ended(self) -> list[asyncio.Task[None]]:
            told.append("ended")
            return []

    await sync_to_file([Counting(FakeOrg(users=12), Faults())], tmp_path / "s.c1z", SyncOptions())
    assert told == ["ended"]
