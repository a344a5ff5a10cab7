"""Access tokens for ConductorOne: client_credentials with a private_key_jwt assertion (docs/spec/service-mode.md §1.3, §1.5).

One `TokenSource` per process. It caches the token until `expiry_delta` (10 s) before it runs out, fetches a
new one on the next call after that, and serialises fetches so that callers arriving together share one.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import structlog

from connector.baton import netsteps
from connector.baton.c1.assertion import ASSERTION_LIFETIME, make_client_assertion
from connector.baton.c1.credentials import ClientId, ClientSecret, resolve_endpoints
from connector.baton.c1.errors import (
    CONNECTION_REFUSED,
    MAX_RETRY_AFTER,
    C1AuthError,
    C1AuthRejectedError,
    C1AuthUnavailableError,
    network_cause,
    proxy_connect_failure,
)
from connector.baton.framing import FaultyFraming, faulty_framing
from connector.baton.httpdate import first_field_line, peer_now, retry_after_seconds
from connector.baton.inflate import BodyTooLarge, CappedBody, UndecodableBody
from connector.baton.proxyenv import environment_mounts, proxy_address
from connector.baton.proxyrefusal import proxy_refusal
from connector.baton.redaction import blank_out

BATON_SDK_VERSION: Final = "v0.25.0"
"""The Go SDK release whose wire behaviour this package reproduces; user agents carry it as Go's do."""
TOKEN_USER_AGENT: Final = f"baton-c1-credential-provider baton-sdk/{BATON_SDK_VERSION}"
CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_EXPIRY_DELTA: Final = 10.0

_TRANSIENT_HTTP_STATUSES: Final = frozenset({408, 425, 429})
MAX_TOKEN_RESPONSE_BYTES: Final = 64 * 1024
"""A token response is a few hundred bytes; more than this is a broken or hostile peer."""
# Only a short OAuth error code from the response goes into our messages, never free text from the body.
_OAUTH_ERROR_CODE = re.compile(r"[a-z_]{1,64}")
# What can go into the `authorization` metadata: gRPC refuses a header value with anything but visible ASCII
# (inside grpc, on every call, with no status), and a value over 16 KiB of metadata (RFC 6750 b64token is a
# subset of this). The token type must be an HTTP token (RFC 9110 §5.6.2).
_ACCESS_TOKEN = re.compile(r"[\x21-\x7e]{1,8192}")
# A lifetime beyond a year is read as a year (a 400-digit integer would not even convert to a float).
_MAX_EXPIRES_IN = 365 * 24 * 3600
_PEER = "ConductorOne's token endpoint"
"""Who a malformed Date, Age or Retry-After of a token answer came from (`httpdate.malformed`)."""
_REDACTED_TOKENS = 8
"""Tokens `redact` knows (the last ones fetched; an older one has long expired)."""
_TOKEN_TYPE = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{0,64}")
CLOCK_SKEW_NAMED: Final = ASSERTION_LIFETIME / 2
"""Seconds between this host's clock and a refusal's `Date` past which the error names the clock: the assertion holds
ASSERTION_LIFETIME seconds either side of this host's time, and a server may allow less."""

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str = field(repr=False)
    token_type: str
    """Normalised as oauth2 does: `Bearer`, `MAC`, `Basic` or what the server sent."""
    expires_at: float
    """On the token source's clock (monotonic by default)."""

    @property
    def authorization(self) -> str:
        """The `authorization` metadata value."""
        return f"{self.token_type} {self.value}"


@dataclass(frozen=True, slots=True)
class TokenFetch:
    """What the `on_fetch` hook hears after every request to the token endpoint (for metrics)."""

    ok: bool
    status_code: int | None
    seconds: float


