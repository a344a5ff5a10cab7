"""An answer's header lines (connector/baton/headers.py): read as httpx.Headers reads them, whatever the peer sent,
and each header's first line as Go reads it."""

from __future__ import annotations

import httpx
import pytest

from connector.baton.headers import HeaderLines
from connector.baton.httpdate import first_field_line, first_field_lines

# Each a peer's header lines as h11 hands them on: names as sent (any letter case), values as sent.
_ANSWERS: list[list[tuple[bytes, bytes]]] = [
    [],
    [(b"Content-Type", b"application/json"), (b"Content-Length", b"42")],
    [(b"X-RateLimit-Remaining", b"3"), (b"x-ratelimit-remaining", b"1000"), (b"X-RATELIMIT-REMAINING", b"")],
    [(b"Retry-After", b"Sat, 05 Dec 2026 23:00:30 GMT"), (b"Retry-After", b"7"), (b"Vary", b"a, b")],
    [(b"Content-Encoding", b"gzip"), (b"Content-Encoding", b"identity"), (b"content-type", b"text/html; x=1")],
    [(b"X-Name", "caf\u00e9 \u2211".encode()), (b"Content-Type", b"application/json")],  # all UTF-8
    [(b"X-Name", b"caf\xe9 \xff\x80"), (b"X-Other", "\u2211".encode())],  # not UTF-8: ISO-8859-1 for all
    [(b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2"), (b"Empty", b"")],
]
_NAMES = [
    "content-type", "Content-Length", "CONTENT-ENCODING", "x-ratelimit-remaining", "retry-after", "x-name",
    "x-other", "set-cookie", "empty", "vary", "absent",
]  # fmt: skip


@pytest.mark.parametrize("raw", _ANSWERS)
def test_each_header_reads_as_httpx_reads_it_and_its_first_line_as_go_does(raw: list[tuple[bytes, bytes]]) -> None:
    ours, theirs = HeaderLines(raw), httpx.Headers(raw)
    for name in _NAMES:
        assert ours.get(name) == theirs.get(name), name
        assert ours.get(name, "default") == theirs.get(name, "default"), name
        assert (name in ours) == (name in theirs), name
        assert first_field_line(ours, name) == first_field_line(theirs, name), name
        if name in theirs:
            assert ours[name] == theirs[name]
        else:
            with pytest.raises(KeyError):
                ours[name]
    assert sorted(ours) == sorted(theirs.keys())
    assert len(ours) == len(theirs.keys())
    lower = [name.lower() for name in _NAMES]  # as `first_field_lines` is asked
    assert first_field_lines(ours, lower) == first_field_lines(theirs, lower)


def test_a_repeated_header_is_its_lines_joined_and_its_first_line_alone() -> None:
    lines = HeaderLines([(b"X-RateLimit-Limit", b"4"), (b"x-ratelimit-limit", b"1000")])
    assert lines["X-RATELIMIT-LIMIT"] == "4, 1000"
    assert lines.first("x-ratelimit-limit") == "4"
    assert lines.first("x-ratelimit-name") is None


def test_its_repr_names_the_headers_and_never_shows_a_value() -> None:
    """A header may echo what the request sent (a key, in a proxy's or a gateway's answer)."""
    shown = repr(HeaderLines([(b"X-Echo", b"canary-secret-value")]))
    assert "x-echo" in shown
    assert "canary-secret-value" not in shown
