"""The Datadog pool's network layer (connector/datadog/netio.py) against hostile or broken peers on 127.0.0.1 that
the plain-http fake cannot play: a TLS proxy in front of a TLS server (TLS inside TLS), and a TLS peer that never
answers our close. Each failure ends in a `DatadogError` naming the cause, and no socket outlives its close."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import os
import socket
import ssl
import struct
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpcore
import pytest

from connector.baton.tlsrefusal import PLAIN_TEXT_PEER
from connector.datadog.client import DatadogClient
from connector.datadog.errors import Unavailable, UnexpectedResponse
from connector.datadog.netio import AsyncioBackend
from connector.datadog.retry import RetryPolicy
from tests.datadog.helpers import CANARY_API_KEY, CANARY_APP_KEY, FAST_RETRY, listed
from tests.fakes.c1.certs import TlsFiles, generate_tls_files
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.refusing import RefusingPeer, proxy_authorization


def _server_context(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.server_cert, files.server_key)
    return context


def _trusting(files: TlsFiles) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(files.ca_cert))


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _no_canary(error: BaseException) -> None:
    for each in _chain(error):
        for text in (str(each), repr(each)):
            assert CANARY_API_KEY not in text
            assert CANARY_APP_KEY not in text


def _raw_client(server: asyncio.Server, **kwargs: Any) -> DatadogClient:
    """A client with the canary keys for a raw loopback server; one retry unless told otherwise."""
    kwargs.setdefault("retry", RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.0))
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    return DatadogClient(api_key=CANARY_API_KEY, app_key=CANARY_APP_KEY, base_url=url, **kwargs)


# -- TLS inside TLS: an https forward proxy ---------------------------------------------------------------------


class _TlsConnectProxy:
    """A forward proxy that itself speaks TLS (HTTPS_PROXY=https://...): CONNECT, then bytes piped both ways."""

    def __init__(self) -> None:
        self.tunnels: list[int] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        port = int(head.split()[1].rsplit(b":", 1)[1])
        self.tunnels.append(port)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)  # the target is on loopback
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        # Either side may end the tunnel (or the test's loop cancel a pipe): the handler itself ends quietly.
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()


@pytest.fixture
def proxy_tls(tmp_path: Path) -> TlsFiles:
    return generate_tls_files(tmp_path / "proxy", common_name="tls-proxy")


@pytest.fixture
def target_tls(tmp_path: Path) -> TlsFiles:
    return generate_tls_files(tmp_path / "target", common_name="fake-datadog")


@pytest.fixture
async def tls_proxy(proxy_tls: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[_TlsConnectProxy]:
    proxy = _TlsConnectProxy()
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0, ssl=_server_context(proxy_tls))
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    # httpcore checks the proxy's certificate against the default trust store, which SSL_CERT_FILE sets.
    monkeypatch.setenv("SSL_CERT_FILE", str(proxy_tls.ca_cert))
    async with server:
        yield proxy


@pytest.fixture
def https_fake(target_tls: TlsFiles) -> Iterator[FakeDatadog]:
    with FakeDatadog(
        generate_org(users=30, seed=4), tls=_server_context(target_tls), api_key=CANARY_API_KEY, app_key=CANARY_APP_KEY
    ) as server:
        yield server


def _client(fake: FakeDatadog, trust: ssl.SSLContext) -> DatadogClient:
    return DatadogClient(
        api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url, verify=trust, retry=FAST_RETRY
    )


async def test_tls_inside_an_https_proxys_tls_reaches_datadog(
    tls_proxy: _TlsConnectProxy, https_fake: FakeDatadog, target_tls: TlsFiles
) -> None:
    async with _client(https_fake, _trusting(target_tls)) as client:
        page = await listed(client.fetch_users)()
    assert len(page.items) == 30
    assert tls_proxy.tunnels == [https_fake.port]


