"""Pacing from X-RateLimit-* headers: the client holds requests back instead of collecting 429s."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from connector.datadog.errors import RateLimited
from connector.datadog.ratelimit import RateLimiter, RateLimitHeaders, Ticket, WaitTooLong
from connector.datadog.retry import RetryPolicy
from tests.datadog.helpers import ClientFactory, FakeTime, answer, answered_by, listed
from tests.fakes.datadog import FakeDatadog, RateLimits, generate_org


async def test_paced_client_never_gets_a_429(make_client: ClientFactory) -> None:
    limits = RateLimits(limit=4, period=1.0, enforce=True)
    with FakeDatadog(generate_org(users=30, seed=4, teams=2, schedules=1), rate_limits=limits) as fake:
        users = list(fake.org.users)[:14]
        client = make_client(fake, max_concurrency=6)

        found = await asyncio.gather(*(client.get_user(uid) for uid in users))

        assert [u.id for u in found] == users
        assert fake.throttled == 0
        assert fake.count("GET", "/api/v2/users/{user_id}") == len(users)
        assert client.stats.requests == {("users", "2xx"): len(users)}
        assert client.stats.rate_limit_waits > 0
        assert client.stats.rate_limit_wait_seconds > 0


async def test_an_unpaced_burst_is_throttled_by_the_fake() -> None:
    """The control for the test above: the fake does enforce the limit."""
    limits = RateLimits(limit=4, period=3600.0, enforce=True)
    with FakeDatadog(generate_org(users=10, seed=4, teams=1, schedules=1), rate_limits=limits) as fake:
        headers = {"DD-API-KEY": fake.api_key, "DD-APPLICATION-KEY": fake.app_key}
        async with httpx.AsyncClient(base_url=fake.base_url, headers=headers) as http:
            responses = await asyncio.gather(*(http.get(f"/api/v2/users/{u}") for u in fake.org.users))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * 4 + [429] * 6
        assert fake.throttled == 6
        last = responses[-1].headers
        assert {k.lower() for k in last} >= {
            "x-ratelimit-limit", "x-ratelimit-period", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-name",
        }  # fmt: skip


def _headers(limit: int, remaining: int, reset: int, name: str = "bucket") -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-period": "10",
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(reset),
        "x-ratelimit-name": name,
    }


async def test_first_request_of_a_group_probes_alone() -> None:
    time = FakeTime()
    limiter = RateLimiter(max_wait=60, clock=time.clock, sleep=time.sleep)
    probe = await limiter.acquire("users")
    second = asyncio.ensure_future(limiter.acquire("users"))
    await asyncio.sleep(0)
    assert not second.done()  # held until the probe's response tells the bucket
    answer(limiter, probe, _headers(10, 9, 5))
    ticket = await second
    assert ticket.bucket == "bucket"


async def test_waits_for_reset_when_the_window_is_spent_counting_in_flight_requests() -> None:
    time = FakeTime()
    waits: list[float] = []
    limiter = RateLimiter(max_wait=60, clock=time.clock, sleep=time.sleep, on_wait=lambda g, b, s: waits.append(s))
    answer(limiter, await limiter.acquire("users"), _headers(limit=3, remaining=2, reset=7))
    a = await limiter.acquire("users")
    b = await limiter.acquire("users")
    assert waits == []
    # A response for `a` that does not count `b` yet (remaining 1) must not free a slot.
    answer(limiter, a, _headers(limit=3, remaining=1, reset=7))
    # Fake time: the wait of 7 s passes at once, so this returns without real waiting.
    c = await asyncio.wait_for(limiter.acquire("users"), timeout=30)  # a bound on a hang
    assert waits == [7.0]
    assert time.sleeps == [7.0]
    assert isinstance(c, Ticket)
    answer(limiter, b, None)


async def test_groups_sharing_a_bucket_share_its_budget() -> None:
    time = FakeTime()
    limiter = RateLimiter(max_wait=60, clock=time.clock, sleep=time.sleep)
    answer(limiter, await limiter.acquire("users"), _headers(2, 1, 4, name="shared"))
    answer(limiter, await limiter.acquire("roles"), _headers(2, 0, 4, name="shared"))
    before = time.now
    await limiter.acquire("users")
    assert time.now - before == 4.0


# -- a group's first request, sent before its bucket is known, on a bucket another group shares -------------------
# The bucket "shared" has a window of 10 s (reset in 7 s); `roles` knows it, `users` has sent nothing yet. Datadog
# counts each request as it reaches it; its `Remaining` does not count those still on their way.


async def _shared(remaining: int) -> tuple[RateLimiter, FakeTime]:
    time = FakeTime()
    limiter = RateLimiter(max_wait=60, clock=time.clock, sleep=time.sleep)
    answer(limiter, await limiter.acquire("roles"), _headers(3, remaining, 7, name="shared"))
    return limiter, time


async def _waits_for_the_reset(limiter: RateLimiter, time: FakeTime, group: str) -> bool:
    before = time.now
    await limiter.acquire(group)
    return time.now - before == 7.0


async def test_a_groups_first_request_counts_among_the_requests_another_group_may_send() -> None:
    """Two left: `users`' first request and one of `roles` take them. Not counted, the first request let a second of
    `roles` out into the spent window, and Datadog refused one of the three."""
    limiter, time = await _shared(remaining=2)
    await limiter.acquire("users")
    await limiter.acquire("roles")
    assert await _waits_for_the_reset(limiter, time, "roles")


async def test_a_groups_first_request_counts_among_a_shared_buckets_requests_in_flight() -> None:
    """Two left; `roles`' request reached Datadog before `users`' first one, and its answer says one is left: that one
    is the first request still on its way, not a free slot."""
    limiter, time = await _shared(remaining=2)
    first = await limiter.acquire("users")
    answer(limiter, await limiter.acquire("roles"), _headers(3, 1, 7, name="shared"))
    assert await _waits_for_the_reset(limiter, time, "roles")
    answer(limiter, first, _headers(3, 0, 7, name="shared"))


async def test_a_first_request_its_answer_shows_in_another_bucket_is_given_back() -> None:
    limiter, time = await _shared(remaining=1)
    first = await limiter.acquire("users")
    answer(limiter, first, _headers(3, 2, 7, name="users-own"))
    assert not await _waits_for_the_reset(limiter, time, "roles")
    assert await _waits_for_the_reset(limiter, time, "roles")


async def test_a_first_request_answered_without_rate_limit_headers_gives_its_slot_back() -> None:
    """Its endpoint is paced by no bucket: it was not one of `shared`'s requests."""
    limiter, time = await _shared(remaining=1)
    answer(limiter, await limiter.acquire("users"), {})
    assert not await _waits_for_the_reset(limiter, time, "roles")
    assert await _waits_for_the_reset(limiter, time, "roles")


