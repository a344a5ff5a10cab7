"""The fallback sender (an https proxy's path) follows a request's connection steps only when the request makes a new
connection (`netsteps`): a kept connection's request paid ten trace calls, ~24 us, for steps it never takes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Mapping
from typing import Any

import httpcore
import httpx

from connector.baton import netsteps
from connector.datadog.netio import HttpxSender


class Counting(netsteps.Steps):
    __slots__ = ("events",)

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    async def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        self.events.append(event)
        await super().__call__(event, info)


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await reader.read(4096)
            if not chunk:
                writer.close()
                return
            head += chunk
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()


async def test_only_the_request_that_connects_is_traced() -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = httpx.AsyncHTTPTransport()
    sender = HttpxSender(transport)
    traced: list[list[str]] = []
    try:
        for _ in range(2):
            steps = Counting()
            request = httpcore.Request(
                "GET",
                f"http://127.0.0.1:{port}/x",
                headers=[(b"Host", b"127.0.0.1")],
                extensions={netsteps.EXTENSION: steps},
            )
            response = await sender.handle_async_request(request)
            assert isinstance(response.stream, AsyncIterable)
            async for _ in response.stream:
                pass
            await response.aclose()
            traced.append(steps.events)
    finally:
        await transport.aclose()
        server.close()
        await server.wait_closed()
    first, second = traced
    assert "connection.connect_tcp.started" in first
    assert second == []
