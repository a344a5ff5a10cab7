"""What the suite's tests share: a team of two pages, Datadog's door held (before a second page, or for a write), the
listing guard driven page by page, Datadog's answers to a removal, and the verdict on a sync that met one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from pathlib import Path

import httpx
import pytest

from connector.baton.c1z.reader import C1ZReader
from connector.datadog.errors import UnexpectedResponse
from connector.datadog.paging import ListingGuard, RemovalStamp
from tests.fakes.datadog.org import Org, Team
from tests.independent.writes.conftest import Rig
from tests.independent.writes.wire import JSON, Action, Wire

MEMBERS = 150  # two pages of 100


def second_page_held(gate: asyncio.Event, arrived: asyncio.Event) -> Action:
    """Datadog serves the listing's second page only once `gate` opens (the first as it comes)."""

    async def act(request: httpx.Request, wire: Wire) -> httpx.Response:
        if request.url.params.get("page[number]") == "1":
            arrived.set()
            await gate.wait()
        status, body = await wire.forward(request)
        return httpx.Response(status, content=body, headers={"Content-Type": JSON})

    return act


def held_at_the_door(gate: asyncio.Event, arrived: asyncio.Event) -> Action:
    """Datadog takes the request only once `gate` opens; `arrived` is set when it reaches the door."""

    async def act(request: httpx.Request, wire: Wire) -> httpx.Response:
        arrived.set()
        await gate.wait()
        status, body = await wire.forward(request)
        return httpx.Response(status, content=body, headers={"Content-Type": JSON})

    return act


def platform_team(org: Org) -> Team:
    """A team of `MEMBERS` members, listed on two pages."""
    team = org.add_team("Platform", "platform")
    for i in range(MEMBERS):
        org.add_member(team, org.add_user(f"member-{i:03d}@example.com", name=f"Member {i:03d}", status="Active").id)
    return team


def large_team(rig: Rig) -> Team:
    return platform_team(rig.fake.org)


async def landed_then_503(request: httpx.Request, wire: Wire) -> httpx.Response:
    """The write lands at Datadog; its answer is a 503 (it may have done it) whose rate-limit headers shut the bucket
    for an hour, so the limiter refuses the retry before it leaves."""
    await wire.forward(request)
    return httpx.Response(
        503,
        content=b'{"errors":["Service Unavailable"]}',
        headers={
            "Content-Type": JSON,
            "X-RateLimit-Limit": "100",
            "X-RateLimit-Period": "3600",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "3600",
            "X-RateLimit-Name": "team_memberships",
        },
    )


KEY = ("/api/v2/team/t/memberships", ())
OTHER = ("/api/v2/api_keys", ())


def of_key(key: Hashable) -> bool:
    """The removal's lists: `KEY`'s alone."""
    return key == KEY


def of_other(key: Hashable) -> bool:
    """The removal's lists: `OTHER`'s alone."""
    return key == OTHER


def guard_page(guard: ListingGuard, number: int, since: RemovalStamp | None = None) -> int:
    """Page `number` of `KEY`'s listing of 300 items checked by `guard`; `since`: the stamp read before it was asked for."""
    ids = [f"m{number * 100 + i}" for i in range(100)]
    return guard.check(
        KEY, number=number, size=100, total=300, ids=ids, next_number=number + 1, path=KEY[0], status=200, since=since
    )


def failed_for_the_change(ended: object, path: Path, held: Callable[[C1ZReader], bool], what: str) -> None:
    """A sync that met the connector's own removal failed, retryably, naming the change; finished, its c1z must still
    hold what never left (`held`), and finishing is a failure of the test all the same (`what` names the list)."""
    if not isinstance(ended, BaseException):
        with C1ZReader(path) as reader:
            assert held(reader), f"the c1z holds the {what} without an item that never left it"
        pytest.fail(f"the sync finished although the {what}'s listing changed under it")
    assert isinstance(ended, UnexpectedResponse), repr(ended)
    assert ended.retryable
    assert "while it was read" in str(ended)


def team_member_held(team_id: str, member: str) -> Callable[[C1ZReader], bool]:
    """Whether a c1z holds `member`'s grant of the team's member entitlement."""

    def held(reader: C1ZReader) -> bool:
        return member in {
            g.principal.id.resource for g in reader.grants() if g.entitlement.id == f"team:{team_id}:member"
        }

    return held
