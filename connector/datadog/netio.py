"""The Datadog transport's connections: kept by `OriginPool`, made by httpcore, on plain asyncio protocols.

httpcore reaches asyncio through anyio by default: every read and write opens a cancel scope, and before each
request and after each response the pool asks every idle connection whether its socket is readable (anyio's
typed attributes, then a poll(2) call). On an asyncio protocol the protocol already holds what the peer sent
and whether it closed (one poll(2) remains, for what the loop has not delivered yet), and a timeout is one timer: a Datadog request costs about a third less CPU
(docs/benchmarks.md, "CPU per Datadog request").

What httpcore's anyio backend guarantees is kept: TCP_NODELAY (asyncio's default for TCP), the timeout of each
connect, read and write, failures raised as httpcore's ConnectError / ConnectTimeout / ReadError / ReadTimeout /
WriteError / WriteTimeout with the OS or TLS error as their cause (`errors.describe_transport_error` reads the
chain, and the text: the pool re-raises a failure `from None`, which drops a read's cause), TLS by `start_tls`
(also inside a proxy's TLS: asyncio supports TLS in TLS since 3.11; see `_TLS_IN_TLS_SAFE`; bytes that came before
the handshake fail it, as a TLS socket fails on them, rather than pass for the protected answer), and an idle
connection with unread bytes or a closed peer is reported readable, so the pool drops it rather than reading a
stale answer as the next response. Reading stops while more than `_HIGH_WATER` bytes wait unread, so a fast
peer cannot grow the buffer past what the reader takes.
"""

from __future__ import annotations

import asyncio
import inspect
import select
import ssl
from asyncio import sslproto
from collections.abc import AsyncIterable, AsyncIterator, Iterable, MutableMapping
from typing import Any, Protocol

import httpcore
import httpx

from connector.baton import netsteps
from connector.baton.hostnames import host_port

__all__ = [
    "HTTPCORE_ERRORS",
    "AsyncioBackend",
    "HttpxSender",
    "OriginPool",
    "Sender",
    "as_httpx_error",
    "asyncio_pool",
]

_HIGH_WATER = 256 * 1024

# CPython gh-113214 (fixed in 3.11.8 and 3.12.2): a TLS error inside a TLS transport (a certificate that fails
# behind an https proxy) raised TypeError out of asyncio's error path instead of failing the handshake. Detected by
# the fixed signature, so a patched build of any version counts.
_TLS_IN_TLS_SAFE = len(inspect.signature(sslproto.SSLProtocol._abort).parameters) > 1


class _Protocol(asyncio.Protocol):
    """The receiving side of one connection: a byte buffer, end of stream, and who waits for what."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.sock: Any = None  # the TCP socket (also under TLS)
        self.buffer = bytearray()
        self.eof = False
        self.lost: BaseException | None = None
        self.closed = False
        self.paused = False
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.sock = transport.get_extra_info("socket")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = self.closed = True
        self.lost = exc
        self._wake_reader()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def _wake_reader(self) -> None:
        if self._readable is not None and not self._readable.done():
            self._readable.set_result(None)

    async def readable(self, timeout: float | None) -> None:  # noqa: ASYNC109
        """Wait for bytes, the end of the stream or the connection's loss; TimeoutError after `timeout` seconds.

        The timeout is a timer that fails the wait, not `asyncio.timeout`: that cancels the task and takes the
        cancellation back, with a context manager, a task lookup and a state machine around the one timer, at each
        wait of every read: 1.4 % of a request's instructions (callgrind, perf50)."""
        loop = asyncio.get_running_loop()
        waiter = self._readable = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, _time_out, waiter)
        try:
            await waiter
        finally:
            self._readable = None
            if timer is not None:
                timer.cancel()

    def must_wait_to_write(self) -> bool:
        """Whether the transport asked us to stop writing (its buffer is over its high-water mark) and has not resumed."""
        return self._writable is not None and not self._writable.done()

    async def writable(self) -> None:
        if self._writable is not None and not self._writable.done():
            await self._writable


