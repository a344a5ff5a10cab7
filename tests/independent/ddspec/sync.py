"""A whole sync of the scripted Datadog of `tests.independent.datadog2.org` with the options a case needs, read back
with the project's c1z reader: the resources, entitlements and grants as ConductorOne would receive them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from connector.baton.c1z.reader import C1ZReader
from connector.baton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.connector import DatadogConnector, DatadogOptions
from tests.independent.datadog2.org import Datadog, client


@dataclass(frozen=True)
class Synced:
    resources: dict[str, resource_pb2.Resource]
    """By `<type>:<id>`."""
    entitlements: dict[str, entitlement_pb2.Entitlement]
    grants: dict[str, grant_pb2.Grant]


async def synced(dd: Datadog, path: Path, options: DatadogOptions | None = None) -> Synced:
    """Serve `dd`, sync it whole into `path` (the error that ends the sync is raised) and read what was stored."""
    async with dd, client(dd.base_url) as c:
        connector = DatadogConnector(c, options or DatadogOptions())
        await asyncio.wait_for(sync_to_file(connector.syncers(), path, SyncOptions()), timeout=30)
    with C1ZReader(path) as reader:
        return Synced(
            {f"{r.id.resource_type}:{r.id.resource}": r for r in reader.resources()},
            {e.id: e for e in reader.entitlements()},
            {g.id: g for g in reader.grants()},
        )
