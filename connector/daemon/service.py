"""Service mode for Datadog: the settings checked, then the Datadog connector and its metrics handed to the
baton service runner (connector/baton/runtime/service.py), which does the rest."""

from __future__ import annotations

import asyncio
import dataclasses
import functools

import structlog

from connector.baton.c1 import (
    C1Endpoints,
    ClientId,
    ClientSecret,
    CredentialError,
    parse_client_id,
    parse_client_secret,
    resolve_endpoints,
)
from connector.baton.connector import Connector
from connector.baton.runtime import service as runner
from connector.baton.runtime.service import ServiceConfig, ServiceSettingError, StartupVerdict
from connector.baton.tasks.debuglog import TASK_LOGS
from connector.daemon import logging as logs
from connector.daemon import startgc
from connector.daemon.metrics import DatadogApiMetrics, daemon_metrics
from connector.daemon.network import Trust, outbound_trust
from connector.daemon.oneshot import datadog_client, datadog_options, keep_the_outcome, sync_options
from connector.daemon.preflight import check_grpc_proxy
from connector.daemon.settings import Settings, SettingsError, named
from connector.daemon.version import package_version
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector
from connector.datadog.errors import DatadogError, InvalidCredentials
from connector.datadog.resources import types
from connector.datadog.stats import ClientEvent, EventHook, RateLimitWait, RequestDone

log = structlog.get_logger(__name__)

_EVENT_LINES = {RequestDone: "datadog request", RateLimitWait: "datadog rate-limit wait"}


def api_events(metrics: DatadogApiMetrics | None) -> EventHook:
    """The Datadog client's events: counted, and while a task ConductorOne debugs runs (§3.8), one debug line each
    (every HTTP attempt with its status and time, every wait, every retry) for that task's debug log. Not built
    otherwise: a request's own cost was cut to a few microseconds (docs/benchmarks.md), a debug line is as much."""

    def hook(event: ClientEvent) -> None:
        if metrics is not None:
            metrics(event)
        if TASK_LOGS.active:
            log.debug(_EVENT_LINES.get(type(event), "datadog retry scheduled"), **dataclasses.asdict(event))

    return hook


class DatadogService:
    """The Datadog connector as the service runner sees it (`ServiceApp`)."""

    build_name = "baton-datadog"

    def __init__(self, settings: Settings, trust: Trust, api_metrics: DatadogApiMetrics | None = None) -> None:
        self._settings = settings
        self._trust = trust
        self._api_metrics = api_metrics
        self._client: DatadogClient | None = None

    @property
    def version(self) -> str:
        return package_version()

    def open(self) -> Connector:
        self._client = datadog_client(
            self._settings, on_event=api_events(self._api_metrics), verify=self._trust.ssl_context
        )
        return DatadogConnector(self._client, datadog_options(self._settings))

    def startup_verdict(self, error: Exception) -> StartupVerdict | None:
        """Rejected keys are fatal (a restart will not fix them); a Datadog outage is not."""
        if isinstance(error, InvalidCredentials):
            return StartupVerdict(True, "Datadog rejected a key; fix BATON_API_KEY / BATON_APP_KEY", {"key": error.key})
        if isinstance(error, DatadogError):
            return StartupVerdict(False, "could not validate the Datadog keys yet; continuing")
        return None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def credentials(settings: Settings) -> tuple[ClientId, ClientSecret, C1Endpoints]:
    """The ConductorOne client id, secret and endpoints the settings give, or a SettingsError naming the one that is
    unusable. Reads nothing but the settings (`config` checks them with it)."""
    assert settings.client_secret is not None  # required together with client_id by the settings model
    try:
        client_id = parse_client_id(settings.client_id)
        secret = parse_client_secret(settings.client_secret.get_secret_value())
        endpoints = resolve_endpoints(client_id, settings.c1_api_host or None)
    except CredentialError as exc:
        # `exc.setting` is `client-id`, `client-secret` or `BATON_C1_API_HOST`: name both the flag and the variable.
        name = exc.setting.removeprefix("BATON_").lower().replace("-", "_")
        raise SettingsError(f"{named(name)}: {exc.reason}") from None
    return client_id, secret, endpoints


async def run_service_mode(settings: Settings) -> int:
    startgc.bound_pause()
    client_id, secret, endpoints = credentials(settings)
    settings.require_datadog_keys()  # fail on a missing key before anything starts
    # --c1z-temp-dir and the periodic sync's --file are checked by the runner, before anything connects, and refused
    # as a ServiceSettingError worded below as one-shot words them. Not here too: checking an existing --file
    # decompresses all of it, and every start read a large org's c1z twice for one answer.
    check_grpc_proxy(endpoints)
    # And on an unusable CA bundle; reading it and loading the trust store is file IO, kept off the loop.
    trust = await asyncio.to_thread(outbound_trust, settings)

    try:
        # In the try: the config refuses a setting out of the runner's bounds (`ServiceSettingError`) when it is made.
        config = ServiceConfig(
            client_id=client_id,
            secret=secret,
            endpoints=endpoints,
            api_host=settings.c1_api_host or None,
            host_id=settings.host_id,
            root_certificates=trust.grpc_roots,
            token_verify=trust.ssl_context,
            token_timeout=float(settings.http_timeout_seconds),
            backoff_scale=settings.backoff_scale,
            ready_window_seconds=settings.ready_window_seconds,
            health_check=settings.health_check,
            health_check_bind_address=settings.health_check_bind_address,
            health_check_port=settings.health_check_port,
            temp_dir=settings.c1z_temp_dir,
            skip_full_sync=settings.skip_full_sync,
            sync_resource_types=settings.sync_resource_types,
            sync_options=sync_options(settings),
            provisioning=settings.provisioning,
            task_concurrency=settings.task_concurrency,
            sync_interval=float(settings.sync_interval),
            sync_file=settings.file,
            shutdown_grace_seconds=settings.shutdown_grace_seconds,
            sync_file_resource_types=types.TYPE_IDS,
            on_token=functools.partial(logs.register_rotating_secret, "c1_access_token"),
            on_ready=startgc.resume_after_ready,
        )
        metrics, api_metrics = daemon_metrics()
        # The runner puts the program's signal handlers back as it returns, its outcome decided (a drain's `stopped`,
        # or a refusal): a second SIGTERM or Ctrl-C in asyncio's teardown met the CLI's "stop while starting" (exit
        # 143, "interrupted by SIGTERM while starting; nothing was written" as the pod's last line, after a clean drain)
        # or the default (-15 without a word). Not when the run was itself stopped (cancelled while starting, by the
        # CLI's own handler): that stop is under way, and a further signal escalates as it documents.
        try:
            outcome = await runner.run_service(config, DatadogService(settings, trust, api_metrics), metrics)
        except Exception:
            keep_the_outcome(asyncio.get_running_loop())
            raise
        keep_the_outcome(asyncio.get_running_loop())
        return outcome
    except ServiceSettingError as exc:
        raise SettingsError(f"{named(exc.setting)}: {exc.reason}") from None
