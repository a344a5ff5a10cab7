"""One-shot mode: check `--file`, validate both Datadog keys, sync everything into it, print a summary.

SIGTERM (what `timeout`, systemd and Kubernetes send) is handled like Ctrl-C: the unfinished sync is saved so
the next run resumes it, the process says so and exits 128 + the signal number (143; 130 for SIGINT).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import signal
import ssl
import stat
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog
from pydantic import SecretStr

from connector.baton.c1z.workfiles import temp_dir_look_problem, temp_dir_problem
from connector.baton.connector import ListedAsChildren, ResourceGetter, ResourceSyncer
from connector.baton.ids import parse_resource_ref
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.printable import printable
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import output_file_problem, output_path_problem, problem_off_the_loop, sync_to_file
from connector.daemon import logging as logs
from connector.daemon import outcome
from connector.daemon.main import fail
from connector.daemon.network import outbound_trust
from connector.daemon.progress import Progress, summary_table
from connector.daemon.settings import Settings, SettingsError, env, flag, named
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions
from connector.datadog.idrules import UNUSABLE_ID, holds_whitespace, is_email_address, is_usable_id
from connector.datadog.keyshape import KEY_SHAPE, holds_key_shape, shown_value
from connector.datadog.resources import types
from connector.datadog.sites import is_insecure
from connector.datadog.stats import EventHook

log = structlog.get_logger(__name__)


def insecure_warning(settings: Settings) -> str | None:
    """The run's start-up warning that the keys go unencrypted (a plain-http --base-url off loopback, allowed by
    --insecure-base-url), or None: one of `main.start_warnings`, so `config` says it too."""
    if settings.base_url and is_insecure(settings.base_url):
        return (
            f"INSECURE: the Datadog API and application keys are sent unencrypted over plain http to "
            f"{settings.base_url} (--insecure-base-url, BATON_INSECURE_BASE_URL)"
        )
    return None


def datadog_client(
    settings: Settings, on_event: EventHook | None = None, *, verify: ssl.SSLContext | None
) -> DatadogClient:
    """The Datadog client `settings` describe, trusting `verify` (`outbound_trust`'s context, read off the loop; None:
    httpx's default)."""
    return _made_client(settings, _usable_keys(settings), on_event, verify)


async def open_datadog_client(settings: Settings) -> DatadogClient:
    """A one-shot run's Datadog client, made on a worker thread with its trust: a CA bundle file read, or the system's
    trust store loaded, is file IO (and milliseconds of CPU) that stalled the event loop, and so is the proxy's trust
    the client builds for an https:// HTTPS_PROXY (the system store and certifi's bundle, ~120 ms, review r1704)."""
    keys = _usable_keys(settings)  # refused before the trust is read, as ever

    def made() -> DatadogClient:
        return _made_client(settings, keys, None, outbound_trust(settings).ssl_context)

    return await asyncio.to_thread(made)


def _usable_keys(settings: Settings) -> tuple[SecretStr, SecretStr]:
    # The plain-http warning is the run's at start (`insecure_warning`, one of `main.start_warnings`), not here.
    return settings.require_datadog_keys()


def _made_client(
    settings: Settings, keys: tuple[SecretStr, SecretStr], on_event: EventHook | None, verify: ssl.SSLContext | None
) -> DatadogClient:
    api_key, app_key = keys
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


def idle_settings(settings: Settings) -> list[str]:
    """A warning for each switch that is on but does nothing without another (the Go connector's flags depend on
    each other the same way): the start-up line and `config` showed it on while nothing of it happened."""
    options = datadog_options(settings)
    idle = []
    if settings.sync_service_account_application_keys and not options.app_keys:
        idle.append(("sync_service_account_application_keys", "--sync-secrets"))
    if settings.allow_org_api_key_deletion and not options.org_key_deletion:
        # Only what is missing: with -p given, "without --sync-secrets and --provisioning" sent the user to check -p.
        missing = [
            name
            for name, on in (("--sync-secrets", settings.sync_secrets), ("--provisioning", settings.provisioning))
            if not on
        ]
        idle.append(("allow_org_api_key_deletion", " and ".join(missing)))
    if settings.insecure_base_url and not (settings.base_url and is_insecure(settings.base_url)):
        # It allows plain http for --base-url, and nothing else: it does not turn certificate checks off (what
        # "insecure" means to curl and many SDKs), which --ca-bundle is for.
        idle.append(("insecure_base_url", "a plain-http --base-url off loopback (it never skips TLS verification)"))
    if not settings.service_mode:
        # `--sync-interval 3600 --file sync.c1z` without a client id made one sync and exited 0, silently.
        idle += [
            (name, "--client-id (service mode)")
            for name in _SERVICE_ONLY
            if getattr(settings, name) != Settings.model_fields[name].default
        ]
    lines = [f"{named(name)} does nothing without {needs}; it is ignored" for name, needs in idle]
    if settings.sync_schedules and options.site_lacks_on_call:
        # The start-up line showed schedules synced, and none were, without a word.
        lines.append(
            f"{named('sync_schedules')} does nothing on site {settings.site}, "
            "which has no Datadog On-Call; it is ignored"
        )
    if action := settings.one_shot_action:
        # A one-shot action changes Datadog and exits: it syncs nothing, so `--file` got no c1z, silently.
        lines += [
            f"{named(name)} does nothing with {flag(action)}, which syncs nothing; it is ignored"
            for name in _SYNC_ONLY
            if getattr(settings, name) != Settings.model_fields[name].default
        ]
    return lines


# What only service mode reads (the health server's settings aside: the image sets them, for either mode).
_SERVICE_ONLY = (
    "sync_interval",
    "skip_full_sync",
    "task_concurrency",
    "host_id",
    "c1_api_host",
    "shutdown_grace_seconds",
    "backoff_scale",
    "ready_window_seconds",
)


# What only a sync reads (a one-shot action runs none).
_SYNC_ONLY = ("file", "sync_resource_types", "sync_resources", "skip_entitlements_and_grants", "skip_grants")


# The settings that add resource types to a sync, for the hint when one is asked for without its setting.
_TYPE_SWITCHES = ("sync_schedules", "sync_secrets", "sync_service_account_application_keys")


def check_resource_types(settings: Settings) -> None:
    """Refuse a `--sync-resource-types` or `--sync-resources` type this connector does not sync with these settings,
    naming the setting, before any request (the sync engine would only find it after the key check)."""
    options = datadog_options(settings)
    available = _type_ids(options)
    problems = []  # every entry refused is named, not only the first
    # An entry holding a key, anywhere (the key an operator holds, pasted where a type or an id goes, as the one-shot
    # actions refuse it): sent, it was echoed in the request's URL, and Datadog's 404 put it in the sync's warning and
    # the log; as a type, the lines below quoted it. Named once, and judged no further.
    problems += [
        f"{named(name)}: an entry holds {KEY_SHAPE}, not of a resource type or an id; it is not "
        "sent to Datadog and not shown"
        for name in ("sync_resource_types", "sync_resources")
        for entry in getattr(settings, name)
        if holds_key_shape(entry)
    ]
    wanted = [type_id for type_id in settings.sync_resource_types if not holds_key_shape(type_id)]
    refs = [ref for ref in settings.sync_resources if not holds_key_shape(ref)]
    asked = [("sync_resource_types", type_id) for type_id in wanted]
    asked += [("sync_resources", parse_resource_ref(ref)[0]) for ref in refs]
    for name, type_id in asked:
        if type_id in available:
            continue
        needs = [switch for switch in _TYPE_SWITCHES if type_id in _type_ids(_with(options, switch))]
        if type_id == types.SCHEDULE.id and options.site_lacks_on_call:
            # Not "not a resource type", nor "needs --sync-schedules" when it is set: the site is the reason.
            why = f"is not synced on site {settings.site}, which has no Datadog On-Call"
        elif needs:
            why = f"is synced only with {flag(needs[0])}" + (" and --sync-secrets" if needs[0].endswith("keys") else "")
        else:
            why = "is not a resource type of this connector"
        problems.append(f"{named(name)}: {shown_value(type_id)} {why} (this run syncs: {', '.join(available)})")
    # Keys are listed, never fetched one at a time: such a target failed the sync after the key check, naming no
    # setting (the engine's "does not support targeted sync"), and left the failed run in --file.
    syncers = _syncers(options)
    targeted = [s.resource_type().id for s in syncers if isinstance(s, ResourceGetter)]
    owners = {s.resource_type().id: s.listed_under() for s in syncers if isinstance(s, ListedAsChildren)}
    for ref in refs:
        type_id, object_id = parse_resource_ref(ref)
        if not is_usable_id(object_id) or holds_whitespace(object_id):
            # A dot segment or an over-long id failed the sync after the key check (exit 1, no setting named); a
            # control character or whitespace (`role: <uuid>`, `role:<uuid> Admins`) was answered 404, and the run
            # finished (exit 0) with an empty partial sync.
            problems.append(
                f"{named('sync_resources')}: {shown_value(ref)} names no Datadog "
                f"object (its id: {UNUSABLE_ID}; or whitespace or an invisible character)"
            )
        elif is_email_address(object_id):
            # `user:jane@example.com`: answered 404, and the run finished (exit 0) with an empty partial sync.
            problems.append(
                f"{named('sync_resources')}: {shown_value(ref)} names no Datadog "
                "object (its id is an email address; a user's id is a UUID: `baton-datadog inspect --resources user` "
                "lists them with their names)"
            )
        elif type_id in available and type_id not in targeted:
            owner = (
                f", a {shown_value(owners[type_id])} target those it holds" if owners.get(type_id) in targeted else ""
            )
            problems.append(
                f"{named('sync_resources')}: {shown_value(ref)} is a {shown_value(type_id)}, "
                f"which cannot be "
                f"synced one by one (targeted: {', '.join(targeted)}); {flag('sync_resource_types')} {type_id} syncs "
                f"every one{owner}"
            )
        elif ":" in object_id:
            # No Datadog id holds ':' (UUIDs; On-Call's short ids), and ConductorOne's ids join on it: an entitlement
            # or grant id pasted as a target (`role:<uuid>:member`, from `inspect`) was read as the id `<uuid>:member`,
            # answered 404, and the run finished (exit 0) with an empty partial sync. The Go SDK's baton id form
            # (`bid:r:role/<uuid>:member`) names the same id, and is judged alike. After the type's own
            # refusal: a token's handle (`sat:...`) holds one, and its type cannot be targeted at all.
            problems.append(
                f"{named('sync_resources')}: {shown_value(ref)} names no Datadog "
                f"object (its id holds ':', which no Datadog id does: an entitlement or grant id pasted? give "
                f"{printable(type_id[:100])}:<id>, the id alone)"
            )
    for ref in refs if wanted else ():
        type_id = parse_resource_ref(ref)[0]
        if type_id not in wanted and type_id in available:
            # Both set and at odds: the partial sync would list only `wanted` types and fail on this target.
            problems.append(
                f"{named('sync_resources')}: {shown_value(ref)} is a {shown_value(type_id)}, which "
                f"{flag('sync_resource_types')} ({env('sync_resource_types')}) leaves out (it names: {', '.join(wanted)})"
            )
    if problems:
        raise SettingsError(*problems)


def _with(options: DatadogOptions, switch: str) -> DatadogOptions:
    # Service-account keys come with --sync-secrets only; schedules need nothing else.
    changes: dict[str, Any] = {"sync_secrets": True} if switch != "sync_schedules" else {}
    return dataclasses.replace(options, **{**changes, switch: True})


def _syncers(options: DatadogOptions) -> Sequence[ResourceSyncer]:
    # Built without a client: only what they are (their static resource type, their interfaces) is read.
    return DatadogConnector(None, options).syncers()  # type: ignore[arg-type]


def _type_ids(options: DatadogOptions) -> list[str]:
    return [s.resource_type().id for s in _syncers(options)]


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
        # The Datadog site decides whose data a sync holds: an unfinished sync of another site is not resumed.
        # No org identity: none is known without a secret (a hash of a key stored in the file would be one) or
        # an extra request; one --file per org (docs/c1z.md, "Resuming").
        scope={"site": settings.site},
    )


