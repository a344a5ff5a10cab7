"""An answer whose framing is in doubt: RFC 9112 §6.3 (rule 3) says an answer with both Transfer-Encoding and Content-Length
"ought to be handled as an error" (a sender, or a hop that frames it otherwise, may be smuggling a second answer), and
§6.1 that an HTTP/1.0 message with Transfer-Encoding is to be treated "as if the framing is faulty". h11 read both as
chunked and handed the chunked body on as the answer. The siblings h11 already refuses are pinned beside them, with the
words the error says; the framings RFC 9112 allows (a 204's or a 304's head ends the answer, whatever follows; an
unexpected 1xx is read past, RFC 9110 §15.2) are the existing suites' (test_issue11_datadog_http)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import DatadogError, Unavailable, nothing_done
from connector.datadog.retry import RetryPolicy
from tests.datadog.helpers import listed
from tests.independent.rawpeer import Answer, CloseAfter, RawPeer, http

API_KEY = "attack704canaryapikey0123456789ab"
APP_KEY = "attack704canaryappkey0123456789abcdef0123"
QUICK = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.005, min_rate_limit_wait=0.001)

USERS = json.dumps(
    {
        "data": [{"type": "users", "id": "u-real", "attributes": {"email": "real@example.com", "status": "Active"}}],
        "meta": {"page": {"total_count": 1, "total_filtered_count": 1}},
    }
).encode()
FORGED_KEY = json.dumps(
    {"data": {"type": "api_keys", "id": "k-forged", "attributes": {"name": "c1-issued", "key": "f" * 32}}}
).encode()
HEAD = b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"


def _chunked(body: bytes) -> bytes:
    return b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"


Call = Callable[[DatadogClient], Awaitable[Any]]


async def _create_key(dd: DatadogClient) -> Any:
    return await dd.create_api_key("c1-issued")


async def _list_users(dd: DatadogClient) -> Any:
    return [user.id for user in (await listed(dd.fetch_users)(0)).items]


async def _outcomes(answers: list[Answer], *calls: Call) -> tuple[list[object], RawPeer]:
    """What each call returned or raised, one after another on one client, against a peer answering `answers`."""
    results: list[object] = []
    async with RawPeer(answers) as peer:
        dd = DatadogClient(
            api_key=API_KEY, app_key=APP_KEY, base_url=peer.base_url, retry=QUICK, timeout=5.0, connect_timeout=1.0
        )
        try:
            for call in calls:
                try:
                    results.append(await asyncio.wait_for(call(dd), timeout=30))
                except DatadogError as exc:
                    for text in (str(exc), repr(exc)):
                        assert API_KEY not in text
                        assert APP_KEY not in text
                    results.append(exc)
        finally:
            await dd.aclose()
    return results, peer


def _refused_framing(result: object, peer: RawPeer, words: str) -> None:
    assert isinstance(result, Unavailable), result
    # Said once, as it happened: the peer answered (it was not "no response: <host> was reached, but ...").
    assert str(result).startswith(f"Datadog unavailable: POST /api/v2/api_keys -> {peer.address} was reached"), result
    assert f"{peer.address} was reached, but the answer is not valid HTTP ({words}" in str(result), str(result)
    assert not nothing_done(result), "the create reached the peer: it may have been made"


_BOTH = "both Transfer-Encoding and Content-Length, so where the body ends is in doubt"
_HTTP10 = "Transfer-Encoding in an HTTP/1.0 answer, which has no such framing"


@pytest.mark.parametrize(
    "answer",
    [
        HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: %d\r\n\r\n" % len(FORGED_KEY) + _chunked(FORGED_KEY),
        HEAD + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(FORGED_KEY),
        HEAD + b"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(FORGED_KEY),
    ],
    ids=["te-then-cl", "cl-then-te", "cl-zero"],
)
async def test_an_answer_with_both_transfer_encoding_and_content_length_is_refused_naming_the_peer_and_the_pair(
    answer: bytes,
) -> None:
    """A create's answer framed both ways: read as chunked, its chunked body (a key Datadog never made here) was taken
    as the new key. Refused, the create is not sent again (it may have been made), and the next call goes out on a
    new connection: nothing after the head is read as its answer."""
    (created, users), peer = await _outcomes([answer, http(200, USERS)], _create_key, _list_users)
    _refused_framing(created, peer, _BOTH)
    assert users == ["u-real"]
    assert len(peer.requests) == 2
    assert peer.connections == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.0 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(FORGED_KEY),
        b"HTTP/1.0 201 Created\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n" + _chunked(FORGED_KEY),
    ],
    ids=["te", "te-and-cl"],
)
async def test_an_http10_answer_with_transfer_encoding_is_refused(answer: bytes) -> None:
    """HTTP/1.0 has no chunked coding (RFC 9112 §6.1: such a message's framing is to be treated as faulty); h11 read it
    as HTTP/1.1's and took the chunked body as the new key."""
    (created, users), peer = await _outcomes([CloseAfter(answer), http(200, USERS)], _create_key, _list_users)
    _refused_framing(created, peer, _HTTP10)
    assert users == ["u-real"]
    assert len(peer.requests) == 2


async def test_a_read_whose_answer_is_framed_both_ways_is_asked_again_on_a_new_connection() -> None:
    """A read may be asked again (the retry policy resends a GET after a malformed answer): the second ask goes out on
    a new connection and its answer is taken, never a byte of the first one's."""
    smuggling = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
        + _chunked(USERS.replace(b"u-real", b"u-smuggled"))
    )
    (users,), peer = await _outcomes([smuggling, http(200, USERS)], _list_users)
    assert users == ["u-real"]
    assert len(peer.requests) == 2
    assert peer.connections == 2


