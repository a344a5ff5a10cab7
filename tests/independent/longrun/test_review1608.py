"""Review r1608 of fix1603: a walk is forgotten only by the reader of its last page, and a page refused after its
walk was kept leaves no walk behind.

- Two syncs sharing the client read the users in step: one's page continued the other's walk, both held one serial,
  and the one that failed forgot the other's walk at its end: its repeated page 3 (100 users missing, reported
  deleted) passed. Every page now gives the walk a new serial.
- A page refused by a check made after the guard kept its walk (a membership of another team, a user of another
  role, a key of another owner) left that walk to no reader: one more per failing sync or revoke lookup.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import httpx
import pytest

from connector.baton import builders as b
from connector.datadog.client import DatadogClient
from connector.datadog.errors import UnexpectedResponse
from connector.datadog.resources import types
from connector.datadog.resources.keys import ServiceAccountAppKeySyncer
from connector.datadog.resources.roles import RoleSyncer
from connector.datadog.resources.teams import TeamSyncer
from connector.datadog.resources.users import UserSyncer

USERS = 1_000


async def _users(request: httpx.Request) -> httpx.Response:
    """1,000 users in 10 pages; page 3 serves page 0's users again (u0300-u0399 are never listed)."""
    if request.url.path != "/api/v2/users":
        return httpx.Response(200, json={"data": [], "meta": {"page": {"total_count": 0}}})
    number = int(parse_qs(request.url.query.decode())["page[number]"][0])
    first = (0 if number == 3 else number) * 100
    items = [
        {"type": "users", "id": f"u{n:04d}", "attributes": {"email": f"u{n}@example.com", "status": "Active"}}
        for n in range(first, first + 100)
    ]
    return httpx.Response(200, json={"data": items, "meta": {"page": {"total_count": USERS}}})


@pytest.fixture
async def client() -> AsyncIterator[DatadogClient]:
    c = DatadogClient(
        api_key="a" * 32, app_key="b" * 40, base_url="https://dd.example", transport=httpx.MockTransport(_users)
    )
    yield c
    await c.aclose()


async def _read_to_the_end(syncer: UserSyncer, start: int) -> None:
    token = str(start)
    while token:
        token = (await syncer.list_resources(None, token)).next_token


@pytest.mark.parametrize("other_sync_fails", [False, True])
async def test_another_syncs_end_forgets_this_syncs_walk(client: DatadogClient, other_sync_fails: bool) -> None:
    """Two syncs sharing the client (the periodic one and a task's) read the users in step. Sync A's page 1 continues
    the latest walk at page 0, which is B's (`ListingGuard._take`), so A and B both hold B's serial. B then fails
    before its page 1: its `sync_ended` forgets that serial -- A's walk. A's page 2 starts a walk of its own (no
    page 0 to compare, no distinct count), and its page 3, a repeat of page 0, passes: 100 users missing, the sync
    finishes and reports them deleted. B's real walk (page 0, 100 ids) stays remembered for good."""
    a, b_ = UserSyncer(client), UserSyncer(client)
    await a.list_resources(None, "")
    await b_.list_resources(None, "")
    await a.list_resources(None, "1")
    if other_sync_fails:
        pending = b_.sync_ended()
        if pending:
            await asyncio.wait(pending)
    with pytest.raises(UnexpectedResponse, match="page 3 repeats page 0"):
        await _read_to_the_end(a, 2)


# --- a page refused by a check that runs after the guard kept its walk ---------------------------------------------


async def _memberships(request: httpx.Request) -> httpx.Response:
    """Team t1's memberships, 250 of them; page 0 holds one membership of another team (answers mixed up)."""
    number = int(parse_qs(request.url.query.decode())["page[number]"][0])
    items = []
    for n in range(number * 100, min(number * 100 + 100, 250)):
        team = "t2" if (number, n) == (0, 5) else "t1"
        items.append(
            {
                "type": "team_memberships",
                "id": f"m{n}",
                "attributes": {"role": None},
                "relationships": {
                    "user": {"data": {"type": "users", "id": f"u{n}"}},
                    "team": {"data": {"type": "team", "id": team}},
                },
            }
        )
    return httpx.Response(200, json={"data": items, "meta": {"pagination": {"total": 250, "size": 100}}})


