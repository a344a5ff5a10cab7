"""Review r1706 of `ListingGuard.removing`: a first page is stamped with the latest removal and those under way then
(a slow removal of another list marks no walk of this one), and a write whose retry the rate limiter refused after
an attempt whose answer was lost is no "nothing done" (`errors.nothing_done`): it still marks the walk, and its
revoke's report says Datadog may have made the change."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import DatadogError, RateLimited, UnexpectedResponse, nothing_done
from connector.datadog.paging import ListingGuard, RemovalStamp
from tests.datadog.helpers import FAST_RETRY
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.independent.writes.wire import JSON, Wire

KEY = ("/api/v2/team/t/memberships", ())
OTHER = ("/api/v2/api_keys", ())


def _page(guard: ListingGuard, number: int, since: RemovalStamp | None = None) -> int:
    ids = [f"m{number * 100 + i}" for i in range(100)]
    return guard.check(
        KEY, number=number, size=100, total=300, ids=ids, next_number=number + 1, path=KEY[0], status=200, since=since
    )


def test_a_removal_landed_before_the_first_page_was_asked_for_fails_no_walk_beside_another_lists_removal() -> None:
    """A slow removal of ANOTHER list (an API key's DELETE waiting out a rate limit) is under way; a team member's
    removal begins and lands (204); only then is the team's page 0 asked for: it already shows the team without the
    member, nothing can move under the walk. Yet the walk is failed: `removal_epoch` is the id before the earliest
    removal under way anywhere, not of this list. On 44aefadd this passed (epoch = the latest id)."""
    guard = ListingGuard()
    slow = guard.removing(lambda key: key == OTHER)
    slow.__enter__()  # id 1: the api key's DELETE, under way throughout
    with guard.removing(lambda key: key == KEY):  # id 2: the member's DELETE, landed
        pass
    since = guard.removal_epoch  # page 0 asked for only now
    _page(guard, 0, since=since)
    _page(guard, 1)  # raises "this connector removed or moved an item of the list while it was read"
    slow.__exit__(None, None, None)


# --- a removal whose retry the limiter refused after a lost attempt is taken for "nothing done" -----------------------

MEMBERS = 150


@pytest.fixture
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=5, seed=108, teams=1, schedules=0)) as server:
        yield server


async def test_a_removal_that_landed_then_was_refused_a_retry_by_the_rate_limiter_still_marks_the_walk(
    fake: FakeDatadog,
) -> None:
    """The DELETE lands; Datadog's answer is a 503 (a 5xx: it may have done it, `attempts.lost`) whose rate-limit
    headers say the bucket is empty for an hour. The retry is refused by the limiter before it leaves
    (`WaitTooLong` -> `RateLimited(status=None)`), raised WITHOUT `lost_answer`, so `after_lost_answer` is False and
    `errors.nothing_done` answers True: the walk between pages is released, though the member was removed. With the
    team's total held by another member added meanwhile, page 1 passes and the walk ends without the 101st member,
    who never left."""
    now = [1000.0]
    wire = Wire()
    client = DatadogClient(
        api_key=fake.api_key,
        app_key=fake.app_key,
        base_url=fake.base_url,
        retry=FAST_RETRY,
        transport=wire,
        clock=lambda: now[0],
    )
    org = fake.org
    team = org.add_team("Platform", "platform")
    for i in range(MEMBERS):
        org.add_member(team, org.add_user(f"member-{i:03d}@example.com", name=f"Member {i:03d}", status="Active").id)
    listed = list(team.members)
    leaving, staying = listed[5], listed[100]
    org.add_user("joiner@example.com", name="Joiner", status="Active")
    try:
        first = await client.list_team_memberships(team.id)  # the walk, between pages
        assert staying not in {m.user_id for m in first.items}

        async def landed_then_503(request: httpx.Request, wire: Wire) -> httpx.Response:
            await wire.forward(request)  # the member is removed at Datadog
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

        wire.on("DELETE", f"/api/v2/team/{team.id}/memberships/.*", landed_then_503, times=5)
        with pytest.raises(DatadogError) as caught:
            await client.remove_team_member(team.id, leaving)
        assert leaving not in team.members, "the DELETE landed"
        print(repr(caught.value), caught.value.after_lost_answer, caught.value.status)
        assert isinstance(caught.value, RateLimited)
        # The removal may have landed (a 503 after the request got through), yet:
        assert not nothing_done(caught.value), "a removal that landed is classified as having done nothing"
    finally:
        await client.aclose()


async def test_end_to_end_walk_released(fake: FakeDatadog) -> None:
    """As above, then page 1 is read once the bucket reopens: refused, as the list changed under the walk (it ended
    without `staying`, no error, when the removal was taken for nothing done)."""
    now = [1000.0]
    wire = Wire()
    client = DatadogClient(
        api_key=fake.api_key,
        app_key=fake.app_key,
        base_url=fake.base_url,
        retry=FAST_RETRY,
        transport=wire,
        clock=lambda: now[0],
    )
    org = fake.org
    team = org.add_team("Platform", "platform")
    for i in range(MEMBERS):
        org.add_member(team, org.add_user(f"member-{i:03d}@example.com", name=f"Member {i:03d}", status="Active").id)
    listed = list(team.members)
    leaving, staying = listed[5], listed[100]
    joiner = org.add_user("joiner@example.com", name="Joiner", status="Active")
    try:
        first = await client.list_team_memberships(team.id)

        async def landed_then_503(request: httpx.Request, wire: Wire) -> httpx.Response:
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

        wire.on("DELETE", f"/api/v2/team/{team.id}/memberships/.*", landed_then_503, times=5)
        with pytest.raises(DatadogError):
            await client.remove_team_member(team.id, leaving)
        org.add_member(team, joiner.id)  # anyone's addition: the total holds at 150
        now[0] += 4000  # the bucket reopens
        # The list changed under the walk (`staying` moved onto page 0, read before): page 1 is refused, retryably.
        with pytest.raises(UnexpectedResponse, match="removed or moved an item of the list") as raised:
            await client.list_team_memberships(team.id, page=1)
        assert raised.value.retryable
        assert staying not in {m.user_id for m in first.items}
    finally:
        await client.aclose()


async def test_client_a_team_read_after_its_revoke_landed_fails_while_another_teams_revoke_is_slow(
    fake: FakeDatadog,
) -> None:
    """Through the client and the fake: team Other's revoke is slow (its DELETE held at Datadog); team Platform's revoke
    goes out and lands (204); only then is Platform's membership listing read, page 0 and page 1. Nothing changes
    under the walk, yet page 1 is refused as "this connector removed or moved an item of the list while it was read".
    On 44aefadd the listing is read whole."""
    import asyncio

    wire = Wire()
    client = DatadogClient(
        api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url, retry=FAST_RETRY, transport=wire
    )
    org = fake.org
    team = org.add_team("Platform", "platform")
    for i in range(MEMBERS):
        org.add_member(team, org.add_user(f"member-{i:03d}@example.com", name=f"Member {i:03d}", status="Active").id)
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
    try:
        client.stop_reading(await client.list_team_memberships(other.id))  # the group's rate-limit bucket learnt
        slow_revoke = asyncio.create_task(client.remove_team_member(other.id, outsider.id))
        await asyncio.wait_for(arrived.wait(), 10)
        await client.remove_team_member(team.id, list(team.members)[5])  # landed: 204
        first = await client.list_team_memberships(team.id)  # asked for after that revoke ended
        assert not slow_revoke.done()  # the other team's revoke is still under way
        second = await client.list_team_memberships(team.id, page=1)  # raises on a7e0c7f2
        assert len({m.user_id for m in first.items} | {m.user_id for m in second.items}) == MEMBERS - 1
    finally:
        held.set()
        await asyncio.gather(slow_revoke, return_exceptions=True)
        await client.aclose()
