"""Guards the class "stored rows read back and held at once, bounded per object only" (found by review r1104) for the
sync engine's cursor over a resumed file's resources: it read them back 200 per call (`resources_after`), each up to
`MAX_OBJECT_BYTES`, and held the batch decoded. A 17 KB c1z of resources of empty annotations (each still the resource
its key names) took a resumed sync 1.7-2.7 GB. A batch is now bounded in bytes too (`rows.RESOURCE_BATCH_BYTES`,
measured in SQL first, at least one row), and the cursor goes on past a batch cut short.

Run here with a small bound over resources padded to a few hundred bytes, so the test stays fast."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from connector.baton.c1z import rows, tally
from connector.baton.c1z.reader import C1ZReader
from connector.baton.c1z.store import C1ZStore
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, InjectedFailure, Org, expected_grant_ids, syncers
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import database_of, envelope

_PAD = b"\x22\x00" * 300  # 300 empty annotations: the same resource, 600 bytes longer
_BOUND = 2000


@pytest.fixture(scope="module")
def padded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An unfinished sync saved by a failure in the grants phase, each stored resource padded with empty annotations
    (the token's tally of its rows updated to match: the file is what the run stored)."""
    where = tmp_path_factory.mktemp("padded")
    path = where / "unfinished.c1z"
    with pytest.raises(InjectedFailure):
        asyncio.run(sync_to_file(syncers(Org(), Faults(fail_at_call=7)), path, options(concurrency=1), tmp_dir=where))
    db = where / "padded.db"
    db.write_bytes(database_of(path))
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE v1_resources SET data = CAST(data || ? AS BLOB)", (_PAD,))
        sync_id, token = conn.execute("SELECT sync_id, sync_token FROM v1_sync_runs").fetchone()
        state = json.loads(token)
        state[tally.STORED_ROWS_KEY] = tally.encoded({t: tally.of_file(conn, t, sync_id) for t in tally.TALLIED_TABLES})
        conn.execute("UPDATE v1_sync_runs SET sync_token = ?", (json.dumps(state, separators=(",", ":")),))
        conn.commit()
    path.write_bytes(envelope(db.read_bytes()))
    return path


async def test_a_resumed_run_reads_its_stored_resources_back_in_batches_bounded_in_bytes(
    padded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rows, "RESOURCE_BATCH_BYTES", _BOUND, raising=False)
    batches: list[list[int]] = []
    original = C1ZStore.resources_after

    async def recording(self: C1ZStore, type_id: str, after: int, limit: int) -> object:
        got = await original(self, type_id, after, limit)
        listed = got[0] if isinstance(got, tuple) else got
        batches.append([len(res.SerializeToString()) for _, res in listed])
        return got

    monkeypatch.setattr(C1ZStore, "resources_after", recording)
    path = tmp_path / "resumed.c1z"
    await asyncio.to_thread(shutil.copyfile, padded, path)
    org = Org()
    result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path)
    assert result.resumed
    assert batches, "the resumed run read its resources back"
    # Each batch within the bound (keys count too, so the objects alone are under it), or one resource.
    assert all(sum(sizes) <= _BOUND or len(sizes) == 1 for sizes in batches), batches
    assert any(len(sizes) > 1 for sizes in batches), "a batch holds as many as fit"
    # Cut short, a batch is not the end: every stored resource's grants are listed.
    with C1ZReader(path, tmp_path) as reader:
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
        assert sorted(r.id.resource for r in reader.resources("role")) == ["r0", "r1", "r2"]