async def test_a_first_request_without_an_answer_stays_spent_but_is_no_longer_in_flight() -> None:
    """No answer: it may have reached Datadog, so its slot stays spent, as any request's without an answer does; but it
    is not in flight any more, and the next window opens whole (three requests at once, the fourth held for the
    next reset)."""
    limiter, time = await _shared(remaining=1)
    answer(limiter, await limiter.acquire("users"), None)
    reset = time.now + 7.0
    window = [await limiter.acquire("roles")]
    assert time.now == reset
    window += [await limiter.acquire("roles") for _ in range(2)]
    assert time.now == reset
    for ticket in window:
        answer(limiter, ticket, None)
    await limiter.acquire("roles")
    assert time.now == reset + 10.0


async def test_a_first_request_without_an_answer_is_given_back_once_its_groups_answer_shows_another_bucket() -> None:
    """`users`' first request gets no answer, so it stays spent in `shared` (it may have reached Datadog there); its
    next first request is answered, and shows `users` is not in `shared`: neither was the first. Kept spent, the last
    slot `shared` had was lost, and `roles` waited for the reset with one request left in Datadog's count."""
    limiter, time = await _shared(remaining=1)
    answer(limiter, await limiter.acquire("users"), None)
    answer(limiter, await limiter.acquire("users"), _headers(3, 2, 7, name="users-own"))
    assert not await _waits_for_the_reset(limiter, time, "roles")
    assert await _waits_for_the_reset(limiter, time, "roles")  # given back once, not more


