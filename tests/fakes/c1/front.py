"""The fake's one TLS listener. ConductorOne serves the token endpoint and BatonService on the same host and
port (§1.2: BATON_C1_API_HOST replaces both), so the fake does too: it terminates TLS and hands the
connection to the gRPC server when ALPN chose `h2`, to the HTTP server otherwise. Both back ends listen on
127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from tests.fakes.c1.state import FakeState

_READ_SIZE = 256 * 1024


class TlsFront:
    def __init__(self, state: FakeState, ssl_context: ssl.SSLContext, *, grpc_port: int, http_port: int) -> None:
        self._state = state
        self._ssl = ssl_context
        self._grpc_port = grpc_port
        self._http_port = http_port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._grpc_clients: set[asyncio.StreamWriter] = set()
        self.connections_accepted = 0

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port, ssl=self._ssl)
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def stop(self) -> None:
        self.drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def send_goaway(self, error_code: int, debug: bytes, last_stream_id: int = 2**31 - 1) -> None:
        """Send every gRPC client an HTTP/2 GOAWAY frame with this error code and debug data, as a server going away
        does, the connection left open. Call it while their calls are held (`slow_down`): the server's frames have
        all been forwarded whole, so this one starts at a frame boundary."""
        payload = last_stream_id.to_bytes(4, "big") + error_code.to_bytes(4, "big") + debug
        frame = len(payload).to_bytes(3, "big") + bytes([0x7, 0]) + bytes(4) + payload
        for writer in self._grpc_clients:
            writer.write(frame)

    def drop_all(self) -> None:
        """Cut every open connection, as a crashed or restarted server would."""
        for writer in list(self._connections):
            writer.transport.abort()
        self._connections.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_accepted += 1
        if self._state.outage() == "refuse":
            writer.transport.abort()
            return
        ssl_object = writer.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        port = self._grpc_port if alpn == "h2" else self._http_port
        try:
            backend_reader, backend_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.transport.abort()
            return
        self._connections.add(writer)
        self._connections.add(backend_writer)
        if port == self._grpc_port:
            self._grpc_clients.add(writer)
        try:
            await asyncio.gather(_pipe(reader, backend_writer), _pipe(backend_reader, writer))
        finally:
            self._connections.discard(writer)
            self._connections.discard(backend_writer)
            self._grpc_clients.discard(writer)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(_READ_SIZE):
            sink.write(data)
            await sink.drain()
    except (ConnectionError, OSError, ssl.SSLError):
        pass
    finally:
        # TLS cannot half-close, so one side ending ends the whole connection; both protocols behind this
        # only end a connection when they are done with it.
        sink.close()
        with contextlib.suppress(ConnectionError, OSError, ssl.SSLError):
            await sink.wait_closed()
