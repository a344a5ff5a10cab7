"""Token source: the §1.3 request, caching to 10 s before expiry (§1.5), one fetch for concurrent callers,
invalidation, error mapping without secrets, and the environment (SSL_CERT_FILE, HTTPS_PROXY) over real TLS.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Coroutine
from email.utils import formatdate
from urllib.parse import parse_qsl

import httpx
import pytest
import zstandard

from connector.baton.c1 import (
    C1AuthError,
    C1AuthRejectedError,
    C1AuthUnavailableError,
    C1FatalError,
    C1TransientError,
    TokenFetch,
    TokenSource,
    parse_client_id,
    parse_client_secret,
)
from connector.baton.c1.errors import MAX_RETRY_AFTER
from connector.baton.tlsrefusal import PLAIN_TEXT_PEER
from tests.baton.c1.conftest import LeakGuard
from tests.fakes.c1 import FakeC1, generate_client_credentials
from tests.fakes.c1.proxy import ConnectProxy
from tests.fakes.net import EndlessBody
from tests.fakes.refusing import NOT_TLS, PROTOCOL_VERSION_ALERT, RefusingPeer, proxy_authorization

Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class TokenServer:
    """An httpx MockTransport handler issuing `tok-<n>` tokens and recording the requests."""

    def __init__(self, expires_in: int = 60, delay: float = 0.0) -> None:
        self.expires_in = expires_in
        self.delay = delay
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        return httpx.Response(
            200,
            json={"access_token": f"tok-{len(self.requests)}", "token_type": "bearer", "expires_in": self.expires_in},
        )


@pytest.fixture
def creds(leak_guard: LeakGuard) -> tuple[str, str]:
    generated = generate_client_credentials("acme.conductor.one:8443", client_name="client-7")
    leak_guard.add(generated.client_secret, generated.private_d)
    return generated.client_id, generated.client_secret


def as_sent(handler: Handler) -> Handler:
    """A response built whole (`content=`, `json=`) is already read, and the token source reads the raw stream as
    a network response gives it: hand such a body over as a stream again."""

    async def sent(request: httpx.Request) -> httpx.Response:
        response = await handler(request)
        if not response.is_stream_consumed:
            return response
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=OneChunk(response.content),
            extensions=response.extensions,
        )

    return sent


def make_source(
    creds: tuple[str, str],
    handler: Handler,
    clock: Clock | None = None,
    on_fetch: Callable[[TokenFetch], None] | None = None,
    api_host: str | None = None,
    on_token: Callable[[str], None] | None = None,
) -> TokenSource:
    return TokenSource(
        parse_client_id(creds[0]),
        parse_client_secret(creds[1]),
        api_host=api_host,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(as_sent(handler))),
        clock=clock or Clock(),
        on_fetch=on_fetch,
        on_token=on_token,
    )


async def test_request_is_the_form_of_the_spec(creds: tuple[str, str]) -> None:
    server = TokenServer()
    source = make_source(creds, server, api_host="c1-proxy.internal:9443")
    await source.token()
    (request,) = server.requests
    assert request.method == "POST"
    assert str(request.url) == "https://c1-proxy.internal:9443/auth/v1/token"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["user-agent"] == "baton-c1-credential-provider baton-sdk/v0.25.0"
    assert "authorization" not in request.headers
    form = parse_qsl(request.content.decode(), strict_parsing=True)
    assert [key for key, _ in form] == ["client_assertion", "client_assertion_type", "client_id", "grant_type"]
    fields = dict(form)
    assert fields["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert fields["client_id"] == creds[0]
    assert fields["grant_type"] == "client_credentials"
    assert fields["client_assertion"].count(".") == 2


async def test_many_calls_share_one_fetch(creds: tuple[str, str]) -> None:
    server = TokenServer()
    source = make_source(creds, server)
    tokens = {(await source.token()).value for _ in range(50)}
    assert tokens == {"tok-1"}
    assert source.fetch_count == len(server.requests) == 1


async def test_refetch_ten_seconds_before_expiry(creds: tuple[str, str]) -> None:
    clock = Clock()
    server = TokenServer(expires_in=60)
    source = make_source(creds, server, clock)
    first = await source.token()
    assert first.expires_at == clock.now + 60
    clock.now += 49.9
    assert (await source.token()).value == "tok-1"
    clock.now += 0.1  # now exactly 10 s before expiry
    assert (await source.token()).value == "tok-2"
    assert source.fetch_count == 2


async def test_zero_expires_in_means_every_call_fetches(creds: tuple[str, str]) -> None:
    server = TokenServer(expires_in=0)
    source = make_source(creds, server)
    values = [(await source.token()).value for _ in range(3)]
    assert values == ["tok-1", "tok-2", "tok-3"]


@pytest.mark.parametrize("expires_in", ["-1", "-86400", "null", "-1e308"])
async def test_a_negative_or_null_expires_in_is_a_token_for_this_call_only(
    creds: tuple[str, str], expires_in: str
) -> None:
    """As the Go SDK reads it (expiry = now + expires_in, null read as 0): used once, fetched anew for the next call.
    It was refused as an unusable answer, and a daemon whose token endpoint says so never came up."""
    fetched: list[int] = []

    async def handler(_: httpx.Request) -> httpx.Response:
        fetched.append(1)
        body = f'{{"access_token": "tok-{len(fetched)}", "expires_in": {expires_in}}}'
        return httpx.Response(200, content=body.encode(), headers={"content-type": "application/json"})

    clock = Clock()
    source = make_source(creds, handler, clock=clock)
    first = await source.token()
    assert (first.value, first.expires_at) == ("tok-1", clock.now)
    assert (await source.token()).value == "tok-2"


async def test_concurrent_callers_trigger_one_fetch(creds: tuple[str, str]) -> None:
    server = TokenServer(delay=0.05)
    source = make_source(creds, server)
    results = await asyncio.gather(*(source.token() for _ in range(25)))
    assert {token.value for token in results} == {"tok-1"}
    assert len(server.requests) == 1


async def test_callers_waiting_on_a_failing_fetch_share_its_failure(creds: tuple[str, str]) -> None:
    """A token endpoint that is down or silent: the callers that were waiting for the fetch (a poll, the reports, the
    syncs' heartbeats) hear its failure, and each retries under its own backoff. They used to fetch again one after
    another: N requests to an endpoint already failing, and against a silent one the last caller waited N x the HTTP
    timeout (a heartbeat behind four others: 2.5 minutes for one beat)."""
    arrived, release = asyncio.Event(), asyncio.Event()
    requests = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal requests
        requests += 1
        arrived.set()
        await release.wait()
        raise httpx.ReadTimeout("timed out", request=request)

    source = make_source(creds, handler)
    callers = [asyncio.create_task(source.token()) for _ in range(5)]
    await arrived.wait()
    release.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(result, C1AuthUnavailableError) for result in results), results
    assert requests == source.fetch_count == 1
    # The next call, after the failure, fetches again.
    with pytest.raises(C1AuthUnavailableError):
        await source.token()
    assert requests == 2


async def test_a_caller_cancelled_while_waiting_leaves_the_fetch_to_the_others(creds: tuple[str, str]) -> None:
    arrived, release = asyncio.Event(), asyncio.Event()
    server = TokenServer()
    sent = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal sent
        sent += 1
        arrived.set()
        await release.wait()
        return await server(request)

    source = make_source(creds, handler)
    first = asyncio.create_task(source.token())
    second = asyncio.create_task(source.token())
    await arrived.wait()
    first.cancel()
    release.set()
    assert (await second).value == "tok-1"
    assert sent == 1, "the fetch under way was dropped with the caller that started it, and made again"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_closing_the_source_stops_a_fetch_nobody_waits_for(creds: tuple[str, str]) -> None:
    arrived, stopped = asyncio.Event(), asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        arrived.set()
        try:
            await asyncio.Event().wait()  # a silent endpoint
        finally:
            stopped.set()
        raise AssertionError("unreachable")

    source = make_source(creds, handler)
    caller = asyncio.create_task(source.token())
    await arrived.wait()
    caller.cancel()
    await source.aclose()
    assert stopped.is_set()


async def test_invalidate_forces_a_refetch_but_a_stale_rejection_keeps_the_newer_token(
    creds: tuple[str, str],
) -> None:
    server = TokenServer()
    source = make_source(creds, server)
    first = await source.token()
    source.invalidate(first)
    second = await source.token()
    assert second.value == "tok-2"
    source.invalidate(first)  # a caller still holding tok-1 was rejected: tok-2 stays
    assert (await source.token()).value == "tok-2"
    source.invalidate()
    assert (await source.token()).value == "tok-3"
    assert source.fetch_count == 3


@pytest.mark.parametrize(("token_type", "expected"), [("bearer", "Bearer"), ("", "Bearer"), ("BEARER", "Bearer")])
async def test_authorization_value_normalises_the_type(creds: tuple[str, str], token_type: str, expected: str) -> None:
    async def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "abc", "token_type": token_type, "expires_in": 60})

    token = await make_source(creds, handler).token()
    assert token.authorization == f"{expected} abc"
    assert "abc" not in repr(token)


@pytest.mark.parametrize(
    ("status", "error_class", "transient"),
    [
        (400, C1AuthRejectedError, False),
        (401, C1AuthRejectedError, False),
        (403, C1AuthRejectedError, False),
        (429, C1AuthUnavailableError, True),
        (500, C1AuthUnavailableError, True),
        (503, C1AuthUnavailableError, True),
    ],
)
async def test_non_200_maps_to_auth_error_with_status_and_no_secret(
    creds: tuple[str, str], leak_guard: LeakGuard, status: int, error_class: type[C1AuthError], transient: bool
) -> None:
    canary = "CANARY-server-said-something-private"
    leak_guard.add(canary)

    async def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": "invalid_client", "error_description": canary})

    fetches: list[TokenFetch] = []
    source = make_source(creds, handler, on_fetch=fetches.append)
    with pytest.raises(C1AuthError) as caught:
        await source.token()
    error = caught.value
    assert type(error) is error_class
    assert isinstance(error, C1TransientError) is transient
    assert isinstance(error, C1FatalError) is not transient
    assert error.status_code == status
    assert str(error).startswith(f"failed to get a token from acme.conductor.one:8443: HTTP {status}")
    assert "(invalid_client)" in str(error)
    for text in (str(error), repr(error)):
        assert canary not in text
        assert creds[1] not in text
        assert creds[1].rsplit(":", 1)[1][:16] not in text
    assert error.__cause__ is None
    assert fetches == [TokenFetch(ok=False, status_code=status, seconds=0.0)]


async def test_a_reason_phrase_echoing_the_assertion_never_reaches_the_error(
    creds: tuple[str, str], leak_guard: LeakGuard
) -> None:
    """The status line's reason phrase is the peer's free text (16 KB of anything h11 lets through): a broken proxy
    that echoes the request's signed client assertion there put a live credential into the error and the log."""
    sent: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        assertion = dict(x.split("=", 1) for x in request.content.decode().split("&"))["client_assertion"]
        sent.append(assertion)
        return httpx.Response(401, extensions={"reason_phrase": b"Unauthorized " + assertion.encode() + b"\x1b[2J"})

    source = make_source(creds, handler)
    with pytest.raises(C1AuthRejectedError) as caught:
        await source.token()
    (assertion,) = sent
    leak_guard.add(assertion)
    assert str(caught.value) == "failed to get a token from acme.conductor.one:8443: HTTP 401 Unauthorized"
    for text in (str(caught.value), repr(caught.value)):
        assert assertion[-20:] not in text
        assert "\x1b" not in text


@pytest.mark.parametrize("status", [201, 204, 301, 302, 307, 308])
async def test_a_redirect_or_another_success_status_is_transient_not_a_refusal_of_the_credentials(
    creds: tuple[str, str], status: int
) -> None:
    """A captive portal or a proxy redirects; a gateway may answer 204. None says the credentials are wrong, so
    none may end the daemon at start-up as 'check BATON_CLIENT_ID / BATON_CLIENT_SECRET' (only a 4xx does)."""

    async def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"location": "https://portal.example/login"})

    source = make_source(creds, handler)
    with pytest.raises(C1AuthUnavailableError) as caught:
        await source.token()
    assert isinstance(caught.value, C1TransientError)
    assert caught.value.status_code == status
    assert str(caught.value).startswith(f"failed to get a token from acme.conductor.one:8443: HTTP {status}")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"token_type": "bearer"}',
        b'{"access_token": ""}',
        b'{"access_token": "a", "expires_in": "x"}',
        # Values gRPC cannot send as the `authorization` header: every RPC would fail inside grpc (not with a
        # status), so they are refused here, where the token enters, as a clear token-endpoint error.
        '{"access_token": "t\u00f6ken"}'.encode(),
        b'{"access_token": "tok\nen"}',
        b'{"access_token": "tok\\u0000en"}',
        b'{"access_token": "tok en"}',
        b'{"access_token": "' + b"x" * 20_000 + b'"}',
        b'{"access_token": "a", "token_type": "Bea\nrer"}',
        b'{"access_token": "a", "token_type": "B\\u00e9arer"}',
        b'{"access_token": "a", "expires_in": NaN}',
        b'{"access_token": "a", "expires_in": Infinity}',
        b"[" * 60_000,  # json.loads raises RecursionError, not ValueError
    ],
    ids=lambda body: body[:40].decode("ascii", "backslashreplace"),
)
async def test_an_unusable_200_is_a_transient_failure_naming_the_endpoint(creds: tuple[str, str], body: bytes) -> None:
    # Not a refusal of the credentials (a proxy's page, a gateway mid-deploy): retried like a 5xx, never fatal.
    async def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    with pytest.raises(C1AuthUnavailableError) as caught:
        await make_source(creds, handler).token()
    assert caught.value.status_code == 200
    assert str(caught.value).startswith("failed to get a token from acme.conductor.one:8443: the HTTP 200 response ")
    assert caught.value.__cause__ is None


