"""Loopback helpers shared by the tests, the demo and the benchmarks.

Servers bind port 0 and report the port they got; nothing here picks a "free" port up front (another process
could take it between the check and the bind). The daemon's health server does the same with
BATON_HEALTH_CHECK_PORT=0 and logs the port it bound: `logged_health_port` reads it back from its JSON log.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator, Iterable, Iterator

import httpx

HEALTH_LISTENING = "health server listening"
"""The daemon's log event once its health server listens (connector/baton/runtime/service.py), with `port`."""


def logged_health_port(lines: Iterable[str]) -> int | None:
    """The port in the daemon's "health server listening" JSON log record; None until it was logged."""
    for line in lines:
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and record.get("event") == HEALTH_LISTENING:
                return int(record["port"])
    return None


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound (so no one else gets it) but not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


class EndlessBody(httpx.AsyncByteStream):
    """A response body that never ends (a hostile or broken peer): `chunk` forever, counting what was taken."""

    def __init__(self, chunk: bytes = b" " * 4096) -> None:
        self.chunk = chunk
        self.yielded = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            self.yielded += 1
            yield self.chunk
