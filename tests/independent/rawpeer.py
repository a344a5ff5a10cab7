"""A byte-exact HTTP/1.1 peer on 127.0.0.1 for the independent suite: it answers each request with scripted bytes
(status lines, headers and bodies no well-behaved server library would write), records what it was sent, and counts
the connections it accepted."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field

JSON = ((b"Content-Type", b"application/json"),)


@dataclass(frozen=True)
class Stall:
    """Write these bytes, then neither write nor close again until the peer is shut (a peer that stalls)."""

    sent: bytes


@dataclass(frozen=True)
class CloseAfter:
    """Write these bytes, then close the connection (a body cut short, a peer gone mid-answer)."""

    sent: bytes


Answer = bytes | Stall | CloseAfter


def http(
    status: int,
    body: bytes = b"",
    headers: Sequence[tuple[bytes, bytes]] = JSON,
    *,
    reason: bytes = b"X",
    length: bool = True,
) -> bytes:
    """One response's bytes; a Content-Length matching the body unless `headers` gives one or `length` is False."""
    head = [b"HTTP/1.1 %d %s" % (status, reason)]
    head += [name + b": " + value for name, value in headers]
    if length and not any(name.lower() == b"content-length" for name, _ in headers):
        head.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(head) + b"\r\n\r\n" + body


@dataclass
class RawPeer:
    answers: list[Answer]
    """One per request, in order; the last one answers every request after it."""
    requests: list[bytes] = field(default_factory=list)
    """Each request's head and body, as sent."""
    connections: int = 0
    tls: ssl.SSLContext | None = None
    """A server context: the peer speaks HTTPS (the token endpoint's scheme)."""
    address: str = ""
    """`127.0.0.1:<port>`, once started (and still after it is shut, for the assertions about it)."""
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> RawPeer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.address = f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._closing.set()
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        # Each handler ends on its aborted connection: waited for, so none is left for the loop's end to cancel (which
        # asyncio's stream callback then logs as an error).
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)
        await self._server.wait_closed()

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.address}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                self.requests.append(head + (await reader.readexactly(length) if length else b""))
                answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
                writer.write(answer if isinstance(answer, bytes) else answer.sent)
                await writer.drain()
                if isinstance(answer, Stall):
                    await self._closing.wait()
                if not isinstance(answer, bytes):
                    return
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            if handler is not None:
                self._handlers.discard(handler)
            with contextlib.suppress(Exception):
                writer.close()