@pytest.mark.parametrize("unanswered", [1, 3])
async def test_first_requests_without_an_answer_stay_spent_when_the_next_answer_names_no_bucket(
    unanswered: int,
) -> None:
    """`users` really shares `shared`, which has `unanswered` + 1 left. Its first requests time out (they reached
    Datadog: one is left there), then one is answered by a gateway's page without rate-limit headers, which says
    nothing of where `users` is. Given back on it, `roles` sent `unanswered` requests into the window Datadog had
    spent."""
    limiter, time = await _shared(remaining=unanswered + 1)
    for _ in range(unanswered):
        answer(limiter, await limiter.acquire("users"), None)
    answer(limiter, await limiter.acquire("users"), {"content-type": "text/html"})
    assert not await _waits_for_the_reset(limiter, time, "roles")
    assert await _waits_for_the_reset(limiter, time, "roles")


async def test_a_first_request_without_an_answer_stays_spent_in_the_bucket_its_group_turns_out_to_share() -> None:
    """Its group's answer names `shared`: the request may have been one of Datadog's count there. That answer states
    what is left (one), and nothing is given back on top."""
    limiter, time = await _shared(remaining=2)
    answer(limiter, await limiter.acquire("users"), None)
    answer(limiter, await limiter.acquire("users"), _headers(3, 1, 7, name="shared"))
    assert not await _waits_for_the_reset(limiter, time, "roles")
    assert await _waits_for_the_reset(limiter, time, "roles")


async def test_a_first_request_without_an_answer_is_not_given_back_where_a_newer_count_no_longer_holds_it() -> None:
    """After it ended, `roles`' answer said none is left in `shared`: Datadog's count, which holds no request of ours
    in flight. Given back on top when `users`' answer showed another bucket, one request went out into a spent window
    (and Datadog refused it)."""
    limiter, time = await _shared(remaining=2)
    answer(limiter, await limiter.acquire("users"), None)
    answer(limiter, await limiter.acquire("roles"), _headers(3, 0, 7, name="shared"))
    answer(limiter, await limiter.acquire("users"), _headers(3, 2, 7, name="users-own"))
    assert await _waits_for_the_reset(limiter, time, "roles")


@pytest.mark.parametrize("answered", [True, False], ids=["answered", "unanswered, then its group's next answered"])
@pytest.mark.parametrize(
    "its_headers", [_headers(3, 2, 7, name="users-own"), {}], ids=["its own bucket", "no rate-limit headers"]
)
async def test_a_first_request_answered_after_a_429_emptied_the_bucket_gives_nothing_back(
    its_headers: dict[str, str], answered: bool
) -> None:
    """`users`' first request is in flight when Datadog refuses `roles` for 30 s. Its answer (or, when it gets none, its
    group's next one) then shows it was not in `shared`, but Datadog's 0 never counted it: given back, it let one
    `roles` request out into the refused window."""
    limiter, time = await _shared(remaining=5)
    first = await limiter.acquire("users")
    refused = await limiter.acquire("roles")
    answer(limiter, refused, {"retry-after": "30", "x-ratelimit-name": "shared"}, throttled=True, refused=True)
    limiter.throttle(refused, 30.0)
    at = time.now
    if not answered:
        answer(limiter, first, None)
        first = await limiter.acquire("users")
    answer(limiter, first, its_headers)
    await limiter.acquire("roles")
    assert time.now - at == 30.0


