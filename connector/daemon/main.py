"""Entry point of the connector proper: settings → logging → one-shot sync, one-shot action or service mode.

Exit codes: 0 done, 1 a runtime failure (Datadog or ConductorOne said no, a file could not be written),
2 a configuration mistake (a setting, a file or an environment variable the operator can fix), 128 + N
when stopped by signal N in one-shot mode. Every failure ends with one line on stderr naming its cause.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from connector.baton.errors import ConnectorError
from connector.baton.hostnames import host_port
from connector.baton.lifecycle import LIFECYCLE
from connector.baton.printable import printable
from connector.daemon import exiting, proclimits, startgc
from connector.daemon import logging as logs
from connector.daemon.settings import Settings, SettingsError, load_effective, redacted, require_service_mode
from connector.daemon.version import package_version
from connector.datadog.errors import DatadogError

EXIT_FAILED = 1
EXIT_BAD_SETTINGS = 2


def fail(message: str, code: int) -> int:
    """The one closing line of a failed run (redacted, made inert and of a bounded length: an upstream message may
    quote anything)."""
    print(f"baton-datadog: {printable(logs.bounded(logs.redact(message)))}", file=sys.stderr)
    return code


MAX_PROBLEMS_SHOWN = 20
"""The most refused settings named one line each, beyond the first problem of each setting; the rest are counted. A
list setting refuses each entry (9,000 unknown `--sync-resource-types` entries in a variable were 9,000 lines, 1.5 MB of
stderr; a --config file's list can hold 100,000): the first ones say what is wrong, and the count says how much. Every
setting refused is named all the same: cut at the first 20 lines, another setting's refusal after them was never shown,
and fixing the list still failed at the next start."""


def fail_settings(exc: SettingsError) -> int:
    """Refused settings: one closing line per problem (`fail` would show their line breaks as `\\n`, all on one
    line), those `shown_problems` keeps, exit 2."""
    for line in shown_problems(exc.problems):
        fail(line, EXIT_BAD_SETTINGS)
    return EXIT_BAD_SETTINGS


def shown_problems(problems: Sequence[str]) -> list[str]:
    """The problems a refusal shows: at most `MAX_PROBLEMS_SHOWN` and the first of each setting (of at most as many
    settings), then how many more there were. `config` shows what a run refuses with the same bound."""
    named: set[str] = set()
    shown: list[str] = []
    for problem in problems:
        setting = problem.split(": ", 1)[0]  # each problem names its setting first (`SettingsError`)
        first = setting not in named and len(named) < MAX_PROBLEMS_SHOWN  # bounded too: a file names any keys
        if len(shown) < MAX_PROBLEMS_SHOWN or first:
            shown.append(problem)
        named.add(setting)
    if (more := len(problems) - len(shown)) > 0:
        shown.append(f"settings: and {more:,} more problems of the settings above (not shown)")
    return shown


def start_warnings(settings: Settings, environ: Mapping[str, str] = os.environ) -> list[str]:
    """What a run warns of at start besides the settings' own warnings (`Effective.warnings`: an unknown variable, a
    near miss, a file others may read): a switch that does nothing in this run (`oneshot.idle_settings`), grpc's own
    trace let through (`logging.native_log_warning`), a umask given its owner's bits back, a TMPDIR passed over. One
    list for the run and `config`, which printed the last two only: `--sync-schedules` on us2.ddog-gov.com, or
    `--allow-org-api-key-deletion` without `--sync-secrets`, showed `true` in its table, nothing saying the run would
    ignore it."""
    from connector.baton.c1z.tempdir import passed_over
    from connector.daemon.oneshot import idle_settings, insecure_warning

    temp_dir = passed_over(environ) if settings.c1z_temp_dir is None else None
    process = (insecure_warning(settings), logs.native_log_warning(environ), proclimits.umask_warning(), temp_dir)
    return [*idle_settings(settings), *(warning for warning in process if warning)]


def run_connector(argv: Sequence[str]) -> int:
    try:
        effective = load_effective(argv)
        require_service_mode(effective.settings, effective.sources)
    except SettingsError as exc:
        return fail_settings(exc)
    if (short := proclimits.shortfall(service_mode=effective.settings.service_mode)) is not None:
        # At start, in one line: found by a sync, a low limit failed it in other words, or aborted the process mute.
        return fail(short, EXIT_BAD_SETTINGS)
    # Loaded once the settings are good: a refused setting is answered without the logging library and what the
    # environment checks load (httpx), as are --help and --version (tests/daemon/test_lazy_imports.py).
    import structlog

    from connector.daemon.preflight import check_environment

    log = structlog.get_logger(__name__)
    settings = effective.settings
    if not settings.service_mode:
        startgc.resume()  # a one-shot run's work starts here; the service's start goes on to its first ready
    for secret in (settings.api_key, settings.app_key, settings.client_secret):
        if secret is not None:
            logs.register_secret(secret.get_secret_value())
    logs.configure(settings.log_level, settings.resolved_log_format())
    for warning in [*effective.warnings, *start_warnings(settings)]:
        log.warning(warning)
    log.info("starting", **startup_summary(settings), **LIFECYCLE)
    try:
        check_environment(os.environ)
        return exiting.run(_run(settings))
    except SettingsError as exc:
        return fail_settings(exc)
    except OSError as exc:  # a full disk, a file or directory taken away mid-run: name the path and the cause
        # Before `Exception` (OSError is one); a socket error without a file name is not this case.
        if exc.filename is None or exc.strerror is None:
            return _failed(exc)
        return fail(f"{exc.filename}: {exc.strerror}", EXIT_FAILED)
    except Exception as exc:
        return _failed(exc)
    except KeyboardInterrupt:
        return 130


def _failed(exc: Exception) -> int:
    if not _refused_upstream(exc):
        raise exc  # a bug: the CLI boundary (connector/cli.py) makes it one line
    import structlog

    structlog.get_logger(__name__).error("failed", error=str(exc), error_type=type(exc).__name__)
    return fail(str(exc), EXIT_FAILED)


def _refused_upstream(exc: Exception) -> bool:
    """Datadog or ConductorOne said no (or could not be reached): a runtime failure with a message of our own."""
    if isinstance(exc, DatadogError | ConnectorError):
        return True
    # The ConductorOne client (and grpc with it) is imported only in service mode; not at every start-up.
    c1_errors = sys.modules.get("connector.baton.c1.errors")
    return c1_errors is not None and isinstance(exc, c1_errors.C1Error)


def startup_summary(settings: Settings) -> dict[str, object]:
    """The effective settings that decide what this run does, for the one start-up log line (no secrets)."""
    from connector.daemon.oneshot import datadog_options

    shown = redacted(settings)
    mode = "service" if settings.service_mode else "one-shot"
    action = settings.one_shot_action
    return {
        "version": package_version(),
        "mode": f"{mode} {action.replace('_', '-')}" if action else mode,
        "site": settings.site,
        "api_url": settings.api_url,
        "provisioning": settings.provisioning,
        "synced": {
            # As `config` shows them: a key pasted as a type is refused after this line, which must not print it.
            "resource_types": shown["sync_resource_types"] or "all",
            "secrets": settings.sync_secrets,
            # What is synced: none on a site without On-Call (idle_settings warns).
            "schedules": datadog_options(settings).schedules,
            # What is synced: the switch does nothing without --sync-secrets (idle_settings warns).
            "service_account_application_keys": datadog_options(settings).app_keys,
            "entitlements_and_grants": not settings.skip_entitlements_and_grants,
        },
        "concurrency": {"datadog": settings.datadog_concurrency, "tasks": settings.task_concurrency},
        "health_address": _health_address(settings),
        "file": shown["file"],
        "client_id": shown["client_id"] or None,
        "api_key": shown["api_key"],
        "app_key": shown["app_key"],
        "client_secret": shown["client_secret"],
    }


def _health_address(settings: Settings) -> str:
    if not (settings.service_mode and settings.health_check):
        return "off"
    return host_port(settings.health_check_bind_address, settings.health_check_port)


async def _run(settings: Settings) -> int:
    settings.check_not_placeholders()
    if not settings.one_shot_action:
        from connector.daemon.oneshot import check_resource_types

        check_resource_types(settings)  # a typo in a resource type is exit 2 before any request
    if settings.service_mode:
        from connector.baton.runtime.service import StartupRefused
        from connector.daemon.service import run_service_mode

        try:
            return await run_service_mode(settings)
        except StartupRefused as exc:  # logged where it was decided; this is the closing line one-shot has too
            return fail(str(exc), EXIT_FAILED)
    if settings.one_shot_action:
        from connector.daemon.actions import ActionFailed, run_action

        try:
            return await run_action(settings)
        except ActionFailed as exc:
            return fail(f"{settings.one_shot_action.replace('_', '-')} failed: {exc}", EXIT_FAILED)
    from connector.daemon.oneshot import run_one_shot

    return await run_one_shot(settings)
