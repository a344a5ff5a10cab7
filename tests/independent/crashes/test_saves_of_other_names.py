"""A save killed mid-write leaves its temp file, a whole c1z's size; the sweep must find it whatever `--file` the next
run names, or such files pile up.

A save writes `.<file>.save-XXXXXXXX.tmp` beside `--file` and renames it over the file; killed first (an OOM kill while
zstd holds its 32 MiB window, a node lost), the temp file stays. The next start removed only the ones named after its
own `--file`: a cron job writing one file per day (`sync-$(date +%F).c1z`), or an operator moving to another name,
never removed what a killed save of another name left, one c1z-sized file per kill. A save's file is known by its
shape and its first bytes (the c1z magic: the first write of every save); one of another name is removed when it has
both and no live process holds its lock. Anything else of that shape (another program's, an empty one) is kept, as are
the user's own files (docs/c1z.md, "Working files and crashes").
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from connector.baton.c1z.workfiles import sweep_stale_partials
from connector.baton.sync.to_file import sweep_leftovers, sync_to_file
from tests.baton.fake_connector import Faults, Org, syncers
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import leftovers

MAGIC = b"C1ZF\x00"
DEAD_OTHER = ".sync-2026-12-06.c1z.save-k9x2ab7q.tmp"


def _dead_save(where: Path, name: str = DEAD_OTHER, content: bytes = MAGIC + b"(\xb5/\xfd half a frame") -> Path:
    path = where / name
    path.write_bytes(content)
    return path


async def test_a_killed_save_of_yesterdays_file_is_removed_by_todays_sync(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    _dead_save(out)
    today = out / "sync-2026-12-07.c1z"
    await sync_to_file(syncers(Org(), Faults()), today, options(), tmp_dir=tmp_path)
    assert leftovers(out, today) == []


async def test_the_service_start_up_sweep_removes_it_too(tmp_path: Path) -> None:
    _dead_save(tmp_path)
    await sweep_leftovers(tmp_path / "work-is-elsewhere", tmp_path / "periodic.c1z")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (".notes.save-k9x2ab7q.tmp", b"another program's save, not a c1z"),
        (DEAD_OTHER, b""),  # killed before its first write, or another program's: nothing to tell it by, and no bytes
        ("sync-2026-12-06.c1z.save-k9x2ab7q.tmp", MAGIC + b"visible: not a save's name"),
        (".sync-2026-12-06.c1z.save-k9x2ab7.tmp", MAGIC + b"seven characters: not mkstemp's"),
        (".sync-2026-12-06.c1z.save-k9x2ab7q.tmp.keep", MAGIC + b"a copy the user kept"),
    ],
)
def test_what_is_not_a_dead_save_is_kept(tmp_path: Path, name: str, content: bytes) -> None:
    _dead_save(tmp_path, name, content)
    assert sweep_stale_partials(tmp_path / "sync-2026-12-07.c1z") == []
    assert (tmp_path / name).read_bytes() == content


def test_a_live_save_of_another_name_is_kept(tmp_path: Path) -> None:
    live = _dead_save(tmp_path)
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another process's save at work
        assert sweep_stale_partials(tmp_path / "sync-2026-12-07.c1z") == []
        assert live.exists()
    finally:
        os.close(fd)
    assert sweep_stale_partials(tmp_path / "sync-2026-12-07.c1z") == [live]


def test_a_link_to_a_save_of_another_name_is_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = _dead_save(elsewhere, "data.c1z")
    (tmp_path / DEAD_OTHER).symlink_to(target)
    assert sweep_stale_partials(tmp_path / "sync-2026-12-07.c1z") == []
    assert target.exists()
