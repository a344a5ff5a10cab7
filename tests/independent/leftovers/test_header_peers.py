"""Class: a peer's header read by rules that depend on something other than the header. Which peer sent a bad header
was not said (one warning per header name, whoever sent it: a bad `Age` from a proxy in front of Datadog silenced the
token endpoint's); the month names came from `calendar.month_abbr`, which follows the process's LC_TIME locale; and an
RFC 850 date's two-digit year was chosen by the year alone, not the moment (RFC 9110 §5.6.7: "more than 50 years in the
future")."""

from __future__ import annotations

import calendar
import subprocess
import sys
import time
from email.utils import formatdate

import httpx
import pytest
import structlog

from connector.baton import httpdate
from connector.baton.c1.token import _clock_skew
from connector.baton.httpdate import http_date
from connector.datadog.ratelimit import RateLimitHeaders

NOW = calendar.timegm((2026, 12, 7, 12, 0, 0))
WORDS = "a header the peer sent is not what its standard allows; taken as absent"


@pytest.fixture(autouse=True)
def _fresh_warnings() -> None:
    httpdate._told.clear()


def test_a_bad_header_is_said_once_for_each_peer_naming_it() -> None:
    dated = {"date": formatdate(NOW, usegmt=True), "age": "ten"}
    with structlog.testing.capture_logs() as logs:
        RateLimitHeaders.parse({"retry-after": formatdate(NOW + 30, usegmt=True), **dated}, NOW)
        RateLimitHeaders.parse({"retry-after": formatdate(NOW + 30, usegmt=True), **dated}, NOW)
        _clock_skew(httpx.Response(400, headers=dated), NOW)
    said = [(e["log_level"], e["peer"], e["header"]) for e in logs if e["event"] == WORDS]
    assert said == [
        ("warning", "Datadog", "Age"),
        ("debug", "Datadog", "Age"),
        ("warning", "ConductorOne's token endpoint", "Age"),
    ]


@pytest.mark.parametrize(
    ("raw", "year"),
    [
        ("Monday, 07-Dec-76 11:59:59 GMT", 2076),  # 50 years on, less a second: not more than 50 years ahead
        ("Monday, 07-Dec-76 12:00:00 GMT", 2076),
        ("Monday, 07-Dec-76 12:00:01 GMT", 1976),  # a second more than 50 years ahead: the century before
        ("Monday, 31-Dec-76 00:00:00 GMT", 1976),
        ("Monday, 01-Jan-76 00:00:00 GMT", 2076),
        ("Monday, 08-Dec-26 00:00:00 GMT", 2026),
    ],
)
def test_an_rfc850_year_is_chosen_by_the_whole_moment(raw: str, year: int) -> None:
    found = http_date(raw, now=NOW)
    assert found is not None
    assert time.gmtime(found).tm_year == year


def test_month_names_do_not_follow_the_locale() -> None:
    # A French LC_TIME makes `calendar.month_abbr` "janv.", "févr.", ...; this machine may have no such locale, so the
    # table is given those names before the reader is imported, as the locale would.
    program = (
        "import calendar\n"
        "calendar.month_abbr = ['', 'janv.', 'févr.', 'mars', 'avr.', 'mai', 'juin', 'juil.', 'août', 'sept.',"
        " 'oct.', 'nov.', 'déc.']\n"
        "from connector.baton.httpdate import http_date\n"
        "print(http_date('Sun, 06 Nov 1994 08:49:37 GMT'))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "784111777.0", "")


def test_the_29th_of_february_of_a_century_year_without_one_is_read_a_century_back() -> None:
    # Review r1501: in 2054, "00" is 2100 by the 50-year rule, which has no 29 February; the date is 2000's.
    found = http_date("Tuesday, 29-Feb-00 11:57:16 GMT", now=calendar.timegm((2054, 8, 7, 5, 1, 50)))
    assert found == calendar.timegm((2000, 2, 29, 11, 57, 16))
