"""Retries: 5xx, 429, timeouts and refused connections, against the fake's injected faults."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import DatadogError, RateLimited, Unavailable
from connector.datadog.paging import paginate
from connector.datadog.provisioning import MAY_HAVE_LANDED, said_if_maybe_made
from connector.datadog.retry import Attempts, GiveUp, NoAnswer, Retry, RetryPolicy
from connector.datadog.stats import ClientEvent, RateLimitWait
from tests.datadog.helpers import ClientFactory, FakeTime, ToTheFake, kept_connections, listed
from tests.fakes.datadog import FakeDatadog, generate_org

USERS = "/api/v2/users"


@pytest.fixture
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=250, seed=2, teams=4, schedules=1)) as server:
        yield server


async def _all_user_ids(client: DatadogClient) -> list[str]:
    return [u.id async for page in paginate(listed(client.fetch_users)) for u in page.items]


async def test_server_errors_are_retried_to_the_same_result(fake: FakeDatadog, make_client: ClientFactory) -> None:
    baseline = await _all_user_ids(make_client(fake))
    fake.reset_counters()
    fake.faults.force(503, times=2, path=USERS)
    fake.faults.force(502, times=1, path=USERS)  # HTML body from a "load balancer"
    client = make_client(fake)

    assert await _all_user_ids(client) == baseline
    assert fake.count("GET", USERS) == 3 + 3
    assert client.stats.retries == {"http_503": 2, "http_502": 1}
    assert client.stats.requests[("users", "5xx")] == 3


async def test_random_faults_do_not_change_the_result(fake: FakeDatadog, make_client: ClientFactory) -> None:
    baseline = await _all_user_ids(make_client(fake))
    fake.faults.error_rate = 0.3
    fake.faults.throttle_rate = 0.2
    fake.faults.throttle_reset = 0
    policy = RetryPolicy(max_attempts=8, base_delay=0.001, max_delay=0.005, min_rate_limit_wait=0.001)
    client = make_client(fake, retry=policy)
    assert await _all_user_ids(client) == baseline
    assert sum(client.stats.retries.values()) + client.stats.rate_limit_waits > 0


async def test_429_waits_for_the_reset_header(fake: FakeDatadog, make_client: ClientFactory) -> None:
    baseline = await _all_user_ids(make_client(fake))
    fake.faults.force(429, times=2, path=USERS, reset=3)
    clock = FakeTime()
    events: list[ClientEvent] = []
    client = make_client(fake, sleep=clock.sleep, clock=clock.clock, on_event=events.append)

    assert await _all_user_ids(client) == baseline
    waits = [e for e in events if isinstance(e, RateLimitWait)]
    assert [(w.cause, w.seconds, w.group) for w in waits] == [("429", 3.0, "users")] * 2
    assert client.stats.rate_limit_waits == 2
    assert client.stats.rate_limit_wait_seconds == 6.0
    assert clock.sleeps == [3.0, 3.0]


def test_waits_use_the_event_loops_sleep_and_clock_by_default() -> None:
    """Without injected time the client really waits: asyncio's sleep and the monotonic clock. The injected
    FakeTime in the tests above proves the client waits through whatever it is given, for the hinted seconds."""
    defaults = inspect.signature(DatadogClient).parameters
    assert defaults["sleep"].default is asyncio.sleep
    assert defaults["clock"].default is time.monotonic


async def test_attempts_are_bounded(fake: FakeDatadog, make_client: ClientFactory) -> None:
    fake.faults.force(503, times=50, path=USERS)
    client = make_client(fake, retry=RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.002))
    with pytest.raises(Unavailable) as raised:
        await listed(client.fetch_users)()
    assert fake.count("GET", USERS) == 4
    assert raised.value.status == 503
    assert raised.value.messages == ("Internal Server Error",)
    assert raised.value.path == USERS


async def test_rate_limit_retries_are_bounded(fake: FakeDatadog, make_client: ClientFactory) -> None:
    fake.faults.force(429, times=50, path=USERS, reset=2)
    clock = FakeTime()
    policy = RetryPolicy(max_rate_limit_retries=3)
    client = make_client(fake, retry=policy, sleep=clock.sleep, clock=clock.clock)
    with pytest.raises(RateLimited) as raised:
        await listed(client.fetch_users)()
    assert fake.count("GET", USERS) == 4
    assert raised.value.retry_after == 2.0
    assert raised.value.limit_name == "fake_users"


async def test_a_reset_beyond_the_longest_wait_fails_fast(fake: FakeDatadog, make_client: ClientFactory) -> None:
    fake.faults.force(429, times=1, path=USERS, reset=3600)
    clock = FakeTime()
    client = make_client(fake, retry=RetryPolicy(max_hinted_delay=60), sleep=clock.sleep, clock=clock.clock)
    with pytest.raises(RateLimited) as raised:
        await listed(client.fetch_users)()
    assert clock.sleeps == []  # no waiting at all: the caller reschedules
    assert raised.value.retry_after == 3600
    assert fake.count("GET", USERS) == 1


async def test_a_rate_limited_call_says_how_long_datadog_asked_to_wait(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    """The failure's text is what ConductorOne shows for a failed grant or revoke and what the sync's error line says:
    "-> 429: Too many requests" alone left the operator to guess whether the endpoint's window was a minute or an
    hour. The wait is said with it, for the call that got the 429 and for the calls refused while its window runs."""
    fake.faults.force(429, times=1, path=USERS, reset=3600)
    clock = FakeTime()
    client = make_client(fake, retry=RetryPolicy(max_hinted_delay=60), sleep=clock.sleep, clock=clock.clock)
    with pytest.raises(RateLimited) as refused:
        await listed(client.fetch_users)()
    assert "429" in str(refused.value)
    assert "wait 3600 s" in str(refused.value)
    with pytest.raises(RateLimited) as held:
        await listed(client.fetch_users)()
    assert "resets in 3600" in str(held.value)
    assert fake.count("GET", USERS) == 1


class WindowAboutToReset(ToTheFake):
    """Datadog with a spent window that resets `within` seconds after the first request: until then every request is
    answered 429 with `X-RateLimit-Reset: 0` (whole seconds: "within this second"), then the fake answers."""

    def __init__(self, clock: FakeTime, within: float) -> None:
        super().__init__()
        self._clock, self._within = clock, within
        self._resets_at: float | None = None
        self.throttled = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._resets_at is None:
            self._resets_at = self._clock.now + self._within
        if self._clock.now < self._resets_at:
            self.throttled += 1
            headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Period": "60", "X-RateLimit-Remaining": "0"}
            headers |= {"X-RateLimit-Reset": "0", "X-RateLimit-Name": "fake_users"}
            return httpx.Response(429, headers=headers, json={"errors": ["Too many requests"]})
        return await self._inner.handle_async_request(request)


async def test_a_window_resetting_within_the_second_is_waited_into(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    """`Reset: 0` is not "ask again now": the 10 waits were spent within milliseconds, and the listing failed with
    RateLimited on a window 0.4 s from resetting."""
    baseline = await _all_user_ids(make_client(fake))
    clock = FakeTime()
    window = WindowAboutToReset(clock, within=0.4)
    client = make_client(fake, retry=RetryPolicy(), transport=window, sleep=clock.sleep, clock=clock.clock)

    assert await _all_user_ids(client) == baseline
    assert window.throttled == 1
    assert clock.sleeps == [1.0]


async def test_a_reset_of_0_waits_a_second_each_time_within_the_budget(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    baseline = await _all_user_ids(make_client(fake))
    fake.reset_counters()
    fake.faults.force(429, times=10, path=USERS, reset=0)
    clock = FakeTime()
    events: list[ClientEvent] = []
    client = make_client(fake, retry=RetryPolicy(), sleep=clock.sleep, clock=clock.clock, on_event=events.append)

    assert await _all_user_ids(client) == baseline
    assert clock.sleeps == [1.0] * 10
    assert [(e.cause, e.seconds) for e in events if isinstance(e, RateLimitWait)] == [("429", 1.0)] * 10
    assert fake.count("GET", USERS) == 10 + 3


async def test_a_throttled_group_is_held_back_while_its_request_waits(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    """The bucket stays shut as long as the throttled request waits: a second request of the group sent meanwhile
    would land in the same spent second (the limiter took `Reset: 0` as a window already open)."""
    first, second, third = list(fake.org.users)[:3]
    clock = FakeTime()
    gate = asyncio.Event()
    sleeping: asyncio.Queue[float] = asyncio.Queue()

    async def sleep(seconds: float) -> None:
        clock.sleeps.append(seconds)
        sleeping.put_nowait(seconds)
        await gate.wait()
        clock.now += seconds

    client = make_client(fake, retry=RetryPolicy(), sleep=sleep, clock=clock.clock)
    await client.get_user(first)  # the group's bucket is known: no probing one by one from here
    fake.faults.force(429, times=1, path=USERS, reset=0)
    throttled = asyncio.ensure_future(client.get_user(second))
    assert await asyncio.wait_for(sleeping.get(), timeout=10) == 1.0  # the 429's wait
    held = asyncio.ensure_future(client.get_user(third))
    paced = asyncio.ensure_future(sleeping.get())
    await asyncio.wait({held, paced}, timeout=10, return_when=asyncio.FIRST_COMPLETED)

    assert not held.done(), "the other request went out in the throttled second"
    assert clock.sleeps == [1.0, 1.0]
    assert fake.count("GET", "/api/v2/users/{user_id}") == 2
    gate.set()
    assert [u.id for u in await asyncio.gather(throttled, held)] == [second, third]
    assert fake.count("GET", "/api/v2/users/{user_id}") == 4


async def test_creates_are_not_repeated_after_a_server_error(fake: FakeDatadog, make_client: ClientFactory) -> None:
    fake.faults.force(503, times=1, path=USERS, method="POST")
    client = make_client(fake)
    with pytest.raises(Unavailable):
        await client.create_user("new.person@example.com")
    assert fake.count("POST", USERS) == 1
    assert fake.org.user_by_email("new.person@example.com") is None


async def test_idempotent_writes_are_retried(fake: FakeDatadog, make_client: ClientFactory) -> None:
    role = next(r for r in fake.org.roles.values() if not r.managed)
    user = next(u for u in fake.org.users.values() if role.id not in u.role_ids)
    fake.faults.force(500, times=2, path=f"/api/v2/roles/{role.id}/users", method="POST")
    client = make_client(fake)
    await client.add_user_to_role(role.id, user.id)
    assert role.id in user.role_ids
    assert fake.count("POST", "/api/v2/roles/{role_id}/users") == 3


async def test_timeouts_are_retried_then_reported(fake: FakeDatadog, make_client: ClientFactory) -> None:
    # Each answer held until the client hangs up, each attempt on a connection made before (`kept_connections`): an
    # answer sent after 0.3 s, and a new connection's lookup and connect under the same 0.05 s, raced the client's
    # timer on a loaded machine.
    client = make_client(fake, timeout=0.05, retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002))
    await kept_connections(client, 3)
    fake.faults.hang_seconds = 60.0
    fake.faults.hostile("hang", path=USERS, times=3)
    with pytest.raises(Unavailable) as raised:
        await listed(client.fetch_users)()
    assert raised.value.status is None
    assert raised.value.reason == f"127.0.0.1:{fake.port} was reached, but timed out waiting for the response"
    assert sum(client.stats.retries.values()) == 2, client.stats.retries  # read or connect timeouts
    assert client.stats.requests[("users", "error")] == 3


async def test_refused_connections_are_retried_then_reported(make_client: ClientFactory) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound but never listening: connections to it are refused
        unreachable = FakeDatadog(port=sock.getsockname()[1])  # never started
        client = make_client(unreachable, retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002))
        with pytest.raises(Unavailable) as raised:
            await client.create_user("x@example.com")  # safe to resend: it never left
    assert raised.value.reason is not None
    # The port is named: a wrong port in BATON_BASE_URL said only "cannot reach 127.0.0.1: connection refused".
    assert raised.value.reason.startswith(f"cannot reach 127.0.0.1:{unreachable.port}: connection refused")
    assert "ConnectError" not in str(raised.value)
    assert client.stats.retries["ConnectError"] == 2


def test_backoff_is_full_jitter_and_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    rng = random.Random(7)
    for retry in range(8):
        ceiling = min(4.0, 0.5 * 2**retry)
        samples = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # spread over the whole range, not a fixed delay


@pytest.mark.parametrize("idempotent", [True, False])
def test_a_proxy_that_would_not_open_the_tunnel_is_retried_whatever_the_method(idempotent: bool) -> None:
    """The CONNECT failed (a proxy's 502/503): the request never reached Datadog, so even a create is resent."""
    assert isinstance(_after(httpx.ProxyError("502 Bad Gateway"), idempotent=idempotent), Retry)


def test_an_untrusted_certificate_is_not_retried() -> None:
    refused = httpx.ConnectError("handshake failed")
    refused.__cause__ = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] self-signed certificate")
    assert isinstance(_after(refused, idempotent=True), GiveUp)
    assert isinstance(_after(httpx.ConnectError("connection refused"), idempotent=False), Retry)


