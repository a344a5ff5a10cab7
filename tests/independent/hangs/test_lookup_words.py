"""A host name lookup that never answers, named as one: the connect timeout that ends the wait for it says "DNS
lookup timed out", not "timed out connecting", which sent the operator after routes and firewalls for a host the
process never learned the address of (docs/service-mode.md's Datadog table: "DNS failure, connect timeout")."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpcore
import pytest

from connector.baton import lookup, netsteps
from connector.datadog.errors import describe_transport_error
from connector.datadog.netio import AsyncioBackend
from tests.polling import until

HOST = "api.stalled-resolver.example"


@pytest.fixture
def resolver_silent() -> Iterator[threading.Event]:
    """Set it to let the stalled lookups (of the test's own host only) answer; set at the end either way."""
    answer = threading.Event()
    yield answer
    answer.set()
    # The released lookups' threads give their lanes back as they end: a next test in this process that finds them
    # still held (`lookup._lookups`) waited for a lane its own connect timeout long.
    ended = time.monotonic() + 10
    while lookup._lookups and time.monotonic() < ended:
        time.sleep(0.01)


def _stalling(monkeypatch: pytest.MonkeyPatch, release: threading.Event | None, calls: list[str] | None = None) -> None:
    real = socket.getaddrinfo

    def lookup(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != HOST:
            return real(host, port, *args, **kwargs)
        if calls is not None:
            calls.append(host)
        if release is not None:
            release.wait()  # a resolver that takes the query and never replies (until the test ends)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)


async def _connect_timeout(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event, *, lookup_answers: bool
) -> httpcore.ConnectTimeout:
    loop = asyncio.get_running_loop()

    async def connect(sock: socket.socket, address: Any) -> None:
        await asyncio.Event().wait()  # a SYN no one answers

    _stalling(monkeypatch, None if lookup_answers else release)
    monkeypatch.setattr(loop, "sock_connect", connect)
    # A lookup that answers does so on a thread of its own, within the connect's timeout: 0.05 s was shorter than a
    # loaded host took to run that thread (make test -n 4 beside CPU burners), and the lookup, not the connect, was cut.
    timeout = 1.0 if lookup_answers else 0.05
    with pytest.raises(httpcore.ConnectTimeout) as caught:
        await AsyncioBackend().connect_tcp(HOST, 443, timeout=timeout)
    return caught.value


async def test_a_lookup_cut_by_the_connect_timeout_is_named_a_dns_lookup_timeout(
    monkeypatch: pytest.MonkeyPatch, resolver_silent: threading.Event
) -> None:
    timeout = await _connect_timeout(monkeypatch, resolver_silent, lookup_answers=False)
    assert describe_transport_error(timeout, HOST) == f"cannot reach {HOST}: DNS lookup timed out"
    # Through a proxy, the only lookup is the proxy's.
    assert describe_transport_error(timeout, HOST, proxy="proxy.example:3128") == (
        f"cannot reach {HOST}: cannot connect to the proxy proxy.example:3128: DNS lookup timed out"
    )


async def test_a_connect_cut_after_the_lookup_answered_stays_a_connect_timeout(
    monkeypatch: pytest.MonkeyPatch, resolver_silent: threading.Event
) -> None:
    timeout = await _connect_timeout(monkeypatch, resolver_silent, lookup_answers=True)
    assert describe_transport_error(timeout, HOST) == f"cannot reach {HOST}: timed out connecting"


async def test_lookups_the_resolver_never_answers_leave_the_loops_threads_free(
    monkeypatch: pytest.MonkeyPatch, resolver_silent: threading.Event
) -> None:
    """A lookup cannot be cancelled: its thread stays in `getaddrinfo` after the connect timeout. Run on the loop's
    default executor, six of them took all of its threads, and every `to_thread` after them (the c1z store's jobs, a
    working directory's release) waited for the resolver. Lookups run on threads of their own, at most
    `MAX_LOOKUPS`; one past those waits within its own connect timeout and is named a lookup timeout."""
    calls: list[str] = []
    _stalling(monkeypatch, resolver_silent, calls)
    for _ in range(lookup.MAX_LOOKUPS + 4):
        with pytest.raises(httpcore.ConnectTimeout):
            await AsyncioBackend().connect_tcp(HOST, 443, timeout=0.05)
    # Each lane's thread reaches the resolver once it runs, which on a loaded host is after its connect timed out.
    await until(lambda: len(calls) == lookup.MAX_LOOKUPS, f"{lookup.MAX_LOOKUPS} lookups at the resolver: {calls}")
    assert len(calls) == lookup.MAX_LOOKUPS, "no more threads than lookup lanes are held"
    assert await asyncio.wait_for(asyncio.to_thread(lambda: "free"), timeout=10) == "free"
    resolver_silent.set()


async def test_a_lookup_thread_that_cannot_start_fails_its_connect_and_keeps_no_lane(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lookup's lane was taken before its thread started: a thread that could not start (the process at its thread
    limit) kept the lane for good, every later lookup then waited out its timeout, and the failure itself came out of
    the connect as a bare RuntimeError."""

    def cannot_start(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    with monkeypatch.context() as patch:
        patch.setattr(threading.Thread, "start", cannot_start)
        for _ in range(lookup.MAX_LOOKUPS + 1):
            with pytest.raises(httpcore.ConnectError, match="cannot start a thread to look the host name up"):
                await AsyncioBackend().connect_tcp(HOST, 443, timeout=1.0)
    assert lookup._lookups == 0


@pytest.mark.parametrize(
    "backend", [AsyncioBackend, netsteps.LookupFirstBackend], ids=["datadog-client", "token-request-and-https-proxy"]
)
async def test_an_address_is_connected_to_without_a_lookup_even_with_every_lane_held(
    monkeypatch: pytest.MonkeyPatch, resolver_silent: threading.Event, backend: type[httpcore.AsyncNetworkBackend]
) -> None:
    """An IP address needs no resolver. The Datadog client looked it up on a lookup thread all the same: with every lane
    held by a resolver that never answers (or a thread slow to start on a loaded host) a connection to 127.0.0.1, or to
    a proxy named by its address, failed as "DNS lookup timed out"."""
    _stalling(monkeypatch, resolver_silent)
    for _ in range(lookup.MAX_LOOKUPS):
        with pytest.raises(httpcore.ConnectTimeout):
            await AsyncioBackend().connect_tcp(HOST, 443, timeout=0.01)
    assert lookup._lookups == lookup.MAX_LOOKUPS, "every lane held by a lookup the resolver has not answered"
    server = await asyncio.start_server(lambda reader, writer: writer.close(), "127.0.0.1", 0)
    try:
        stream = await backend().connect_tcp("127.0.0.1", server.sockets[0].getsockname()[1], timeout=10)
        await stream.aclose()
    finally:
        server.close()
        await server.wait_closed()