CANARY_TOKEN = "canary-access-token-5b4a39281706"


@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        (b"<html><body>Please log in to the guest network</body></html>", "text/html; charset=utf-8", "is not JSON"),
        (b'{"error": "' + CANARY_TOKEN.encode() + b'"}', "application/json", "has no access_token"),
        (b'{"access_token": "' + CANARY_TOKEN.encode() + b' x"}', "application/json", "gRPC cannot send"),
        (CANARY_TOKEN.encode(), f"x-{CANARY_TOKEN}/weird", "is not JSON"),
    ],
    ids=["captive-portal-html", "json-without-token", "unsendable-token", "odd-content-type"],
)
async def test_an_unusable_200_says_what_was_wrong_and_never_quotes_the_body(
    creds: tuple[str, str], body: bytes, content_type: str, says: str
) -> None:
    async def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": content_type})

    with pytest.raises(C1AuthUnavailableError) as caught:
        await make_source(creds, handler).token()
    text = str(caught.value)
    assert says in text
    assert CANARY_TOKEN not in text
    assert creds[1] not in text
    # A well-known content type is named (a login page reads as HTML); the peer's free text never is.
    assert ("(content type text/html)" in text) == content_type.startswith("text/html")


async def test_an_absurd_expires_in_is_read_as_a_year(creds: tuple[str, str]) -> None:
    """A 400-digit lifetime does not convert to a float: capped, not an OverflowError escaping the token source."""

    async def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"access_token": "a", "expires_in": 1' + b"0" * 400 + b"}")

    clock = Clock()
    token = await make_source(creds, handler, clock=clock).token()
    assert token.expires_at == clock.now + 365 * 24 * 3600