async def test_a_bucket_learned_while_a_first_request_is_in_flight_counts_it_too() -> None:
    """`users`' first request is in flight when `teams`' first answer names a bucket nobody knew, which it shares with
    `users`: one left there is the request on its way."""
    time = FakeTime()
    limiter = RateLimiter(max_wait=60, clock=time.clock, sleep=time.sleep)
    first_users = await limiter.acquire("users")
    answer(limiter, await limiter.acquire("teams"), _headers(3, 1, 7, name="shared"))
    assert await _waits_for_the_reset(limiter, time, "teams")
    answer(limiter, first_users, _headers(3, 0, 7, name="shared"))


@pytest.mark.parametrize("period", ["1e-320", "5e-324", "1e-300", "60"])
async def test_a_window_rolls_over_whatever_its_period(period: str) -> None:
    """`X-RateLimit-Period` is untrusted: a subnormal one made the rollover count infinite, and the OverflowError
    then failed every request of the bucket for the life of the client (a service's every later sync)."""
    time = FakeTime()
    limiter = RateLimiter(max_wait=60, clock=time.clock, sleep=time.sleep)
    headers = {
        "x-ratelimit-limit": "10",
        "x-ratelimit-period": period,
        "x-ratelimit-remaining": "5",
        "x-ratelimit-reset": "0",
        "x-ratelimit-name": "bucket",
    }
    answer(limiter, await limiter.acquire("users"), headers)
    for _ in range(3):
        time.now += 0.5
        ticket = await limiter.acquire("users")
        assert ticket.bucket == "bucket"
        answer(limiter, ticket, headers)
    assert time.sleeps == []


async def test_a_limit_under_one_request_is_no_limit_not_an_endless_wait() -> None:
    """`X-RateLimit-Limit: 0.5` passed as a positive number and became a limit of 0: each window rolled over with
    nothing left, and the request waited a period, then another, forever (a sync that never ended)."""
    time = FakeTime()
    limiter = RateLimiter(max_wait=60, clock=time.clock, sleep=time.sleep)
    headers = {
        "x-ratelimit-limit": "0.5",
        "x-ratelimit-period": "10",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": "10",
    }
    assert RateLimitHeaders.parse(headers) == RateLimitHeaders(
        limit=None, period=10.0, remaining=0, reset=10.0, name=None
    )
    answer(limiter, await limiter.acquire("users"), headers)
    await asyncio.wait_for(limiter.acquire("users"), timeout=30)  # a bound on the old endless loop only
    assert time.sleeps == [10.0]  # this window was spent, as the server said; the next one is not


def test_header_parsing_tolerates_garbage() -> None:
    assert RateLimitHeaders.parse({}) is None
    parsed = RateLimitHeaders.parse(
        {"x-ratelimit-remaining": "abc", "x-ratelimit-reset": "2", "x-ratelimit-limit": "-1"}
    )
    assert parsed is not None
    assert (parsed.remaining, parsed.reset, parsed.limit) == (None, 2.0, None)


async def test_rate_limit_headers_sent_twice_still_pace_the_client(make_client: ClientFactory) -> None:
    """Every X-RateLimit-* header arrives twice (a proxy adding its own copy). httpx joins the lines ("4, 1000"), which
    parsed as no number: the client went unpaced and ran into the limit. Go's `Header.Get` reads the first line, the
    bucket's own, and so does the parser; the second line here would allow a thousand requests and must not count."""
    limits = RateLimits(limit=4, period=1.0, enforce=True)
    with FakeDatadog(generate_org(users=30, seed=4, teams=2, schedules=1), rate_limits=limits) as fake:
        fake.faults.header_repeats.update(
            {
                "X-RateLimit-Limit": "1000",
                "X-RateLimit-Period": "60",
                "X-RateLimit-Remaining": "1000",
                "X-RateLimit-Reset": "0",
                "X-RateLimit-Name": "another",
            }
        )
        users = list(fake.org.users)[:14]
        client = make_client(fake, max_concurrency=6)

        found = await asyncio.gather(*(client.get_user(uid) for uid in users))

        assert [u.id for u in found] == users
        assert fake.throttled == 0
        assert client.stats.rate_limit_waits > 0


