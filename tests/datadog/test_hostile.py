"""Fault injection against the fake Datadog (a real server on 127.0.0.1): every hostile answer ends in a
`DatadogError` naming the endpoint and the cause, within a bounded number of requests (issue 11 §3-5, §10).

Requests are counted exactly; waits run on a fake clock, so nothing here sleeps for a rate-limit window.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import structlog

from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.client import DatadogClient, included_roles
from connector.datadog.connector import DatadogConnector, DatadogOptions
from connector.datadog.errors import (
    DatadogError,
    InvalidAPIKey,
    RateLimited,
    Unavailable,
    UnexpectedResponse,
    describe_transport_error,
)
from connector.datadog.models import User
from connector.datadog.paging import paginate
from connector.datadog.retry import RetryPolicy
from connector.datadog.sites import InsecureBaseURL
from tests.datadog.helpers import (
    CANARY_API_KEY,
    CANARY_APP_KEY,
    ClientFactory,
    FakeTime,
    MixedUpAnswers,
    answered_by,
    kept_connections,
    listed,
)
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.datadog.org import AppKey
from tests.fakes.net import EndlessBody
from tests.polling import until

USERS = "/api/v2/users"
ROUTE = "/api/v2/users"
RETRY = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0, max_hinted_delay=60.0)


@pytest.fixture
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(
        generate_org(users=30, seed=5, teams=2, schedules=1), api_key=CANARY_API_KEY, app_key=CANARY_APP_KEY
    ) as server:
        yield server


def _no_secret(error: BaseException) -> None:
    for text in (str(error), repr(error)):
        assert CANARY_API_KEY not in text
        assert CANARY_APP_KEY not in text


def _client(make_client: ClientFactory, fake: FakeDatadog, **kwargs: object) -> DatadogClient:
    clock = FakeTime()
    kwargs.setdefault("retry", RETRY)
    return make_client(fake, sleep=clock.sleep, clock=clock.clock, **kwargs)


# -- bodies: one class of error, the endpoint named, retried only where a retry could help -------------------


@pytest.mark.parametrize(
    ("mode", "words", "retryable", "requests"),
    [
        # Garbled on the wire: the transport tries again, up to its budget, then gives up retryably.
        ("bad-encoding", "could not be decoded", True, RETRY.max_attempts),
        ("truncated", "closed before the response was complete", True, RETRY.max_attempts),
        # Well-formed but wrong: asking again will not change it; the call fails once.
        ("deep-json", "not valid JSON", True, 1),
        ("not-json", "not valid JSON", True, 1),
        ("html", "content type 'text/html'", True, 1),
        ("empty", "empty body", True, 1),
        ("wrong-types", "invalid field", False, 1),
        ("numeric-id", "data[0].id (expected a string, got a number)", False, 1),
        ("gzip-bomb", "larger than the", False, 1),
        ("past-total", "past the list's own total of 0", False, 1),
        ("empty-page", "no items, though the list's own total of 1000 says there are more", True, 1),
        ("no-total", "no usable meta total", False, 1),
    ],
)
async def test_a_hostile_page_is_an_error_naming_the_endpoint(
    fake: FakeDatadog, make_client: ClientFactory, mode: str, words: str, retryable: bool, requests: int
) -> None:
    fake.faults.hostile(mode, path=USERS, method="GET", times=RETRY.max_attempts)
    client = _client(make_client, fake, max_response_bytes=1024 * 1024)
    with pytest.raises(DatadogError) as raised:
        await listed(client.fetch_users)()
    error = raised.value
    assert isinstance(error, UnexpectedResponse | Unavailable), type(error)
    assert "GET /api/v2/users" in str(error)
    assert words in str(error)
    assert error.retryable is retryable
    assert fake.count("GET", ROUTE) == requests
    _no_secret(error)


async def test_a_body_over_the_cap_is_refused_without_reading_it_all(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    fake.faults.huge_bytes = 5 * 1024 * 1024
    fake.faults.hostile("huge", path=USERS, method="GET")
    client = _client(make_client, fake, max_response_bytes=64 * 1024)
    with pytest.raises(UnexpectedResponse, match="larger than the 65536-byte cap"):
        await listed(client.fetch_users)()
    assert fake.count("GET", ROUTE) == 1


async def test_wrong_types_in_included_roles_are_an_unexpected_response(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    client = _client(make_client, fake)
    page = await listed(client.fetch_users)()
    broken = type(page)(
        items=page.items, number=0, next_number=None, included=({"type": "roles", "id": "r", "attributes": [1]},),
        path=USERS,
    )  # fmt: skip
    with pytest.raises(UnexpectedResponse, match="included roles"):
        included_roles(broken)


# -- listings that never end ------------------------------------------------------------------------------


async def test_endless_pages_without_a_total_stop_at_the_ceiling(fake: FakeDatadog, make_client: ClientFactory) -> None:
    fake.faults.hostile("endless", path="/api/v2/on-call/schedules", times=1000)
    client = _client(make_client, fake, max_pages=7)
    with pytest.raises(UnexpectedResponse, match="did not end within 7 pages"):
        async for _ in paginate(client.list_schedules):
            pass
    assert fake.count("GET", "/api/v2/on-call/schedules") == 7


async def test_a_total_that_keeps_growing_allows_only_the_first_total_plus_one_page(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    fake.faults.hostile("growing-total", path=USERS, times=1000)
    client = _client(make_client, fake)
    with pytest.raises(UnexpectedResponse, match="past the 2 page"):
        async for _ in paginate(listed(client.fetch_users)):
            pass
    # Page 0 said 200 users (2 pages); one more is allowed for users added meanwhile; the 4th is refused.
    assert fake.count("GET", ROUTE) == 4


async def test_the_same_page_twice_is_an_error(fake: FakeDatadog, make_client: ClientFactory) -> None:
    fake.faults.hostile("repeat", path=USERS, times=1000)
    client = _client(make_client, fake)
    with pytest.raises(UnexpectedResponse, match="page 1 repeats page 0"):
        async for _ in paginate(listed(client.fetch_users)):
            pass
    assert fake.count("GET", ROUTE) == 2


@pytest.mark.parametrize("period", [2, 3])
@pytest.mark.parametrize(
    ("path", "meta"),
    [
        ("/api/v2/users", {"page": {"total_count": 1_000_000}}),
        ("/api/v2/on-call/schedules", {"page": {"size": 100}}),  # schedules report no total
    ],
)
async def test_a_listing_cycling_through_a_few_pages_fails_at_its_first_repeat(
    period: int, path: str, meta: dict[str, object]
) -> None:
    """Pages 0, 1, (2,) 0, 1, ... of full pages: only a repeat of the page just before was caught, so the listing ran
    to its page budget, 10,000 requests (the total's pages, or `MAX_PAGES` without a total)."""
    requests: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page[number]"])
        requests.append(number)
        kind = "users" if path == USERS else "schedules"
        items = [{"type": kind, "id": f"{number % period}-{i}", "attributes": {}} for i in range(100)]
        return httpx.Response(200, json={"data": items, "meta": meta})

    client = answered_by(handler)
    walk = paginate(listed(client.fetch_users)) if path == USERS else paginate(client.list_schedules)
    with pytest.raises(UnexpectedResponse, match=f"page {period} repeats page 0"):
        async for _ in walk:
            pass
    await client.aclose()
    assert requests == list(range(period + 1))


async def test_the_page_guard_also_holds_for_page_token_callers(fake: FakeDatadog, make_client: ClientFactory) -> None:
    """The sync engine asks for one page per call (page tokens); the guard remembers the listing across calls."""
    fake.faults.hostile("repeat", path=USERS, times=1000)
    client = _client(make_client, fake)
    first = await listed(client.fetch_users)(0)
    assert first.next_number == 1
    with pytest.raises(UnexpectedResponse, match="repeats"):
        await listed(client.fetch_users)(1)


# -- hung peers and timeouts ------------------------------------------------------------------------------


async def test_a_silent_peer_costs_the_timeout_per_attempt_then_fails_retryably(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    # The peer holds each answer until the client hangs up (`hang_seconds` only bounds that), and each attempt goes
    # out on a connection made before: its one timed wait is the answer's (`kept_connections`). An answer sent after
    # 1 s, and a new connection's 0.1 s lookup and connect, raced the client's timer on a loaded machine.
    fake.faults.hang_seconds = 60.0
    client = _client(make_client, fake, timeout=0.1)
    await kept_connections(client, RETRY.max_attempts)
    fake.faults.hostile("hang", path=USERS, times=RETRY.max_attempts + 1)
    with pytest.raises(Unavailable) as raised:
        await listed(client.fetch_users)()
    assert f"127.0.0.1:{fake.port} was reached, but timed out" in str(raised.value)
    assert raised.value.retryable
    assert client.stats.requests[("users", "error")] == RETRY.max_attempts
    # Counted as they arrive (the fake logs a request only once it has answered, which a hung one never does), on
    # the fake's own thread: the client may time its last attempt out before that thread has read it.
    await until(lambda: len(fake.faults.hostile_script) <= 1, "the attempts reached the peer")
    assert len(fake.faults.hostile_script) == 1, "exactly max_attempts attempts reached the peer"


def test_default_timeouts_are_30s_and_10s_to_connect() -> None:
    client = DatadogClient(api_key="a" * 32, app_key="b" * 40)
    timeout = client._t._http.timeout  # the value under test
    assert (timeout.read, timeout.write, timeout.pool, timeout.connect) == (30.0, 30.0, 30.0, 10.0)


# -- retries: one owner, counted exactly -------------------------------------------------------------------


async def test_a_page_answering_503_forever_costs_exactly_max_attempts(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    fake.faults.force(503, times=100, path=USERS)
    client = _client(make_client, fake, retry=RetryPolicy(max_attempts=5, base_delay=0.0, max_delay=0.0))
    with pytest.raises(Unavailable) as raised:
        await listed(client.fetch_users)()
    assert raised.value.retryable
    assert fake.count("GET", ROUTE) == 5


async def test_a_reset_longer_than_the_cap_gives_up_at_once(fake: FakeDatadog, make_client: ClientFactory) -> None:
    fake.faults.force(429, times=10, path=USERS, reset=3600)
    clock = FakeTime()
    client = make_client(fake, retry=RETRY, sleep=clock.sleep, clock=clock.clock)
    with pytest.raises(RateLimited) as raised:
        await listed(client.fetch_users)()
    assert raised.value.retryable
    assert raised.value.retry_after == 3600.0
    assert fake.count("GET", ROUTE) == 1
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("value", "slept"),
    # A date gone by or "0" is "within this second" (Retry-After counts whole seconds): at least one second, not a retry
    # at once (ten of those were spent within milliseconds). A fraction is no delay-seconds (RFC 9110 §10.2.3: 1*DIGIT):
    # absent, as any other garbage.
    [("7", [7.0]), ("Wed, 21 Oct 2015 07:28:00 GMT", [1.0]), ("0", [1.0]), ("0.25", None), ("soon", None)],
)
async def test_retry_after_is_honoured_in_seconds_and_as_a_date(
    fake: FakeDatadog, make_client: ClientFactory, value: str, slept: list[float] | None
) -> None:
    fake.faults.hostile(f"retry-after={value}", path=USERS, method="GET")
    clock = FakeTime()
    client = make_client(fake, retry=RETRY, sleep=clock.sleep, clock=clock.clock)
    page = await listed(client.fetch_users)()
    assert page.items
    if slept is not None:
        assert clock.sleeps == slept
    else:  # garbage: ordinary backoff, bounded by the policy
        assert len(clock.sleeps) == 1
        assert 0 <= clock.sleeps[0] <= RETRY.max_delay


async def test_a_retry_after_beyond_the_cap_gives_up_at_once(fake: FakeDatadog, make_client: ClientFactory) -> None:
    fake.faults.hostile("retry-after=86400", path=USERS, method="GET")
    clock = FakeTime()
    client = make_client(fake, retry=RETRY, sleep=clock.sleep, clock=clock.clock)
    with pytest.raises(RateLimited) as raised:
        await listed(client.fetch_users)()
    assert raised.value.retry_after == 86400.0
    assert clock.sleeps == []


# -- rate-limit headers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-RateLimit-Limit": "0", "X-RateLimit-Remaining": "0", "X-RateLimit-Period": "60", "X-RateLimit-Reset": "5"},
        {"X-RateLimit-Limit": "-5", "X-RateLimit-Remaining": "-1", "X-RateLimit-Reset": "-3"},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1e308", "X-RateLimit-Period": "nan"},
        {"X-RateLimit-Limit": "lots", "X-RateLimit-Remaining": "0x10", "X-RateLimit-Reset": "inf"},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "99999999999999999999999"},
    ],
)
async def test_garbage_rate_limit_headers_never_mean_an_endless_wait(
    fake: FakeDatadog, make_client: ClientFactory, headers: dict[str, str]
) -> None:
    fake.faults.header_overrides.update(headers)
    clock = FakeTime()
    client = make_client(fake, retry=RETRY, sleep=clock.sleep, clock=clock.clock)
    limited: list[RateLimited] = []
    for _ in range(3):
        try:
            # A limiter that waits window after window would never return: the timeout turns that into a failure.
            await asyncio.wait_for(client.get_user(next(iter(fake.org.users))), timeout=30)
        except RateLimited as exc:
            limited.append(exc)
    # A window reset a day away is not waited for: the caller is told to come back later, with a bounded hint.
    assert all(exc.retry_after is not None and exc.retry_after <= 86_400 for exc in limited)
    # Pacing waits for a window at most once per request, never beyond the cap.
    assert len(clock.sleeps) <= 3
    assert all(0 <= slept <= RETRY.max_hinted_delay for slept in clock.sleeps)
    assert fake.count("GET", "/api/v2/users/{user_id}") <= 3


