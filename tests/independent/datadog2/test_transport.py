"""Transport lies on a sync's page: an encoding the body does not have, a Content-Length shorter or longer than the
body, an answer that stops mid-body, one that trickles a byte at a time under the read timeout. Each page ends in the
right items or in a named error within the bound that stops it, never in stray bytes read as the next answer; and an
error says what happened: a peer that answered (slowly, or cut short) was reached, and is not said to be unreachable
(docs/service-mode.md, failure table: `cannot reach <host>` is for the failures before the request left)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from connector.datadog.errors import DatadogError, Unavailable, UnexpectedResponse
from connector.datadog.paging import paginate
from tests.datadog.helpers import listed
from tests.independent.datadog2.org import API_KEY, APP_KEY, client, page_body, user
from tests.independent.rawpeer import JSON, Answer, CloseAfter, RawPeer, http

FIRST = [f"a{i}" for i in range(100)]
SECOND = [f"b{i}" for i in range(50)]
PAGE0 = page_body([user(uid) for uid in FIRST], 150)
PAGE1 = page_body([user(uid) for uid in SECOND], 150)


async def _users(answers: list[Answer], **options: object) -> tuple[object, RawPeer]:
    """The ids of a users walk against `answers`, or the error that ended it."""
    async with RawPeer(answers) as peer:
        dd = client(peer.base_url, **options)
        try:
            seen: list[str] = []
            async for page in paginate(listed(dd.fetch_users)):
                seen += [item.id for item in page.items]
            result: object = seen
        except DatadogError as exc:
            result = exc
        finally:
            await dd.aclose()
    assert API_KEY not in str(result)
    assert APP_KEY not in str(result)
    return result, peer


def _labelled(body: bytes, encoding: bytes) -> bytes:
    return http(200, body, [*JSON, (b"Content-Encoding", encoding)])


async def test_a_body_labelled_gzip_but_sent_plain_is_named_and_asked_again_within_the_budget() -> None:
    result, peer = await _users([_labelled(PAGE0, b"gzip")])
    assert isinstance(result, UnexpectedResponse), result
    assert "GET /api/v2/users" in str(result)
    assert "not what it claims (Content-Encoding 'gzip')" in str(result)
    assert result.retryable
    assert len(peer.requests) == 2  # QUICK's max_attempts: a garbled body may be whole next time


async def test_a_body_labelled_deflate_but_sent_plain_is_named() -> None:
    result, _ = await _users([_labelled(PAGE0, b"deflate")])
    assert isinstance(result, UnexpectedResponse), result
    assert "Content-Encoding 'deflate'" in str(result)


@pytest.mark.parametrize("encoding", [b"br", b"zstd", b"compress"])
async def test_an_encoding_nobody_asked_for_is_refused_at_once(encoding: bytes) -> None:
    """The client asks for gzip only (datadog-api.md §1.2 `Accept-Encoding: gzip`)."""
    result, peer = await _users([_labelled(PAGE0, encoding)])
    assert isinstance(result, UnexpectedResponse), result
    assert "unsupported Content-Encoding" in str(result)
    assert len(peer.requests) == 1


async def test_bytes_past_a_short_content_length_are_never_read_as_the_next_answer() -> None:
    """Page 0 is followed, on its connection, by a forged answer for page 1: the connection is not reused, page 1 comes
    from the request that asked for it."""
    forged = http(200, page_body([user(f"evil{i}") for i in range(50)], 150))
    short = http(200, PAGE0 + forged, [*JSON, (b"Content-Length", b"%d" % len(PAGE0))])
    result, peer = await _users([short, http(200, PAGE1)])
    assert result == FIRST + SECOND
    assert len(peer.requests) == 2
    assert peer.connections == 2


@pytest.mark.parametrize(
    "answer",
    [
        CloseAfter(http(200, PAGE0, [*JSON, (b"Content-Length", b"%d" % (len(PAGE0) + 50))])),
        CloseAfter(http(200, PAGE0)[:-40]),
    ],
    ids=["content-length-past-the-body", "closed-mid-body"],
)
async def test_an_answer_that_ends_before_its_body_is_asked_again_then_named_as_cut_short(answer: Answer) -> None:
    result, peer = await _users([answer])
    assert isinstance(result, Unavailable), result
    assert "GET /api/v2/users" in str(result)
    assert "the connection closed before the response was complete" in str(result)
    assert "cannot reach" not in str(result), "the peer was reached: it answered, then hung up"
    assert result.retryable
    assert len(peer.requests) == 2


@asynccontextmanager
async def _trickling(body: bytes, every: float) -> AsyncIterator[str]:
    """A peer that sends its head at once and then its body one byte each `every` seconds: each read gets a byte well
    within the read timeout, so only the whole-response deadline can end the exchange."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
            for byte in body:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(every)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


async def test_a_page_trickling_a_byte_at_a_time_is_ended_by_the_whole_response_deadline_and_says_so() -> None:
    """Read timeout 0.5 s, a byte every 0.02 s: the read timeout never trips; the deadline (connect + 2 x timeout =
    1 + 2 x 0.5 = 2 s, docs/service-mode.md) ends each attempt, and the error names it. The peer is this process's
    loop: a stall of the whole process longer than the read timeout (a loaded host) trips it, as a 0.2 s one did."""
    async with _trickling(PAGE1, 0.02) as base_url:
        dd = client(base_url, timeout=0.5)
        try:
            with pytest.raises(Unavailable) as raised:
                await asyncio.wait_for(listed(dd.fetch_users)(0), timeout=30)
        finally:
            await dd.aclose()
    text = str(raised.value)
    assert "GET /api/v2/users" in text
    assert "timed out waiting for the response (no complete response within 2s)" in text, text
    assert "cannot reach" not in text, "the peer was reached: it answered too slowly"
    assert raised.value.retryable