@pytest.mark.parametrize(
    ("lines", "seconds"),
    [
        ([("Retry-After", "Sat, 05 Dec 2026 23:00:30 GMT"), ("Retry-After", "Sat, 05 Dec 2026 23:59:00 GMT")], 30.0),
        ([("Retry-After", "7"), ("Retry-After", "Sat, 05 Dec 2026 23:59:00 GMT")], 7.0),
        ([("Retry-After", "Sat, 05 Dec 2026 23:00:09 GMT"), ("Retry-After", "120")], 9.0),
        ([("Retry-After", "12"), ("Retry-After", "120")], 12.0),
    ],
)
def test_a_repeated_retry_after_is_read_from_its_first_line_whatever_its_commas(
    lines: list[tuple[str, str]], seconds: float
) -> None:
    """A repeated Retry-After is its first line, as Go reads it: the lines are not found by splitting at commas, which
    an HTTP-date holds ("Sat, 05 Dec ..."); joined, the date and a number read as neither and the hint was lost."""
    now = 1_796_511_600.0  # Sat, 05 Dec 2026 23:00:00 GMT
    info = RateLimitHeaders.parse(httpx.Headers(lines), now)
    assert info is not None
    assert info.retry_after == seconds


def test_one_header_line_holding_two_numbers_is_no_number() -> None:
    """Only repeated lines are taken apart: a single line "5, 7" is garbage, as it is to Go's strconv."""
    headers = httpx.Headers({"X-RateLimit-Remaining": "5, 7", "X-RateLimit-Limit": "10"})
    info = RateLimitHeaders.parse(headers)
    assert info is not None
    assert (info.limit, info.remaining) == (10, None)


async def test_a_cancelled_first_request_does_not_block_its_group(make_client: ClientFactory) -> None:
    with FakeDatadog(generate_org(users=5, seed=4, teams=1, schedules=1)) as fake:
        fake.faults.latency = 0.5
        client = make_client(fake)
        first = asyncio.ensure_future(listed(client.fetch_roles)())
        await asyncio.sleep(0.1)
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        fake.faults.latency = 0
        page = await asyncio.wait_for(listed(client.fetch_roles)(), 30)  # a bound on a hang
        assert page.items


async def test_a_new_bucket_name_on_every_response_does_not_grow_the_limiter() -> None:
    """`X-RateLimit-Name` is untrusted: a peer naming a new bucket on every response added a bucket per request,
    for the life of the client. Only the buckets a group points to are kept, at most one per group."""
    time = FakeTime()
    limiter = RateLimiter(max_wait=60, clock=time.clock, sleep=time.sleep)
    for i in range(2_000):
        group = ("users", "roles", "teams")[i % 3]
        answer(limiter, await limiter.acquire(group), _headers(100, 99, 5, name=f"bucket-{i}"))
    assert limiter.bucket_count == 3


async def test_a_bucket_another_group_still_uses_keeps_its_budget() -> None:
    time = FakeTime()
    limiter = RateLimiter(max_wait=60, clock=time.clock, sleep=time.sleep)
    answer(limiter, await limiter.acquire("users"), _headers(2, 1, 4, name="shared"))
    answer(limiter, await limiter.acquire("roles"), _headers(2, 1, 4, name="shared"))
    # The last request "shared" allows, whose answer moves users to a bucket of its own.
    answer(limiter, await limiter.acquire("users"), _headers(2, 1, 4, name="users-only"))
    before = time.now
    await limiter.acquire("roles")  # "shared" is still spent: roles waits for its reset
    assert time.now - before == 4.0


async def test_a_request_in_flight_when_its_bucket_is_dropped_is_released_against_that_bucket() -> None:
    time = FakeTime()
    limiter = RateLimiter(max_wait=60, clock=time.clock, sleep=time.sleep)
    answer(limiter, await limiter.acquire("users"), _headers(2, 2, 4, name="a"))
    old = await limiter.acquire("users")  # counted in "a"
    answer(limiter, await limiter.acquire("users"), _headers(2, 2, 4, name="b"))  # "a" is dropped
    answer(limiter, await limiter.acquire("users"), _headers(2, 1, 4, name="a"))  # a fresh "a", 1 left
    answer(limiter, old, None)  # must not free a slot in the fresh "a"
    await limiter.acquire("users")
    before = time.now
    await limiter.acquire("users")
    assert time.now - before == 4.0


