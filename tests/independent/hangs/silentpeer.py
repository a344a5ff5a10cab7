"""Peers on 127.0.0.1 that accept a connection and then go silent at one step: before the TLS ServerHello, after a
proxy's CONNECT (unanswered, or answered and the tunnel silent), after an answer's head. Each holds its connections
open, writing nothing more, until it is shut."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["silent", "connect-unanswered", "tunnel-silent", "head-then-nothing", "continue-then-nothing"]


@dataclass
class SilentPeer:
    mode: Mode = "silent"
    """`silent`: nothing after the accept (no ServerHello). `connect-unanswered`: a proxy that reads the CONNECT and
    never answers it. `tunnel-silent`: a proxy that answers the CONNECT 200 and relays nothing. `head-then-nothing`:
    an answer's status line and headers (a body of 100 bytes announced), then nothing. `continue-then-nothing`: a
    `100 Continue` and nothing after it."""
    tls: ssl.SSLContext | None = None
    """A server context: the step is under TLS (the answer's head after the handshake)."""
    accepted: int = 0
    address: str = ""
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> SilentPeer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._stop.set()
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.append(writer)
        try:
            if self.mode != "silent":
                await reader.readuntil(b"\r\n\r\n")
                if self.mode == "tunnel-silent":
                    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                elif self.mode == "head-then-nothing":
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
                elif self.mode == "continue-then-nothing":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await self._stop.wait()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