class TokenSource:
    """Fetches, caches and refreshes the access token.

    `http_client` is for tests and for callers who need their own transport; by default an httpx client is
    made with `trust_env=True`, so SSL_CERT_FILE / SSL_CERT_DIR choose the trust roots and HTTPS_PROXY /
    NO_PROXY apply. `verify` replaces the trust roots with an explicit SSL context.
    """

    def __init__(
        self,
        client_id: ClientId,
        secret: ClientSecret,
        *,
        api_host: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        verify: ssl.SSLContext | None = None,
        timeout: float = 60.0,
        expiry_delta: float = DEFAULT_EXPIRY_DELTA,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        on_fetch: Callable[[TokenFetch], None] | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> None:
        self._client_id = client_id
        self._secret = secret
        self.token_url = resolve_endpoints(client_id, api_host).token_url
        self._token_host = httpx.URL(self.token_url).netloc.decode("ascii")
        # httpx's timeout is per socket operation; a peer dripping bytes never trips it, so the whole exchange
        # has a deadline too: `timeout` itself, the overall timeout of Go's client (§1.3, --http-timeout-seconds).
        self._deadline = timeout
        self._owns_http = http_client is None
        trust: ssl.SSLContext | bool = verify if verify is not None else True
        self._http = http_client or httpx.AsyncClient(
            trust_env=True,
            # The proxies as Go reads the environment (NO_PROXY `host:443`, `*.domain`, `10.0.0.0/8`; an https://
            # proxy checked with `verify`), as the gRPC channel's route is decided (`grpc_proxy_from_env`).
            mounts=environment_mounts(trust, [self.token_url]),
            # Given, so that httpx does not read the proxies itself (an IPv6 NO_PROXY network made its reading fail):
            # `environment_mounts` carries every route it would have mounted.
            transport=httpx.AsyncHTTPTransport(verify=trust),
            verify=trust,
            timeout=timeout,
            follow_redirects=False,
        )
        # Named in a transport error: through a proxy the only connection made is the proxy's, so a refused
        # connection or a failed lookup is the proxy's, not ConductorOne's. httpx has no public accessor for the
        # route it mounted (the Datadog client reads it the same way); a client given by the caller is not looked at.
        route = self._http._transport_for_url(httpx.URL(self.token_url)) if self._owns_http else None
        self.proxy = proxy_address(route) if route is not None else None
        if route is not None:
            netsteps.lookups_first(route)  # a lookup that never answers is named so, not as a connect timeout
        self._expiry_delta = expiry_delta
        self._clock = clock
        self._wall_clock = wall_clock
        self._on_fetch = on_fetch
        self._on_token = on_token
        """Hears every new token's value first (the daemon's log redactor), before any call can carry it."""
        self._fetching: asyncio.Future[AccessToken] | None = None
        """The fetch under way, which every caller needing a token meanwhile awaits (`token`)."""
        self._waiting: set[asyncio.Future[AccessToken]] = set()
        """The callers' waits on the fetch (`asyncio.shield`s of it): one not cancelled when it fails takes the
        failure to a loop that logs it (`_fetch_ended`)."""
        self._cached: AccessToken | None = None
        self._recent: deque[str] = deque(maxlen=_REDACTED_TOKENS)
        """The tokens fetched last, newest first: what a peer may quote back (see `redact`)."""
        self.fetch_count = 0
        """Requests sent to the token endpoint, successful or not."""
        self.asking_since: float | None = None
        """When (on `clock`) the request under way was sent; None when none is. Readiness reads it: a request that
        hangs fails only at the token timeout (BATON_HTTP_TIMEOUT_SECONDS, up to 30 min), and meanwhile no call is
        made and none fails."""

    def __repr__(self) -> str:
        return f"TokenSource(token_url={self.token_url!r}, fetch_count={self.fetch_count})"

    async def token(self) -> AccessToken:
        """A token valid for at least `expiry_delta` more seconds, fetching one if needed.

        Callers that need one while a fetch is under way await that fetch, and share its token or its failure: they
        used to queue and fetch again one after another, so an endpoint that was down got a request from each (a
        poll, every report, every sync's heartbeat), and against a silent one the last caller waited that many
        times the HTTP timeout. A caller cancelled while waiting leaves the fetch to the others (`aclose` stops it).
        """
        cached = self._cached
        if cached is not None and self._fresh(cached):
            return cached
        fetching = self._fetching
        if fetching is None:
            fetching = self._fetching = asyncio.ensure_future(self._fetch_and_keep())
            fetching.add_done_callback(self._fetch_ended)
        waiting = asyncio.shield(fetching)
        self._waiting.add(waiting)
        try:
            return await waiting
        finally:
            self._waiting.discard(waiting)

    async def _fetch_and_keep(self) -> AccessToken:
        fetched = await self._fetch()
        if self._on_token is not None:
            self._on_token(fetched.value)
        self._cached = fetched
        self._recent.appendleft(fetched.value)
        return fetched

    def _fetch_ended(self, fetching: asyncio.Future[AccessToken]) -> None:
        if self._fetching is fetching:
            self._fetching = None
        if fetching.cancelled():
            return  # stopped (`aclose`): no failure of the endpoint's
        failure = fetching.exception()  # retrieved: every caller awaiting it may have been cancelled
        # A caller's wait is cancelled at once when the caller is (`Task.cancel` cancels what it awaits): one not
        # cancelled now is handed the failure, and its loop logs it. Not if that caller is cancelled in this same loop
        # iteration, before it resumes: it then resumes with the cancellation, and the failure is in no line (review
        # r1209; a window of one iteration, as before this line existed).
        if failure is not None and all(waiting.cancelled() for waiting in self._waiting):
            # Every caller gave up first (a poll cut short, a drain): no loop will log this failure, and at info
            # level it was in no line.
            self.log_unheard_failure(failure, "no call was left waiting for it")

    def log_unheard_failure(self, failure: BaseException, why: str) -> None:
        """One warning for a failed fetch no caller's loop will log (`why` says why none will): at info level it was
        in no line. The one wording of such a line, here and for the client's warm-up fetch no call took over."""
        log.warning(
            f"c1 token request failed; {why}",
            token_url=self.token_url,
            http_status=failure.status_code if isinstance(failure, C1AuthError) else None,
            error=str(failure),
        )

    def redact(self, text: str, carried: Iterable[str] = ()) -> str:
        """`text` (a peer's words: a status's details) without the tokens the call `carried` (its attempt's, and the one
        a refused attempt before it carried), nor any token fetched lately. A hostile peer or a proxy echoing requests
        may quote them. The call's own are named by the caller: with tokens advertised for less than the refresh
        margin every call fetches its own, and a call held long enough saw more than the remembered ones fetched after
        its own, which then came back unredacted."""
        return blank_out(text, (*carried, *self._recent), "<token>")

    def invalidate(self, rejected: AccessToken | None = None) -> None:
        """Forget the cached token (after an UNAUTHENTICATED). With `rejected`, only if it is still the cached
        one: a caller holding an old token must not throw away the one another caller just fetched.
        """
        if rejected is None or self._cached == rejected:
            self._cached = None

    async def aclose(self) -> None:
        fetching, self._fetching = self._fetching, None
        if fetching is not None:
            fetching.cancel()
            await asyncio.wait([fetching])
        if self._owns_http:
            await self._http.aclose()

    def _fresh(self, token: AccessToken) -> bool:
        return self._clock() < token.expires_at - self._expiry_delta

    async def _fetch(self) -> AccessToken:
        form = {
            "client_assertion": make_client_assertion(self._client_id, self._secret, now=self._wall_clock()),
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_id": self._client_id.value,
            "grant_type": "client_credentials",
        }
        self.fetch_count += 1
        started = self.asking_since = self._clock()
        status_code: int | None = None
        # Which step of the connection a timeout cut (a lookup, a TLS handshake, a proxy's CONNECT): named by it.
        steps = netsteps.Steps()
        # The status of an answer whose headers came, even when the rest of it failed (its framing faulty, its body
        # stalled or cut): readiness named such a request one that "got no answer".
        answered: list[int] = []
        try:
            try:
                async with asyncio.timeout(self._deadline):
                    response, body = await self._post(form, steps, answered)
            except httpx.HTTPError as exc:
                status_code = answered[0] if answered else None
                # `from None`: httpx errors hold the request, and the request holds the signed assertion.
                stalled = (
                    steps.stalled(self._token_host, self.proxy) if isinstance(exc, httpx.TimeoutException) else None
                )
                raise C1AuthUnavailableError(
                    f"failed to get a token from {self._token_host}: "
                    f"{stalled or _describe_http_failure(exc, self.proxy)}",
                    status_code=status_code,
                ) from None
            except TimeoutError:
                status_code = answered[0] if answered else None
                stalled = steps.stalled(self._token_host, self.proxy)
                raise C1AuthUnavailableError(
                    f"failed to get a token from {self._token_host}: "
                    f"{stalled or f'no complete answer within {self._deadline:g}s'}",
                    status_code=status_code,
                ) from None
            status_code = response.status_code
            if isinstance(body, str) and status_code == httpx.codes.OK:
                raise C1AuthUnavailableError(
                    f"failed to get a token from {self._token_host}: the HTTP {status_code} response {body}",
                    status_code=status_code,
                )
            # Any other status decides by itself, whatever its body: a 401 too large or too oddly encoded to read
            # still refuses the credentials (it used to be retried at start-up forever).
            if isinstance(body, str):
                token = self._parse(response, b"", requested_at=started, unreadable=body)
            else:
                token = self._parse(response, body, requested_at=started)
        except C1AuthError:
            self._notify(ok=False, status_code=status_code, started=started)
            # At debug: the error reaches the call that needed the token, and the loop that made it logs it in full
            # (`polling ConductorOne failed`, `Hello failed; retrying`, ...). A warning here too logged each refused
            # token request twice, this line without the words. A failure no call is left to take is logged at
            # warning by `_fetch_ended`, and warm_up's fetch that no call took over by `BatonServiceClient.close`.
            log.debug("c1 token request failed", token_url=self.token_url, http_status=status_code)
            raise
        finally:
            self.asking_since = None
        self._notify(ok=True, status_code=status_code, started=started)
        log.debug("c1 token fetched", token_url=self.token_url, expires_in=round(token.expires_at - started))
        return token

    async def _post(
        self, form: dict[str, str], steps: netsteps.Steps, answered: list[int]
    ) -> tuple[httpx.Response, bytes | str]:
        """The response and its body, decoded and read up to the cap; or, instead of the body, what is wrong with
        it (over the cap, or not decodable). Capped, a peer streaming without end cannot hold the fetch forever,
        each chunk resetting the read timeout. The status goes in `answered` as soon as the headers come."""
        # gzip only, as Go's client asks, and inflated under the cap by `CappedBody`: httpx inflates a whole chunk
        # at once, and 64 KB of zstd (which it would otherwise ask for) is gigabytes of zeros.
        headers = {"User-Agent": TOKEN_USER_AGENT, "Accept": "application/json", "Accept-Encoding": "gzip"}
        request = self._http.build_request(
            "POST", self.token_url, data=form, headers=headers, extensions={"trace": steps}
        )
        response = await self._http.send(request, stream=True)
        answered.append(response.status_code)
        try:
            faulty = faulty_framing(response.status_code, response.headers, response.extensions.get("http_version"))
            if faulty is not None:
                raise FaultyFraming(faulty)  # its body unread: the connection is closed (`finally`), not kept
            body = CappedBody(response.headers.get("content-encoding", ""), MAX_TOKEN_RESPONSE_BYTES)
            async for raw in response.aiter_raw():
                body.feed(raw)
            return response, bytes(body.finish())
        except BodyTooLarge:
            return response, f"is larger than {MAX_TOKEN_RESPONSE_BYTES} bytes"
        except UndecodableBody as exc:
            if exc.kind == "unsupported":
                return response, "is compressed in a way that was not asked for (only gzip is)"
            return response, "has a compressed body that is cut short or corrupt"
        finally:
            await response.aclose()

    def _parse(
        self, response: httpx.Response, content: bytes, *, requested_at: float, unreadable: str = ""
    ) -> AccessToken:
        status = response.status_code
        if status != httpx.codes.OK:
            # The status's standard reason phrase, not the peer's: that is free text (a proxy may echo the request,
            # signed assertion and all).
            reason = httpx.codes.get_reason_phrase(status)
            message = f"failed to get a token from {self._token_host}: HTTP {status} {reason}".rstrip()
            oauth_error = _oauth_error_code(content)
            if oauth_error:
                message += f" ({oauth_error})"
            if unreadable:
                message += f" (its body {unreadable})"
            # Only a 4xx refuses the credentials. A redirect (a captive portal, a proxy) or another 2xx says nothing
            # about them: transient, like a 5xx or a 200 without a token.
            rejected = 400 <= status < 500 and status not in _TRANSIENT_HTTP_STATUSES
            skew = _clock_skew(response, self._wall_clock()) if rejected else None
            if skew is not None and abs(skew) > CLOCK_SKEW_NAMED:
                # A refusal of an assertion dated outside the server's window reads exactly as wrong credentials do.
                message += (
                    f"; this host's clock is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} the token "
                    f"endpoint's (its Date header, plus its Age), and the client assertion holds only {ASSERTION_LIFETIME} s either "
                    "side of this host's time: check the host's time sync (NTP)"
                )
            if rejected:
                raise C1AuthRejectedError(message, status_code=status)
            # A 429 or a 503 may say when to ask again (RFC 9110 §10.2.3): the loop of the call that needed the token
            # waits at least that long (it was never read, and each loop asked again on its own backoff, the report's
            # from under a second).
            wait = retry_after_seconds(
                first_field_line(response.headers, "retry-after"),
                maximum=MAX_RETRY_AFTER,
                now=self._wall_clock(),
                sent=first_field_line(response.headers, "date"),
                age=first_field_line(response.headers, "age"),
                peer=_PEER,
            )
            if wait:
                message += f" (it asked to wait {math.ceil(wait)} s)"
            raise C1AuthUnavailableError(message, status_code=status, retry_after=wait)
        try:
            return self._token_from(content, requested_at=requested_at)
        except _Unusable as exc:
            # A 200 that holds no usable token is no refusal of the credentials: a captive portal's or a proxy's
            # page, a gateway mid-deploy, a cut body. Transient, like a 5xx (docs/service-mode.md "Who retries
            # what"); the message names the endpoint and what was wrong, never the body (it may echo anything).
            kind = _content_type(response)
            raise C1AuthUnavailableError(
                f"failed to get a token from {self._token_host}: the HTTP 200 response {exc}"
                + (f" (content type {kind})" if kind and kind != "application/json" else ""),
                status_code=status,
            ) from None

    def _token_from(self, content: bytes, *, requested_at: float) -> AccessToken:
        try:
            body = _json(content)
        except ValueError:
            raise _Unusable("is not JSON") from None
        if not isinstance(body, dict):
            raise _Unusable("is not a JSON object")
        value = body.get("access_token")
        if not isinstance(value, str) or not value:
            raise _Unusable("has no access_token")
        if not _ACCESS_TOKEN.fullmatch(value):
            # Never quoted: it is a credential, however broken.
            raise _Unusable("has an access_token gRPC cannot send (not 1..8192 visible ASCII characters)")
        # Absent, null, zero or negative: expired at once, so this call uses it and the next one fetches anew, as the
        # Go SDK reads them (it sets the expiry to now + expires_in, and a JSON null leaves that 0). Refusing a negative
        # or null lifetime kept the daemon from ever starting, where Go works with the same endpoint.
        expires_in = body.get("expires_in")
        if expires_in is None:
            expires_in = 0
        if (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, int | float)
            or (isinstance(expires_in, float) and not math.isfinite(expires_in))
        ):
            raise _Unusable("has an invalid expires_in")
        token_type = body.get("token_type", "")
        if isinstance(token_type, str) and not _TOKEN_TYPE.fullmatch(token_type):
            raise _Unusable("has an invalid token_type")
        return AccessToken(
            value=value,
            token_type=_normalise_token_type(token_type if isinstance(token_type, str) else ""),
            # Measured from when we asked, so a slow response cannot make us trust the token too long.
            expires_at=requested_at + float(max(0, min(expires_in, _MAX_EXPIRES_IN))),
        )

    def _notify(self, *, ok: bool, status_code: int | None, started: float) -> None:
        if self._on_fetch is not None:
            self._on_fetch(TokenFetch(ok=ok, status_code=status_code, seconds=self._clock() - started))


