"""Review r1605 of the long-running daemon's merge: the sync's end hook (`EndsWithTheSync`) against a hook that raises,
page fetches a failed page left running, and walks a lookup stopped early."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import structlog.testing

from connector.baton import builders as b
from connector.baton.c1z.store import C1ZStore
from connector.baton.errors import FailedPreconditionError
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.sync.syncer import Syncer, SyncOptions
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions
from connector.datadog.errors import DatadogError, UnexpectedResponse
from connector.datadog.paging import ListingGuard
from tests.baton.fake_connector import Faults, InjectedFailure, RoleSyncer, UserSyncer
from tests.baton.fake_connector import Org as FakeOrg
from tests.datadog.helpers import FAST_RETRY, loopback_trust
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.datadog.org import AccessToken, APIKey, AppKey, User
from tests.independent.writes.conftest import ALL_ON

# --- 1. a raising end hook ------------------------------------------------------------------------------------------


async def _forever() -> None:
    await asyncio.Event().wait()


class Raising(UserSyncer):
    def sync_ended(self) -> list[asyncio.Task[None]]:
        raise RuntimeError("end hook bug: secret-looking text")


class Working(RoleSyncer):
    """Starts work of its own on its first listing, and stops it at the sync's end."""

    def __init__(self, org: FakeOrg, faults: Faults) -> None:
        super().__init__(org, faults)
        self.work: asyncio.Task[None] | None = None

    async def list_resources(self, parent: Any, page_token: str) -> Any:
        if self.work is None:
            self.work = asyncio.create_task(_forever())
        return await super().list_resources(parent, page_token)

    def sync_ended(self) -> list[asyncio.Task[None]]:
        assert self.work is not None
        self.work.cancel()
        return [self.work]


async def test_a_raising_end_hook_keeps_the_syncs_own_failure_and_ends_the_others(tmp_path: Path) -> None:
    """The sync fails on its last call; the users syncer's hook then raises. The sync's own error is what is raised
    (it was RuntimeError('end hook bug')), the roles syncer's hook still ran (its work was left running), and the
    broken hook is logged in one line naming its type, without its message."""
    org, faults = FakeOrg(users=12), Faults()
    working = Working(org, faults)
    faults.fail_at_call = 4  # the last call of the run (a run without the fault makes 4)
    with structlog.testing.capture_logs() as events, pytest.raises(InjectedFailure):
        await sync_to_file([Raising(org, faults), working], tmp_path / "s.c1z", SyncOptions())
    assert working.work is not None
    assert working.work.done()
    broken = [e for e in events if e["event"].startswith("sync end hook failed")]
    assert [(e["resource_type"], e["error"], e["log_level"]) for e in broken] == [("user", "RuntimeError", "error")]
    assert "secret" not in repr(events)


async def test_a_raising_end_hook_does_not_fail_a_finished_sync(tmp_path: Path) -> None:
    org, faults = FakeOrg(users=12), Faults()
    working = Working(org, faults)
    result = await sync_to_file([Raising(org, faults), working], tmp_path / "s.c1z", SyncOptions())
    assert result.sync_id
    assert faults.calls == 4
    assert working.work is not None
    assert working.work.done()


# --- 2. a page's own fetch or check failing, with pages fetched ahead ----------------------------------------------

USERS = 1_000


@dataclass
class Org:
    """Datadog answering users pages; pages past the first two wait for `open` (a slow Datadog), and page 1 is wrong:
    an item of another type (refused by the page's own check) or a 404 (its fetch fails)."""

    mode: str
    open: asyncio.Event = field(default_factory=asyncio.Event)
    answered: list[int] = field(default_factory=list)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/api/v2/users":
            return httpx.Response(200, json={"data": [], "meta": {"page": {"total_count": 0}}})
        number = int(parse_qs(request.url.query.decode())["page[number]"][0])
        if number >= 2:
            await self.open.wait()
        self.answered.append(number)
        first = number * 100
        items = [
            {"type": "users", "id": f"u{n:04d}", "attributes": {"email": f"u{n}@example.com", "status": "Active"}}
            for n in range(first, first + 100)
        ]
        if number == 1:
            if self.mode == "another type":
                items[50]["type"] = "roles"
            else:
                return httpx.Response(404, json={"errors": ["Not found"]})
        return httpx.Response(200, json={"data": items, "meta": {"page": {"total_count": USERS}}})


@pytest.fixture(params=["another type", "fetch fails"])
async def org(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Org, DatadogClient]]:
    org = Org(request.param)
    client = DatadogClient(
        api_key="a" * 32, app_key="b" * 40, base_url="https://dd.example", transport=httpx.MockTransport(org.handle)
    )
    yield org, client
    org.open.set()
    await client.aclose()


