"""A host with two addresses whose first never answers the SYN (a black-holed IPv6 route, the usual case of a
dual-stack host) is reached at its second, by every connection the connector makes: the Datadog client's own network
layer (`netio.AsyncioBackend`) and httpx's, which the ConductorOne token request and an https proxy go through
(`netsteps.LookupFirstBackend`). The latter tried the addresses one after another: the first took the whole connect
timeout, the second was never tried, and the token request failed as "timed out connecting"."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import httpcore
import pytest

from connector.baton import netsteps
from connector.datadog.netio import AsyncioBackend

HOST = "two-addresses.example"


def _one_port_on_both() -> tuple[socket.socket, socket.socket, int]:
    """Sockets bound to one port on 127.0.0.2 and on 127.0.0.1. The port the system picks on the first may be taken on
    the second (another process's, on a shared machine: the fixture failed with EADDRINUSE): another is picked."""
    for _ in range(50):
        hole, listening = socket.socket(), socket.socket()
        hole.bind(("127.0.0.2", 0))
        port = hole.getsockname()[1]
        try:
            listening.bind(("127.0.0.1", port))
        except OSError:
            hole.close()
            listening.close()
            continue
        return hole, listening, port
    raise AssertionError("no port free on both 127.0.0.2 and 127.0.0.1")


@pytest.fixture
def two_addresses(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """`HOST` resolves to 127.0.0.2, whose accept queue is full (its SYNs are dropped, as on a black-holed route), then
    to 127.0.0.1, listening, on the same port."""
    hole, listening, port = _one_port_on_both()
    hole.listen(0)
    filling = []
    for _ in range(8):
        client = socket.socket()
        client.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            client.connect(("127.0.0.2", port))
        filling.append(client)
    listening.listen(8)
    real = socket.getaddrinfo

    def resolve(host: Any, at: Any, *args: Any, **kwargs: Any) -> Any:
        if host in (HOST, HOST.encode()):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, at)) for ip in ("127.0.0.2", "127.0.0.1")]
        return real(host, at, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    yield port
    for each in (hole, listening, *filling):
        each.close()


@pytest.mark.parametrize(
    "backend", [AsyncioBackend, netsteps.LookupFirstBackend], ids=["datadog-client", "token-request-and-https-proxy"]
)
async def test_a_first_address_that_never_answers_does_not_hide_a_listening_second(
    two_addresses: int, backend: type[httpcore.AsyncNetworkBackend]
) -> None:
    stream = await backend().connect_tcp(HOST, two_addresses, timeout=2.0)
    try:
        assert stream.get_extra_info("socket").getpeername()[0] == "127.0.0.1"
    finally:
        await stream.aclose()