# -- the key check --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["deep-json", "wrong-types", "not-json", "bad-encoding", "html", "truncated"])
async def test_the_key_check_fails_cleanly_on_hostile_answers(
    fake: FakeDatadog, make_client: ClientFactory, mode: str
) -> None:
    fake.faults.hostile(mode, path="/api/v1/validate", times=RETRY.max_attempts)
    client = _client(make_client, fake)
    with pytest.raises(DatadogError) as raised:
        await client.validate()
    assert "/api/v1/validate" in str(raised.value)
    _no_secret(raised.value)


async def test_a_403_from_the_key_check_names_the_site(make_client: ClientFactory) -> None:
    with FakeDatadog(generate_org(users=2, seed=1, teams=1, schedules=1)) as fake:
        client = make_client(fake, api_key=CANARY_API_KEY, app_key=CANARY_APP_KEY, site="datadoghq.eu")
        with pytest.raises(InvalidAPIKey) as raised:
            await client.validate()
    text = str(raised.value)
    assert "may belong to another Datadog site" in text
    assert "datadoghq.eu" in text
    _no_secret(raised.value)


# -- keys in clear ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://api.datadoghq.com", "http://10.0.0.8:8080", "http://localhost.evil.com"])
def test_plain_http_off_loopback_is_refused(url: str) -> None:
    with pytest.raises(InsecureBaseURL, match="unencrypted"):
        DatadogClient(api_key="a" * 32, app_key="b" * 40, base_url=url)
    DatadogClient(api_key="a" * 32, app_key="b" * 40, base_url=url, allow_insecure_http=True)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:2", "https://dd.example"])
