"""A delta-seconds header longer than any number the code can hold (review r1401 of leftover1401).

What must hold: an `Age` or a `Retry-After` of thousands of digits is 2^31 seconds, as RFC 9111 §1.2.2 says to read a
value past what one can represent; never the ValueError `int()` raises for text of over 4,300 digits, which escaped
the Datadog client and the token source as a traceback. Leading zeros do not make a small number large.
"""

from __future__ import annotations

from email.utils import formatdate

import httpx

from connector.baton.c1.credentials import parse_client_id, parse_client_secret
from connector.baton.c1.errors import C1Error
from connector.baton.c1.token import TokenSource, _clock_skew
from connector.baton.httpdate import delay_seconds
from connector.datadog.paging import Page
from connector.datadog.retry import RetryPolicy
from tests.baton.c1.test_token import as_sent
from tests.datadog.helpers import FakeTime
from tests.fakes.c1 import generate_client_credentials
from tests.independent.datadog.peer import outcome, user, users_page
from tests.independent.datadog.test_pacing import THROTTLED, list_users
from tests.independent.rawpeer import JSON, http

PEER = 1_800_000_000.0
HUGE = "1" * 5000


def _date(epoch: float) -> str:
    return formatdate(epoch, usegmt=True)


def test_delta_seconds_past_two_to_the_31_of_any_length_are_two_to_the_31() -> None:
    assert delay_seconds(HUGE, "Age") == 2**31
    assert delay_seconds("2147483649", "Age") == 2**31
    assert delay_seconds("0" * 5000 + "7", "Age") == 7
    assert delay_seconds("000", "Age") == 0


async def test_a_datadog_429_measured_with_a_huge_age_is_no_traceback() -> None:
    time_ = FakeTime()
    head = [(b"Date", _date(PEER).encode()), (b"Age", HUGE.encode()), (b"Retry-After", _date(PEER + 30).encode())]
    result, _ = await outcome(
        [http(429, THROTTLED, [*head, *JSON]), http(200, users_page(user("u-1")))],
        list_users,
        retry=RetryPolicy(),
        sleep=time_.sleep,
        clock=time_.clock,
    )
    # Date + Age is past the Retry-After date: no wait is asked for, and the page that follows is read.
    assert isinstance(result, Page), result
    assert [item.id for item in result.items] == ["u-1"]


def test_the_token_endpoints_clock_check_reads_a_huge_age_as_a_long_hold() -> None:
    answer = httpx.Response(400, headers={"Date": _date(PEER), "Age": HUGE})
    _clock_skew(answer, PEER)  # no ValueError


async def test_a_token_refusal_with_a_huge_age_is_a_refusal() -> None:
    async def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, headers={"Date": _date(PEER), "Age": HUGE}, json={"error": "invalid_client"})

    made = generate_client_credentials("acme.conductor.one:8443", client_name="client-7")
    source = TokenSource(
        parse_client_id(made.client_id),
        parse_client_secret(made.client_secret),
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(as_sent(refuse))),
    )
    try:
        await source.token()
    except C1Error:
        pass
    else:
        raise AssertionError("a 401 is a refusal")
