"""A host name lookup that never answers, named as one: the connect timeout that ends the wait for it says "DNS
lookup timed out", not "timed out connecting", which sent the operator after routes and firewalls for a host the
process never learned the address of (docs/service-mode.md's Datadog table: "DNS failure, connect timeout")."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpcore
import pytest

from connector.datadog.errors import describe_transport_error
from connector.datadog.netio import AsyncioBackend

HOST = "api.stalled-resolver.example"


async def _connect_timeout(monkeypatch: pytest.MonkeyPatch, *, lookup_answers: bool) -> httpcore.ConnectTimeout:
    loop = asyncio.get_running_loop()

    async def lookup(host: Any, port: Any, **kwargs: Any) -> Any:
        if not lookup_answers:
            await asyncio.Event().wait()  # never set: a resolver that takes the query and never replies
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))]

    async def connect(sock: socket.socket, address: Any) -> None:
        await asyncio.Event().wait()  # a SYN no one answers

    monkeypatch.setattr(loop, "getaddrinfo", lookup)
    monkeypatch.setattr(loop, "sock_connect", connect)
    with pytest.raises(httpcore.ConnectTimeout) as caught:
        await AsyncioBackend().connect_tcp(HOST, 443, timeout=0.05)
    return caught.value


async def test_a_lookup_cut_by_the_connect_timeout_is_named_a_dns_lookup_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    timeout = await _connect_timeout(monkeypatch, lookup_answers=False)
    assert describe_transport_error(timeout, HOST) == f"cannot reach {HOST}: DNS lookup timed out"
    # Through a proxy, the only lookup is the proxy's.
    assert describe_transport_error(timeout, HOST, proxy="proxy.example:3128") == (
        f"cannot reach {HOST}: cannot connect to the proxy proxy.example:3128: DNS lookup timed out"
    )


async def test_a_connect_cut_after_the_lookup_answered_stays_a_connect_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    timeout = await _connect_timeout(monkeypatch, lookup_answers=True)
    assert describe_transport_error(timeout, HOST) == f"cannot reach {HOST}: timed out connecting"