@pytest.mark.parametrize("reset", ["86400", "1764969600", "3600.5"])
async def test_a_reset_past_the_windows_own_period_waits_one_period_at_most(reset: str) -> None:
    """Windows are calendar-aligned: the next reset is at most one `X-RateLimit-Period` away. A reset past it (an
    epoch time where seconds belong, a garbled header) shut the bucket for up to a day: with `max_wait` 120 s every
    request of the group raised RateLimited at once, none went out, and no answer could reopen the bucket, so a
    service failed every sync and every grant of the group for that day."""
    time = FakeTime()
    limiter = RateLimiter(max_wait=120, clock=time.clock, sleep=time.sleep)
    headers = {
        "x-ratelimit-limit": "100",
        "x-ratelimit-period": "60",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": reset,
        "x-ratelimit-name": "bucket",
    }
    parsed = RateLimitHeaders.parse(headers)
    assert parsed is not None
    assert parsed.window_reset == 60.0
    answer(limiter, await limiter.acquire("users"), headers)
    ticket = await limiter.acquire("users")
    assert ticket.bucket == "bucket"
    assert time.sleeps == [60.0]


async def test_a_client_told_an_epoch_reset_on_a_200_asks_again_after_one_period() -> None:
    """The same through the client: the second read of the group went nowhere, RateLimited "resets in 86400.0s"."""
    time = FakeTime()
    headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Period": "60", "X-RateLimit-Remaining": "0"}
    headers |= {"X-RateLimit-Reset": "1764969600", "X-RateLimit-Name": "users"}
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200, headers=headers, json={"data": {"type": "users", "id": "u1"}})

    client = answered_by(handler, sleep=time.sleep, clock=time.clock)
    async with client:
        await client.get_user("u1")
        await client.get_user("u1")
    assert asked == ["/api/v2/users/u1"] * 2
    assert time.sleeps == [60.0]


def test_a_reset_within_the_period_or_without_one_is_taken_as_it_is() -> None:
    """And a 429's hint is Datadog refusing: taken as it is, past the period or not (test_retries.py)."""
    within = RateLimitHeaders.parse({"x-ratelimit-period": "60", "x-ratelimit-reset": "7"})
    alone = RateLimitHeaders.parse({"x-ratelimit-reset": "3000"})
    refused = RateLimitHeaders.parse({"x-ratelimit-period": "60", "x-ratelimit-reset": "3600"})
    assert [within and within.window_reset, alone and alone.window_reset] == [7.0, 3000.0]
    assert refused is not None
    assert refused.wait_hint == 3600.0


@pytest.mark.parametrize("period", ["0.000001", "0.5"])
async def test_a_request_held_for_a_sub_second_window_does_not_spin(period: str) -> None:
    """Datadog's windows are whole seconds. `X-RateLimit-Period: 0.000001` with the window spent made a request
    waiting behind one in flight wake every microsecond, each wake a RateLimitWait (a metric), for as long as the
    request in flight took: a busy loop of 55,000 waits a second, up to the request's deadline. It waits a second at
    a time, as for the shortest window Datadog has."""
    time = FakeTime()
    waits: list[float] = []
    limiter = RateLimiter(max_wait=60, clock=time.clock, sleep=time.sleep, on_wait=lambda g, b, s: waits.append(s))
    headers = {
        "x-ratelimit-limit": "1",
        "x-ratelimit-period": period,
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": period,
        "x-ratelimit-name": "bucket",
    }
    assert RateLimitHeaders.parse(headers) == RateLimitHeaders(
        limit=1, period=1.0, remaining=0, reset=float(period), name="bucket"
    )
    answer(limiter, await limiter.acquire("users"), headers)
    in_flight = await limiter.acquire("users")  # the window's one request
    held = asyncio.ensure_future(limiter.acquire("users"))
    for _ in range(50):
        await asyncio.sleep(0)
    assert not held.done()
    # The first wait is the server's reset as it said; every later one a whole window.
    assert waits[0] == pytest.approx(float(period))
    assert len(waits) > 1
    assert all(wait == pytest.approx(1.0) for wait in waits[1:])
    answer(limiter, in_flight, None)
    answer(limiter, await held, None)


