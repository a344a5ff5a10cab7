"""Run a sync into a c1z file: resume what an earlier run left unfinished, save atomically either way."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from connector.baton.connector import ResourceSyncer
from connector.baton.sync.syncer import Syncer, SyncObserver, SyncOptions, SyncResult


async def sync_to_file(
    syncers: Sequence[ResourceSyncer],
    c1z_path: Path,
    options: SyncOptions | None = None,
    *,
    tmp_dir: Path | None = None,
    observer: SyncObserver | None = None,
    save_on_error: bool = True,
) -> SyncResult:
    """Sync into `c1z_path`. On success the file holds exactly this one finished sync.

    On failure the unfinished sync is saved (unless `save_on_error` is off), so the next run resumes it
    instead of starting over, as the Go SDK does.
    """
    # Imported here: the SQLite and zstd layer loads when a sync runs, not with the idle daemon.
    from connector.baton.c1z.store import C1ZStore

    store = C1ZStore.open(c1z_path, tmp_dir)
    try:
        try:
            result = await Syncer(syncers, store, options, observer).run()
        except BaseException:
            if save_on_error and store.sync_runs():
                store.save(c1z_path, vacuum=False)
            raise
        if result.sync_type == "full":
            store.keep_only(result.sync_id)
        store.save(c1z_path)
        return result
    finally:
        store.close()