@pytest.mark.parametrize(
    ("head", "words"),
    [
        (b"Content-Length: 11, 12\r\n\r\n", "conflicting Content-Length headers"),
        (b"Content-Length: +11\r\n\r\n", "bad Content-Length"),
        (b"Content-Length: 1 1\r\n\r\n", "bad Content-Length"),
        (b"Transfer-Encoding: gzip, chunked\r\n\r\n", "Only Transfer-Encoding: chunked is supported"),
        (b"Transfer-Encoding: chunked\r\n\r\n" + b"f" * 40 + b"\r\n", "illegal chunk header"),
        (b"Transfer-Encoding: chunked\r\n\r\nb zz\r\n", "illegal chunk header"),
        (
            b"Transfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer: " + b"a" * 200_000 + b"\r\n\r\n",
            "a head, a chunk line or a trailer section longer than",
        ),
    ],
    ids=[
        "length-list",
        "signed-length",
        "spaced-length",
        "gzip-chunked",
        "chunk-size-overflow",
        "chunk-size-junk",
        "huge-trailer",
    ],
)
async def test_framing_h11_refuses_is_named_with_the_peer_and_the_write_is_not_sent_again(
    head: bytes, words: str
) -> None:
    (created,), peer = await _outcomes([CloseAfter(HEAD + head)], _create_key)
    _refused_framing(created, peer, words)
    assert len(peer.requests) == 1


async def test_an_http10_answer_without_a_length_on_a_kept_connection_ends_it() -> None:
    """The first answer keeps the connection; the second, on it, is HTTP/1.0 without a length (its body ends where the
    peer closes, RFC 9112 §6.3 rule 8): read whole, and the connection is not asked again."""
    http10 = CloseAfter(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Type: application/json\r\n\r\n" + USERS)
    results, peer = await _outcomes([http(200, USERS), http10, http(200, USERS)], _list_users, _list_users, _list_users)
    assert results == [["u-real"]] * 3
    assert peer.connections == 2


async def test_the_fallback_sender_refuses_the_same_framing() -> None:
    """Where asyncio cannot carry the connections (an https proxy on a Python with gh-113214), requests go through
    httpx's own transport (`netio.HttpxSender`): the same answers are refused there too, and their connections not
    kept."""
    http10 = b"HTTP/1.0 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(FORGED_KEY)
    both = HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" + _chunked(FORGED_KEY)
    async with RawPeer([both, CloseAfter(http10), http(200, USERS)]) as peer:
        dd = DatadogClient(
            api_key=API_KEY,
            app_key=APP_KEY,
            base_url=peer.base_url,
            retry=QUICK,
            transport=httpx.AsyncHTTPTransport(),  # injected: sent through `HttpxSender`
        )
        try:
            results: list[object] = []
            for call in (_create_key, _create_key, _list_users):
                try:
                    results.append(await asyncio.wait_for(call(dd), timeout=30))
                except DatadogError as exc:
                    results.append(exc)
        finally:
            await dd.aclose()
    _refused_framing(results[0], peer, _BOTH)
    _refused_framing(results[1], peer, _HTTP10)
    assert results[2] == ["u-real"]
    assert len(peer.requests) == 3
    assert peer.connections == 3


async def test_a_304_with_a_body_is_named_for_what_it_is_and_its_body_read_as_no_answer() -> None:
    """A 304's head ends it (RFC 9112 §6.3 rule 1): the bytes after it are no answer, and the connection is not asked
    again. The client sets no condition, so a 304 is no word of Datadog's (RFC 9110 §15.4.5): it was called "a
    redirect, not followed: check the Datadog site or base URL", a setting that had nothing to do with it."""
    not_modified = b"HTTP/1.1 304 Not Modified\r\nContent-Length: %d\r\n\r\n" % len(USERS) + USERS
    (listed, users), peer = await _outcomes([not_modified, http(200, USERS)], _list_users, _list_users)
    assert isinstance(listed, DatadogError), listed
    assert str(listed) == (
        "Datadog error: GET /api/v2/users -> 304: a 304 Not Modified to a request that set no condition: a cache or a "
        "proxy on the path answered"
    )
    assert users == ["u-real"]
    assert peer.connections == 2
