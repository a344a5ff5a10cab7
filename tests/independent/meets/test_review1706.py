"""Review r1706 of `ListingGuard.removing`: a first page is stamped with the latest removal and those under way then
(a slow removal of another list marks no walk of this one), and a write whose retry the rate limiter refused after
an attempt whose answer was lost is no "nothing done" (`errors.nothing_done`): it still marks the walk, and its
revoke's report says Datadog may have made the change (`test_review1706_report.py`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import RateLimited, UnexpectedResponse, nothing_done
from connector.datadog.paging import ListingGuard
from tests.datadog.helpers import FAST_RETRY
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.independent.meets.shared import (
    MEMBERS,
    guard_page,
    landed_then_503,
    of_key,
    of_other,
    platform_team,
)
from tests.independent.writes.wire import JSON, Wire


def test_a_removal_landed_before_the_first_page_was_asked_for_fails_no_walk_beside_another_lists_removal() -> None:
    """A slow removal of another list (an API key's DELETE waiting out a rate limit) is under way; a team member's
    removal begins and lands; only then is the team's page 0 asked for: it already shows the team without the member,
    nothing can move under the walk, and it is read whole. (Stamped with the id before the earliest removal under way
    on any list, the walk failed.)"""
    guard = ListingGuard()
    with guard.removing(of_other):  # the API key's DELETE, under way throughout
        with guard.removing(of_key):  # the member's DELETE, landed
            pass
        since = guard.removal_epoch  # page 0 asked for only now
        guard_page(guard, 0, since=since)
        guard_page(guard, 1)


@pytest.fixture
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=5, seed=108, teams=1, schedules=0)) as server:
        yield server


class _Clock:
    """The client's monotonic clock, moved by the test: the rate limiter's bucket reopens when it says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def wired(fake: FakeDatadog) -> AsyncIterator[tuple[DatadogClient, Wire, _Clock]]:
    wire, clock = Wire(), _Clock()
    client = DatadogClient(
        api_key=fake.api_key,
        app_key=fake.app_key,
        base_url=fake.base_url,
        retry=FAST_RETRY,
        transport=wire,
        clock=clock,
    )
    try:
        yield client, wire, clock
    finally:
        await client.aclose()


async def test_a_removal_that_landed_then_was_refused_a_retry_by_the_rate_limiter_still_fails_the_walk(
    fake: FakeDatadog, wired: tuple[DatadogClient, Wire, _Clock]
) -> None:
    """The DELETE lands; its answer is a 503 (it may have done it) whose rate-limit headers shut the bucket for an
    hour, so the retry is refused by the limiter before it leaves: a `RateLimited` that keeps `after_lost_answer`, no
    "nothing done". With another member added meanwhile (the total holds at 150), the walk between pages is refused at
    page 1 once the bucket reopens: released as "nothing done", it ended without the 101st member, who never left."""
    client, wire, clock = wired
    team = platform_team(fake.org)
    listed = list(team.members)
    leaving, staying = listed[5], listed[100]
    joiner = fake.org.add_user("joiner@example.com", name="Joiner", status="Active")
    first = await client.list_team_memberships(team.id)  # the walk, between pages
    assert staying not in {m.user_id for m in first.items}
    wire.on("DELETE", f"/api/v2/team/{team.id}/memberships/.*", landed_then_503, times=5)
    with pytest.raises(RateLimited) as caught:
        await client.remove_team_member(team.id, leaving)
    assert leaving not in team.members, "the DELETE landed"
    assert caught.value.after_lost_answer
    assert not nothing_done(caught.value), "a removal that may have landed is classified as having done nothing"
    fake.org.add_member(team, joiner.id)
    clock.now += 4000  # the bucket reopens
    with pytest.raises(UnexpectedResponse, match="removed or moved an item of the list") as refused:
        await client.list_team_memberships(team.id, page=1)
    assert refused.value.retryable


async def test_a_team_read_after_its_revoke_landed_is_read_whole_while_another_teams_revoke_is_slow(
    fake: FakeDatadog, wired: tuple[DatadogClient, Wire, _Clock]
) -> None:
    """Through the client and the fake: team Other's revoke is slow (its DELETE held at Datadog); team Platform's revoke
    goes out and lands (204); only then is Platform's membership listing read, page 0 and page 1: read whole."""
    client, wire, _ = wired
    org = fake.org
    team = platform_team(org)
    other = org.add_team("Other", "other")
    outsider = org.add_user("outsider@example.com", name="Outsider", status="Active")
    org.add_member(other, outsider.id)
    held, arrived = asyncio.Event(), asyncio.Event()

    async def slow(request: httpx.Request, wire: Wire) -> httpx.Response:
        arrived.set()
        await held.wait()
        status, body = await wire.forward(request)
        return httpx.Response(status, content=body, headers={"Content-Type": JSON} if body else {})

    wire.on("DELETE", f"/api/v2/team/{other.id}/memberships/.*", slow, times=1)
    client.stop_reading(await client.list_team_memberships(other.id))  # the group's rate-limit bucket learnt
    slow_revoke = asyncio.create_task(client.remove_team_member(other.id, outsider.id))
    try:
        await asyncio.wait_for(arrived.wait(), 10)
        await client.remove_team_member(team.id, list(team.members)[5])  # landed: 204
        first = await client.list_team_memberships(team.id)  # asked for after that revoke ended
        assert not slow_revoke.done()  # the other team's revoke is still under way
        second = await client.list_team_memberships(team.id, page=1)
        assert len({m.user_id for m in first.items} | {m.user_id for m in second.items}) == MEMBERS - 1
    finally:
        held.set()
        await asyncio.gather(slow_revoke, return_exceptions=True)
