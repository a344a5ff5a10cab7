"""Unfinished runs piling up in a c1z: only the newest unfinished full run is ever resumed, yet a new sync that could
not resume it (its token emptied by a failure that is not resumable, or written with other settings) was saved beside
it when it failed too. Each failure added a whole sync's rows to the file (a service whose sync failed so at every
interval grew its --file without end), and a run dated later than now (a clock set back, or the repeated hour as
local time leaves summer time) stayed the "newest": every later run started over instead of resuming its own
progress, so a sync that needed two attempts never finished. A run now keeps no other unfinished full run beside it
(finished ones stay until a new one finishes, as before)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.baton.c1z.reader import C1ZReader
from connector.baton.errors import ConnectorError
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, InjectedFailure, Org, syncers
from tests.baton.test_c1z_untrusted import rewritten
from tests.baton.test_sync_engine import rows_of


class Changed(ConnectorError):
    """A failure after which the run must not be resumed (a list that changed while it was read)."""

    resumable = False


class FailsAt(Faults):
    def __init__(self, call: int, error: type[ConnectorError]) -> None:
        super().__init__()
        self.call, self.error = call, error

    async def enter(self) -> None:
        await super().enter()
        if self.calls == self.call:
            raise self.error(f"injected at call {self.call}")


async def _fails(path: Path, call: int, error: type[ConnectorError]) -> None:
    with pytest.raises(error):
        await sync_to_file(syncers(Org(), FailsAt(call, error)), path, SyncOptions(concurrency=1))


def _runs(path: Path) -> list[tuple[bool, bool]]:
    """(finished, has a token) of each run in the file."""
    with C1ZReader(path) as reader:
        return [(run.finished, bool(run.sync_token)) for run in reader.sync_runs()]


async def test_a_run_dated_later_than_now_does_not_stop_the_next_one_resuming(tmp_path: Path) -> None:
    clean = tmp_path / "clean.c1z"
    await sync_to_file(syncers(Org(), Faults()), clean, SyncOptions())
    path = tmp_path / "sync.c1z"
    await _fails(path, 5, Changed)
    assert _runs(path) == [(False, False)], "saved with an empty token: never to resume"
    path = rewritten(path, tmp_path, "UPDATE v1_sync_runs SET started_at = datetime(started_at, '+1 day')")

    await _fails(path, 8, InjectedFailure)  # a new sync, failing where it may be resumed
    assert _runs(path) == [(False, True)], "the run it did not resume is not kept beside it"
    resumed = Faults()
    result = await sync_to_file(syncers(Org(), resumed), path, SyncOptions(concurrency=1))
    assert result.resumed, "the run dated tomorrow was taken for the newest, and every run started over"
    assert rows_of(path) == rows_of(clean)
    assert _runs(path) == [(True, True)]


async def test_runs_failing_again_and_again_leave_one_unfinished_run_not_one_each(tmp_path: Path) -> None:
    path = tmp_path / "sync.c1z"
    for call in (9, 12, 15, 18):
        await _fails(path, call, Changed)
        assert _runs(path) == [(False, False)]
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
        held = reader.connection.execute("SELECT count(*) FROM v1_resources WHERE sync_id != ?", (run.sync_id,))
        assert held.fetchone() == (0,), "no rows of another run"
