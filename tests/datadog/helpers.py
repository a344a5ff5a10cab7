"""Helpers shared by the Datadog layer tests: recordings, canary keys, fake time, retry policy, scripted answers."""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from connector.datadog.client import DatadogClient
from connector.datadog.paging import Page, PendingPage
from connector.datadog.ratelimit import RateLimiter, RateLimitHeaders, Ticket
from connector.datadog.retry import RetryPolicy
from tests.fixtures_dir import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "datadog"

# Long enough to be matched as secrets, distinctive enough to grep for.
CANARY_API_KEY = "canary-api-4f1c9e2b7d5a83c6e0f1"
CANARY_APP_KEY = "canary-app-9a8b7c6d5e4f3a2b1c0d9e8f"

# Its least 429 wait is scaled down with the backoff: tests that inject 429s with `Reset: 0` sleep for real.
FAST_RETRY = RetryPolicy(
    max_attempts=4, base_delay=0.001, max_delay=0.01, max_hinted_delay=5.0, min_rate_limit_wait=0.001
)

ClientFactory = Callable[..., DatadogClient]

T = TypeVar("T")


def listed(fetch: Callable[..., Awaitable[PendingPage[T]]]) -> Callable[..., Awaitable[Page[T]]]:
    """A listing's pages as the syncers take them (`PagePrefetch` over `DatadogClient.fetch_users`, `fetch_roles`,
    `fetch_teams`): each fetched, then its checks run. `listed(client.fetch_users)(0)` is page 0."""

    async def page(*args: Any, **kwargs: Any) -> Page[T]:
        return (await fetch(*args, **kwargs))()

    return page


@functools.cache
def loopback_trust() -> ssl.SSLContext:
    """httpx's default trust (certifi's CAs) for the clients of the fakes, built once a process: they speak plain http
    on 127.0.0.1 and never use it, and building it (~30 ms of CPU, the CA file parsed) was most of what each test of
    a client paid: a third of tests/datadog/test_credentials.py's CPU. Nothing changes it (httpcore sets the same ALPN
    on it for each TLS connection)."""
    return httpx.create_ssl_context()


async def kept_connections(client: DatadogClient, count: int) -> None:
    """`count` connections made and kept in `client`'s pool, so that each of the next `count` requests goes out on one
    of them and waits only for its answer. A test of a timeout gives the answer a tenth of a second, and a new
    connection's lookup and connect get no more (`connect` is capped by `timeout`): a loaded machine's stalled loop
    timed them out before the request reached the peer, or named the lookup. The checks' counts are cleared."""
    pool = client._t._pool  # no public view of the idle connections
    assert pool is not None
    for _ in range(20):
        if len(pool._idle) >= count:
            client.stats.requests.clear()
            client.stats.retries.clear()
            return
        # Key checks at once, each on a connection of its own; one that a stalled loop timed out closed its connection,
        # and the next round makes another.
        await asyncio.gather(*(client.validate() for _ in range(count)), return_exceptions=True)
    raise AssertionError(f"{count} connections were not made and kept")


def recordings() -> list[Path]:
    found = sorted(FIXTURES.glob("*/*.json"))
    assert found, f"no recorded Datadog responses under {FIXTURES}"
    return found


def load_recording(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@dataclass
class FakeTime:
    """A clock that only moves when the client sleeps, so waits are exact and instant."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        # Yield like a real sleep, so a loop that never stops sleeping can still be timed out by a test.
        await asyncio.sleep(0)


class ToTheFake(httpx.AsyncBaseTransport):
    """Forwards every request to the fake Datadog over a real connection. Subclasses change a request or an answer
    on the way (a mixed-up cache, a lost answer, a field Datadog ignores), calling `self._inner` for the fake's."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport(verify=loopback_trust())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class FirstAnswerLost(ToTheFake):
    """The first `method` request lands at the fake, but its answer is lost (a 502 from the way back); the retry
    then finds the change already made."""

    def __init__(self, method: str) -> None:
        super().__init__()
        self._method = method
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != self._method or self.lost:
            return response
        await response.aread()
        await response.aclose()
        self.lost += 1
        return httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>")


class MixedUpAnswers(ToTheFake):
    """A cache or proxy mixing up answers: a GET of one path gets the answer of another."""

    def __init__(self, asked: str, answered: str) -> None:
        super().__init__()
        self._asked, self._answered = asked, answered

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == self._asked:
            request = httpx.Request("GET", request.url.copy_with(path=self._answered), headers=request.headers)
        return await self._inner.handle_async_request(request)


def answered_by(handler: Callable[[httpx.Request], httpx.Response], **options: Any) -> DatadogClient:
    """A client whose every request `handler` answers in-process (no server, no network)."""
    return DatadogClient(
        api_key="a" * 32,
        app_key="b" * 40,
        base_url="https://dd.example",
        transport=httpx.MockTransport(handler),
        **options,
    )


def other_users_answers(asked: str, answered: str) -> MixedUpAnswers:
    """A read of user `asked` gets user `answered`."""
    return MixedUpAnswers(f"/api/v2/users/{asked}", f"/api/v2/users/{answered}")


def answer(
    limiter: RateLimiter,
    ticket: Ticket,
    headers: Mapping[str, str] | None,
    *,
    throttled: bool = False,
    refused: bool = False,
) -> None:
    """Release `ticket` as the transport does for an answer with these headers (None: no answer arrived): the headers
    read once by the one parser, then handed to the limiter."""
    info = None if headers is None else RateLimitHeaders.parse(headers)
    limiter.release(ticket, info, answered=headers is not None, throttled=throttled, refused=refused)