def check_temp_dir(tmp_dir: Path | None) -> None:
    """Refuse a --c1z-temp-dir the sync could not make its working files in, before anything starts (blocking: off
    the event loop). A directory is tried as the sync will use it: one that is read-only, not ours to write, or on
    a file system without locks failed only once the sync began, after the key check, as a runtime failure (exit
    1) that did not name the setting."""
    _refuse_temp_dir(temp_dir_problem(tmp_dir))


def check_output_file(path: Path, tmp_dir: Path | None, stop: threading.Event | None = None) -> None:
    """Refuse an output file the sync could not write or would clobber, before any Datadog request.

    Blocking (it may open an existing c1z): run it off the event loop (`problem_off_the_loop`).
    """
    check_temp_dir(tmp_dir)
    _refuse_file(path, output_file_problem(path, tmp_dir, types.TYPE_IDS, stop))


def check_temp_dir_by_looking(tmp_dir: Path | None) -> None:
    """`check_temp_dir` without making anything there (`temp_dir_look_problem`): for `config`, which may write
    nothing. The same words."""
    _refuse_temp_dir(temp_dir_look_problem(tmp_dir))


def check_output_file_by_looking(path: Path) -> None:
    """`check_output_file`'s checks of the file itself that only look (`output_path_problem`): for `config`, which
    may write nothing. The same words."""
    _refuse_file(path, output_path_problem(path))