class _Unusable(ValueError):
    """What is wrong with a 200 token response (words of ours, never the body's)."""


# Content types quoted in a message: well-known ones only (the header is the peer's free text).
_KNOWN_CONTENT_TYPES: Final = frozenset(
    {"application/json", "text/html", "text/plain", "application/xml", "text/xml", "application/octet-stream"}
)


def _content_type(response: httpx.Response) -> str | None:
    kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return kind if kind in _KNOWN_CONTENT_TYPES else None


def _clock_skew(response: httpx.Response, now: float) -> float | None:
    """How many seconds this host's clock (`now`, epoch seconds) is ahead of the one the response's `Date` header
    shows, with its `Age` (negative: behind); None when it has no Date that parses (the header is the peer's free
    text)."""
    sent = peer_now(
        first_field_line(response.headers, "date"), first_field_line(response.headers, "age"), now=now, peer=_PEER
    )
    return None if sent is None else now - sent


def _normalise_token_type(token_type: str) -> str:
    # golang.org/x/oauth2 Token.Type(): what Go puts in front of the token in the authorization header.
    lowered = token_type.lower()
    if lowered in ("", "bearer"):
        return "Bearer"
    if lowered == "mac":
        return "MAC"
    if lowered == "basic":
        return "Basic"
    return token_type