@pytest.mark.parametrize("status", [400, 503])
async def test_a_deeply_nested_error_body_still_gives_the_status(creds: tuple[str, str], status: int) -> None:
    async def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=b"[" * 60_000, headers={"content-type": "application/json"})

    with pytest.raises(C1AuthError, match=f"HTTP {status}"):
        await make_source(creds, handler).token()


@pytest.mark.parametrize("status", [200, 401, 503])
async def test_an_endless_token_response_is_cut_at_the_cap(creds: tuple[str, str], status: int) -> None:
    """A token endpoint (or a proxy in front of it) streaming without end: each chunk would reset the read
    timeout, so without a cap the fetch never ends and memory grows. The body is read up to 64 KiB; past it, an
    error status is still the answer (a 401 still refuses the credentials), a 200 has no token."""
    body = EndlessBody()

    async def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"content-type": "application/json"}, stream=body)

    with pytest.raises(C1AuthError, match="larger than" if status == 200 else f"HTTP {status}"):
        await make_source(creds, handler).token()
    assert body.yielded <= 64 * 1024 // len(body.chunk) + 1


class OneChunk(httpx.AsyncByteStream):
    """A body arriving as it is, undecoded (`httpx.Response(content=...)` would decode it in the test itself)."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.body


def _compressed(encoding: str, data: bytes, times: int = 1) -> bytes:
    out = zstandard.ZstdCompressor().compressobj() if encoding == "zstd" else zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(out.compress(data) for _ in range(times)) + out.flush()


class _Dripping(httpx.AsyncByteStream):
    """A body that comes one byte at a time, each well within any read timeout, and never ends."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            await asyncio.sleep(0.02)
            yield b" "


