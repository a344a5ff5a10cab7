"""An unfinished sync an older version saved in `--file` (its Datadog answered garbage halfway through the grants),
run again after the upgrade: the file is never refused as damaged, the sync ends with exactly the rows of a sync
nothing interrupted, one finished run in the file, and the token shape of the version just before (the morning of
2026-12-07) is resumed, not started over. The older ones start over with a warning naming why (their tokens lack
what main checks a resumed run by: docs/c1z.md). The fixtures and how they were made: tests/fixtures/upgrades/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import structlog

from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.syncer import SyncOptions, SyncResult
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector
from tests.baton.test_sync_engine import rows_of
from tests.datadog.helpers import FAST_RETRY
from tests.fakes.datadog import FakeDatadog
from tests.fixtures.upgrades.make_unfinished import OPTIONS, org

FIXTURES = Path(__file__).parents[2] / "fixtures" / "upgrades"


async def _sync(path: Path) -> SyncResult:
    with FakeDatadog(org()) as fake:
        client = DatadogClient(api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url, retry=FAST_RETRY)
        async with client:
            return await sync_to_file(DatadogConnector(client, OPTIONS).syncers(), path, SyncOptions())


@pytest.mark.parametrize(
    ("commit", "resumed", "said"),
    [
        ("15c63ce4", True, None),
        ("61e5bff4", False, "unfinished sync cannot be resumed; starting a new one"),
        ("0535923a", False, "unfinished sync was started with other settings; starting a new one"),
    ],
)
async def test_an_older_versions_unfinished_sync_ends_with_a_clean_syncs_rows(
    tmp_path: Path, commit: str, resumed: bool, said: str | None
) -> None:
    clean = tmp_path / "clean.c1z"
    await _sync(clean)
    path = tmp_path / "sync.c1z"
    shutil.copyfile(FIXTURES / f"unfinished-{commit}.c1z", path)
    with C1ZReader(path) as reader:
        (old,) = reader.sync_runs()
    assert not old.finished

    with structlog.testing.capture_logs() as logs:
        result = await _sync(path)
    assert result.resumed is resumed
    warned = [line for line in logs if line["log_level"] == "warning"]
    assert [line["event"] for line in warned] == ([said] if said else [])
    assert rows_of(path) == rows_of(clean), "rows doubled, lost or changed across the upgrade"
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
    assert (run.sync_id == old.sync_id, run.finished) == (resumed, True)