def _after(exc: BaseException, *, idempotent: bool) -> Retry | GiveUp:
    """What the policy decides after a first attempt that ended with `exc`."""
    return RetryPolicy().decide(Attempts("POST", idempotent), NoAnswer.of(exc))


async def test_a_503s_retry_after_is_a_floor_under_the_backoff(fake: FakeDatadog, make_client: ClientFactory) -> None:
    """The server said when it expects to be back: asking sooner only adds load. The backoff alone would
    wait milliseconds here."""
    baseline = await _all_user_ids(make_client(fake))
    fake.faults.force(503, times=2, path=USERS)
    fake.faults.header_overrides["Retry-After"] = "3"
    clock = FakeTime()
    client = make_client(fake, sleep=clock.sleep, clock=clock.clock)

    assert await _all_user_ids(client) == baseline
    assert clock.sleeps == [3.0, 3.0]
    assert client.stats.retries == {"http_503": 2}


async def test_a_503_asking_for_longer_than_the_longest_wait_fails_at_once(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    fake.faults.force(503, times=1, path=USERS)
    fake.faults.header_overrides["Retry-After"] = "3600"
    clock = FakeTime()
    client = make_client(fake, sleep=clock.sleep, clock=clock.clock)

    with pytest.raises(Unavailable):
        await listed(client.fetch_users)()
    assert clock.sleeps == []
    assert fake.count("GET", USERS) == 1


async def test_a_408_is_retried_as_a_server_error_is(fake: FakeDatadog, make_client: ClientFactory) -> None:
    """A 408 Request Timeout (a proxy's or a load balancer's: the request did not arrive whole in time) may be asked
    again (RFC 9110 §15.5.9). It was an unmapped error: not retried, and final, so one slow moment on the path failed
    the whole sync for good."""
    baseline = await _all_user_ids(make_client(fake))
    fake.reset_counters()
    fake.faults.force(408, times=2, path=USERS)
    client = make_client(fake)
    assert await _all_user_ids(client) == baseline
    assert client.stats.retries == {"http_408": 2}


async def test_a_408_that_outlasts_the_retries_fails_retryably(fake: FakeDatadog, make_client: ClientFactory) -> None:
    fake.faults.force(408, times=50, path=USERS)
    client = make_client(fake, retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002))
    with pytest.raises(Unavailable) as raised:
        await listed(client.fetch_users)()
    assert fake.count("GET", USERS) == 3
    assert (raised.value.status, raised.value.retryable) == (408, True)


