"""Benchmark: where the bytes of a c1z go, and what zstd level and VACUUM buy.

`python -m benchmarks.c1z_size FILE` (default: a one-shot sync of a 10,000-user org from the fake Datadog,
0 ms latency). Prints one JSON object: the c1z and database sizes; per table and index the pages SQLite uses
(`dbstat`); per table and column the raw bytes and what that column alone compresses to at level 3 (an
estimate of its share of the c1z); and the c1z size and compression seconds at several zstd levels, with and
without VACUUM. Each figure answers one question of issue 12 goal 4.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import zstandard

from connector.baton.c1z.envelope import LEVEL, WINDOW_LOG, decompress_to

LEVELS = (1, 3, 6, 9)
COLUMNS = {
    "v1_resource_types": ("external_id", "data", "sync_id", "discovered_at"),
    "v1_resources": (
        "resource_type_id",
        "external_id",
        "parent_resource_type_id",
        "parent_resource_id",
        "data",
        "sync_id",
        "discovered_at",
    ),
    "v1_entitlements": ("resource_type_id", "resource_id", "external_id", "data", "sync_id", "discovered_at"),
    "v1_grants": (
        "resource_type_id",
        "resource_id",
        "entitlement_id",
        "principal_resource_type_id",
        "principal_resource_id",
        "external_id",
        "expansion",
        "data",
        "sync_id",
        "discovered_at",
    ),
}


def analyse(c1z: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="c1z-size-") as tmp:
        db = Path(tmp) / "sync.db"
        decompress_to(c1z, db)
        conn = sqlite3.connect(db)
        pages = {
            name: {"pages": n, "bytes": used, "payload": payload}
            for name, n, used, payload in conn.execute(
                "SELECT name, count(*), sum(pgsize), sum(payload) FROM dbstat GROUP BY name ORDER BY 3 DESC"
            )
        }
        columns: dict[str, dict[str, dict[str, int]]] = {}
        cctx = zstandard.ZstdCompressor(level=3)
        for table, names in COLUMNS.items():
            columns[table] = {}
            # A Go-written file of an older SDK lacks newer columns (v1_grants.expansion): measure what it has.
            present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            for column in (c for c in names if c in present):
                raw = b"".join(
                    v if isinstance(v, bytes) else str(v).encode()
                    for (v,) in conn.execute(f"SELECT {column} FROM {table} ORDER BY id")
                    if v is not None
                )
                columns[table][column] = {"raw": len(raw), "zstd3": len(cctx.compress(raw)) if raw else 0}
        conn.close()
        levels = {"as_is": _levels(db)}
        vacuumed = Path(tmp) / "vacuumed.db"
        shutil.copyfile(db, vacuumed)
        started = time.monotonic()
        conn = sqlite3.connect(vacuumed)
        conn.execute("VACUUM")
        conn.close()
        vacuum_seconds = round(time.monotonic() - started, 2)
        levels["vacuumed"] = _levels(vacuumed)
        levels["vacuumed"]["vacuum_seconds"] = vacuum_seconds
        return {
            "c1z_bytes": c1z.stat().st_size,
            "db_bytes": db.stat().st_size,
            "dbstat": pages,
            "columns": columns,
            "levels": levels,
        }


def _levels(db: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"db_bytes": db.stat().st_size}
    data = db.read_bytes()
    for level in LEVELS:
        started = time.monotonic()
        size = len(zstandard.ZstdCompressor(level=level, write_checksum=True).compress(data))
        out[f"level_{level}"] = {"bytes": size, "seconds": round(time.monotonic() - started, 2)}
    started = time.monotonic()
    params = zstandard.ZstdCompressionParameters.from_level(LEVEL, window_log=WINDOW_LOG, write_checksum=True)
    size = len(zstandard.ZstdCompressor(compression_params=params).compress(data))
    out[f"ours_level_{LEVEL}_window_{1 << WINDOW_LOG >> 20}MiB"] = {
        "bytes": size,
        "seconds": round(time.monotonic() - started, 2),
    }
    return out


async def _sync_10k(path: Path) -> None:
    from connector.baton.sync.syncer import SyncOptions
    from connector.baton.sync.to_file import sync_to_file
    from connector.datadog.client import DatadogClient
    from connector.datadog.connector import DatadogConnector, DatadogOptions
    from tests.fakes.datadog import FakeDatadog, generate_org

    org = generate_org(users=10_000, seed=42, teams=1_000, schedules=200, api_keys=2_000)
    with FakeDatadog(org) as fake:
        client = DatadogClient(api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url)
        async with client:
            options = DatadogOptions(sync_secrets=True, sync_schedules=True)
            connector = DatadogConnector(client, options)
            await sync_to_file(connector.syncers(), path, SyncOptions())


def main(argv: list[str]) -> dict[str, Any]:
    if argv:
        return analyse(Path(argv[0]))
    with tempfile.TemporaryDirectory(prefix="c1z-size-org-") as tmp:
        path = Path(tmp) / "sync.c1z"
        asyncio.run(_sync_10k(path))
        return analyse(path)


if __name__ == "__main__":
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    json.dump(main(sys.argv[1:]), sys.stdout, indent=1)
    sys.stdout.write("\n")
