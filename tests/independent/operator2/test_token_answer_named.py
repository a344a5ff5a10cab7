"""A token request the endpoint answered is not one that "got no answer" in `/readyz`.

The readiness reason names a failed token request by its HTTP status, read from the fetch's record; the status was
recorded only for an answer read whole, so one whose headers came and whose rest failed (a 502 with faulty framing
from a proxy, a body that stalled or was cut after its headers) read `the token request got no answer`: the
operator looked for a network fault where the endpoint, or a proxy before it, had answered. Such an answer is named
by its status; a request with no status at all `got no usable answer` (a refused connection, a status line that was
no HTTP).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from connector.baton.c1.credentials import parse_client_id, parse_client_secret
from connector.baton.c1.errors import C1AuthUnavailableError
from connector.baton.c1.token import TokenFetch, TokenSource
from connector.baton.runtime.service import Readiness
from tests.fakes.c1 import generate_client_credentials

HELLO_WAIT = "waiting for a successful Hello to ConductorOne; last failure: "


class _Failing(httpx.AsyncByteStream):
    """A body that fails after the headers came: `exc` at its first read."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def __aiter__(self) -> AsyncIterator[bytes]:
        raise self.exc
        yield b""  # pragma: no cover  # an async generator


def _faulty_framing(_: httpx.Request) -> httpx.Response:
    return httpx.Response(502, headers={"transfer-encoding": "chunked", "content-length": "5"}, content=b"x")


def _stalled(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, stream=_Failing(httpx.ReadTimeout("timed out", request=request)))


def _cut(request: httpx.Request) -> httpx.Response:
    closed = httpx.RemoteProtocolError("peer closed connection without sending complete message body", request=request)
    return httpx.Response(503, stream=_Failing(closed))


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


async def _failed_fetch(answer: httpx.MockTransport) -> tuple[TokenFetch, C1AuthUnavailableError]:
    fetches: list[TokenFetch] = []
    creds = generate_client_credentials("tenant.conductor.one")
    source = TokenSource(
        parse_client_id(creds.client_id),
        parse_client_secret(creds.client_secret),
        http_client=httpx.AsyncClient(transport=answer),
        on_fetch=fetches.append,
    )
    try:
        with pytest.raises(C1AuthUnavailableError) as raised:
            await source.token()
    finally:
        await source.aclose()
    (fetch,) = fetches
    return fetch, raised.value


@pytest.mark.parametrize(
    ("answer", "status", "named"),
    [
        (_faulty_framing, 502, "the token request was answered HTTP 502"),
        (_stalled, 200, "the token request's HTTP 200 answer held no usable token"),
        (_cut, 503, "the token request was answered HTTP 503"),
        (_refused, None, "the token request got no usable answer"),
    ],
    ids=["faulty-framing", "body-stalled", "body-cut", "refused"],
)
async def test_a_token_answer_that_failed_after_its_headers_is_named_by_its_status(
    answer: Callable[[httpx.Request], httpx.Response], status: int | None, named: str
) -> None:
    fetch, error = await _failed_fetch(httpx.MockTransport(answer))
    assert (fetch.ok, fetch.status_code, error.status_code) == (False, status, status)
    readiness = Readiness()
    readiness.on_token_fetch(fetch)
    assert readiness() == (False, HELLO_WAIT + named)
