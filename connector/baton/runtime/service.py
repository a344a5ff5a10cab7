"""Service mode: authenticate to ConductorOne, Hello, then run its tasks until SIGTERM.

Start-up order is chosen for Kubernetes: the health server comes first (liveness answers while ConductorOne
is still unreachable), readiness turns green only after a successful Hello, and on SIGTERM readiness goes
red before anything else stops.

This runner knows no particular connector: one plugs in through `ServiceApp` (its `Connector`, how to read
its start-up check's errors, how to close it) and hands over its `Metrics`, where it may have registered
series of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import math
import os
import signal
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import structlog

from connector.baton.c1 import (
    BatonServiceClient,
    C1AuthError,
    C1FatalError,
    C1TransientError,
    grpc_proxy_from_env,
    grpc_proxy_problem,
    grpc_root_certificates,
)
from connector.baton.c1.client import UPLOAD_RETRY, RpcResult
from connector.baton.c1.credentials import C1Endpoints, ClientId, ClientSecret
from connector.baton.c1.hostinfo import MAX_FIELD_LENGTH as MAX_HOST_ID_LENGTH
from connector.baton.c1.hostinfo import build_info, default_host_id, given_host_id
from connector.baton.c1.token import TokenFetch
from connector.baton.c1z.workfiles import temp_dir_problem
from connector.baton.connector import Connector
from connector.baton.errors import ConnectorError, SettingError
from connector.baton.hostnames import host_port
from connector.baton.ids import quoted_id
from connector.baton.lifecycle import LIFECYCLE
from connector.baton.netenv import environment_problems
from connector.baton.retry import Backoff, RetryPolicy
from connector.baton.runtime.bounds import (
    MAX_READY_WINDOW,
    MAX_SHUTDOWN_GRACE,
    MAX_SYNC_INTERVAL,
    MAX_TASK_CONCURRENCY,
    MAX_TOKEN_TIMEOUT,
    MIN_BACKOFF_SCALE,
)
from connector.baton.runtime.http import OpsServer
from connector.baton.runtime.metrics import Metrics
from connector.baton.runtime.scheduler import POLL_RETRY, Scheduler
from connector.baton.runtime.stopping import Stopped, until_stopped
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import output_file_problem, problem_off_the_loop, sweep_leftovers, sync_to_file
from connector.baton.tasks.full_sync import FIRST_HEARTBEAT_RETRY, FullSyncHandler, FullSyncSettings
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.processor import FINISH_RETRY, TaskProcessor

log = structlog.get_logger(__name__)

HELLO_RETRY = RetryPolicy(base_delay=1.0, max_delay=300.0)
"""Go's Hello backoff (1 s doubling to 5 min) with full jitter; unbounded: it ends on success, a fatal answer or
a stop."""
MIN_READY_WINDOW = 60.0
STARTUP_CHECK_SECONDS = 60.0
"""How long the Hello waits for the connector's start-up check (`Connector.validate`). Its verdict matters only when
the upstream answers (a refused key is fatal; anything else is a warning and the service carries on), but an
upstream that did not answer (every attempt its full HTTP timeout) or kept rate limiting (up to ten waits of two
minutes) held the Hello, and with it readiness and every ConductorOne task, for minutes; the pod was reported not
ready, waiting for ConductorOne, and alerted on as ConductorOne being unreachable."""
READY_WINDOW_POLLS = 3
CHECK_FAILED = "the connector's start-up check failed; continuing"
"""The warning for a `ConnectorError` of the start-up check that the app's `startup_verdict` does not classify."""


