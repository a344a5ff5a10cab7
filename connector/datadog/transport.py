"""The HTTP core under `DatadogClient`: authentication, concurrency, pacing, retries, counters.

Every request of the client goes through `ApiTransport.request`, so the retry policy, the rate-limit
handling, the response-size cap and the error mapping each exist exactly once. The transport is the one
owner of Datadog retries: it carries out what `RetryPolicy.decide` says of each attempt (it decides nothing itself),
and once the budget is spent the error it raises is final for that call, and no caller above retries it again
(docs/service-mode.md, "Datadog failures").
"""

from __future__ import annotations

import asyncio
import functools
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from json import dumps as json_dumps
from typing import Any
from urllib.parse import quote_plus

import httpcore
import httpx
from pydantic import SecretStr

from connector.baton import netsteps
from connector.baton.framing import FaultyFraming, faulty_framing
from connector.baton.headers import HeaderLines
from connector.baton.hostnames import host_port
from connector.baton.inflate import BodyTooLarge, CappedBody, UndecodableBody
from connector.baton.proxyenv import environment_mounts, proxy_address
from connector.datadog.errors import (
    DatadogError,
    Invalid,
    RateLimited,
    Unavailable,
    UnexpectedResponse,
    describe_transport_error,
    error_for_response,
    is_datadog_error_body,
    is_datadogs_429,
    lost_answer,
    scrub,
)
from connector.datadog.netio import (
    HTTPCORE_ERRORS,
    HttpxSender,
    OriginPool,
    Sender,
    as_httpx_error,
    asyncio_pool,
)
from connector.datadog.ratelimit import RateLimiter, RateLimitHeaders, Ticket, WaitTooLong, timed_wait
from connector.datadog.retry import Answered, Attempts, GiveUp, NoAnswer, Outcome, RetryPolicy, Unreadable
from connector.datadog.stats import (
    ClientEvent,
    ClientStats,
    EventHook,
    RateLimitWait,
    RequestDone,
    RetryScheduled,
)

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "ApiTransport",
    "QueryValue",
    "Reply",
]

QueryValue = str | int | bool
USER_AGENT = "baton-datadog/0.1.0 (+python httpx)"
# A silent peer must not hold a sync (or start-up readiness) for minutes per request.
DEFAULT_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 10.0
# A page of 100 users with their included roles is ~100 KB; 32 MiB leaves room for any real page and
# bounds what one hostile or broken response can cost (decoded bytes, so a gzip bomb stops here too).
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
# The most `{`, `[` and `,` bytes one answer may hold, counted before anything parses it: a rough measure of its JSON
# values (a container's first item needs no comma, a member is a key and a value, a string's commas count too), not
# an exact one. A real answer holds a few thousand (a users page at the link bound ~60,000); the 32 MiB cap alone let
# through 11 million empty objects, whose Python objects cost 1.1 GB, past the deployment's 1 GiB memory limit: one
# hostile answer restarted the pod at every sync. Just under the bound, the costliest answer measured (31.5 MiB of
# one-member objects with long non-ASCII strings) parses to ~200 MB.
MAX_RESPONSE_VALUES = 1_000_000
# httpx's limit on a whole URL; only an absurd filter reaches it (ids are bounded by the client).
_MAX_URL_CHARS = 65_536
# What an undecodable body is called in the error, and whether asking again may help (a cut or garbled stream may
# not recur; an encoding we never asked for will).
_UNDECODABLE: dict[str, tuple[str, bool]] = {
    "unsupported": ("an unsupported Content-Encoding", False),
    "corrupt": ("a body that is not what it claims", True),
    "truncated": ("a truncated compressed body", True),
}


# How many parts of a body are read between two turns of the event loop (`_read_capped`).
_PARTS_PER_LOOP_TURN = 256

# The statuses whose answer never has a body (1xx never reach the caller: httpcore reads past them).
_NO_BODY = frozenset({204, 304})


class _Empty:
    """The body of a request without one, as a stream with no parts.

    Given `b""`, httpcore made a stream of one empty part: an async generator (registered with the loop's hooks) and an
    empty h11 `Data` event sent through h11's state machine, neither putting a byte on the wire: 3.5 % of a GET's
    instructions (callgrind, perf50). With no parts, h11 sends only the end of the message, as before."""

    def __aiter__(self) -> _Empty:
        return self

    async def __anext__(self) -> bytes:
        raise StopAsyncIteration


