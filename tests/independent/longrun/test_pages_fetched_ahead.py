"""Work a sync leaves running once it is over. The Datadog syncers fetch the pages after the one the engine asked for
while it stores that one (`PagePrefetch`, up to the client's concurrency of them); a sync that failed between two pages
(an item of the page refused, a store write, another listing) or was cancelled there never asked for them, and their
requests went on: asyncio tasks alive after the sync, Datadog asked for pages nobody would read, and the client's
slots (as many as the pages fetched ahead) held, so the grant after the failed sync waited for their answers. Guards
the class "work started for a sync outlives it" (`connector.baton.connector.EndsWithTheSync`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from connector.baton.connector import Page
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions
from connector.datadog.errors import UnexpectedResponse
from tests.baton.fake_connector import Faults, UserSyncer
from tests.baton.fake_connector import Org as FakeOrg

USERS = 1_000  # ten pages of 100


@dataclass
class Org:
    """Datadog answering users pages; pages past the second wait for `open` (a slow Datadog), and page 1 holds a user
    whose status says Disabled while its `disabled` says false, which the users syncer refuses."""

    open: asyncio.Event = field(default_factory=asyncio.Event)
    answered: list[int] = field(default_factory=list)
    granted: asyncio.Event = field(default_factory=asyncio.Event)
    # Set while no request waits for `open`: once it is set after `open`, every page asked for is answered.
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0

    def __post_init__(self) -> None:
        self.idle.set()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.granted.set()
            return httpx.Response(200, json={"data": [{"type": "users", "id": "u0001"}], "meta": {"page": {}}})
        if request.url.path != "/api/v2/users":
            return httpx.Response(200, json={"data": [], "meta": {"page": {"total_count": 0}}})
        number = int(parse_qs(request.url.query.decode())["page[number]"][0])
        if number >= 2:
            self.waiting += 1
            self.idle.clear()
            try:
                await self.open.wait()
            finally:
                self.waiting -= 1
                if not self.waiting:
                    self.idle.set()
        self.answered.append(number)
        first = number * 100
        items = [_user(n, refused=number == 1 and n == first + 50) for n in range(first, first + 100)]
        return httpx.Response(200, json={"data": items, "meta": {"page": {"total_count": USERS}}})


def _user(n: int, *, refused: bool) -> dict[str, object]:
    attributes: dict[str, object] = {"email": f"u{n}@example.com", "status": "Disabled" if refused else "Active"}
    if refused:
        attributes["disabled"] = False
    return {"type": "users", "id": f"u{n:04d}", "attributes": attributes}


@pytest.fixture
async def org() -> AsyncIterator[tuple[Org, DatadogClient]]:
    org = Org()
    # As `answered_by` makes it, with an answer that may wait (httpx's mock transport awaits an async handler).
    client = DatadogClient(
        api_key="a" * 32, app_key="b" * 40, base_url="https://dd.example", transport=httpx.MockTransport(org.handle)
    )
    yield org, client
    org.open.set()
    await client.aclose()


async def _failed_sync(client: DatadogClient, tmp_path: Path) -> None:
    with pytest.raises(UnexpectedResponse, match="status is 'Disabled'"):
        await sync_to_file(DatadogConnector(client, DatadogOptions()).syncers(), tmp_path / "s.c1z", SyncOptions())


def _others() -> set[asyncio.Task[object]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


async def test_a_failed_sync_leaves_no_page_fetch_running(org: tuple[Org, DatadogClient], tmp_path: Path) -> None:
    """The sync fails on page 1 while pages 2 to 9 are being fetched ahead: once it has raised, nothing of it runs, and
    Datadog's answers to those pages, once they come, are read by no one (eight tasks ran on, and each page was
    answered and parsed after the sync was over)."""
    dd, client = org
    before = _others()
    await _failed_sync(client, tmp_path)
    assert _others() == before
    dd.open.set()
    await dd.idle.wait()  # every request still waiting on Datadog has had its answer
    assert dd.answered == [0, 1]


async def test_the_grant_after_a_failed_sync_is_not_held_behind_its_pages(
    org: tuple[Org, DatadogClient], tmp_path: Path
) -> None:
    """The client sends at most its concurrency (8) at once, and a sync fetches up to as many pages ahead: left running
    for a failed sync, they held every slot, and a grant waited for a slow Datadog to answer pages nobody wanted."""
    dd, client = org
    await _failed_sync(client, tmp_path)
    grant = asyncio.create_task(client.add_user_to_role("r1", "u0001"))
    try:
        await asyncio.wait_for(dd.granted.wait(), timeout=10)  # a bound on a failure, not a measure of time
    finally:
        dd.open.set()
        await asyncio.gather(grant, return_exceptions=True)


async def _forever() -> None:
    await asyncio.Event().wait()


class Ahead(UserSyncer):
    """A syncer that starts work of its own at every page (as pages fetched ahead), which only its end stops."""

    def __init__(self, org: FakeOrg, faults: Faults, gate: asyncio.Event) -> None:
        super().__init__(org, faults)
        self.gate = gate
        self.started: list[asyncio.Task[None]] = []
        self.second_page = asyncio.Event()

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        self.started.append(asyncio.create_task(_forever()))
        if page_token:
            self.second_page.set()
            await self.gate.wait()
        return await super().list_resources(parent, page_token)

    def sync_ended(self) -> list[asyncio.Task[None]]:
        for work in self.started:
            work.cancel()
        return self.started


@pytest.mark.parametrize("end", ["finished", "failed", "cancelled"])
async def test_the_engine_ends_a_syncers_own_work_with_the_sync(tmp_path: Path, end: str) -> None:
    """Whichever way the sync ends, the work a syncer started for it has ended when the engine returns or raises (the
    engine said nothing to a syncer about the end of its sync)."""
    gate = asyncio.Event()
    if end == "finished":
        gate.set()
    faults = Faults(fail_at_call=2) if end == "failed" else Faults()
    if end == "failed":
        gate.set()
    syncer = Ahead(FakeOrg(users=12), faults, gate)
    sync = asyncio.create_task(sync_to_file([syncer], tmp_path / "s.c1z", SyncOptions()))
    if end == "cancelled":
        await syncer.second_page.wait()
        sync.cancel()
    results = await asyncio.gather(sync, return_exceptions=True)
    if end == "finished":
        assert not isinstance(results[0], BaseException)
    assert syncer.started
    assert all(work.done() for work in syncer.started)