async def test_the_whole_token_exchange_is_bounded_by_the_http_timeout(creds: tuple[str, str]) -> None:
    """§1.3: the token request's overall timeout is --http-timeout-seconds (Go's http.Client.Timeout, 300 s by
    default). A peer dripping its answer, each byte resetting httpx's per-read timeout, held the fetch, and with it
    every RPC waiting for a token, twice that long."""

    async def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=_Dripping())

    source = TokenSource(
        parse_client_id(creds[0]),
        parse_client_secret(creds[1]),
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        timeout=0.3,
    )
    with pytest.raises(C1AuthUnavailableError) as caught:
        await source.token()
    assert str(caught.value) == "failed to get a token from acme.conductor.one:8443: no complete answer within 0.3s"


@pytest.mark.parametrize(
    ("encoding", "words"),
    [("zstd", "compressed in a way that was not asked for"), ("gzip", "larger than 65536 bytes")],
)
async def test_a_compressed_bomb_is_refused_without_inflating_it(
    creds: tuple[str, str], encoding: str, words: str
) -> None:
    """16 KB of zstd is 256 MiB of zeros, and httpx inflates a whole network chunk at once (a 64 KB chunk: GBs).
    Only gzip is asked for, as Go does, and it is inflated here no further than the 64 KiB cap."""
    bomb = _compressed(encoding, b"\0" * (1 << 20), times=256)
    requests: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        headers = {"content-type": "application/json", "content-encoding": encoding}
        return httpx.Response(200, headers=headers, stream=OneChunk(bomb))

    tracemalloc.start()
    try:
        with pytest.raises(C1AuthUnavailableError, match=words):
            await make_source(creds, handler).token()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"{peak / 1e6:.0f} MB held to refuse it"
    assert requests[0].headers["accept-encoding"] == "gzip"


async def test_a_gzipped_token_response_is_read(creds: tuple[str, str]) -> None:
    body = _compressed("gzip", b'{"access_token": "tok-1", "token_type": "bearer", "expires_in": 60}')

    async def handler(_: httpx.Request) -> httpx.Response:
        headers = {"content-type": "application/json", "content-encoding": "gzip"}
        return httpx.Response(200, headers=headers, stream=OneChunk(body))

    assert (await make_source(creds, handler).token()).authorization == "Bearer tok-1"


class Parts(httpx.AsyncByteStream):
    """A body arriving in the given network chunks, undecoded."""

    def __init__(self, *parts: bytes) -> None:
        self.parts = parts

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part


_TOKEN_JSON = b'{"access_token": "tok-1", "token_type": "bearer", "expires_in": 60}'
_GZIPPED = _compressed("gzip", _TOKEN_JSON)


