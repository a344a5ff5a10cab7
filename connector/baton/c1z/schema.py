"""The v1 c1z SQLite schema, exactly as the Go SDK (v0.25.0) creates it.

Names, declared types, defaults and index definitions are the contract; whitespace is not. Two quirks are
kept on purpose: the `v1_resources` index names are swapped relative to their columns (a Go format-argument
order bug that every existing file carries), and timestamps are declared `datetime` because the Go driver
parses such columns into time values.
"""

from __future__ import annotations

from datetime import datetime

DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS v1_resource_types (
    id integer primary key,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_resource_types_external_sync_v1 on v1_resource_types (external_id, sync_id)",
    """CREATE TABLE IF NOT EXISTS v1_resources (
    id integer primary key,
    resource_type_id text not null,
    external_id text not null,
    parent_resource_type_id text,
    parent_resource_id text,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
)""",
    "CREATE INDEX IF NOT EXISTS idx_resources_resource_type_id_v1 on v1_resources (resource_type_id)",
    # Swapped names, as in every Go-written file: see the module docstring.
    "CREATE INDEX IF NOT EXISTS idx_resources_external_sync_v1 "
    "on v1_resources (parent_resource_type_id, parent_resource_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_resources_parent_resource_id_v1 on v1_resources (external_id, sync_id)",
    """CREATE TABLE IF NOT EXISTS v1_entitlements (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
)""",
    "CREATE INDEX IF NOT EXISTS idx_entitlements_resource_id_v1 on v1_entitlements (resource_type_id, resource_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_entitlements_external_sync_v1 on v1_entitlements (external_id, sync_id)",
    """CREATE TABLE IF NOT EXISTS v1_sync_runs (
    id integer primary key,
    sync_id text not null,
    started_at datetime not null,
    ended_at datetime,
    sync_token text not null,
    sync_type text not null default 'full',
    parent_sync_id text not null default '',
    linked_sync_id text not null default '',
    supports_diff integer not null default 0,
    grants_backfilled integer not null default 0,
    stats text,
    ingest_invariant_generation text not null default '',
    ingest_invariant_coverage text not null default '',
    ingest_invariant_mode text not null default ''
)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_sync_runs_sync_id_v1 on v1_sync_runs (sync_id)",
    """CREATE TABLE IF NOT EXISTS v1_grants (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    entitlement_id text not null,
    principal_resource_type_id text not null,
    principal_resource_id text not null,
    external_id text not null,
    expansion blob,
    needs_expansion integer not null default 0,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
)""",
    "CREATE INDEX IF NOT EXISTS idx_grants_resource_type_id_resource_id_v1 on v1_grants (resource_type_id, resource_id)",
    "CREATE INDEX IF NOT EXISTS idx_grants_principal_id_v1 "
    "on v1_grants (principal_resource_type_id, principal_resource_id)",
    "CREATE INDEX IF NOT EXISTS idx_grants_entitlement_id_principal_id_v1 "
    "on v1_grants (entitlement_id, principal_resource_type_id, principal_resource_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_grants_external_sync_v1 on v1_grants (external_id, sync_id)",
    "CREATE INDEX IF NOT EXISTS idx_grants_entitlement_sync_grant_v1 on v1_grants (entitlement_id, sync_id, id)",
    "CREATE INDEX IF NOT EXISTS idx_grants_sync_expansion_v1 on v1_grants (sync_id) where expansion is not null",
    "CREATE INDEX IF NOT EXISTS idx_grants_sync_needs_expansion_v1 on v1_grants (sync_id) where needs_expansion = 1",
    """CREATE TABLE IF NOT EXISTS v1_assets (
    id integer primary key,
    external_id text not null,
    content_type text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_assets_external_sync_v1 on v1_assets (external_id, sync_id)",
    """CREATE TABLE IF NOT EXISTS v1_connector_sessions (
    id integer primary key,
    sync_id text NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL
)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_session_store_sync_key_v1 on v1_connector_sessions (sync_id, key)",
)

# Columns that Go's migrations add to older files; a reader must not assume them.
SYNC_RUN_COLUMNS_ADDED_LATER: tuple[tuple[str, str], ...] = (
    ("linked_sync_id", "text not null default ''"),
    ("supports_diff", "integer not null default 0"),
    ("grants_backfilled", "integer not null default 0"),
    ("stats", "text"),
    ("ingest_invariant_generation", "text not null default ''"),
    ("ingest_invariant_coverage", "text not null default ''"),
    ("ingest_invariant_mode", "text not null default ''"),
)


def sqlite_time(moment: datetime | None = None) -> str:
    """Go's `2006-01-02 15:04:05.999999999` layout in local time: no zone, trailing fraction zeros trimmed.

    Go compares these as text (e.g. the 7-day resume cutoff), so ISO `T...Z` strings would sort wrongly.
    """
    local = (moment or datetime.now()).astimezone().replace(tzinfo=None)
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    if local.microsecond:
        text += "." + f"{local.microsecond:06d}".rstrip("0")
    return text


def parse_sqlite_time(text: str) -> datetime:
    """Inverse of `sqlite_time`; also accepts the nanosecond fractions Go may write."""
    head, _, fraction = text.partition(".")
    moment = datetime.strptime(head, "%Y-%m-%d %H:%M:%S")
    if fraction:
        moment = moment.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    return moment
