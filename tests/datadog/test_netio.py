"""The Datadog pool's network layer (connector/datadog/netio.py): TLS with only the trust it is given, through a
forward proxy, and a keep-alive connection the server closed is not reused. Every other client test (timeouts,
deadline, caps, gzip, hostile peers) runs over this layer too, against the plain-http fake."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import Unavailable
from tests.datadog.helpers import FAST_RETRY
from tests.fakes.c1.certs import TlsFiles, generate_tls_files
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.proxy import ForwardProxy


@pytest.fixture
def tls(tmp_path: Path) -> TlsFiles:
    return generate_tls_files(tmp_path, common_name="fake-datadog")


@pytest.fixture
def https_fake(tls: TlsFiles) -> Iterator[FakeDatadog]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.server_cert, tls.server_key)
    with FakeDatadog(generate_org(users=120, seed=3), tls=context) as server:
        yield server


def _client(fake: FakeDatadog, trust: ssl.SSLContext) -> DatadogClient:
    return DatadogClient(
        api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url, verify=trust, retry=FAST_RETRY
    )


async def test_a_sync_over_tls_runs_on_the_asyncio_layer_with_the_given_trust(
    https_fake: FakeDatadog, tls: TlsFiles
) -> None:
    async with _client(https_fake, ssl.create_default_context(cafile=str(tls.ca_cert))) as client:
        assert client._t.asyncio_network, "the pool runs on connector/datadog/netio.py"
        users = [user async for page in client.iter_users() for user in page.items]
    assert len(users) == 120
    assert https_fake.count("GET", "/api/v2/users") == 2  # 100 + 20: one request per page, none repeated


async def test_a_server_certificate_outside_the_given_trust_is_refused(https_fake: FakeDatadog) -> None:
    async with _client(https_fake, ssl.create_default_context()) as client:
        with pytest.raises(Unavailable) as raised:
            await client.list_users()
    assert "TLS certificate verification failed" in str(raised.value)
    assert https_fake.count("GET", "/api/v2/users") == 0
    assert not client.stats.retries, "only new trust settings can help: one attempt, not max_attempts"


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ForwardProxy]:
    with ForwardProxy() as running:
        for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTPS_PROXY", running.url)
        yield running


async def test_tls_goes_through_the_proxy_tunnel(proxy: ForwardProxy, https_fake: FakeDatadog, tls: TlsFiles) -> None:
    async with _client(https_fake, ssl.create_default_context(cafile=str(tls.ca_cert))) as client:
        assert client._t.asyncio_network, "the proxy's pool runs on connector/datadog/netio.py too"
        page = await client.list_users()
    assert len(page.items) == 100
    assert ("127.0.0.1", https_fake.port) in proxy.opened()


@pytest.mark.parametrize("no_proxy", ["127.0.0.0/8", "10.0.0.0/8, 127.0.0.1/32", "fd00::/8,127.0.0.0/8", "127.9.9.9/8"])
async def test_a_no_proxy_network_holding_the_hosts_address_sends_it_direct(
    proxy: ForwardProxy, https_fake: FakeDatadog, tls: TlsFiles, monkeypatch: pytest.MonkeyPatch, no_proxy: str
) -> None:
    """NO_PROXY=127.0.0.0/8 names a network, as Go reads it (`http.ProxyFromEnvironment`, the reference
    connector's): httpx made it the one address 127.0.0.0, so a base URL in it went through the proxy the operator
    had excluded; an IPv6 network (`fd00::/8`, usual in a dual-stack cluster's list) made a pattern that is no URL,
    and no client could be built."""
    monkeypatch.setenv("NO_PROXY", no_proxy)
    async with _client(https_fake, ssl.create_default_context(cafile=str(tls.ca_cert))) as client:
        page = await client.list_users()
    assert len(page.items) == 100
    assert proxy.opened() == [], "sent directly"


async def test_a_no_proxy_network_not_holding_the_hosts_address_leaves_it_to_the_proxy(
    proxy: ForwardProxy, https_fake: FakeDatadog, tls: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "10.0.0.0/8,fd00::/8")
    async with _client(https_fake, ssl.create_default_context(cafile=str(tls.ca_cert))) as client:
        await client.list_users()
    assert ("127.0.0.1", https_fake.port) in proxy.opened()


class _ClosingServer:
    """Answers each request with a keep-alive response, then closes the connection a moment later."""

    def __init__(self) -> None:
        self.connections = 0
        self.closed = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await reader.readuntil(b"\r\n\r\n")
        body = b'{"data": {"type": "users", "id": "u1", "attributes": {}}}'
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        self.closed.set()


@pytest.fixture
async def closing_server() -> AsyncIterator[tuple[_ClosingServer, str]]:
    handler = _ClosingServer()
    server = await asyncio.start_server(handler.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield handler, f"http://127.0.0.1:{port}"


async def test_a_connection_the_server_closed_while_idle_is_not_reused(
    closing_server: tuple[_ClosingServer, str],
) -> None:
    handler, url = closing_server
    async with DatadogClient(api_key="a" * 32, app_key="b" * 40, base_url=url, retry=FAST_RETRY) as client:
        await client._t.request("GET", "/api/v2/users/u1", group="users")
        await handler.closed.wait()  # the close is in our kernel, not yet delivered by the loop
        await client._t.request("GET", "/api/v2/users/u1", group="users")
        assert client.stats.retries == {}, "the closed connection was dropped before use, not retried after"
    assert handler.connections == 2
