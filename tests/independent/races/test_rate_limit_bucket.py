"""A rate-limit bucket shared by concurrent calls (docs/spec/datadog-api.md §3: one org's budget per named bucket).

Requests of one group are in flight together when Datadog starts refusing them; their 429s come back one after another,
each with what it asks for. Whatever order they land in, no waiting call may be sent before the longest wait any of
them asked for: every one of those answers is Datadog's (or a gateway's) word about the same window, and the answer
that came last is not newer news about it when its request was sent before the first refusal.
"""

from __future__ import annotations

import pytest

from connector.datadog.ratelimit import RateLimiter, Ticket, WaitTooLong
from tests.datadog.helpers import FakeTime

_BUCKET = "bucket"


def _paced(remaining: int) -> dict[str, str]:
    return {
        "x-ratelimit-limit": "100",
        "x-ratelimit-period": "60",
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": "50",
        "x-ratelimit-name": _BUCKET,
    }


def _refused(retry_after: int) -> dict[str, str]:
    return {"retry-after": str(retry_after), "x-ratelimit-name": _BUCKET}


async def _limiter() -> tuple[RateLimiter, FakeTime]:
    time = FakeTime()
    limiter = RateLimiter(max_wait=120, clock=time.clock, sleep=time.sleep)
    # The group's bucket is known (its first answer came), with plenty left: requests go out together.
    limiter.release(await limiter.acquire("roles"), _paced(90))
    return limiter, time


async def _refuse(limiter: RateLimiter, ticket: Ticket, headers: dict[str, str], wait: float) -> None:
    """What the transport does with a 429 (`DatadogTransport.request`): release the ticket as throttled, then shut the
    group for the wait its retry policy chose."""
    limiter.release(ticket, headers, throttled=True)
    limiter.throttle(ticket, wait)


@pytest.mark.parametrize("second", ["hinted_less", "gateway_without_hint"])
async def test_a_later_shorter_429_of_a_request_sent_beside_the_first_does_not_reopen_the_bucket_early(
    second: str,
) -> None:
    """Two requests were sent together; the first 429 back asks for 30 s, the second for 2 s (or is a gateway's 429
    with no hint at all, waited out on the 1 s backoff). The second shut replaced the first: every call waiting on the
    bucket went out after 2 s (1 s), into the window Datadog had just refused for 30, and collected 429s of its own."""
    limiter, time = await _limiter()
    first = await limiter.acquire("roles")
    beside = await limiter.acquire("roles")
    refused_at = time.now
    await _refuse(limiter, first, _refused(30), 30.0)
    if second == "hinted_less":
        await _refuse(limiter, beside, _refused(2), 2.0)
    else:
        await _refuse(limiter, beside, {"content-type": "text/html"}, 1.0)

    waiting = await limiter.acquire("roles")

    assert time.now - refused_at >= 30.0
    assert waiting.waited >= 30.0


async def test_the_two_429s_landing_in_the_other_order_shut_the_bucket_as_long() -> None:
    """The serial order the test above is measured against: the short answer first, then the long one."""
    limiter, time = await _limiter()
    first = await limiter.acquire("roles")
    beside = await limiter.acquire("roles")
    refused_at = time.now
    await _refuse(limiter, first, _refused(2), 2.0)
    await _refuse(limiter, beside, _refused(30), 30.0)

    await limiter.acquire("roles")

    assert time.now - refused_at >= 30.0


async def test_a_later_short_429_does_not_end_an_hour_long_refusal_of_the_bucket() -> None:
    """The first 429 asks for an hour (longer than any wait: every call of the group fails at once, naming the wait,
    but one each longest wait asks again). A request sent beside it, refused with a 5 s hint, made the bucket a 5 s
    one: the hour-long refusal was forgotten, and every waiting call went out 5 s later."""
    limiter, _time = await _limiter()
    first = await limiter.acquire("roles")
    beside = await limiter.acquire("roles")
    await _refuse(limiter, first, _refused(3600), 3600.0)
    await _refuse(limiter, beside, _refused(5), 5.0)

    with pytest.raises(WaitTooLong) as refused:
        await limiter.acquire("roles")
    assert refused.value.wait > 120


async def test_a_request_sent_after_the_refusal_is_datadogs_newer_word_and_may_shorten_it() -> None:
    """What the rule above must not break: the request that asks again after a long refusal (sent after it) is told the
    window is now only 5 s; the bucket opens 5 s later, not an hour later."""
    limiter, time = await _limiter()
    first = await limiter.acquire("roles")
    await _refuse(limiter, first, _refused(3600), 3600.0)
    time.now += 120
    asker = await limiter.acquire("roles")
    asked_at = time.now
    await _refuse(limiter, asker, _refused(5), 5.0)

    after = await limiter.acquire("roles")

    assert after.waited == pytest.approx(5.0)
    assert time.now - asked_at == pytest.approx(5.0)


async def test_an_answer_to_a_request_sent_before_the_429_does_not_reopen_a_short_shut_either() -> None:
    """The sibling of the above for an answer that was not refused: a request sent beside the refused one comes back
    200, its headers saying 90 requests are left. Its answer says nothing of the 30 s Datadog asked for since: the
    bucket counted those 90 again, and every waiting call went out at once into the refused window."""
    limiter, time = await _limiter()
    first = await limiter.acquire("roles")
    beside = await limiter.acquire("roles")
    refused_at = time.now
    await _refuse(limiter, first, _refused(30), 30.0)
    limiter.release(beside, _paced(90))

    waiting = await limiter.acquire("roles")

    assert time.now - refused_at >= 30.0
    assert waiting.waited >= 30.0
