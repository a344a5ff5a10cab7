"""An HTTP-date (RFC 9110 §5.6.7) from a peer's header, as epoch seconds: the one reader of `Date`, `Age` and
`Retry-After` (the Datadog transport's pacing and the ConductorOne token endpoint's both read them here).

Each is the peer's free text, and only what RFC 9110 allows is taken: one of the three HTTP-date forms, or
delay-seconds (`1*DIGIT`). Anything else (`1_000`, ` 1e3`, `nan`, `inf`, `-5`, `1.5`, an e-mail date with a `+0100`
zone) is absent, said in a warning naming the header (`malformed`). Python's readers took far more: `float()` every
spelling of a float, `email.utils` any RFC 2822 date, and a four-digit year `0001` as 2001 (its two-digit-year rule).
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Collection, Mapping

import httpx
import structlog

from connector.baton.headers import HeaderLines

__all__ = [
    "MAX_HTTP_DATE_CHARS",
    "delay_seconds",
    "first_field_line",
    "first_field_lines",
    "http_date",
    "malformed",
    "peer_now",
    "retry_after_seconds",
]

log = structlog.get_logger(__name__)

MAX_HTTP_DATE_CHARS = 64
"""An HTTP-date is 29 characters; a longer value is the peer's free text and is not parsed."""
_MAX_DELTA_SECONDS = 2**31
"""RFC 9111 §1.2.2: a delta-seconds too large to represent is taken as 2^31."""

_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Spelled out, not `calendar.month_abbr`: that follows the process's LC_TIME locale, and under a French one ("janv.")
# every date failed with a KeyError out of the header's reader. HTTP-dates are always in English (RFC 9110 §5.6.7).
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}
_DAYS = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_DAYS_LONG = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTH = f"(?P<month>{'|'.join(_MONTH_NAMES)})"
_TIME = "(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
# The three forms of RFC 9110 §5.6.7, as Go's `http.ParseTime` takes them (TimeFormat, RFC850, ANSIC); only ASCII
# digits (`\d` would take any script's).
_IMF_FIXDATE = re.compile(rf"{_DAYS}, (?P<day>[0-9]{{2}}) {_MONTH} (?P<year>[0-9]{{4}}) {_TIME} GMT")
_RFC850 = re.compile(rf"{_DAYS_LONG}, (?P<day>[0-9]{{2}})-{_MONTH}-(?P<year>[0-9]{{2}}) {_TIME} GMT")
_ASCTIME = re.compile(rf"{_DAYS} {_MONTH} (?P<day>[0-9]{{2}}| [0-9]) {_TIME} (?P<year>[0-9]{{4}})")
_DIGITS = re.compile("[0-9]+")
_OWS = " \t"
"""Optional whitespace around a field value (RFC 9110 §5.5): a space or a tab, nothing else `str.strip` takes."""

_told: set[tuple[str, str]] = set()
"""The peers and headers already warned about (`malformed`): a handful of names from the code, never the peer's."""


def malformed(header: str, reason: str, *, peer: str = "") -> None:
    """Say that `peer`'s `header` was taken as absent, and why. Its value is not quoted (the peer's free text).

    `peer` names who sent it ("Datadog", "ConductorOne's token endpoint"): a proxy in front of one of them is where
    such a header usually comes from, and the operator has to know which. At warning the first time for each peer and
    header, then at debug: a proxy that sends the same bad value on every answer made a warning per request."""
    level = log.debug if (peer, header) in _told else log.warning
    _told.add((peer, header))
    level(
        "a header the peer sent is not what its standard allows; taken as absent",
        peer=peer or "unnamed",
        header=header,
        reason=reason,
    )


