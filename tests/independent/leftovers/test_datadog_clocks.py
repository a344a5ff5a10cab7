"""Class: a duration of the Datadog HTTP layer read off the wrong clock, or counted for longer than it lasted.

- The rate limiter read a `Retry-After` HTTP-date without a `Date` on this host's wall clock itself (`time.time()`),
  apart from the transport's reading of the same answer: a clock stepped (NTP) between the two, and the limiter shut
  the bucket for the step's length, failing the retry the transport had chosen to wait for. The answer's headers are
  now read once, as it came, and the limiter times everything on the monotonic clock (`ApiTransport`, `RateLimiter`).
- An answer's `Age` (RFC 9111 §5.1) says its `Date` is that much older than the peer's clock now: a `Retry-After`
  date is measured from Date + Age (`httpdate.peer_now`).
- `api_rate_limit_wait_seconds_total` counted a wait cut short by a stop in full (`ratelimit.timed_wait`)."""

from __future__ import annotations

import asyncio
import contextlib
from email.utils import formatdate

import pytest
from prometheus_client import CollectorRegistry

from connector.baton import httpdate
from connector.baton.httpdate import retry_after_seconds
from connector.daemon.metrics import DatadogApiMetrics
from connector.datadog.ratelimit import RateLimitHeaders
from connector.datadog.retry import RetryPolicy
from connector.datadog.transport import ApiTransport
from tests.datadog.helpers import FakeTime
from tests.independent.datadog.peer import API_KEY, APP_KEY, user, users_page
from tests.independent.rawpeer import JSON, RawPeer, http

WALL = 1_800_000_000.0  # this host's wall clock, as the transport was given it
THROTTLED = b'{"errors":["Too many requests"]}'
PAGE = http(200, users_page(user("u-1")))


def _date(epoch: float) -> str:
    return formatdate(epoch, usegmt=True)


def _transport(base_url: str, time_: FakeTime, **options: object) -> ApiTransport:
    return ApiTransport(
        api_key=API_KEY,
        app_key=APP_KEY,
        base_url=base_url,
        retry=RetryPolicy(),
        sleep=time_.sleep,
        clock=time_.clock,
        wall_clock=lambda: WALL,
        **options,  # type: ignore[arg-type]
    )


async def _users(answers: list[bytes], time_: FakeTime, **options: object) -> tuple[ApiTransport, RawPeer]:
    async with RawPeer(list(answers)) as peer:
        transport = _transport(peer.base_url, time_, **options)
        try:
            reply = await asyncio.wait_for(transport.request("GET", "/api/v2/users", group="users"), timeout=30)
            assert reply.status == 200
        finally:
            await transport.aclose()
    return transport, peer


async def test_a_retry_after_date_without_a_date_is_placed_on_the_clock_the_transport_was_given() -> None:
    """The host's clock is far from the one the transport was given (as if stepped between the two readings): the
    wait is the 5 s the answer asked for, on that clock, not the gap between the two clocks. Before, the limiter shut
    the bucket for the gap (hours), and the retry the transport waited 5 s for failed with RateLimited."""
    time_ = FakeTime()
    throttled = http(429, THROTTLED, [(b"Retry-After", _date(WALL + 5).encode()), (b"X-RateLimit-Name", b"b"), *JSON])
    _, peer = await _users([throttled, PAGE], time_)
    assert time_.sleeps == [5.0]
    assert len(peer.requests) == 2


def test_an_answers_age_counts_against_its_date() -> None:
    sent = _date(WALL)
    assert retry_after_seconds(_date(WALL + 30), maximum=3600, now=0.0, sent=sent, age="10") == 20
    assert retry_after_seconds(_date(WALL + 30), maximum=3600, now=0.0, sent=sent, age="45") == 0
    # Delay-seconds count from receipt (RFC 9110 §10.2.3), whatever the Age.
    assert retry_after_seconds("30", maximum=3600, now=0.0, sent=sent, age="10") == 30


def test_an_age_that_is_no_delay_seconds_is_left_out_and_said() -> None:
    httpdate._told.clear()
    headers = {"retry-after": _date(WALL + 30), "date": _date(WALL), "age": "1e3"}
    info = RateLimitHeaders.parse(headers, 0.0)
    assert info is not None
    assert info.retry_after == 30


async def test_a_cached_429s_retry_after_date_is_measured_from_its_date_plus_its_age() -> None:
    time_ = FakeTime()
    head = [(b"Date", _date(WALL).encode()), (b"Age", b"10"), (b"Retry-After", _date(WALL + 30).encode()), *JSON]
    await _users([http(429, THROTTLED, head), PAGE], time_)
    assert time_.sleeps == [20.0]


class _CutShort(FakeTime):
    """A clock that moves `after` seconds into the first wait, where a stop then finds it (the wait never ends)."""

    def __init__(self, after: float) -> None:
        super().__init__()
        self.after = after
        self.waiting = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += self.after
        self.waiting.set()
        await asyncio.Event().wait()


@pytest.mark.parametrize(
    ("answer", "paced"),
    [
        (http(429, THROTTLED, [(b"Retry-After", b"60"), *JSON]), False),
        # The pacing wait: the window is spent, 60 s to its reset; the second request waits for it.
        (
            http(
                200, users_page(user("u-1")), [(b"X-RateLimit-Remaining", b"0"), (b"X-RateLimit-Reset", b"60"), *JSON]
            ),
            True,
        ),
    ],
    ids=["429", "pacing"],
)
async def test_a_rate_limit_wait_cut_short_by_a_stop_counts_the_time_waited(answer: bytes, paced: bool) -> None:
    time_ = _CutShort(after=2.0)
    metrics = DatadogApiMetrics(CollectorRegistry())
    async with RawPeer([answer]) as peer:
        transport = _transport(peer.base_url, time_, on_event=metrics)
        try:
            first = asyncio.ensure_future(transport.request("GET", "/api/v2/users", group="users"))
            if paced:
                await first
                first = asyncio.ensure_future(transport.request("GET", "/api/v2/users", group="users"))
            await asyncio.wait_for(time_.waiting.wait(), timeout=30)
            first.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await first
        finally:
            await transport.aclose()
    assert time_.sleeps == [60.0]
    assert transport.stats.rate_limit_waits == 1
    assert transport.stats.rate_limit_wait_seconds == 2.0
    assert metrics.rate_limit_wait_seconds._value.get() == 2.0


async def test_a_rate_limit_wait_that_ran_its_course_counts_in_full() -> None:
    time_ = FakeTime()
    throttled = http(429, THROTTLED, [(b"Retry-After", b"7"), *JSON])
    transport, _ = await _users([throttled, PAGE], time_)
    assert transport.stats.rate_limit_wait_seconds == 7.0
