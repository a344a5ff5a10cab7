"""Guards the class "a run that collected nothing saved as a diff-capable sync": service mode's
`BATON_SKIP_FULL_SYNC` answers every sync task with Go's SkipSync, "an empty full sync run" that only validates the
connector (docs/spec/service-mode.md, `SkipSync`): `StartNewSync`, `EndSync`, no phase run. `supports_diff` is set by
the grant-expansion step of a sync that collected entitlements and grants (docs/spec/c1z-format.md §2.7, lifecycle
step 3; §1.7: "supports_diff = 1 when entitlements and grants were collected"); a skipped sync has none. Ours was
uploaded with `supports_diff = 1`, a diff-capable full sync of an org with nothing in it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

from connector.baton.c1.client import BatonServiceClient
from connector.baton.c1z.reader import C1ZReader
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.sync.syncer import SyncOptions
from connector.baton.tasks.full_sync import FullSyncHandler, FullSyncSettings
from tests.baton.fake_connector import Faults, Org, syncers
from tests.baton.tasks.stubs import StubClient
from tests.fakes.tasks import kind_task


async def test_a_skipped_full_sync_is_uploaded_finished_empty_and_not_diff_capable(tmp_path: Path) -> None:
    client = StubClient()
    seen: list[tuple[str, bool, bool, int, dict[str, object]]] = []

    async def upload_asset(task_id: str, path: Path) -> int:
        with C1ZReader(path) as reader:
            (run,) = reader.sync_runs()
            rows = sum(1 for _ in reader.resources(sync_id=run.sync_id))
            seen.append((run.sync_type, run.finished, run.supports_diff, rows, json.loads(run.sync_token)))
        return 1

    client.upload_asset = upload_asset  # type: ignore[attr-defined]
    handler = FullSyncHandler(
        cast(BatonServiceClient, client),
        lambda: syncers(Org(), Faults()),
        FullSyncSettings(temp_dir=tmp_path, skip_full_sync=True, options=SyncOptions()),
    )
    outcome = await handler.run(kind_task("sync_full").id, baton_pb2.Task.SyncFullTask())
    assert outcome.ok
    ((sync_type, finished, supports_diff, rows, token),) = seen
    assert (sync_type, finished, rows) == ("full", True, 0)
    assert supports_diff is False
    assert token.get("should_skip_entitlements_and_grants") is True, "its token says nothing was collected"
    assert "actions_map" not in token
