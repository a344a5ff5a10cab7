"""One-shot mode: validate both Datadog keys, sync everything into `--file`, print a summary."""

from __future__ import annotations

import ssl
import sys
import time

import structlog

from connector.baton.ids import parse_resource_ref
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from connector.daemon.network import outbound_trust
from connector.daemon.progress import Progress, summary_table
from connector.daemon.settings import Settings
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions
from connector.datadog.sites import is_insecure
from connector.datadog.stats import EventHook

log = structlog.get_logger(__name__)


def datadog_client(
    settings: Settings, on_event: EventHook | None = None, verify: ssl.SSLContext | None = None
) -> DatadogClient:
    api_key, app_key = settings.require_datadog_keys()
    if settings.base_url and is_insecure(settings.base_url):
        log.warning(
            "INSECURE: the Datadog API and application keys are sent unencrypted over plain http",
            base_url=settings.base_url,
            setting="--insecure-base-url (BATON_INSECURE_BASE_URL)",
        )
    if verify is None:
        verify = outbound_trust(settings).ssl_context
    return DatadogClient(
        api_key=api_key,
        app_key=app_key,
        site=settings.site,
        base_url=settings.base_url or None,
        allow_insecure_http=settings.insecure_base_url,
        timeout=float(settings.http_timeout_seconds),
        max_concurrency=settings.datadog_concurrency,
        on_event=on_event,
        verify=verify,
    )


def datadog_options(settings: Settings) -> DatadogOptions:
    return DatadogOptions(
        site=settings.site,
        sync_secrets=settings.sync_secrets,
        sync_schedules=settings.sync_schedules,
        sync_service_account_application_keys=settings.sync_service_account_application_keys,
        allow_org_api_key_deletion=settings.allow_org_api_key_deletion,
        provisioning=settings.provisioning,
    )


def sync_options(settings: Settings) -> SyncOptions:
    return SyncOptions(
        skip_entitlements_and_grants=settings.skip_entitlements_and_grants,
        skip_grants=settings.skip_grants,
        resource_type_ids=settings.sync_resource_types,
        targeted_resources=[
            resource_pb2.ResourceId(resource_type=rtype, resource=rid)
            for rtype, rid in map(parse_resource_ref, settings.sync_resources)
        ],
        concurrency=settings.datadog_concurrency,
    )


async def run_one_shot(settings: Settings) -> int:
    started = time.monotonic()
    async with datadog_client(settings) as client:
        connector = DatadogConnector(client, datadog_options(settings))
        await connector.validate()
        log.info("Datadog keys valid; syncing", site=settings.site, file=str(settings.file))
        progress = Progress(sys.stderr, live=sys.stderr.isatty())
        try:
            result = await sync_to_file(
                connector.syncers(),
                settings.file,
                sync_options(settings),
                tmp_dir=settings.c1z_temp_dir,
                observer=progress,
            )
        finally:
            progress.finish()
        stats = client.stats
        print(
            summary_table(
                result.stats,
                requests=stats.total_requests,
                rate_limit_waits=stats.rate_limit_waits,
                waited=stats.rate_limit_wait_seconds,
                seconds=time.monotonic() - started,
            )
        )
        for warning in result.warnings:
            log.warning("sync warning", detail=warning)
    log.info("wrote sync file", file=str(settings.file), sync_id=result.sync_id)
    return 0
