"""A Datadog sync broken off by a bad answer in any phase, then run again, stores exactly the rows of a sync that
was never interrupted: the resumed run starts from its saved state, rebuilds what the interrupted one only held in
memory (the users walk's role grant factories, the resources of pending grants pages, the sync token's cached
pieces; issue 12) and repeats no page of a listing it had finished (a listing in progress starts again from its
first page: Datadog's page numbers shift when the org changes between the runs)."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog

from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.syncer import SyncOptions, SyncResult
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions
from connector.datadog.errors import UnexpectedResponse
from tests.baton.test_c1z_untrusted import rewritten
from tests.baton.test_sync_engine import rows_of
from tests.datadog.helpers import FAST_RETRY
from tests.datadog.test_sync_org import ALL_ON, NOW
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.datadog.org import Org


def org() -> Org:
    return generate_org(users=260, seed=7, teams=14, schedules=4, api_keys=130, clock=lambda: NOW)


async def sync(fake: FakeDatadog, path: Path) -> SyncResult:
    client = DatadogClient(api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url, retry=FAST_RETRY)
    async with client:
        return await sync_to_file(DatadogConnector(client, ALL_ON).syncers(), path, SyncOptions())


@dataclass(frozen=True)
class CleanSync:
    """What a sync of `org()` that nothing interrupts stores and asks for: every test's reference."""

    rows: set[tuple[str, str, bytes]]
    requests: int
    paths: list[str]  # each request path once, in the order first asked


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> CleanSync:
    # Once per module: the org is seeded and its clock fixed, so every clean sync stores the same rows (which is
    # what each test compares with), and it was a third of each test's CPU.
    path = tmp_path_factory.mktemp("clean") / "clean.c1z"
    with FakeDatadog(org()) as fake:
        asyncio.run(sync(fake, path))
        requested = fake.requests()
    return CleanSync(rows_of(path), len(requested), list(dict.fromkeys(s.path for s in requested)))


# (the request path that answers garbage, which of the paths of that shape): one per phase of the sync.
BREAKS = [
    (r"/api/v2/users", 0),  # the first users page, while the next ones are fetched ahead
    (r"/api/v2/service_accounts/[^/]+/application_keys", 3),  # a child listing of a service account
    (r"/api/v2/roles", 0),
    (r"/api/v2/team", 0),
    (r"/api/v2/on-call/schedules", 0),
    (r"/api/v2/api_keys", 0),
    (r"/api/v2/team/[^/]+/memberships", 0),  # grants: the first team's page
    (r"/api/v2/team/[^/]+/memberships", 6),  # grants: with other teams' grants stored
    (r"/api/v2/team/[^/]+/memberships", 99),  # grants: the last team
    (r"/api/v2/on-call/schedules/[^/]+/responders", 2),
]


@pytest.mark.parametrize(("shape", "which"), BREAKS)
async def test_a_sync_broken_off_in_any_phase_resumes_to_the_rows_of_a_clean_sync(
    tmp_path: Path, clean: CleanSync, shape: str, which: int
) -> None:
    matching = [p for p in clean.paths if re.fullmatch(shape, p)]
    broken = matching[min(which, len(matching) - 1)]

    path = tmp_path / "sync.c1z"
    with FakeDatadog(org()) as fake:
        fake.faults.hostile("not-json", path=broken)
        with pytest.raises(UnexpectedResponse):
            await sync(fake, path)
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
        assert not run.finished

    with FakeDatadog(org()) as fake:
        result = await sync(fake, path)
        resumed_requests = len(fake.requests())
    assert result.resumed
    assert rows_of(path) == clean.rows
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (result.sync_id, True)
    if broken != "/api/v2/users":
        assert resumed_requests < clean.requests, "stored pages are not asked for again"


async def test_an_unfinished_sync_whose_page_token_the_syncer_refuses_starts_over(
    tmp_path: Path, clean: CleanSync
) -> None:
    """A token is a file's bytes: one whose list-resources action carries a page token the Datadog syncers do not
    read (here a Go pagination bag, JSON) failed the resume on that token, and the failed sync was saved with it
    again, so every later run failed the same way. It is a sync this build cannot resume: a new one replaces it."""
    interrupted = tmp_path / "interrupted.c1z"
    with FakeDatadog(org()) as fake:
        fake.faults.hostile("not-json", path="/api/v2/roles")
        with pytest.raises(UnexpectedResponse):
            await sync(fake, interrupted)
    with C1ZReader(interrupted) as reader:
        (saved,) = reader.connection.execute("SELECT sync_token FROM v1_sync_runs").fetchone()
    token = json.loads(saved)
    assert token["actions_map"], "an unfinished sync with the settings it was started with"
    action_id = f"{token['current_action_id'] + 1:010d}"
    bag = json.dumps({"states": None, "current_state": {"token": "2", "type": "user", "id": ""}})
    token["actions_map"][action_id] = {
        "id": action_id,
        "operation": "list-resources",
        "resource_type_id": "user",
        "page_token": bag,
    }
    token["action_order"].append(action_id)
    token["current_action_id"] += 1
    path = rewritten(
        interrupted,
        tmp_path,
        f"UPDATE v1_sync_runs SET sync_token = '{json.dumps(token).replace(chr(39), chr(39) * 2)}'",
    )
    with FakeDatadog(org()) as fake:
        result = await sync(fake, path)
    assert not result.resumed
    assert rows_of(path) == clean.rows
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (result.sync_id, True)


