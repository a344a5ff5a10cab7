"""Requests cancelled in flight, counted: each request the transport handed to its connection pool is one of Datadog's requests
(`ClientStats`, the `baton_datadog_api_requests_total` metric, a one-shot's summary), whether its answer was read or
the call was cancelled while it was out (pages fetched ahead that a stopped or failed listing dropped, a sync or a task
stopped). They were never counted: eight pages in flight when a listing stopped were one request to the metrics, while
Datadog saw nine and spent its rate limit on them.

Exactly what counts: an attempt the transport handed to its connection pool (`ApiTransport._attempt`), whatever became
of it. A call cancelled before that (waiting for a concurrency slot or its rate limit) is not counted; one cancelled
after it is, an `error` when no answer's head came, even while its connection was still being made (the name looked up,
the TCP connect, the TLS handshake) and no byte of the request had left, as an attempt whose connect failed counts as an
`error` request. Knowing whether the request's bytes left would take following every request's socket writes (a reused
connection's request is not traced: `netio.OriginPool`), a cost on every request for a count only a cancellation
mid-connect changes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from connector.datadog.client import DatadogClient
from connector.datadog.paging import PagePrefetch
from tests.datadog.helpers import listed
from tests.independent.datadog2.org import client, page_body, user
from tests.independent.rawpeer import RawPeer, Stall, http

HEAD_ONLY = Stall(b"HTTP/1.1 200 OK\r\n")  # an answer whose head never ends
BODY_CUT = Stall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")


async def _until(peer: RawPeer, requests: int) -> None:
    """Until the peer has received `requests` requests (it answers them with stalls, so they stay in flight)."""
    async with asyncio.timeout(10):
        while len(peer.requests) < requests:  # noqa: ASYNC110 - the peer has no event to wait on
            await asyncio.sleep(0.005)


def _counted(dd: DatadogClient) -> dict[str, int]:
    return {status: n for (_, status), n in dd.stats.requests.items()}


async def test_pages_fetched_ahead_and_dropped_are_counted() -> None:
    first = page_body([user(f"u-{i}") for i in range(100)], 1000)
    async with RawPeer([http(200, first), HEAD_ONLY]) as peer:
        dd = client(peer.base_url)
        try:
            pages = PagePrefetch(dd.fetch_users, window=dd.max_concurrency)
            await pages.get(0)
            await _until(peer, 1 + dd.max_concurrency)
            pages.cancel()
            # The cancelled fetches end within a few turns of the loop (nothing of the peer's is waited for).
            for _ in range(200):
                if dd.stats.total_requests >= len(peer.requests):
                    break
                await asyncio.sleep(0)
        finally:
            await dd.aclose()
    assert len(peer.requests) == 9
    assert dd.stats.total_requests == 9
    assert _counted(dd) == {"2xx": 1, "error": 8}


async def _cancelled(
    answers: list[bytes | Stall], sent: int, call: Callable[[DatadogClient], Awaitable[object]]
) -> DatadogClient:
    async with RawPeer(list(answers)) as peer:
        dd = client(peer.base_url, max_concurrency=1)
        try:
            task = asyncio.ensure_future(call(dd))
            await _until(peer, sent)
            # The peer wrote its answer's start as it took the request (same loop, loopback: in the client's socket
            # now); a few turns of the loop let the client read what came. Cancelled at once, a loaded run's client had
            # not read the head yet and counted `error` (seen in a full-suite run).
            for _ in range(20):
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        finally:
            await dd.aclose()
    assert len(peer.requests) == sent
    return dd


async def test_a_call_cancelled_before_its_answer_came_is_counted_without_a_status() -> None:
    dd = await _cancelled([HEAD_ONLY], 1, lambda dd: listed(dd.fetch_users)(0))
    assert _counted(dd) == {"error": 1}


async def test_a_call_cancelled_while_its_body_came_is_counted_with_its_status() -> None:
    dd = await _cancelled([BODY_CUT], 1, lambda dd: dd.delete_api_key("k-1"))
    assert _counted(dd) == {"2xx": 1}


async def test_a_call_cancelled_before_its_request_left_is_not_counted() -> None:
    """With one connection allowed, the second call waits for the first: cancelled there, it sent nothing."""
    async with RawPeer([HEAD_ONLY]) as peer:
        dd = client(peer.base_url, max_concurrency=1)
        try:
            first = asyncio.ensure_future(dd.delete_api_key("k-1"))
            await _until(peer, 1)
            second = asyncio.ensure_future(dd.delete_api_key("k-2"))
            await asyncio.sleep(0)
            second.cancel()
            first.cancel()
            await asyncio.gather(first, second, return_exceptions=True)
        finally:
            await dd.aclose()
    assert len(peer.requests) == 1
    assert _counted(dd) == {"error": 1}


async def test_a_call_cancelled_in_its_tls_handshake_is_counted_as_an_error() -> None:
    """Handed to the pool, the attempt counts, though its TLS handshake was never answered and nothing of the request
    reached Datadog (see the module's docstring), as an attempt whose handshake failed counts."""
    hello: list[bytes] = []
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        hello.append(await reader.read(65536))  # the ClientHello, never answered

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    dd = client(f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}", max_concurrency=1)
    try:
        task = asyncio.ensure_future(dd.delete_api_key("k-1"))
        async with asyncio.timeout(10):
            while not hello:  # noqa: ASYNC110 - the server has no event to wait on
                await asyncio.sleep(0.005)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        await dd.aclose()
        for writer in writers:
            writer.transport.abort()
        server.close()
    assert hello[0][:1] == b"\x16"  # a TLS handshake record: no HTTP request left
    assert _counted(dd) == {"error": 1}