class Readiness:
    """`/readyz`: ready after the first successful Hello, unless ConductorOne is failing us: an RPC or a token
    fetch failed since the last successful RPC (or a token request has been under way for longer than the window:
    `token_asked_since`), and that success is older than the window.

    The window is max(`min_window`, 3 x the poll interval ConductorOne asked for); `min_window` is
    BATON_READY_WINDOW_SECONDS (60 s). Any successful ConductorOne RPC counts as contact (`contact`), any other
    answer or a failed token fetch as a failure (`failure`). Time without any call is not a failure: every slot
    busy with a task that sends no heartbeat (a grant waiting on Datadog) makes no call for minutes, and such a
    pod is working, not cut off (it was reported unready, and alerted on as ConductorOne being unreachable).
    Every call has a deadline, so a peer that stops answering is a failure within one.
    """

    def __init__(
        self,
        *,
        min_window: float = MIN_READY_WINDOW,
        poll_interval: Callable[[], float] = lambda: 0.0,
        clock: Callable[[], float] = time.monotonic,
        stop: asyncio.Event | None = None,
    ) -> None:
        self.hello_ok = False
        self.draining = False
        """A signal asked the service to stop; so does `stop` once set (the runner's caller asked)."""
        self._stop = stop
        self.checking = False
        """The connector's start-up check is running (`check_connector`): the Hello is not even asked yet."""
        self._min_window = min_window
        self._poll_interval = poll_interval
        self._clock = clock
        self.token_asked_since: Callable[[], float | None] = lambda: None
        """When the token request under way was sent (`TokenSource.asking_since`, on `clock`), or None; set once the
        client exists."""
        self._last_contact: float | None = None
        self._failed_since_contact = False
        self._last_failure: str | None = None
        """The last failure since the last contact, in our words (a method and a gRPC code, a token request's HTTP
        status): the reasons name it. Without it `/readyz` said which state the pod was in, never why (`waiting for a
        successful Hello` for a refused token request as for a host that does not resolve), and the runbook's first
        step, reading `/readyz`, sent the operator to the logs."""

    def contact(self) -> None:
        self._last_contact = self._clock()
        self._failed_since_contact = False
        self._last_failure = None

    def failure(self, what: str | None = None) -> None:
        self._failed_since_contact = True
        if what is not None:
            self._last_failure = what

    def on_call(self, result: RpcResult) -> None:
        if result.code == "OK":
            self.contact()
        else:
            self.failure(f"{result.method} {result.code}")

    def on_token_fetch(self, fetch: TokenFetch) -> None:
        # A successful fetch is not contact with BatonService: the call it is for says whether that works.
        if not fetch.ok:
            self.failure(_token_failure(fetch.status_code))

    def _last(self) -> str:
        return f"; last failure: {self._last_failure}" if self._last_failure is not None else ""

    @property
    def window(self) -> float:
        return max(self._min_window, READY_WINDOW_POLLS * self._poll_interval())

    @property
    def ready(self) -> bool:
        return self()[0]

    def __call__(self) -> tuple[bool, str]:
        if self.draining or (self._stop is not None and self._stop.is_set()):
            return False, "draining"
        if self.checking:
            # Not "waiting for a successful Hello": for up to a minute it is the upstream that holds the pod unready,
            # and an operator reading the probe looked at ConductorOne, which had not been asked yet.
            return (
                False,
                f"running the connector's start-up check (at most {STARTUP_CHECK_SECONDS:.0f} s) before the Hello to "
                "ConductorOne",
            )
        if not self.hello_ok:
            return False, f"waiting for a successful Hello to ConductorOne{self._last()}"
        now = self._clock()
        since = now - (self._last_contact if self._last_contact is not None else -math.inf)
        # A token request unanswered for longer than the window is a failure already: it fails only at the token
        # timeout (BATON_HTTP_TIMEOUT_SECONDS, up to 30 min), and meanwhile no call is made and none fails: the pod
        # stayed ready for as long, nothing reaching ConductorOne.
        asked = self.token_asked_since()
        unanswered = asked is not None and now - asked > self.window
        if (self._failed_since_contact or unanswered) and since > self.window:
            reason = f"ConductorOne not reached for {since:.0f} s (window {self.window:.0f} s){self._last()}"
            if asked is not None and unanswered:
                reason += f"; a token request unanswered for {now - asked:.0f} s"
            return False, reason
        return True, ""


def _token_failure(status_code: int | None) -> str:
    """A failed token request in a readiness reason: its HTTP status only (never the answer's words, a peer's)."""
    if status_code is None:
        # No status: no answer, or one that was no HTTP (a faulty status line); one whose headers came is named by
        # its status, however the rest of it failed.
        return "the token request got no usable answer"
    if status_code == 200:
        return "the token request's HTTP 200 answer held no usable token"
    return f"the token request was answered HTTP {status_code}"