async def test_a_429_asking_for_an_hour_lets_one_request_ask_again_per_longest_wait_not_every_waiting_call(
    make_client: ClientFactory,
) -> None:
    """Datadog's hourly buckets (key creation, some searches: docs/spec/datadog-api.md §3) answer a 429 whose window
    runs for most of an hour. The client waits at most 120 s (the retry policy's `max_hinted_delay`) and, so that a
    bogus hint cannot shut an endpoint for a day, asks Datadog again after that wait, with one request. Every other
    call while the window the 429 asked for still runs fails at once, retryably, naming the wait: holding each for up
    to 120 s and then letting them all out together sent a burst of requests every 120 s, each one more 429 counted
    against the org's limit, and each call failed in the end anyway."""
    limits = RateLimits(limit=3, period=3600.0, enforce=True)
    with FakeDatadog(generate_org(users=10, seed=4, teams=1, schedules=1), rate_limits=limits) as fake:
        # The fake's window is calendar-aligned on its clock: pinned, it has 2600 s to run whenever the test runs.
        fake.state.clock = lambda: 1000.0
        headers = {"DD-API-KEY": fake.api_key, "DD-APPLICATION-KEY": fake.app_key}
        users = list(fake.org.users)
        async with httpx.AsyncClient(base_url=fake.base_url, headers=headers) as other:
            # Another client of the org spends the hour's budget.
            for user in users[:3]:
                assert (await other.get(f"/api/v2/users/{user}")).status_code == 200
        time = FakeTime()
        policy = RetryPolicy()
        client = make_client(fake, retry=policy, clock=time.clock, sleep=time.sleep, max_concurrency=6)

        with pytest.raises(RateLimited) as first:
            await client.get_user(users[0])
        assert first.value.retry_after is not None
        assert first.value.retry_after > policy.max_hinted_delay
        assert fake.throttled == 1

        for round_ in range(3):
            # Several calls at once, each within the window the 429 asked for.
            outcomes = await asyncio.wait_for(
                asyncio.gather(*(client.get_user(u) for u in users[:6]), return_exceptions=True), timeout=10
            )
            assert all(isinstance(o, RateLimited) for o in outcomes), outcomes
            waits = [o.retry_after for o in outcomes if isinstance(o, RateLimited)]
            assert all(w is not None and w > policy.max_hinted_delay for w in waits), waits
            # Right after the 429 none asks; after each longest wait, exactly one does.
            assert fake.throttled == 1 + round_
            time.now += policy.max_hinted_delay + 1

        # The window ends (or the hint was bogus): the one request that asks again is answered, and that answer, not
        # the hint, reopens the bucket for every call.
        fake.state.clock = lambda: 3600.0 + 1000.0
        await client.get_user(users[0])
        # The new hour's budget is 3: that request spent one.
        found = await asyncio.gather(*(client.get_user(u) for u in users[:2]))
        assert [u.id for u in found] == users[:2]
        assert fake.throttled == 3


async def test_an_answer_to_a_request_sent_before_the_429_does_not_reopen_its_window() -> None:
    """Eight requests are in flight together. One is refused with a 429 asking for an hour; another, sent beside it,
    then answers 200 without pacing headers. That answer says nothing of the hour since: the bucket reopened on it, and
    every waiting call went out at once into the refused window. Only a request sent after the 429 (the one that asks
    again each longest wait) may reopen it."""
    time = FakeTime()
    limiter = RateLimiter(max_wait=120, clock=time.clock, sleep=time.sleep)
    answer(limiter, await limiter.acquire("roles"), _headers(100, 90, 5))
    refused = await limiter.acquire("roles")
    beside = await limiter.acquire("roles")
    answer(limiter, refused, {"retry-after": "3600", "x-ratelimit-name": "bucket"}, throttled=True)
    answer(limiter, beside, {"content-type": "application/json"})
    with pytest.raises(WaitTooLong):
        await limiter.acquire("roles")
    # The longest wait later, one request asks again; its 200 does reopen the bucket.
    time.now += 120
    asker = await limiter.acquire("roles")
    answer(limiter, asker, {"content-type": "application/json"})
    assert isinstance(await limiter.acquire("roles"), Ticket)


