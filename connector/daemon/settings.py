"""Every setting, once: a `BATON_*` environment variable and a `--flag` of the same name, plus an optional YAML file.

Precedence is flag > environment > file, as in the Go SDK. Secrets are `SecretStr`, so neither a repr nor a
validation error ever shows their value.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, JsonValue, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from connector.baton.ids import parse_resource_ref
from connector.datadog.sites import SITES, base_url_for, check_transport_security

ENV_PREFIX = "BATON_"
GROUPS = ("Datadog", "Sync", "Output and logging", "Service mode", "Operability")


def _f(default: Any, group: str, help: str, *, hidden: bool = False, short: str = "", **kw: Any) -> Any:
    """A field with the metadata the CLI builder needs (group, help text, hidden, short flag)."""
    extra: dict[str, JsonValue] = {"group": group, "hidden": hidden, "short": short}
    return Field(default, description=help, json_schema_extra=extra, **kw)


class SettingsError(ValueError):
    """A bad or missing setting; the message names the setting (flag and variable), never a secret value."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", case_sensitive=False)

    # -- Datadog ------------------------------------------------------------------------------------------
    site: str = _f("datadoghq.com", "Datadog", f"Datadog site: {', '.join(SITES)}")
    api_key: SecretStr | None = _f(None, "Datadog", "Datadog API key (DD-API-KEY)")
    app_key: SecretStr | None = _f(None, "Datadog", "Datadog application key (DD-APPLICATION-KEY)")
    # Before base_url: its validator reads this one.
    insecure_base_url: bool = _f(
        False, "Datadog", "allow a plain-http base URL off loopback (sends both keys unencrypted)", hidden=True
    )
    base_url: str = _f("", "Datadog", "API root override, for tests", hidden=True)
    http_timeout_seconds: int = _f(30, "Datadog", "per-request HTTP timeout in seconds", ge=1, le=1800)
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
    file: Path = _f(Path("sync.c1z"), "Output and logging", "one-shot output file", short="-f")
    log_level: Literal["debug", "info", "warn", "warning", "error"] = _f("info", "Output and logging", "log level")
    log_format: Literal["json", "console", ""] = _f(
        "", "Output and logging", "json or console (default: console when stderr is a terminal)"
    )

    # -- service mode -------------------------------------------------------------------------------------
    client_id: str = _f("", "Service mode", "ConductorOne client id; setting it switches to service mode")
    client_secret: SecretStr | None = _f(None, "Service mode", "ConductorOne client secret")
    c1_api_host: str = _f("", "Service mode", "ConductorOne API host[:port] override", hidden=True)
    host_id: str = _f("", "Service mode", "host id reported to ConductorOne (default: the hostname)")
    task_concurrency: int = _f(3, "Service mode", "tasks run at once", ge=1, le=100)
    skip_full_sync: bool = _f(False, "Service mode", "answer full-sync tasks with an empty sync")
    sync_interval: int = _f(0, "Service mode", "also run a full sync to --file every N seconds (0: off)", ge=0)
    c1z_temp_dir: Path | None = _f(None, "Service mode", "directory for working sync files (default: system temp)")
    shutdown_grace_seconds: float = _f(25.0, "Service mode", "on SIGTERM, how long in-flight tasks may finish", ge=0)
    backoff_scale: float = _f(
        1.0, "Service mode", "multiply every ConductorOne retry delay by this (tests: 0.01)", gt=0, le=1
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
        None, "Operability", "PEM bundle of CAs to trust for Datadog, the token endpoint and gRPC (else SSL_CERT_FILE)"
    )
    ready_window_seconds: float = _f(
        60.0, "Operability", "/readyz fails when ConductorOne was not reached for max(this, 3 x poll interval) s", gt=0
    )

    @field_validator("site")
    @classmethod
    def _known_site(cls, value: str) -> str:
        key = value.strip().lower().rstrip(".")
        if key not in SITES:
            raise ValueError(f"unknown Datadog site {value!r}; valid values are: {', '.join(SITES)}")
        return key

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            return ""
        url = base_url_for("datadoghq.com", value)
        check_transport_security(url, allow_insecure=bool(info.data.get("insecure_base_url")))
        return url

    @field_validator("sync_resource_types", "sync_resources", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().startswith("["):
                try:
                    return json.loads(value)  # a JSON list is accepted too (the Helm chart renders one)
                except RecursionError:  # not a ValueError, so pydantic would let it escape as a traceback
                    raise ValueError("the JSON list is nested too deeply") from None
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("sync_resources")
    @classmethod
    def _resource_refs(cls, value: list[str]) -> list[str]:
        for ref in value:
            parse_resource_ref(ref)  # ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _required_together(self) -> Settings:
        if self.client_id and self.client_secret is None:
            raise ValueError("client-secret is required in service mode (client-id is set)")
        if self.client_secret is not None and not self.client_id:
            raise ValueError("client-id is required in service mode (client-secret is set)")
        return self

    @property
    def service_mode(self) -> bool:
        return bool(self.client_id)

    @property
    def api_url(self) -> str:
        return self.base_url or base_url_for(self.site)

    def require_datadog_keys(self) -> tuple[SecretStr, SecretStr]:
        """Both keys, or a SettingsError naming the missing one."""
        for name in ("api_key", "app_key"):
            value = getattr(self, name)
            if value is None or not value.get_secret_value().strip():
                raise SettingsError(f"missing required setting {flag(name)} ({env(name)})")
        return self.api_key, self.app_key  # type: ignore[return-value]  # both checked just above

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
        return init_settings, env_settings, _YamlSource(settings_cls)


class _YamlSource(PydanticBaseSettingsSource):
    """The YAML file named by --config / BATON_CONFIG_PATH, with the Go SDK's kebab-case keys."""

    path: Path | None = None

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if _YamlSource.path is None:
            return {}
        try:
            data = yaml.safe_load(_YamlSource.path.read_text()) or {}
        except OSError as exc:
            raise SettingsError(
                f"setting --config ({ENV_PREFIX}CONFIG_PATH): cannot read {_YamlSource.path}: {exc.strerror}"
            ) from None
        except yaml.YAMLError:
            raise SettingsError(
                f"setting --config ({ENV_PREFIX}CONFIG_PATH): {_YamlSource.path} is not valid YAML"
            ) from None
        if not isinstance(data, dict):
            raise SettingsError(f"setting --config ({ENV_PREFIX}CONFIG_PATH): {_YamlSource.path} must hold a mapping")
        return {str(k).replace("-", "_").lower(): v for k, v in data.items()}


def flag(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def env(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def build_parser(prog: str = "baton-datadog") -> argparse.ArgumentParser:
    """Flags generated from the model, grouped; defaults are None so only given flags override env and file."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Sync Datadog into a ConductorOne c1z (one-shot), or run as a ConductorOne service (with --client-id).",
        epilog="Every flag is also read from BATON_<FLAG> (e.g. --api-key ↔ BATON_API_KEY). "
        "Precedence: flag > environment > --config file. `baton-datadog inspect FILE` shows what a c1z holds.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--config", type=Path, help="YAML file of settings (BATON_CONFIG_PATH)")
    groups = {name: parser.add_argument_group(name) for name in GROUPS}
    for name, info in Settings.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        names = [flag(name)] + ([str(extra["short"])] if extra.get("short") else [])
        help_text = argparse.SUPPRESS if extra.get("hidden") else f"{info.description} [{env(name)}]"
        group = groups[str(extra.get("group", "Datadog"))]
        if info.annotation is bool:
            group.add_argument(*names, dest=name, action=argparse.BooleanOptionalAction, help=help_text)
        else:
            group.add_argument(*names, dest=name, metavar=name.upper(), help=help_text)
    return parser


def load(argv: Sequence[str]) -> Settings:
    """Parse flags, then build Settings from flags, the environment and the file; raise SettingsError."""
    args = vars(build_parser().parse_args(list(argv)))
    config = args.pop("config", None) or os.environ.get(f"{ENV_PREFIX}CONFIG_PATH")
    _YamlSource.path = Path(config) if config else None
    try:
        return Settings(**args)
    except ValidationError as exc:
        raise SettingsError(describe(exc)) from None
    finally:
        _YamlSource.path = None


def describe(exc: ValidationError) -> str:
    """One line per problem, naming flag and variable; pydantic's `input` (which may be a secret) is left out."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = [str(part) for part in error["loc"]]
        if loc and loc[0] in Settings.model_fields:
            lines.append(f"setting {flag(loc[0])} ({env(loc[0])}): {error['msg'].removeprefix('Value error, ')}")
        elif loc:
            lines.append(f"setting {'.'.join(loc)}: {error['msg']} (not a known setting)")
        else:
            lines.append(f"settings: {error['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)
