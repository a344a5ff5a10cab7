"""An HTTP-date (RFC 9110 §5.6.7) from a peer's header, as epoch seconds: the one reader of `Date` and `Retry-After`
(the Datadog transport's pacing and the ConductorOne token endpoint's both read it here)."""

from __future__ import annotations

import datetime
import email.utils
import math
import time
from collections.abc import Collection, Mapping

import httpx

from connector.baton.headers import HeaderLines

__all__ = ["MAX_HTTP_DATE_CHARS", "first_field_line", "first_field_lines", "http_date", "retry_after_seconds"]

MAX_HTTP_DATE_CHARS = 64
"""An HTTP-date is 29 characters; a longer value is the peer's free text and is not parsed."""


def http_date(raw: str) -> float | None:
    """`raw` as epoch seconds, or None when it is no date (or too long to be one). A date without a zone (`-0000`) is
    read as GMT, as every HTTP-date is."""
    if len(raw) > MAX_HTTP_DATE_CHARS:
        return None
    try:
        when = email.utils.parsedate_to_datetime(raw.strip())
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        return when.timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


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
    raw: str | None, *, maximum: float, now: float | None = None, sent: str | None = None
) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date (RFC 9110 §10.2.3), at most `maximum`; None
    for anything else (the header is the peer's free text: negative, non-finite, too long to be either form).

    An HTTP-date is measured from `sent`, the same answer's ``Date`` (RFC 9110 §6.6.1: when the peer made it, on the
    clock that chose the date), when that is one; else from `now`, this host's wall-clock time (epoch seconds). A
    date gone by is 0. Measured from this host's clock alone, a host ten minutes ahead of the peer read "in 30 s" as
    gone by and asked again at once (a Datadog call spent its ten 429 waits in ten seconds and failed), and one ten
    minutes behind waited 630 s, or gave up at once as asked to wait too long.
    """
    if raw is None or len(raw) > MAX_HTTP_DATE_CHARS:
        return None
    try:
        seconds = float(raw.strip())
    except ValueError:
        when = http_date(raw)
        if when is None:
            return None
        made = http_date(sent) if sent is not None else None
        if made is None:
            made = time.time() if now is None else now
        return min(max(when - made, 0.0), maximum)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, maximum)