_ADDRESS_FAULTS = frozenset({errno.EADDRNOTAVAIL, errno.EINVAL, errno.EAFNOSUPPORT})
"""A listen's errors that only the address causes: not on this host; one no socket can bind (a link-local IPv6
address without its interface, `fe80::1`; an IPv4-mapped one, `::ffff:127.0.0.1`), which was blamed on the port
(any port from 0 to 65535 binds); IPv6 on a host without it."""


def listen_fault(exc: OSError) -> str:
    """Which setting a failed listen is the operator's to fix: an address that does not resolve, is not on this
    host or cannot be bound is the bind address's fault; anything else (in use, privileged) is the port's."""
    if isinstance(exc, socket.gaierror) or exc.errno in _ADDRESS_FAULTS:
        return "health_check_bind_address"
    return "health_check_port"


class ServiceSettingError(SettingError):
    """A setting the runner could not use (e.g. the health port is taken); the wiring names its flag/variable."""


@dataclass(frozen=True, slots=True)
class StartupVerdict:
    """How the runner treats an error of the connector's start-up check (`Connector.validate`)."""

    fatal: bool
    """True: a configuration the connector cannot run with (a restart will not fix it), exit 1; False: log
    a warning and carry on (an upstream outage must not stop the service)."""
    message: str
    fields: Mapping[str, object] = field(default_factory=dict)
    """Extra log fields (never a secret)."""


class ServiceApp(Protocol):
    """What a connector gives the runner."""

    @property
    def build_name(self) -> str:
        """The name in the Hello's build info, e.g. `baton-datadog`."""
        ...

    @property
    def version(self) -> str: ...

    def open(self) -> Connector:
        """Build the connector and its upstream client; called once, after the health server listens."""
        ...

    def startup_verdict(self, error: Exception) -> StartupVerdict | None:
        """What `error` from `Connector.validate` means. None: a ConnectorError is a warning (CHECK_FAILED) and the
        service carries on; any other error is not the connector's and propagates."""
        ...

    async def aclose(self) -> None:
        """Close what `open` opened (called even when `open` was not)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceConfig:
    """The runner's settings, parsed and checked by the wiring (its BATON_* settings own the defaults)."""

    client_id: ClientId
    secret: ClientSecret
    endpoints: C1Endpoints
    api_host: str | None
    host_id: str
    """Empty: derived from the environment (`default_host_id`). Text UTF-8 cannot carry (a lone surrogate, as Python
    reads a byte that is not UTF-8) is escaped, `\\xff`, as in the derived one (`given_host_id`)."""
    root_certificates: bytes | None
    """PEM roots the gRPC channel trusts. None: the environment's, as the token request's are (`grpc_root_certificates`:
    SSL_CERT_FILE, else SSL_CERT_DIR's CAs, which httpx reads too, unless GRPC_DEFAULT_SSL_ROOTS_FILE_PATH is set),
    never grpc's bundled roots alone while the token request trusts SSL_CERT_FILE or SSL_CERT_DIR."""
    token_verify: ssl.SSLContext | None
    """The token request's trust. None: httpx's default, which reads SSL_CERT_FILE, else SSL_CERT_DIR."""
    token_timeout: float
    backoff_scale: float
    ready_window_seconds: float
    health_check: bool
    health_check_bind_address: str
    health_check_port: int
    temp_dir: Path | None
    skip_full_sync: bool
    sync_resource_types: Sequence[str]
    sync_options: SyncOptions
    provisioning: bool
    task_concurrency: int
    sync_interval: float
    """Seconds between periodic full syncs to `sync_file`; 0: none."""
    sync_file: Path
    shutdown_grace_seconds: float
    sync_file_resource_types: frozenset[str] = frozenset()
    """Every resource type id the connector's syncs may write (whichever this run syncs): an existing `sync_file`
    naming another is another connector's, refused at start rather than replaced by the first periodic sync. Empty:
    not checked."""
    on_token: Callable[[str], None] | None = None
    """Hears each ConductorOne access token fetched (the wiring's log redactor)."""
    on_ready: Callable[[], None] | None = None
    """Called once, on the loop, when the service is first ready (the first successful Hello)."""

    def __post_init__(self) -> None:
        """ServiceSettingError naming the first setting out of its bounds (connector/baton/runtime/bounds.py): the
        wiring checks them in its own words, and a wiring that did not got a runner that never polled or never
        waited between retries, with no error at all."""
        ranges: tuple[tuple[str, float, float, float], ...] = (
            ("task_concurrency", self.task_concurrency, 1, MAX_TASK_CONCURRENCY),
            ("backoff_scale", self.backoff_scale, MIN_BACKOFF_SCALE, 1),
            ("shutdown_grace_seconds", self.shutdown_grace_seconds, 0, MAX_SHUTDOWN_GRACE),
            ("sync_interval", self.sync_interval, 0, MAX_SYNC_INTERVAL),
            ("ready_window_seconds", self.ready_window_seconds, math.ulp(0.0), MAX_READY_WINDOW),
            ("token_timeout", self.token_timeout, math.ulp(0.0), MAX_TOKEN_TIMEOUT),
            ("health_check_port", self.health_check_port, 0, 65535),
            ("host_id", len(self.host_id), 0, MAX_HOST_ID_LENGTH),
        )
        for setting, value, low, high in ranges:
            if not low <= value <= high:  # NaN too
                what = f"{value} characters" if setting == "host_id" else repr(value)
                raise ServiceSettingError(setting, f"{what} is out of range [{low:g}, {high:g}]")