async def test_a_create_answered_408_is_not_resent(fake: FakeDatadog, make_client: ClientFactory) -> None:
    fake.faults.force(408, times=1, path=USERS, method="POST")
    client = make_client(fake)
    with pytest.raises(Unavailable):
        await client.create_user("new.person@example.com")
    assert fake.count("POST", USERS) == 1


_USER = b'{"data": {"type": "users", "id": "u1", "attributes": {"email": "new.person@example.com"}}}'


def _http(status: int, body: bytes, *headers: bytes) -> bytes:
    head = b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n" % (status, len(body)) + b"".join(h + b"\r\n" for h in headers)
    return head + b"\r\n" + body


@contextlib.asynccontextmanager
async def _answering(answers: list[bytes], **options: Any) -> AsyncIterator[DatadogClient]:
    """A client of a loopback peer answering each request with the next of `answers` (the last one from then on)."""
    script = iter(answers)
    last = answers[-1]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal last
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        line.split(b":")[1]
                        for line in head.lower().split(b"\r\n")
                        if line.startswith(b"content-length:")
                    ),
                    b"0",
                )
                await reader.readexactly(int(length))
                last = next(script, last)
                writer.write(last)
                await writer.drain()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        client = DatadogClient(api_key="a" * 32, app_key="b" * 40, base_url=url, **options)
        try:
            yield client
        finally:
            await client.aclose()