def _time_out(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, protocol: _Protocol) -> None:
        self._p = protocol
        # Whether bytes of the request being sent have been handed to the transport: HTTP/1.1 writes a request whole
        # before it reads its answer, so the first write after a read (or on a new connection) starts a request.
        self._sending = False

    # The `timeout` parameters are httpcore's interface (AsyncNetworkStream / AsyncNetworkBackend).
    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        p = self._p
        if not p.buffer and not p.eof:
            try:
                await p.readable(timeout)
            except TimeoutError as exc:
                raise httpcore.ReadTimeout(str(exc)) from exc
        elif p.buffer:
            # Bytes already here are handed out without a wait, so the reader would not let the loop run until the
            # buffer (up to `_HIGH_WATER` and a socket read more) is parsed: a peer sending interim answers or a body
            # in tiny chunks held the loop (health checks, heartbeats, every other request) for seconds. One loop turn
            # per read (httpcore reads 64 KiB at a time) bounds that; `ApiTransport` bounds a read's many chunks.
            await asyncio.sleep(0)
        self._sending = False
        if p.buffer:
            if len(p.buffer) <= max_bytes:
                data = bytes(p.buffer)
                p.buffer.clear()
            else:
                data = bytes(p.buffer[:max_bytes])
                del p.buffer[:max_bytes]
            if p.paused and len(p.buffer) <= _HIGH_WATER // 2 and p.transport is not None and not p.closed:
                p.paused = False
                p.transport.resume_reading()
            return data
        if p.lost is not None:
            raise httpcore.ReadError(str(p.lost)) from p.lost
        return b""  # the peer closed cleanly: httpcore reads that as the end of the connection

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        p = self._p
        closed = p.closed or p.transport is None or p.transport.is_closing()
        if not self._sending and (closed or p.buffer):
            # Not a byte of this request has left, and the connection cannot carry it: the peer closed it, or sent
            # bytes that cannot be this request's answer, after the pool's idle check (a keep-alive timeout, a stray
            # answer) or as it was made. Closed, httpcore read on after the WriteError and found nothing:
            # "disconnected", as if the request may have reached Datadog, so a create was never sent again; bytes
            # were read as its answer (a stray 201 for a create's). Unused, the connection is replaced (`OriginPool`)
            # or, new, fails as one that could not take the request: never sent either way.
            raise httpcore.ConnectionNotAvailable()
        if closed or p.transport is None:
            raise httpcore.WriteError(str(p.lost) if p.lost else "the connection is closed") from p.lost
        self._sending = True
        p.transport.write(buffer)
        if p.must_wait_to_write():
            # A timer only for a wait: one per write was a third of a request's timers, each a TimerHandle pushed onto
            # (and, cancelled, left in) the loop's heap: 2.9 % of a request's instructions (callgrind, perf50).
            try:
                async with asyncio.timeout(timeout):
                    await p.writable()
            except TimeoutError as exc:
                raise httpcore.WriteTimeout(str(exc)) from exc
        if p.lost is not None:
            raise httpcore.WriteError(str(p.lost)) from p.lost

    async def aclose(self) -> None:
        transport = self._p.transport
        if transport is not None:
            # close() sends what it can (TLS: our close_notify) at once; abort() then drops the socket rather than
            # let asyncio's TLS shutdown hold it open up to 30 s for a peer's close_notify that may never come.
            # A connection the pool closes has nothing left to deliver (anyio's close also ends in an abort).
            transport.close()
            transport.abort()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        p = self._p
        assert p.transport is not None
        try:
            async with asyncio.timeout(timeout):
                if p.buffer:
                    # No TLS peer speaks first: bytes taken in before the handshake (a peer, a proxy after its CONNECT
                    # answer, anyone on the path) are no part of the TLS stream, yet the buffer would hand them out
                    # as the first bytes of the protected answer. A TLS socket refuses them as a record that is no
                    # TLS; so does this one (raised as the TLS error below; never quoted). Checked with no await
                    # before `start_tls` pauses reading: later bytes reach the TLS layer itself.
                    raise ssl.SSLError(
                        ssl.SSL_ERROR_SSL, f"the peer sent {len(p.buffer)} bytes before the TLS handshake"
                    )
                tls = await asyncio.get_running_loop().start_tls(
                    p.transport, p, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError as exc:
            p.transport.close()
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:  # ssl.SSLError included
            p.transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        if tls is None:  # the peer closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        p.transport = tls
        return self

    def get_extra_info(self, info: str) -> Any:
        p = self._p
        if info == "is_readable":
            # Asked of idle connections only: any byte or a close before the next request means "do not reuse",
            # whether the loop has delivered it yet or it still waits in the kernel (one poll, as httpcore does).
            return bool(p.buffer) or p.eof or p.closed or _waiting_in_kernel(p.sock)
        if p.transport is None:
            return None
        name = {"ssl_object": "ssl_object", "client_addr": "sockname", "server_addr": "peername", "socket": "socket"}
        return p.transport.get_extra_info(name[info]) if info in name else None


def _waiting_in_kernel(sock: Any) -> bool:
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        _, protocol = await netsteps.connect(
            host,
            port,
            timeout,
            local_address,
            socket_options,
            lambda sock: loop.create_connection(_Protocol, sock=sock),
        )
        return _Stream(protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Sender(Protocol):
    """What the Datadog transport sends through: httpcore's pool, or `HttpxSender` around an httpx transport."""

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response: ...


def asyncio_pool(transport: object) -> httpcore.AsyncConnectionPool | None:
    """The httpcore pool behind an httpx transport (direct or through a proxy), given the asyncio backend.

    httpx builds the pool (proxies from the environment, trust, limits) but takes no network backend and has no
    public accessor for the pool, so its attributes are used before the pool has opened any connection. None when
    an httpx or httpcore whose internals moved does not offer them, or for an https proxy where this Python's
    asyncio cannot fail TLS in TLS cleanly: the caller then sends through httpx (`HttpxSender`; correct, only
    slower) and the transport tests say so (`ApiTransport.asyncio_network`).
    """
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore.AsyncConnectionPool) or pool.connections or not hasattr(pool, "_network_backend"):
        return None
    if isinstance(pool, httpcore.AsyncHTTPProxy) and not _TLS_IN_TLS_SAFE:
        proxy_url = getattr(pool, "_proxy_url", None)
        if not isinstance(proxy_url, httpcore.URL) or proxy_url.scheme != b"http":
            return None  # an https proxy on an asyncio with gh-113214: anyio's TLS (in memory) has no such bug
    pool._network_backend = AsyncioBackend()
    return pool


class OriginPool:
    """Keep-alive connections to the one origin the Datadog transport sends to, each made by httpcore's pool.

    httpcore's pool keeps a queue of requests and, on every request and every response closed, scans each of its
    connections several times (its idle count alone is quadratic in the pool's size): a quarter of the CPU of a
    Datadog request (docs/benchmarks.md, "CPU per Datadog request"). Here no request waits for a connection: the
    transport never has more requests in flight than its concurrency (`ApiTransport`'s semaphore), which is this
    pool's `size`. A request takes the most recently used idle connection that is still usable (httpcore's own
    `is_available` and `has_expired`: keep-alive expiry, and a peer that closed or sent unasked bytes) or a new one
    made by `pool.create_connection`: direct, or through the proxy httpx chose from the environment, with the
    timeouts, TLS and tunnelling of httpcore's connection classes. A connection goes back to the idle list when its
    response is closed with the connection reusable and no bytes after the answer in its parser
    (`_holds_unread_bytes`); any failure or cancellation closes it, as in httpcore's pool.
    """

    def __init__(self, pool: httpcore.AsyncConnectionPool, size: int) -> None:
        self._pool = pool
        self._size = size
        self._idle: list[httpcore.AsyncConnectionInterface] = []
        self._open: set[httpcore.AsyncConnectionInterface] = set()
        # Once closed, no connection is kept: a request in flight at the close (or sent again after it) would
        # otherwise hand its connection back to an idle list no one closes again, its socket open for good.
        self._closed = False

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        while True:
            connection, reused = await self._connection_for(request.url.origin)
            steps = None if reused else request.extensions.get(netsteps.EXTENSION)
            if steps is not None:
                # A new connection's steps (lookup, connect, TLS, a proxy's CONNECT) are followed, to name the one a
                # timeout cuts; a reused connection's request is not traced.
                request.extensions = {**request.extensions, "trace": steps}
            try:
                response = await connection.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:
                # A reused connection that stopped being usable between the check and the request: another one.
                await self._close(connection)
                if reused:
                    continue
                raise httpcore.ConnectError("a new connection could not take the request") from None
            except BaseException as exc:
                await self._close(connection)
                # `from None`, as httpcore's pool: a failed read's OS or TLS error stays out of the chain that
                # `errors.describe_transport_error` reads (a TLS error there means a failed handshake).
                raise exc from None
            if not reused:
                _locks_without_checkpoints(connection)
            stream = response.stream
            assert isinstance(stream, AsyncIterable)
            # The same response with its body wrapped (a new Response would check every header name and value again).
            response.stream = _Returned(stream, self, connection)
            return response

    async def _connection_for(self, origin: httpcore.Origin) -> tuple[httpcore.AsyncConnectionInterface, bool]:
        while self._idle:
            connection = self._idle.pop()
            if connection.is_available() and not connection.has_expired():
                return connection, True
            await self._close(connection)
        connection = self._pool.create_connection(origin)
        self._open.add(connection)
        return connection, False

    async def release(self, connection: httpcore.AsyncConnectionInterface) -> None:
        """After a response is closed: keep the connection for the next request, or close it."""
        if (
            not self._closed
            and connection.is_idle()
            and not _holds_unread_bytes(connection)
            and len(self._idle) < self._size
        ):
            self._idle.append(connection)
        else:
            await self._close(connection)

    async def _close(self, connection: httpcore.AsyncConnectionInterface) -> None:
        self._open.discard(connection)
        await connection.aclose()

    async def aclose(self) -> None:
        self._closed = True
        connections, self._open, self._idle = list(self._open), set(), []
        for connection in connections:
            await connection.aclose()


# Where httpcore keeps its locks: `AsyncHTTPConnection`, the proxy tunnel and `AsyncHTTP11Connection`.
_HTTPCORE_LOCK_NAMES = ("_request_lock", "_connect_lock", "_state_lock")


def _locks_without_checkpoints(connection: httpcore.AsyncConnectionInterface) -> None:
    """Give the connection's httpcore locks asyncio's, which take a free lock without a turn of the event loop.

    httpcore's locks are anyio's on asyncio, and anyio's acquire is a checkpoint: a turn of the loop even when the lock
    is free. A request took three (the connection's request lock, the HTTP/1.1 state lock at the request and again at
    the close of its answer): five loop turns a request instead of two. Without them a Datadog request costs 8 % fewer
    instructions (callgrind) and 10 % less event-loop CPU (577 -> 520 us over https; docs/benchmarks.md, "CPU per
    Datadog request", perf50). A connection here is used by one request at a time (`OriginPool`), so its locks are
    never contended; asyncio's is still a lock should one ever be. Done after the connection's first exchange, when its
    HTTP/1.1 connection exists (under a proxy's connection classes, each one `_connection` deeper, as
    `_holds_unread_bytes` walks them) and no lock is held. An httpcore whose attributes moved keeps its own locks
    (correct, slower); tests/datadog/test_netio.py names any lock left.
    """
    inner: object = connection
    for _ in range(3):
        if inner is None:
            return
        for name in _HTTPCORE_LOCK_NAMES:
            lock = getattr(inner, name, None)
            if type(lock).__name__ == "AsyncLock" and type(lock).__module__.startswith("httpcore."):
                setattr(inner, name, asyncio.Lock())
        inner = getattr(inner, "_connection", None)


def _holds_unread_bytes(connection: httpcore.AsyncConnectionInterface) -> bool:
    """Whether bytes the peer sent after its answer are already in the connection's HTTP/1.1 parser (h11's).

    They came in the same read as the answer, so the idle check (`has_expired`: bytes waiting in the protocol or
    the kernel) cannot see them, and the parser would read them as the next request's answer: a stray or
    duplicated response taken for a refused create's. The parser sits under httpcore's connection classes (direct,
    tunnelled or forwarded, each one `_connection` deeper; tests/datadog/test_netio.py pins it there).
    """
    inner: object = connection
    for _ in range(3):
        inner = getattr(inner, "_connection", None)
        parser = getattr(inner, "_h11_state", None)
        if parser is not None:
            unread: bytes = parser.trailing_data[0]
            return bool(unread)
    return False


class _Returned:
    """A response body that hands its connection back to the `OriginPool` once closed (read to the end or not)."""

    def __init__(
        self, stream: AsyncIterable[bytes], pool: OriginPool, connection: httpcore.AsyncConnectionInterface
    ) -> None:
        self._stream = stream
        self._pool = pool
        self._connection = connection
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:
                yield part
        except BaseException as exc:
            await self.aclose()
            raise exc from None  # as `OriginPool.handle_async_request`

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._stream, "aclose", None)
            if close is not None:
                await close()
        finally:
            await self._pool.release(self._connection)


