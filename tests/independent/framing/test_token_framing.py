"""The same framings at ConductorOne's token endpoint (the connector's other HTTP client): h11 read a token answer
stating both Transfer-Encoding and Content-Length, or an HTTP/1.0 one with Transfer-Encoding, as chunked, and took the
chunked body as the token. Refused by the one judge (`connector.baton.framing`), it is a transient failure naming the
endpoint and what was wrong, and the connection is not asked again."""

from __future__ import annotations

import asyncio
import json
import ssl

import pytest

from connector.baton.c1.credentials import parse_client_id, parse_client_secret
from connector.baton.c1.errors import C1AuthUnavailableError
from connector.baton.c1.token import TokenSource
from tests.fakes.c1.certs import TlsFiles, generate_tls_files
from tests.fakes.c1.creds import ClientCredentials, generate_client_credentials
from tests.independent.rawpeer import RawPeer, http

TOKEN = json.dumps({"access_token": "smuggled-token", "token_type": "Bearer", "expires_in": 3600}).encode()
_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return generate_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def credentials() -> ClientCredentials:
    return generate_client_credentials("acme.conductor.one", client_name="attack704")


def _chunked(body: bytes) -> bytes:
    return b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (
            _OK + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n" + _chunked(TOKEN),
            "both Transfer-Encoding and Content-Length, so where the body ends is in doubt",
        ),
        (
            b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + _chunked(TOKEN),
            "Transfer-Encoding in an HTTP/1.0 answer, which has no such framing",
        ),
    ],
    ids=["te-and-cl", "http10-te"],
)
async def test_a_token_answer_whose_framing_is_in_doubt_is_refused_naming_the_endpoint(
    tls: TlsFiles, credentials: ClientCredentials, answer: bytes, words: str
) -> None:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tls.server_cert, tls.server_key)
    async with RawPeer([answer, http(200, TOKEN.replace(b"smuggled", b"real"))], tls=server) as peer:
        source = TokenSource(
            parse_client_id(credentials.client_id),
            parse_client_secret(credentials.client_secret),
            api_host=peer.address,
            verify=ssl.create_default_context(cafile=str(tls.ca_cert)),
            timeout=2.0,
        )
        try:
            with pytest.raises(C1AuthUnavailableError) as refused:
                await asyncio.wait_for(source.token(), timeout=12)
            again = await asyncio.wait_for(source.token(), timeout=12)
        finally:
            await source.aclose()
    assert str(refused.value) == f"failed to get a token from {peer.address}: the answer is not valid HTTP ({words})"
    assert again.value == "real-token"
    assert peer.connections == 2
