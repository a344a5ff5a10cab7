"""A full sync of the rig's org through its hostile wire into a c1z, and the file's bytes as SQLite holds them (the
c1z inflated): what a test searches for canaries."""

from __future__ import annotations

from pathlib import Path

from connector.baton.sync.syncer import SyncResult
from connector.baton.sync.to_file import sync_to_file
from tests.c1z_fixtures import decompressed_db
from tests.independent.writes.conftest import Rig


async def synced(rig: Rig, path: Path) -> SyncResult:
    return await sync_to_file(rig.connector.syncers(), path)


def stored_bytes(path: Path) -> bytes:
    """The c1z's database as bytes (with its WAL-free pages, whatever a row held before it was rewritten)."""
    with decompressed_db(path) as db:
        return db.read_bytes()
