"""The fake Datadog HTTP server: a real aiohttp server on a loopback address.

In tests::

    with FakeDatadog(generate_org(users=250, seed=1)) as fake:
        client = DatadogClient(api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url)
        ...
        assert fake.count("GET", "/api/v2/users") == 3

Every request passes, in order: the rate limiter (headers on every response, 429 when a bucket is
spent and enforcement is on), the key check (403 in Datadog's shape), injected faults (latency,
scripted or random 429/5xx), then the endpoint.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import socket
import ssl
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Self

from aiohttp import web

from tests.fakes.datadog import hostile, routes_keys, routes_oncall, routes_teams, routes_users
from tests.fakes.datadog.org import Org
from tests.fakes.datadog.web import (
    JSON,
    STATE,
    Abort,
    Faults,
    RateLimits,
    Seen,
    State,
    group_of,
    reply,
)

DEFAULT_API_KEY = "fake-api-key-0123456789abcdef0123"
DEFAULT_APP_KEY = "fake-app-key-0123456789abcdef0123456789ab"
VALIDATE_PATHS = ("/api/v1/validate", "/api/v2/validate")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _known(given: str | None, configured: str, minted: Iterable[str]) -> bool:
    # Like Datadog, any live key of the org works, so a credential the connector issued can be used at once.
    return _same(given, configured) or any(_same(given, key) for key in minted)


def _auth_failure(request: web.Request, st: State) -> web.Response | None:
    api_key = request.headers.get("DD-API-KEY")
    api_ok = _known(api_key, st.api_key, [k.key for k in st.org.api_keys.values()])
    if request.path in VALIDATE_PATHS:
        if not api_ok:
            return reply({"errors": ["API key required" if not api_key else "Forbidden"]}, 403)
        return None
    bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if bearer and any(_same(bearer, t.key) for t in st.org.tokens.values()):
        return None  # a personal or service access token stands in for both keys
    if not api_ok or not _known(request.headers.get("DD-APPLICATION-KEY"), st.app_key, _app_keys(st)):
        return reply({"errors": ["Forbidden"]}, 403)
    return None


def _app_keys(st: State) -> list[str]:
    return [k.key for k in st.org.app_keys.values()]


def _fault(request: web.Request, faults: Faults) -> web.Response | None:
    scripted = faults.take_scripted(request.method, request.path)
    if scripted is not None:
        return _fault_response(*scripted)
    if faults.throttle_rate and faults.rng.random() < faults.throttle_rate:
        return _fault_response(429, faults.throttle_reset)
    if faults.error_rate and faults.rng.random() < faults.error_rate:
        return _fault_response(faults.error_status, 0)
    return None


def _fault_response(status: int, reset: int) -> web.Response:
    if status == 429:
        response = reply({"errors": ["Too many requests"]}, 429)
        response.headers["X-RateLimit-Remaining"] = "0"
        response.headers["X-RateLimit-Reset"] = str(reset)
        return response
    if status == 502:
        # Load balancers answer in HTML; clients must not assume JSON on 5xx.
        return web.Response(
            status=502, text="<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html"
        )
    return reply({"errors": ["Internal Server Error"]}, status)


async def _hostile(request: web.Request, faults: Faults) -> web.StreamResponse | None:
    mode = faults.take_hostile(request.method, request.path)
    if mode is None:
        return None
    return await hostile.answer(request, mode, hang_seconds=faults.hang_seconds, huge_bytes=faults.huge_bytes)


def _rewritten(request: web.Request, response: web.StreamResponse, faults: Faults) -> web.StreamResponse:
    edit = faults.take_rewrite(request.method, request.path)
    # The fake's JSON answers are built by `reply` (a string payload); an answer without a body is left as it is.
    body = getattr(response, "body", None)
    text = body if isinstance(body, bytes) else getattr(body, "_value", None)
    if edit is None or not isinstance(text, bytes) or not text:
        return response
    return reply(edit(json.loads(text)), response.status, response.content_type)


@web.middleware
async def pipeline(request: web.Request, handler: Handler) -> web.StreamResponse:
    arrived = time.monotonic()
    st = request.app[STATE]
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "<unmatched>"
    allowed, limit_headers = st.rate_limits.take(group_of(request.path), st.clock())
    response: web.StreamResponse
    try:
        if st.faults.latency:
            await asyncio.sleep(st.faults.latency)
        if not allowed:
            st.throttled += 1
            response = reply({"errors": ["Too many requests"]}, 429)
        else:
            refused = _auth_failure(request, st) or _fault(request, st.faults)
            if refused is not None:
                response = refused
            else:
                hostile_answer = await _hostile(request, st.faults)
                if hostile_answer is not None:
                    # Exactly what the mode sends: no rate-limit headers of the fake's own.
                    response, limit_headers = hostile_answer, {}
                else:
                    response = _rewritten(request, await handler(request), st.faults)
    except Abort as abort:
        response = abort.response
    except web.HTTPException as exc:
        response = reply({"errors": [exc.reason]}, exc.status)
    if not response.prepared:  # a hostile answer may already be on the wire
        for key, value in {**limit_headers, **st.faults.header_overrides}.items():
            response.headers.setdefault(key, value)
            if key in st.faults.header_overrides:
                response.headers[key] = value
        for key, value in st.faults.header_repeats.items():
            response.headers.add(key, value)
    with st.lock:
        st.counters[f"{request.method} {route}"] += 1
        st.statuses[(f"{request.method} {route}", response.status)] += 1
        st.seen.append(
            Seen(
                request.method,
                request.path,
                route,
                tuple(request.query.items()),
                response.status,
                time.monotonic(),
                arrived,
            )
        )
    return response


def build_app(st: State) -> web.Application:
    app = web.Application(middlewares=[pipeline], client_max_size=8 * 1024 * 1024)
    app[STATE] = st
    for module in (routes_users, routes_teams, routes_oncall, routes_keys):
        app.add_routes(module.routes)
    return app


def _check_loopback(host: str) -> None:
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the fake Datadog only listens on loopback addresses, not {host!r}")


_SHUTDOWN_SECONDS = 1.0
"""How long `stop` lets requests still in flight finish before cutting them off."""


class FakeDatadog:
    """A fake Datadog API on 127.0.0.1, served from a background thread (port 0 = ephemeral)."""

    def __init__(
        self,
        org: Org | None = None,
        *,
        api_key: str = DEFAULT_API_KEY,
        app_key: str = DEFAULT_APP_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        rate_limits: RateLimits | None = None,
        schedules_page_cap: int | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`tls`: a server context to answer on https (the client's TLS path), else plain http."""
        _check_loopback(host)
        self._tls = tls
        self.host = host
        self.port = port
        self.state = State(
            org=org or Org(),
            api_key=api_key,
            app_key=app_key,
            faults=faults or Faults(),
            rate_limits=rate_limits or RateLimits(),
            schedules_page_cap=schedules_page_cap,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- what tests use ---------------------------------------------------------------------------

    @property
    def org(self) -> Org:
        return self.state.org

    @property
    def api_key(self) -> str:
        return self.state.api_key

    @property
    def app_key(self) -> str:
        return self.state.app_key

    @property
    def faults(self) -> Faults:
        return self.state.faults

    @property
    def rate_limits(self) -> RateLimits:
        return self.state.rate_limits

    @property
    def base_url(self) -> str:
        return f"{'https' if self._tls else 'http'}://{self.host}:{self.port}"

    @property
    def thread_native_id(self) -> int | None:
        """The OS id of the thread serving requests (benchmarks read its CPU from /proc), once started."""
        return self._thread.native_id if self._thread is not None else None

    @property
    def throttled(self) -> int:
        """429s sent because a rate-limit bucket was spent (not the injected ones)."""
        return self.state.throttled

    def count(self, method: str, route: str) -> int:
        """Requests received for a route template, e.g. ``count("GET", "/api/v2/team/{team_id}")``."""
        return self.state.counters[f"{method.upper()} {route}"]

    def requests(self, method: str | None = None, route: str | None = None) -> list[Seen]:
        with self.state.lock:
            seen = list(self.state.seen)
        return [s for s in seen if (method is None or s.method == method) and (route is None or s.route == route)]

    def reset_counters(self) -> None:
        with self.state.lock:
            self.state.counters.clear()
            self.state.statuses.clear()
            self.state.seen.clear()
            self.state.throttled = 0

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> Self:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, args=(sock,), name="fake-datadog", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError("fake Datadog did not start") from self._error
        return self

    def _serve(self, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        # A request held by the latency fault (30 s, say) is cut off at stop: aiohttp's 60 s default for in-flight
        # handlers outlasted `stop`'s 10 s join, so each such test spent 10 s in teardown and left the thread behind.
        runner = web.AppRunner(build_app(self.state), access_log=None, shutdown_timeout=_SHUTDOWN_SECONDS)
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.SockSite(runner, sock, ssl_context=self._tls).start())
        except BaseException as exc:  # surfaced to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            # Handlers still held past the shutdown timeout are cancelled and awaited, so none is destroyed pending.
            if pending := asyncio.all_tasks(loop):
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


LISTENING = "fake Datadog listening on"
"""The CLI's stderr line once it listens, followed by its URL: with ``--port 0`` the reader learns the real port."""


async def serve(fake_state: State, host: str, port: int) -> None:
    """Run in the foreground until cancelled (the CLI); print the URL actually bound once listening."""
    _check_loopback(host)
    runner = web.AppRunner(build_app(fake_state), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound_host, bound_port = runner.addresses[0][:2]
    print(f"{LISTENING} http://{bound_host}:{bound_port}", file=sys.stderr, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


__all__ = ["DEFAULT_API_KEY", "DEFAULT_APP_KEY", "JSON", "LISTENING", "FakeDatadog", "build_app", "serve"]