_EMPTY = _Empty()


@dataclass(frozen=True, slots=True)
class Reply:
    """A finished 2xx response: the body is read in full (and no larger than the cap)."""

    status: int
    headers: Mapping[str, str]
    # The buffer the body was streamed into, handed on as is: copying it to `bytes` would double the peak. Not in the
    # repr: a create's answer holds the new credential's secret, and a log line or an error showing the reply showed it.
    body: bytes | bytearray = field(repr=False)
    method: str
    path: str


@dataclass(slots=True)
class _InFlight:
    """How far one attempt got, for the count of a cancelled one (`ApiTransport.request`)."""

    # The request was handed to the connection pool: from then on it may reach Datadog, and counts as one of its
    # requests, cancelled or not; also when cancelled while its connection was still being made (nothing of it sent),
    # as a failed connect counts. Whether its bytes left is not followed: a reused connection's request is not traced
    # (`netio.OriginPool`), and following every request's writes would cost each one for a cancellation's count.
    handed: bool = False
    # The answer's status, once its head arrived.
    status: int | None = None


@lru_cache(maxsize=64)
def _query_key(key: str) -> str:
    # The keys are the client's own few names (`page[size]`, `page[number]`...), quoted once each.
    return quote_plus(key)


def _query(params: Mapping[str, QueryValue]) -> str:
    """The query string `httpx.QueryParams(params)` writes (urllib's `urlencode`: `quote_plus` of each key and value;
    True and False as "true" and "false"; an int as its digits, which need no quoting), without building the
    QueryParams: that and urlencode were 98 Python calls of a Datadog request's 1,376 and 4.5 % of its instructions
    (docs/benchmarks.md, "CPU per Datadog request", perf50). tests/datadog/test_netio.py compares the two on hostile
    keys and values."""
    parts = []
    for key, value in params.items():
        if value is True or value is False:
            text = "true" if value else "false"
        elif type(value) is int:
            text = str(value)
        else:
            text = quote_plus(str(value))
        parts.append(f"{_query_key(key)}={text}")
    return "&".join(parts)


def _header_safe(value: str) -> bool:
    return value.isascii() and all("!" <= c <= "~" for c in value)


def _secret(value: str | SecretStr) -> SecretStr:
    return value if isinstance(value, SecretStr) else SecretStr(value)