def http_date(raw: str, *, now: float | None = None) -> float | None:
    """`raw` as epoch seconds, or None when it is no HTTP-date (or too long to be one).

    A four-digit year is that year (`0001` is year 1, not 2001); the obsolete RFC 850 form's two-digit year is the
    latest year with those digits that does not put the moment more than 50 years after `now` (this host's wall-clock
    time by default), as RFC 9110 §5.6.7 says: judged on the whole moment, not on the year alone."""
    if len(raw) > MAX_HTTP_DATE_CHARS:
        return None
    value = raw.strip(_OWS)
    found = _IMF_FIXDATE.fullmatch(value) or _ASCTIME.fullmatch(value)
    if found is not None:
        year = int(found["year"])
    elif (found := _RFC850.fullmatch(value)) is not None:
        # The latest year ending in these digits up to 50 years after now; a century earlier when, in that year, the
        # moment itself falls after the same instant 50 years on (compared field by field: no leap-day arithmetic).
        at = time.gmtime(time.time() if now is None else now)
        limit = at.tm_year + 50
        year = limit - (limit - int(found["year"])) % 100
        moment = tuple(int(found[f]) for f in ("day", "hour", "minute", "second"))
        if year == limit and (_MONTHS[found["month"]], *moment) > (
            at.tm_mon,
            at.tm_mday,
            at.tm_hour,
            at.tm_min,
            at.tm_sec,
        ):
            year -= 100
        if found["month"] == "Feb" and found["day"] == "29" and not calendar.isleap(year):
            # The 29th of February of a century year that has none (2100): the latest year with these digits that has
            # one is a century earlier (2000), not no date at all.
            year -= 100
    else:
        return None
    month, day = _MONTHS[found["month"]], int(found["day"])
    hour, minute, second = int(found["hour"]), int(found["minute"]), int(found["second"])
    if not (year >= 1 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    if hour > 23 or minute > 59 or second > 60:  # 60: a leap second (RFC 9110 §5.6.7)
        return None
    return float(calendar.timegm((year, month, day, hour, minute, second)))


def delay_seconds(raw: str, header: str, *, peer: str = "") -> int | None:
    """`raw` as delay-seconds (`1*DIGIT`, RFC 9110 §10.2.3, RFC 9111 §1.2.2), or None (said by `malformed`)."""
    value = raw.strip(_OWS)
    if not _DIGITS.fullmatch(value):
        malformed(header, "not a whole number of seconds", peer=peer)
        return None
    digits = value.lstrip("0")
    if len(digits) > len(str(_MAX_DELTA_SECONDS)):
        # Past 2^31 whatever its length, as RFC 9111 §1.2.2 says to read one: `int()` refuses text of over 4,300
        # digits with a ValueError, which a peer's 5,000-digit Age made a traceback out of the client.
        return _MAX_DELTA_SECONDS
    return min(int(digits or "0"), _MAX_DELTA_SECONDS)


def peer_now(sent: str | None, age: str | None, *, now: float | None = None, peer: str = "") -> float | None:
    """The peer's clock when the answer came, as far as the answer says (epoch seconds): its `Date`, when the peer made
    it (RFC 9110 §6.6.1), plus its `Age`, how long a cache held it since (RFC 9111 §5.1). None without a Date that is
    one."""
    if sent is None:
        return None
    made = http_date(sent, now=now)
    if made is None:
        malformed("Date", "not an HTTP-date", peer=peer)
        return None
    held = delay_seconds(age, "Age", peer=peer) if age is not None else None
    return made + (held or 0)


def first_field_line(headers: Mapping[str, str], name: str) -> str | None:
    """The value of a header's first field line, as Go's ``Header.Get`` reads it.

    httpx joins a repeated header's lines with ", " (``X-RateLimit-Remaining: 3`` twice reads "3, 3"), which no number
    parses from: a proxy or a second filter doubling the headers turned pacing off without a word. The lines are
    taken apart as they came, not by splitting at commas: an HTTP-date (``Retry-After``) holds one."""
    if isinstance(headers, HeaderLines):
        return headers.first(name)
    if isinstance(headers, httpx.Headers):
        lines = headers.get_list(name)
        return lines[0] if lines else None
    return headers.get(name)


def first_field_lines(headers: Mapping[str, str], names: Collection[str]) -> dict[str, str]:
    """`first_field_line` of each of `names` (lower case) that `headers` holds, absent ones left out.

    The Datadog transport reads six headers of every answer (`ratelimit.RateLimitHeaders`) from a `HeaderLines`, where
    each is one dict lookup: httpx's `get_list` scanned and decoded every line for each, 60 Python calls a request (4 %)
    and 2 % of its instructions (docs/benchmarks.md, "CPU per Datadog request", perf50)."""
    return {name: line for name in names if (line := first_field_line(headers, name)) is not None}


def retry_after_seconds(
    raw: str | None,
    *,
    maximum: float,
    now: float | None = None,
    sent: str | None = None,
    age: str | None = None,
    peer: str = "",
) -> float | None:
    """``Retry-After`` as seconds from now: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), at most `maximum`; None
    for anything else (the header is the peer's free text), said by `malformed`.

    An HTTP-date is measured from the peer's clock when the answer came (`peer_now`: the same answer's ``Date``, on
    the clock that chose the date, plus its ``Age`` when a cache held it), when that is known; else from `now`, this
    host's wall-clock time (epoch seconds). A date gone by is 0. Measured from this host's clock alone, a host ten
    minutes ahead of the peer read "in 30 s" as gone by and asked again at once (a Datadog call spent its ten 429 waits
    in ten seconds and failed), and one ten minutes behind waited 630 s, or gave up at once as asked to wait too long.
    Measured from the Date alone, a cached answer's (a Date older by its Age) waited its Age too long.

    Delay-seconds count from when the answer was received (RFC 9110 §10.2.3), whatever its Age.
    """
    if raw is None:
        return None
    if len(raw) > MAX_HTTP_DATE_CHARS:
        malformed("Retry-After", "too long to be a date or a number of seconds", peer=peer)
        return None
    if raw.strip(_OWS)[:1].isdigit():
        seconds = delay_seconds(raw, "Retry-After", peer=peer)
        return None if seconds is None else min(float(seconds), maximum)
    when = http_date(raw, now=now)
    if when is None:
        malformed("Retry-After", "neither an HTTP-date nor a whole number of seconds", peer=peer)
        return None
    made = peer_now(sent, age, now=now, peer=peer)
    if made is None:
        made = time.time() if now is None else now
    return min(max(when - made, 0.0), maximum)