@pytest.mark.parametrize(
    "answer",
    [_http(503, b"<html>busy</html>", b"Content-Encoding: br"), _http(503, b"x" * 70_000)],
    ids=["unasked-encoding", "over-the-cap"],
)
async def test_a_server_error_whose_body_cannot_be_read_is_retried_as_a_server_error(answer: bytes) -> None:
    """Only a 5xx's status decides (docs/spec/datadog-api.md §2.4: do not assume a JSON body on 429 or 5xx): a load
    balancer's 503 page in an encoding not asked for, or over the cap, was a final "unexpected response" to a read, not
    retried, and the sync failed for good on a passing outage."""
    clock = FakeTime()
    ok = _http(200, _USER, b"Content-Type: application/json")
    async with _answering([answer, answer, ok], sleep=clock.sleep, clock=clock.clock, max_response_bytes=65_536) as dd:
        assert (await dd.get_user("u1")).id == "u1"
        assert dd.stats.retries == {"http_503": 2}


async def test_a_server_error_whose_body_cannot_be_read_fails_as_unavailable_saying_why_it_is_not_quoted() -> None:
    clock = FakeTime()
    busy = _http(503, b"<html>busy</html>", b"Content-Encoding: br")
    async with _answering([busy], sleep=clock.sleep, clock=clock.clock, retry=RetryPolicy(max_attempts=2)) as dd:
        with pytest.raises(Unavailable) as raised:
            await dd.get_user("u1")
        assert dd.stats.retries == {"http_503": 1}
    assert (raised.value.status, raised.value.retryable) == (503, True)
    assert "503: body could not be decoded: an unsupported Content-Encoding" in str(raised.value)