async def run_service(
    config: ServiceConfig, app: ServiceApp, metrics: Metrics, *, stop: asyncio.Event | None = None
) -> int:
    """Serve ConductorOne's tasks with `app`'s connector until SIGTERM or SIGINT, or until `stop` is set: a program
    embedding the runner stops it the way the kubelet does, with the same drain (running grants are waited for and
    reported). The signal handlers are the runner's while it runs only, and only on the main thread: elsewhere
    `stop` is required, and the only way it stops."""
    if stop is None and threading.current_thread() is not threading.main_thread():
        raise ValueError("run_service on a thread other than the main one takes a stop event: no signal can stop it")
    # What httpx and grpc read by themselves, deep in the first request, named before anything connects (a file read).
    unusable_variables = await asyncio.to_thread(environment_problems, os.environ)
    if unusable_variables:
        for unusable_variable in unusable_variables:
            log.error(unusable_variable)
        raise StartupRefused("; ".join(unusable_variables))
    problem = grpc_proxy_problem(config.endpoints)
    if problem is not None:
        # Refused for every connector, not by one wiring's preflight only: given the proxy, the channel went past it.
        log.error(problem)
        raise StartupRefused(problem)
    roots = config.root_certificates if config.root_certificates is not None else await _environment_roots()
    # Every sync would fail on it while the pod stayed ready: a setting to fix (a wiring may check it sooner).
    unusable = await asyncio.to_thread(temp_dir_problem, config.temp_dir)
    if unusable is not None:
        raise ServiceSettingError("c1z_temp_dir", unusable)
    if config.sync_interval:
        # So would every periodic sync's save, after the whole sync.
        unwritable = await problem_off_the_loop(
            functools.partial(output_file_problem, config.sync_file, config.temp_dir, config.sync_file_resource_types)
        )
        if unwritable is not None:
            raise ServiceSettingError("file", f"{config.sync_file}{unwritable}")
    # Working files that a killed earlier run left in the temp dir (issue 11 §8), and the temp file of a periodic
    # sync's save it was killed in, beside --file (a whole c1z's size): left to the first periodic sync, after the
    # Hello, a crash loop with ConductorOne unreachable kept one more per kill. A live process's stay.
    await sweep_leftovers(config.temp_dir, config.sync_file if config.sync_interval else None)
    stop = asyncio.Event() if stop is None else stop
    scheduler_ref: list[Scheduler] = []
    readiness = Readiness(
        min_window=config.ready_window_seconds,
        poll_interval=lambda: scheduler_ref[0].poll_interval if scheduler_ref else 0.0,
        stop=stop,
    )
    # The gauge is read from the same verdict as /readyz at each scrape, so an alert on it sees what the
    # kubelet sees (it was set at Hello and at draining only, and stayed 1 through any outage).
    metrics.ready.set_function(lambda: 1.0 if readiness.ready else 0.0)
    loop = asyncio.get_running_loop()
    # Signals reach the main thread only, and asyncio refuses a handler anywhere else (a RuntimeError at start): a
    # runner on a worker thread's loop leaves them to the program, which stops it through `stop`.
    watched = _SIGNALS if threading.current_thread() is threading.main_thread() else ()
    previous = {sig: signal.getsignal(sig) for sig in watched}
    for sig in watched:
        loop.add_signal_handler(sig, _on_signal, stop, readiness, sig)
    try:
        return await _serve(config, app, metrics, stop, readiness, scheduler_ref, roots)
    finally:
        # Left on the loop, they kept the signals once the runner had returned: a program closing down after it (or
        # running it again) never heard SIGTERM or Ctrl-C, which set an event nobody waited on. The handlers the
        # program had are put back (the CLI's SIGTERM stops like Ctrl-C; the default would end it without a word).
        for sig in watched:
            loop.remove_signal_handler(sig)
            if previous[sig] is not None:
                signal.signal(sig, previous[sig])


