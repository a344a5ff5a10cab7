"""Service mode: authenticate to ConductorOne, Hello, then run its tasks until SIGTERM.

Start-up order is chosen for Kubernetes: the health server comes first (liveness answers while ConductorOne
is still unreachable), readiness turns green only after a successful Hello, and on SIGTERM readiness goes
red before anything else stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import time
from collections.abc import Awaitable, Callable

import structlog

from connector.baton.c1 import (
    BatonServiceClient,
    C1FatalError,
    C1TransientError,
    CredentialError,
    grpc_proxy_from_env,
    parse_client_id,
    parse_client_secret,
    resolve_endpoints,
)
from connector.baton.c1.client import UPLOAD_RETRY, RpcResult
from connector.baton.c1.hostinfo import build_info, default_host_id
from connector.baton.retry import Backoff, RetryPolicy
from connector.baton.sync.to_file import sweep_stale, sync_to_file
from connector.baton.tasks.full_sync import FullSyncHandler, FullSyncSettings
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.processor import FINISH_RETRY, TaskProcessor
from connector.baton.runtime.http import OpsServer
from connector.baton.runtime.metrics import Metrics
from connector.daemon.network import outbound_trust
from connector.daemon.oneshot import datadog_client, datadog_options, sync_options
from connector.baton.runtime.scheduler import POLL_RETRY, Scheduler
from connector.daemon.settings import Settings, SettingsError, env, flag
from connector.baton.runtime.stopping import Stopped, until_stopped
from connector.daemon.version import package_version
from connector.datadog.connector import DatadogConnector
from connector.datadog.errors import DatadogError, InvalidCredentials

log = structlog.get_logger(__name__)

HELLO_RETRY = RetryPolicy(base_delay=1.0, max_delay=300.0)
"""Go's Hello backoff (1 s doubling to 5 min) with full jitter; unbounded: it ends on success, a fatal answer or
a stop."""
MIN_READY_WINDOW = 60.0
READY_WINDOW_POLLS = 3


class Readiness:
    """`/readyz`: ready after the first successful Hello, while ConductorOne was reached within the window.

    The window is max(`min_window`, 3 x the poll interval ConductorOne asked for); `min_window` is
    BATON_READY_WINDOW_SECONDS (60 s). Any successful ConductorOne RPC counts as contact (`contact`).
    """

    def __init__(
        self,
        *,
        min_window: float = MIN_READY_WINDOW,
        poll_interval: Callable[[], float] = lambda: 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hello_ok = False
        self.draining = False
        self._min_window = min_window
        self._poll_interval = poll_interval
        self._clock = clock
        self._last_contact: float | None = None

    def contact(self) -> None:
        self._last_contact = self._clock()

    def on_call(self, result: RpcResult) -> None:
        if result.code == "OK":
            self.contact()

    @property
    def window(self) -> float:
        return max(self._min_window, READY_WINDOW_POLLS * self._poll_interval())

    def __call__(self) -> tuple[bool, str]:
        if self.draining:
            return False, "draining"
        if not self.hello_ok:
            return False, "waiting for a successful Hello to ConductorOne"
        since = self._clock() - (self._last_contact if self._last_contact is not None else -math.inf)
        if since > self.window:
            return False, f"ConductorOne not reached for {since:.0f} s (window {self.window:.0f} s)"
        return True, ""


async def run_service(settings: Settings) -> int:
    assert settings.client_secret is not None  # required together with client_id by the settings model
    try:
        client_id = parse_client_id(settings.client_id)
        secret = parse_client_secret(settings.client_secret.get_secret_value())
        endpoints = resolve_endpoints(client_id, settings.c1_api_host or None)
    except CredentialError as exc:
        # `exc.setting` is `client-id`, `client-secret` or `BATON_C1_API_HOST`: name both the flag and the variable.
        name = exc.setting.removeprefix("BATON_").lower().replace("-", "_")
        raise SettingsError(f"setting {flag(name)} ({env(name)}): {exc.reason}") from None
    settings.require_datadog_keys()  # fail on a missing key before anything starts
    trust = outbound_trust(settings)  # and on an unusable CA bundle

    # Working files that a killed earlier run left in the temp dir (issue 11 §8); a live process's stay.
    await sweep_stale(settings.c1z_temp_dir)
    metrics = Metrics()
    scale = settings.backoff_scale
    scheduler_ref: list[Scheduler] = []
    readiness = Readiness(
        min_window=settings.ready_window_seconds,
        poll_interval=lambda: scheduler_ref[0].poll_interval if scheduler_ref else 0.0,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, stop, readiness, metrics, sig)

    ops = (
        OpsServer(metrics, readiness, settings.health_check_bind_address, settings.health_check_port)
        if settings.health_check
        else None
    )
    if ops is not None:
        try:
            await ops.start()
        except OSError as exc:  # port in use, address not on this host, a privileged port: the operator's to fix
            where = f"{settings.health_check_bind_address}:{settings.health_check_port}"
            raise SettingsError(
                f"setting {flag('health_check_port')} ({env('health_check_port')}): cannot listen on {where}: "
                f"{exc.strerror or exc}"
            ) from None
        # The bound port, not the setting: with --health-check-port 0 this line is how a caller finds it.
        log.info("health server listening", address=settings.health_check_bind_address, port=ops.bound_port)

    def on_c1_call(result: RpcResult) -> None:
        metrics.c1_call(result)
        readiness.on_call(result)

    host_id = settings.host_id or default_host_id(os.environ)
    datadog = datadog_client(settings, on_event=metrics.datadog_event, verify=trust.ssl_context)
    c1 = BatonServiceClient.from_credentials(
        client_id,
        secret,
        host_id=host_id,
        api_host=settings.c1_api_host or None,
        root_certificates=trust.grpc_roots,
        proxy=grpc_proxy_from_env(os.environ, endpoints),
        token_verify=trust.ssl_context,
        token_timeout=float(settings.http_timeout_seconds),
        on_call=on_c1_call,
        on_token_fetch=metrics.token_fetch,
        upload_retry=UPLOAD_RETRY.scaled(scale),
    )
    try:
        connector = DatadogConnector(datadog, datadog_options(settings))
        try:
            if not await _check_datadog(connector, stop):
                return 1
        except Stopped:
            return 0
        build = build_info("baton-datadog", package_version())

        async def hello(task_id: str = "") -> None:
            await c1.hello(connector.metadata(), task_id=task_id, build_info=build)

        try:
            hello_ok = await _hello_until_ok(hello, stop, HELLO_RETRY.scaled(scale))
        except Stopped:
            hello_ok = False
        if not hello_ok:
            return 0 if stop.is_set() else 1
        readiness.hello_ok = True
        metrics.ready.set(1)
        log.info("connected to ConductorOne", target=endpoints.grpc_target, host_id=host_id)

        full_sync = FullSyncHandler(
            c1,
            connector.syncers,
            FullSyncSettings(
                temp_dir=settings.c1z_temp_dir,
                skip_full_sync=settings.skip_full_sync,
                default_resource_type_ids=settings.sync_resource_types,
                options=sync_options(settings),
            ),
            on_synced=metrics.sync_succeeded,
        )
        processor = TaskProcessor(
            c1,
            Handlers(connector, provisioning=settings.provisioning),
            full_sync,
            hello,
            observer=metrics,
            finish_retry=FINISH_RETRY.scaled(scale),
        )

        async def periodic_sync() -> None:
            result = await sync_to_file(
                connector.syncers(), settings.file, sync_options(settings), tmp_dir=settings.c1z_temp_dir
            )
            metrics.sync_succeeded(result)
            log.info("periodic sync written", file=str(settings.file), sync_id=result.sync_id)

        scheduler = Scheduler(
            c1,
            processor,
            concurrency=settings.task_concurrency,
            periodic=(float(settings.sync_interval), periodic_sync) if settings.sync_interval else None,
            poll_retry=POLL_RETRY.scaled(scale),
        )
        scheduler_ref.append(scheduler)
        await scheduler.run(stop)
        await scheduler.drain(settings.shutdown_grace_seconds)
        log.info("stopped")
        return 0
    finally:
        await c1.close()
        await datadog.aclose()
        if ops is not None:
            await ops.stop()


def _on_signal(stop: asyncio.Event, readiness: Readiness, metrics: Metrics, sig: signal.Signals) -> None:
    if not stop.is_set():
        log.info("shutdown requested", signal=sig.name)
    readiness.draining = True
    metrics.ready.set(0)
    stop.set()


async def _check_datadog(connector: DatadogConnector, stop: asyncio.Event) -> bool:
    """Rejected keys are fatal (a restart will not fix them); a Datadog outage is not."""
    try:
        await until_stopped(connector.validate(), stop)
    except InvalidCredentials as exc:
        log.error("Datadog rejected a key; fix BATON_API_KEY / BATON_APP_KEY", error=str(exc), key=exc.key)
        return False
    except DatadogError as exc:
        log.warning("could not validate the Datadog keys yet; continuing", error=str(exc))
    return True


async def _hello_until_ok(hello: Callable[[], Awaitable[None]], stop: asyncio.Event, retry: RetryPolicy) -> bool:
    """Hello with backoff; False on a fatal answer (exit non-zero) or when stopped first."""
    backoff = Backoff(retry, bounded=False)
    while not stop.is_set():
        try:
            await until_stopped(hello(), stop)
            return True
        except C1FatalError as exc:
            log.error("ConductorOne refused the connector; check BATON_CLIENT_ID / BATON_CLIENT_SECRET", error=str(exc))
            return False
        except C1TransientError as exc:
            delay = backoff.next_delay() or 0.0
            log.warning(
                "Hello failed; retrying", attempt=backoff.failures, retry_in_seconds=round(delay, 3), error=str(exc)
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
    return False
