"""The operability HTTP server: /healthz (liveness), /readyz (readiness), /metrics (Prometheus); the baton-sdk
paths /live, /health (liveness) and /ready (readiness) answer the same, so SDK-style probes work unchanged.

It is served on the daemon's own event loop, so /healthz answering proves that loop is alive; it makes no
outside call, so an upstream or ConductorOne outage never restarts the pod. HTTP/1.1 is parsed by h11 (the
sans-IO parser httpx already brings) on asyncio streams: a few GET routes do not need a second HTTP stack,
and aiohttp cost the idle daemon ~10 MB of RSS and 65-350 ms of imports (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
from collections.abc import Callable
from datetime import UTC, datetime

import h11

from connector.baton.runtime.metrics import CONTENT_TYPE, Metrics

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
# baton-sdk's health server paths (its --health-check settings), kept as aliases of ours and answered in the SDK's
# words: its statuses (`healthy`, `alive`, `ready`; `not_ready` with `details.error`), whatever the method but
# CONNECT (docs/spec/service-mode.md §5, "Routes accept any method"; `_route` says why not CONNECT). They answered
# `ok`, and 405 to a POST, so a check written against the SDK's server failed on a healthy daemon. `/health` stays a
# liveness answer: the SDK's calls the connector's Validate (a Datadog request per probe), which a liveness probe must
# not depend on.
SDK_HEALTH_PATHS = ("/health", "/live")
SDK_READY_PATHS = ("/ready",)
_SDK_STATUS = {"/health": "healthy", "/live": "alive", "/ready": "ready"}
_LIVENESS = (HEALTH_PATH, *SDK_HEALTH_PATHS)
_READINESS = (READY_PATH, *SDK_READY_PATHS)

# A probe's request is a few hundred bytes; anything larger is answered 431 and dropped.
_MAX_REQUEST_HEAD = 8 * 1024
# A peer cannot hold a connection (a task, its buffers, a file descriptor) without doing its part:
# - a request (its head, and a body if it sends one) must arrive whole within REQUEST_TIMEOUT of the connection
#   or of the previous answer, so a byte dripped every few seconds, or a request never ended, ends the connection
#   (an idle keep-alive connection too); kubelet's probes and Prometheus send a request in one go;
# - an answer must be taken by the peer within WRITE_TIMEOUT: one that never reads its /metrics is dropped;
# - at most MAX_CONNECTIONS are open; one more closes the oldest, so connections held open by anyone cannot
#   lock the next kubelet probe out (a refused new connection would: the holder keeps its slots).
# 10 s is kubelet's longest usual probe timeout; 64 connections is far above a pod's kubelet plus a few
# scrapers and still a few hundred KB at most.
REQUEST_TIMEOUT = 10.0
WRITE_TIMEOUT = 10.0
MAX_CONNECTIONS = 64

_Reply = tuple[int, str, bytes]
_METHODS = "GET, HEAD"  # every path's


def _path(target: bytes) -> str:
    """The path of a request target: origin-form (`/healthz?x`) or absolute-form (`http://host/healthz`), which a
    server must accept too (RFC 9112 §3.2.2: a client talking through a proxy sends it); it was answered 404."""
    path = target.split(b"?", 1)[0]
    scheme, sep, rest = path.partition(b"://")
    if sep and scheme.lower() in (b"http", b"https"):
        path = b"/" + rest.partition(b"/")[2]
    return path.decode("ascii", errors="replace")


def _dual_stack_socket(host: str, port: int) -> socket.socket | None:
    """A listening socket for `::` that takes IPv4 too, or None for any other address. `::` means every address, as
    Go's net.Listen (baton-sdk's health server) and the chart's values take it; asyncio binds an IPv6 socket
    IPv6-only, so the kubelet's probes and Prometheus, which reach a pod on its IPv4 address, were refused."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.version != 6 or not address.is_unspecified or not socket.has_dualstack_ipv6():
        return None
    return socket.create_server((host, port), family=socket.AF_INET6, dualstack_ipv6=True)


def _parser() -> h11.Connection:
    """A request's HTTP/1.1 parser; a request larger than _MAX_REQUEST_HEAD is refused (431)."""
    return h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_REQUEST_HEAD)


def _status(status: str, code: int, **details: object) -> _Reply:
    body = {"status": status, "timestamp": datetime.now(UTC).isoformat(timespec="seconds"), **details}
    return code, "application/json", json.dumps(body).encode()


