"""Ids made from the system clock under any clock: a KSUID (a sync run's id, an action's id) holds its seconds since
2014-05-13 in 32 bits, and Go wraps them there (`uint32(t.Unix() - epochStamp)`). Made with `int.to_bytes`, a clock
before 2014 (a host with no real-time clock, booted at 1970 before NTP answers) or past 2150 raised OverflowError: every
sync failed as an unexpected error, and an action that had already run (a user disabled) lost its report."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from connector.baton import ksuid
from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, Org, syncers
from tests.baton.test_c1z_store import ksuid_timestamp

_EPOCH = 1_400_000_000


@pytest.mark.parametrize(
    "now",
    [0.0, 1_300_000_000.0, _EPOCH - 0.5, -1.0e10, _EPOCH + 2**32, _EPOCH + 2**32 + 5.0, 1.0e12],
    ids=["1970", "2011", "just-before-epoch", "long-before-1970", "2150-wrap", "past-2150", "year-33658"],
)
def test_a_ksuid_is_made_under_any_clock_with_gos_wrapped_seconds(now: float) -> None:
    made = ksuid.new_ksuid(now=now)
    assert len(made) == 27
    assert made.isascii()
    assert made.isalnum()
    # Go's `uint32(t.Unix() - epochStamp)`: t.Unix() rounds down, and the difference wraps into 32 bits.
    wrapped = (int(now // 1) - _EPOCH) % 2**32
    assert ksuid_timestamp(made) - _EPOCH == wrapped


def test_ksuids_of_a_sane_clock_are_unchanged() -> None:
    assert ksuid_timestamp(ksuid.new_ksuid(now=1_700_000_000.9)) == 1_700_000_000


class _Clock:
    """`time` as the ksuid module sees it, with the wall clock at 1970 (what a host without a real-time clock says)."""

    @staticmethod
    def time() -> float:
        return 12_345.0


async def test_a_sync_on_a_host_whose_clock_says_1970_is_saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ksuid, "time", _Clock)
    path = tmp_path / "sync.c1z"
    await sync_to_file(syncers(Org(), Faults()), path, SyncOptions())
    with C1ZReader(path) as reader:
        runs = reader.sync_runs()
    assert [run.finished for run in runs] == [True]
    assert ksuid_timestamp(runs[0].sync_id) - _EPOCH == (12_345 - _EPOCH) % 2**32
    assert time.time() > _EPOCH  # only the ksuid module's clock was set back
