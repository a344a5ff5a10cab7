"""A `Retry-After` HTTP-date measured against the peer's clock, not this host's: the answer's own `Date` says when the
peer made it, on the clock that chose the date (RFC 9110 §6.6.1). Measured from this host's wall clock alone, a host
ahead of the peer read "in 30 s" as a date gone by (no wait: a Datadog call spent its ten 429 waits in ten seconds and
failed, a token 503 was asked again on the loop's own sub-second backoff), and a host behind it waited years' worth,
capped (a Datadog call gave up at once, a token loop waited up to an hour). Without a `Date` (or one that is none), the
host's clock is all there is, as before."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from connector.baton.c1.credentials import parse_client_id, parse_client_secret
from connector.baton.c1.errors import C1AuthUnavailableError
from connector.baton.c1.token import TokenSource
from connector.baton.httpdate import retry_after_seconds
from connector.datadog.errors import RateLimited
from connector.datadog.ratelimit import RateLimitHeaders
from connector.datadog.retry import RetryPolicy
from tests.datadog.helpers import FakeTime
from tests.fakes.c1 import FakeC1
from tests.independent.datadog.peer import outcome, refused, user, users_page
from tests.independent.datadog.test_pacing import THROTTLED, create_key, list_users
from tests.independent.rawpeer import JSON, http

PEER_NOW = 784_111_777.0  # Sun, 06 Nov 1994 08:49:37 GMT: the peer's clock, far from this host's whatever it says
HOST_AHEAD = PEER_NOW + 600
HOST_BEHIND = PEER_NOW - 600


def _date(epoch: float) -> str:
    return formatdate(epoch, usegmt=True)


@pytest.mark.parametrize("host", [HOST_AHEAD, HOST_BEHIND, PEER_NOW], ids=["host-ahead", "host-behind", "agreeing"])
def test_a_retry_after_date_is_measured_from_the_answers_date(host: float) -> None:
    assert retry_after_seconds(_date(PEER_NOW + 30), maximum=3600, now=host, sent=_date(PEER_NOW)) == 30


@pytest.mark.parametrize("sent", [None, "", "not a date", "x" * 100, "Mon, 32 Foo 1994 25:61:61 GMT"])
def test_without_a_date_that_is_one_the_hosts_clock_measures_it(sent: str | None) -> None:
    assert retry_after_seconds(_date(PEER_NOW + 30), maximum=3600, now=PEER_NOW + 10, sent=sent) == 20


def test_delta_seconds_owe_nothing_to_any_clock() -> None:
    assert retry_after_seconds("30", maximum=3600, now=HOST_AHEAD, sent=_date(PEER_NOW)) == 30


@pytest.mark.parametrize("host", [HOST_AHEAD, HOST_BEHIND], ids=["host-ahead", "host-behind"])
def test_datadogs_rate_limit_headers_measure_a_date_from_the_answers_date(host: float) -> None:
    headers = {"retry-after": _date(PEER_NOW + 30), "date": _date(PEER_NOW)}
    info = RateLimitHeaders.parse(headers, host)
    assert info is not None
    assert info.retry_after == 30


def _throttled(date: float, wait: float) -> bytes:
    headers = [(b"Date", _date(date).encode()), (b"Retry-After", _date(date + wait).encode()), *JSON]
    return http(429, THROTTLED, headers)


@pytest.mark.parametrize(
    "peer_now",
    [PEER_NOW, 4_102_444_800.0],  # 1994 and 2100: this host's clock 32 years ahead of the peer's, or 74 behind
    ids=["host-ahead", "host-behind"],
)
async def test_a_datadog_429_dated_by_a_clock_far_from_this_hosts_is_waited_as_asked(peer_now: float) -> None:
    time_ = FakeTime()
    page = http(200, users_page(user("u-1")))
    result, peer = await outcome(
        [_throttled(peer_now, 30), page], list_users, retry=RetryPolicy(), sleep=time_.sleep, clock=time_.clock
    )
    assert [item.id for item in getattr(result, "items", [])] == ["u-1"], result
    assert len(peer.requests) == 2
    assert 30 in time_.sleeps, time_.sleeps


async def test_a_datadog_429_asking_longer_than_any_wait_by_its_own_clock_still_gives_up() -> None:
    result, peer = await outcome([_throttled(PEER_NOW, 3600)], create_key, retry=RetryPolicy())
    error = refused(result, RateLimited, "429", "3600")
    assert error.retryable
    assert len(peer.requests) == 1


@pytest.mark.parametrize("skew", [600.0, -600.0], ids=["host-ahead", "host-behind"])
async def test_the_token_endpoints_retry_after_date_is_measured_from_its_date(fake: FakeC1, skew: float) -> None:
    """The fake's answers carry its own `Date` (this machine's clock); the source's wall clock is ten minutes off."""
    source = TokenSource(
        parse_client_id(fake.client_id),
        parse_client_secret(fake.client_secret),
        verify=fake.ssl_context(),
        wall_clock=lambda: time.time() + skew,
    )
    fake.fail_token_requests(503, retry_after=[_date(time.time() + 30)])
    with pytest.raises(C1AuthUnavailableError) as caught:
        await source.token()
    await source.aclose()
    # The fake's Date is whole seconds, made after the Retry-After was: 29 to 30 s, never 0 nor 630.
    assert caught.value.retry_after is not None
    assert 27 <= caught.value.retry_after <= 31, caught.value.retry_after
