"""Two endpoint groups sharing one Datadog bucket (docs/spec/datadog-api.md §3: several endpoints may share a bucket,
named by `X-RateLimit-Name`). Each group's requests are admitted on their own (a group whose bucket is not known yet
sends one first request alone), but their answers are Datadog's word about the one bucket: whether an answer is older
than a 429 (sent before it, so it says nothing of the window refused since) is a matter of when each request was sent,
whatever its group. Requests of both groups are put in flight together and answered in every order; each case says
what every order must give."""

from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest

from connector.datadog.ratelimit import RateLimiter, Ticket, WaitTooLong
from tests.datadog.helpers import answer
from tests.independent.races.buckets import client_on, known_to_roles, paced, refusal
from tests.independent.races.heldtime import HeldTime, until

_GROUPS = ("roles", "users")


async def _refuse(limiter: RateLimiter, ticket: Ticket, retry_after: int) -> None:
    """What the transport does with Datadog's 429: release the ticket as throttled, then shut the group for the wait
    its retry policy chose (here the hint)."""
    answer(limiter, ticket, refusal(retry_after), throttled=True, refused=True)
    limiter.throttle(ticket, float(retry_after))


@pytest.mark.parametrize("waiting", _GROUPS)
@pytest.mark.parametrize("refused_first", [True, False], ids=["429-first", "2xx-first"])
@pytest.mark.parametrize("refused", _GROUPS, ids=["roles-refused", "users-refused"])
@pytest.mark.parametrize("sent", list(itertools.permutations(_GROUPS)), ids=["roles-sent-first", "users-sent-first"])
async def test_an_answer_sent_before_the_other_groups_429_never_reopens_the_shared_bucket_early(
    sent: tuple[str, str], refused: str, refused_first: bool, waiting: str
) -> None:
    """A request of each group is in flight (one of them `users`' first); Datadog refuses one for 30 s and answers the
    other 200 with 90 left, in either order. The 200 was sent before the refusal: it says nothing of the 30 s. Counted
    (the first request of `users` was recognised as older only within its own group), it reopened the bucket at once
    and every waiting call of either group went out into the refused window."""
    limiter, time = await known_to_roles()
    tickets = {group: await limiter.acquire(group) for group in sent}
    refused_at = time.now
    answered = next(group for group in _GROUPS if group != refused)
    if refused_first:
        await _refuse(limiter, tickets[refused], 30)
        answer(limiter, tickets[answered], paced(90))
    else:
        answer(limiter, tickets[answered], paced(90))
        await _refuse(limiter, tickets[refused], 30)

    after = await limiter.acquire(waiting)

    assert after.waited >= 30.0
    assert time.now - refused_at >= 30.0


@pytest.mark.parametrize("older", _GROUPS)
@pytest.mark.parametrize("older_sent_first", [True, False], ids=["older-sent-first", "older-sent-second"])
async def test_a_429_to_a_request_of_either_group_sent_before_a_refusal_that_has_ended_shuts_nothing_again(
    older: str, older_sent_first: bool
) -> None:
    """An hour-long refusal of the shared bucket; the one request asking again after the longest wait is answered 200
    and reopens it; then a request of the other group, sent before that refusal (kept in flight by a long timeout), is
    refused only now. Its 429 is older news than the answer that reopened the bucket: taken as a new refusal (when
    it was `users`' first request), it shut the bucket for another longest wait, failing every call of both groups."""
    limiter, time = await known_to_roles()
    other = next(group for group in _GROUPS if group != older)
    if older_sent_first:
        old = await limiter.acquire(older)
        first = await limiter.acquire(other)
    else:
        first = await limiter.acquire(other)
        old = await limiter.acquire(older)
    await _refuse(limiter, first, 3600)
    await time.sleep(120)
    answer(limiter, await limiter.acquire(other), paced(99))
    await _refuse(limiter, old, 3600)

    for group in _GROUPS:
        assert (await limiter.acquire(group)).waited == 0.0


