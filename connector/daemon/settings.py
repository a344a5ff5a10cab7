"""Every setting, once: a `BATON_*` environment variable and a `--flag` of the same name, plus an optional YAML file.

Precedence is flag > environment > file, as in the Go SDK. Secrets are `SecretStr`, so neither a repr nor a
validation error ever shows their value. `load_effective` also says where each value came from (the `config`
command prints it) and which `BATON_*` variables it did not know (a warning at start-up names the closest one).
"""

from __future__ import annotations

import argparse
import ast
import codecs
import contextlib
import ipaddress
import json
import math
import os
import re
import stat
import sys
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import Field, JsonValue, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings import SettingsError as PydanticSettingsError

from connector.baton.c1.credentials import CredentialError, host_port_problem, parse_client_id
from connector.baton.c1.hostinfo import MAX_FIELD_LENGTH as MAX_HOST_ID_LENGTH
from connector.baton.envquotes import in_quotes as _in_quotes
from connector.baton.envquotes import wrapped_in_quotes as _wrapped_in_quotes
from connector.baton.gostrings import LONE_SURROGATE, refuse_json_constant
from connector.baton.ids import parse_resource_ref
from connector.baton.pathnames import shell_shorthand, unnamable_path
from connector.baton.printable import surrogates_escaped
from connector.baton.redaction import MIN_SECRET_LENGTH, blank_out, blank_out_patterns, patterns
from connector.baton.runtime.bounds import (
    MAX_READY_WINDOW,
    MAX_SHUTDOWN_GRACE,
    MAX_SYNC_INTERVAL,
    MAX_TASK_CONCURRENCY,
    MAX_TOKEN_TIMEOUT,
    MIN_BACKOFF_SCALE,
)
from connector.daemon.config_yaml import (
    INT_PROBLEMS,
    MAX_CONFIG_VALUES,
    expanded_values,
    quote_it,
    repeated_setting,
    yaml_12_loader,
    yaml_kind,
)
from connector.daemon.flagguess import closest_flag
from connector.daemon.logging import REDACTED
from connector.daemon.version import package_version
from connector.datadog.keyshape import KEY_SHAPE, holds_key_shape, shown_value
from connector.datadog.sites import SITES, base_url_for, check_transport_security, resolve_site

ENV_PREFIX = "BATON_"
GROUPS = ("Datadog", "Sync", "Output and logging", "Service mode", "Operability", "One-shot provisioning")
CONFIG_PATH_ENV = f"{ENV_PREFIX}CONFIG_PATH"
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")
_MAX_ARGS_NESTING = 100


class _NumberOutOfRange(ValueError):
    """A JSON number no float64 holds: Go's reader refuses it, and a protobuf Struct number is a float64."""


def _float64(text: str) -> float:
    """A JSON number as the Struct will hold it. `1e400` read as infinity (the printout of an action that had run then
    raised on it), and a 400-digit integer made building the Struct raise OverflowError (an unexpected error)."""
    number = float(text)  # a literal past float64's range reads as infinity
    if not math.isfinite(number):
        raise _NumberOutOfRange(f"the number {text[:20]}{'...' if len(text) > 20 else ''} is out of range")
    return number


def _struct_int(text: str) -> int:
    """An integer literal, checked the same way: the Struct holds it as a float64 too."""
    _float64(text)
    return int(text)


class _RepeatedKey(ValueError):
    """A JSON object that names one key twice; the message is the key, quoted and cut short."""


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different. Python's reader, like Go's, keeps the last of a repeated key
    without a word: `{"user_id": "<the user meant>", "user_id": "<another>"}` disabled the other user."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # A key pasted as a name is not repeated back (`_no_key`'s rule for what an operator's flag holds).
            raise _RepeatedKey("a name with " + KEY_SHAPE if holds_key_shape(key) else repr(key[:100]))
        out[key] = value
    return out


def action_arguments(text: str) -> dict[str, Any]:
    """--invoke-action-args read as the JSON object the action's Struct is made of; ValueError saying what is wrong.
    The one reader of them: the setting's check and the one-shot action that sends them."""
    # The arguments become a protobuf Struct, built recursively (a RecursionError past a few hundred levels);
    # ConductorOne's own Structs cannot be nested deeper than protobuf decodes (100).
    too_deep = f"is nested deeper than {_MAX_ARGS_NESTING} levels"
    try:
        # NaN and Infinity are no JSON (Go's reader refuses them); Python's takes them, and the printout of
        # the arguments a successful action makes (json_format) raised on them after the action had run.
        parsed = json.loads(
            text or "{}",
            parse_constant=refuse_json_constant,
            parse_float=_float64,
            parse_int=_struct_int,
            object_pairs_hook=_once_each,
        )
    except RecursionError:
        raise ValueError(too_deep) from None
    except _RepeatedKey as exc:
        raise ValueError(f"gives {exc} twice: keep one (only one of them would be used)") from None
    except _NumberOutOfRange as exc:
        raise ValueError(f"{exc} (a number must fit a 64-bit float)") from None
    except ValueError:
        raise ValueError('is not valid JSON (expected an object, e.g. {"user_id": "…"})') from None
    if not isinstance(parsed, dict):
        raise ValueError('must be a JSON object, e.g. {"user_id": "…"}')
    if _nesting(parsed) > _MAX_ARGS_NESTING:
        raise ValueError(too_deep)
    try:
        # A protobuf string is UTF-8: half a surrogate pair written as a JSON escape (`"\ud800"`) ended the
        # action's run as "unexpected error: UnicodeEncodeError", the setting unnamed.
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(HALF_A_SURROGATE_PAIR) from None
    return parsed


