"""Rate-limit answers no Datadog sends: every wait bounded, every give-up a clear error naming the status, through a
sync's page and a create alike (the issue 11 suite covers a single garbage header and a day-long hint)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import RateLimited, Unavailable
from connector.datadog.retry import RetryPolicy
from tests.datadog.helpers import FakeTime, listed
from tests.independent.datadog.peer import Call, outcome, refused, user, users_page
from tests.independent.rawpeer import JSON, Answer, http

PAGE = users_page(user("u-1"))
THROTTLED = b'{"errors":["Too many requests"]}'


def list_users(dd: DatadogClient) -> Awaitable[object]:
    return listed(dd.fetch_users)(0)


def create_key(dd: DatadogClient) -> Awaitable[object]:
    return dd.create_api_key("c1-new")


@pytest.mark.parametrize("call", [list_users, create_key])
async def test_429_for_ever_costs_a_bounded_number_of_requests_and_names_the_429(call: Call) -> None:
    forever = http(429, THROTTLED, [(b"X-RateLimit-Reset", b"0"), *JSON])
    time = FakeTime()  # each reset of 0 waits a second (the window's shortest): on a clock that only the waits move
    retry = RetryPolicy(max_attempts=3, base_delay=0.001)
    result, peer = await outcome([forever], call, retry=retry, sleep=time.sleep, clock=time.clock)
    error = refused(result, RateLimited, "429", "Too many requests")
    assert error.retryable
    assert 1 < len(peer.requests) <= 20


async def test_a_mix_of_5xx_and_429_ends_in_the_last_status_within_the_budget() -> None:
    answers: list[Answer] = [
        http(500, b""),
        http(429, THROTTLED, [(b"X-RateLimit-Reset", b"0"), *JSON]),
        http(502, b"<html>bad gateway</html>", [(b"Content-Type", b"text/html")]),
        http(504, b"{}"),
    ]
    time = FakeTime()
    retry = RetryPolicy(max_attempts=3, base_delay=0.001)
    result, peer = await outcome(answers, list_users, retry=retry, sleep=time.sleep, clock=time.clock)
    refused(result, Unavailable, "GET /api/v2/users", "504")
    assert len(peer.requests) <= 6


@pytest.mark.parametrize(
    "headers",
    [
        [(b"X-RateLimit-Limit", b"0.5"), (b"X-RateLimit-Remaining", b"0.1"), (b"X-RateLimit-Period", b"0.0001")],
        [(b"X-RateLimit-Limit", b"10, 20"), (b"X-RateLimit-Remaining", b"0, 5"), (b"X-RateLimit-Reset", b"1, 900")],
        [(b"X-RateLimit-Remaining", b"0"), (b"X-RateLimit-Remaining", b"0"), (b"X-RateLimit-Reset", b"-86400")],
        [
            (b"X-RateLimit-Limit", b"1" + b"0" * 400),
            (b"X-RateLimit-Remaining", b"9" * 400),
            (b"X-RateLimit-Reset", b"1" + b"0" * 60),
        ],
        [(b"X-RateLimit-Name", b"\x1b[31mbucket"), (b"X-RateLimit-Remaining", b"0"), (b"X-RateLimit-Reset", b"0.5")],
    ],
    ids=["fractional", "several-values", "negative-reset", "huge", "escape-name"],
)
async def test_hostile_pacing_headers_on_every_answer_never_stall_a_burst_of_pages(
    headers: list[tuple[bytes, bytes]],
) -> None:
    async def burst(dd: DatadogClient) -> object:
        return await asyncio.gather(*(listed(dd.fetch_users)(0) for _ in range(4)))

    result, peer = await outcome([http(200, PAGE, [*headers, *JSON])], burst)
    assert isinstance(result, list), result
    assert len(result) == 4
    assert len(peer.requests) == 4


@pytest.mark.parametrize(
    "retry_after",
    [b"Thu, 01 Jan 1970 00:00:00 GMT", b"Sun, 06 Nov 1994 08:49:37 GMT", b"Sunday, 06-Nov-94 08:49:37 GMT"],
)
async def test_a_retry_after_date_in_the_past_is_no_wait(retry_after: bytes) -> None:
    throttled = http(429, THROTTLED, [(b"Retry-After", retry_after), *JSON])
    result, peer = await outcome([throttled, http(200, PAGE)], list_users)
    assert [item.id for item in getattr(result, "items", [])] == ["u-1"], result
    assert len(peer.requests) == 2


@pytest.mark.parametrize("retry_after", [b"Fri, 31 Dec 9999 23:59:59 GMT", b"Mon, 01 Jan 3000 00:00:00 GMT"])
async def test_a_retry_after_date_far_ahead_gives_up_at_once_saying_how_long(retry_after: bytes) -> None:
    throttled = http(429, THROTTLED, [(b"Retry-After", retry_after), *JSON])
    result, peer = await outcome([throttled], create_key, retry=RetryPolicy())
    error = refused(result, RateLimited, "POST /api/v2/api_keys", "429")
    assert error.retryable
    assert len(peer.requests) == 1


async def test_a_window_said_spent_for_longer_than_any_wait_fails_the_waiting_calls_at_once_naming_the_wait() -> None:
    """Remaining 0 and a reset of 10^60 s (digits only: `1e308` is no number of seconds, and taken as absent): the reset is clamped to a day (`RateLimitHeaders`: "windows are clamped to a
    day"), longer than the client ever waits, so the calls behind the first fail at once, retryably, saying how long
    Datadog's window runs, without a request and without a wait (issue 11 §5: "a hint longer than the cap means give
    up now")."""

    async def burst(dd: DatadogClient) -> object:
        return await asyncio.gather(*(listed(dd.fetch_users)(0) for _ in range(4)))

    spent = [(b"X-RateLimit-Remaining", b"0"), (b"X-RateLimit-Reset", b"1" + b"0" * 60), *JSON]
    # A clock that stands still: on the host's, the day left was measured after the answer came, and a loaded machine
    # (0.05 s between the answer and the refusal) made it "86399.9s".
    result, peer = await outcome([http(200, PAGE, spent)], burst, clock=lambda: 1000.0)
    error = refused(result, RateLimited, "GET /api/v2/users", "rate limit window resets in 86400.0s")
    assert error.retryable
    assert len(peer.requests) == 1