class ApiTransport:
    def __init__(
        self,
        *,
        api_key: str | SecretStr,
        app_key: str | SecretStr,
        base_url: str,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_concurrency: int = 8,
        retry: RetryPolicy | None = None,
        on_event: EventHook | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if timeout <= 0 or connect_timeout <= 0 or max_response_bytes < 1:
            raise ValueError("timeouts and the response-size cap must be positive")
        api, app = _secret(api_key), _secret(app_key)
        if not api.get_secret_value() or not app.get_secret_value():
            raise ValueError("both the API key and the application key are required")
        if not all(_header_safe(key.get_secret_value()) for key in (api, app)):
            # They travel as headers: anything else could never authenticate (and would fail deep in the HTTP
            # layer). Settings refuse such a key earlier, naming the setting; the value is never quoted.
            raise ValueError("the API key and the application key must be visible ASCII characters only")
        self._secrets = (api, app)
        self.retry = retry or RetryPolicy()
        self.stats = ClientStats()
        self.max_response_bytes = max_response_bytes
        self._deadline = connect_timeout + 2 * timeout
        self._hook = on_event
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._limiter = RateLimiter(max_wait=self.retry.max_hinted_delay, on_wait=self._paced, clock=clock, sleep=sleep)
        limits = httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency)
        trust: ssl.SSLContext | bool = verify if verify is not None else True
        injected = transport
        if transport is None:
            # httpx's own default transport, given explicitly so that the client does not read the environment's
            # proxies itself: its reading turns an IPv6 NO_PROXY network (`fd00::/8`) into a pattern that is no
            # URL, and no client could be built. `environment_mounts` carries every proxy it would have mounted.
            transport = httpx.AsyncHTTPTransport(verify=trust, limits=limits)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
            limits=limits,
            # Only what `_read_capped` can decode with a bound (the official client asks for gzip alone too).
            headers={"Accept": "application/json", "Accept-Encoding": "gzip", "User-Agent": USER_AGENT},
            transport=transport,
            # An explicit trust store (the daemon's CA-bundle setting); else httpx's default, which honours
            # SSL_CERT_FILE / SSL_CERT_DIR. Proxies come from the environment as urllib reads it (trust_env):
            # HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY in any letter case (docs/deployment.md).
            verify=trust,
            # The proxies as Go reads the environment: NO_PROXY `api.datadoghq.com:443`, `*.datadoghq.com` and a
            # network holding the base URL's address match (httpx alone never matched them), and an https:// proxy
            # is checked with `verify` (httpx: its default).
            mounts=environment_mounts(trust, [base_url], limits=limits) if injected is None else None,
            follow_redirects=False,
        )
        base = self._http.base_url
        # What a failure names: with its port when it is not the scheme's default (a wrong port in BATON_BASE_URL
        # said only "cannot reach 127.0.0.1: connection refused"). httpx gives no port for a default one.
        self.host = host_port(base.host, base.port)
        # Requests are sent on connections made by httpcore's pool, behind the transport httpx mounted for the base
        # URL (its own, or the proxy's from HTTPS_PROXY / HTTP_PROXY / NO_PROXY, chosen once when the client was made):
        # httpx's per-request layers (URL parsing and merging, header models, cookies, auth flow, redirects,
        # hooks, stream wrappers) cost more CPU than the exchange itself for nothing a fixed-shape Datadog call
        # needs, and the pool runs on asyncio protocols rather than anyio (connector/datadog/netio.py;
        # docs/benchmarks.md, "CPU per Datadog request"). httpx has no public accessor for the mounted
        # transport; the proxy tests pin the choice. An injected transport (tests) is sent through httpx.
        route = self._http._transport_for_url(base)
        # Named in transport errors: a refused connection or a failed lookup is the proxy's then, not Datadog's.
        self.proxy = proxy_address(route) if injected is None else None
        pool = asyncio_pool(route) if injected is None else None
        self.asyncio_network = pool is not None
        # httpcore's pool makes the connections; `OriginPool` keeps them (no request ever waits for one here).
        self._pool = OriginPool(pool, max_concurrency) if pool is not None else None
        if pool is None and injected is None:
            netsteps.lookups_first(route)  # httpx's own path names a lookup's timeout as the asyncio one does
        self._sender: Sender = self._pool if self._pool is not None else HttpxSender(route)
        # What `build_request` made: the base URL's path (with its trailing slash) joined with the path, the
        # client's headers after Host, and its timeouts (per socket operation) as httpcore reads them.
        self._scheme, self._host_bytes, self._port = base.raw_scheme, base.raw_host, base.port
        self._path_prefix = base.raw_path.decode("ascii").rstrip("/") + "/"
        self._headers = [(b"Host", base.netloc), *self._http.headers.raw]
        self._extensions = {"timeout": self._http.timeout.as_dict()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={str(self._http.base_url)!r})"

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
        await self._http.aclose()

    def _emit(self, event: ClientEvent) -> None:
        self.stats.record(event)
        if self._hook is not None:
            self._hook(event)

    def _paced(self, group: str, bucket: str | None, seconds: float) -> None:
        self._emit(RateLimitWait(group, bucket, seconds, "pacing"))

    def _throttled(self, group: str, bucket: str | None, seconds: float) -> None:
        self._emit(RateLimitWait(group, bucket, seconds, "429"))

    def _secret_values(self) -> list[str]:
        return [s.get_secret_value() for s in self._secrets]

    def error(
        self,
        status: int,
        method: str,
        path: str,
        body: bytes | bytearray,
        rate_limit: RateLimitHeaders | None,
        *,
        mints: bool = False,
    ) -> DatadogError:
        return error_for_response(
            status,
            method=method,
            path=path,
            # Only Datadog's refusal (its 4xx, in its error shape) of a create is quoted: any other answer may come after
            # the credential was made (a proxy's or a gateway's 4xx too: `errors.nothing_done`), and may quote the
            # upstream answer that holds its secret.
            body=b"" if mints and not (400 <= status < 500 and is_datadog_error_body(body)) else body,
            rate_limit=rate_limit,
            secrets=self._secret_values(),
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
        mints: bool = False,
    ) -> Reply:
        """Send one logical request, retrying per the policy; return the 2xx reply or raise a `DatadogError`.

        Bounded whatever the peer does: at most `max_attempts` tries for server errors, transport failures and
        unreadable bodies, at most `max_rate_limit_retries` waits for 429s, each no longer than
        `max_hinted_delay` (a longer hint raises `RateLimited` at once, so the caller can reschedule).

        `single_attempt`: send it at most once, not even resent after a 429 or a refused connection (a minted
        service access token must never be created twice, docs/spec/credentials.md §4.3).

        `mints`: the answer holds a new credential's secret; an error quotes the body of a refusal (4xx) only.
        """
        idempotent = method.upper() != "POST" if idempotent is None else idempotent
        attempts = Attempts(method, idempotent, single_attempt)
        attempt = 0
        while True:
            attempt += 1
            try:
                ticket = await self._limiter.acquire(group)
            except WaitTooLong as exc:
                bucket = scrub(exc.bucket, self._secret_values()) if exc.bucket else None
                # After an attempt whose answer was lost (a 503 to a write that may have landed), the wait the
                # bucket asks for past the cap is no sign the write was never made: marked so, a revoke that removed
                # its member was reported "nothing done", and a sync's walk of that team released (review r1706).
                raise lost_answer(
                    RateLimited(
                        method=method, path=path, status=None, reason=str(exc), retry_after=exc.wait, limit_name=bucket
                    ),
                    attempts.lost,
                ) from None
            started = self._clock()
            steps = netsteps.Steps()
            flight = _InFlight()
            error: DatadogError
            info: RateLimitHeaders | None = None
            try:
                status, headers, info, body, unreadable = await self._attempt(
                    ticket,
                    method,
                    path,
                    params=params,
                    json=json,
                    api_key_only=api_key_only,
                    idempotent=idempotent,
                    steps=steps,
                    flight=flight,
                )
            except asyncio.CancelledError:
                if flight.handed:
                    # Cancelled in flight (pages fetched ahead dropped, a sync or a task stopped): the request may
                    # have reached Datadog, and spent its rate limit, all the same. Uncounted, the requests metric and
                    # a sync's summary missed every one (8 pages in flight, one request counted).
                    self._emit(RequestDone(group, method, flight.status, self._clock() - started, attempt))
                raise
            except httpx.TransportError as exc:
                self._emit(RequestDone(group, method, None, self._clock() - started, attempt))
                outcome: Outcome = NoAnswer.of(exc)
                error = Unavailable(
                    method=method,
                    path=path,
                    reason=describe_transport_error(
                        exc, self.host, self._secret_values(), proxy=self.proxy, steps=steps
                    ),
                )
            else:
                self._emit(RequestDone(group, method, status, self._clock() - started, attempt))
                if status < 300 and unreadable is None:
                    return Reply(status, headers, body, method.upper(), path)
                datadogs_429 = status == 429 and is_datadogs_429(body, info)
                if unreadable is None:
                    outcome = Answered(status, info, datadogs_429)
                    error = self.error(status, method, path, body, info, mints=mints)
                else:
                    # The status line arrived but the body could not be read whole (too large, bad encoding).
                    outcome = Unreadable(status, info, datadogs_429, retryable=unreadable.retryable)
                    error = unreadable
                    if self.retry.judged_by_status(status):
                        # Decided by its status (`RetryPolicy.decide`), it fails as that status does, saying why its
                        # body is not quoted: a 503 so answered was a final "unexpected response".
                        error = self.error(status, method, path, b"", info, mints=mints)
                        error.messages = (*error.details, *unreadable.messages)
            decision = self.retry.decide(attempts, outcome, self._rng)
            if isinstance(decision, GiveUp):
                if decision.shut is not None:
                    self._limiter.throttle(ticket, decision.shut)
                raise lost_answer(error, decision.lost) from None
            if decision.throttled:
                self._limiter.throttle(ticket, decision.delay)
                name = info.name if info else None
                await timed_wait(
                    decision.delay,
                    sleep=self._sleep,
                    clock=self._clock,
                    told=functools.partial(self._throttled, group, name),
                )
            else:
                self._emit(RetryScheduled(group, decision.reason, attempt, decision.delay))
                await self._sleep(decision.delay)

    async def _attempt(
        self,
        ticket: Ticket,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None,
        json: Any,
        api_key_only: bool,
        idempotent: bool,
        steps: netsteps.Steps,
        flight: _InFlight,
    ) -> tuple[int, HeaderLines, RateLimitHeaders | None, bytearray, UnexpectedResponse | None]:
        """The answer's status, head, rate-limit headers and body; with the error saying why the body could not be read
        whole (too large, an encoding not asked for, cut or garbled), its body then empty.

        The rate-limit headers are read once, here, on this host's wall clock read once as the answer came (a
        `Retry-After` date without a `Date` is measured from it): read again for the limiter, the retry decision and
        the error's words, each at its own time, a clock stepped meanwhile (NTP) made them disagree on the wait."""
        headers: HeaderLines | None = None
        info: RateLimitHeaders | None = None
        status = 0
        body = bytearray()
        unreadable: UnexpectedResponse | None = None
        try:
            async with self._semaphore:
                request = self._request(method, path, params, json, api_key_only)
                request.extensions = {**request.extensions, netsteps.EXTENSION: steps}
                try:
                    # The pool's timeouts are per socket operation; a peer dripping one byte at a time would
                    # never trip them, so the whole exchange also has a deadline.
                    async with asyncio.timeout(self._deadline):
                        flight.handed = True
                        response = await self._sender.handle_async_request(request)
                        try:
                            status = flight.status = response.status
                            lines = HeaderLines(response.headers)
                            version = response.extensions.get("http_version")
                            if (faulty := faulty_framing(status, lines, version)) is not None:
                                # Refused before its head counts (its rate-limit headers neither) and its body is read:
                                # closed unread (`finally`), its connection is dropped, not kept for the next request.
                                raise FaultyFraming(faulty)
                            headers = lines
                            info = RateLimitHeaders.parse(lines, self._wall_clock())
                            try:
                                body = await self._read_capped(response, status, headers, method, path)
                            except UnexpectedResponse as exc:
                                unreadable = exc
                        finally:
                            await response.aclose()
                except TimeoutError:
                    raise httpx.ReadTimeout(f"no complete response within {self._deadline:g}s") from None
                except HTTPCORE_ERRORS as exc:
                    raise as_httpx_error(exc) from exc
            return status, headers, info, body, unreadable
        finally:
            # Also on failures and cancellation: an unreleased first request of a group would block the group. A 429
            # shuts the bucket for its hint, but a create's 429 that is not Datadog's own does not (`request`).
            refused = headers is not None and status == 429
            throttled = (
                headers is not None
                and refused
                # Judged by the one judge the error's words use (`errors.is_datadogs_429`).
                and self.retry.shuts_bucket(idempotent=idempotent, datadogs_429=is_datadogs_429(body, info))
            )
            self._limiter.release(ticket, info, answered=headers is not None, throttled=throttled, refused=refused)

    def _request(
        self, method: str, path: str, params: Mapping[str, QueryValue] | None, json: Any, api_key_only: bool
    ) -> httpcore.Request:
        """The request httpx's `build_request` made, with the key headers added here (never client-wide)."""
        target = self._path_prefix + path.lstrip("/")
        if params:
            target = f"{target}?{_query(params)}"
        # Path segments are percent-encoded by the client (`client._seg`) and the query by QueryParams, so
        # anything else is refused here as httpx's URL parser refused it: one of ours, with the path cut.
        if len(target) > _MAX_URL_CHARS or not (target.isascii() and target.isprintable()) or " " in target:
            shown = path if len(path) <= 200 else f"{path[:200]}...({len(path)} characters)"
            reason = "URL too long" if len(target) > _MAX_URL_CHARS else "characters a URL cannot carry"
            raise Invalid(method=method, path=shown, reason=f"the request URL is invalid ({reason})")
        headers = [*self._headers, (b"DD-API-KEY", self._secrets[0].get_secret_value().encode("ascii"))]
        if not api_key_only:
            # /api/v1/validate checks the API key alone; the official client sends only DD-API-KEY there.
            headers.append((b"DD-APPLICATION-KEY", self._secrets[1].get_secret_value().encode("ascii")))
        method = method.upper()
        content: bytes | _Empty = _EMPTY
        if json is not None:
            # As httpx encodes `json=`: compact, UTF-8, no NaN.
            content = json_dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
            headers += [(b"Content-Length", str(len(content)).encode()), (b"Content-Type", b"application/json")]
        elif method in ("POST", "PUT", "PATCH"):
            headers.append((b"Content-Length", b"0"))
        url = httpcore.URL(scheme=self._scheme, host=self._host_bytes, port=self._port, target=target.encode("ascii"))
        return httpcore.Request(
            method.encode("ascii"), url, headers=headers, content=content, extensions=self._extensions
        )

    async def _read_capped(
        self, response: httpcore.Response, status: int, headers: HeaderLines, method: str, path: str
    ) -> bytearray:
        """The decoded body, streamed; never more than `max_response_bytes` decoded bytes are held.

        Decoded by `connector.baton.inflate.CappedBody` rather than by httpx, so that it is bounded too: a gzip
        bomb stops at the cap instead of inflating a whole chunk first.
        """
        cap = self.max_response_bytes
        # Leading zeros are no size (h11 and Go read `00…042` as 42): left on, a small answer was "larger than the cap".
        declared = headers.get("content-length", "").lstrip("0") or "0"
        # A 204 or 304 has no body whatever its Content-Length says (RFC 9110 §8.6; h11 reads none): refused for the
        # header, a revoke or a delete Datadog had done was reported failed.
        if status not in _NO_BODY and declared.isdigit() and (len(declared) > 18 or int(declared) > cap):
            raise self._too_large(status, method, path)
        try:
            body = CappedBody(headers.get("content-encoding", ""), cap)
            parts = 0
            async for raw in response.aiter_stream():
                body.feed(raw)
                parts += 1
                if parts % _PARTS_PER_LOOP_TURN == 0:
                    # The parts of one network read come without a wait: 64 KiB of one-byte chunks are 11,000 of
                    # them, a quarter of a second of parsing with the loop held (seconds per buffer). A real answer
                    # comes in a few large parts and never gets here.
                    await asyncio.sleep(0)
            decoded = body.finish()
        except BodyTooLarge:
            raise self._too_large(status, method, path) from None
        except UndecodableBody as exc:
            what, retryable = _UNDECODABLE[exc.kind]
            raise self._undecodable(status, headers, method, path, what, retryable=retryable) from None
        # A body shorter than the bound cannot hold more such bytes: a real page costs no count.
        if len(decoded) > MAX_RESPONSE_VALUES and _values_over(decoded, MAX_RESPONSE_VALUES):
            raise UnexpectedResponse(
                method=method,
                path=path,
                status=status,
                messages=[
                    f"the body holds more than {MAX_RESPONSE_VALUES:,} of the bytes '{{', '[' and ',' that separate "
                    "JSON values, far more than any Datadog answer (not parsed: its objects could cost more memory "
                    "than the connector has)"
                ],
            )
        return decoded

    def _undecodable(
        self, status: int, headers: HeaderLines, method: str, path: str, what: str, *, retryable: bool
    ) -> UnexpectedResponse:
        # Peer text: scrubbed before it is cut, so neither a whole key nor a part of one is quoted.
        value = scrub(headers.get("content-encoding", ""), self._secret_values())
        shown = repr(value[:40]) if value.isprintable() else "(unprintable)"
        return UnexpectedResponse(
            method=method,
            path=path,
            status=status,
            messages=[f"body could not be decoded: {what} (Content-Encoding {shown})"],
            retryable=retryable,
        )

    def _too_large(self, status: int, method: str, path: str) -> UnexpectedResponse:
        return UnexpectedResponse(
            method=method,
            path=path,
            status=status,
            messages=[f"response body larger than the {self.max_response_bytes}-byte cap"],
        )


def _values_over(body: bytearray, bound: int) -> bool:
    """Whether `body` holds more than `bound` of the bytes `{`, `[` and `,` (`MAX_RESPONSE_VALUES`), counted in C."""
    count = 0
    for byte in (b",", b"{", b"["):
        count += body.count(byte)
        if count > bound:
            return True
    return False