_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def _environment_roots() -> bytes | None:
    """The gRPC channel's roots from the environment (a file read, off the loop); StartupRefused when SSL_CERT_FILE
    names a file that cannot be read."""
    try:
        return await asyncio.to_thread(grpc_root_certificates, os.environ)
    except OSError as exc:
        refused = (
            f"environment SSL_CERT_FILE: cannot read {os.environ.get('SSL_CERT_FILE', '')!a}: {exc.strerror or exc}"
        )
        log.error(refused)
        raise StartupRefused(refused) from None


def _closing_line(unreported: int, **where: str) -> None:
    """The service's last line, after any stop: `stopped`, counting the tasks whose report never reached ConductorOne,
    at error when any is left (at info alone, after the exit code 0, a drain that gave up a revoke's report read as a
    clean one in the pod's last lines), and where it stopped when that was before any task could run (without a line,
    a pod stopped during its startup check ended on "shutdown requested")."""
    (log.error if unreported else log.info)("stopped", tasks_unreported=unreported, **where, **LIFECYCLE)


async def _serve(
    config: ServiceConfig,
    app: ServiceApp,
    metrics: Metrics,
    stop: asyncio.Event,
    readiness: Readiness,
    scheduler_ref: list[Scheduler],
    roots: bytes | None,
) -> int:
    scale = config.backoff_scale

    ops = (
        OpsServer(metrics, readiness, config.health_check_bind_address, config.health_check_port)
        if config.health_check
        else None
    )
    if ops is not None:
        try:
            await ops.start()
        except OSError as exc:  # port in use, address not on this host, a privileged port: the operator's to fix
            where = host_port(config.health_check_bind_address, config.health_check_port)
            raise ServiceSettingError(listen_fault(exc), f"cannot listen on {where}: {exc.strerror or exc}") from None
        # The bound port, not the setting: with --health-check-port 0 this line is how a caller finds it.
        log.info("health server listening", address=config.health_check_bind_address, port=ops.bound_port)

    def on_c1_call(result: RpcResult) -> None:
        metrics.c1_call(result)
        readiness.on_call(result)

    def on_token_fetch(fetch: TokenFetch) -> None:
        metrics.token_fetch(fetch)
        readiness.on_token_fetch(fetch)

    host_id = given_host_id(config.host_id) if config.host_id else default_host_id(os.environ)
    c1 = BatonServiceClient.from_credentials(
        config.client_id,
        config.secret,
        host_id=host_id,
        api_host=config.api_host,
        root_certificates=roots,
        proxy=grpc_proxy_from_env(config.endpoints),
        token_verify=config.token_verify,
        token_timeout=config.token_timeout,
        on_call=on_c1_call,
        on_token_fetch=on_token_fetch,
        on_token=config.on_token,
        upload_retry=UPLOAD_RETRY.scaled(scale),
    )
    readiness.token_asked_since = lambda: c1.tokens.asking_since  # both on time.monotonic
    try:
        connector = app.open()
        unsynced = unsynced_types_setting(config, connector)
        if unsynced is not None:
            raise unsynced  # before any connection: ConductorOne never hears of a service that cannot sync
        # The token and the gRPC connection the Hello needs are made while the connector checks its upstream.
        c1.warm_up()
        readiness.checking = True
        try:
            await check_connector(app, connector, stop)
        except Stopped:
            _closing_line(0, during="the startup check")
            return 0
        finally:
            readiness.checking = False
        build = build_info(app.build_name, app.version)

        async def hello(task_id: str = "", awaiting: Callable[[bool], None] | None = None) -> None:
            await c1.hello(connector.metadata(), task_id=task_id, build_info=build, awaiting=awaiting)

        try:
            hello_ok = await _hello_until_ok(hello, stop, HELLO_RETRY.scaled(scale))
        except Stopped:
            hello_ok = False
        if not hello_ok:  # stopped first
            _closing_line(0, during="the Hello")
            return 0
        readiness.hello_ok = True
        log.info("connected to ConductorOne", target=config.endpoints.grpc_target, host_id=host_id, **LIFECYCLE)
        if config.on_ready is not None:
            config.on_ready()

        full_sync = FullSyncHandler(
            c1,
            connector.syncers,
            FullSyncSettings(
                temp_dir=config.temp_dir,
                skip_full_sync=config.skip_full_sync,
                default_resource_type_ids=config.sync_resource_types,
                options=config.sync_options,
            ),
            on_synced=metrics.sync_succeeded,
            first_heartbeat_retry=FIRST_HEARTBEAT_RETRY.scaled(scale),
            stop=stop,
        )
        processor = TaskProcessor(
            c1,
            Handlers(connector, provisioning=config.provisioning),
            full_sync,
            hello,
            observer=metrics,
            finish_retry=FINISH_RETRY.scaled(scale),
        )

        async def periodic_sync() -> None:
            result = await sync_to_file(
                connector.syncers(),
                config.sync_file,
                config.sync_options,
                tmp_dir=config.temp_dir,
                known_types=config.sync_file_resource_types,
            )
            # Not in the sync series: they say what ConductorOne has (BatonDatadogSyncStale), and this file stays here.
            log.info(
                "periodic sync written",
                file=str(config.sync_file),
                sync_id=result.sync_id,
                seconds=round(result.seconds, 3),
            )

        scheduler = Scheduler(
            c1,
            processor,
            concurrency=config.task_concurrency,
            periodic=(config.sync_interval, periodic_sync) if config.sync_interval else None,
            poll_retry=POLL_RETRY.scaled(scale),
        )
        scheduler_ref.append(scheduler)
        await scheduler.run(stop)
        await scheduler.drain(config.shutdown_grace_seconds)
        _closing_line(processor.unreported)
        return 0
    finally:
        # In this order, each whatever the one before raised: a connector's failing `aclose` left the health port
        # bound in a program that embedded the runner.
        async with contextlib.AsyncExitStack() as closing:
            if ops is not None:
                closing.push_async_callback(ops.stop)
            closing.push_async_callback(app.aclose)
            closing.push_async_callback(c1.close)


