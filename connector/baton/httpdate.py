"""An HTTP-date (RFC 9110 §5.6.7) from a peer's header, as epoch seconds: the one reader of `Date` and `Retry-After`."""

from __future__ import annotations

import datetime
import email.utils

__all__ = ["MAX_HTTP_DATE_CHARS", "http_date"]

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