def _describe_http_failure(exc: httpx.HTTPError, proxy: str | None = None) -> str:
    """Why the token request did not get an answer, in words (never the request, which holds the assertion).

    `proxy`: the ``host:port`` of the forward proxy the request went through, if any: a refused connection or a
    failed lookup is then the proxy's, and any other failure names it too."""
    if isinstance(exc, httpx.ProxyError):
        return proxy_refusal(str(exc))  # never the proxy's reason phrase: free text
    cause = _transport_cause(exc)
    if proxy is None:
        return cause
    return proxy_connect_failure(cause, proxy) or f"{cause} (through the proxy {proxy})"


def _transport_cause(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        # A lookup (`netsteps.LookupFirstBackend`) or a TCP connect; the later steps are named by `netsteps.Steps`.
        return "DNS lookup timed out" if netsteps.LOOKUP_TIMED_OUT in str(exc) else "timed out connecting"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out waiting for the answer"
    if isinstance(exc, FaultyFraming):
        return f"the answer is not valid HTTP ({exc})"  # the judge's words, none of the peer's
    # httpx wraps the OSError / ssl error, a TLS one several links down (ConnectError, ConnectError, anyio's
    # EndOfStream, SSLEOFError); its text names the cause ("[Errno 111] Connection refused"), except a refused connect
    # made by anyio or asyncio ("All connection attempts failed", "Connect call failed"): its type says it.
    link: BaseException | None = exc
    for _ in range(8):
        if link is None:
            break
        if isinstance(link, ConnectionRefusedError):
            return CONNECTION_REFUSED
        cause = network_cause(str(link))
        if cause is not None:
            return cause
        link = link.__cause__ or link.__context__
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the answer is not valid HTTP"  # h11's text may quote the peer's bytes: not repeated
    return "connection failed" if isinstance(exc, httpx.TransportError) else "request failed"


def _json(content: bytes) -> Any:
    """The body as JSON; ValueError for anything that is not (nesting too deep included)."""
    try:
        return json.loads(content)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _oauth_error_code(content: bytes) -> str | None:
    try:
        body = _json(content)
    except ValueError:
        return None
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) and _OAUTH_ERROR_CODE.fullmatch(code) else None
