"""The Datadog pool and its network layer (connector/datadog/netio.py): TLS with only the trust it is given, through a
forward proxy, keep-alive connections reused up to the concurrency, and one the server closed, or whose answer
was cut off, is not reused. Every other client test (timeouts,
deadline, caps, gzip, hostile peers) runs over this layer too, against the plain-http fake."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import Invalid, Unavailable
from connector.datadog.netio import OriginPool
from connector.datadog.paging import paginate
from tests.datadog.helpers import FAST_RETRY, answered_by, listed
from tests.fakes.c1.certs import TlsFiles, generate_tls_files
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.proxy import ForwardProxy


@pytest.fixture
def tls(tmp_path: Path) -> TlsFiles:
    return generate_tls_files(tmp_path, common_name="fake-datadog")


@pytest.fixture
def https_fake(tls: TlsFiles) -> Iterator[FakeDatadog]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.server_cert, tls.server_key)
    with FakeDatadog(generate_org(users=120, seed=3), tls=context) as server:
        yield server


def _client(fake: FakeDatadog, trust: ssl.SSLContext) -> DatadogClient:
    return DatadogClient(
        api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url, verify=trust, retry=FAST_RETRY
    )


async def test_a_sync_over_tls_runs_on_the_asyncio_layer_with_the_given_trust(
    https_fake: FakeDatadog, tls: TlsFiles
) -> None:
    async with _client(https_fake, ssl.create_default_context(cafile=str(tls.ca_cert))) as client:
        assert client._t.asyncio_network, "the pool runs on connector/datadog/netio.py"
        users = [user async for page in paginate(listed(client.fetch_users)) for user in page.items]
    assert len(users) == 120
    assert https_fake.count("GET", "/api/v2/users") == 2  # 100 + 20: one request per page, none repeated


async def test_a_server_certificate_outside_the_given_trust_is_refused(https_fake: FakeDatadog) -> None:
    async with _client(https_fake, ssl.create_default_context()) as client:
        with pytest.raises(Unavailable) as raised:
            await listed(client.fetch_users)()
    assert "TLS certificate verification failed" in str(raised.value)
    assert https_fake.count("GET", "/api/v2/users") == 0
    assert not client.stats.retries, "only new trust settings can help: one attempt, not max_attempts"


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ForwardProxy]:
    with ForwardProxy() as running:
        for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTPS_PROXY", running.url)
        yield running


async def test_tls_goes_through_the_proxy_tunnel(proxy: ForwardProxy, https_fake: FakeDatadog, tls: TlsFiles) -> None:
    async with _client(https_fake, ssl.create_default_context(cafile=str(tls.ca_cert))) as client:
        assert client._t.asyncio_network, "the proxy's pool runs on connector/datadog/netio.py too"
        page = await listed(client.fetch_users)()
    assert len(page.items) == 100
    assert ("127.0.0.1", https_fake.port) in proxy.opened()


def _anyio_locks(connection: object) -> list[str]:
    """The locks of httpcore's own kind (anyio's on asyncio: every acquire a turn of the event loop) left on a kept
    connection and the connections under it, found by type whatever their attribute is called."""
    found: list[str] = []
    inner: object = connection
    while inner is not None:
        for name, value in vars(inner).items():
            kind = type(value)
            if kind.__module__.startswith(("httpcore.", "anyio.")) and "Lock" in kind.__name__:
                found.append(f"{type(inner).__name__}.{name}")
        inner = getattr(inner, "_connection", None)
    return found


@pytest.mark.parametrize("through_proxy", [False, True])
async def test_a_kept_connection_takes_its_locks_without_a_turn_of_the_event_loop(
    through_proxy: bool, https_fake: FakeDatadog, tls: TlsFiles, request: pytest.FixtureRequest
) -> None:
    """httpcore's locks are anyio's, whose acquire yields to the loop even when free: three extra loop turns per
    request (docs/benchmarks.md, "CPU per Datadog request"). A kept connection has asyncio's in their place, direct
    and through a proxy's tunnel; should an httpcore upgrade add or rename a lock, this names it."""
    if through_proxy:
        request.getfixturevalue("proxy")
    async with _client(https_fake, ssl.create_default_context(cafile=str(tls.ca_cert))) as client:
        for _ in range(3):
            await listed(client.fetch_users)()
        pool = client._t._pool
        assert pool is not None
        (kept,) = pool._idle
        assert _anyio_locks(kept) == []
        locks = [value for inner in (kept, kept._connection) for value in vars(inner).values()]  # type: ignore[attr-defined]
        assert sum(isinstance(value, asyncio.Lock) for value in locks) == 2
    assert https_fake.count("GET", "/api/v2/users") == 3


