"""Whether an HTTP/1.1 answer's head says where its body ends in a way the parser would read past: the one judge,
for every HTTP client of the connector (the Datadog transport, whichever sender carried the answer, and the
ConductorOne token request)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

__all__ = ["FaultyFraming", "faulty_framing"]


class FaultyFraming(httpx.RemoteProtocolError):
    """An answer refused for `faulty_framing`: its text is the judge's own words, none of the peer's, so an error may
    quote it (h11's may quote the peer's bytes, and are not)."""


# The statuses whose answer ends at its head whatever its framing headers say (RFC 9112 §6.3, rule 1; 1xx never reach
# the caller: httpcore reads past them).
_HEAD_ONLY = frozenset({204, 304})


def faulty_framing(status: int, headers: Mapping[str, str], http_version: object) -> str | None:
    """What is wrong with how an answer says where its body ends, when h11 would read it anyway; None when nothing is.

    h11 refuses a Transfer-Encoding other than chunked and a Content-Length that is not one number, but reads an answer
    stating both Transfer-Encoding and Content-Length as chunked, and an HTTP/1.0 answer's chunked coding as HTTP/1.1's.
    RFC 9112 §6.3 (rule 3): an answer with both "might indicate an attempt to perform request smuggling ... or response
    splitting and ought to be handled as an error"; §6.1: an HTTP/1.0 message with Transfer-Encoding is to be treated
    "as if the framing is faulty". Each is one a proxy or a load balancer on the path may frame otherwise than h11 did:
    the body read would not be the one the server sent, and the bytes after it could be taken as the next answer. The
    caller refuses the answer with these words (they quote nothing of the peer's) and closes its connection unread.
    """
    # `headers`: looked up by name in any letter case (`HeaderLines`, `httpx.Headers`); `get`, as most answers have
    # no Transfer-Encoding (a Mapping's `in` raises and catches a KeyError for each).
    if status in _HEAD_ONLY or headers.get("transfer-encoding") is None:
        return None
    if http_version == b"HTTP/1.0":
        return "Transfer-Encoding in an HTTP/1.0 answer, which has no such framing"
    if headers.get("content-length") is not None:
        return "both Transfer-Encoding and Content-Length, so where the body ends is in doubt"
    return None