class HttpxSender:
    """An httpx transport behind the `Sender` interface: one the caller injected (tests), or the fallback.

    A response the transport already read (in-process transports build it from bytes) was decoded by httpx, so
    it is handed on without its Content-Encoding. Once a response is closed, a kept connection holding bytes after
    its answer is closed (`drop_unread`), as `OriginPool` drops it.
    """

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        url = request.url
        body = b"".join([part async for part in request.stream]) if isinstance(request.stream, AsyncIterable) else b""
        host = url.host.decode("ascii")
        netloc = host_port(host, url.port)
        sent = httpx.Request(
            request.method.decode("ascii"),
            f"{url.scheme.decode('ascii')}://{netloc}{url.target.decode('ascii')}",
            headers=request.headers,
            content=body,
            extensions=self._traced(request),
        )
        response = await self._transport.handle_async_request(sent)
        response.request = sent
        # Its HTTP version is handed on: the transport's framing check reads it (`connector.baton.framing`).
        extensions = {"http_version": response.extensions.get("http_version", b"HTTP/1.1")}
        if response.is_stream_consumed:
            headers = [(k, v) for k, v in response.headers.raw if k.lower() != b"content-encoding"]
            return httpcore.Response(
                response.status_code, headers=headers, content=response.content, extensions=extensions
            )
        return httpcore.Response(
            response.status_code, headers=response.headers.raw, content=_RawBody(response, self), extensions=extensions
        )

    async def drop_unread(self) -> None:
        """Close each idle connection of the transport's pool whose parser holds bytes the peer sent after its answer
        (`_holds_unread_bytes`), as `OriginPool.release` does: httpcore's pool keeps such a connection, and the bytes
        were read as the next request's answer (a stray 201 taken for a create's, its forged key issued and the key
        the create made left live). Called once a response is closed; a pool whose internals moved is left as it is."""
        connections = getattr(getattr(self._transport, "_pool", None), "connections", None)
        if not isinstance(connections, list):
            return
        for connection in list(connections):
            if connection.is_idle() and _holds_unread_bytes(connection):
                await connection.aclose()  # a closed connection is dropped from the pool at its next request

    def _traced(self, request: httpcore.Request) -> MutableMapping[str, Any]:
        """The request's extensions, with its `netsteps.Steps` as httpcore's trace when the request will make a new
        connection: a kept one is not followed (`netsteps`), and traced it cost ~24 us a request on this path (an
        https proxy's: ten trace calls). Judged from the httpcore pool behind httpx's transport (private, as
        `netsteps.lookups_first` reads it): one whose internals moved is traced every time."""
        extensions = request.extensions
        steps = extensions.get(netsteps.EXTENSION)
        if steps is None:
            return extensions
        connections = getattr(getattr(self._transport, "_pool", None), "connections", None)
        if isinstance(connections, list) and connections:
            origin = request.url.origin
            try:
                if any(c.is_available() and c.can_handle_request(origin) for c in connections):
                    return extensions
            except (AttributeError, TypeError):
                pass  # not the pool's internals this code knows: traced
        return {**extensions, "trace": steps}


class _RawBody:
    def __init__(self, response: httpx.Response, sender: HttpxSender) -> None:
        self._response = response
        self._sender = sender

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.aiter_raw():
            yield chunk

    async def aclose(self) -> None:
        await self._response.aclose()
        await self._sender.drop_unread()


_FROM_HTTPCORE: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
}
HTTPCORE_ERRORS = tuple(_FROM_HTTPCORE)


def as_httpx_error(exc: Exception) -> httpx.TransportError:
    """The httpx exception httpx's own transport would raise for an httpcore one (same name and message): the
    retry policy and `errors.describe_transport_error` know httpx's. Raise it `from` the original."""
    for klass in type(exc).__mro__:
        if klass in _FROM_HTTPCORE:
            return _FROM_HTTPCORE[klass](str(exc))
    return httpx.TransportError(str(exc))