def _refuse_temp_dir(problem: str | None) -> None:
    if problem is not None:
        raise SettingsError(f"{named('c1z_temp_dir')}: {problem}")


def _refuse_file(path: Path, problem: str | None) -> None:
    if problem is not None:
        raise SettingsError(f"{named('file')}: {path}{problem}")


async def run_one_shot(settings: Settings) -> int:
    """The sync, interruptible: SIGTERM or SIGINT saves the unfinished sync and returns 143 or 130."""
    loop = asyncio.get_running_loop()
    received = cancel_on_signal("the sync")
    syncing = asyncio.Event()
    progress = Progress(sys.stderr, live=logs.terminal(sys.stderr))
    before: tuple[int, int, int] | None = None  # read below, in the try: a signal may come while it is read
    try:
        before = await asyncio.to_thread(_saved_version, settings.file)
        return await _sync(settings, syncing, progress)
    except asyncio.CancelledError:
        if not received:
            raise
        sig = received[0]
        if not syncing.is_set():
            message = f"interrupted by {sig.name} before the sync started; nothing was written"
        elif progress.finished:
            # The signal came while the finished sync was being saved: the save was completed first.
            message = f"interrupted by {sig.name} as the sync finished: the finished sync was saved to {settings.file}"
        elif await asyncio.to_thread(_saved_version, settings.file) not in (None, before):
            message = (
                f"interrupted by {sig.name}: the unfinished sync was saved to {settings.file}; "
                "run again with the same settings to resume it"
            )
        else:
            # Nothing stored yet, or the save failed (logged with its cause): the file is not this sync.
            kept = f"{settings.file} is left as it was" if before is not None else "nothing was written"
            message = f"interrupted by {sig.name}: the unfinished sync was not saved; {kept}"
        log.warning(message, signal=sig.name, file=str(settings.file))
        # The closing line (`main.fail`): inert and redacted. It names `--file` as given, which may hold any character
        # and any secret of the run (printed past the redactor, a key named in the file's name was shown whole).
        return fail(message, 128 + int(sig))
    finally:
        keep_the_outcome(loop)


