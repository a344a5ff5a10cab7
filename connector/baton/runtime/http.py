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
import json
from collections.abc import Callable
from datetime import UTC, datetime

import h11

from connector.baton.runtime.metrics import CONTENT_TYPE, Metrics

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
# baton-sdk's health server paths (its --health-check settings), kept as aliases of ours.
SDK_HEALTH_PATHS = ("/health", "/live")
SDK_READY_PATHS = ("/ready",)
_LIVENESS = (HEALTH_PATH, *SDK_HEALTH_PATHS)
_READINESS = (READY_PATH, *SDK_READY_PATHS)

# A probe's request is a few hundred bytes; anything larger, or a peer that goes quiet, is dropped.
_MAX_REQUEST_HEAD = 8 * 1024
_IDLE_TIMEOUT = 10.0

_Reply = tuple[int, str, bytes]


def _status(status: str, code: int, **details: object) -> _Reply:
    body = {"status": status, "timestamp": datetime.now(UTC).isoformat(timespec="seconds"), **details}
    return code, "application/json", json.dumps(body).encode()


class OpsServer:
    def __init__(self, metrics: Metrics, readiness: Callable[[], tuple[bool, str]], host: str, port: int) -> None:
        self._metrics = metrics
        self._readiness = readiness
        self._host, self._port = host, port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.bound_port: int | None = None

    async def start(self) -> None:
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
        path = target.split(b"?", 1)[0].decode("ascii", errors="replace")
        if path not in (*_LIVENESS, *_READINESS, METRICS_PATH):
            return 404, "text/plain; charset=utf-8", b"404: Not Found"
        if method not in (b"GET", b"HEAD"):
            return 405, "text/plain; charset=utf-8", b"405: Method Not Allowed"
        if path in _LIVENESS:
            return _status("ok", 200)
        if path in _READINESS:
            ready, why = self._readiness()
            return _status("ready", 200) if ready else _status("not_ready", 503, reason=why)
        return 200, CONTENT_TYPE, self._metrics.render()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (OSError, TimeoutError, h11.ProtocolError):
            pass  # a probe that hung up, stalled or spoke garbage: nothing to answer
        except asyncio.CancelledError:
            # stop() ends open connections. The task is asyncio's per-connection one, and Python 3.11 logs
            # "Exception in callback" for such a task that ends cancelled: end it normally instead.
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_REQUEST_HEAD)
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                # A malformed or oversized request: answer 400 (or 431) and close, as h11 allows a server to.
                reply = h11.Response(status_code=exc.error_status_hint, headers=[("content-length", "0")])
                with contextlib.suppress(h11.LocalProtocolError):
                    writer.write((conn.send(reply) or b"") + (conn.send(h11.EndOfMessage()) or b""))
                    await writer.drain()
                return
            if event is h11.NEED_DATA:
                data = await asyncio.wait_for(reader.read(_MAX_REQUEST_HEAD), _IDLE_TIMEOUT)
                conn.receive_data(data)  # b"" is the peer's end of stream
                continue
            if isinstance(event, h11.Request):
                code, content_type, body = self._route(event.method, event.target)
                headers = [("content-type", content_type), ("content-length", str(len(body)))]
                out = conn.send(h11.Response(status_code=code, headers=headers)) or b""
                if event.method != b"HEAD":
                    out += conn.send(h11.Data(data=body)) or b""
                out += conn.send(h11.EndOfMessage()) or b""
                writer.write(out)
                await writer.drain()
            elif isinstance(event, h11.ConnectionClosed) or conn.our_state is h11.MUST_CLOSE:
                return
            if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                conn.start_next_cycle()  # keep-alive: the next request on the same connection
            elif conn.our_state is h11.MUST_CLOSE:
                return
