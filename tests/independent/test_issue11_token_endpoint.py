"""Issue 11 against ConductorOne's token endpoint: odd JSON, HTML, redirects, refusals quoting what they were sent, and
slow or endless bodies, each from a real HTTPS peer on 127.0.0.1 writing exactly the bytes under test.

What each must show: a `C1AuthError` naming the endpoint and what was wrong, transient unless the endpoint refused the
credentials (a 4xx), in bounded time; the client secret, its private key and the signed assertion never in its text;
and a redirect never followed (the assertion would go along to wherever it points).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import ssl

import pytest

from connector.baton.c1.credentials import parse_client_id, parse_client_secret
from connector.baton.c1.errors import C1AuthError, C1AuthRejectedError, C1AuthUnavailableError
from connector.baton.c1.token import TokenSource
from tests.fakes.c1.certs import TlsFiles, generate_tls_files
from tests.fakes.c1.creds import ClientCredentials, generate_client_credentials
from tests.independent.rawpeer import JSON, Answer, RawPeer, Stall, http

TIMEOUT = 2.0


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return generate_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def credentials() -> ClientCredentials:
    return generate_client_credentials("acme.conductor.one", client_name="indep")


def _server_context(tls: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.server_cert, tls.server_key)
    return context


async def _fetch(tls: TlsFiles, credentials: ClientCredentials, answers: list[Answer]) -> tuple[object, RawPeer]:
    async with RawPeer(answers, tls=_server_context(tls)) as peer:
        source = TokenSource(
            parse_client_id(credentials.client_id),
            parse_client_secret(credentials.client_secret),
            api_host=peer.address,
            verify=ssl.create_default_context(cafile=str(tls.ca_cert)),
            timeout=TIMEOUT,
        )
        try:
            result: object = await asyncio.wait_for(source.token(), timeout=TIMEOUT + 10)
        except C1AuthError as exc:
            result = exc
        finally:
            await source.aclose()
    if isinstance(result, C1AuthError):
        text = str(result)
        assert credentials.client_secret not in text
        assert credentials.private_d not in text
        assert "eyJ" not in text, "a JWT (the signed assertion) is quoted"
        assert peer.address in text, text
    return result, peer


def _assertion(peer: RawPeer) -> str:
    (request,) = peer.requests
    form = request.split(b"\r\n\r\n", 1)[1].decode()
    return next(part.split("=", 1)[1] for part in form.split("&") if part.startswith("client_assertion="))


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_never_followed_and_says_nothing_of_the_credentials(
    tls: TlsFiles, credentials: ClientCredentials, status: int
) -> None:
    async with RawPeer([http(200, b"{}")], tls=_server_context(tls)) as elsewhere:
        location = f"{elsewhere.base_url}/auth/v1/token".encode()
        result, peer = await _fetch(tls, credentials, [http(status, b"", [(b"Location", location)])])
        assert elsewhere.connections == 0
    assert isinstance(result, C1AuthUnavailableError), result
    assert str(status) in str(result)
    assert len(peer.requests) == 1


@pytest.mark.parametrize(
    ("body", "content_type", "what"),
    [
        (b"<html><body>Sign in to the proxy</body></html>", b"text/html", "is not JSON"),
        (b"[]", b"application/json", "is not a JSON object"),
        (b'{"token_type":"bearer","expires_in":3600}', b"application/json", "has no access_token"),
        (b'{"access_token":42}', b"application/json", "has no access_token"),
        (b'{"access_token":"a b"}', b"application/json", "access_token gRPC cannot send"),
        (b'{"access_token":"tok","expires_in":"3600"}', b"application/json", "invalid expires_in"),
        (b'{"access_token":"tok","expires_in":1e999}', b"application/json", "invalid expires_in"),
        (b'{"access_token":"tok","token_type":"Bearer \\r\\nX: y"}', b"application/json", "invalid token_type"),
        (b'{"access_token":"tok"' + b" " * 200_000 + b"}", b"application/json", "larger than"),
        (b"", b"application/json", "is not JSON"),
    ],
)
async def test_a_200_without_a_usable_token_is_transient_and_names_what_was_wrong(
    tls: TlsFiles, credentials: ClientCredentials, body: bytes, content_type: bytes, what: str
) -> None:
    result, _ = await _fetch(tls, credentials, [http(200, body, [(b"Content-Type", content_type)])])
    assert isinstance(result, C1AuthUnavailableError), result
    assert what in str(result), str(result)


async def test_a_refusal_quoting_the_request_it_refused_never_quotes_it(
    tls: TlsFiles, credentials: ClientCredentials
) -> None:
    """A gateway echoing the request into its refusal, reason phrase and body: the status decides, its words do not
    reach the error."""

    async with RawPeer([http(401, b"")], tls=_server_context(tls)) as probe:
        source = TokenSource(
            parse_client_id(credentials.client_id),
            parse_client_secret(credentials.client_secret),
            api_host=probe.address,
            verify=ssl.create_default_context(cafile=str(tls.ca_cert)),
            timeout=TIMEOUT,
        )
        with pytest.raises(C1AuthRejectedError):
            await source.token()
        await source.aclose()
        assertion = _assertion(probe)
    echo = json.dumps({"error": "invalid_client", "error_description": f"bad {assertion} {credentials.client_secret}"})
    refusal = http(401, echo.encode(), JSON, reason=f"Unauthorized {assertion}".encode())
    result, _ = await _fetch(tls, credentials, [refusal])
    assert isinstance(result, C1AuthRejectedError), result
    assert "401" in str(result)
    assert "invalid_client" in str(result)


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
async def test_a_server_side_failure_is_transient_and_its_retry_after_is_bounded(
    tls: TlsFiles, credentials: ClientCredentials, status: int
) -> None:
    answer = http(status, b"<html>down</html>", [(b"Content-Type", b"text/html"), (b"Retry-After", b"99999999")])
    result, _ = await _fetch(tls, credentials, [answer])
    assert isinstance(result, C1AuthUnavailableError), result
    assert result.retry_after is not None
    assert result.retry_after <= 3600


async def test_a_gzip_bomb_is_refused_without_inflating_it(tls: TlsFiles, credentials: ClientCredentials) -> None:
    bomb = gzip.compress(b" " * (16 * 1024 * 1024), compresslevel=9)
    result, _ = await _fetch(tls, credentials, [http(200, bomb, [(b"Content-Encoding", b"gzip"), *JSON])])
    assert isinstance(result, C1AuthUnavailableError), result
    assert "larger than" in str(result)


@pytest.mark.parametrize(
    "stall",
    [
        Stall(b""),
        Stall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"),
        Stall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"access_'),
    ],
    ids=["no-answer", "after-headers", "mid-body"],
)
async def test_a_token_endpoint_that_stalls_fails_within_its_timeout(
    tls: TlsFiles, credentials: ClientCredentials, stall: Stall
) -> None:
    """Bounded by the token timeout; where the peer never ends, `_fetch` fails the test past its own bound."""
    result, _ = await _fetch(tls, credentials, [stall])
    assert isinstance(result, C1AuthUnavailableError), result
    assert "no complete answer within 2s" in str(result) or "timed out" in str(result), str(result)


async def test_interim_answers_before_the_token_are_read_past(tls: TlsFiles, credentials: ClientCredentials) -> None:
    token = http(200, b'{"access_token":"tok-1","token_type":"bearer","expires_in":3600}')
    result, _ = await _fetch(tls, credentials, [http(100, b"", (), length=False) + token])
    assert getattr(result, "authorization", None) == "Bearer tok-1"