async def test_datadogs_429_whose_body_cannot_be_read_is_waited_for_even_by_a_create() -> None:
    """Datadog's 429 (its rate-limit headers say so) refused the create: nothing was made, so it waits and asks again,
    whatever its body. As an unreadable body, a create's was final at once, and a read's retried on the backoff."""
    clock = FakeTime()
    refused = _http(429, b"slow down", b"Content-Encoding: br", b"X-RateLimit-Remaining: 0", b"X-RateLimit-Reset: 4")
    created = _http(201, _USER, b"Content-Type: application/json")
    async with _answering([refused, created], sleep=clock.sleep, clock=clock.clock) as dd:
        assert (await dd.create_user("new.person@example.com")).id == "u1"
        assert dd.stats.rate_limit_waits == 1
    assert clock.sleeps == [4.0]


@pytest.mark.parametrize(
    ("answer", "attempts"),
    [
        (_http(503, b"busy", b"Retry-After: 3600"), 5),
        (_http(200, b"x" * 70_000, b"Content-Type: application/json"), 1),
    ],
    ids=["503-asking-an-hour", "answer-over-the-cap-on-the-last-attempt"],
)
async def test_a_write_given_up_on_its_first_lost_answer_says_it_may_have_landed(answer: bytes, attempts: int) -> None:
    """A role grant answered a 503 asking for an hour (given up at once), or an answer over the cap on its last attempt:
    the attempt may have made the change. Marked only when asked again, the grant failed saying only "unavailable",
    where the same 503 without its Retry-After, asked again, said the role may be held (docs/credentials.md, "Datadog
    side": lost answers are no answer, a 5xx, an unreadable 2xx)."""
    clock = FakeTime()
    policy = RetryPolicy(max_attempts=attempts)
    async with _answering(
        [answer], sleep=clock.sleep, clock=clock.clock, retry=policy, max_response_bytes=65_536
    ) as dd:
        with pytest.raises(DatadogError) as raised:
            await said_if_maybe_made(dd.add_user_to_role("r1", "u1"))
    assert raised.value.after_lost_answer
    assert MAY_HAVE_LANDED in raised.value.messages
    assert clock.sleeps == []
