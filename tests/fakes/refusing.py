"""A loopback peer that answers the first thing it is sent with fixed bytes and hangs up: a proxy refusing
CONNECT (its status line may echo the request, Proxy-Authorization included), a server that speaks only an old TLS
version (a protocol_version alert), or one that does not speak TLS at all. It records what each connection sent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Callable
from typing import Self

# What a TLS 1.0-only server sends to a client that offers TLS 1.2 and 1.3 only: a fatal protocol_version alert
# (RFC 8446 §6.2), in a TLS 1.0 record.
PROTOCOL_VERSION_ALERT = bytes([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46])
# A plain-HTTP port reached with TLS.
NOT_TLS = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def proxy_authorization(received: bytes) -> bytes:
    """The user:password a CONNECT carried in Proxy-Authorization (Basic), or b""."""
    for line in received.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"proxy-authorization":
            return base64.b64decode(value.split()[-1])
    return b""


class RefusingPeer:
    def __init__(self, answer: Callable[[bytes], bytes]) -> None:
        self._answer = answer
        self.received: list[bytes] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = b""
        with contextlib.suppress(OSError):
            # An HTTP head ends with an empty line; a TLS ClientHello starts with a handshake record (0x16).
            while chunk := await reader.read(65536):
                data += chunk
                if b"\r\n\r\n" in data or data[:1] == b"\x16":
                    break
            self.received.append(data)
            writer.write(self._answer(data))
            await writer.drain()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
