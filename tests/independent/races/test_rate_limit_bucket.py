"""A rate-limit bucket shared by concurrent calls (docs/spec/datadog-api.md §3: one org's budget per named bucket).

Requests of one group are in flight together when Datadog starts refusing them; their 429s come back one after another,
each with what it asks for. Whatever order they land in, no waiting call may be sent before the longest wait any of
them asked for: every one of those answers is Datadog's (or a gateway's) word about the same window, and the answer
that came last is not newer news about it when its request was sent before the first refusal.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from connector.datadog.ratelimit import RateLimiter, Ticket, WaitTooLong
from tests.datadog.helpers import answer
from tests.independent.races.buckets import client_on, known_to_roles, paced, refusal
from tests.independent.races.heldtime import HeldTime, until


async def _refuse(limiter: RateLimiter, ticket: Ticket, headers: dict[str, str], wait: float) -> None:
    """What the transport does with a 429 (`ApiTransport.request`): release the ticket as throttled, then shut the
    group for the wait its retry policy chose."""
    answer(limiter, ticket, headers, throttled=True)
    limiter.throttle(ticket, wait)


@pytest.mark.parametrize("second", ["hinted_less", "gateway_without_hint"])
async def test_a_later_shorter_429_of_a_request_sent_beside_the_first_does_not_reopen_the_bucket_early(
    second: str,
) -> None:
    """Two requests were sent together; the first 429 back asks for 30 s, the second for 2 s (or is a gateway's 429
    with no hint at all, waited out on the 1 s backoff). The second shut replaced the first: every call waiting on the
    bucket went out after 2 s (1 s), into the window Datadog had just refused for 30, and collected 429s of its own."""
    limiter, time = await known_to_roles()
    first = await limiter.acquire("roles")
    beside = await limiter.acquire("roles")
    refused_at = time.now
    await _refuse(limiter, first, refusal(30), 30.0)
    if second == "hinted_less":
        await _refuse(limiter, beside, refusal(2), 2.0)
    else:
        await _refuse(limiter, beside, {"content-type": "text/html"}, 1.0)

    waiting = await limiter.acquire("roles")

    assert time.now - refused_at >= 30.0
    assert waiting.waited >= 30.0


async def test_the_two_429s_landing_in_the_other_order_shut_the_bucket_as_long() -> None:
    """The serial order the test above is measured against: the short answer first, then the long one."""
    limiter, time = await known_to_roles()
    first = await limiter.acquire("roles")
    beside = await limiter.acquire("roles")
    refused_at = time.now
    await _refuse(limiter, first, refusal(2), 2.0)
    await _refuse(limiter, beside, refusal(30), 30.0)

    await limiter.acquire("roles")

    assert time.now - refused_at >= 30.0


async def test_a_later_short_429_does_not_end_an_hour_long_refusal_of_the_bucket() -> None:
    """The first 429 asks for an hour (longer than any wait: every call of the group fails at once, naming the wait,
    but one each longest wait asks again). A request sent beside it, refused with a 5 s hint, made the bucket a 5 s
    one: the hour-long refusal was forgotten, and every waiting call went out 5 s later."""
    limiter, _time = await known_to_roles()
    first = await limiter.acquire("roles")
    beside = await limiter.acquire("roles")
    await _refuse(limiter, first, refusal(3600), 3600.0)
    await _refuse(limiter, beside, refusal(5), 5.0)

    with pytest.raises(WaitTooLong) as refused:
        await limiter.acquire("roles")
    assert refused.value.wait > 120


async def test_a_request_sent_after_the_refusal_is_datadogs_newer_word_and_may_shorten_it() -> None:
    """What the rule above must not break: the request that asks again after a long refusal (sent after it) is told the
    window is now only 5 s; the bucket opens 5 s later, not an hour later."""
    limiter, time = await known_to_roles()
    first = await limiter.acquire("roles")
    await _refuse(limiter, first, refusal(3600), 3600.0)
    time.now += 120
    asker = await limiter.acquire("roles")
    asked_at = time.now
    await _refuse(limiter, asker, refusal(5), 5.0)

    after = await limiter.acquire("roles")

    assert after.waited == pytest.approx(5.0)
    assert time.now - asked_at == pytest.approx(5.0)


async def test_an_answer_to_a_request_sent_before_the_429_does_not_reopen_a_short_shut_either() -> None:
    """The sibling of the above for an answer that was not refused: a request sent beside the refused one comes back
    200, its headers saying 90 requests are left. Its answer says nothing of the 30 s Datadog asked for since: the
    bucket counted those 90 again, and every waiting call went out at once into the refused window."""
    limiter, time = await known_to_roles()
    first = await limiter.acquire("roles")
    beside = await limiter.acquire("roles")
    refused_at = time.now
    await _refuse(limiter, first, refusal(30), 30.0)
    answer(limiter, beside, paced(90))

    waiting = await limiter.acquire("roles")

    assert time.now - refused_at >= 30.0
    assert waiting.waited >= 30.0


async def test_through_the_client_a_gateways_hintless_429_beside_datadogs_does_not_send_calls_early() -> None:
    """End to end through the Datadog client: two reads of one bucket are in flight; Datadog refuses the first for 30 s,
    then a gateway refuses the second with no hint (retried on the backoff, about a second). No request goes out before
    the 30 s are over, and both calls then succeed."""
    time = HeldTime()
    sent_at: list[float] = []
    both_in = asyncio.Event()
    second_answer = asyncio.Event()
    arrived: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        user = request.url.path.rsplit("/", 1)[-1]
        body = {"data": {"type": "users", "id": user}}
        if user == "warm":
            return httpx.Response(200, headers=paced(90), json=body)
        if len(arrived) < 2:
            arrived.append(user)
            if len(arrived) == 2:
                both_in.set()
            await both_in.wait()
            if user == "first":
                return httpx.Response(429, headers=refusal(30), json={"errors": ["Too many requests"]})
            await second_answer.wait()
            return httpx.Response(429, headers={"content-type": "text/html"}, content=b"<html>slow down</html>")
        sent_at.append(time.now)
        return httpx.Response(200, headers=paced(80), json=body)

    client = client_on(handler, time)
    async with client:
        await client.get_user("warm")
        refused_at = time.now
        calls = [asyncio.create_task(client.get_user(user)) for user in ("first", "second")]
        await until(lambda: time.sleeping == 1)  # the first call waits out Datadog's 30 s
        second_answer.set()
        await until(lambda: time.sleeping == 2)  # the second waits out its backoff
        await time.move_to(refused_at + 2)
        assert sent_at == []
        await time.move_to(refused_at + 30)
        found = await asyncio.wait_for(asyncio.gather(*calls), timeout=10)

    assert [user.id for user in found] == ["first", "second"]
    assert len(sent_at) == 2
    assert min(sent_at) >= refused_at + 30


async def test_an_older_requests_late_429_leaves_the_request_asking_again_to_decide() -> None:
    """An hour-long refusal; the one request asking again goes out after the longest wait; a request sent before the
    refusal (a long timeout keeps it in flight) is refused only now. That older 429 counted as a newer refusal: the
    request asking again became "sent before the latest 429", and Datadog's 2xx to it reopened nothing, every request
    failing for 120 s more."""
    limiter, time = await known_to_roles()
    answer(limiter, await limiter.acquire("roles"), paced(90))
    first, older = await limiter.acquire("roles"), await limiter.acquire("roles")
    await _refuse(limiter, first, refusal(3600), 3600.0)
    await time.sleep(120)
    asking_again = await limiter.acquire("roles")
    await _refuse(limiter, older, refusal(5), 5.0)
    answer(limiter, asking_again, paced(99))
    assert (await limiter.acquire("roles")).waited == 0.0


async def test_a_gateways_429_to_the_request_asking_again_reopens_nothing() -> None:
    """A create asking again after an hour-long refusal, answered by a gateway's 429 (which shuts no bucket: it may
    come after the create landed) was taken as "answered, not refused", and the bucket reopened: every waiting call
    went out into the refused window (docs/service-mode.md: the answer reopens the bucket "if not a 429")."""
    limiter, time = await known_to_roles()
    answer(limiter, await limiter.acquire("keys"), paced(50))
    first = await limiter.acquire("keys")
    await _refuse(limiter, first, refusal(3600), 3600.0)
    await time.sleep(120)
    asking_again = await limiter.acquire("keys")
    answer(limiter, asking_again, {"content-type": "text/html"}, throttled=False, refused=True)
    with pytest.raises(WaitTooLong):
        await limiter.acquire("keys")


async def test_an_older_requests_429_after_the_bucket_reopened_does_not_shut_it_again() -> None:
    """The request asking again after an hour-long refusal is answered 2xx and the bucket reopens; a request sent
    before that refusal is answered 429 only then. Its refusal is older news than the answer that reopened the
    bucket (docs/service-mode.md: a request sent after the 429 "is Datadog's newer word, and decides"): it shut the
    bucket again, and every call failed for the next longest wait."""
    limiter, time = await known_to_roles()
    answer(limiter, await limiter.acquire("roles"), paced(90))
    first, older = await limiter.acquire("roles"), await limiter.acquire("roles")
    await _refuse(limiter, first, refusal(3600), 3600.0)
    await time.sleep(120)
    answer(limiter, await limiter.acquire("roles"), paced(99))
    await _refuse(limiter, older, refusal(3600), 3600.0)
    assert (await limiter.acquire("roles")).waited == 0.0
