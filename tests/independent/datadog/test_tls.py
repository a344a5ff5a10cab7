"""TLS failures against Datadog's URL are named as TLS failures, with the cause, never a traceback nor a key: an
untrusted certificate, one for another address, a server that speaks no TLS."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import DatadogError, Unavailable
from connector.datadog.retry import RetryPolicy
from tests.fakes.c1.certs import TlsFiles, generate_tls_files
from tests.independent.datadog.peer import API_KEY, APP_KEY, client
from tests.independent.rawpeer import Answer, RawPeer, http


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    return generate_tls_files(tmp_path, common_name="fake-datadog-303")


def _server_context(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.server_cert, files.server_key)
    return context


async def _failure(dd: DatadogClient) -> DatadogError:
    try:
        with pytest.raises(DatadogError) as caught:
            await asyncio.wait_for(dd.validate(), timeout=30)
    finally:
        await dd.aclose()
    for text in (str(caught.value), repr(caught.value)):
        assert API_KEY not in text
        assert APP_KEY not in text
    return caught.value


async def test_a_certificate_outside_the_trust_is_named_and_no_request_is_sent(tls_files: TlsFiles) -> None:
    async with RawPeer([http(200, b'{"valid": true}')], tls=_server_context(tls_files)) as peer:
        error = await _failure(client(peer.base_url, retry=RetryPolicy(max_attempts=3, base_delay=0.001)))
    assert isinstance(error, Unavailable), error
    assert "TLS certificate verification failed" in str(error), error
    assert peer.requests == []


async def test_a_certificate_for_another_address_is_named_by_the_address(tls_files: TlsFiles) -> None:
    trust = ssl.create_default_context(cafile=str(tls_files.ca_cert))
    server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.2", 0, ssl=_server_context(tls_files))
    port = server.sockets[0].getsockname()[1]
    try:
        error = await _failure(client(f"https://127.0.0.2:{port}", verify=trust, retry=RetryPolicy(max_attempts=1)))
    finally:
        server.close()
    assert "certificate verification failed" in str(error), error
    assert "127.0.0.2" in str(error), error


async def test_a_trusted_certificate_is_a_working_connection(tls_files: TlsFiles) -> None:
    trust = ssl.create_default_context(cafile=str(tls_files.ca_cert))
    answers: list[Answer] = [
        http(200, b'{"valid": true}'),
        http(200, b'{"data": [], "meta": {"page": {"total_count": 0}}}'),
    ]
    async with RawPeer(answers, tls=_server_context(tls_files)) as peer:
        dd = client(peer.base_url, verify=trust)
        try:
            await dd.validate()
        finally:
            await dd.aclose()
    assert len(peer.requests) == 2
    assert peer.connections == 1


async def test_https_to_a_server_speaking_plain_http_is_a_tls_handshake_failure() -> None:
    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        error = await _failure(client(f"https://127.0.0.1:{port}", retry=RetryPolicy(max_attempts=1)))
    finally:
        server.close()
        await server.wait_closed()
    assert isinstance(error, Unavailable), error
    assert "TLS handshake failed" in str(error), error