async def test_a_sync_failing_on_a_listings_first_page_after_its_check_leaves_its_walk() -> None:
    client = DatadogClient(
        api_key="a" * 32, app_key="b" * 40, base_url="https://dd.example", transport=httpx.MockTransport(_memberships)
    )
    try:
        teams = TeamSyncer(client)
        team = b.resource(types.TEAM, "t1", "T1")
        for _ in range(3):  # three syncs failing the same way
            with pytest.raises(UnexpectedResponse, match="membership of another team"):
                await teams.list_grants(team, "")
            teams.sync_ended()
        # and three revokes looking the member up (provisioning's `iter_team_memberships`, closed)
        for _ in range(3):
            with pytest.raises(UnexpectedResponse, match="membership of another team"):
                async for _page in client.iter_team_memberships("t1"):
                    pass
        assert client._listings.walks == 0, f"{client._listings.walks} walk(s) left"
    finally:
        await client.aclose()


async def _role_users(request: httpx.Request) -> httpx.Response:
    """Role r1's users, 250 of them; page 0 holds one user without the role (answers mixed up)."""
    number = int(parse_qs(request.url.query.decode())["page[number]"][0])
    items = [
        {
            "type": "users",
            "id": f"u{n}",
            "attributes": {"email": f"u{n}@example.com", "status": "Active"},
            "relationships": {"roles": {"data": [{"type": "roles", "id": "r2" if (number, n) == (0, 5) else "r1"}]}},
        }
        for n in range(number * 100, min(number * 100 + 100, 250))
    ]
    return httpx.Response(200, json={"data": items, "meta": {"page": {"total_count": 250}}})


async def test_a_role_users_page_refused_after_its_check_leaves_no_walk() -> None:
    client = DatadogClient(
        api_key="a" * 32, app_key="b" * 40, base_url="https://dd.example", transport=httpx.MockTransport(_role_users)
    )
    try:
        roles = RoleSyncer(client)
        role = b.resource(types.ROLE, "r1", "R1")
        for _ in range(3):
            with pytest.raises(UnexpectedResponse, match="a user of another role"):
                await roles.list_grants_directly(role, "")
            roles.sync_ended()
        assert client._listings.walks == 0, f"{client._listings.walks} walk(s) left"
    finally:
        await client.aclose()


async def _keys(request: httpx.Request) -> httpx.Response:
    """Service account sa1's 250 application keys; page 0's k5 is owned by sa2 (answers mixed up)."""
    number = int(parse_qs(request.url.query.decode())["page[number]"][0])
    items = [
        {
            "type": "application_keys",
            "id": f"k{n}",
            "attributes": {"name": f"key {n}"},
            "relationships": {"owned_by": {"data": {"type": "users", "id": "sa2" if (number, n) == (0, 5) else "sa1"}}},
        }
        for n in range(number * 100, min(number * 100 + 100, 250))
    ]
    return httpx.Response(200, json={"data": items, "meta": {"page": {"total_filtered_count": 250}}})


async def test_a_keys_page_of_another_owner_leaves_no_walk() -> None:
    """Review r1609: the key-owner refusal's forgetting had no test of its own."""
    client = DatadogClient(
        api_key="a" * 32, app_key="b" * 40, base_url="https://dd.example", transport=httpx.MockTransport(_keys)
    )
    try:
        syncer = ServiceAccountAppKeySyncer(client)
        account = b.resource(types.USER, "sa1", "Robot").id
        for _ in range(3):
            with pytest.raises(UnexpectedResponse, match="a key of another owner"):
                await syncer.list_resources(account, "")
            syncer.sync_ended()
        assert client._listings.walks == 0, f"{client._listings.walks} walk(s) left"
    finally:
        await client.aclose()
