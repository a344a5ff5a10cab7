"""`CappedBody`: the one decoder of an untrusted HTTP body (the token endpoint's and the Datadog transport's)."""

from __future__ import annotations

import zlib

import pytest

from connector.baton.inflate import BodyTooLarge, CappedBody, UndecodableBody

DATA = b'{"data": [' + b'{"id": "x"},' * 50 + b"]}"


def gzip(data: bytes) -> bytes:
    out = zlib.compressobj(9, zlib.DEFLATED, 31)
    return out.compress(data) + out.flush()


def deflate(data: bytes) -> bytes:
    return zlib.compress(data)


def decoded(encoding: str, *chunks: bytes, cap: int = 1 << 20) -> bytes:
    body = CappedBody(encoding, cap)
    for chunk in chunks:
        body.feed(chunk)
    return bytes(body.finish())


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def test_identity_gzip_and_deflate_decode_whole_or_a_byte_at_a_time() -> None:
    assert decoded("", DATA) == DATA
    assert decoded("identity", *bytewise(DATA)) == DATA
    assert decoded("gzip", gzip(DATA)) == DATA
    assert decoded(" GZIP ", *bytewise(gzip(DATA))) == DATA
    assert decoded("deflate", *bytewise(deflate(DATA))) == DATA


def test_gzip_members_end_to_end_are_one_body() -> None:
    """RFC 1952 §2.2, and what Go's gzip reader does: it reads on after a member's end."""
    joined = gzip(DATA[:7]) + gzip(DATA[7:30]) + gzip(DATA[30:])
    assert decoded("gzip", joined) == DATA
    assert decoded("gzip", *bytewise(joined)) == DATA


@pytest.mark.parametrize(
    ("encoding", "raw", "kind"),
    [
        ("gzip", gzip(DATA)[:-8], "truncated"),  # the trailer (and its checksum) missing: the JSON is whole
        ("gzip", gzip(DATA)[:20], "truncated"),
        ("gzip", DATA, "corrupt"),  # not gzip at all
        ("gzip", gzip(DATA) + b"<html>", "corrupt"),  # bytes after the end that are no gzip member
        ("deflate", deflate(DATA) + deflate(DATA), "corrupt"),  # a deflate stream has one end
        ("br", DATA, "unsupported"),
        ("gzip, gzip", gzip(gzip(DATA)), "unsupported"),
    ],
    ids=["no-trailer", "cut", "not-gzip", "trailing-junk", "deflate-twice", "br", "gzip-twice"],
)
def test_a_body_that_does_not_decode_says_how(encoding: str, raw: bytes, kind: str) -> None:
    with pytest.raises(UndecodableBody) as caught:
        decoded(encoding, raw)
    assert caught.value.kind == kind


def test_a_body_with_no_bytes_is_empty_whatever_its_header_says() -> None:
    """A 204 or a HEAD answer may say gzip and carry nothing: empty, not cut short."""
    assert decoded("gzip") == b""


def test_a_bomb_stops_at_the_cap_without_inflating_it() -> None:
    bomb = gzip(b"\0" * (64 << 20))  # 64 MiB of zeros in ~64 KB
    body = CappedBody("gzip", 1 << 16)
    with pytest.raises(BodyTooLarge):
        body.feed(bomb)
    assert len(body.body) <= 1 << 16


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, gzip", "x-unknown"])
def test_no_bytes_in_an_encoding_not_asked_for_is_an_empty_body(encoding: str) -> None:
    """Nothing to decode, so nothing undecodable: a 204 carrying `Content-Encoding: br` was refused as undecodable,
    and a revoke Datadog had done was reported failed. The first byte of such a body is still refused."""
    assert decoded(encoding) == b""
    assert decoded(encoding, b"") == b""
    body = CappedBody(encoding, 1 << 20)
    with pytest.raises(UndecodableBody) as caught:
        body.feed(b"x")
    assert caught.value.kind == "unsupported"


@pytest.mark.parametrize(
    ("encoding", "empty"),
    [("gzip", gzip(b"")), ("deflate", zlib.compress(b"")[:2] + b"\x00\x00\x00\xff\xff")],
    ids=["empty-gzip-members", "empty-deflate-blocks"],
)
def test_encoded_bytes_that_decode_to_nothing_stop_at_a_bound_too(encoding: str, empty: bytes) -> None:
    """Only decoded bytes were counted: gzip members (or deflate blocks) holding nothing decode to no byte, so a peer
    sending them without end was read, and inflated on the event loop, until the request's deadline (and again on
    each retry). Encoded bytes are bounded too, at twice the cap and a step: no encoder makes a body that much
    larger than what it decodes to."""
    cap = 1 << 16
    body = CappedBody(encoding, cap)
    unit = empty if encoding == "gzip" else empty[2:]  # one zlib header, then empty stored blocks
    if encoding == "deflate":
        body.feed(empty[:2])

    def feed_past_the_bound() -> None:
        for _ in range((3 * cap + (1 << 20)) // len(unit)):
            body.feed(unit)

    with pytest.raises(BodyTooLarge):
        feed_past_the_bound()
    assert body.body == b""


def test_an_encoded_body_as_large_as_the_cap_still_decodes() -> None:
    """The encoded bound leaves room: incompressible data, stored, takes a few bytes more than itself."""
    data = bytes(range(256)) * 256
    stored = zlib.compressobj(0, zlib.DEFLATED, 31)
    assert decoded("gzip", stored.compress(data) + stored.flush(), cap=len(data)) == data
