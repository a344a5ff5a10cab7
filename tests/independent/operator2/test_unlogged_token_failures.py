"""A failed token request is in one line at info level, even when no call was left to log it.

The token source logs its failures at debug: the error reaches the call that needed the token, and the loop that made
it logs it in full. Two failures reached no loop. The fetch `warm_up` starts before the service's start-up check
(HTTP 401: wrong credentials; 503: an outage), when the service stopped during that check: no call took the fetch
over, and `close` collected its error silently. And a shared fetch whose waiting callers were all cancelled (a poll cut
short, a drain) failed with nobody to hand its error to. Each is now one warning naming the cause; a failure a call
took is still logged by that call's loop only, and a fetch stopped by `aclose` is no failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import structlog

from connector.baton.c1.credentials import parse_client_id, parse_client_secret
from connector.baton.c1.errors import C1AuthRejectedError, C1AuthUnavailableError
from connector.baton.c1.token import TokenSource
from tests.baton.c1.conftest import make_client
from tests.fakes.c1 import FakeC1, generate_client_credentials
from tests.independent.operator2.conftest import seen


@pytest.mark.parametrize("status", [401, 503])
async def test_a_warm_up_fetch_no_call_took_is_logged_at_close(fake: FakeC1, status: int) -> None:
    """The service's early fetch refused, then the service stopped during its start-up check: one warning, with the
    status and the cause."""
    fake.fail_token_requests(status, times=5)
    client = make_client(fake)
    with structlog.testing.capture_logs() as events:
        client.warm_up()
        early = client._early_token
        assert early is not None
        await asyncio.wait([early])
        await client.close()
    (line,) = seen(events)
    assert line["event"] == "c1 token request failed; no call was made with it"
    assert line["http_status"] == status
    assert "failed to get a token from" in line["error"], line
    assert str(status) in line["error"], line


async def test_a_warm_up_fetch_a_call_took_is_logged_by_that_call_only(fake: FakeC1) -> None:
    """The first call takes the early fetch over and fails with its error, which its loop logs: close adds no line."""
    fake.fail_token_requests(401, times=5)
    client = make_client(fake)
    with structlog.testing.capture_logs() as events:
        client.warm_up()
        with pytest.raises(C1AuthRejectedError):
            await client.get_task()
        await client.close()
    assert seen(events) == []


def _source(answer: httpx.AsyncBaseTransport) -> TokenSource:
    creds = generate_client_credentials("tenant.conductor.one")
    return TokenSource(
        parse_client_id(creds.client_id),
        parse_client_secret(creds.client_secret),
        http_client=httpx.AsyncClient(transport=answer),
    )


class _Held(httpx.MockTransport):
    """A token endpoint that answers once released, with `status`."""

    def __init__(self, status: int) -> None:
        super().__init__(self._answer)
        self.status = status
        self.asked = asyncio.Event()
        self.release = asyncio.Event()

    async def _answer(self, request: httpx.Request) -> httpx.Response:
        self.asked.set()
        await self.release.wait()
        return httpx.Response(self.status, headers={"content-type": "application/json"}, stream=_Body())


class _Body(httpx.AsyncByteStream):
    """A body as the network gives it: unread (`json=` would have read it in the test itself)."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"error": "temporarily_unavailable"}'


async def test_a_shared_fetch_whose_callers_were_all_cancelled_is_logged_once() -> None:
    """Two callers wait on one fetch and both are cancelled; the endpoint then answers 503: one warning."""
    endpoint = _Held(503)
    source = _source(endpoint)
    callers = [asyncio.create_task(source.token()) for _ in range(2)]
    await endpoint.asked.wait()
    fetching = source._fetching
    assert fetching is not None
    for caller in callers:
        caller.cancel()
    await asyncio.wait(callers)
    with structlog.testing.capture_logs() as events:
        endpoint.release.set()
        await asyncio.wait([fetching])
    await source.aclose()
    (line,) = seen(events)
    assert line["event"] == "c1 token request failed; no call was left waiting for it"
    assert line["http_status"] == 503
    assert "HTTP 503" in line["error"], line


async def test_a_shared_fetch_one_caller_still_waits_for_is_that_callers_to_log() -> None:
    """One of two callers cancelled: the other takes the failure, and the token source adds no line."""
    endpoint = _Held(503)
    source = _source(endpoint)
    cancelled, waiting = asyncio.create_task(source.token()), asyncio.create_task(source.token())
    await endpoint.asked.wait()
    cancelled.cancel()
    await asyncio.wait([cancelled])
    with structlog.testing.capture_logs() as events:
        endpoint.release.set()
        with pytest.raises(C1AuthUnavailableError):
            await waiting
    await source.aclose()
    assert seen(events) == []


async def test_a_fetch_stopped_by_aclose_is_no_failure_logged() -> None:
    """Every caller cancelled and the source closed (a drain's end) while the fetch waits: a stop, no line."""
    endpoint = _Held(503)
    source = _source(endpoint)
    caller = asyncio.create_task(source.token())
    await endpoint.asked.wait()
    caller.cancel()
    await asyncio.wait([caller])
    with structlog.testing.capture_logs() as events:
        await source.aclose()
    assert seen(events) == []