@pytest.mark.parametrize(
    ("encoding", "parts"),
    [
        ("gzip", [_GZIPPED[i : i + 1] for i in range(len(_GZIPPED))]),  # chunked, a byte at a time
        ("GZIP", [_GZIPPED]),
        ("identity", [_TOKEN_JSON]),
        # Several gzip members end to end are one gzip body (RFC 1952 §2.2); Go's reader reads them all.
        ("gzip", [_compressed("gzip", _TOKEN_JSON[:10]) + _compressed("gzip", _TOKEN_JSON[10:])]),
    ],
    ids=["gzip-bytewise", "uppercase", "identity", "gzip-members"],
)
async def test_a_token_response_in_any_encoding_asked_for_is_read(
    creds: tuple[str, str], encoding: str, parts: list[bytes]
) -> None:
    async def handler(_: httpx.Request) -> httpx.Response:
        headers = {"content-type": "application/json", "content-encoding": encoding}
        return httpx.Response(200, headers=headers, stream=Parts(*parts))

    assert (await make_source(creds, handler).token()).authorization == "Bearer tok-1"


@pytest.mark.parametrize(
    ("encoding", "body", "words"),
    [
        # Cut before the trailer: zlib hands out the whole token, and the checksum was never checked.
        ("gzip", _GZIPPED[:-8], "has a compressed body that is cut short or corrupt"),
        ("gzip", _GZIPPED[: len(_GZIPPED) // 2], "has a compressed body that is cut short or corrupt"),
        # No bytes at all is an empty body, whatever the header says (a 204 or a HEAD answer may say gzip).
        ("gzip", b"", "is not JSON"),
        ("gzip", _TOKEN_JSON, "has a compressed body that is cut short or corrupt"),
        ("gzip", _GZIPPED + b"<html>", "has a compressed body that is cut short or corrupt"),
        ("br", _TOKEN_JSON, "is compressed in a way that was not asked for (only gzip is)"),
        ("gzip, gzip", _compressed("gzip", _GZIPPED), "is compressed in a way that was not asked for (only gzip is)"),
    ],
    ids=["no-trailer", "half", "empty", "not-gzip", "trailing-junk", "br", "gzip-twice"],
)
async def test_a_token_response_that_cannot_be_decoded_is_transient_and_named(
    creds: tuple[str, str], encoding: str, body: bytes, words: str
) -> None:
    async def handler(_: httpx.Request) -> httpx.Response:
        headers = {"content-type": "application/json", "content-encoding": encoding}
        return httpx.Response(200, headers=headers, stream=OneChunk(body))

    with pytest.raises(C1AuthUnavailableError) as caught:
        await make_source(creds, handler).token()
    assert str(caught.value) == f"failed to get a token from acme.conductor.one:8443: the HTTP 200 response {words}"
    assert "tok-1" not in str(caught.value)


@pytest.mark.parametrize("encoding", ["br", "gzip"])
async def test_a_refusal_whose_body_cannot_be_decoded_still_refuses_the_credentials(
    creds: tuple[str, str], encoding: str
) -> None:
    """The status is the answer: a 401 whose body is compressed some other way (or broken) only lacks its OAuth
    error code. It was 'transient', so wrong credentials were retried for ever instead of named at start-up."""

    async def handler(_: httpx.Request) -> httpx.Response:
        headers = {"content-type": "application/json", "content-encoding": encoding}
        return httpx.Response(401, headers=headers, stream=OneChunk(b'{"error": "invalid_client"}'))

    with pytest.raises(C1AuthRejectedError) as caught:
        await make_source(creds, handler).token()
    assert str(caught.value).startswith("failed to get a token from acme.conductor.one:8443: HTTP 401 Unauthorized")


@pytest.mark.parametrize("body", ["endless", "zstd"])
async def test_a_refusal_too_large_or_too_oddly_encoded_to_read_still_refuses(
    creds: tuple[str, str], body: str
) -> None:
    """The status decides a non-200 answer, not its body: a 401 whose body is over the cap or in an encoding that
    was not asked for still refuses the credentials (it must end the start-up, not be retried forever), and
    still says why its body was not read."""

    async def handler(_: httpx.Request) -> httpx.Response:
        if body == "endless":
            return httpx.Response(401, headers={"content-type": "application/json"}, stream=EndlessBody())
        headers = {"content-type": "application/json", "content-encoding": "zstd"}
        return httpx.Response(401, headers=headers, stream=OneChunk(_compressed("zstd", b'{"error": "x"}')))

    with pytest.raises(C1AuthRejectedError, match=r"HTTP 401 Unauthorized \(its body is") as caught:
        await make_source(creds, handler).token()
    assert caught.value.status_code == 401


async def test_network_failure_is_transient_and_does_not_chain_the_request(creds: tuple[str, str]) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    source = make_source(creds, handler)
    with pytest.raises(C1AuthUnavailableError) as caught:
        await source.token()
    assert caught.value.status_code is None
    # The host and the cause in words, not the exception class.
    assert str(caught.value).endswith("acme.conductor.one:8443: connection refused")
    assert "ConnectError" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert "fetch_count=1" in repr(source)


# ---- against the fake, over TLS ---------------------------------------------------------------------------------


async def test_fake_accepts_our_assertion_over_tls(fake: FakeC1) -> None:
    source = TokenSource(
        parse_client_id(fake.client_id), parse_client_secret(fake.client_secret), verify=fake.ssl_context()
    )
    token = await source.token()
    await source.aclose()
    (record,) = fake.recorded().token_requests
    assert record.ok, record.reason
    assert token.value in fake.recorded().issued_tokens


@pytest.mark.parametrize(("skew", "says"), [(600.0, "ahead of"), (-600.0, "behind")])
async def test_a_refusal_caused_by_this_hosts_clock_names_the_clock(fake: FakeC1, skew: float, says: str) -> None:
    """The assertion carries this host's time and holds 120 s either side of it: a host whose clock is off is refused
    exactly as wrong credentials are (401 invalid_client), and the daemon exited telling the operator to check
    BATON_CLIENT_ID / BATON_CLIENT_SECRET, which are fine. The refusal's Date header shows the difference, so the
    error names it."""
    source = TokenSource(
        parse_client_id(fake.client_id),
        parse_client_secret(fake.client_secret),
        verify=fake.ssl_context(),
        wall_clock=lambda: time.time() + skew,
    )
    with pytest.raises(C1AuthRejectedError) as caught:
        await source.token()
    await source.aclose()
    assert fake.recorded().token_requests[0].reason == "the assertion is not valid now"
    message = str(caught.value)
    host = httpx.URL(source.token_url).netloc.decode()
    assert message.startswith(f"failed to get a token from {host}: HTTP 401 Unauthorized (invalid_client); ")
    found = re.search(
        rf"this host's clock is (\d+) s {says} the token endpoint's \(its Date header, plus its Age\)", message
    )
    assert found is not None, message
    assert abs(int(found[1]) - 600) <= 5
    assert "time sync" in message


@pytest.mark.parametrize(
    "date",
    [
        None,  # no Date header at all
        "DATE",  # the refusal's own Date, as a server sends it: the clocks agree
        "not a date",
        "Thu, 01 Jan 99999 00:00:00 GMT",
        "Mon, 32 Foo 2026 25:61:61 GMT",
        "Thu, 01 Jan 1970 00:00:00 +9999",
        "x" * 100_000,
        "\u00e9\u00e9 \u00ff \u0085",  # not ASCII: sent as Latin-1 bytes
    ],
)
async def test_a_refusal_without_a_telling_date_header_says_nothing_of_the_clock(
    creds: tuple[str, str], date: str | None
) -> None:
    async def handler(_: httpx.Request) -> httpx.Response:
        value = formatdate(usegmt=True) if date == "DATE" else date
        headers = {} if value is None else {b"Date": value.encode("latin-1")}
        return httpx.Response(401, json={"error": "invalid_client"}, headers=headers)

    with pytest.raises(C1AuthRejectedError) as caught:
        await make_source(creds, handler).token()
    assert (
        str(caught.value)
        == "failed to get a token from acme.conductor.one:8443: HTTP 401 Unauthorized (invalid_client)"
    )


async def test_ssl_cert_file_decides_trust(fake: FakeC1, monkeypatch: pytest.MonkeyPatch) -> None:
    client_id, secret = parse_client_id(fake.client_id), parse_client_secret(fake.client_secret)
    # The machine bundle does not hold the fake's CA: TLS verification must fail, as a transient error.
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    untrusting = TokenSource(client_id, secret)
    with pytest.raises(C1AuthUnavailableError, match=r"from 127\.0\.0\.1:\d+: TLS verification failed$"):
        await untrusting.token()
    await untrusting.aclose()
    assert fake.recorded().token_requests == []

    monkeypatch.setenv("SSL_CERT_FILE", str(fake.ca_cert_path))
    trusting = TokenSource(client_id, secret)
    await trusting.token()
    await trusting.aclose()
    assert [record.ok for record in fake.recorded().token_requests] == [True]


async def test_https_proxy_is_honoured(fake: FakeC1, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        source = TokenSource(
            parse_client_id(fake.client_id), parse_client_secret(fake.client_secret), verify=fake.ssl_context()
        )
        await source.token()
        await source.aclose()
    assert proxy.tunnels == [fake.address]
    assert fake.recorded().token_requests[0].ok


async def test_no_proxy_naming_the_token_hosts_https_port_sends_the_request_direct(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """NO_PROXY=localhost:443 names the token endpoint's host and port (https://localhost/...), as Go reads it: httpx
    drops a default port from its URLs, so the entry never matched and the request went to the proxy all the same
    (the gRPC channel's route the same way, `grpc_proxy_from_env`)."""
    for name in ("no_proxy", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with RefusingPeer(lambda _: b"HTTP/1.1 407 No\r\nContent-Length: 0\r\n\r\n") as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://{proxy.address}")
        monkeypatch.setenv("NO_PROXY", "localhost:443")
        generated = generate_client_credentials("localhost")
        source = TokenSource(parse_client_id(generated.client_id), parse_client_secret(generated.client_secret))
        with pytest.raises(C1AuthUnavailableError) as caught:
            await source.token()  # nothing listens on localhost:443: refused, but not by the proxy
        await source.aclose()
    assert proxy.received == []
    assert "proxy" not in str(caught.value)


@pytest.mark.parametrize("no_proxy", ["127.0.0.0/8", "fd00::/8,127.0.0.1/32"])
async def test_no_proxy_naming_the_api_hosts_network_sends_the_token_request_direct(
    no_proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BATON_C1_API_HOST at an address and NO_PROXY naming its network, as Go reads it: httpx matched `127.0.0.0/8`
    as the one address 127.0.0.0 (the request went to the proxy), and an IPv6 network made the client unbuildable."""
    for name in ("no_proxy", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with RefusingPeer(lambda _: b"HTTP/1.1 407 No\r\nContent-Length: 0\r\n\r\n") as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://{proxy.address}")
        monkeypatch.setenv("NO_PROXY", no_proxy)
        generated = generate_client_credentials("localhost")
        source = TokenSource(
            parse_client_id(generated.client_id), parse_client_secret(generated.client_secret), api_host="127.0.0.1:9"
        )
        with pytest.raises(C1AuthUnavailableError) as caught:
            await source.token()  # nothing listens on 127.0.0.1:9: refused, but not by the proxy
        await source.aclose()
    assert proxy.received == []
    assert "proxy" not in str(caught.value)


PROXY_VARIABLES = (
    "NO_PROXY",
    "no_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
)


async def test_a_refused_connection_is_named_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token endpoint that refused the connection read "connection failed": a refused connect's text is anyio's
    "All connection attempts failed" and asyncio's "Connect call failed", which name no cause; only a
    ConnectionRefusedError down the chain says it. The gRPC channel said "connection refused" for the same port."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    generated = generate_client_credentials("acme.conductor.invalid")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: every connection is refused
        port = closed.getsockname()[1]
        source = TokenSource(
            parse_client_id(generated.client_id),
            parse_client_secret(generated.client_secret),
            api_host=f"127.0.0.1:{port}",
        )
        with pytest.raises(C1AuthUnavailableError) as caught:
            await source.token()
        await source.aclose()
    assert str(caught.value) == f"failed to get a token from 127.0.0.1:{port}: connection refused"


async def test_a_proxy_that_cannot_be_reached_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through HTTPS_PROXY the only connection made is the proxy's: its refusal read "connection failed", and the
    operator looked at ConductorOne and the egress to it, where the proxy was down or its port wrong. The proxy is
    named by host and port, never by its URL, which holds its password."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    generated = generate_client_credentials("acme.conductor.invalid")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        monkeypatch.setenv("HTTPS_PROXY", f"http://ops:proxy-pw-canary@127.0.0.1:{port}")
        source = TokenSource(parse_client_id(generated.client_id), parse_client_secret(generated.client_secret))
        with pytest.raises(C1AuthUnavailableError) as caught:
            await source.token()
        await source.aclose()
    assert str(caught.value) == (
        f"failed to get a token from acme.conductor.invalid: cannot connect to the proxy 127.0.0.1:{port}: "
        "connection refused"
    )


async def test_fake_outage_maps_to_transient(fake: FakeC1) -> None:
    source = TokenSource(
        parse_client_id(fake.client_id), parse_client_secret(fake.client_secret), verify=fake.ssl_context()
    )
    with fake.outage("unavailable"):
        with pytest.raises(C1AuthUnavailableError) as caught:
            await source.token()
        assert caught.value.status_code == 503
    with fake.outage("refuse"):
        with pytest.raises(C1AuthUnavailableError) as refused:
            await source.token()
        assert refused.value.status_code is None
    assert (await source.token()).value
    await source.aclose()


def _source_on(fake: FakeC1, clock: Clock) -> TokenSource:
    return TokenSource(
        parse_client_id(fake.client_id), parse_client_secret(fake.client_secret), verify=fake.ssl_context(), clock=clock
    )


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("form", ["delta-seconds", "http-date"])
async def test_the_wait_a_retry_after_asks_for_is_carried_on_the_error(fake: FakeC1, status: int, form: str) -> None:
    """A rate-limited (429) or overloaded (503) token endpoint says when to ask again: the error carries it, so the
    loop of the call that needed the token (a report, the poll, the Hello) waits at least that long. It was never
    read, and each loop asked again on its own backoff, the report's from under a second."""
    source = _source_on(fake, Clock())
    value = "120" if form == "delta-seconds" else formatdate(time.time() + 120, usegmt=True)
    fake.fail_token_requests(status, retry_after=[value])
    with pytest.raises(C1AuthUnavailableError) as caught:
        await source.token()
    assert caught.value.retry_after is not None
    assert 118 <= caught.value.retry_after <= 120
    assert str(caught.value).startswith(f"failed to get a token from {fake.address}: HTTP {status} ")
    assert str(caught.value).endswith(" (it asked to wait 120 s)") or form == "http-date"
    assert (await source.token()).value  # the wait is the caller's loop's to keep, not the source's
    await source.aclose()


@pytest.mark.parametrize(
    "values",
    [["soon"], ["-5"], ["nan"], ["inf"], ["1" * 80], [""]],
    ids=["text", "negative", "nan", "inf", "too-long", "empty"],
)
async def test_a_retry_after_that_is_no_wait_is_no_hint(fake: FakeC1, values: list[str]) -> None:
    source = _source_on(fake, Clock())
    fake.fail_token_requests(429, retry_after=values)
    with pytest.raises(C1AuthUnavailableError) as caught:
        await source.token()
    assert caught.value.retry_after is None
    assert "asked to wait" not in str(caught.value)
    await source.aclose()


async def test_a_repeated_retry_after_is_read_from_its_first_line(fake: FakeC1) -> None:
    source = _source_on(fake, Clock())
    fake.fail_token_requests(429, retry_after=["30", "3000"])
    with pytest.raises(C1AuthUnavailableError) as caught:
        await source.token()
    assert caught.value.retry_after == 30
    await source.aclose()


async def test_an_absurd_retry_after_is_capped_as_a_retry_info_is(fake: FakeC1) -> None:
    """A day-long Retry-After (a broken or hostile endpoint) is carried capped as a RetryInfo is: an unbounded loop
    waits at most its `max_hinted_delay`, and the bounded upload gives up at once (the sync fails retryably)."""
    source = _source_on(fake, Clock())
    fake.fail_token_requests(503, retry_after=["86400"])
    with pytest.raises(C1AuthUnavailableError) as caught:
        await source.token()
    assert caught.value.retry_after == MAX_RETRY_AFTER
    await source.aclose()


async def test_a_refusal_with_a_retry_after_is_still_a_refusal(fake: FakeC1) -> None:
    source = _source_on(fake, Clock())
    fake.fail_token_requests(401, retry_after=["60"])
    with pytest.raises(C1AuthRejectedError) as caught:
        await source.token()
    assert caught.value.retry_after is None
    await source.aclose()


async def test_each_new_token_is_heard_before_any_call_can_carry_it(creds: tuple[str, str]) -> None:
    """The daemon registers each token with its log redactor here: a token never reaches a caller (and so a
    request, a peer's echo, an error) before the redactor knows it."""
    heard: list[str] = []
    seen_by_caller: list[str] = []

    def on_token(value: str) -> None:
        assert value not in seen_by_caller
        heard.append(value)

    source = make_source(creds, TokenServer(), on_token=on_token)
    first = await source.token()
    seen_by_caller.append(first.value)
    assert await source.token() is first  # cached: nothing new to hear
    source.invalidate()
    second = await source.token()
    assert heard == [first.value, second.value] == ["tok-1", "tok-2"]


# ---- hostile networks: TLS that is not the certificate's fault, a proxy refusing the tunnel -----------------------


@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        pytest.param(PROTOCOL_VERSION_ALERT, "TLS handshake failed", id="tls-1.0-only"),
        pytest.param(NOT_TLS, PLAIN_TEXT_PEER, id="plain-http-port"),
    ],
)
async def test_a_failed_tls_handshake_is_named_and_is_not_a_certificate_problem(answer: bytes, cause: str) -> None:
    """These read "connection failed": the TLS error sits four links down httpx's chain (ConnectError,
    ConnectError, EndOfStream, the SSLError), and "wrong version number" or a protocol_version alert named no
    cause; an operator was left without a lead. Not "TLS verification failed" either: the CA bundle is not the
    problem. A peer that answers in plain text is named so: its address, not TLS, is what to check."""
    async with RefusingPeer(lambda _: answer) as peer:
        generated = generate_client_credentials(peer.address)
        source = TokenSource(parse_client_id(generated.client_id), parse_client_secret(generated.client_secret))
        with pytest.raises(C1AuthUnavailableError) as caught:
            await source.token()
        await source.aclose()
    assert str(caught.value) == f"failed to get a token from {peer.address}: {cause}"
    assert peer.received[0][:1] == b"\x16"  # a ClientHello reached it


@pytest.mark.parametrize(
    ("status", "named"),
    [(407, "407 Proxy Authentication Required"), (403, "403 Forbidden"), (503, "503 Service Unavailable")],
)
async def test_a_proxy_refusing_the_tunnel_is_named_by_its_status_never_by_its_words(
    status: int, named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx's ProxyError read "connection failed": nothing said a proxy, let alone that it wants credentials. The
    proxy's reason phrase (free text, here echoing the CONNECT's Proxy-Authorization) is never quoted."""
    for name in ("NO_PROXY", "no_proxy", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)

    def refuse(received: bytes) -> bytes:
        return b"HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n" % (status, proxy_authorization(received))

    async with RefusingPeer(refuse) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://ops:proxy-pw-canary@{proxy.address}")
        generated = generate_client_credentials("acme.conductor.invalid")
        source = TokenSource(parse_client_id(generated.client_id), parse_client_secret(generated.client_secret))
        with pytest.raises(C1AuthUnavailableError) as caught:
            await source.token()
        await source.aclose()
    assert str(caught.value) == (
        f"failed to get a token from acme.conductor.invalid: the proxy refused the tunnel (HTTP {named})"
    )
    assert proxy_authorization(proxy.received[0]) == b"ops:proxy-pw-canary"