def _others() -> set[asyncio.Task[object]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


async def test_the_engine_raises_on_a_failed_page_with_no_page_fetch_running(
    org: tuple[Org, DatadogClient], tmp_path: Path
) -> None:
    """Page 1's own fetch or check fails while pages 2 to 9 are fetched ahead: `get` cancelled them and dropped the
    tasks, so the end hook found none and the engine raised with eight still cancelling."""
    dd, client = org
    store = await C1ZStore.create(tmp_path)
    try:
        before = _others()
        with pytest.raises(DatadogError):
            await Syncer(DatadogConnector(client, DatadogOptions()).syncers(), store, SyncOptions()).run()
        assert _others() == before
    finally:
        await store.close()
    assert dd.answered == [0, 1]


# --- 4. a name-filtered credential listing read to its first page only ---------------------------------------------

APP_KEY, ORG_KEY, SAT = "service-account-application-key", "api-key", "service-account-access-token"
NAME = "c1-2Abc_def-123"


@pytest.fixture
async def near_matches() -> AsyncIterator[tuple[DatadogClient, DatadogConnector, User]]:
    """An org holding 150 credentials of each kind whose names contain the one an issuance looks for (Datadog's filter
    matches substrings): its name-filtered listing is two pages long."""
    with FakeDatadog(generate_org(users=3, seed=7, teams=0, schedules=0)) as fake:
        org = fake.org
        sa = org.add_user("robot@example.com", name="Robot", service_account=True, status="Active")
        for i in range(150):
            name = f"old-{NAME}-{i}"
            app = AppKey(org.new_id(), name, org.new_secret(40), sa.id, org.now())
            org.app_keys[app.id] = app
            api = APIKey(org.new_id(), name, org.new_secret(32), None, org.now(), org.now())
            org.api_keys[api.id] = api
            token = AccessToken(org.new_id(), name, org.new_secret(40), "ddsat_x", sa.id, ["a"], org.now())
            org.tokens[token.id] = token
        client = DatadogClient(
            api_key=fake.api_key,
            app_key=fake.app_key,
            base_url=fake.base_url,
            retry=FAST_RETRY,
            verify=loopback_trust(),
        )
        try:
            yield client, DatadogConnector(client, ALL_ON), sa
        finally:
            await client.aclose()


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_an_issuance_refused_on_a_listings_first_page_leaves_no_walk(
    near_matches: tuple[DatadogClient, DatadogConnector, User], kind: str
) -> None:
    """Three issuances refused because more matches follow the first page: the client remembers no walk after them
    (it kept one per refused issuance, as the membership lookups did before they were closed)."""
    client, connector, sa = near_matches
    issuer = connector.credential_issuer("user")
    assert issuer is not None
    options = resource_pb2.CredentialIssueOptions(secret_resource_type_id=kind)
    (options.token if kind == SAT else options.api_key).scopes.extend(["a"] if kind == SAT else [])
    for _ in range(3):
        with pytest.raises(FailedPreconditionError, match="cannot rule out"):
            await issuer.issue_credential(b.resource_id("user", sa.id), options, None, "2Abc_def-123")
    assert client._listings.walks == 0


# --- 3. walks read side by side past the byte bound; a failed sync's walks -----------------------------------------


async def test_a_failed_sync_leaves_no_walk_behind(org: tuple[Org, DatadogClient], tmp_path: Path) -> None:
    """Three syncs failing on page 1 of the users: the client's listing checks remember no walk after them (each left
    its page-0 walk, ten thousand ids' hashes for a large org, there for good; together they pushed out the walks
    later syncs were reading)."""
    _, client = org
    for n in range(3):
        with pytest.raises(DatadogError):
            await sync_to_file(
                DatadogConnector(client, DatadogOptions()).syncers(), tmp_path / f"s{n}.c1z", SyncOptions()
            )
        assert client._listings.walks == 0


def _read(guard: ListingGuard, key: str, number: int, ids: list[str]) -> None:
    guard.check(
        key,
        number=number,
        size=100,
        total=10_000,
        ids=ids,
        next_number=number + 1,
        path=f"/api/v2/team/{key}/memberships",
        status=200,
    )


def _ids(key: str, number: int) -> list[str]:
    return [f"{key}-{number}-{i}" for i in range(100)]


@pytest.mark.parametrize("walks", [2, 16])
def test_walks_read_in_turn_within_the_bound_keep_their_checks(walks: int) -> None:
    """`walks` listings read in turn, page by page (the engine's grant workers each on a team's memberships), 900
    bytes a page, within the bound (scaled down from 32 MiB): every listing has its page 6, a repeat of its page 0,
    caught. Nothing is forgotten while the walks being read fit, whichever was read least recently."""
    guard = ListingGuard(held_bytes=walks * 7 * 900)
    for number in range(6):
        for n in range(walks):
            _read(guard, f"t{n}", number, _ids(f"t{n}", number))
    for n in range(walks):
        with pytest.raises(UnexpectedResponse, match="page 6 repeats page 0"):
            _read(guard, f"t{n}", 6, _ids(f"t{n}", 0))


@pytest.mark.parametrize("walks", [2, 16])
def test_walks_read_in_turn_past_the_bound_are_never_refused(walks: int) -> None:
    """Past the bound (only a hostile peer's listings: millions of ids read side by side) the least recently read walks
    are forgotten, their checks with them, and no page is refused: refused pages made walks a reader failed to forget
    a refusal of every later sync (review r1608). Memory stays within the bound."""
    guard = ListingGuard(held_bytes=walks * 3_000)
    for number in range(6):
        for n in range(walks):
            _read(guard, f"t{n}", number, _ids(f"t{n}", number))
            assert guard.held_bytes <= walks * 3_000
