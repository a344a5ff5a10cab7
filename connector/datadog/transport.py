"""The HTTP core under `DatadogClient`: authentication, concurrency, pacing, retries, counters.

Every request of the client goes through `ApiTransport.request`, so the retry policy, the
rate-limit handling and the error mapping each exist exactly once.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from connector.datadog.errors import DatadogError, RateLimited, Unavailable, error_for_response
from connector.datadog.ratelimit import RateLimiter, RateLimitHeaders, Ticket, WaitTooLong
from connector.datadog.retry import RetryPolicy
from connector.datadog.stats import (
    ClientEvent,
    ClientStats,
    EventHook,
    RateLimitWait,
    RequestDone,
    RetryScheduled,
)

__all__ = ["ApiTransport", "QueryValue"]

QueryValue = str | int | bool
USER_AGENT = "baton-datadog/0.1.0 (+python httpx)"


class _KeyAuth(httpx.Auth):
    """Adds the Datadog key headers at send time, so the keys never sit in client-wide headers."""

    def __init__(self, api_key: SecretStr, app_key: SecretStr | None) -> None:
        self._api_key = api_key
        self._app_key = app_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["DD-API-KEY"] = self._api_key.get_secret_value()
        if self._app_key is not None:
            request.headers["DD-APPLICATION-KEY"] = self._app_key.get_secret_value()
        yield request

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_key=***, app_key={'***' if self._app_key else None})"


def _secret(value: str | SecretStr) -> SecretStr:
    return value if isinstance(value, SecretStr) else SecretStr(value)


class ApiTransport:
    def __init__(
        self,
        *,
        api_key: str | SecretStr,
        app_key: str | SecretStr,
        base_url: str,
        timeout: float = 30.0,
        max_concurrency: int = 8,
        retry: RetryPolicy | None = None,
        on_event: EventHook | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        api, app = _secret(api_key), _secret(app_key)
        if not api.get_secret_value() or not app.get_secret_value():
            raise ValueError("both the API key and the application key are required")
        self._secrets = (api, app)
        self._auth_full = _KeyAuth(api, app)
        # /api/v1/validate checks the API key alone; the official client sends only DD-API-KEY there.
        self._auth_api_only = _KeyAuth(api, None)
        self.retry = retry or RetryPolicy()
        self.stats = ClientStats()
        self._hook = on_event
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._clock = clock
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._limiter = RateLimiter(
            max_wait=self.retry.max_rate_limit_wait, on_wait=self._paced, clock=clock, sleep=sleep
        )
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            transport=transport,
            # An explicit trust store (the daemon's CA-bundle setting); else httpx's default, which honours
            # SSL_CERT_FILE / SSL_CERT_DIR. Proxies come from HTTPS_PROXY / HTTP_PROXY / NO_PROXY (trust_env).
            verify=verify if verify is not None else True,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={str(self._http.base_url)!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    def _emit(self, event: ClientEvent) -> None:
        self.stats.record(event)
        if self._hook is not None:
            self._hook(event)

    def _paced(self, group: str, bucket: str | None, seconds: float) -> None:
        self._emit(RateLimitWait(group, bucket, seconds, "pacing"))

    def error(self, status: int, method: str, path: str, response: httpx.Response) -> DatadogError:
        return error_for_response(
            status,
            method=method,
            path=path,
            body=response.content,
            headers=response.headers,
            secrets=[s.get_secret_value() for s in self._secrets],
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        group: str,
        params: Mapping[str, QueryValue] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        api_key_only: bool = False,
        single_attempt: bool = False,
    ) -> httpx.Response:
        """Send one logical request, retrying per the policy; return the 2xx response or raise.

        `single_attempt`: send it at most once, not even resent after a 429 or a refused connection (a minted
        service access token must never be created twice, docs/spec/credentials.md §4.3).
        """
        idempotent = method.upper() != "POST" if idempotent is None else idempotent
        auth = self._auth_api_only if api_key_only else self._auth_full
        failures = 0
        throttles = 0
        attempt = 0
        while True:
            attempt += 1
            try:
                ticket = await self._limiter.acquire(group)
            except WaitTooLong as exc:
                raise RateLimited(
                    method=method, path=path, status=None, reason=str(exc), retry_after=exc.wait, limit_name=exc.bucket
                ) from None
            started = self._clock()
            try:
                response = await self._attempt(ticket, method, path, params=params, json=json, auth=auth)
            except httpx.TransportError as exc:
                self._emit(RequestDone(group, method, None, self._clock() - started, attempt))
                failures += 1
                if (
                    not single_attempt
                    and failures < self.retry.max_attempts
                    and self.retry.retryable_exception(exc, idempotent=idempotent)
                ):
                    await self._backoff(group, type(exc).__name__, failures, attempt)
                    continue
                raise Unavailable(method=method, path=path, reason=type(exc).__name__) from exc
            status = response.status_code
            self._limiter.release(ticket, response.headers, throttled=status == 429)
            self._emit(RequestDone(group, method, status, self._clock() - started, attempt))
            if status < 300:
                return response
            if status == 429:
                throttles += 1
                info = RateLimitHeaders.parse(response.headers)
                reset = info.reset if info is not None else None
                wait = reset if reset is not None else self.retry.backoff(throttles - 1, self._rng)
                if (
                    single_attempt
                    or throttles > self.retry.max_rate_limit_retries
                    or wait > self.retry.max_rate_limit_wait
                ):
                    raise self.error(status, method, path, response)
                if reset is None:
                    self._limiter.throttle(group, wait)
                self._emit(RateLimitWait(group, info.name if info else None, wait, "429"))
                await self._sleep(wait)
                continue
            failures += 1
            # A 5xx on a create may still have created the object, so only idempotent calls retry it.
            if (
                idempotent
                and not single_attempt
                and failures < self.retry.max_attempts
                and self.retry.retryable_status(status)
            ):
                await self._backoff(group, f"http_{status}", failures, attempt)
                continue
            raise self.error(status, method, path, response)

    async def _attempt(
        self,
        ticket: Ticket,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None,
        json: Any,
        auth: httpx.Auth,
    ) -> httpx.Response:
        try:
            async with self._semaphore:
                return await self._http.request(method, path, params=params, json=json, auth=auth)
        except BaseException:
            # Also on cancellation: an unreleased first request of a group would block the group forever.
            self._limiter.release(ticket, None)
            raise

    async def _backoff(self, group: str, reason: str, failures: int, attempt: int) -> None:
        delay = self.retry.backoff(failures - 1, self._rng)
        self._emit(RetryScheduled(group, reason, attempt, delay))
        await self._sleep(delay)