async def test_an_https_proxy_is_checked_with_the_trust_the_client_was_given(
    tls_proxy: _TlsConnectProxy,
    https_fake: FakeDatadog,
    target_tls: TlsFiles,
    proxy_tls: TlsFiles,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A TLS-inspecting proxy whose CA comes in BATON_CA_BUNDLE (the client's `verify`), not in SSL_CERT_FILE: httpx
    checked a proxy it read from the environment with its default trust, so every request failed "TLS certificate
    verification failed" with the right bundle given. Go's transport checks the proxy with the TLS config the origin
    gets, and so does this client now."""
    monkeypatch.delenv("SSL_CERT_FILE")
    trust = _trusting(target_tls)
    trust.load_verify_locations(cafile=str(proxy_tls.ca_cert))
    async with _client(https_fake, trust) as client:
        page = await listed(client.fetch_users)()
    assert len(page.items) == 30
    assert tls_proxy.tunnels == [https_fake.port]


async def test_a_wrong_certificate_behind_an_https_proxy_is_a_clean_tls_error(
    tls_proxy: _TlsConnectProxy, https_fake: FakeDatadog, proxy_tls: TlsFiles
) -> None:
    """CPython before 3.11.8 / 3.12.2 (gh-113214) raised TypeError from asyncio's TLS-in-TLS error path: the
    failed certificate check left the caller as a traceback, not as the `DatadogError` every failure must be."""
    async with _client(https_fake, _trusting(proxy_tls)) as client:  # trusts the proxy, not Datadog
        with pytest.raises(Unavailable) as raised:
            await listed(client.fetch_users)()
    assert "TLS certificate verification failed" in str(raised.value)
    assert not any(isinstance(e, TypeError) for e in _chain(raised.value))
    _no_canary(raised.value)
    assert https_fake.count("GET", "/api/v2/users") == 0
    assert set(tls_proxy.tunnels) == {https_fake.port}


# -- closing: never waits on the peer ----------------------------------------------------------------------------


class _MuteTlsPeer:
    """A TLS server (blocking sockets, a thread) that answers one request and then never reads TLS again, so it
    never answers our close_notify; it watches the raw socket underneath for the TCP close (FIN or reset)."""

    def __init__(self, files: TlsFiles) -> None:
        self._context = _server_context(files)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.tcp_closed = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, name="mute-tls-peer", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            conn, _ = self._listener.accept()
            raw = conn.dup()  # the same TCP connection, read below the TLS layer
            tls = self._context.wrap_socket(conn, server_side=True)
            self._held += [raw, tls]  # neither is closed (nor collected) before the test ends: no close_notify
            request = b""
            while b"\r\n\r\n" not in request:
                request += tls.recv(65536)
            body = b'{"data": {"type": "users", "id": "u1", "attributes": {}}}'
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
            tls.sendall(body)
            raw.settimeout(10.0)
            while raw.recv(65536):  # our close_notify, if sent, then end of stream
                pass
            self.tcp_closed.set()

    def close(self) -> None:
        self._listener.close()
        for sock in self._held:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the thread's recv
            sock.close()
        self._thread.join(15)


@pytest.fixture
def mute_tls_peer(target_tls: TlsFiles) -> Iterator[_MuteTlsPeer]:
    peer = _MuteTlsPeer(target_tls)
    yield peer
    peer.close()


async def test_closing_a_tls_connection_does_not_wait_for_the_peers_close_notify(
    mute_tls_peer: _MuteTlsPeer, target_tls: TlsFiles
) -> None:
    """asyncio's TLS close waits up to 30 s for the peer's close_notify, the socket open all along: a peer that
    never answers (a hung Datadog, each timed-out attempt) would hold a descriptor per connection that long."""
    client = DatadogClient(
        api_key=CANARY_API_KEY, app_key=CANARY_APP_KEY, base_url=f"https://127.0.0.1:{mute_tls_peer.port}",
        verify=_trusting(target_tls), retry=FAST_RETRY,
    )  # fmt: skip
    await client._t.request("GET", "/api/v2/users/u1", group="users")
    await client.aclose()
    # The peer sees the TCP connection end (bounded at 5 s, well under asyncio's 30 s shutdown timeout).
    assert await asyncio.to_thread(mute_tls_peer.tcp_closed.wait, 5.0), "the socket outlived the client's close"


# -- a peer dripping bytes: the whole-response deadline ----------------------------------------------------------


async def test_a_peer_dripping_the_body_is_cut_by_the_whole_response_deadline() -> None:
    """Each byte arrives well within the read timeout, so only the deadline on the whole exchange (connect + 2 x
    read timeout) ends it: one attempt, a retryable error naming the deadline, the body never completed."""
    sent = 0

    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        with contextlib.suppress(OSError):
            for _ in range(100_000):
                writer.write(b" ")
                await writer.drain()
                sent += 1
                await asyncio.sleep(0.02)  # the peer's pace, well under the 0.5 s read timeout
        writer.close()

    server = await asyncio.start_server(drip, "127.0.0.1", 0)
    single = RetryPolicy(max_attempts=1)
    # A connect timeout of a second: at 0.1 s, a loaded machine (load 25) timed the loopback connect out first. A read
    # timeout of 0.5 s: at 0.2 s, a loaded machine (load 8) left one gap between bytes longer than that, and the read
    # timeout, not the deadline this test is about, ended the exchange.
    async with server, _raw_client(server, timeout=0.5, connect_timeout=1.0, retry=single) as client:
        with pytest.raises(Unavailable) as raised:
            await listed(client.fetch_users)()
    assert "timed out waiting for the response (no complete response within 2s)" in str(raised.value)
    assert raised.value.retryable
    assert 0 < sent < 100_000
    _no_canary(raised.value)


# -- a reset mid-response: named in words ------------------------------------------------------------------------


async def test_a_connection_reset_mid_body_is_named_a_reset() -> None:
    """httpcore's pool re-raises read errors `from None`, so the OS error is not in the chain that reaches the
    description: the reset must still be named from the error's text, not as a class name (ReadError). The peer took
    the request, so it was reached: "cannot reach" is for failures before the request left."""

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{")
        await writer.drain()
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST, not FIN

    server = await asyncio.start_server(reset, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, _raw_client(server) as client:
        with pytest.raises(Unavailable) as raised:
            await listed(client.fetch_users)()
        assert client.stats.retries == {"ReadError": 1}, "a GET is retried once after a reset, then reported"
    assert str(raised.value).startswith(
        f"Datadog unavailable: GET /api/v2/users -> 127.0.0.1:{port} was reached, but the connection was reset"
    )
    assert raised.value.retryable
    _no_canary(raised.value)


@pytest.mark.parametrize("in_tls", [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{"], ids=["head", "body"])
async def test_a_tls_error_after_the_handshake_is_not_called_a_handshake_failure(
    target_tls: TlsFiles, in_tls: bytes
) -> None:
    """The handshake succeeded; the peer then answered in plain text on the TLS connection (a misconfigured TLS
    front), before its answer or in the middle of its body, so the read fails with TLS's own error. Named as the
    failed read it is, as httpcore's pool named it: its error reaches the description without its cause (`from
    None`), so the TLS error class is not in the chain."""

    async def plain_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(in_tls)
        await writer.drain()
        await asyncio.sleep(0.05 if in_tls else 0)  # the head is read before the plain text arrives
        os.write(writer.get_extra_info("socket").fileno(), b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        with contextlib.suppress(OSError):
            await reader.read()  # until the client gives up on the connection
        writer.close()

    server = await asyncio.start_server(plain_answer, "127.0.0.1", 0, ssl=_server_context(target_tls))
    port = server.sockets[0].getsockname()[1]
    client = DatadogClient(
        api_key=CANARY_API_KEY, app_key=CANARY_APP_KEY, base_url=f"https://127.0.0.1:{port}",
        verify=_trusting(target_tls), retry=RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.0),
    )  # fmt: skip
    async with server, client:
        with pytest.raises(Unavailable) as raised:
            await client._t.request("GET", "/api/v2/users/u1", group="users")
        assert client.stats.retries == {"ReadError": 1}
    assert f"cannot reach 127.0.0.1:{port}: ReadError ([SSL: WRONG_VERSION_NUMBER]" in str(raised.value)
    assert "handshake" not in str(raised.value)
    _no_canary(raised.value)


# -- every connection dropped at once ----------------------------------------------------------------------------


async def test_eight_requests_in_flight_when_the_server_drops_every_connection_are_each_resent_once() -> None:
    """The pool recovers: each GET whose connection died is resent on a new one, exactly once, and no answer is
    read from a dead connection (exact request counts: 1 warm-up + 8 dropped + 8 resent)."""
    body = b'{"data": [], "meta": {"page": {"total_count": 0}}}'
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    requests = 0
    pending: list[asyncio.StreamWriter] = []
    dropped = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                await reader.readuntil(b"\r\n\r\n")
                requests += 1
                if requests > 1 and not dropped.is_set():
                    pending.append(writer)
                    if len(pending) == 8:  # all eight in flight: drop them together
                        dropped.set()
                        for each in pending:
                            each.close()
                    return
                writer.write(answer)
                await writer.drain()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server, _raw_client(server) as client:
        get = client._t.request  # the transport itself: each GET stands alone (no listing guard)
        await get("GET", "/api/v2/users/u0", group="users")  # a group's first request goes alone
        replies = await asyncio.gather(*(get("GET", f"/api/v2/users/u{n}", group="users") for n in range(1, 9)))
        assert sum(client.stats.retries.values()) == 8
    assert [reply.body for reply in replies] == [body] * 8
    assert requests == 17


# -- a proxy that will not open the tunnel -----------------------------------------------------------------------

PROXY_PASSWORD = "proxy-pw-canary-41"


def _through_refusing_proxy(proxy: RefusingPeer, monkeypatch: pytest.MonkeyPatch) -> DatadogClient:
    for name in ("NO_PROXY", "no_proxy", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"http://ops:{PROXY_PASSWORD}@{proxy.address}")
    return DatadogClient(
        api_key=CANARY_API_KEY,
        app_key=CANARY_APP_KEY,
        base_url="https://api.datadoghq.invalid",  # only the proxy would resolve it
        retry=RetryPolicy(max_attempts=1),
    )


def _no_proxy_password(error: BaseException) -> None:
    text = str(error)
    assert PROXY_PASSWORD not in text
    assert base64.b64encode(f"ops:{PROXY_PASSWORD}".encode()).decode() not in text


@pytest.mark.parametrize(
    ("status", "named"),
    [(407, "407 Proxy Authentication Required"), (403, "403 Forbidden"), (502, "502 Bad Gateway")],
)
async def test_a_proxy_refusing_the_tunnel_is_named_by_its_status_never_by_its_words(
    status: int, named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error quoted the proxy's status line as the cause ("ProxyError (407 …)"): the reason phrase is the
    proxy's free text, and one echoing the CONNECT put the proxy password of HTTPS_PROXY into the error and the
    log. The status is named with its standard reason phrase."""

    def refuse(received: bytes) -> bytes:
        return b"HTTP/1.1 %d echo %s\r\nContent-Length: 0\r\n\r\n" % (status, proxy_authorization(received))

    async with RefusingPeer(refuse) as proxy, _through_refusing_proxy(proxy, monkeypatch) as client:
        with pytest.raises(Unavailable) as raised:
            await listed(client.fetch_users)()
    assert str(raised.value) == (
        f"Datadog unavailable: GET /api/v2/users -> cannot reach api.datadoghq.invalid through the proxy "
        f"{proxy.address}: the proxy refused the tunnel (HTTP {named})"
    )
    assert proxy_authorization(proxy.received[0]) == f"ops:{PROXY_PASSWORD}".encode()  # the echo had it to echo
    _no_proxy_password(raised.value)
    _no_canary(raised.value)


async def test_a_proxy_answering_no_http_is_named_without_quoting_its_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """h11 quotes the line it could not parse; a proxy echoing the CONNECT there put its credentials in the error,
    which also called the garbage 'the connection closed before the response was complete'."""

    def garbage(received: bytes) -> bytes:
        return b"\x00" + base64.b64encode(proxy_authorization(received)) + b"\r\n\r\n"

    async with RefusingPeer(garbage) as proxy, _through_refusing_proxy(proxy, monkeypatch) as client:
        with pytest.raises(Unavailable) as raised:
            await listed(client.fetch_users)()
    assert str(raised.value) == (
        f"Datadog unavailable: GET /api/v2/users -> cannot reach api.datadoghq.invalid through the proxy "
        f"{proxy.address}: the answer is not valid HTTP (illegal status line)"
    )
    _no_proxy_password(raised.value)


async def test_a_proxy_that_refuses_connections_is_named_not_datadog(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTPS_PROXY names a port nothing listens on: the error said "cannot reach api.datadoghq.invalid: connection
    refused", and the operator looked for a Datadog outage. Through a proxy the only connection made is the proxy's,
    so the proxy is named (host and port, never its password), and the failure stays retryable."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: connections are refused
    for name in ("NO_PROXY", "no_proxy", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"http://ops:{PROXY_PASSWORD}@127.0.0.1:{port}")
    client = DatadogClient(
        api_key=CANARY_API_KEY,
        app_key=CANARY_APP_KEY,
        base_url="https://api.datadoghq.invalid",
        retry=RetryPolicy(max_attempts=1),
    )
    async with client:
        with pytest.raises(Unavailable) as raised:
            await listed(client.fetch_users)()
    assert str(raised.value).startswith(
        "Datadog unavailable: GET /api/v2/users -> cannot reach api.datadoghq.invalid: cannot connect to "
        f"the proxy 127.0.0.1:{port}: connection refused"
    )
    assert raised.value.retryable
    _no_proxy_password(raised.value)
    _no_canary(raised.value)


_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        (_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", "illegal chunk header"),
        (_HEAD + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "conflicting Content-Length headers"),
        (_HEAD + b"Content-Length: -1\r\n\r\n{}", "bad Content-Length"),
    ],
)
async def test_a_malformed_answer_is_not_called_a_closed_connection(answer: bytes, named: str) -> None:
    """Each read "the connection closed before the response was complete": the peer had closed nothing, it
    answered with framing HTTP does not allow. Still retried for a GET (a broken hop may answer better next time)."""

    async def malformed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answer)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(malformed, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, _raw_client(server) as client:
        with pytest.raises(Unavailable) as raised:
            await listed(client.fetch_users)()
        assert client.stats.retries == {"RemoteProtocolError": 1}
    assert str(raised.value) == (
        f"Datadog unavailable: GET /api/v2/users -> 127.0.0.1:{port} was reached, but the answer is not "
        f"valid HTTP ({named})"
    )


@pytest.mark.parametrize("no_proxy", ["localhost:443", "*.localhost"])
async def test_no_proxy_forms_go_reads_send_datadog_requests_direct(
    no_proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NO_PROXY=localhost:443 names the host and the port of https://localhost, as Go's reading of NO_PROXY (the
    reference connector's) takes it and docs/deployment.md promises (`host:port`): httpx drops a default port from
    its URLs, so the entry never matched and every Datadog request went through the proxy. `*.localhost` is Go's
    `.localhost`, which httpx made `**.localhost`, matching nothing."""
    for name in ("no_proxy", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with RefusingPeer(lambda _: b"HTTP/1.1 407 No\r\nContent-Length: 0\r\n\r\n") as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://{proxy.address}")
        monkeypatch.setenv("NO_PROXY", no_proxy)
        client = DatadogClient(
            api_key=CANARY_API_KEY,
            app_key=CANARY_APP_KEY,
            base_url="https://api.localhost" if no_proxy.startswith("*") else "https://localhost",
            retry=RetryPolicy(max_attempts=1),
        )
        async with client:
            with pytest.raises(Unavailable) as raised:
                await listed(client.fetch_users)()  # nothing listens on localhost:443: refused, but not by the proxy
    assert proxy.received == []
    assert "proxy" not in str(raised.value)


async def test_a_proxy_host_name_no_resolver_takes_is_a_connection_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """The resolver encodes a name with IDNA, which refuses an empty label with a UnicodeError, not an OSError: it left
    the transport as it was, and a sync ended as an "unexpected error". A library caller's proxy (the daemon's preflight
    refuses it first) is a failure to connect like any other, never sent, and names the proxy."""
    for name in ("NO_PROXY", "no_proxy", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy..corp:3128")
    client = DatadogClient(
        api_key=CANARY_API_KEY, app_key=CANARY_APP_KEY, base_url="https://api.datadoghq.invalid",
        retry=RetryPolicy(max_attempts=1),
    )  # fmt: skip
    async with client:
        with pytest.raises(Unavailable) as raised:
            await listed(client.fetch_users)()
    assert str(raised.value).startswith(
        "Datadog unavailable: GET /api/v2/users -> cannot reach api.datadoghq.invalid: cannot connect to "
        "the proxy proxy..corp:3128: DNS lookup failed (the host name cannot be looked up"
    )


# -- answers without a body: judged by the body they have, not by headers about one ------------------------------


def _answering(answer: bytes, requests: list[bytes]) -> Any:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                requests.append(await reader.readuntil(b"\r\n\r\n"))
                writer.write(answer)
                await writer.drain()

    return handle


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Encoding: br\r\n",
        b"Content-Encoding: gzip\r\nContent-Encoding: gzip\r\n",
        b"Content-Length: 99999999999\r\n",
    ],
    ids=["unasked-encoding", "encoding-stack", "lying-length"],
)
async def test_a_delete_answered_204_is_done_whatever_its_headers_say_of_a_body(headers: bytes) -> None:
    """A 204 has no body (RFC 9110 §15.3.5; h11 reads none), yet a Content-Encoding this client cannot decode, or a
    Content-Length over the cap, made it "body could not be decoded" / "larger than the cap", not retryable: an
    offboarding, a revoke or a credential's deletion that Datadog had done was reported failed."""
    requests: list[bytes] = []
    server = await asyncio.start_server(
        _answering(b"HTTP/1.1 204 No Content\r\n" + headers + b"\r\n", requests), "127.0.0.1", 0
    )
    async with server, _raw_client(server) as client:
        await client.disable_user("u1")
        await client.remove_team_member("t1", "u1")
        await client.revoke_service_account_access_token("sa1", "tok1")
    assert [r.split(b" ", 2)[:2] for r in requests] == [
        [b"DELETE", b"/api/v2/users/u1"],
        [b"DELETE", b"/api/v2/team/t1/memberships/u1"],
        [b"DELETE", b"/api/v2/service_accounts/sa1/access_tokens/tok1"],
    ]


async def test_an_empty_list_answer_with_an_unasked_encoding_is_called_empty_and_retried() -> None:
    """No byte to decode: the answer is empty (retryable, as any empty answer), not "an unsupported Content-Encoding",
    which is final. A body in that encoding is still refused as one (tests/baton/test_inflate.py)."""
    requests: list[bytes] = []
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: br\r\nContent-Length: 0\r\n\r\n"
    server = await asyncio.start_server(_answering(answer, requests), "127.0.0.1", 0)
    async with server, _raw_client(server) as client:
        with pytest.raises(UnexpectedResponse) as raised:
            await listed(client.fetch_users)()
    assert (
        str(raised.value) == "Datadog unexpected response: GET /api/v2/users -> 200: empty body where JSON was expected"
    )
    assert raised.value.retryable


# -- a connect cancelled at any moment ---------------------------------------------------------------------------


async def test_a_connect_cancelled_at_any_moment_leaves_no_socket_open() -> None:
    """The engine cancels a listing's requests, and the whole-exchange deadline cancels too, at any await of a new
    connection's connect. Whichever loop iteration it lands on, the socket is closed: the server sees every
    connection it accepted end. (asyncio's own happy-eyeballs race, on 3.11, dropped a socket that connected as the
    caller was cancelled: open until the garbage collector happened to find it, so it is kept off here.)"""
    accepted = 0
    ended = asyncio.Queue[None]()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        with contextlib.suppress(OSError):
            await reader.read()  # until the client closes its end
        ended.put_nowait(None)
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    gc.disable()
    try:
        async with server:
            for moment in range(40):
                connect = asyncio.create_task(AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=10.0))
                for _ in range(moment):
                    await asyncio.sleep(0)
                connect.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await (await connect).aclose()  # it had connected before the cancel: closed as a pool would
            for _ in range(accepted):
                await asyncio.wait_for(ended.get(), 30.0)  # a bound on a hang
    finally:
        gc.enable()
    assert accepted > 0, "some of the cancels landed after the connection was made"


# -- bytes before the TLS handshake ------------------------------------------------------------------------------

_FORGED = b'{"data": [{"type": "users", "id": "forged", "attributes": {}}], "meta": {"page": {"total_count": 1}}}'
_FORGED_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(_FORGED) + _FORGED


async def test_plain_text_sent_before_the_tls_handshake_is_never_read_as_the_tls_answer(target_tls: TlsFiles) -> None:
    """Whatever the peer (or anyone on the path, or the proxy behind a CONNECT) sent before our TLS handshake began
    is no part of the TLS stream: no TLS peer speaks first. It waited in the connection's buffer through the
    handshake and was then read as the first bytes of the protected answer: a forged answer passed for Datadog's
    over a verified connection. The handshake is refused instead, as a TLS socket refuses a record that is no TLS
    (and the bytes are never quoted). The moment is made certain here by waiting for the bytes before starting TLS,
    as httpcore starts it on the stream `connect_tcp` returns (directly, or after a proxy's CONNECT answer)."""

    sent = asyncio.Event()

    async def plain_then_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            writer.write(_FORGED_ANSWER)
            await writer.drain()
            sent.set()
            await writer.start_tls(_server_context(target_tls))
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            await writer.drain()
            await reader.read()
        writer.close()

    async def answer_over_tls(stream: httpcore.AsyncNetworkStream) -> bytes:
        stream = await stream.start_tls(_trusting(target_tls), server_hostname="localhost", timeout=10.0)
        await stream.write(b"GET /api/v2/users HTTP/1.1\r\nHost: localhost\r\n\r\n")
        return await stream.read(65536)  # the forged answer, where the fix is missing

    server = await asyncio.start_server(plain_then_tls, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=10.0)
        try:
            await asyncio.wait_for(sent.wait(), 10.0)  # the bytes are in this end's kernel buffer (loopback)
            for _ in range(3):  # and the loop has taken them in (bytes still in the kernel go to the TLS layer)
                await asyncio.sleep(0)
            with pytest.raises(httpcore.ConnectError) as raised:
                await answer_over_tls(stream)
        finally:
            await stream.aclose()
    assert str(raised.value) == f"the peer sent {len(_FORGED_ANSWER)} bytes before the TLS handshake"
    assert any(isinstance(e, ssl.SSLError) for e in _chain(raised.value))  # described as the TLS failure it is


class _ForgingConnectProxy:
    """A plain forward proxy that opens the tunnel to the target but follows its CONNECT answer with an answer of its
    own making, past the 64 KiB the HTTP parser takes at once (the rest stays in the connection's buffer)."""

    def __init__(self) -> None:
        self.tunnels = 0
        self.ended = asyncio.Queue[None]()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._tunnel(reader, writer)
        finally:
            self.ended.put_nowait(None)

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        port = int(head.split()[1].rsplit(b":", 1)[1])
        self.tunnels += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        answer = b"HTTP/1.1 200 Connection established\r\n\r\n"
        writer.write(answer + b"x" * (64 * 1024 - len(answer)) + _FORGED_ANSWER)
        pipes = (_TlsConnectProxy._pipe(reader, up_writer), _TlsConnectProxy._pipe(up_reader, writer))
        await asyncio.gather(*pipes, return_exceptions=True)


async def test_a_proxy_adding_plain_text_after_its_connect_answer_gets_no_answer_past_tls(
    https_fake: FakeDatadog, target_tls: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same through a forward proxy in front of a real TLS Datadog: the proxy must see only ciphertext and be
    able to forge nothing, yet its own bytes after the CONNECT answer were read as Datadog's answer. The tunnel is
    refused as a failed handshake, named with the proxy, and Datadog never gets the request."""
    proxy = _ForgingConnectProxy()
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"http://{address}")
    async with server, _client(https_fake, _trusting(target_tls)) as client:
        with pytest.raises(Unavailable) as raised:
            await listed(client.fetch_users)()
        for _ in range(proxy.tunnels):  # every tunnel ended, its upstream side closed too, before the fake stops
            await asyncio.wait_for(proxy.ended.get(), 30.0)  # a bound on a hang
    assert str(raised.value).startswith(
        f"Datadog unavailable: GET /api/v2/users -> cannot reach 127.0.0.1:{https_fake.port} through the "
        f"proxy {address}: TLS handshake failed ("
    )
    assert proxy.tunnels == FAST_RETRY.max_attempts  # a handshake refused is a connection never made: asked again
    assert https_fake.count("GET", "/api/v2/users") == 0
    _no_canary(raised.value)


async def test_a_content_length_with_leading_zeros_is_the_size_it_says() -> None:
    """`Content-Length: 00000000000000000056` is 56 bytes (HTTP allows the digits; h11 and Go read them so), but the
    cap's check took the 20 characters for a number past any cap: a small answer, a user or a grant's membership, was
    refused as "larger than the cap", final, without a retry."""
    requests: list[bytes] = []
    body = b'{"data": {"type": "users", "id": "u1", "attributes": {}}}'
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %020d\r\n\r\n" % len(body) + body
    server = await asyncio.start_server(_answering(answer, requests), "127.0.0.1", 0)
    async with server, _raw_client(server) as client:
        user = await client.get_user("u1")
    assert user.id == "u1"
    assert len(requests) == 1


# -- a peer that keeps the reader busy: the loop still turns -------------------------------------------------------


async def test_a_body_in_one_byte_chunks_lets_the_loop_turn_while_it_is_read() -> None:
    """The parts of a body already received come without a wait: a peer sending its answer in one-byte chunks (6 bytes
    on the wire each, 11,000 chunks to a 64 KiB read) held the event loop, and with it the health checks, heartbeats
    and every other request, for seconds. The loop now turns at least every 256 parts (counted, not timed)."""
    page = b'{"data": [], "meta": {"page": {"total_count": 0, "total_filtered_count": 0}}}' + b" " * 16000
    chunked = b"".join(b"1\r\n" + page[i : i + 1] + b"\r\n" for i in range(len(page))) + b"0\r\n\r\n"
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    requests: list[bytes] = []
    server = await asyncio.start_server(_answering(answer, requests), "127.0.0.1", 0)
    async with server, _raw_client(server) as client:
        await listed(client.fetch_users)()  # the connection is made and kept: the next answer is all that is read
        counter = asyncio.create_task(count_turns())
        await asyncio.sleep(0)
        turns = 0
        page_read = await listed(client.fetch_users)()
        counter.cancel()
    assert page_read.items == []
    assert turns >= len(page) // 256


async def test_a_read_of_bytes_already_received_lets_the_loop_turn() -> None:
    """Bytes already in the connection's buffer were handed out without a wait, read after read: a peer flooding
    interim (1xx) answers, each one parsed before the next read, held the loop for as long as the buffer lasted."""
    server = await asyncio.start_server(_answering(b"HTTP/1.1 100 Continue\r\n\r\n" * 1000, []), "127.0.0.1", 0)
    async with server:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", server.sockets[0].getsockname()[1], timeout=10.0)
        try:
            await stream.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            received = await stream.read(16)  # waits for the answer; the rest of it stays in the buffer
            other_ran = asyncio.Event()
            asyncio.get_running_loop().call_soon(other_ran.set)
            received += await stream.read(16)  # no wait needed
            assert other_ran.is_set()
        finally:
            await stream.aclose()
    assert received == (b"HTTP/1.1 100 Continue\r\n\r\n" * 2)[:32]


# -- a peer that never reads what we send: the write timeout ---------------------------------------------------


def _largest_send_buffer() -> int:
    """The most a TCP socket's send buffer grows to here (`net.ipv4.tcp_wmem`'s maximum; 4 MiB is Linux's default)."""
    try:
        return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        return 4 << 20


async def test_a_write_the_peer_never_takes_ends_at_the_write_timeout_and_one_it_takes_waits_for_nothing() -> None:
    """The write timeout is started only when the transport has asked us to stop writing (its buffer past the
    high-water mark): a write the kernel takes at once (every Datadog request) sets no timer, and one that a peer
    never reads still ends at the timeout as httpcore's WriteTimeout, never a hang."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # inherited by the accepted socket
    held: list[socket.socket] = []
    accepted = threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True)
    accepted.start()
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", listener.getsockname()[1], timeout=5)
    try:
        await stream.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=0.001)  # taken at once: no wait to time out
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(httpcore.WriteTimeout):
            await stream.write(b"x" * (2 * _largest_send_buffer() + (1 << 20)), timeout=0.3)
        assert loop.time() - started < 10
    finally:
        await stream.aclose()
        accepted.join(5)
        for sock in [*held, listener]:
            sock.close()


async def test_a_read_ends_at_its_timeout_as_a_read_timeout_and_the_connection_can_still_be_read() -> None:
    """The read timeout fails the one wait for bytes: httpcore's ReadTimeout after the timeout (not the whole-exchange
    deadline's, which comes seconds later), and a read after it takes the bytes that came meanwhile."""
    sent = asyncio.Event()
    go = asyncio.Event()

    async def late(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await go.wait()
        writer.write(b"late bytes")
        await writer.drain()
        sent.set()
        await reader.read()  # until the client closes
        writer.close()

    server = await asyncio.start_server(late, "127.0.0.1", 0)
    async with server:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", server.sockets[0].getsockname()[1], timeout=10.0)
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(httpcore.ReadTimeout):
                await stream.read(65536, timeout=0.2)
            assert 0.15 <= loop.time() - started < 5
            go.set()
            await sent.wait()
            assert await stream.read(65536, timeout=5.0) == b"late bytes"
        finally:
            await stream.aclose()


async def test_an_https_address_at_a_plain_http_port_is_named_as_one_not_as_a_tls_version_problem() -> None:
    """An https base URL whose port speaks plain HTTP (a local proxy's or a sidecar's port, a typo'd scheme): the peer
    answers the ClientHello in plain text, which OpenSSL calls a record of the wrong version. "TLS handshake failed
    (wrong version number)" sent the operator to the CA bundle and TLS versions; the address is the cause."""

    async def plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            await reader.read(100)
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = DatadogClient(
        api_key=CANARY_API_KEY, app_key=CANARY_APP_KEY, base_url=f"https://127.0.0.1:{port}", retry=FAST_RETRY
    )
    async with server, client:
        with pytest.raises(Unavailable) as raised:
            await client.validate()
    assert f"cannot reach 127.0.0.1:{port}: {PLAIN_TEXT_PEER} ([SSL: WRONG_VERSION_NUMBER]" in str(raised.value)
    _no_canary(raised.value)