MAX_TYPES_NAMED = 10
"""The most unknown resource types a refusal quotes (a setting may list hundreds)."""


def unsynced_types_setting(config: ServiceConfig, connector: Connector) -> ServiceSettingError | None:
    """The setting that names a resource type `connector` does not sync (types to sync, or the type of a resource to
    sync), or None. Every sync would fail on it ("names unknown resource types") while the pod stayed ready: a setting
    to fix, refused before the Hello, for any connector (a wiring may check it sooner, with its own words)."""
    known = sorted({syncer.resource_type().id for syncer in connector.syncers()})
    asked = {
        "sync_resource_types": [*config.sync_resource_types, *config.sync_options.resource_type_ids],
        "sync_resources": [target.resource_type for target in config.sync_options.targeted_resources],
    }
    for setting, type_ids in asked.items():
        unknown = sorted(set(type_ids) - set(known))
        if unknown:
            named = ", ".join(quoted_id(type_id) for type_id in unknown[:MAX_TYPES_NAMED])
            more = f" and {len(unknown) - MAX_TYPES_NAMED} more" if len(unknown) > MAX_TYPES_NAMED else ""
            return ServiceSettingError(
                setting, f"no resource type {named}{more} is synced by this connector (it syncs: {', '.join(known)})"
            )
    return None


