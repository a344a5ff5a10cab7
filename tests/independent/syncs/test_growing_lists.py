"""A list that grows by more than a page while a sync reads it (an org adding users or keys by the hundred): Datadog's
answers are right, the org changed. The listing still stops at the pages its first total implies + 1 (issue 11 §4),
but the failure is the list changing, as a total that falls is: retryable (a later sync may read it whole), naming the
growth, and resumable (growth loses nothing stored; the resumed sync reads the listing again from its first page).
It was a non-retryable "unexpected response", so a ConductorOne sync task was not tried again for an org that only
grew. A total that says nothing of the page (schedules without one) stays bounded and non-retryable."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.syncer import SyncOptions, SyncResult
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.connector import DatadogConnector, DatadogOptions
from connector.datadog.errors import UnexpectedResponse
from tests.datadog.helpers import answered_by

USERS, TEAMS, KEYS = "/api/v2/users", "/api/v2/team", "/api/v2/api_keys"
TEAM = "t-1"
MEMBERS = f"/api/v2/team/{TEAM}/memberships"
FIRST = [f"x{i:03d}" for i in range(250)]  # 3 pages: the first total allows pages 0 to 3
GROWN = [*FIRST, *(f"y{i:03d}" for i in range(250))]  # 5 pages once it grew: page 4 is past the bound


def _item(path: str, item_id: str) -> dict[str, Any]:
    if path == USERS:
        return {"type": "users", "id": item_id, "attributes": {"email": f"{item_id}@example.com", "status": "Active"}}
    if path == TEAMS:
        # Only TEAM has members: the others need no memberships request.
        count = 1 if item_id == TEAM else 0
        return {"type": "team", "id": item_id, "attributes": {"name": item_id, "handle": item_id, "user_count": count}}
    if path == MEMBERS:
        return {
            "type": "team_memberships",
            "id": f"TeamMembership-{TEAM}-{item_id}",
            "attributes": {"role": None},
            "relationships": {"user": {"data": {"type": "users", "id": item_id}}},
        }
    kind = "api_keys" if path == KEYS else "roles"
    return {"type": kind, "id": item_id, "attributes": {"name": item_id, "last4": "abcd"}}


def _body(path: str, ids: list[str], number: int) -> dict[str, Any]:
    items = [_item(path, i) for i in ids[number * 100 : (number + 1) * 100]]
    if path.startswith("/api/v2/team"):
        return {"data": items, "meta": {"pagination": {"type": "number_size", "total": len(ids), "size": 100}}}
    return {"data": items, "meta": {"page": {"total_count": len(ids), "total_filtered_count": len(ids)}}}


async def _sync(path: str, grows: bool, c1z: Path) -> SyncResult:
    """Sync an org whose `path` list holds FIRST when its page 0 is read and GROWN after (`grows`), or FIRST always."""

    def handler(request: httpx.Request) -> httpx.Response:
        number = int(parse_qs(request.url.query.decode())["page[number]"][0])
        at = request.url.path
        if at == path:
            ids = GROWN if grows and number > 0 else FIRST
        elif at == TEAMS:
            ids = [TEAM]
        elif at == MEMBERS:
            ids = ["x000"]
        else:
            ids = ["x000"] if at == USERS else [f"{at.rsplit('/', 1)[-1][:1]}{i}" for i in range(2)]
        return httpx.Response(200, json=_body(at, ids, number))

    client = answered_by(handler)
    try:
        return await sync_to_file(
            DatadogConnector(client, DatadogOptions(sync_secrets=True)).syncers(), c1z, SyncOptions()
        )
    finally:
        await client.aclose()


@pytest.mark.parametrize("path", [USERS, TEAMS, MEMBERS, KEYS], ids=["users", "teams", "memberships", "api-keys"])
async def test_a_list_growing_past_its_bound_fails_retryably_naming_the_growth_and_resumes(
    path: str, tmp_path: Path
) -> None:
    c1z = tmp_path / "s.c1z"
    with pytest.raises(UnexpectedResponse) as raised:
        await _sync(path, True, c1z)
    error = raised.value
    assert "page 4 is past the 3 page(s) the list's first total implied" in str(error)
    assert "the list grew from 250 to 500 items while it was read" in str(error)
    assert error.retryable, "the org changed: a later sync may read the list whole"
    assert error.resumable
    with C1ZReader(c1z) as reader:
        (run,) = reader.sync_runs()
        assert not run.finished
        assert run.sync_token, "saved unfinished, with its state to resume"

    result = await _sync(path, False, c1z)
    assert result.resumed
    with C1ZReader(c1z) as reader:
        (run,) = reader.sync_runs()
        assert run.finished
        if path == MEMBERS:
            stored = {g.principal.id.resource for g in reader.grants() if g.entitlement.id.endswith(":member")}
        else:
            kind = {USERS: "user", TEAMS: "team", KEYS: "api-key"}[path]
            stored = {r.id.resource for r in reader.resources(kind)}
    assert set(FIRST) <= stored
