"""Entry point of the connector proper: settings → logging → one-shot sync or service mode."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

import structlog

from connector.baton.errors import ConnectorError
from connector.daemon import logging as logs
from connector.daemon.settings import Settings, SettingsError, load
from connector.datadog.errors import DatadogError

log = structlog.get_logger(__name__)

EXIT_FAILED = 1
EXIT_BAD_SETTINGS = 2


def run_connector(argv: Sequence[str]) -> int:
    try:
        settings = load(argv)
    except SettingsError as exc:
        print(f"baton-datadog: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    for secret in (settings.api_key, settings.app_key, settings.client_secret):
        if secret is not None:
            logs.register_secret(secret.get_secret_value())
    logs.configure(settings.log_level, settings.resolved_log_format())
    try:
        return asyncio.run(_run(settings))
    except SettingsError as exc:
        print(f"baton-datadog: {logs.redact(str(exc))}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    except (DatadogError, ConnectorError) as exc:
        log.error("failed", error=str(exc), error_type=type(exc).__name__)
        print(f"baton-datadog: {logs.redact(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


async def _run(settings: Settings) -> int:
    if settings.service_mode:
        from connector.daemon.service import run_service

        return await run_service(settings)
    from connector.daemon.oneshot import run_one_shot

    return await run_one_shot(settings)