def _on_signal(stop: asyncio.Event, readiness: Readiness, sig: signal.Signals) -> None:
    if not stop.is_set():
        log.info("shutdown requested", signal=sig.name, **LIFECYCLE)
    readiness.draining = True
    stop.set()


class StartupRefused(Exception):
    """A start-up answer no retry will change (keys the upstream rejects, credentials ConductorOne refuses): the
    service ends with exit 1. It is logged where it is decided; its message is the command's closing line."""


async def check_connector(
    app: ServiceApp, connector: Connector, stop: asyncio.Event, *, bound: float = STARTUP_CHECK_SECONDS
) -> None:
    """The connector's start-up check; StartupRefused when `app` calls its error fatal. A check still running after
    `bound` seconds is left (cancelled, a warning): the service carries on as after a failed one."""
    limit = asyncio.timeout(bound)
    check = asyncio.ensure_future(connector.validate())
    error: BaseException | None
    try:
        async with limit:
            await until_stopped(check, stop)
        return
    except Exception as exc:
        error = exc
        if isinstance(exc, TimeoutError) and limit.expired():
            if not check.done() or check.cancelled():
                log.warning("the connector's start-up check did not finish in time; continuing", seconds=bound)
                return
            # The check ended in the loop turn the bound ran out in: it did finish, and its verdict stands (a refused
            # key was logged as a check not finished in time, and the service ran on with keys the upstream refuses).
            error = check.exception()
    if error is None:
        return
    verdict = app.startup_verdict(error) if isinstance(error, Exception) else None
    if verdict is None and isinstance(error, ConnectorError):
        # The error `Connector.validate` is documented to raise, which the app did not call fatal: an upstream the
        # check could not use. It ended `run_service` with the exception, and a second connector's upstream outage at
        # start was a crash loop.
        verdict = StartupVerdict(False, CHECK_FAILED)
    if verdict is None:
        raise error
    if verdict.fatal:
        log.error(verdict.message, error=str(error), **verdict.fields)
        raise StartupRefused(f"{verdict.message}: {error}") from None
    log.warning(verdict.message, error=str(error), **verdict.fields)


CREDENTIALS_REFUSED = "ConductorOne refused the connector; check BATON_CLIENT_ID / BATON_CLIENT_SECRET"
API_REFUSED = (
    "ConductorOne refused the connector; its token endpoint accepted BATON_CLIENT_ID / BATON_CLIENT_SECRET and its API "
    "refused the Hello: check that BATON_C1_API_HOST, if set, names the client id's tenant, and that the client may "
    "run a connector"
)


def _refused_words(exc: C1FatalError) -> str:
    """What the operator is to fix, by who refused (§3.1's fatal codes, §1.6): the token endpoint refusing the client
    assertion is the client id or secret; the API refusing the Hello after its token endpoint issued a token is not (a
    token of a type or audience the API does not take, another tenant's API, a host that serves no BatonService), and
    naming only the secret sent the operator to rotate a secret that was right."""
    return CREDENTIALS_REFUSED if isinstance(exc, C1AuthError) else API_REFUSED


async def _hello_until_ok(hello: Callable[[], Awaitable[None]], stop: asyncio.Event, retry: RetryPolicy) -> bool:
    """Hello with backoff; False when stopped first, StartupRefused on a fatal answer."""
    backoff = Backoff(retry, bounded=False)
    while not stop.is_set():
        try:
            await until_stopped(hello(), stop)
            return True
        except C1FatalError as exc:
            refused = _refused_words(exc)
            log.error(refused, error=str(exc))
            raise StartupRefused(f"{refused}: {exc}") from None
        except C1TransientError as exc:
            delay = backoff.next_delay(exc.retry_after) or 0.0
            log.warning(
                "Hello failed; retrying", attempt=backoff.failures, retry_in_seconds=round(delay, 3), error=str(exc)
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
    return False