@pytest.mark.parametrize("no_proxy", ["127.0.0.0/8", "10.0.0.0/8, 127.0.0.1/32", "fd00::/8,127.0.0.0/8", "127.9.9.9/8"])
async def test_a_no_proxy_network_holding_the_hosts_address_sends_it_direct(
    proxy: ForwardProxy, https_fake: FakeDatadog, tls: TlsFiles, monkeypatch: pytest.MonkeyPatch, no_proxy: str
) -> None:
    """NO_PROXY=127.0.0.0/8 names a network, as Go reads it (`http.ProxyFromEnvironment`, the reference
    connector's): httpx made it the one address 127.0.0.0, so a base URL in it went through the proxy the operator
    had excluded; an IPv6 network (`fd00::/8`, usual in a dual-stack cluster's list) made a pattern that is no URL,
    and no client could be built."""
    monkeypatch.setenv("NO_PROXY", no_proxy)
    async with _client(https_fake, ssl.create_default_context(cafile=str(tls.ca_cert))) as client:
        page = await listed(client.fetch_users)()
    assert len(page.items) == 100
    assert proxy.opened() == [], "sent directly"


async def test_a_no_proxy_network_not_holding_the_hosts_address_leaves_it_to_the_proxy(
    proxy: ForwardProxy, https_fake: FakeDatadog, tls: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "10.0.0.0/8,fd00::/8")
    async with _client(https_fake, ssl.create_default_context(cafile=str(tls.ca_cert))) as client:
        await listed(client.fetch_users)()
    assert ("127.0.0.1", https_fake.port) in proxy.opened()


class _ClosingServer:
    """Answers each request with a keep-alive response, then closes the connection a moment later."""

    def __init__(self) -> None:
        self.connections = 0
        self.closed = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await reader.readuntil(b"\r\n\r\n")
        body = b'{"data": {"type": "users", "id": "u1", "attributes": {}}}'
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        self.closed.set()