def test_loopback_and_https_are_accepted(url: str) -> None:
    DatadogClient(api_key="a" * 32, app_key="b" * 40, base_url=url)


async def test_an_endless_chunked_body_is_read_only_up_to_the_cap() -> None:
    """No Content-Length to refuse on: the transport stops reading as soon as the cap is passed."""
    body, cap = EndlessBody(), 64 * 1024

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "application/json"}, stream=body)

    client = answered_by(handler, max_response_bytes=cap)
    with pytest.raises(UnexpectedResponse, match="larger than the 65536-byte cap"):
        await listed(client.fetch_users)()
    await client.aclose()
    assert body.yielded == cap // len(body.chunk) + 1


def _chained(outer: Exception, *causes: BaseException) -> Exception:
    current: BaseException = outer
    for cause in causes:
        current.__cause__ = cause
        current = cause
    return outer


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (_chained(httpx.ConnectError("[Errno -2] Name or service not known"), socket.gaierror(-2, "x")),
         "DNS lookup failed"),
        (_chained(httpx.ConnectError("All connection attempts failed"), OSError("x"), ConnectionRefusedError(111, "y")),
         "connection refused"),
        (_chained(httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
                  ssl.SSLCertVerificationError(1, "certificate verify failed")), "TLS certificate verification failed"),
        (httpx.ConnectTimeout(""), "timed out connecting"),
    ],
)  # fmt: skip
def test_unreachable_datadog_names_the_host_and_the_cause(exc: Exception, cause: str) -> None:
    text = describe_transport_error(exc, "api.datadoghq.eu", [CANARY_API_KEY])
    assert text.startswith(f"cannot reach api.datadoghq.eu: {cause}")
    assert "ConnectError" not in text


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (httpx.ReadTimeout(""), "timed out waiting for the response"),
        (httpx.RemoteProtocolError("peer closed"), "the connection closed before the response was complete"),
    ],
)
def test_a_datadog_that_answered_badly_is_said_to_be_reached_not_unreachable(exc: Exception, cause: str) -> None:
    text = describe_transport_error(exc, "api.datadoghq.eu", [CANARY_API_KEY])
    assert text.startswith(f"api.datadoghq.eu was reached, but {cause}")


