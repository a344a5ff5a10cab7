"""Class: a peer's header parsed by more than its standard allows. `Retry-After` and `Age` are delay-seconds
(`1*DIGIT`, RFC 9110 §10.2.3, RFC 9111 §1.2.2) or, for Retry-After, an HTTP-date in one of RFC 9110 §5.6.7's three
forms; Datadog's `X-RateLimit-*` are numbers of requests or seconds (docs/spec/datadog-api.md §3). `float()` took
`1_000`, ` 1e3`, `nan`, `inf`; `email.utils` read the four-digit year `0001` as 2001. Anything else is absent, with a
warning naming the header (once per header, then at debug: a proxy's same bad value on every answer)."""

from __future__ import annotations

import calendar

import pytest
import structlog

from connector.baton import httpdate
from connector.baton.httpdate import http_date, retry_after_seconds
from connector.datadog.ratelimit import RateLimitHeaders

NOW = 784_111_777.0  # Sun, 06 Nov 1994 08:49:37 GMT
NOT_NUMBERS = [
    "1_000",
    " 1e3",
    "1e3",
    "nan",
    "inf",
    "-inf",
    "+5",
    "-5",
    "0x10",
    "\u0661\u0662",
    "5 5",
    "1.5.",
    ".5",
    "5.",
]


@pytest.fixture(autouse=True)
def _fresh_warnings() -> None:
    httpdate._told.clear()


def test_a_four_digit_year_is_that_year() -> None:
    assert http_date("Mon, 01 Jan 0001 00:00:00 GMT") == calendar.timegm((1, 1, 1, 0, 0, 0))
    assert http_date("Mon Jan  1 00:00:00 0001") == calendar.timegm((1, 1, 1, 0, 0, 0))


@pytest.mark.parametrize(
    ("raw", "year"),
    # RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is the last such year gone by (seen from 1994).
    [
        ("Sunday, 06-Nov-94 08:49:37 GMT", 1994),
        ("Sunday, 06-Nov-44 08:49:37 GMT", 2044),
        ("Sunday, 06-Nov-45 08:49:37 GMT", 1945),
    ],
)
def test_the_rfc850_forms_two_digit_year_follows_the_fifty_year_rule(raw: str, year: int) -> None:
    assert http_date(raw, now=NOW) == calendar.timegm((year, 11, 6, 8, 49, 37))


@pytest.mark.parametrize(
    "raw",
    [
        "Sun, 06 Nov 1994 08:49:37 +0100",  # an e-mail date, not an HTTP-date
        "Sun, 06 Nov 1994 08:49:37 -0000",
        "06 Nov 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 0000 08:49:37 GMT",
        "Sun, 06 Nov \uff11\uff19\uff19\uff14 08:49:37 GMT",  # full-width digits
    ],
)
def test_anything_but_the_three_forms_is_no_date(raw: str) -> None:
    assert http_date(raw) is None


def test_the_three_forms_are_one_moment() -> None:
    forms = ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"]
    assert {http_date(form, now=NOW) for form in forms} == {NOW}


@pytest.mark.parametrize("raw", NOT_NUMBERS)
def test_a_retry_after_that_is_no_delay_seconds_is_absent_and_said(raw: str) -> None:
    with structlog.testing.capture_logs() as logs:
        assert retry_after_seconds(raw, maximum=3600, now=NOW) is None
    assert [(e["log_level"], e["header"]) for e in logs] == [("warning", "Retry-After")]


def test_delay_seconds_with_optional_whitespace_are_taken() -> None:
    assert retry_after_seconds(" 30\t", maximum=3600) == 30


@pytest.mark.parametrize(
    "header", ["X-RateLimit-Limit", "X-RateLimit-Period", "X-RateLimit-Remaining", "X-RateLimit-Reset"]
)
@pytest.mark.parametrize("raw", NOT_NUMBERS)
def test_a_rate_limit_header_that_is_no_number_is_absent_and_said(header: str, raw: str) -> None:
    with structlog.testing.capture_logs() as logs:
        info = RateLimitHeaders.parse({header.lower(): raw, "x-ratelimit-name": "b"})
    # Nothing left but the bucket's name: no pacing headers at all.
    assert info is None or (info.limit, info.period, info.remaining, info.reset) == (None, None, None, None)
    assert [(e["log_level"], e["header"]) for e in logs] == [("warning", header)]


def test_a_header_warned_about_once_is_then_said_at_debug() -> None:
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            RateLimitHeaders.parse({"x-ratelimit-reset": "nan"})
    assert [e["log_level"] for e in logs] == ["warning", "debug", "debug"]


def test_datadogs_numbers_are_still_read() -> None:
    info = RateLimitHeaders.parse(
        {
            "x-ratelimit-limit": "60",
            "x-ratelimit-period": "60",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": "2.5",
        }
    )
    assert info is not None
    assert (info.limit, info.period, info.remaining, info.reset) == (60, 60.0, 0, 2.5)