@pytest.fixture
async def closing_server() -> AsyncIterator[tuple[_ClosingServer, str]]:
    handler = _ClosingServer()
    server = await asyncio.start_server(handler.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield handler, f"http://127.0.0.1:{port}"


async def test_a_connection_the_server_closed_while_idle_is_not_reused(
    closing_server: tuple[_ClosingServer, str],
) -> None:
    handler, url = closing_server
    async with DatadogClient(api_key="a" * 32, app_key="b" * 40, base_url=url, retry=FAST_RETRY) as client:
        await client._t.request("GET", "/api/v2/users/u1", group="users")
        await handler.closed.wait()  # the close is in our kernel, not yet delivered by the loop
        await client._t.request("GET", "/api/v2/users/u1", group="users")
        assert client.stats.retries == {}, "the closed connection was dropped before use, not retried after"
    assert handler.connections == 2


class _KeepAliveServer:
    """Answers every request on a connection with a small keep-alive JSON response; counts connections and closes."""

    def __init__(self) -> None:
        self.connections = 0
        self.ended = 0
        self.release = asyncio.Event()
        self.release.set()
        self.arrived: asyncio.Queue[None] = asyncio.Queue()  # one item per request read

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        body = b'{"data": {"type": "users", "id": "u1", "attributes": {}}}'
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                self.arrived.put_nowait(None)
                await self.release.wait()
                writer.write(head + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client closed, or the test ended while an answer was held back
        finally:
            self.ended += 1
            writer.close()


@pytest.fixture
async def keepalive_server() -> AsyncIterator[tuple[_KeepAliveServer, str]]:
    handler = _KeepAliveServer()
    server = await asyncio.start_server(handler.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield handler, f"http://127.0.0.1:{port}"


def _keepalive_client(url: str, concurrency: int) -> DatadogClient:
    return DatadogClient(
        api_key="a" * 32, app_key="b" * 40, base_url=url, retry=FAST_RETRY, max_concurrency=concurrency
    )


async def test_requests_one_after_another_share_one_connection(
    keepalive_server: tuple[_KeepAliveServer, str],
) -> None:
    handler, url = keepalive_server
    async with _keepalive_client(url, 4) as client:
        for _ in range(20):
            await client._t.request("GET", "/api/v2/users/u1", group="users")
    assert handler.connections == 1


async def test_concurrent_requests_open_no_more_connections_than_the_concurrency_and_reuse_them(
    keepalive_server: tuple[_KeepAliveServer, str],
) -> None:
    handler, url = keepalive_server
    async with _keepalive_client(url, 3) as client:
        for _ in range(4):  # waves of 9 requests, 3 in flight at a time
            handler.release.clear()
            wave = [asyncio.create_task(client._t.request("GET", "/api/v2/users/u1", group="users")) for _ in range(9)]
            await asyncio.sleep(0.05)  # the first three hold their connections while the rest wait their turn
            handler.release.set()
            await asyncio.gather(*wave)
        assert handler.connections == 3, "each wave reused the connections of the one before"
    await asyncio.sleep(0.05)
    assert handler.ended == 3, "closing the client closed every connection it kept"


async def test_a_request_cancelled_while_waiting_for_its_answer_closes_its_connection(
    keepalive_server: tuple[_KeepAliveServer, str],
) -> None:
    handler, url = keepalive_server
    async with _keepalive_client(url, 2) as client:
        handler.release.clear()
        stuck = asyncio.create_task(client._t.request("GET", "/api/v2/users/u1", group="users"))
        await handler.arrived.get()  # the request is read: its answer is owed on that connection
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stuck
        handler.release.set()
        await client._t.request("GET", "/api/v2/users/u1", group="users")
        assert handler.connections == 2, "a connection with an answer still owed is never reused"


async def test_closing_the_client_with_requests_in_flight_leaves_no_connection_open(
    keepalive_server: tuple[_KeepAliveServer, str],
) -> None:
    """A close while answers are owed: the connections are closed under the requests, which (GETs) are sent again
    on new ones and answered after the close. Those are not kept for a client that is gone: every connection
    ever opened ends (a kept one would hold its socket for the life of the process)."""
    handler, url = keepalive_server
    client = _keepalive_client(url, 4)
    await client._t.request("GET", "/api/v2/users/u1", group="users")  # a group's first request goes alone
    handler.release.clear()
    in_flight = [asyncio.create_task(client._t.request("GET", "/api/v2/users/u1", group="users")) for _ in range(3)]
    for _ in range(4):  # the first request's, then the three held
        await handler.arrived.get()
    await client.aclose()
    handler.release.set()
    await asyncio.gather(*in_flight, return_exceptions=True)
    for _ in range(200):  # the server sees each close once its loop runs
        if handler.ended == handler.connections:
            break
        await asyncio.sleep(0.01)
    assert handler.connections > 3, "the requests were sent again after the close"
    assert handler.ended == handler.connections, "a connection opened around the close was kept open"


class _StubConnection:
    """A connection as httpcore's interface shows it, whose requests raise what the test says."""

    def __init__(self, outcome: BaseException | None) -> None:
        self.outcome = outcome
        self.closed = False

    def is_available(self) -> bool:
        return True

    def has_expired(self) -> bool:
        return False

    def is_idle(self) -> bool:
        return not self.closed

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if self.outcome is not None:
            raise self.outcome
        return httpcore.Response(200, content=b"{}")

    async def aclose(self) -> None:
        self.closed = True


class _StubFactory:
    def __init__(self, outcomes: list[BaseException | None]) -> None:
        self.outcomes = outcomes
        self.made: list[_StubConnection] = []

    def create_connection(self, origin: httpcore.Origin) -> _StubConnection:
        self.made.append(_StubConnection(self.outcomes.pop(0)))
        return self.made[-1]


def _stub_pool(factory: _StubFactory) -> OriginPool:
    return OriginPool(factory, 2)  # type: ignore[arg-type]


_GET = httpcore.Request("GET", "http://127.0.0.1:1/api/v2/users")


async def test_a_reused_connection_that_is_no_longer_available_is_replaced_by_a_new_one() -> None:
    factory = _StubFactory([None, None])
    pool = _stub_pool(factory)
    first = await pool.handle_async_request(_GET)
    await first.aclose()
    factory.made[0].outcome = httpcore.ConnectionNotAvailable()
    second = await pool.handle_async_request(_GET)
    await second.aclose()
    assert len(factory.made) == 2
    assert factory.made[0].closed, "the connection that stopped being usable is closed"
    assert not factory.made[1].closed, "its replacement is kept for the next request"


async def test_a_new_connection_that_cannot_take_the_request_is_a_connection_error_not_a_loop() -> None:
    pool = _stub_pool(_StubFactory([httpcore.ConnectionNotAvailable()]))
    with pytest.raises(httpcore.ConnectError, match="could not take the request"):
        await pool.handle_async_request(_GET)


async def test_a_connection_whose_request_failed_is_closed_and_never_kept() -> None:
    factory = _StubFactory([httpcore.ReadError("reset"), None])
    pool = _stub_pool(factory)
    with pytest.raises(httpcore.ReadError):
        await pool.handle_async_request(_GET)
    assert factory.made[0].closed
    response = await pool.handle_async_request(_GET)
    await response.aclose()
    assert len(factory.made) == 2


class _StrayAnswerServer:
    """Answers a GET with its answer and, in the same write, a second answer nobody asked for (a stray or
    duplicated response); refuses every POST with a 400. Counts connections."""

    STRAY = b'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 26\r\n\r\n{"data": {"id": "stray"}}\n'

    def __init__(self) -> None:
        self.connections = 0
        self.posts = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        body = b'{"data": {"type": "users", "id": "u1", "attributes": {}}}'
        refusal = b'{"errors": ["refused"]}'
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if head.startswith(b"POST"):
                    self.posts += 1
                    length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
                    await reader.readexactly(length)
                    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n")
                    writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(refusal), refusal))
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                    writer.write(b"Content-Length: %d\r\n\r\n%s%s" % (len(body), body, self.STRAY))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.mark.parametrize("route", ["direct", "tls-through-the-proxy-tunnel"])
async def test_an_answer_nobody_asked_for_is_never_read_as_the_next_requests_answer(
    route: str, tls: TlsFiles, request: pytest.FixtureRequest
) -> None:
    """Bytes that came with an answer (in the same read) are already inside httpcore's HTTP/1.1 parser, where the
    idle check (unread bytes, a closed peer) cannot see them: a connection holding them is closed, not reused, or
    the stray answer would be read as the next request's own (here a refused create taken for a created one)."""
    handler = _StrayAnswerServer()
    context: ssl.SSLContext | None = None
    if route != "direct":
        request.getfixturevalue("proxy")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.server_cert, tls.server_key)
    server = await asyncio.start_server(handler.handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    client = DatadogClient(
        api_key="a" * 32, app_key="b" * 40, base_url=f"{'https' if context else 'http'}://127.0.0.1:{port}",
        verify=ssl.create_default_context(cafile=str(tls.ca_cert)), retry=FAST_RETRY,
    )  # fmt: skip
    async with server, client:
        assert (client._t.proxy is not None) == (route != "direct")
        reply = await client._t.request("GET", "/api/v2/users/u1", group="users")
        assert b'"u1"' in reply.body
        with pytest.raises(Invalid) as raised:
            await client._t.request("POST", "/api/v2/roles/r1/users", group="roles", json={"data": {"id": "u1"}})
        assert raised.value.status == 400
        assert "refused" in str(raised.value)
        assert handler.posts == 1
        assert handler.connections == 2, "the connection holding the stray answer was closed"


async def test_requests_cancelled_at_any_moment_never_use_up_the_connections(
    keepalive_server: tuple[_KeepAliveServer, str],
) -> None:
    """The engine cancels a listing's requests at any await, the deadline too. Whichever loop iteration a cancel lands
    on, every later request still gets a connection at once (httpcore's own pool, used before OriginPool, lost one
    now and then, and then failed every request with "timed out waiting for a free connection")."""
    _, url = keepalive_server
    client = DatadogClient(
        api_key="a" * 32, app_key="b" * 40, base_url=url, retry=FAST_RETRY, max_concurrency=2, timeout=2.0
    )
    async with client:
        for moment in range(60):
            doomed = [
                asyncio.create_task(client._t.request("GET", "/api/v2/users/u1", group="users")) for _ in range(3)
            ]
            for _ in range(moment):
                await asyncio.sleep(0)
            for task in doomed:
                task.cancel()
            await asyncio.gather(*doomed, return_exceptions=True)
            await client._t.request("GET", "/api/v2/users/u1", group="users")
        assert client.stats.retries == {}, "no request after a cancel failed for want of a connection"
        assert client._t._pool is not None
        assert len(client._t._pool._open) <= 2, "no connection outlives its cancelled request unclosed"


class _ClosingOnCueServer:
    """Answers every request keep-alive; closes its first connection, once idle, when told (`close_now`)."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.close_now = asyncio.Event()
        self.closed = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = not self.requests
        body = b'{"data": {"type": "users", "id": "u1", "attributes": {}}}'
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                self.requests.append((await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")[0])
                writer.write(head + body)
                await writer.drain()
                if first:
                    await self.close_now.wait()
                    break
        writer.close()
        self.closed.set()


async def test_a_post_on_a_connection_closed_after_its_idle_check_is_sent_once_on_a_new_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The idle check and the first write are a few loop turns apart: a peer closing its idle connection then (a
    server's or a proxy's keep-alive timeout) left the write nothing to send on, and httpcore, which reads on after a
    failed write in case the server answered early, made it "the connection closed before the response was
    complete". Nothing of the request had left, yet a create (not idempotent) was never retried: a user or a key not
    made, reported as maybe made. A request none of which was written goes out on a new connection, once."""
    handler = _ClosingOnCueServer()
    server = await asyncio.start_server(handler.handle, "127.0.0.1", 0)
    checked = OriginPool._connection_for

    async def peer_closes_after_the_check(pool: OriginPool, origin: httpcore.Origin) -> Any:
        connection, reused = await checked(pool, origin)
        if reused:
            handler.close_now.set()
            await handler.closed.wait()
            for _ in range(3):  # the loop delivers the close (the transport closes itself)
                await asyncio.sleep(0)
        return connection, reused

    monkeypatch.setattr(OriginPool, "_connection_for", peer_closes_after_the_check)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server, DatadogClient(api_key="a" * 32, app_key="b" * 40, base_url=url, retry=FAST_RETRY) as client:
        await client._t.request("GET", "/api/v2/users/u1", group="users")
        reply = await client._t.request("POST", "/api/v2/users", group="users", json={"data": {}})
        assert reply.status == 200
        assert client.stats.retries == {}
    assert handler.requests == [b"GET /api/v2/users/u1 HTTP/1.1", b"POST /api/v2/users HTTP/1.1"]


class _StrayOnCueServer:
    """Answers every request keep-alive with its path in the body; on its first connection, once idle and when told
    (`stray_now`), sends an answer nobody asked for (a 201 for a create), then waits for more."""

    def __init__(self) -> None:
        self.requests: list[tuple[int, bytes]] = []
        self.connections = 0
        self.stray_now = asyncio.Event()
        self.stray_sent = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")[0]
                self.requests.append((number, head))
                body = b'{"data": {"type": "users", "id": "%s"}}' % head.split()[1].rsplit(b"/", 1)[1]
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                await writer.drain()
                if number == 1:
                    await self.stray_now.wait()
                    stray = b'{"data": {"type": "users", "id": "stray"}}'
                    writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: %d\r\n\r\n" % len(stray) + stray)
                    await writer.drain()
                    self.stray_sent.set()
        writer.close()


async def test_an_answer_that_came_after_the_idle_check_is_never_taken_for_the_next_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same moment as above, with an answer instead of a close: bytes that came before any byte of the request
    left cannot be its answer, yet they were read as it (a stray 201 passed for a create's answer, the create's own
    answer left unread). The request goes out on a new connection, once, and gets its own answer."""
    handler = _StrayOnCueServer()
    server = await asyncio.start_server(handler.handle, "127.0.0.1", 0)
    checked = OriginPool._connection_for

    async def stray_after_the_check(pool: OriginPool, origin: httpcore.Origin) -> Any:
        connection, reused = await checked(pool, origin)
        if reused:
            handler.stray_now.set()
            await handler.stray_sent.wait()
            for _ in range(3):  # the loop takes the stray answer in
                await asyncio.sleep(0)
        return connection, reused

    monkeypatch.setattr(OriginPool, "_connection_for", stray_after_the_check)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server, DatadogClient(api_key="a" * 32, app_key="b" * 40, base_url=url, retry=FAST_RETRY) as client:
        await client._t.request("GET", "/api/v2/users/u1", group="users")
        reply = await client._t.request("POST", "/api/v2/users/created", group="users", json={"data": {}})
    assert reply.status == 200
    assert bytes(reply.body) == b'{"data": {"type": "users", "id": "created"}}'
    assert handler.requests == [(1, b"GET /api/v2/users/u1 HTTP/1.1"), (2, b"POST /api/v2/users/created HTTP/1.1")]


_QUERIES: list[dict[str, str | int | bool]] = [
    {"page[size]": 100, "page[number]": 0},
    {"filter": "ann o'neil+test@example.com", "sort": "-name", "include": "roles,users"},
    {"filter[keyword]": "a&b=c#d?e/f%20g", "flag": True, "other": False, "negative": -3},
    {"ünïcode kéy": "日本語 ∑ \u00a0", "empty": "", "tilde~dot.dash-under_score": "~.-_"},
    {"page[number]": 2**70, "controls": "\t\r\n\x00\x7f", "brackets[]": '[]{}|\\^`"<>'},
]


@pytest.mark.parametrize("params", _QUERIES)
async def test_the_query_sent_is_the_one_httpx_writes_for_the_same_parameters(
    params: dict[str, str | int | bool],
) -> None:
    """The transport writes a request's query itself (not through httpx.QueryParams, for CPU); what Datadog receives
    must be byte for byte what httpx sent for the same parameters, whatever characters they hold."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": []})

    client = answered_by(handler)
    async with client:
        await client._t.request("GET", "/api/v2/users", group="users", params=params)
    assert seen[0].url.raw_path == b"/api/v2/users?" + str(httpx.QueryParams(params)).encode("ascii")