def cancel_on_signal(what: str) -> list[signal.Signals]:
    """Make the first SIGTERM or SIGINT cancel the running task (a one-shot sync or action), which then says what the
    signal left behind; returns the list the signal is recorded in (empty: the cancellation came from elsewhere).
    Call `keep_the_outcome` once the outcome is decided."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    received: list[signal.Signals] = []

    def interrupted(sig: signal.Signals) -> None:
        if not received:
            log.warning(f"interrupted; stopping {what}", signal=sig.name)
            received.append(sig)
            main.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, interrupted, sig)
    return received


def keep_the_outcome(loop: asyncio.AbstractEventLoop) -> None:
    """At the end of a run (a one-shot sync or action, the service), its outcome is decided (the file written or not,
    the change made or not, the line printed, the service's drain over): a signal from here until the loop closes
    (which restores the defaults) must not change it. Removed instead, the handlers went back to the defaults at once,
    and in asyncio's teardown a SIGTERM killed the process without a word (-15, after "wrote sync file") and a SIGINT
    ended it as "interrupted … while starting; nothing was written"."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _after_the_run, sig)


def _after_the_run(sig: signal.Signals) -> None:
    log.warning("signal received as the run ended; the run's outcome stands", signal=sig.name)


def _saved_version(path: Path) -> tuple[int, int, int] | None:
    """Which file `path` is, or None when there is none: every save renames a new file over it (a new inode). A stat:
    called on a worker thread (a network file system's may hang)."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_mtime_ns) if stat.S_ISREG(info.st_mode) else None


async def _sync(settings: Settings, syncing: asyncio.Event, progress: Progress) -> int:
    await problem_off_the_loop(functools.partial(check_output_file, settings.file, settings.c1z_temp_dir))
    started = time.monotonic()
    async with await open_datadog_client(settings) as client:
        connector = DatadogConnector(client, datadog_options(settings))
        await connector.validate()
        log.info("Datadog keys valid; syncing", site=settings.site, file=str(settings.file))
        syncing.set()
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
        # Written: an output that fails from here fails the run (exit 1), and its line says the file was written.
        outcome.record(f"the sync file {settings.file} was written (sync {result.sync_id})")
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