async def test_a_spent_window_of_a_day_without_a_period_lets_one_request_ask_again_each_longest_wait() -> None:
    """A 2xx saying nothing remains until a reset a day away, with no X-RateLimit-Period to bound it (Datadog states
    one on every answer; a proxy or a garbled header may drop it): every request of the group failed at once for the
    day, and none went out, so no answer could reopen the bucket. Now one asks again each longest wait."""
    time = FakeTime()
    limiter = RateLimiter(max_wait=120, clock=time.clock, sleep=time.sleep)
    spent = {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "86400"}
    answer(limiter, await limiter.acquire("roles"), {**spent, "x-ratelimit-name": "b"})
    with pytest.raises(WaitTooLong):
        await limiter.acquire("roles")
    time.now += 120
    asker = await limiter.acquire("roles")
    answer(limiter, asker, {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "9", "x-ratelimit-name": "b"})
    assert isinstance(await limiter.acquire("roles"), Ticket)


async def test_a_spent_window_within_its_stated_period_is_held_as_stated() -> None:
    """With the period stated, Datadog's own pacing is held as it says (an hourly key-creation window included)."""
    time = FakeTime()
    limiter = RateLimiter(max_wait=120, clock=time.clock, sleep=time.sleep)
    hourly = {"x-ratelimit-limit": "3", "x-ratelimit-period": "3600", "x-ratelimit-remaining": "0"}
    answer(limiter, await limiter.acquire("keys"), {**hourly, "x-ratelimit-reset": "2600", "x-ratelimit-name": "k"})
    time.now += 120
    with pytest.raises(WaitTooLong):
        await limiter.acquire("keys")


async def test_a_far_reset_with_nothing_said_of_what_remains_holds_nothing() -> None:
    time = FakeTime()
    limiter = RateLimiter(max_wait=120, clock=time.clock, sleep=time.sleep)
    answer(limiter, await limiter.acquire("roles"), {"x-ratelimit-reset": "86400", "x-ratelimit-name": "b"})
    assert isinstance(await limiter.acquire("roles"), Ticket)
    assert time.sleeps == []


def test_the_headers_are_found_in_any_letter_case_among_others_each_by_its_first_line() -> None:
    """The six headers are read in one pass over an answer's lines: each by its first line, in any letter case,
    wherever it stands among the others; a bucket name alone (no number) is no rate-limit information."""
    lines = [
        ("Content-Type", "application/json"),
        ("x-RATELIMIT-remaining", "41"),
        ("X-RateLimit-Name", "users_bucket"),
        ("Date", "Sat, 05 Dec 2026 23:00:00 GMT"),
        ("X-Ratelimit-Limit", "60"),
        ("X-RateLimit-Remaining", "999"),
        ("X-RateLimit-Name", "another"),
        ("x-ratelimit-period", "10"),
        ("X-RateLimit-Reset", "7"),
        ("Retry-After", "3"),
        ("X-Unrelated", "1"),
    ]
    assert RateLimitHeaders.parse(httpx.Headers(lines)) == RateLimitHeaders(
        limit=60, period=10.0, remaining=41, reset=7.0, name="users_bucket", retry_after=3.0
    )
    assert RateLimitHeaders.parse(httpx.Headers([("X-RateLimit-Name", "users_bucket"), ("Date", "x")])) is None
    assert RateLimitHeaders.parse(httpx.Headers([("Content-Type", "application/json")])) is None