# -- through the sync engine: the transport's budget is the whole budget -----------------------------------------


async def _sync(client: DatadogClient, path: Path) -> None:
    connector = DatadogConnector(client, DatadogOptions(site="datadoghq.com"))
    await sync_to_file(connector.syncers(), path, SyncOptions())


async def test_a_sync_whose_page_answers_503_forever_makes_exactly_max_attempts_requests(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    fake.faults.force(503, times=1000, path=USERS, method="GET")
    client = _client(make_client, fake, retry=RetryPolicy(max_attempts=5, base_delay=0.0, max_delay=0.0))
    with pytest.raises(Unavailable) as raised:
        await _sync(client, tmp_path / "s.c1z")
    assert raised.value.retryable, "the sync fails retryably: ConductorOne reschedules it"
    assert fake.count("GET", ROUTE) == 5  # was 5 x 8 = 40 with the engine retrying too


async def test_a_sync_hitting_an_hour_long_rate_limit_fails_at_once(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    fake.faults.force(429, times=1000, path=USERS, method="GET", reset=3600)
    clock = FakeTime()
    client = make_client(fake, retry=RETRY, sleep=clock.sleep, clock=clock.clock)
    with pytest.raises(RateLimited) as raised:
        await _sync(client, tmp_path / "s.c1z")
    assert raised.value.retryable
    assert raised.value.retry_after == 3600.0
    assert fake.count("GET", ROUTE) == 1
    assert clock.sleeps == []


async def test_an_empty_page_its_own_total_contradicts_fails_the_sync(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    """Page 0 of the users is empty though its total says 1,000: the listing ended there and the sync finished
    complete without a single user (to ConductorOne, every user deleted)."""
    fake.faults.hostile("empty-page", path=USERS, method="GET")
    connector = DatadogConnector(_client(make_client, fake), DatadogOptions())
    with pytest.raises(UnexpectedResponse) as raised:
        await sync_to_file(connector.syncers(), tmp_path / "s.c1z", SyncOptions())
    assert raised.value.retryable, "the sync fails retryably: ConductorOne reschedules it"
    assert "GET /api/v2/users -> 200: page 0: no items" in str(raised.value)


async def test_a_user_created_past_the_last_timestamp_syncs_without_the_date(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    """9999-12-31T23:59:59-01:00 parses, but no protobuf Timestamp holds it: the sync failed with a ValueError
    (a traceback, and every later sync the same) instead of storing the user without its creation date."""
    user = next(iter(fake.org.users.values()))
    user.created_at = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-1)))
    connector = DatadogConnector(_client(make_client, fake), DatadogOptions())
    path = tmp_path / "s.c1z"
    await sync_to_file(connector.syncers(), path, SyncOptions())
    with C1ZReader(path) as reader:
        stored = next(r for r in reader.resources("user") if r.id.resource == user.id)
    assert not stored.HasField("created_at")


async def test_a_schedules_responders_answered_with_another_schedules_fail_the_sync(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    """Another schedule's responders (answers mixed up) were stored as on call for this one."""
    with FakeDatadog(generate_org(users=5, seed=3, teams=1, schedules=2)) as fake:
        asked, other = list(fake.org.schedules)
        responders = "/api/v2/on-call/schedules/{}/responders"
        transport = MixedUpAnswers(responders.format(asked), responders.format(other))
        options = DatadogOptions(sync_schedules=True)
        connector = DatadogConnector(_client(make_client, fake, transport=transport), options)
        with pytest.raises(UnexpectedResponse, match="the answer is about another schedule"):
            await sync_to_file(connector.syncers(), tmp_path / "s.c1z", SyncOptions())


async def test_a_responder_whose_shift_the_answer_leaves_out_fails_the_sync(tmp_path: Path) -> None:
    """The current responder names two shifts and `included` holds one: whoever was on call in the other was synced
    as not on call, the grant revoked to ConductorOne."""
    responders = {
        "data": {"id": "r", "type": "schedule_oncall_responders", "relationships": {}},
        "included": [
            {
                "type": "schedule_oncall_responder",
                "id": "r-current",
                "attributes": {"position": "current"},
                "relationships": {"shifts": {"data": [{"type": "shifts", "id": "a"}, {"type": "shifts", "id": "b"}]}},
            },
            {"type": "shifts", "id": "a", "relationships": {"user": {"data": {"type": "users", "id": "u1"}}}},
        ],
    }
    with pytest.raises(UnexpectedResponse, match="a current responder's shift is not in `included`") as raised:
        await _sync_schedule_answered(responders, tmp_path)
    assert raised.value.retryable


async def _sync_schedule_answered(responders: Mapping[str, object], tmp_path: Path) -> None:
    schedules = {"data": [{"type": "schedules", "id": "s1", "attributes": {"name": "s1"}}], "meta": {"page": {}}}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/on-call/schedules":
            return httpx.Response(200, json=schedules)
        if request.url.path.endswith("/responders"):
            return httpx.Response(200, json=responders)
        total = {"page": {"total_count": 0}, "pagination": {"total": 0}}
        return httpx.Response(200, json={"data": [], "meta": total})

    client = answered_by(handler)
    try:
        connector = DatadogConnector(client, DatadogOptions(sync_schedules=True))
        await sync_to_file(connector.syncers(), tmp_path / "s.c1z", SyncOptions())
    finally:
        await client.aclose()


@pytest.mark.parametrize("responders", [{}, {"data": None}, {"data": [], "included": []}], ids=["{}", "null", "list"])
async def test_a_responders_answer_without_its_data_object_is_not_nobody_on_call(
    responders: dict[str, object], tmp_path: Path
) -> None:
    """A JSON body with no `data` object is no responders answer (a gateway's, a stub's): it read as "nobody on
    call", and every on-call grant of the schedule was revoked to ConductorOne."""
    with pytest.raises(UnexpectedResponse, match="the answer has no data object"):
        await _sync_schedule_answered(responders, tmp_path)


async def test_a_responder_the_answer_names_but_leaves_out_fails_the_sync(tmp_path: Path) -> None:
    """The answer names its current responder (`relationships.responders`), asked for with `include=responders`,
    and `included` leaves it out: with no responder to read, every shift the answer holds (here none) was taken,
    and whoever was on call was synced as not on call."""
    responders = {
        "data": {
            "id": "r",
            "type": "schedule_oncall_responders",
            "relationships": {"responders": {"data": [{"type": "schedule_oncall_responder", "id": "r-current"}]}},
        },
        "included": [],
    }
    with pytest.raises(UnexpectedResponse, match="a responder the answer names is not in `included`") as raised:
        await _sync_schedule_answered(responders, tmp_path)
    assert raised.value.retryable


async def test_half_a_surrogate_pair_or_bytes_not_utf8_in_a_name_sync_as_go_does(tmp_path: Path) -> None:
    """The JSON parser refuses a `\\ud800` escape without its pair and bytes that are not UTF-8, so one user named
    so failed every sync ("body is not valid JSON", retried for ever). Go's decoder puts U+FFFD in their place and
    syncs; so do we."""
    users = (
        b'{"data": ['
        b'{"type": "users", "id": "u1", "attributes": {"name": "a\\ud800b \\ud83d\\ude00"}},'
        b'{"type": "users", "id": "u2", "attributes": {"name": "c\xffd", "title": "\\\\ud800"}}'
        b'], "meta": {"page": {"total_count": 2}}}'
    )
    empty = {"data": [], "meta": {"page": {"total_count": 0}, "pagination": {"total": 0}}}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == USERS:
            return httpx.Response(200, content=users, headers={"content-type": "application/json"})
        return httpx.Response(200, json=empty)

    client = answered_by(handler)
    await sync_to_file(DatadogConnector(client, DatadogOptions()).syncers(), tmp_path / "s.c1z", SyncOptions())
    await client.aclose()
    with C1ZReader(tmp_path / "s.c1z") as reader:
        names = {r.id.resource: r.display_name for r in reader.resources("user")}
    assert names == {"u1": "a\ufffdb \U0001f600", "u2": "c\ufffdd"}


async def test_a_service_accounts_keys_answered_with_another_accounts_fail_the_sync(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    """Another account's keys (answers mixed up) were stored as this account's: their owner, and the identity a
    revoke starts from, wrong in ConductorOne."""
    org = fake.org
    asked, other = (
        org.add_user(f"{n}@example.com", name=n, service_account=True, status="Active") for n in ("asked", "other")
    )
    key = AppKey(org.new_id(), "other's key", org.new_secret(40), other.id, org.now())
    org.app_keys[key.id] = key
    keys = "/api/v2/service_accounts/{}/application_keys"
    transport = MixedUpAnswers(keys.format(asked.id), keys.format(other.id))
    options = DatadogOptions(sync_secrets=True, sync_service_account_application_keys=True)
    connector = DatadogConnector(_client(make_client, fake, transport=transport), options)
    with pytest.raises(UnexpectedResponse, match="page 0: a key of another owner"):
        await sync_to_file(connector.syncers(), tmp_path / "s.c1z", SyncOptions())


@pytest.mark.parametrize(
    ("path", "options"),
    [
        (USERS, DatadogOptions()),
        ("/api/v2/roles", DatadogOptions()),
        ("/api/v2/team", DatadogOptions()),
        ("/api/v2/api_keys", DatadogOptions(sync_secrets=True)),
        ("/api/v2/on-call/schedules", DatadogOptions(sync_schedules=True)),
    ],
)
async def test_a_404_from_one_of_the_orgs_own_lists_fails_the_sync(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path, path: str, options: DatadogOptions
) -> None:
    """A 404 is "that object is gone" to the sync engine (a warning, the listing skipped). The org's own lists
    always exist, so a 404 there (a proxy's misroute) must not be read so: the sync finished complete without a
    single user, as if every user had been deleted."""
    fake.faults.force(404, path=path, method="GET")
    connector = DatadogConnector(_client(make_client, fake), options)
    with pytest.raises(UnexpectedResponse) as raised:
        await sync_to_file(connector.syncers(), tmp_path / "s.c1z", SyncOptions())
    assert raised.value.retryable, "the sync fails retryably: ConductorOne reschedules it"
    assert (raised.value.status, raised.value.path) == (404, path)
    assert "not found, but this list always exists" in str(raised.value)


@pytest.mark.parametrize("listing", ["application_keys", "access_tokens"])
async def test_a_404_from_a_service_accounts_keys_fails_the_sync_and_the_next_starts_over(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path, listing: str
) -> None:
    """An enabled service account's keys and tokens are never skipped (docs/spec/reference-connector.md §5.4, fail-hard
    rules): a 404 was the engine's "gone, skip it", and the sync finished complete without that account's keys and
    tokens, which ConductorOne then took as deleted while they were live. The run is not resumed: the resumed run
    would list the same account's keys again, while a run started over lists it as it is then."""
    org = fake.org
    sa = org.add_user("robot@example.com", name="Robot", service_account=True, status="Active")
    key = AppKey(org.new_id(), "deploy", org.new_secret(40), sa.id, org.now())
    org.app_keys[key.id] = key
    fake.faults.force(404, path=f"/api/v2/service_accounts/{sa.id}/{listing}", method="GET")
    options = DatadogOptions(sync_secrets=True, sync_service_account_application_keys=True)
    path = tmp_path / "s.c1z"
    with pytest.raises(UnexpectedResponse) as raised:
        await sync_to_file(DatadogConnector(_client(make_client, fake), options).syncers(), path, SyncOptions())
    assert (raised.value.status, raised.value.retryable, raised.value.resumable) == (404, True, False)
    assert "service account" in str(raised.value)
    result = await sync_to_file(DatadogConnector(_client(make_client, fake), options).syncers(), path, SyncOptions())
    assert not result.warnings
    with C1ZReader(path) as reader:
        assert key.id in {r.id.resource for r in reader.resources("service-account-application-key")}


@pytest.mark.parametrize("body", [{}, {"meta": {"page": {"total": 0}}}, {"status": "ok"}], ids=["{}", "meta", "other"])
async def test_a_list_answer_without_data_is_no_empty_list(body: dict[str, object], tmp_path: Path) -> None:
    """A JSON:API list answer always holds `data` (every recorded one does). A 200 JSON body without it (a gateway's
    or a stub's) read as an empty page: On-Call schedules, the one list without a total to contradict it, synced as
    none at all, so ConductorOne saw every schedule and its on-call grants deleted."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/on-call/schedules":
            return httpx.Response(200, json=body)
        if request.url.path == "/api/v2/team":
            return httpx.Response(200, json={"data": [], "meta": {"pagination": {"total": 0}}})
        return httpx.Response(200, json={"data": [], "meta": {"page": {"total_count": 0}}})

    client = answered_by(handler)
    try:
        connector = DatadogConnector(client, DatadogOptions(sync_schedules=True))
        with pytest.raises(UnexpectedResponse, match=r"invalid field\(s\): data \(missing\)") as raised:
            await sync_to_file(connector.syncers(), tmp_path / "s.c1z", SyncOptions())
    finally:
        await client.aclose()
    assert raised.value.path == "/api/v2/on-call/schedules"


async def test_a_404_from_a_teams_memberships_still_skips_that_team(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    """The team was deleted between the teams page and its memberships: the rest of the sync goes on."""
    team = next(t for t in fake.org.teams.values() if t.members)
    fake.faults.force(404, path=f"/api/v2/team/{team.id}/memberships", method="GET")
    connector = DatadogConnector(_client(make_client, fake), DatadogOptions())
    result = await sync_to_file(connector.syncers(), tmp_path / "s.c1z", SyncOptions())
    assert [w.split(":", 1)[0] for w in result.warnings] == ["list-grants team"]
    assert result.stats["resources_by_resource_type"] == {"role": len(fake.org.roles), "team": len(fake.org.teams),
                                                          "user": len(fake.org.users)}  # fmt: skip


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": f"text/{CANARY_API_KEY}"},
        {"Content-Type": f"{CANARY_APP_KEY}/json-ish"},
        {"Content-Type": "application/json", "Content-Encoding": CANARY_API_KEY},
        {"Content-Type": "application/json", "Content-Encoding": CANARY_APP_KEY[:40]},
    ],
)
async def test_a_header_echoing_a_key_never_reaches_the_error(headers: dict[str, str]) -> None:
    """A broken proxy that echoes a key in a header the error describes: the error says what was wrong
    without quoting the key (it would reach a log line and a FinishTask message)."""

    class Body(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b'{"data": []}'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, stream=Body())

    client = DatadogClient(
        api_key=CANARY_API_KEY, app_key=CANARY_APP_KEY, base_url="https://dd.example",
        transport=httpx.MockTransport(handler), retry=RETRY,
    )  # fmt: skip
    with pytest.raises(UnexpectedResponse) as raised:
        await listed(client.fetch_users)()
    await client.aclose()
    assert "/api/v2/users" in str(raised.value)
    for text in (str(raised.value), repr(raised.value)):
        assert CANARY_API_KEY[:12] not in text
        assert CANARY_APP_KEY[:12] not in text


def _user(uid: str) -> dict[str, object]:
    return {"type": "users", "id": uid, "attributes": {"email": f"{uid}@example.com"}}


@pytest.mark.parametrize("status", [200, 203, 205, 206])
@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"data": [_user("u1")], "meta": {"page": {"total_count": 0}}}, "past the list's own total"),
        ({"data": [_user(f"u{i}") for i in range(100)], "meta": {"page": {"total_count": 500}}}, "repeats page 0"),
        (
            {"data": [_user("u1")], "included": [{"type": "roles", "id": "r", "attributes": [1]}],
             "meta": {"page": {"total_count": 1}}},
            "included roles",
        ),
    ],
)  # fmt: skip
async def test_a_page_error_names_the_status_the_page_came_with(
    status: int, body: dict[str, object], words: str
) -> None:
    """Any 2xx is a page; an error found in it names the status it came with (it said 200 whatever the answer)."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    client = answered_by(handler)

    async def walk() -> None:
        async for page in paginate(listed(client.fetch_users)):
            included_roles(page)

    with pytest.raises(UnexpectedResponse, match=words) as raised:
        await walk()
    await client.aclose()
    assert raised.value.status == status
    assert f"-> {status}" in str(raised.value)


@pytest.mark.parametrize(
    "bad_id",
    ["..", ".", "x" * 1025, "t\x00", "a\nb", " ", "\x7f"],
    ids=["dot-dot", "dot", "long", "nul", "newline", "blank", "del"],
)
@pytest.mark.parametrize(
    ("path", "item"),
    [
        ("/api/v2/team", {"type": "team", "id": None, "attributes": {"name": "t", "user_count": 2}}),
        ("/api/v2/on-call/schedules", {"type": "schedules", "id": None, "attributes": {"name": "s"}}),
        (USERS, {"type": "users", "id": None, "attributes": {"service_account": True, "status": "Active"}}),
    ],
    ids=["team", "schedule", "service-account"],
)
async def test_a_listed_id_no_request_path_can_hold_fails_the_sync_naming_the_list(
    path: str, item: dict[str, object], bad_id: str, tmp_path: Path
) -> None:
    """A team, schedule or service account Datadog lists as `..` (or `.`, or an id no URL holds): the sync failed
    later, asking for its memberships, responders or keys, with "'..' is not a valid Datadog id", an
    InvalidArgumentError (a malformed task's error) that named no endpoint. A blank or control-character id was
    stored, and every grant on it refused in its revoke as malformed. The page that listed it is the answer that was
    wrong, and is named."""
    listed = {**item, "id": bad_id}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == path:
            meta = (
                {"page": {"total_count": 1}, "pagination": {"total": 1}} if path != "/api/v2/on-call/schedules" else {}
            )
            return httpx.Response(200, json={"data": [listed], "meta": meta})
        if request.url.path == "/api/v2/on-call/schedules":
            return httpx.Response(200, json={"data": [], "meta": {}})
        return httpx.Response(200, json={"data": [], "meta": {"page": {"total_count": 0}, "pagination": {"total": 0}}})

    client = answered_by(handler)
    options = DatadogOptions(sync_schedules=True, sync_secrets=True, sync_service_account_application_keys=True)
    try:
        with pytest.raises(UnexpectedResponse) as raised:
            await sync_to_file(DatadogConnector(client, options).syncers(), tmp_path / "s.c1z", SyncOptions())
    finally:
        await client.aclose()
    assert (raised.value.path, raised.value.status) == (path, 200)
    assert (
        "page 0: an item's id cannot name it (blank, a dot segment, a control character or over 1024 characters)"
        in str(raised.value)
    )


@pytest.mark.parametrize(
    "bad_id",
    ["..", ".", "x" * 1025, "r\x00", "a\nb", " ", "\x7f"],
    ids=["dot-dot", "dot", "long", "nul", "newline", "blank", "del"],
)
@pytest.mark.parametrize(
    ("link", "path"),
    [
        ("role", USERS),
        ("member", "/api/v2/team/{team}/memberships"),
        ("on-call", "/api/v2/on-call/schedules/{schedule}/responders"),
    ],
)
async def test_a_link_no_later_request_can_use_fails_the_sync_naming_the_answer(
    fake: FakeDatadog, make_client: ClientFactory, link: str, path: str, bad_id: str, tmp_path: Path
) -> None:
    """A user's role link, a team membership's user or an on-call shift's user that is `..`, blank, holds a control
    character or is over-long became a grant's entitlement resource or principal in the c1z: a grant ConductorOne
    could never revoke (the revoke names it, and is refused as malformed). A listed id that cannot name its item
    fails the sync naming its list; a link is refused the same way."""
    org = fake.org
    team = next(t for t in org.teams.values() if t.members)
    schedule = next(iter(org.schedules.values()))
    if link == "role":
        next(iter(org.users.values())).role_ids.append(bad_id)
    elif link == "member":
        member = next(iter(team.members.values()))
        member.user_id = bad_id
    else:
        for layer in schedule.layers:
            layer.members = [bad_id]
    client = _client(make_client, fake)
    try:
        with pytest.raises(UnexpectedResponse) as raised:
            await sync_to_file(
                DatadogConnector(client, DatadogOptions(sync_schedules=True)).syncers(),
                tmp_path / "s.c1z",
                SyncOptions(),
            )
    finally:
        await client.aclose()
    assert (raised.value.path, raised.value.status) == (path.format(team=team.id, schedule=schedule.id), 200)
    assert "cannot name" in str(raised.value)
    assert "blank, a dot segment, a control character or over 1024 characters" in str(raised.value)
    assert not raised.value.retryable


# -- answers that multiply into grants: each is bounded before a grant is built ---------------------------------


def _users_linking(roles_per_user: list[list[str]]) -> dict[str, object]:
    users = [
        {
            "type": "users",
            "id": f"u{n}",
            "attributes": {"name": f"u{n}", "email": f"u{n}@example.com", "status": "Active"},
            "relationships": {"roles": {"data": [{"type": "roles", "id": r} for r in roles]}},
        }
        for n, roles in enumerate(roles_per_user)
    ]
    return {"data": users, "meta": {"page": {"total_count": len(users)}}}


def _paged(items: list[dict[str, object]], request: httpx.Request) -> dict[str, object]:
    """The page of `items` the request asks for, as a listing Datadog pages by number answers it (all of them to a
    request that names no page size)."""
    number = int(request.url.params.get("page[number]", 0))
    size = int(request.url.params.get("page[size]", len(items) or 1))
    return {"data": items[number * size : (number + 1) * size], "meta": {"page": {"total_count": len(items)}}}


async def _sync_users_answered(users: Mapping[str, object], tmp_path: Path, *, list_roles: bool = True) -> Path:
    """`list_roles`: the roles the users link to are listed (a grant of a role the c1z does not hold is left out:
    test_sync_dangling.py); otherwise none is."""
    empty = {"data": [], "meta": {"page": {"total_count": 0}, "pagination": {"total": 0}}}
    data = users.get("data")
    assert isinstance(data, list)
    linked = sorted({str(link["id"]) for user in data for link in user["relationships"]["roles"]["data"]})
    roles: list[dict[str, object]] = (
        [{"type": "roles", "id": rid, "attributes": {"name": rid}} for rid in linked] if list_roles else []
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/roles":
            return httpx.Response(200, json=_paged(roles, request))
        return httpx.Response(200, json=users if request.url.path == USERS else empty)

    client = answered_by(handler)
    try:
        await sync_to_file(DatadogConnector(client, DatadogOptions()).syncers(), tmp_path / "s.c1z", SyncOptions())
    finally:
        await client.aclose()
    return tmp_path / "s.c1z"


async def test_a_role_a_user_lists_twice_is_one_grant(tmp_path: Path) -> None:
    """A link repeated in `relationships.roles` is the same access: it built the same grant once per copy (a million
    copies in one page were a million grants in memory before the store merged them)."""
    linked = _users_linking([["r1", "r1", "r2", "r1"]])["data"]
    assert isinstance(linked, list)
    assert User.model_validate(linked[0]).role_ids == ("r1", "r2")
    path = await _sync_users_answered(_users_linking([["r1", "r1", "r2", "r1"], ["r2", "r2"]]), tmp_path)
    with C1ZReader(path) as reader:
        grants = sorted(g.id for g in reader.grants())
    assert grants == [
        "role:r1:member:user:u0",
        "role:r2:member:user:u0",
        "role:r2:member:user:u1",
    ]


async def test_a_users_page_linking_more_objects_than_any_org_has_fails_naming_the_page(tmp_path: Path) -> None:
    """A 29 MiB users page (under the body cap) linking its users to a million roles built a million grants on the
    event loop: 2.7 GB and 17 s, an out-of-memory kill at every sync. A page may link 20,000 objects (the largest
    org observed has 4,376 roles, a page 100 users); past that it is the wrong answer, refused before any grant."""
    many = [[f"r{k}" for k in range(10_001)], [f"s{k}" for k in range(10_000)]]
    with pytest.raises(UnexpectedResponse) as raised:
        await _sync_users_answered(_users_linking(many), tmp_path)
    assert (raised.value.path, raised.value.status, raised.value.retryable) == (USERS, 200, False)
    assert "page 0: its items link to 20001 objects, more than 20,000" in str(raised.value)


async def test_a_page_at_the_link_bound_syncs(tmp_path: Path) -> None:
    """The bound refuses only what no org sends: 20,000 distinct links (duplicates are not counted) sync whole."""
    many = [[f"r{k}" for k in range(10_000)] * 2, [f"r{k}" for k in range(10_000, 20_000)]]
    # Without 20,000 roles listed (a sync of them costs seconds): every grant is built, then left out as naming a role
    # the file does not hold, and counted.
    with structlog.testing.capture_logs() as events:
        await _sync_users_answered(_users_linking(many), tmp_path, list_roles=False)
    (finished,) = [e for e in events if e["event"] == "sync finished"]
    assert finished["dropped_dangling_grants"] == 20_000


async def test_a_schedule_answered_with_more_people_on_call_than_any_org_has_fails(tmp_path: Path) -> None:
    """The responders answer is one object, not a page: 20,001 people on call at once built 20,001 grants for one
    schedule; a hostile answer of a million shifts, a million. It is refused before any grant is built."""
    shifts = [
        {"type": "shifts", "id": f"sh{n}", "relationships": {"user": {"data": {"type": "users", "id": f"u{n}"}}}}
        for n in range(20_001)
    ]
    responders = {"data": {"id": "r", "type": "schedule_oncall_responders", "relationships": {}}, "included": shifts}
    with pytest.raises(UnexpectedResponse, match="20001 people on call at once, more than 20,000"):
        await _sync_schedule_answered(responders, tmp_path)


@pytest.mark.parametrize(
    "scheduled_at",
    ["not a time", "2026-13-45T99:00:00Z", 1e300, {"at": 1}],
    ids=["text", "no-such-day", "huge-number", "object"],
)
async def test_a_responders_answer_whose_scheduled_at_does_not_parse_still_syncs_who_is_on_call(
    scheduled_at: object, tmp_path: Path
) -> None:
    """Every timestamp of an answer that does not parse is none (models.py), but the responders' `scheduled_at` was
    read strictly: one Datadog wrote otherwise failed every sync of the schedules, not retryably ("invalid field(s):
    scheduled_at"), though who is on call does not depend on it. The on-call grant is synced, as Go's client, which
    keeps what it cannot parse aside, does."""
    responders = {
        "data": {
            "id": "r",
            "type": "schedule_oncall_responders",
            "attributes": {"scheduled_at": scheduled_at},
            "relationships": {"responders": {"data": [{"type": "schedule_oncall_responder", "id": "r-current"}]}},
        },
        "included": [
            {
                "type": "schedule_oncall_responder",
                "id": "r-current",
                "attributes": {"position": "current"},
                "relationships": {"shifts": {"data": [{"type": "shifts", "id": "a"}]}},
            },
            {"type": "shifts", "id": "a", "relationships": {"user": {"data": {"type": "users", "id": "u1"}}}},
        ],
    }
    await _sync_schedule_answered(responders, tmp_path)
    with C1ZReader(tmp_path / "s.c1z") as reader:
        grants = [g.id for g in reader.grants()]
    assert grants == ["schedule:s1:on_call:user:u1"]


async def test_a_roles_page_of_admin_clones_is_no_page_of_grants(tmp_path: Path) -> None:
    """The link bound is on the grants one answer may yield. A role's permissions become none, yet they were counted:
    100 roles cloned from the admin role (about 150 permissions each, more as Datadog adds them) near the 20,000
    links alone, and past them every sync failed on the roles page ("its items link to 25000 objects")."""
    roles = [
        {
            "type": "roles",
            "id": f"r{n}",
            "attributes": {"name": f"admin clone {n}"},
            "relationships": {"permissions": {"data": [{"type": "permissions", "id": f"p{k}"} for k in range(250)]}},
        }
        for n in range(100)
    ]
    empty = {"data": [], "meta": {"page": {"total_count": 0}, "pagination": {"total": 0}}}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/roles":
            page = roles if request.url.params.get("page[number]") == "0" else []
            return httpx.Response(200, json={"data": page, "meta": {"page": {"total_count": len(roles)}}})
        return httpx.Response(200, json=empty)

    client = answered_by(handler)
    try:
        connector = DatadogConnector(client, DatadogOptions())
        await sync_to_file(connector.syncers(), tmp_path / "s.c1z", SyncOptions())
    finally:
        await client.aclose()
    with C1ZReader(tmp_path / "s.c1z") as reader:
        assert sum(1 for _ in reader.resources("role")) == 100
