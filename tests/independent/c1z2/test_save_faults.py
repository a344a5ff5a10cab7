"""A c1z saved over a previous one, with the disk failing at each step of the save (temp file, write, fsync, rename,
the directory's fsync).

Before the rename the previous file is whole (the save writes a temp file and renames it over the target): the error
names the file, the cause, and says the file is left as it was, and no temp file stays. After the rename the new file
is in place: a directory that cannot be synced is a warning, not a failed save (it was "disk full ... while saving"
with the previous file already gone).
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog
import zstandard

from connector.baton.c1z.errors import C1ZWriteError, DiskFullError
from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, Org, expected_grant_ids, syncers
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import leftovers


def _failing(code: int) -> Callable[..., None]:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    return fail


def _fsync_failing(code: int, *, directory: bool) -> Callable[[int], None]:
    real = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode) == directory:
            raise OSError(code, os.strerror(code))
        real(fd)

    return fsync


# step: (where the failure is injected, the object, the attribute, the replacement)
STEPS: dict[str, tuple[object, str, Callable[[int], Callable[..., None]]]] = {
    "making the temp file": (tempfile, "mkstemp", _failing),
    "compressing into it": (zstandard.ZstdCompressor, "copy_stream", _failing),
    "syncing it": (os, "fsync", lambda code: _fsync_failing(code, directory=False)),
    "renaming it over the file": (Path, "replace", _failing),
}


@pytest.fixture
def previous(tmp_path: Path) -> tuple[Path, bytes]:
    out = tmp_path / "out" / "sync.c1z"
    asyncio.run(sync_to_file(syncers(Org(users=5), Faults()), out, options(), tmp_dir=tmp_path))
    return out, out.read_bytes()


@pytest.mark.parametrize("step", sorted(STEPS))
async def test_a_full_disk_before_the_rename_says_the_file_is_left_as_it_was(
    step: str, previous: tuple[Path, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = previous
    owner, name, make = STEPS[step]
    monkeypatch.setattr(owner, name, make(errno.ENOSPC))
    with pytest.raises(DiskFullError) as caught:
        await sync_to_file(syncers(Org(users=9), Faults()), out, options(), tmp_dir=tmp_path)
    message = str(caught.value)
    assert message.startswith(f"disk full: no space left in {out.parent} while saving {out} "), message
    assert message.endswith(f"; {out} is left as it was"), message
    assert out.read_bytes() == before
    assert leftovers(out.parent, out) == [], "no temp file stays"
    assert leftovers(tmp_path, out.parent) == [], "no working file stays"


@pytest.mark.parametrize("step", sorted(STEPS))
async def test_an_io_error_before_the_rename_says_the_file_is_left_as_it_was(
    step: str, previous: tuple[Path, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = previous
    owner, name, make = STEPS[step]
    monkeypatch.setattr(owner, name, make(errno.EIO))
    with pytest.raises(C1ZWriteError) as caught:
        await sync_to_file(syncers(Org(users=9), Faults()), out, options(), tmp_dir=tmp_path)
    assert str(caught.value) == f"cannot write {out}: Input/output error; {out} is left as it was"
    assert out.read_bytes() == before
    assert leftovers(out.parent, out) == []


async def test_a_failed_first_save_does_not_claim_a_file_was_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out" / "sync.c1z"
    monkeypatch.setattr(zstandard.ZstdCompressor, "copy_stream", _failing(errno.ENOSPC))
    with pytest.raises(DiskFullError) as caught:
        await sync_to_file(syncers(Org(), Faults()), out, options(), tmp_dir=tmp_path)
    assert "left as it was" not in str(caught.value)
    assert not out.exists()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
async def test_the_directory_failing_to_sync_after_the_rename_is_a_saved_file_and_a_warning(
    code: int, previous: tuple[Path, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _ = previous
    org = Org(users=9)
    monkeypatch.setattr(os, "fsync", _fsync_failing(code, directory=True))
    with structlog.testing.capture_logs() as logs:
        result = await sync_to_file(syncers(org, Faults()), out, options(), tmp_dir=tmp_path)
    with C1ZReader(out, tmp_path) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (result.sync_id, True)
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
    (warning,) = [e for e in logs if e["log_level"] == "warning"]
    assert "its directory could not be synced" in warning["event"]
    assert warning["directory"] == str(out.parent)
    assert warning["error"] == os.strerror(code)
    assert leftovers(out.parent, out) == []