def _nesting(value: object) -> int:
    """How deeply JSON arrays and objects nest in `value` (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in children)
    return deepest


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# An IPv6 address's zone (`fe80::1%eth0`): a network interface's name or index. Linux names an interface with at most
# 15 bytes, never `.` or `..`, and never `/`, `:` or whitespace (`dev_valid_name`). Here visible ASCII only: the kernel
# takes other bytes, but Python hands the resolver a host IDNA-encoded (`fe80::1%é` asks for `xn--fe80::1%-i1a`), so no
# other zone can ever be bound to.
_ZONE = re.compile(r"(?!\.\.?$)[!-.0-9;-~]{1,15}")
# The one-shot provisioning actions (baton-sdk's flags of the same names); at most one per run.
ONE_SHOT_ACTIONS = ("grant_entitlement", "revoke_grant", "create_account_email", "invoke_action", "delete_resource")


def _f(
    default: Any, group: str, help: str, *, hidden: bool = False, short: str = "", shown: str = "", **kw: Any
) -> Any:
    """A field with the metadata the CLI builder needs (group, help text, hidden, short flag, default as shown)."""
    extra: dict[str, JsonValue] = {"group": group, "hidden": hidden, "short": short, "shown": shown}
    return Field(default, description=help, json_schema_extra=extra, **kw)


class SettingsError(ValueError):
    """Bad or missing settings; each problem names its setting (flag and variable), never a secret value. Every
    problem found is given, one line each (`main.fail_settings`): fixing them one refusal at a time took a restart
    each, a pod's crash-loop back-off in a cluster."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Settings(BaseSettings):
    # env_ignore_empty: `BATON_SITE=""` (a chart's or Secret's "not set") leaves the file or the default in force,
    # as viper does in the Go SDK, instead of overriding them with nothing.
    # allow_inf_nan=False: `inf` and `nan` are no durations; taken, `config --json` and the JSON log printed
    # `Infinity`, which no JSON reader takes.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", case_sensitive=False, env_ignore_empty=True, allow_inf_nan=False
    )

    # -- Datadog ------------------------------------------------------------------------------------------
    site: str = _f("datadoghq.com", "Datadog", "Datadog site")
    api_key: SecretStr | None = _f(None, "Datadog", "Datadog API key (DD-API-KEY)")
    app_key: SecretStr | None = _f(None, "Datadog", "Datadog application key (DD-APPLICATION-KEY)")
    # Before base_url: its validator reads this one.
    insecure_base_url: bool = _f(
        False, "Datadog", "allow a plain-http base URL off loopback (sends both keys unencrypted)", hidden=True
    )
    base_url: str = _f("", "Datadog", "API root override, for tests", hidden=True)
    http_timeout_seconds: int = _f(
        30,
        "Datadog",
        "Datadog HTTP timeout in seconds, per send and read (a connect: at most 10 s; a whole answer: 10 s + 2 x this)",
        ge=1,
        le=MAX_TOKEN_TIMEOUT,
    )
    datadog_concurrency: int = _f(8, "Datadog", "Datadog requests in flight at once", ge=1, le=64)

    # -- what to sync ---------------------------------------------------------------------------------------
    sync_secrets: bool = _f(False, "Sync", "sync organization API keys (never their values)")
    sync_schedules: bool = _f(False, "Sync", "sync On-Call schedules and who is on call now")
    sync_service_account_application_keys: bool = _f(
        False, "Sync", "with --sync-secrets: also sync service-account application keys"
    )
    allow_org_api_key_deletion: bool = _f(
        False, "Sync", "with --sync-secrets: allow ConductorOne to delete org API keys"
    )
    # NoDecode: the environment holds `user,role` (comma-separated, as in the Go SDK), not JSON.
    sync_resource_types: Annotated[list[str], NoDecode] = _f([], "Sync", "only these resource types (comma-separated)")
    sync_resources: Annotated[list[str], NoDecode] = _f(
        [], "Sync", "targeted sync of these resources only: <type>:<id> or bid:r:<type>/<id> (comma-separated)"
    )
    skip_entitlements_and_grants: bool = _f(False, "Sync", "sync resources only")
    skip_grants: bool = _f(False, "Sync", "sync resources and entitlements, not grants", hidden=True)
    provisioning: bool = _f(False, "Sync", "allow grants, revokes, account creation and user actions", short="-p")

    # -- output and logging -----------------------------------------------------------------------------
    file: Path = _f(
        Path("sync.c1z"),
        "Output and logging",
        "the c1z a one-shot sync (or service mode's --sync-interval) writes",
        short="-f",
    )
    log_level: Literal["debug", "info", "warn", "warning", "error"] = _f("info", "Output and logging", "log level")
    log_format: Literal["json", "console", ""] = _f(
        "", "Output and logging", "log format", shown="console on a terminal, else json"
    )

    # -- service mode -------------------------------------------------------------------------------------
    client_id: str = _f("", "Service mode", "ConductorOne client id; setting it switches to service mode")
    client_secret: SecretStr | None = _f(None, "Service mode", "ConductorOne client secret")
    c1_api_host: str = _f("", "Service mode", "ConductorOne API host[:port] override", hidden=True)
    host_id: str = _f(
        "", "Service mode", "host id reported to ConductorOne (at most 256 characters)", shown="the hostname"
    )
    # Without a client id the process runs a one-shot sync and exits 0 (as baton-sdk does). Under a Deployment that is
    # a Secret missing its ConductorOne keys: the pod synced the whole org, exited and was restarted to sync it again,
    # for good, and no task ever ran. The chart and deploy/ set this, so such a pod ends at start naming them.
    require_service_mode: bool = _f(
        False,
        "Service mode",
        "refuse to start without --client-id and --client-secret rather than run a one-shot sync and exit",
    )
    task_concurrency: int = _f(3, "Service mode", "tasks run at once", ge=1, le=MAX_TASK_CONCURRENCY)
    skip_full_sync: bool = _f(False, "Service mode", "answer full-sync tasks with an empty sync")
    # At most a year: the interval becomes a float timer, and a number past ~1e308 ended the service as
    # "unexpected error: OverflowError" instead of an error naming this setting.
    sync_interval: int = _f(
        0, "Service mode", "also run a full sync to --file every N seconds (0: off)", ge=0, le=MAX_SYNC_INTERVAL
    )
    c1z_temp_dir: Path | None = _f(None, "Service mode", "directory for working sync files", shown="the system's")
    # Bounded so that a slip of the exponent is refused, naming the setting: a grace of 1e308 s waited for the
    # SIGKILL, and a scale of 1e-320 made every retry delay zero, hammering ConductorOne through an outage.
    shutdown_grace_seconds: float = _f(
        25.0, "Service mode", "on SIGTERM, how long in-flight tasks may finish", ge=0, le=MAX_SHUTDOWN_GRACE
    )
    backoff_scale: float = _f(
        1.0,
        "Service mode",
        "multiply every ConductorOne retry delay by this (tests: 0.01)",
        ge=MIN_BACKOFF_SCALE,
        le=1,
    )

    # -- operability ----------------------------------------------------------------------------------------
    # The SDK's names and bind default (loopback); on by default because the same server carries /metrics.
    health_check: bool = _f(
        True, "Operability", "serve /healthz, /readyz (and the SDK's /health, /ready, /live), /metrics"
    )
    health_check_bind_address: str = _f(
        "127.0.0.1", "Operability", "health and metrics bind address (0.0.0.0 in a pod)"
    )
    health_check_port: int = _f(
        8081, "Operability", "health and metrics port (0: any free port, logged)", ge=0, le=65535
    )
    ca_bundle: Path | None = _f(
        None,
        "Operability",
        "PEM bundle of CAs to trust for Datadog, the token endpoint and gRPC (else SSL_CERT_FILE, else SSL_CERT_DIR)",
    )
    ready_window_seconds: float = _f(
        60.0,
        "Operability",
        "/readyz fails when ConductorOne was not reached for max(this, 3 x poll interval) s",
        gt=0,
        le=MAX_READY_WINDOW,
    )

    # -- one-shot provisioning (test an access change without ConductorOne; needs --provisioning) ---------------
    grant_entitlement: str = _f("", "One-shot provisioning", "grant this entitlement id (e.g. role:ROLE_ID:member)")
    grant_principal: str = _f("", "One-shot provisioning", "with --grant-entitlement: the principal's id")
    grant_principal_type: str = _f("user", "One-shot provisioning", "with --grant-entitlement: the principal's type")
    revoke_grant: str = _f("", "One-shot provisioning", "revoke this grant id (e.g. role:ROLE_ID:member:user:USER_ID)")
    create_account_email: str = _f("", "One-shot provisioning", "create (invite) a Datadog user with this email")
    create_account_name: str = _f("", "One-shot provisioning", "with --create-account-email: the user's full name")
    create_account_title: str = _f("", "One-shot provisioning", "with --create-account-email: the user's job title")
    invoke_action: str = _f("", "One-shot provisioning", "invoke this action (e.g. disable_user)")
    invoke_action_args: str = _f("{}", "One-shot provisioning", "with --invoke-action: its arguments as a JSON object")
    delete_resource: str = _f(
        "",
        "One-shot provisioning",
        "delete this credential (the id of an API key or application key, or an access token's sat:… id, as a sync "
        "lists them)",
    )
    delete_resource_type: str = _f(
        "",
        "One-shot provisioning",
        "with --delete-resource: its resource type (api-key, service-account-application-key, "
        "service-account-access-token)",
    )

    @model_validator(mode="before")
    @classmethod
    def _as_meant(cls, data: Any) -> Any:
        """Every source's raw values as an operator means them: a Secret made with `echo` keeps its newline, zap
        and viper take `INFO` or `TRUE`, and an empty or null value (a flag, a YAML `~`) means "not set"."""
        if not isinstance(data, dict):
            return data
        out: dict[str, Any] = {}
        for name, value in data.items():
            if isinstance(value, str):
                value = _utf8_as_given(value.strip()) if name not in _PATHS else value.strip()
                if name not in _PATHS and _NOT_UTF8.search(value):
                    # A variable's undecodable bytes (Python keeps them as lone surrogates) would fail deep in a
                    # header, a host name or a log line; a file name may hold any bytes.
                    raise ValueError(f"{named(name)}: is not valid UTF-8 text")
                if name not in _PATHS and LONE_SURROGATE.search(value):
                    # A YAML `"\ud800"` escape: the same failure, the first time the value was written out.
                    raise ValueError(f"{named(name)}: {HALF_A_SURROGATE_PAIR}")
                if name in _CASE_FREE:
                    value = value.lower()
            if _given(value, name):
                out[name] = value
        return out

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # Only a YAML file can carry one (`"\0"`; argv and the environment cannot): no value of any setting holds
        # it, and a file name with one ended the run as "unexpected error: ValueError: embedded null byte", a
        # resource id with one was sent to Datadog. Per field, so the line names it beside any other refusal.
        if any("\0" in text for text in (value if isinstance(value, list) else [value]) if isinstance(text, str)):
            raise ValueError("holds a NUL character (\\0), which no setting's value may")
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _nameable_path(cls, value: Any, info: ValidationInfo) -> Any:
        # A YAML (or JSON) `\ud800` escape is a lone surrogate no bytes stand for (argv and the environment give only
        # those standing for undecodable bytes, which a file name may hold): every path setting ended the run as
        # "unexpected error: UnicodeEncodeError", exit 1, wherever its file was first looked at.
        if info.field_name not in _PATHS or not isinstance(value, str) or "\0" in value:
            return value  # a NUL is `_no_nul`'s to name, in the words every setting's gets
        if (unnamable := unnamable_path(value)) is not None:
            raise ValueError(unnamable)
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _plain_number(cls, value: Any, info: ValidationInfo) -> Any:
        # Written as text (a flag, a variable, a quoted YAML value), an integer with a leading 0 is refused: int()
        # read `0100` as 100 where baton-sdk's flag parser (Go's strconv.ParseInt, base 0) reads octal 64. Digits
        # separated by `_` (`1_000`) mean the same number to both (Go's base 0 takes them, as Python's int() does).
        kinds = _NUMBER_KINDS.get(str(info.field_name))
        if kinds is None or not isinstance(value, str):
            return value
        if int in kinds and _LEADING_ZERO.fullmatch(value.strip()):
            raise ValueError("is not a plain decimal integer: a leading 0 reads as octal in baton-sdk; drop it")
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _no_invisible_edge(cls, value: Any) -> Any:
        # `BATON_FILE` pasted from a web page: a BOM or zero-width character at an end named an odd file, or an id
        # no one could see was wrong. Only the character is named, never the value (it may be a secret).
        for text in value if isinstance(value, list) else [value]:
            raw = text.get_secret_value() if isinstance(text, SecretStr) else text
            if isinstance(raw, str) and (problem := invisible_edge(raw)):
                raise ValueError(problem)
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _not_in_quotes(cls, value: Any, info: ValidationInfo) -> Any:
        # `BATON_API_KEY="..."` in an env file: a shell takes the quotes off, `docker run --env-file` and a Secret
        # made from the file keep them, and they went out as part of the credential. Datadog rejected a right key as
        # "of another Datadog site"; ConductorOne's id went to the token endpoint. No credential of either holds a
        # quote (hexadecimal keys, `<name>@<host>/<suffix>`, `secret-token:...`). Nor does any other setting but free
        # text (a host id, a new account's name and title): `BATON_REVOKE_GRANT="role:…:user:…"` so kept was
        # "resource type '"role' does not support revokes", `BATON_FILE="/data/sync.c1z"` a directory `"` that did
        # not exist, `BATON_PROVISIONING="true"` "not a valid boolean", none naming the quotes. The value is never
        # shown.
        if info.field_name in _FREE_TEXT:
            return value
        # A list's text arrives split at its commas (`_comma_list` runs first): quotes around the whole are at its
        # first entry's start and its last one's end; around one entry (a YAML list's, a repeated flag's), at its own.
        whole = isinstance(value, list) and all(isinstance(entry, str) for entry in value)
        texts = [",".join(value), *value] if whole else [value]
        for text in texts:
            raw = text.get_secret_value() if isinstance(text, SecretStr) else text
            if isinstance(raw, str) and _wrapped_in_quotes(raw):
                raise ValueError(_in_quotes("sent" if info.field_name in _SECRETS_AND_IDS else "read"))
        return value

    @field_validator("api_key", "app_key", mode="before")
    @classmethod
    def _not_a_path(cls, value: Any, info: ValidationInfo) -> Any:
        # A Secret mounted as files, and the file's path given where the key goes: it went to Datadog as the key, and
        # its refusal said "the key may belong to another Datadog site". A Datadog key is hexadecimal: it never begins
        # as a path does. The value is never shown.
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str) and raw.strip().startswith(_PATH_STARTS):
            name = str(info.field_name)
            raise ValueError(
                "begins as a file's path does (/, ./, ../ or ~/), which a Datadog key (hexadecimal) never does: give "
                "the key itself "
                f'({env(name)}="$(cat FILE)" for a key kept in a file, or a Kubernetes Secret as variables: envFrom)'
            )
        return value

    @field_validator("file", "ca_bundle", mode="before")
    @classmethod
    def _names_a_file(cls, value: Any, info: ValidationInfo) -> Any:
        # A Path drops a trailing `/` (and `/.`): `--file backups/`, a directory that did not exist yet, wrote the
        # sync to a file named `backups`, and `--ca-bundle ca.pem/` read the file that opening `ca.pem/` refuses.
        if isinstance(value, str) and value.endswith(("/", "/.")):
            example = f"{value.rstrip('.').rstrip('/')}/{'sync.c1z' if info.field_name == 'file' else 'ca.pem'}"
            raise ValueError(f"{shown_value(value)} names a directory; name a file in it (e.g. {shown_value(example)})")
        return value

    @field_validator("site")
    @classmethod
    def _known_site(cls, value: str) -> str:
        try:
            return resolve_site(value).name
        except ValueError as exc:  # the line already names the setting
            raise ValueError(str(exc).removeprefix("setting `site`: ")) from None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            return ""
        if _UNSAFE.search(value.strip()):
            raise ValueError("must not contain whitespace or control characters")
        try:
            urlsplit(value.strip()).port  # noqa: B018  # a port that is not a number raises here, not mid-sync
        except ValueError:
            raise ValueError("the port is not a number from 1 to 65535") from None
        try:
            url = base_url_for("datadoghq.com", value)
        except ValueError as exc:  # the line already names the setting: "base URL: " would say it twice
            raise ValueError(str(exc).removeprefix("base URL: ")) from None
        check_transport_security(url, allow_insecure=bool(info.data.get("insecure_base_url")))
        return url

    @field_validator("client_id", "c1_api_host", "host_id")
    @classmethod
    def _printable(cls, value: str, info: ValidationInfo) -> str:
        # A Secret made with `echo` keeps its newline: trim it, but refuse what could not be an id or a host. The
        # host id is free text in a request header: spaces are fine there, control characters break the request.
        value = value.strip()
        if info.field_name == "host_id":
            if _CONTROL.search(value):
                raise ValueError("must not contain control characters")
            if len(value) > MAX_HOST_ID_LENGTH:
                # ConductorOne's limit on every request's host_id (§2.1); the client refused it only after start.
                raise ValueError(f"must be at most {MAX_HOST_ID_LENGTH} characters, not {len(value)}")
        elif _UNSAFE.search(value):
            raise ValueError("must not contain whitespace or control characters")
        elif value and info.field_name == "client_id":
            # Checked here, before anything shows the settings (`config`, the `starting` line): a value that is no
            # client id is most likely the client secret in the wrong variable, and must never be printed.
            try:
                parse_client_id(value)
            except CredentialError as exc:
                raise ValueError(exc.reason) from None
        elif value and info.field_name == "c1_api_host" and (problem := host_port_problem(value)) is not None:
            raise ValueError(problem)
        return value

    @field_validator("api_key", "app_key")
    @classmethod
    def _header_safe_key(cls, value: SecretStr | None) -> SecretStr | None:
        # Each key travels as an HTTP header: a Secret made with `echo` keeps its newline (trimmed here), and
        # anything else outside visible ASCII could never authenticate and would fail inside the HTTP layer.
        # The message never quotes the value.
        if value is None:
            return None
        key = value.get_secret_value().strip()
        if not key.isascii() or _UNSAFE.search(key):
            raise ValueError("must be visible ASCII characters only (no spaces, control or non-ASCII characters)")
        return SecretStr(key)

    @field_validator("health_check_bind_address")
    @classmethod
    def _bind_address(cls, value: str) -> str:
        # Only what a listening socket can take: an IP address or a host name (no scheme, no port), else the bind
        # would fail later as a DNS error that reads like a problem with the port.
        host = value.strip()
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            labels = host.rstrip(".").split(".")
            if not all(_HOST_LABEL.fullmatch(label) for label in labels):
                raise ValueError(
                    f"{shown_value(value, url=True)} is not an IP address or host name (e.g. 127.0.0.1, 0.0.0.0 or ::)"
                ) from None
            if labels[-1].isdigit():
                raise ValueError(f"{shown_value(value, url=True)} is not a valid IP address") from None
            return host
        zone = address.scope_id if isinstance(address, ipaddress.IPv6Address) else None
        if zone is not None and not _ZONE.fullmatch(zone):
            # ipaddress takes any characters after the `%`: a zone of control or non-ASCII characters passed here and
            # failed only at the bind, as an OS error about an interface, after the run had started.
            raise ValueError(
                f"{shown_value(value, url=True)} has a zone no network interface has (after '%': a name or index of "
                "at most 15 visible ASCII characters, no '/' or ':', not '.' or '..'), e.g. fe80::1%eth0"
            )
        if address.is_multicast or address == ipaddress.IPv4Address("255.255.255.255"):
            # Linux lets a TCP socket listen there, and no probe or scrape can ever connect to it (ENETUNREACH): the
            # log said "health server listening" while the kubelet's probes failed and restarted the pod.
            raise ValueError(
                f"{shown_value(value, url=True)} is a multicast or broadcast address, which nothing can connect to; "
                "use this host's address, 127.0.0.1 or 0.0.0.0"
            )
        return host

    @field_validator("invoke_action_args")
    @classmethod
    def _json_object(cls, value: str) -> str:
        action_arguments(value)
        return value or "{}"

    @field_validator("sync_resource_types", "sync_resources", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = _list_entries(value)
        if isinstance(value, list):
            # Each entry as the comma form reads it, whichever form (or a YAML list) gave it: `[" user"]` is `user`,
            # and an empty entry is none. Anything but text is left for the type check to name.
            parts = [part.strip() if isinstance(part, str) else part for part in value]
            if any(isinstance(part, str) and LONE_SURROGATE.search(part) for part in parts):
                # A JSON list's `"\ud800"` escape (the form the Helm chart renders) or a YAML list's: a target of
                # `user:\ud800` ended the run at its first Datadog request, "unexpected error: UnicodeEncodeError".
                raise ValueError(HALF_A_SURROGATE_PAIR)
            return [part for part in parts if part != ""]
        return value

    @field_validator("sync_resources")
    @classmethod
    def _resource_refs(cls, value: list[str]) -> list[str]:
        for ref in value:
            try:
                parse_resource_ref(ref)  # ValueError names the bad entry
            except ValueError:
                if holds_key_shape(ref):
                    # The entry is quoted otherwise: a key pasted alone (`--sync-resources <key>`) was printed back.
                    raise ValueError(
                        "an entry holds the shape of a Datadog API or application key (32 or 40 hexadecimal "
                        "characters), not of a target; it is not shown. Give <resource type>:<resource id> or "
                        "bid:r:<type>/<id>"
                    ) from None
                raise
        return value

    @model_validator(mode="after")
    def _required_together(self) -> Settings:
        if self.client_id and self.client_secret is None:
            raise ValueError(f"{named('client_secret')}: client-secret is required in service mode (client-id is set)")
        if self.client_secret is not None and not self.client_id:
            raise ValueError(f"{named('client_id')}: client-id is required in service mode (client-secret is set)")
        actions = [flag(name) for name in ONE_SHOT_ACTIONS if getattr(self, name)]
        if len(actions) > 1:
            raise ValueError(f"{' and '.join(actions)} cannot be combined: run one provisioning action at a time")
        if actions and self.client_id:
            # The way out named, as docs/deployment.md promises: in a pod both come from the Secret, and unsetting
            # the client id alone was refused next for the secret left behind.
            raise ValueError(
                f"{actions[0]} is a one-shot action; it cannot run in service mode (client-id is set): run it without "
                f"the ConductorOne credentials ({_out_of_service_mode(self.require_service_mode)})"
            )
        if actions and not self.provisioning:
            raise ValueError(f"{actions[0]} changes Datadog: it needs --provisioning ({env('provisioning')}=true)")
        if self.grant_entitlement and not self.grant_principal:
            raise ValueError("--grant-entitlement needs --grant-principal (the principal's id)")
        if self.grant_principal and not self.grant_entitlement:
            raise ValueError("--grant-principal is set but --grant-entitlement is not")
        if "grant_principal_type" in self.model_fields_set and not self.grant_entitlement:
            # As for --grant-principal: alone, it was dropped without a word and the run was a full sync, exit 0.
            raise ValueError("--grant-principal-type is set but --grant-entitlement is not")
        if self.invoke_action_args.strip() not in ("", "{}") and not self.invoke_action:
            raise ValueError("--invoke-action-args is set but --invoke-action is not")
        if (self.create_account_name or self.create_account_title) and not self.create_account_email:
            raise ValueError("--create-account-name/--create-account-title need --create-account-email")
        if self.delete_resource and not self.delete_resource_type:
            # As in baton-sdk, where the two flags go together: an id alone names no credential (an API key's and an
            # application key's ids are both UUIDs).
            raise ValueError("--delete-resource needs --delete-resource-type (the credential's resource type)")
        if self.delete_resource_type and not self.delete_resource:
            raise ValueError("--delete-resource-type is set but --delete-resource is not")
        return self

    @property
    def one_shot_action(self) -> str | None:
        """The one-shot provisioning action asked for (a field name of ONE_SHOT_ACTIONS), if any."""
        return next((name for name in ONE_SHOT_ACTIONS if getattr(self, name)), None)

    @property
    def service_mode(self) -> bool:
        return bool(self.client_id)

    @property
    def api_url(self) -> str:
        return self.base_url or base_url_for(self.site)

    def require_datadog_keys(self) -> tuple[SecretStr, SecretStr]:
        """Both keys, or a SettingsError naming every missing one (a first run usually lacks both)."""
        missing = [
            f"{flag(name)} ({env(name)})"
            for name in ("api_key", "app_key")
            if (value := getattr(self, name)) is None or not value.get_secret_value().strip()
        ]
        if missing:
            noun = "setting" if len(missing) == 1 else "settings"
            raise SettingsError(f"missing required {noun} {' and '.join(missing)}")
        return self.api_key, self.app_key  # type: ignore[return-value]  # both checked just above

    def check_not_placeholders(self) -> None:
        """A SettingsError naming each credential still holding deploy/baton-datadog-secrets.yaml's placeholder.

        Applied unedited (the file says to replace them, and a first try often does not), the placeholders went out as
        the credentials: the API key was rejected as "the key may belong to another Datadog site", the client secret as
        "the key part is not unpadded base64url". Not a check of the settings model (`load`): the manifests' tests
        load the placeholders as a pod would. Before anything connects; the value is never shown."""
        held = [
            f"{named(name)}: is still the placeholder of deploy/baton-datadog-secrets.yaml (it "
            f"starts with {PLACEHOLDER}): put the real value in the Secret"
            for name in ("client_id", "client_secret", "api_key", "app_key")
            if (value := getattr(self, name))
            and (value.get_secret_value() if isinstance(value, SecretStr) else value).upper().startswith(PLACEHOLDER)
        ]
        if held:
            raise SettingsError(*held)

    def resolved_log_format(self) -> str:
        return self.log_format or ("console" if sys.stderr.isatty() else "json")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init = parsed flags (only those given), then the environment, then the YAML file.
        return init_settings, _UpperCaseEnv(settings_cls), _YamlSource(settings_cls)


def _env_field(key: str) -> str:
    """The setting a `BATON_*` variable's name gives (`BATON_SYNC_RESOURCES`: `sync_resources`)."""
    return key.removeprefix(ENV_PREFIX).lower()


def _read_env_name(key: str) -> bool:
    """Whether the environment variable `key` is one the settings read: viper's AutomaticEnv (baton-sdk) looks up
    only the upper-case name (`BATON_SITE`), so `baton_site` is not read; read case-free, it also won over the
    upper-case value set beside it, which errors then named."""
    return key.startswith(ENV_PREFIX) and key == key.upper()


class _UpperCaseEnv(EnvSettingsSource):
    """The environment, as baton-sdk reads it: the upper-case `BATON_*` names only (values compared case-free)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # Lower-cased, as the case-free matching of field names expects (the model's case_sensitive=False). A value
        # of whitespace alone is "not set", as an empty one is (env_ignore_empty) and as `config` reports it: taken,
        # it won over the --config file's value and was then dropped as blank (`_as_meant`), so `BATON_SITE=" "`
        # put the default site in place of the file's, and `config` said the value came from the file.
        return {
            key.lower(): value
            for key, value in os.environ.items()
            if _read_env_name(key) and (_given(value, _env_field(key)) or not self.env_ignore_empty)
        }


# The one-shot provisioning flags: each names the one change a run makes (what, to whom, with what).
_ONE_CHANGE = frozenset(
    name
    for name, info in Settings.model_fields.items()
    if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("group") == "One-shot provisioning"
)


def _one_change(flagged: dict[str, Any]) -> None:
    """Each one-shot provisioning flag's value, refused when the flag was given again with another one. As a plain
    flag the last value won, silently: `-p --revoke-grant A --revoke-grant B` revoked B alone and left A in place,
    exit 0, and `--delete-resource K1 --delete-resource K2` left K1 live. Two different actions are refused alike
    ("run one provisioning action at a time"). The values are not shown (one may be a key pasted where an id goes)."""
    for name in _ONE_CHANGE:
        given = flagged.get(name)
        if not isinstance(given, list):
            continue
        if len({value.strip() for value in given}) > 1:
            raise SettingsError(
                f"{named(name)}: the flag is given {len(given)} times with different values, and a run makes one "
                "change; nothing was run. Give it once, and run once for each change"
            )
        flagged[name] = given[-1]


# Free text, which may hold quotes at both ends as meant (`_not_in_quotes`); and what goes out to Datadog or
# ConductorOne as it is given.
_FREE_TEXT = frozenset({"host_id", "create_account_name", "create_account_title"})
_SECRETS_AND_IDS = frozenset({"api_key", "app_key", "client_id", "client_secret"})

_LOCALE_UTF8 = codecs.lookup(sys.getfilesystemencoding()).name == "utf-8"


def _utf8_as_given(text: str) -> str:
    """`text` as the UTF-8 it was given in, where the locale decoded the command line and the environment otherwise
    (`LC_ALL=C` with `PYTHONUTF8=0`: as ASCII, each other byte a lone surrogate; a Latin-1 locale: each byte a
    character): a host id or a new account's name typed in UTF-8 was refused as "not valid UTF-8 text", or sent as
    mojibake (each of its non-ASCII characters as two). Go reads them as UTF-8 whatever the locale. A value the
    locale's bytes cannot stand for came from the YAML file (read as UTF-8 already) and is kept, as is one whose bytes
    are no UTF-8. Paths are not read so: the file system takes them in the locale's encoding."""
    if _LOCALE_UTF8:
        return text
    try:
        return os.fsencode(text).decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


# Settings that are file names (any bytes but NUL), and the lone surrogates that stand for undecodable bytes.
_PATHS = frozenset(
    name for name, info in Settings.model_fields.items() if Path in (info.annotation, *get_args(info.annotation))
)
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
HALF_A_SURROGATE_PAIR = "holds half a surrogate pair (a \\ud800-\\udfff escape without its pair), no character"

# Settings that are numbers, and their kinds (int, float); an integer's text with a 0 before its digits.
_NUMBER_KINDS = {
    name: kinds
    for name, info in Settings.model_fields.items()
    if (kinds := frozenset({info.annotation, *get_args(info.annotation)}) & {int, float})
}
_LEADING_ZERO = re.compile(r"[+-]?0[0-9_]+")

# Settings whose values are choices: compared without regard to case.
_CASE_FREE = frozenset(
    name
    for name, info in Settings.model_fields.items()
    if info.annotation is bool or get_origin(info.annotation) is Literal
)


# Where each setting was given ("flag", "env", "file"), while `load_effective` builds the model from them: a refusal's
# way out names what to take away. It said `env -u BATON_CLIENT_ID -u BATON_CLIENT_SECRET` for credentials given as
# flags or in the --config file, and followed, the action was refused again.
_GIVEN_AT: ContextVar[Mapping[str, Sequence[str]] | None] = ContextVar("_GIVEN_AT", default=None)


def _out_of_service_mode(required: bool) -> str:
    """How to run without the ConductorOne credentials (and `require_service_mode`), from where each was given."""
    given_at = _GIVEN_AT.get()
    credentials = ("client_id", "client_secret")
    if given_at is None:  # a model built from values, not from a command line
        return f"without {' and '.join(flag(name) for name in credentials)}"
    steps: list[str] = []
    if flagged := [flag(name) for name in credentials if "flag" in given_at[name]]:
        steps.append(f"drop {' and '.join(flagged)}")
    if in_file := [name.replace("_", "-") for name in credentials if "file" in given_at[name]]:
        steps.append(f"remove {' and '.join(in_file)} from the --config file")
    # A flag beats the environment and the file: --no-require-service-mode undoes it wherever else it was set. Given as
    # a flag too, that flag is dropped as well: kept in the "…", it still won over the added --no- form.
    undo = ""
    required_at = list(given_at["require_service_mode"]) if required else []
    if "flag" in required_at:
        steps.append(f"drop {flag('require_service_mode')}")
    if required and required_at != ["flag"]:
        undo = f" {flag('require_service_mode').replace('--', '--no-', 1)}"
    if variables := [env(name) for name in credentials if "env" in given_at[name]]:
        steps.append(f"env {' '.join(f'-u {variable}' for variable in variables)} baton-datadog{undo} …")
    elif undo:
        steps.append(f"add{undo}")
    return "; ".join(steps)


class _YamlSource(PydanticBaseSettingsSource):
    """The YAML file's settings (read and checked by `read_yaml` before the model is built)."""

    data: Mapping[str, Any] = {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_YamlSource.data)


def read_setting_file(path: Path, where: str, limit: int) -> bytes:
    """A file a setting names, read whole; a SettingsError starting with `where` when it cannot be.

    A FIFO would block the read forever and a directory or a device is no such file: they are refused first; a
    file over `limit` bytes is no file of its kind and is refused unread.
    """
    if (shorthand := shell_shorthand(path)) is not None:
        raise SettingsError(f"{where}: {shorthand}")
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise SettingsError(f"{where}: is not a regular file")
        with path.open("rb") as file:
            data = file.read(limit + 1)
        if len(data) > limit:
            raise SettingsError(f"{where}: is larger than {_size(limit)}")
        return data
    except OSError as exc:
        raise SettingsError(f"{where}: cannot read it: {exc.strerror or type(exc).__name__}") from None


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit % (1 << 20) == 0 else f"{limit} bytes"


# A settings file is a few KB: larger ones took PyYAML a minute of CPU before any error (1 MiB: about 1 s).
MAX_CONFIG_FILE_BYTES = 1 << 20


def read_yaml(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The --config file's good settings (keyed by field name) and a problem for each bad one, which `load_effective`
    reports with the rest; a SettingsError when the file as a whole cannot be read."""
    where = f"setting --config ({CONFIG_PATH_ENV}): {path}"
    try:
        text = read_setting_file(path, where, MAX_CONFIG_FILE_BYTES).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{where}: is not UTF-8 text (bad byte at offset {exc.start})") from None
    # Imported here: PyYAML is needed only with a config file, and most deployments use env vars alone.
    import yaml

    try:
        # The reader checks every character as it is made: a control character (a raw NUL, an ESC) ended the run as
        # "unexpected error: ReaderError", exit 1.
        loader = yaml_12_loader()(text)
    except yaml.reader.ReaderError as exc:
        raise SettingsError(
            f"{where}: holds a character YAML does not allow (U+{exc.character:04X} at offset {exc.position}); "
            "remove it"
        ) from None
    try:
        node = loader.get_single_node()  # what yaml.safe_load does, with the document's lines kept for repeated_setting
        repeated = repeated_setting(node, Settings.model_fields) if node is not None else ""
        if repeated:
            raise SettingsError(f"{where}: {repeated}")
        if node is not None and expanded_values(node, {}) > MAX_CONFIG_VALUES:
            raise SettingsError(
                f"{where}: holds more than {MAX_CONFIG_VALUES:,} values (an alias counts its value at each use)"
            )
        data = (loader.construct_document(node) if node is not None else None) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        if (problem := getattr(exc, "problem", None)) in INT_PROBLEMS:
            raise SettingsError(f"{where}: holds {problem}{at}") from None
        raise SettingsError(f"{where}: is not valid YAML{at}") from None
    except RecursionError:
        raise SettingsError(f"{where}: is nested too deeply") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise SettingsError(f"{where}: must hold a mapping of setting: value")
    out: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in data.items():
        name = str(key).replace("-", "_").lower()
        bare = name.removeprefix(ENV_PREFIX.lower())
        if name not in Settings.model_fields and bare != name and bare in Settings.model_fields:
            # `BATON_API_KEY: …` copied from a Secret: "did you mean BATON_API_KEY" would name the key itself.
            problems.append(
                f"{where}: {str(key)!r} is the environment variable's name; in this file the setting is "
                f"{flag(bare).removeprefix('--')}"
            )
        elif (
            name not in Settings.model_fields
            and (snake := _CAMEL_HUMP.sub("_", str(key)).lower()) in Settings.model_fields
        ):
            # `syncSchedules: true` copied from the chart's `config` values: "did you mean BATON_SYNC_SCHEDULES
            # (--sync-schedules)?" named a variable and a flag, neither of them what the file takes.
            problems.append(
                f"{where}: {str(key)!r} is camelCase (as the chart's values are written); in this file the setting is "
                f"{flag(snake).removeprefix('--')}"
            )
        elif name not in Settings.model_fields:
            problems.append(f"{where}: unknown setting {shown_value(str(key))}{_did_you_mean(name)}")
        elif _given(value, name):
            try:
                out[name] = _as_yaml_value(name, value, where)
            except SettingsError as exc:
                problems.extend(exc.problems)
    return out, problems


_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
"""Where a camelCase name (the chart's `syncSchedules`, `c1zTempDir`) has a word boundary."""


def _as_yaml_value(name: str, value: Any, where: str) -> Any:
    """A YAML value of the kind the setting takes, else a SettingsError naming the setting and both kinds.

    The model would take a YAML `true` as the number 1 (`sync-interval: true` is a sync every second,
    `health-check-port: false` any free port), and refused a number where text is expected without the fix (YAML
    reads `host-id: 0123` as 83: quote it), for a file name as "not a valid path for <class 'pathlib.Path'>".
    """
    annotation = Settings.model_fields[name].annotation
    kinds = {annotation, *get_args(annotation)}
    text = f"{where}: {flag(name).removeprefix('--')} is"
    if bool in kinds:
        return value  # a switch: true/false, yes/no, "true" (the model refuses the rest, naming the setting)
    if kinds & {int, float}:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise SettingsError(f"{text} {yaml_kind(value)}, not a number")
        return value
    if get_origin(annotation) is list:
        if not isinstance(value, list | str):
            raise SettingsError(f"{text} {yaml_kind(value)}, not text or a list of text{quote_it(value)}")
        for at, item in enumerate(value if isinstance(value, list) else [], 1):
            if not isinstance(item, str):
                raise SettingsError(f"{text} {yaml_kind(item)} (item {at}), not text{quote_it(item)}")
        return value
    if name == "invoke_action_args" and isinstance(value, dict):
        try:
            # The arguments written as a YAML mapping: the JSON object they stand for. allow_nan=False: a YAML `.inf` or
            # `.nan` was written as `Infinity`, which the JSON check then refused as "is not valid JSON (expected an
            # object…)" of a file that holds no JSON.
            return json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise SettingsError(
                f"{text} a mapping that JSON cannot carry (a date, binary data, .inf or .nan, a mapping holding itself "
                "through an alias)"
            ) from None
    if not isinstance(value, str):
        raise SettingsError(f"{text} {yaml_kind(value)}, not text{quote_it(value)}")
    return value


def _list_entries(value: str) -> list[Any]:
    """A list setting's text as entries: comma-separated, or a JSON list (the Helm chart renders one); ValueError."""
    if not value.strip().startswith("["):
        return value.split(",")
    try:
        entries = json.loads(value)
    except RecursionError:  # not a ValueError, so pydantic would let it escape as a traceback
        raise ValueError("the JSON list is nested too deeply") from None
    except ValueError:
        raise ValueError("is neither a comma-separated list nor a JSON list") from None
    return entries if isinstance(entries, list) else [entries]


def require_service_mode(settings: Settings, sources: Mapping[str, str] | None = None) -> None:
    """SettingsError when `--require-service-mode` is set and the client id is not, so the run would be a one-shot one.
    `sources`: where each setting came from (`Effective.sources`), for the way out the refusal names.

    Checked when the run starts, not by the model: `config` still shows such a pod's settings, to find what is
    missing, and whatever loads a pod's settings without its Secret still loads them."""
    if not settings.require_service_mode or settings.service_mode:
        return
    action = settings.one_shot_action
    if action is not None:
        # Asked for on purpose (a revoke by hand in the pod, whose environment sets this): "the client id is missing"
        # sent the operator to add it, and with it the action is refused as one that cannot run in service mode.
        # Named as what it is, with the way to run it.
        # Given as a flag, the flag wins over the variable: "or BATON_REQUIRE_SERVICE_MODE=false" was refused again.
        way_out = (
            f"drop {flag('require_service_mode')} (and add --no-require-service-mode where {env('require_service_mode')}"
            " or the --config file sets it too)"
            if sources is not None and sources.get("require_service_mode") == "flag"
            else f"run the action with --no-require-service-mode or {env('require_service_mode')}=false"
        )
        raise SettingsError(
            f"{flag(action)} is a one-shot action, and {flag('require_service_mode')} ({env('require_service_mode')}) "
            f"is set (the chart and deploy/ set it in the pod): {way_out}"
        )
    raise SettingsError(
        f"{named('client_id')}: missing: {flag('require_service_mode')} ({env('require_service_mode')}) is set, "
        "and service mode needs the ConductorOne client id and secret (in Kubernetes, in the Secret the pod reads); "
        "without them the run would be a one-shot sync that exits, and the pod would be restarted to run it again"
    )


def named(field_name: str) -> str:
    """How a message names a setting: `setting --flag (BATON_FLAG)`, both the ways to give it."""
    return f"setting {flag(field_name)} ({env(field_name)})"


def flag(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def env(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


SECRETS = tuple(name for name, info in Settings.model_fields.items() if SecretStr in get_args(info.annotation))


def allowed_values(field_name: str) -> str:
    """What a setting accepts, for --help: choices, a range, or a kind."""
    info = Settings.model_fields[field_name]
    annotation = info.annotation
    if field_name == "site":
        return "one of " + ", ".join(SITES)
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(str(v) for v in get_args(annotation) if v != "")
    if annotation in (int, float):
        bounds = {
            sign: bound
            for sign, attr in (("≥", "ge"), (">", "gt"), ("≤", "le"), ("<", "lt"))
            for m in info.metadata
            if (bound := getattr(m, attr, None)) is not None
        }
        kind = "an integer" if annotation is int else "a number"
        if set(bounds) == {"≥", "≤"}:
            return f"{kind} from {bounds['≥']} to {bounds['≤']}"
        # Every bound the model enforces: `--backoff-scale 2` was refused while --help said only "a number".
        return (
            " and ".join(
                [
                    f"{kind} {sign} {bound}" if i == 0 else f"{sign} {bound}"
                    for i, (sign, bound) in enumerate(bounds.items())
                ]
            )
            or kind
        )
    return ""


def shown_default(field_name: str) -> str:
    info = Settings.model_fields[field_name]
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if extra.get("shown"):
        return str(extra["shown"])
    default = info.default
    if default is None or default == "" or default == []:
        return "none"
    if isinstance(default, bool):
        return str(default).lower()
    return str(default)


class _SettingsParser(argparse.ArgumentParser):
    """argparse's refusals as one SettingsError line (its own exit printed the usage above it)."""

    def error(self, message: str) -> NoReturn:
        message = parser_refusal(message)
        missing = re.fullmatch(r"argument (-[^/:]+)(?:/[^:]+)?: expected one argument", message)
        if missing:
            # pflag takes `--api-key -x…` as the value; argparse takes `-x…` for a flag and finds no value.
            message += f" (give it one; a value that starts with '-' is written {missing[1]}=VALUE)"
        raise SettingsError(message)


_IGNORED_VALUE = re.compile(r"(argument \S+): ignored explicit argument .*", re.DOTALL)
_INVALID_CHOICE = re.compile(r"(argument \S+): invalid choice: (.*) (\(choose from .*\))", re.DOTALL)


def parser_refusal(message: str) -> str:
    """argparse's refusal without the value it quotes: `--no-sync-secrets=…`, `--version=…` or `-p…` (pflag: -p
    and more short flags) gave a switch a value, and a flag's value is never shown back (it may be a key). A value
    a flag of choices refused (`inspect -o …`) is quoted as a setting's is (`shown_value`): argparse quoted it
    whole, a key pasted there too."""
    ignored = _IGNORED_VALUE.fullmatch(message)
    if ignored:
        return f"{ignored[1]}: takes no value (what was given with it is not shown: it may be a key)"
    invalid = _INVALID_CHOICE.fullmatch(message)
    if invalid:
        try:
            given = ast.literal_eval(invalid[2])  # argparse writes the value as its repr
        except (ValueError, SyntaxError):
            given = None
        shown = shown_value(given) if isinstance(given, str) else "(not shown)"
        return f"{invalid[1]}: invalid choice {shown} {invalid[3]}"
    return message


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=40, width=120)


COMMANDS = (
    (
        "inspect [FILE]",
        "show what a .c1z sync file holds (default: $BATON_FILE, else sync.c1z; -f, -o json as in baton)",
    ),
    ("capabilities", "print the connector's metadata and capabilities (what Hello sends) as JSON"),
    ("config", "print the effective settings and where each came from (secrets redacted)"),
    ("help [COMMAND]", "show this help, or a command's"),
    ("completion SHELL", "print a completion script for bash, zsh or fish (as cobra's)"),
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Flags generated from the model, grouped; defaults are None so only given flags override env and file.

    `command` (`config`, `capabilities`) is a command that takes the settings flags: its help says what it does
    and takes (`config` also `--json`), not the whole program's usage with a command slot it does not have."""
    prog = "baton-datadog" + (f" {command}" if command else "")
    width = max(len(name) for name, _ in COMMANDS)
    commands = "\n".join(f"  {name:<{width}}  {text}" for name, text in COMMANDS)
    if command:
        text = next(text for name, text in COMMANDS if name == command)
        usage = f"{prog} [FLAGS]" + (" [--json]" if command == "config" else "")
        description = (
            f"{text[0].upper()}{text[1:]}. It reads the settings as a run does (flags, BATON_* variables, --config)."
        )
        if command == "config":
            # What the run refuses at start is said too, and how: a Secret checked with `config` before a deploy.
            description += (
                " It then makes the checks a run makes at start for the mode the settings select (paths, TLS and "
                "proxy variables, credentials) that write and connect nothing, and prints each refusal of a value given "
                'as `error: ` and the run\'s own line on stderr (with --json: in its "errors" list); exit 2 if any, as '
                "the run would, else 0. What is missing (the keys) and what this process decides (its limits, the "
                "system's temp directory) is said as a warning."
            )
    else:
        usage = f"{prog} [COMMAND] [FLAGS]"
        description = (
            "Sync Datadog into a ConductorOne c1z (one-shot), or run as a ConductorOne service "
            f"(with --client-id).\n\ncommands:\n{commands}\n  {'(none)':<{width}}  sync, or serve in service mode"
        )
    parser = _SettingsParser(
        prog=prog,
        usage=usage,
        description=description,
        epilog="Every flag is also read from BATON_<FLAG> (e.g. --api-key ↔ BATON_API_KEY). "
        "Precedence: flag > environment > --config file.",
        argument_default=argparse.SUPPRESS,
        formatter_class=_Formatter,
        allow_abbrev=False,  # like baton-sdk's flags: a typo is an error, never a silently different setting
    )
    if command == "config":
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    # The program's name, not `prog`: `baton-datadog config --version` is the same build as `baton-datadog --version`.
    # `-v` too, as cobra gives every baton-sdk connector.
    parser.add_argument("-v", "--version", action="version", version=f"baton-datadog {package_version()}")
    parser.add_argument("--config", help=f"YAML file of settings [{CONFIG_PATH_ENV}]")
    groups = {name: parser.add_argument_group(name) for name in GROUPS}
    for name, info in Settings.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        names = [flag(name)] + ([str(extra["short"])] if extra.get("short") else [])
        allowed = allowed_values(name)
        details = f"default: {shown_default(name)}" + (f"; {allowed}" if allowed else "")
        help_text = argparse.SUPPRESS if extra.get("hidden") else f"{info.description} ({details}) [{env(name)}]"
        group = groups[str(extra.get("group", "Datadog"))]
        if info.annotation is bool:
            group.add_argument(*names, dest=name, action=argparse.BooleanOptionalAction, help=help_text)
        elif get_origin(info.annotation) is list or name in _ONE_CHANGE:
            # Repeated, a list flag adds to the list, as baton-sdk's (pflag's) string slices do; a one-shot action's
            # flag is collected too, for `_one_change` to refuse a second value.
            group.add_argument(*names, dest=name, action="append", metavar=name.upper(), help=help_text)
        else:
            group.add_argument(*names, dest=name, metavar=name.upper(), help=help_text)
    return parser


def first_positional(argv: Sequence[str]) -> int | None:
    """Where the first argument that is neither a flag nor a flag's value is (None: there is none).

    Read with the flags of `build_parser`, so a value is skipped wherever it stands: in `--file config` and
    `--file=config`, `config` is a file name, not the command. A flag the parser does not know is taken to have
    no value (parsing then names it as unknown).
    """
    takes_value = flags_taking_values()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":  # argparse's end of flags: what follows is positional
            return i + 1 if i + 1 < len(argv) else None
        if not arg.startswith("-") or arg == "-":
            return i
        i += 2 if _value_follows(arg, takes_value) else 1  # `--flag=value` and `-fvalue` are one argument
    return None


def _value_follows(arg: str, takes_value: frozenset[str]) -> bool:
    """Whether the argument after `arg` is its value: `--file`, `-f`, and as pflag reads combined short flags,
    `-pf` (switches, then one that takes a value: the next argument), but not `-pfx.c1z` (the value is inside)."""
    if arg in takes_value:
        return True
    if arg.startswith("--") or len(arg) < 3 or "=" in arg:
        return False
    for at, letter in enumerate(arg[1:], start=1):
        if f"-{letter}" in takes_value:
            return at == len(arg) - 1
    return False


def unknown_flags(arg: str, known: frozenset[str], takes_value: frozenset[str]) -> bool:
    """Whether `arg` is a flag `known` lacks, or a cluster of short flags one of which it lacks: as pflag (and
    `_value_follows`) reads it, `-zq` is -z and -q, and `-pfx.c1z` is -p and -f, whose value x.c1z is not looked at."""
    if not arg.startswith("-") or arg in ("-", "--"):
        return False
    name = arg.partition("=")[0]
    if name.startswith("--") or len(name) <= 2:
        return name not in known
    for letter in name[1:]:
        if f"-{letter}" not in known:
            return True
        if f"-{letter}" in takes_value:
            return False  # what follows it is its value
    return False


def flags_taking_values(parser: argparse.ArgumentParser | None = None) -> frozenset[str]:
    """Every flag `parser` (else the settings parser) knows that takes a value, short and long."""
    parser = parser or build_parser()
    return frozenset(option for action in parser._actions if action.nargs != 0 for option in action.option_strings)


def known_flags(parser: argparse.ArgumentParser | None = None) -> frozenset[str]:
    """Every flag `parser` (else the settings parser) knows, short and long, with `--no-` forms."""
    parser = parser or build_parser()
    return frozenset(option for action in parser._actions for option in action.option_strings)


# What an unknown flag's name may look like to be quoted back; anything else is counted, never shown. Underscores
# too: `--client_id` is the variable's spelling of a flag (a Datadog key, all hexadecimal, holds none).
_FLAG_NAME = re.compile(r"--?[A-Za-z][A-Za-z0-9_-]{0,59}")


# Dashes a formatted page (a wiki, a chat, a PDF) puts where `--` was typed: the argument is then no flag at all.
_DASH_LOOKALIKES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")


def dash_lookalike(arg: str) -> str:
    """What is wrong with an argument that starts with a dash look-alike (an en dash before `-file`, an em dash
    before `api-key`), else "". Only the character is named, never the argument: what follows it may be a key."""
    if arg[:1] not in _DASH_LOOKALIKES:
        return ""
    import unicodedata

    return (
        f"starts with {arg[0]!r} ({unicodedata.name(arg[0])}), not '-': type the flag's dashes again "
        "(a flag copied from a formatted page?)"
    )


# Characters that show as nothing: a BOM (U+FEFF) or zero-width one pasted with a value from a page or a file.
_INVISIBLE = frozenset("\ufeff\u200b\u200c\u200d\u2060")


def invisible_edge(value: str) -> str:
    """What is wrong with a value that starts or ends with an invisible character, else "". Only the character
    is named, never the value: it may be a key."""
    at = "starts" if value[:1] in _INVISIBLE else "ends" if value[-1:] in _INVISIBLE else ""
    if not at:
        return ""
    import unicodedata

    character = value[0] if at == "starts" else value[-1]
    return (
        f"{at} with an invisible character, U+{ord(character):04X} ({unicodedata.name(character)}): "
        "type the value again (pasted from a formatted page or a file with a BOM?)"
    )


def unknown_arguments(leftover: Sequence[str], known: frozenset[str] | None = None) -> str:
    """One line about what the flags parser did not know: the first unknown flag by name (never its value: a
    key or secret often follows a misspelt flag), with the closest of `known` (else the settings' flags), or for
    a baton-sdk setting this connector lacks, why (`sdk_only`); other arguments only counted."""
    # After `--` every argument is positional (argparse and pflag alike): `config -- --site` has no unknown flag,
    # and the `--` itself is no argument to count.
    end = leftover.index("--") if "--" in leftover else len(leftover)
    flags = [arg.partition("=")[0] for arg in leftover[:end] if arg.startswith("-") and arg != "-"]
    lookalike = next((problem for arg in leftover[:end] if (problem := dash_lookalike(arg))), "")
    leftover = [arg for at, arg in enumerate(leftover) if at != end]
    others = len(leftover) - (1 if flags or lookalike else 0)
    glued = next(
        (
            name
            for name in _SECRET_FLAGS
            if flags and flags[0].lower().startswith(name) and len(flags[0]) - len(name) >= MIN_SECRET_LENGTH
        ),
        None,
    )
    if flags and holds_key_shape(flags[0]):
        what = f"an unknown flag (not shown: it holds {KEY_SHAPE})"
    elif flags and glued is not None:
        # `--api-keyK`: the key written onto its flag (no space, no `=`) is a flag name to argparse, and was printed
        # back, a hexadecimal key or the client secret's text in it.
        what = (
            f"an unknown flag beginning with {glued} (not shown: what follows may be its value; "
            f"give it as {glued} VALUE or {glued}=VALUE)"
        )
    elif flags and _FLAG_NAME.fullmatch(flags[0]) and (why := sdk_only(flags[0])) is not None:
        what = f"{flags[0]} is {why}" + ("," if others else "")
    elif flags and _FLAG_NAME.fullmatch(flags[0]) and (why := from_a_file(flags[0])) is not None:
        what = f"{flags[0]} is not a setting: {why}" + ("," if others else "")
    elif flags and _FLAG_NAME.fullmatch(flags[0]):
        close = closest_flag(flags[0], (known or known_flags()) - HIDDEN_FLAGS)
        what = f"unknown flag {flags[0]}" + (f"; did you mean {close}?" if close else "")
    elif flags:
        what = "an unknown flag (not shown: it does not look like a flag name)"
    elif lookalike:
        what = f"an argument {lookalike}"
    else:
        what = f"{len(leftover)} unexpected argument(s) (not shown: one may be a key)"
        others = 0
    more = f" and {others} other argument(s) (not shown: one may be a key)" if others else ""
    return f"{what}{more}; see --help for the flags"


_PATH_STARTS = ("/", "./", "../", "~/")
"""How a file's path given where a Datadog key goes begins (`Settings._not_a_path`)."""

_SECRET_FLAGS = tuple(flag(name) for name in SECRETS)
"""The flags that take a secret (`--api-key`, `--app-key`, `--client-secret`)."""


# Settings --help does not list (test and escape hatches: `--insecure-base-url` sends both keys unencrypted): a
# guess never names one, nor its `--no-` form (they are left out of what `closest_flag` may name). `--url` was "did you
# mean --no-insecure-base-url?".
HIDDEN_FLAGS = frozenset(
    form
    for name, info in Settings.model_fields.items()
    if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("hidden")
    for form in (flag(name), "--no-" + flag(name).removeprefix("--"))
)


@dataclass(frozen=True)
class Effective:
    """Settings as loaded, where each came from (`flag`, `env`, `file`, `default`), and start-up warnings."""

    settings: Settings
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def load(argv: Sequence[str], *, command: str | None = None) -> Settings:
    """Parse flags, then build Settings from flags, the environment and the file; raise SettingsError."""
    return load_effective(argv, command=command).settings


def load_effective(argv: Sequence[str], *, command: str | None = None) -> Effective:
    """Settings, the source of each value, and warnings about unknown `BATON_*` variables (of os.environ,
    which pydantic-settings reads).

    A refusal never quotes a secret this run was given: a value pasted in the wrong place too (the client secret as
    `--file` or `--health-check-bind-address`, the API key as `--sync-resources`) was printed back whole, as no
    secret is known to the log redactor before the settings load. Whatever shape the secret has: a key's shape
    (`keyshape.shown_value`) is only what a key looks like."""
    secrets: list[str] = []
    try:
        return _load_effective(argv, command, secrets)
    except SettingsError as exc:
        if not secrets:
            raise
        raise SettingsError(*(blank_out(problem, secrets, REDACTED) for problem in exc.problems)) from None


def _given_secrets(*sources: Mapping[str, Any]) -> list[str]:
    """The secret settings' values in `sources` (flags, the environment by variable name, the file)."""
    return [
        form
        for name in SECRETS
        for source in sources
        for key in (name, env(name))
        for form in _secret_forms(source.get(key))
    ]


def _secret_forms(value: object) -> list[str]:
    """A secret value as given and as read (a Secret made with `echo` keeps a newline the setting trims); none when it
    is too short to be one (`MIN_SECRET_LENGTH`)."""
    if isinstance(value, str) and len(value.strip()) >= MIN_SECRET_LENGTH:
        return [value, value.strip()]
    return []


def given_secrets(argv: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """The secrets the command line, the environment and the --config file give, read by hand (`--api-key K`,
    `--api-key=K`; the last flag and a variable alike; the file's `api-key: K`): for the process boundary
    (connector/cli.py), where the settings may be what failed and no secret is known to the log redactor yet."""
    flags = {flag(name) for name in SECRETS}
    found = _given_secrets(environ)
    config = environ.get(CONFIG_PATH_ENV, "")
    for at, arg in enumerate(argv):
        if arg == "--":  # what follows is no flag
            break
        name, equals, value = arg.partition("=")
        following = "".join(argv[at + 1 : at + 2])
        if name in flags and (equals or _taken_as_a_value(following)):
            found += _secret_forms(value if equals else following)
        if name == "--config" and (equals or _taken_as_a_value(following)):
            config = value if equals else following
    return found + _file_secrets(config.strip())


def _file_secrets(config: str) -> list[str]:
    """The secret settings' values in the --config file `config`, read apart from `read_yaml` (a bug there may be what
    the boundary reports): as YAML where the file reads as a mapping, and line by line (`name: value`, unquoted), so a
    file YAML refuses, or a bug in its reader, still names them. None when the file cannot be read."""
    if not config:
        return []
    try:
        text = read_setting_file(Path(config), "", MAX_CONFIG_FILE_BYTES).decode("utf-8", "replace")
    except Exception:  # anything at all: this is the report of a failure, which must still be written
        return []
    found: list[str] = []
    with contextlib.suppress(Exception):
        loader = yaml_12_loader()(text)
        try:
            node = loader.get_single_node()
            if node is not None and expanded_values(node, {}) <= MAX_CONFIG_VALUES:
                data = loader.construct_document(node)
                if isinstance(data, dict):
                    found += _given_secrets({str(key).replace("-", "_").lower(): v for key, v in data.items()})
        finally:
            loader.dispose()
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if colon and key.strip().strip("'\"").replace("-", "_").lower() in SECRETS:
            found += [form for unquoted in _yaml_unquoted(value) for form in _secret_forms(unquoted)]
    return found


def _yaml_unquoted(value: str) -> list[str]:
    """A line's `value` out of YAML's quotes (and a comment after them), as written inside them and as YAML reads it
    (`''` in single quotes, JSON's escapes in double). Never with its quotes: a quoted client secret's first characters
    (`"secret-token:conductoro`) are no secret's, they begin every client secret and the format a refusal names."""
    value = value.strip()
    quote = value[:1]
    close = value.rfind(quote) if quote in ("'", '"') else 0
    if close <= 0:
        return [value.strip("'\"").strip()]
    inside = value[1:close]
    read = inside.replace("''", "'") if quote == "'" else inside
    if quote == '"':
        with contextlib.suppress(ValueError):
            read = json.loads(value[: close + 1])
    return [inside, read] if isinstance(read, str) else [inside]


def _taken_as_a_value(arg: str) -> bool:
    """Whether argparse takes `arg`, after a flag that wants a value, as that value: anything not starting with '-',
    and, starting with it, what reads as a negative number or holds a space (`--api-key --app-key K` gives
    `--api-key` no value; `--api-key -1234` and `--api-key "-a key"` give it theirs)."""
    return not arg.startswith("-") or " " in arg or _NEGATIVE_NUMBER.fullmatch(arg) is not None


# argparse's own test for a negative number (`_negative_number_matcher`).
_NEGATIVE_NUMBER = re.compile(r"-\d+$|-\d*\.\d+$")


def _load_effective(argv: Sequence[str], command: str | None, secrets: list[str]) -> Effective:
    """`load_effective`, adding to `secrets` each secret value as soon as it is read."""
    environ = os.environ
    secrets += _given_secrets(environ)
    # parse_known_args, not parse_args: argparse's own refusal quotes what it did not know, and that may be a secret
    # (`--client-secrett=...`, or `--app-kye` and the key after it).
    parser = build_parser(command)
    parsed, leftover = parser.parse_known_args(_explicit_booleans(argv))
    # A `--` with nothing after it ends the flags and leaves no argument (`baton-datadog "$@" --` in a wrapper, as
    # pflag takes it); argparse keeps it among what it did not take, and it was refused as "0 unexpected
    # argument(s)".
    if leftover and leftover != ["--"]:
        raise SettingsError(unknown_arguments(leftover, known_flags(parser)))
    flagged = vars(parsed)
    flagged.pop("json", None)  # `config --json`: how to print, not a setting
    _one_change(flagged)
    for name, value in flagged.items():
        if isinstance(value, list):  # a repeated list flag: one value each time, each comma-separated or JSON
            parts = [part for part in value if _given(part, name)]
            try:
                # Each read on its own: joined with commas, a JSON value among them was no longer JSON.
                flagged[name] = (
                    [entry for part in parts for entry in _list_entries(part)] if parts[1:] else "".join(parts)
                )
            except ValueError as exc:
                raise SettingsError(f"{named(name)}: {exc}") from None
    for name in ONE_SHOT_ACTIONS:
        if name in flagged and not _given(flagged[name]):
            # Everywhere else an empty value means "not set"; here that turned `--revoke-grant "$GRANT"` with the
            # variable unset into a full sync that exited 0, as if the access had been revoked.
            raise SettingsError(
                f"{named(name)}: the flag is given an empty value (an unset variable?); "
                "nothing was run. Give it a value, or leave the flag out to sync"
            )
    args = {k: v for k, v in flagged.items() if _given(v, k)}
    secrets += _given_secrets(args)
    # Read as every other setting is (`_as_meant`): a Secret made with `echo` keeps its newline, and an empty value
    # is "not set". As a Path, `--config ""` was `.` (refused as no regular file) and the newline part of the name.
    config = str(args.pop("config", "")).strip() or environ.get(CONFIG_PATH_ENV, "").strip()
    if problem := invisible_edge(config) or (_in_quotes("read") if _wrapped_in_quotes(config) else ""):
        raise SettingsError(f"setting --config ({CONFIG_PATH_ENV}): {problem}")
    data, problems = read_yaml(Path(config)) if config else ({}, [])
    secrets += _given_secrets(data)
    for name in ONE_SHOT_ACTIONS:
        variable = environ.get(env(name))
        if variable is not None and not variable.strip() and name not in args and name not in data:
            # The flag's case above, as a variable: `BATON_REVOKE_GRANT="$GRANT" baton-datadog -p` with GRANT unset
            # ran a full sync and exited 0, as if the access had been revoked.
            raise SettingsError(
                f"{named(name)}: the variable is set to an empty value (an unset variable?); "
                "nothing was run. Give it a value, or unset it to sync"
            )
    known = {env(name) for name in Settings.model_fields}
    present = {key for key in environ if _read_env_name(key)}
    given = {key for key, value in environ.items() if key in present and _given(value, _env_field(key))}
    _YamlSource.data = data
    # Every place each setting was given, in precedence order: the first is its source.
    places = {
        name: [
            where
            for where, set_there in (("flag", name in args), ("env", env(name) in given), ("file", name in data))
            if set_there
        ]
        for name in Settings.model_fields
    }
    given_at = _GIVEN_AT.set(places)
    try:
        settings = Settings(**args)
    except ValidationError as exc:
        # With the file's own problems: each is named at once, not one per run.
        raise SettingsError(*problems, *describe(exc)) from None
    except PydanticSettingsError as exc:  # an environment value pydantic-settings could not even decode
        raise SettingsError(*problems, f"settings: {exc}") from None
    finally:
        _YamlSource.data = {}
        _GIVEN_AT.reset(given_at)
    if problems:
        raise SettingsError(*problems)
    sources = {name: where[0] if where else "default" for name, where in places.items()}
    warnings = [
        f"unknown environment variable {key}{_did_you_mean(key.removeprefix(ENV_PREFIX).lower(), variable=True)}"
        for key in sorted(present - known - {CONFIG_PATH_ENV} - _OTHER_KNOWN_ENV)
    ]
    warnings += [
        f"environment variable {key} is not read: the names are upper-case, as in baton-sdk ({key.upper()})"
        for key in sorted(environ)
        if key.upper().startswith(ENV_PREFIX) and not _read_env_name(key)
    ]
    if config and (readable := _readable_secrets(Path(config), data)):
        warnings.append(readable)
    warnings += _shadowed(settings, places, {"flag": args, "env": environ, "file": data})
    warnings += [
        f"environment variable {key} is not read: this connector reads {env(name)} ({flag(name)}), as baton-sdk "
        "names it; none is given"
        for key, name in _DATADOG_CLIENT_ENV.items()
        if environ.get(key, "").strip()
        and sources[name] == "default"
        # A DD_SITE naming the default site changes nothing (a pod's Datadog agent settings): no word for it.
        and not (name == "site" and environ[key].strip().lower().rstrip(".") == settings.site)
    ]
    if not config and _is_file(SDK_DEFAULT_CONFIG):
        warnings.append(
            f"./{SDK_DEFAULT_CONFIG} is not read: baton-sdk reads it by default, this connector only a file it is "
            f"given (settings from the working directory could send the keys elsewhere); to use it, give "
            f"--config {SDK_DEFAULT_CONFIG} ({CONFIG_PATH_ENV})"
        )
    return Effective(settings, sources, warnings)


_PLACE_NAMES = {"flag": "as a flag", "env": "in the environment", "file": "in the --config file"}
_PLACE_VALUES = {"flag": "the flag's", "env": "the variable's", "file": "the file's"}
_UNREADABLE = object()
"""A value the settings refuse: unlike any they take."""
_SAME_LEVEL = {"warning": "warn"}


def _shadowed(settings: Settings, places: Mapping[str, list[str]], given: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A warning for each setting given in several places with different values: only the first place's is used
    (flag > environment > file), silently until now. A Deployment's `args` beside the chart's variables, or a key
    rotated in the Secret while an old one stays in the --config file or the command line, ran on the other value,
    and a rejected key's error never said there was another. The values are never shown: they may be secrets.

    Each value is compared as the settings read it (`_read_as`), not as it was spelled: `yes` and `true`, `warn` and
    `warning`, a site with its trailing dot and one without, a host name in capitals are one value. A value the
    settings would refuse differs from the one used."""
    ignored: dict[str, list[str]] = {}
    for place in ("env", "file"):  # a flag is never the one passed over
        raw = {
            name: given[place].get(env(name) if place == "env" else name)
            for name, where in places.items()
            if place in where[1:]
        }
        read = _read_as(settings, raw)
        for name in raw:
            if read.get(name, _UNREADABLE) != _comparable(name, getattr(settings, name)):
                ignored.setdefault(name, []).append(place)
    warnings = []
    for name, where in places.items():
        if name in ignored:
            others = " and ".join(_PLACE_NAMES[place] for place in ignored[name])
            warnings.append(
                f"{named(name)} is given {_PLACE_NAMES[where[0]]} and {others} with different values: "
                f"{_PLACE_VALUES[where[0]]} is used (flag > environment > file)"
            )
    return warnings


def _read_as(settings: Settings, raw: Mapping[str, Any]) -> dict[str, object]:
    """Values of settings another place gave (`raw`), as the settings read them beside the ones they were given (the
    same validators; the values given win over the environment's, as in any model built from values), by name; one
    the settings would refuse is left out, whatever the reason (a list nested past the JSON reader's depth raised
    RecursionError, which ended the run as "unexpected error"). All in one validation while they are all good: one
    per setting cost a whole validation each (2 CPU-s for a --config file of 80,000 targets beside 26 variables)."""
    if not raw:
        return {}
    base = {field: getattr(settings, field) for field in settings.model_fields_set}
    if (model := _validated(base | dict(raw))) is not None:
        return {name: _comparable(name, getattr(model, name)) for name in raw}
    read: dict[str, object] = {}
    for name, value in raw.items() if len(raw) > 1 else ():  # which of them is refused
        if (model := _validated(base | {name: value})) is not None:
            read[name] = _comparable(name, getattr(model, name))
    return read


def _validated(data: Mapping[str, Any]) -> Settings | None:
    try:
        return Settings.model_validate(data)
    except Exception:  # any refusal is "not the value used"; it is named where that value is used
        return None


_HOSTS = frozenset({"c1_api_host", "health_check_bind_address"})


def _comparable(name: str, value: Any) -> object:
    """A setting's value as read, in a form `==` compares: a secret's text, a log level's one name for its aliases, a
    host name in one case (DNS ignores it; a URL's path does not), an action's arguments as the object they are."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if name == "log_level":
        return _SAME_LEVEL.get(value, value)
    if name in _HOSTS and isinstance(value, str):
        return value.lower()
    if name == "base_url" and isinstance(value, str):
        parts = urlsplit(value)
        return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()
    if name == "invoke_action_args" and isinstance(value, str):
        try:
            return action_arguments(value)
        except (ValueError, RecursionError):
            return value
    return value


# The variables Datadog's own clients read (docs/spec/datadog-api.md §1.2), and the DATADOG_* forms its CI tool and
# Terraform provider read too. Set in a Datadog user's shell,
# they were ignored without a word: the sync went to the default site with the keys of another, and was refused as
# "the key may belong to another Datadog site", or it stopped at "missing required settings". Not read here either
# (the settings are baton-sdk's, and a shell's DD_SITE may be meant for another tool): named when the setting is not.
_DATADOG_CLIENT_ENV = {
    "DD_SITE": "site",
    "DD_API_KEY": "api_key",
    "DD_APP_KEY": "app_key",
    "DD_APPLICATION_KEY": "app_key",
    "DATADOG_SITE": "site",
    "DATADOG_API_KEY": "api_key",
    "DATADOG_APP_KEY": "app_key",
}

PLACEHOLDER = "REPLACE-ME"
"""How every credential of deploy/baton-datadog-secrets.yaml starts until it is filled in."""

SDK_DEFAULT_CONFIG = ".baton.yaml"
"""The file baton-sdk reads from the working directory when no config path is given (docs/spec/service-mode.md
§4.1). Not read here unless named: a Go user's settings in it were ignored without a word (another site, the
provisioning switch off), so its presence is warned about."""


def _is_file(path: str) -> bool:
    try:
        return Path(path).is_file()
    except OSError:  # a working directory we may not look into: nothing to warn about
        return False


def _readable_secrets(path: Path, data: Mapping[str, Any]) -> str:
    """A warning when the --config file holds a secret and other users may read it, else ""."""
    held = [flag(name).removeprefix("--") for name in SECRETS if name in data]
    try:
        mode = path.stat().st_mode
    except OSError:  # read a moment ago; gone now is no warning's business
        return ""
    if not held or not mode & (stat.S_IRGRP | stat.S_IROTH):
        return ""
    return (
        f"the --config file {path} holds {', '.join(held)} and other users may read it "
        f"(mode {stat.S_IMODE(mode):04o}); chmod 600 it"
    )


def _boolean_flags() -> dict[str, str]:
    """Each boolean setting's flags (long and short) and the setting's name."""
    out: dict[str, str] = {}
    for name, info in Settings.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if info.annotation is bool:
            out[flag(name)] = name
            if extra.get("short"):
                out[str(extra["short"])] = name
    return out


_BOOLEAN_FLAGS = _boolean_flags()
_TRUE, _FALSE = frozenset({"true", "t", "1"}), frozenset({"false", "f", "0"})


def switch_value(switch: str, value: str) -> str | None:
    """What is wrong when `value`, a positional argument, is a truth value right after the switch `switch`
    (`-p false`, `--sync-secrets true`), else None. pflag takes a switch's value only after `=` (so does this CLI);
    the word was refused as "unknown command 'false'", which said neither what was meant nor how to write it."""
    if switch not in _BOOLEAN_FLAGS or value.lower() not in _TRUE | _FALSE:
        return None
    negation = f"; or {flag(_BOOLEAN_FLAGS[switch]).replace('--', '--no-', 1)}" if value.lower() in _FALSE else ""
    return (
        f"{value!r} after the switch {switch} is no command: a switch takes its value after '=', as in baton-sdk: "
        f"{switch}={value}{negation}"
    )


def _explicit_booleans(argv: Sequence[str]) -> list[str]:
    """`--flag=true` and `--flag=false`, as Go's pflag takes them (and so a baton-sdk user types), become
    `--flag` and `--no-flag`: argparse's switches take no value. Anything else after `=` is named as a mistake
    (not quoted: a flag's value is not shown back)."""
    out: list[str] = []
    for at, whole in enumerate(argv):
        if whole == "--":
            return out + list(argv[at:])
        *switches, arg = _short_flags(whole)
        out += switches
        name, equals, value = arg.partition("=")
        field_name = _BOOLEAN_FLAGS.get(name)
        if not (equals and field_name):
            out.append(arg)
        elif value.strip().lower() in _TRUE:
            out.append(flag(field_name))
        elif value.strip().lower() in _FALSE:
            out.append(f"--no-{flag(field_name).removeprefix('--')}")
        else:
            raise SettingsError(f"{named(field_name)}: {name}=VALUE takes true or false")
    return out


def _short_flags(arg: str) -> list[str]:
    """Combined short switches apart, as pflag reads them: `-pf=x.c1z` is `-p -f=x.c1z` (argparse read `=x.c1z`
    as the file's name). Anything else is left whole."""
    if arg.startswith("--") or not arg.startswith("-"):
        return [arg]
    for at in range(1, len(arg) - 1):
        if f"-{arg[at]}" in _BOOLEAN_FLAGS:
            continue
        if at > 1 and arg[at + 1] == "=":  # switches, then a flag with its value after `=`
            return [f"-{letter}" for letter in arg[1:at]] + [f"-{arg[at:]}"]
        break
    return [arg]


def _given(value: Any, name: str = "") -> bool:
    """Whether a raw value of setting `name` sets anything: an empty or null one (a chart's or a YAML file's "not set")
    does not, nor a list setting's text of separators alone. `BATON_SYNC_RESOURCES="$ROLE,$TEAM"` with both unset
    (",") was an empty list that won over the --config file's targets, silently: the run synced everything."""
    if value is None:
        return False
    if not isinstance(value, str):
        return True
    text = value.strip()
    return bool(text) and not (name in _LISTS and not text.startswith("[") and not text.replace(",", "").strip())


# Settings whose text is comma-separated entries (`_list_entries`).
_LISTS = frozenset({"sync_resource_types", "sync_resources"})


# BATON_* variables read by other parts of the process, not settings of this model.
_OTHER_KNOWN_ENV = frozenset({f"{ENV_PREFIX}SDK_VERSION"})

_OTEL = "no OpenTelemetry export: the metrics are Prometheus's, at /metrics"
_EXTERNAL = "no external resources are merged into the sync"
_TICKETS = "Datadog has no ticketing; ticket tasks are answered as unsupported"
_EVENTS = "there is no event feed: access changes reach ConductorOne through full syncs"
_DIFF = "there are no diff syncs; every sync is a full one"
_COMPACT = "there is no compaction: each c1z holds one sync"
_ACTIONS = "the actions are enable_user, disable_user and update_user, run with --invoke-action (README)"
_RESOURCE_ACTIONS = "there are no per-resource actions; enable_user, disable_user and update_user are --invoke-action"
_ROTATE = "Datadog cannot rotate a key in place; ConductorOne issues a new credential and deletes the old one instead"
_LAMBDA = "there is no lambda mode: run the connector as a daemon (service mode) or one-shot"
_HTTP_CACHE = "Datadog answers are never cached: every sync reads them afresh"
_DECODER = "the c1z reader's decompression cap is fixed (docs/c1z.md)"
# baton-sdk's own settings (docs/spec/service-mode.md §4.3) that this connector does not implement, and why: a
# baton user's habit (a copied Secret, a Go config file, a flag from the SDK's README) is answered with the reason,
# not with "unknown" and a near miss that means something else.
SDK_ONLY_SETTINGS: dict[str, str] = {
    "ticketing": _TICKETS,
    "log_path": "logs go to stderr only; collect them from there",
    "log_level_debug_expires_at": "it is read in baton-sdk's lambda mode only",
    "workers": "the sync's concurrency is --datadog-concurrency",
    "parallel_sync": "the sync's concurrency is --datadog-concurrency",
    "storage_engine": "c1z files are always SQLite",
    "keep_previous_sync_c1z": "every sync reads Datadog afresh (no ETag replay)",
    "session_store_maximum_size": "there is no session store",
    "auth_method": "Datadog is reached with --api-key and --app-key only",
    "external_resource_c1z": _EXTERNAL,
    "external_resource_entitlement_id_filter": _EXTERNAL,
    "external_resource_traits": _EXTERNAL,
    "otel_collector_endpoint": _OTEL,
    "otel_collector_endpoint_tls_cert_path": _OTEL,
    "otel_collector_endpoint_tls_cert": _OTEL,
    "otel_collector_endpoint_tls_insecure": _OTEL,
    "otel_tracing_disabled": _OTEL,
    "otel_logging_disabled": _OTEL,
    # The SDK's one-shot flags (docs/spec/service-mode.md §4.3) that run what this connector has no part for:
    # their closest names here (`--delete-resource` → `--sync-resources`) mean something else.
    "ticket_id": _TICKETS,
    "create_ticket": _TICKETS,
    "bulk_create_ticket": _TICKETS,
    "bulk_ticket_template_path": _TICKETS,
    "ticket_template_path": _TICKETS,
    "get_ticket": _TICKETS,
    "list_ticket_schemas": _TICKETS,
    "list_schemas": _TICKETS,  # list_ticket_schemas' name in baton-sdk's cobra-only releases (pkg/cli/cli.go)
    "event_feed": _EVENTS,
    "event_feed_id": _EVENTS,
    "event_feed_start_at": _EVENTS,
    "event_feed_cursor": _EVENTS,
    "diff_syncs": _DIFF,
    "base_sync_id": _DIFF,
    "applied_sync_id": _DIFF,
    "compact_syncs": _COMPACT,
    "compact_output_path": _COMPACT,
    "compact_file_paths": _COMPACT,
    "compact_sync_ids": _COMPACT,
    "list_action_schemas": _ACTIONS,
    "list_action_schemas_resource_type": _ACTIONS,
    "invoke_action_resource_type": _RESOURCE_ACTIONS,
    "list_resource_actions": _RESOURCE_ACTIONS,
    "invoke_resource_action": _RESOURCE_ACTIONS,
    "invoke_resource_action_resource_type": _RESOURCE_ACTIONS,
    "invoke_resource_action_args": _RESOURCE_ACTIONS,
    "rotate_credentials": _ROTATE,
    "rotate_credentials_type": _ROTATE,
    "create_account_login": "a Datadog user is made from its email, which is its login: --create-account-email",
    "create_account_profile": "the profile's fields are flags: --create-account-name, --create-account-title",
    "create_account_resource_type": "the one account type is user",
    "lambda_client_id": _LAMBDA,
    "lambda_client_secret": _LAMBDA,
    "lambda_auth_jwt_signer": _LAMBDA,
    "lambda_auth_jwt_jwks_url": _LAMBDA,
    "lambda_auth_jwt_expected_issuer": _LAMBDA,
    "lambda_auth_jwt_expected_subject": _LAMBDA,
    "lambda_auth_jwt_expected_audience": _LAMBDA,
    "log_event_log": "logs go to stderr only (there is no Windows event log)",
    # Variables the SDK reads directly (§4.4): storage and HTTP internals this connector does not have.
    "get_tasks": "the daemon polls with GetTask, one task per poll; there is no batched GetTasks mode",
    # "did you mean BATON_C1Z_TEMP_DIR?" read as a typo of it; the SDK's fallback for that setting is not read here.
    "tmpdir": "the working files' directory is --c1z-temp-dir (BATON_C1Z_TEMP_DIR) alone, else the system's",
    "skip_cleanup": "working files are always removed, and a dead process's are swept at the next start",
    "keep_sync_count": "a c1z keeps only its latest sync",
    "c1z_finalize_timeout": "a c1z is saved as its sync ends, within the sync's own bounds",
    "decoder_max_decoded_size_mb": _DECODER,
    "decoder_max_memory_mb": _DECODER,
    "http_cache_ttl": _HTTP_CACHE,
    "http_cache_max_size": _HTTP_CACHE,
    "http_cache_backend": _HTTP_CACHE,
    "http_cache_behavior": _HTTP_CACHE,
    "disable_http_cache": _HTTP_CACHE,
    "debug_print_response_body": "Datadog's bodies are never logged: they hold users' personal data",
}


def sdk_only(name: str) -> str | None:
    """Why a baton-sdk setting (`ticketing`, `--ticketing`, `BATON_TICKETING`) is not one of this connector's."""
    key = name.lstrip("-").lower().removeprefix(ENV_PREFIX.lower()).replace("-", "_")
    reason = SDK_ONLY_SETTINGS.get(key)
    return f"a baton-sdk setting baton-datadog does not implement ({reason})" if reason else None


def from_a_file(name: str) -> str | None:
    """Why `--api-key-file`, `BATON_API_KEY_FILE` or a YAML file's `api-key-file` is not read: the `*_FILE` form of a
    setting (Docker's secrets convention; a Kubernetes Secret mounted as files) was "did you mean --file?", the
    setting that names the sync's c1z, and the key was then missing, or the guess followed and the c1z renamed."""
    key = name.lstrip("-").lower().removeprefix(ENV_PREFIX.lower()).replace("-", "_")
    base = key.removesuffix("_file")
    if base == key or base not in Settings.model_fields:
        return None
    annotation = Settings.model_fields[base].annotation
    if annotation is Path or Path in get_args(annotation):
        # --ca-bundle-file, --file-file: the setting is itself a path, and "the value itself" put PEM text where a
        # file name goes (`config` showed it as the path, and the run failed on it).
        return f"{env(base)} ({flag(base)}) names the file itself: give the path there, e.g. {env(base)}=/path/to/FILE"
    return (
        f"no setting is read from a file named by a *_FILE variable, flag or key (Docker's secrets convention): give "
        f'{env(base)} ({flag(base)}) the value itself, e.g. {env(base)}="$(cat FILE)", or a Kubernetes Secret as '
        "variables (envFrom), not as files"
    )


def _did_you_mean(name: str, *, variable: bool = False) -> str:
    """The closest setting to `name`; for a `variable`, BATON_CONFIG_PATH is one too (it is no field of the model):
    `BATON_CONFIG` or `BATON_CONFIG_FILE` was "not a setting of this connector", and the file it named unread."""
    if (why := sdk_only(name) or from_a_file(name)) is not None:
        return f": {why}"
    # The flags' guess (`closest_flag`), so a variable and a file key are guessed as a flag is: by spelling alone,
    # BATON_SECRET was "did you mean BATON_SYNC_SECRETS" and BATON_GRANT "BATON_SKIP_GRANTS".
    config = CONFIG_PATH_ENV.removeprefix(ENV_PREFIX).lower()
    fields = {flag(field_name): field_name for field_name in [*Settings.model_fields, *([config] if variable else [])]}
    close = closest_flag(f"--{name}", frozenset(fields) - HIDDEN_FLAGS)
    if variable and name.lower().startswith("config"):  # BATON_CONFIG, BATON_CONFIG_FILE: a file of settings
        close = flag(config)
    if close is None:
        return " (not a setting of this connector)"
    if fields[close] == config:
        return f"; did you mean {CONFIG_PATH_ENV} (--config)?"
    return f"; did you mean {env(fields[close])} ({close})?"


KEY_SHAPED = "[holds a Datadog key's shape; not shown]"


def redacted(settings: Settings, resolved: Mapping[str, object] | None = None) -> dict[str, Any]:
    """Every setting's value for display: secrets show only whether they are set, and a value (or list entry) holding
    a Datadog key's shape is not shown either: a key pasted where an id goes (`--sync-resources role:<key>`) is
    refused when the run starts, but `config` printed it back. Nor a secret of these settings given to another one as
    well (the client secret as `--file`), whatever its shape. `resolved`: values the caller decided for a setting
    (`config`'s temp dir and host id, as the run decides them), shown in its place and kept back alike."""
    found = patterns(
        form
        for name in SECRETS
        if (secret := getattr(settings, name)) is not None
        for form in _secret_forms(secret.get_secret_value())
    )

    def shown(value: object) -> object:
        if not isinstance(value, str):
            return value
        # A file name's bytes that are not UTF-8 as `\\xff`, as every line names them: kept as lone surrogates,
        # `config --json` wrote `\\udcff`, half a surrogate pair, which strict JSON readers refuse.
        value = surrogates_escaped(value)
        return KEY_SHAPED if holds_key_shape(value) else blank_out_patterns(value, found, REDACTED)

    out: dict[str, Any] = {}
    for name in Settings.model_fields:
        value = (resolved or {}).get(name, getattr(settings, name))
        if name in SECRETS:
            out[name] = "[set, redacted]" if isinstance(value, SecretStr) and value.get_secret_value() else "[not set]"
        elif isinstance(value, Path):
            out[name] = shown(str(value))
        elif isinstance(value, list):
            out[name] = [shown(entry) for entry in value]
        else:
            out[name] = shown(value)
    return out


def describe(exc: ValidationError) -> list[str]:
    """One line per problem, naming flag and variable; pydantic's `input` (which may be a secret) is left out."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = [str(part) for part in error["loc"]]
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "literal_error" and len(loc) == 1 and loc[0] in Settings.model_fields:
            # pydantic lists the empty string too, which means "the default": say what --help says.
            message = f"Input should be {allowed_values(loc[0])}"
        if loc and loc[0] in Settings.model_fields:
            # A list's entry is named by its place: `[1, 2]` gave the same line twice, naming neither.
            item = f"item {int(loc[1]) + 1}: " if len(loc) > 1 and loc[1].isdigit() else ""
            lines.append(f"{named(loc[0])}: {item}{message}")
        elif loc:
            lines.append(f"setting {'.'.join(loc)}: {message} (not a known setting)")
        elif message.startswith("setting "):
            lines.append(message)  # a cross-field check that names its setting itself
        else:
            lines.append(f"settings: {message}")
    return lines