async def test_the_first_answer_of_a_group_sent_after_the_other_groups_refusal_is_datadogs_newer_word() -> None:
    """`roles` is refused for an hour; `users` then sends its first request, which Datadog answers 200 naming the same
    bucket: Datadog takes the bucket's requests again, and the bucket reopens. Only an answer within the refused group
    reopened it: every call of either group failed at once for the longest wait, until a request of `roles` asked
    again."""
    limiter, _time = await known_to_roles()
    await _refuse(limiter, await limiter.acquire("roles"), 3600)
    with pytest.raises(WaitTooLong):
        await limiter.acquire("roles")

    answer(limiter, await limiter.acquire("users"), paced(80))

    for group in _GROUPS:
        assert (await limiter.acquire(group)).waited == 0.0


@pytest.mark.parametrize("answered_first", _GROUPS)
async def test_answers_of_both_groups_sent_after_the_refusal_both_count(answered_first: str) -> None:
    """What the rule must not break: requests of both groups sent after a short refusal has ended are newer than it,
    in whichever order their answers come: the bucket paces on what they say (here, nothing left: the window's end)."""
    limiter, time = await known_to_roles()
    await _refuse(limiter, await limiter.acquire("roles"), 5)
    roles = await limiter.acquire("roles")
    users = await limiter.acquire("users")
    after_refusal = time.now
    tickets = {"roles": roles, "users": users}
    second = next(group for group in _GROUPS if group != answered_first)
    answer(limiter, tickets[answered_first], paced(50))
    answer(limiter, tickets[second], paced(0))

    waiting = await limiter.acquire("roles")

    assert waiting.waited == pytest.approx(50.0)
    assert time.now - after_refusal == pytest.approx(50.0)


async def test_through_the_client_a_roles_answer_sent_before_a_users_429_on_their_bucket_sends_no_call_early() -> None:
    """End to end through the Datadog client: the users group knows the shared bucket; a user read and the first role
    read are in flight together. Datadog refuses the user read for 30 s, then answers the role read 200 with 90 left.
    The next role read waits out the 30 s (it went out at once, into the refused window), and every call succeeds."""
    time = HeldTime()
    both_in = asyncio.Event()
    role_answer = asyncio.Event()
    arrived: list[str] = []
    sent_at: list[float] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        kind, _, name = request.url.path.removeprefix("/api/v2/").partition("/")
        body = {"data": {"type": kind, "id": name, "attributes": {"name": name}}}
        if name == "warm":
            return httpx.Response(200, headers=paced(90), json=body)
        if name in ("refused", "first-role") and len(arrived) < 2:
            arrived.append(name)
            if len(arrived) == 2:
                both_in.set()
            await both_in.wait()
            if name == "refused":
                return httpx.Response(429, headers=refusal(30), json={"errors": ["Too many requests"]})
            await role_answer.wait()
            return httpx.Response(200, headers=paced(90), json=body)
        sent_at.append(time.now)
        return httpx.Response(200, headers=paced(80), json=body)

    client = client_on(handler, time)
    async with client:
        await client.get_user("warm")
        refused_at = time.now
        user = asyncio.create_task(client.get_user("refused"))
        role = asyncio.create_task(client.get_role("first-role"))
        await until(lambda: time.sleeping == 1)  # the user read waits out Datadog's 30 s
        role_answer.set()
        await asyncio.wait_for(role, timeout=10)
        later = asyncio.create_task(client.get_role("later"))
        await until(lambda: time.sleeping == 2 or bool(sent_at))
        assert sent_at == [], "a role read went out into the window Datadog refused"
        await time.move_to(refused_at + 30)
        found = await asyncio.wait_for(asyncio.gather(user, later), timeout=10)

    assert [item.id for item in found] == ["refused", "later"]
    assert min(sent_at) >= refused_at + 30