async def test_requests_without_a_body_put_only_their_head_on_the_wire_and_keep_the_connection() -> None:
    """A GET, a DELETE and a POST without a body (`Content-Length: 0`) are their head and nothing else, and a POST
    with a body is its head and exactly its body: one after another on one kept connection (a stray byte or a
    missing end of message would be read as the start of the next request, or refused by h11)."""
    received: list[tuple[bytes, bytes]] = []
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0]) if b"Length" in head else 0
                received.append((head, await reader.readexactly(length)))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server, DatadogClient(api_key="a" * 32, app_key="b" * 40, base_url=url, retry=FAST_RETRY) as client:
        await client._t.request("GET", "/api/v2/users", group="users", params={"page[size]": 1})
        await client._t.request("DELETE", "/api/v2/users/u1", group="users")
        await client._t.request("POST", "/api/v2/users/u1/disable", group="users")
        await client._t.request("POST", "/api/v2/users", group="users", json={"data": 1})
        await client._t.request("GET", "/api/v2/users/u1", group="users")
    assert [head.split(b" ", 2)[:2] for head, _ in received] == [
        [b"GET", b"/api/v2/users?page%5Bsize%5D=1"],
        [b"DELETE", b"/api/v2/users/u1"],
        [b"POST", b"/api/v2/users/u1/disable"],
        [b"POST", b"/api/v2/users"],
        [b"GET", b"/api/v2/users/u1"],
    ]
    assert [body for _, body in received] == [b"", b"", b"", b'{"data":1}', b""]
    assert [b"Content-Length" in head for head, _ in received] == [False, False, True, True, False]
    assert b"Content-Length: 0\r\n" in received[2][0]
    assert not any(b"Transfer-Encoding" in head for head, _ in received)
    assert connections == 1, "each request ended where its head (and body) did: the connection was kept"