class OpsServer:
    def __init__(
        self,
        metrics: Metrics,
        readiness: Callable[[], tuple[bool, str]],
        host: str,
        port: int,
        *,
        request_timeout: float = REQUEST_TIMEOUT,
        write_timeout: float = WRITE_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self._metrics = metrics
        self._readiness = readiness
        self._host, self._port = host, port
        self._request_timeout = request_timeout
        self._write_timeout = write_timeout
        self._max_connections = max_connections
        self._server: asyncio.Server | None = None
        # Open connections, oldest first (a dict keeps insertion order).
        self._connections: dict[asyncio.Task[None], None] = {}
        self.bound_port: int | None = None

    async def start(self) -> None:
        sock = _dual_stack_socket(self._host, self._port)
        if sock is not None:
            self._server = await asyncio.start_server(self._accept, sock=sock)
        else:
            self._server = await asyncio.start_server(self._accept, self._host, self._port)
        sockets = self._server.sockets
        self.bound_port = int(sockets[0].getsockname()[1]) if sockets else self._port

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    def _route(self, method: bytes, target: bytes) -> _Reply:
        path = _path(target)
        if path not in (*_LIVENESS, *_READINESS, METRICS_PATH):
            return 404, "text/plain; charset=utf-8", b"404: Not Found"
        sdk = path in _SDK_STATUS
        # CONNECT is the one method even the SDK's paths refuse: in HTTP/1.1 a 2xx to it switches the connection to a
        # tunnel (h11 will not send a body after it), and the client got nothing at all.
        if method not in (b"GET", b"HEAD") and (not sdk or method == b"CONNECT"):
            return 405, "text/plain; charset=utf-8", b"405: Method Not Allowed"
        if path in _LIVENESS:
            return _status(_SDK_STATUS.get(path, "ok"), 200)
        if path in _READINESS:
            ready, why = self._readiness()
            if ready:
                return _status("ready", 200)
            return _status("not_ready", 503, reason=why, **({"details": {"error": why}} if sdk else {}))
        return 200, CONTENT_TYPE, self._metrics.render()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        while len(self._connections) >= self._max_connections:
            oldest = next(iter(self._connections))
            del self._connections[oldest]
            oldest.cancel()
        self._connections[task] = None
        finished = False
        try:
            await self._serve(reader, writer)
            finished = True
        except (OSError, TimeoutError, h11.ProtocolError):
            pass  # a probe that hung up, stalled or spoke garbage: nothing to answer
        except asyncio.CancelledError:
            # stop() or a newer connection ends it. The task is asyncio's per-connection one, and Python 3.11 logs
            # "Exception in callback" for such a task that ends cancelled: end it normally instead.
            pass
        finally:
            if finished or not writer.transport.get_write_buffer_size():
                # close() sends what is still buffered of the last answer first, for WRITE_TIMEOUT at most. The
                # connection is still counted meanwhile, so stop() or a newer connection at the cap ends it too.
                writer.close()
                with contextlib.suppress(OSError, TimeoutError, asyncio.CancelledError):
                    async with asyncio.timeout(self._write_timeout):
                        await writer.wait_closed()
            # An answer the peer did not take is dropped, buffered bytes and all: waiting for it to read would
            # hold this task, and stop(), for as long as the peer likes.
            writer.transport.abort()
            self._connections.pop(task, None)

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancel (stop(), a newer connection) that
        # comes as the drain completes, and the connection went on serving.
        async with asyncio.timeout(self._write_timeout):
            await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _parser()
        # RFC 9112 §2.2: a server SHOULD ignore empty lines (CRLF) received before a request line (an old client
        # adds one after a POST body). h11 answers them 400 ("no request line received"), so until the first byte of
        # a request they are dropped here. A peer sending nothing else is still cut off at the request deadline.
        before_request = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._request_timeout
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                # A malformed or oversized request: answer 400 (or 431) and close, as h11 allows a server to.
                reply = h11.Response(status_code=exc.error_status_hint, headers=[("content-length", "0")])
                with contextlib.suppress(h11.LocalProtocolError):
                    await self._send(writer, (conn.send(reply) or b"") + (conn.send(h11.EndOfMessage()) or b""))
                return
            if event is h11.NEED_DATA:
                # Checked here too: a read from a stream that already holds bytes returns without waiting, and
                # timeout_at only fires in a wait, so a peer that kept the buffer full (a body streamed faster than
                # it is parsed, one event a turn) was never cut off.
                if loop.time() >= deadline:
                    raise TimeoutError
                async with asyncio.timeout_at(deadline):
                    data = await reader.read(_MAX_REQUEST_HEAD)
                if before_request and data:
                    data = data.lstrip(b"\r\n")
                    if not data:
                        continue
                    before_request = False
                conn.receive_data(data)  # b"" is the peer's end of stream
                continue
            # A loop turn per request and per body part. A read (and the stream's buffer, which a read takes from
            # without a turn) can hold thousands of pipelined requests or one-byte body chunks; handled in one go
            # they held the daemon's loop, its task polls and heartbeats, for seconds (each /metrics is a render,
            # HEAD too). A request's end is no work of its own, so a probe costs one turn.
            if not isinstance(event, h11.EndOfMessage):
                await asyncio.sleep(0)
            if isinstance(event, h11.Request):
                code, content_type, body = self._route(event.method, event.target)
                headers = [("content-type", content_type), ("content-length", str(len(body)))]
                if code == 405:
                    headers.append(("allow", _METHODS))  # a 405 must name what is allowed (RFC 9110 §15.5.6)
                out = conn.send(h11.Response(status_code=code, headers=headers)) or b""
                if event.method != b"HEAD":
                    out += conn.send(h11.Data(data=body)) or b""
                out += conn.send(h11.EndOfMessage()) or b""
                await self._send(writer, out)
            elif isinstance(event, h11.ConnectionClosed) or conn.our_state is h11.MUST_CLOSE:
                return
            if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                # Keep-alive: the next request on the same connection.
                pipelined, closed = conn.trailing_data
                if pipelined[:1] in (b"\r", b"\n"):
                    # Empty lines before a pipelined request: h11 has them in its buffer, where start_next_cycle
                    # would leave them to be answered 400. What follows them goes to a new parser.
                    pipelined = pipelined.lstrip(b"\r\n")
                    conn = _parser()
                    if pipelined:
                        conn.receive_data(pipelined)
                    if closed:
                        conn.receive_data(b"")
                else:
                    conn.start_next_cycle()
                before_request = not pipelined
                deadline = loop.time() + self._request_timeout
            elif conn.our_state is h11.MUST_CLOSE:
                return