class _StopAfterUserPages:
    """Ends the sync (as a signal or a failure would) once `pages` users pages are stored: the saved token then holds
    the users walk at page `pages`."""

    def __init__(self, pages: int) -> None:
        self.left = pages

    def page_stored(self, phase: str, resource_type_id: str, items: int) -> None:
        if (phase, resource_type_id) == ("resources", "user"):
            self.left -= 1
            if self.left == 0:
                raise RuntimeError("stopped after the users pages")

    def sync_finished(self) -> None:
        return None


@pytest.mark.parametrize("moves", ["forward", "back"])
async def test_a_resumed_users_walk_does_not_lose_a_user_who_moved_across_its_pages_between_runs(
    tmp_path: Path, moves: str
) -> None:
    """Datadog's lists are paged by number over a sorted list: between the interrupted run and the resumed one a user
    renamed (or one deleted) moves others across page boundaries. Resumed at the saved page number, the walk never
    read a user who moved onto a page it had already read ("forward": renamed to sort first), or who was pushed
    there by the shift ("back": an earlier user renamed to sort last). The sync was saved as complete without them,
    and ConductorOne would see an active user deleted."""
    the_org = org()
    path = tmp_path / "sync.c1z"
    with FakeDatadog(the_org) as fake:
        client = DatadogClient(api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url, retry=FAST_RETRY)
        async with client:
            with pytest.raises(RuntimeError, match="stopped after the users pages"):
                await sync_to_file(
                    DatadogConnector(client, ALL_ON).syncers(), path, SyncOptions(), observer=_StopAfterUserPages(2)
                )
    users = the_org.sorted_users()
    mover = users[230] if moves == "forward" else users[10]
    the_org.update_user(mover, name="!!! first" if moves == "forward" else "~~~ last")
    with FakeDatadog(the_org) as fake:
        result = await sync(fake, path)
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (result.sync_id, True)
        stored = {r.id.resource for r in reader.resources("user")}
    missing = set(the_org.users) - stored
    assert not missing, f"users missing from a sync saved as complete: {sorted(missing)}"


async def test_a_filtered_sync_resumed_after_the_connector_defines_other_types_is_not_resumed(tmp_path: Path) -> None:
    """`--sync-resource-types user` records the same filter whatever else the settings enable, but the users a run
    stores depend on it: with service-account application keys on, every enabled service account carries the
    `ChildResourceType` annotations of the key types. Resumed with them off (here after the users walk, which
    stopped the run as its last page was stored), the finished sync held users no sync with these settings makes,
    or mixed the two: users of the early pages with the annotations, later ones without."""
    only_users = SyncOptions(resource_type_ids=["user"])
    without_keys = DatadogOptions(sync_schedules=True)
    the_org = org()
    clean = tmp_path / "clean.c1z"
    with FakeDatadog(the_org) as fake:
        client = DatadogClient(api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url, retry=FAST_RETRY)
        async with client:
            await sync_to_file(DatadogConnector(client, without_keys).syncers(), clean, only_users)
    path = tmp_path / "sync.c1z"
    with FakeDatadog(the_org) as fake:
        client = DatadogClient(api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url, retry=FAST_RETRY)
        async with client:
            with pytest.raises(RuntimeError, match="stopped after the users pages"):
                await sync_to_file(
                    DatadogConnector(client, ALL_ON).syncers(), path, only_users, observer=_StopAfterUserPages(3)
                )
            with structlog.testing.capture_logs() as events:
                result = await sync_to_file(DatadogConnector(client, without_keys).syncers(), path, only_users)
    assert not result.resumed
    (warning,) = [
        e for e in events if e["event"] == "unfinished sync was started with other settings; starting a new one"
    ]
    assert warning["changed"] == [
        "connector_types: 'api-key,role,schedule,service-account-access-token,service-account-application-key,team,user'"
        " -> 'role,schedule,team,user'"
    ]
    assert rows_of(path) == rows_of(clean)


async def test_a_sync_of_only_the_keys_broken_off_in_a_service_accounts_listing_resumes(tmp_path: Path) -> None:
    """`--sync-resource-types` of the key types alone walks the users only for their service accounts, and lists each
    one's keys under it. The saved actions name that account as their parent, of a type the file does not hold
    (users are not synced): the resume refused them as "a resource type this sync does not have", and every run
    broken off there started over, so a long key sync that keeps being interrupted never finished."""
    keys = SyncOptions(resource_type_ids=["service-account-application-key", "service-account-access-token"])

    async def keys_sync(fake: FakeDatadog, path: Path) -> SyncResult:
        client = DatadogClient(api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url, retry=FAST_RETRY)
        async with client:
            return await sync_to_file(DatadogConnector(client, ALL_ON).syncers(), path, keys)

    clean_path = tmp_path / "clean.c1z"
    with FakeDatadog(org()) as fake:
        await keys_sync(fake, clean_path)
        requested = fake.requests()
    accounts = [s.path for s in requested if re.fullmatch(r"/api/v2/service_accounts/[^/]+/access_tokens", s.path)]
    assert len(accounts) > 3

    path = tmp_path / "sync.c1z"
    with FakeDatadog(org()) as fake:
        fake.faults.hostile("not-json", path=accounts[3])
        with pytest.raises(UnexpectedResponse):
            await keys_sync(fake, path)
    with FakeDatadog(org()) as fake:
        result = await keys_sync(fake, path)
        resumed_requests = len(fake.requests())
    assert result.resumed
    assert rows_of(path) == rows_of(clean_path)
    assert resumed_requests < len(requested), "listings finished before the break are not asked for again"
