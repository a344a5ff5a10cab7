"""Which step of making a connection a request was in when it timed out, in words naming the peer and the step.

httpcore raises the same `ConnectTimeout` for a TCP connect, a TLS handshake with the host or with an https proxy,
and the handshake inside a proxy's tunnel, and a `ReadTimeout` for a proxy that took the CONNECT and never answered
it as for a host that never answered the request; a client's own overall deadline (the token request's, the Datadog
transport's) is a bare `TimeoutError` at any step. Each read "timed out connecting" or "timed out", and the operator
looked at routes and firewalls for a peer that had accepted the connection. `Steps` is httpcore's `trace` extension
for one request: it follows the connection's steps as httpcore makes them (`connection.connect_tcp`,
`connection.start_tls`, the CONNECT's `http11.*`, the tunnel's `proxy.start_tls`), and a host name lookup marks
itself while it runs (`looking_up`), so a timeout at any point is named by the step it cut: `DNS lookup timed out`,
`TLS handshake with <host> timed out`, `the proxy <proxy> took the CONNECT to <host> and did not answer it`.
Only a new connection has such steps: the Datadog transport installs it on those alone.

A new connection itself is made here too (`connect`: the lookup, the race of its addresses, the socket's options
and the errors as httpcore's), for the Datadog client's network backend and for httpx's (`LookupFirstBackend`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import anyio.abc
import httpcore
from httpcore._backends.anyio import AnyIOStream

from connector.baton.lookup import connected_socket, looked_up

T = TypeVar("T")

__all__ = ["EXTENSION", "LOOKUP_TIMED_OUT", "LookupFirstBackend", "Steps", "connect", "looking_up", "lookups_first"]

# The text of the ConnectTimeout a connection raises while the host name lookup has not answered: a resolver that never
# answers is not a host that does not answer, and the operator looks at DNS then.
LOOKUP_TIMED_OUT = "the host name lookup did not answer"

EXTENSION = "connection_steps"
"""A request's extension holding its `Steps` for a sender that installs them as httpcore's `trace` only on a new
connection (the Datadog transport's `OriginPool`): a reused one has no step to name, and tracing every request costs
an await per event."""

_CURRENT: contextvars.ContextVar[Steps | None] = contextvars.ContextVar("connection_steps", default=None)


class Steps:
    """httpcore's `trace` extension for one request (an async callable): the step under way, named on demand."""

    __slots__ = ("_connect_answered", "_connect_sent", "_looking_up", "_step")

    def __init__(self) -> None:
        self._step: str | None = None
        self._connect_sent = False
        self._connect_answered = False
        self._looking_up = False

    async def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        name, _, phase = event.rpartition(".")
        if phase != "started":
            # A step that failed stays the step under way: its failure (a timeout) is what is named.
            if phase == "complete" and name == self._step:
                self._step = None
                if name == "http11.receive_response_headers" and self._connect_sent:
                    self._connect_answered = True
            return
        self._step = name
        if name == "connection.connect_tcp":
            # The trace is awaited in the task that makes the connection: the lookup below it finds this request here.
            _CURRENT.set(self)
        elif name == "http11.send_request_headers":
            request = info.get("request")
            if getattr(request, "method", None) == b"CONNECT":
                self._connect_sent = True

    def stalled(self, host: str, proxy: str | None) -> str | None:
        """The words for a timeout that cut the step under way, or None when no step of making the connection was (the
        request's own answer was awaited, or nothing was traced). `host` is the request's, `proxy` the ``host:port`` of
        the forward proxy it went through, if any."""
        step = self._step
        if step == "connection.connect_tcp":
            # Through a proxy the only connection made (and the only name looked up) is the proxy's.
            if self._looking_up:
                return f"cannot connect to the proxy {proxy}: DNS lookup timed out" if proxy else "DNS lookup timed out"
            return f"timed out connecting to the proxy {proxy}" if proxy else "timed out connecting"
        if step == "connection.start_tls":
            # Through a proxy the connection's own TLS is the https proxy's; the host's is inside the tunnel.
            return (
                f"TLS handshake with the proxy {proxy} timed out" if proxy else f"TLS handshake with {host} timed out"
            )
        if self._connect_sent and not self._connect_answered:
            return f"the proxy {proxy} took the CONNECT to {host} and did not answer it"
        if step == "proxy.start_tls":
            return f"TLS handshake with {host} through the proxy {proxy}'s tunnel timed out"
        return None


@contextlib.contextmanager
def looking_up() -> Iterator[None]:
    """Around a host name lookup made for a connection: the request's `Steps`, if any, names a timeout meanwhile so."""
    steps = _CURRENT.get()
    if steps is None:
        yield
        return
    steps._looking_up = True
    yield
    # Only an answer ends it: a lookup cut by a timeout is what the timeout cut.
    steps._looking_up = False


class LookupFirstBackend(httpcore.AnyIOBackend):
    """httpcore's anyio backend (httpx's) with the host name looked up before the connection (`lookup.looked_up`, on a
    lookup thread, not the loop's default executor), under `looking_up` and the connect timeout: anyio looks the name
    up inside its connect, so a resolver that never answered read "timed out connecting", as a host that never
    answered the SYN does, and held one of the loop's worker threads. A lookup cut by the timeout raises
    `ConnectTimeout(LOOKUP_TIMED_OUT)`; the addresses found are then raced (`lookup.connected_socket`), within what is
    left of the timeout."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if _is_address(host):
            return await super().connect_tcp(host, port, timeout, local_address, socket_options)
        stream = await connect(host, port, timeout, local_address, socket_options, anyio.abc.SocketStream.from_socket)
        return AnyIOStream(stream)


async def connect(
    host: str,
    port: int,
    timeout: float | None,  # noqa: ASYNC109 (httpcore's connect timeout, passed on)
    local_address: str | None,
    socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
    wrap: Callable[[socket.socket], Awaitable[T]],
) -> T:
    """A new connection to `host`, for a network backend of httpcore: its name looked up on a lookup thread under
    `looking_up` (an IP address is taken as it is, `_numeric`), its addresses raced (`lookup.connected_socket`; tried one after another instead, as they were, a
    first address that never answered the SYN, a black-holed IPv6 route, took the whole timeout and the next was never
    tried), the socket's options set, and the socket handed to `wrap` (the backend's stream; closed if that fails),
    all within `timeout`.
    The Datadog client's backend (`netio.AsyncioBackend`) and httpx's (`LookupFirstBackend`) both connect here.

    Raises httpcore's `ConnectTimeout` (`LOOKUP_TIMED_OUT` while the lookup had not answered) or `ConnectError`."""
    loop = asyncio.get_running_loop()
    # An address needs no resolver (asyncio's own connect skips the lookup for one too): it was looked up on a thread
    # like a name, and a thread slow to start on a loaded host, or every lookup lane held by a resolver that never
    # answers, failed a connection to 127.0.0.1 or a proxy's IP as "DNS lookup timed out".
    infos: list[Any] | None = _numeric(host, port)
    try:
        async with asyncio.timeout(timeout):
            if infos is None:
                with looking_up():
                    infos = await looked_up(loop, host, port)
            sock = await connected_socket(loop, infos, local_address)
            try:
                for option in socket_options or ():
                    sock.setsockopt(*option)
                return await wrap(sock)
            except BaseException:
                sock.close()  # also once a transport has it: closing twice is harmless, leaking it is not
                raise
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(LOOKUP_TIMED_OUT if infos is None else str(exc)) from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc
    except UnicodeError as exc:
        # The resolver's IDNA encoding refused the name (an empty label, one over 63 characters): no OSError, and no
        # connection was tried. A connection failure too, not an unexpected error.
        raise httpcore.ConnectError(f"the host name cannot be looked up ({exc})") from exc


def _numeric(host: str, port: int) -> list[Any] | None:
    """The addresses of `host` when it is an IP address (AI_NUMERICHOST: no resolver is asked, nothing blocks); None
    for a name, which only a lookup answers."""
    if not _is_address(host):
        return None
    try:
        return socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError):
        return None  # left to the lookup, which raises it as before


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def lookups_first(transport: object) -> None:
    """Give the httpcore pool behind an httpx transport (direct or through a proxy) `LookupFirstBackend`, before it
    made any connection; nothing when an httpx or httpcore whose internals moved does not offer it (the lookup's
    timeout then reads as a connect timeout, as before)."""
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.AsyncConnectionPool) and not pool.connections and hasattr(pool, "_network_backend"):
        pool._network_backend = LookupFirstBackend()
