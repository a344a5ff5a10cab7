"""A c1z that changes while it is read: a copy still being written, a writer appending or cutting it short.

The envelope is checked (the frame walked) before it is decompressed; a file that changes between the two was read
as neither the old file nor the new one. The decoder stops quietly where its input ends, so a file cut short after the
walk, or grown by a frame, read "successfully" (or was called damaged, and a one-shot sync replaced the file another
process was writing). Each entry point refuses it with one line naming the file: not damage, so a one-shot sync
leaves the file alone (docs/spec/c1z-format.md §2.2: "One zstd frame ... Nothing follows the frame").
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from connector.baton.c1z import envelope
from connector.baton.c1z.errors import C1ZFormatError, DamagedC1ZError
from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, Org, syncers
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import good_c1z, leftovers, run_inspect


def _cut(keep: Callable[[int], int]) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        with path.open("r+b") as file:
            file.truncate(keep(path.stat().st_size))

    return change


def _append(data: bytes) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        with path.open("ab") as file:
            file.write(data)

    return change


def _rewrite_keeping_mtime(path: Path) -> None:
    """Another writer's bytes in place, at the same size, with the mtime it found put back (`cp -p`, `rsync -t`,
    `tar -x`, `touch -r`): only the ctime tells."""
    found = path.stat()
    with path.open("r+b") as file:
        file.seek(found.st_size // 2)
        file.write(bytes(b ^ 0xFF for b in file.read(64)))
    os.utime(path, ns=(found.st_atime_ns, found.st_mtime_ns))


CHANGES: dict[str, Callable[[Path], None]] = {
    "rewritten in place, its mtime kept": _rewrite_keeping_mtime,
    "cut to two thirds": _cut(lambda size: size * 2 // 3),
    "its checksum cut off": _cut(lambda size: size - 4),
    "a second frame appended": _append(zstandard.ZstdCompressor().compress(b"\0" * (1 << 20))),
    "garbage appended": _append(b"garbage"),
}


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import asyncio

    where = tmp_path_factory.mktemp("good")
    return asyncio.run(good_c1z(where / "good.c1z", where))


@pytest.fixture
def changing(monkeypatch: pytest.MonkeyPatch) -> dict[str, Callable[[Path], None]]:
    """The change to make once the frame walk has passed, keyed by file name (the walk sees the file whole)."""
    planned: dict[str, Callable[[Path], None]] = {}
    walk = envelope._check_frame

    def walk_then_change(
        source: object, c1z_path: Path, size: int, cap: int, stop: threading.Event | None = None
    ) -> None:
        walk(source, c1z_path, size, cap, stop)  # type: ignore[arg-type]
        change = planned.pop(c1z_path.name, None)
        if change is not None:
            change(c1z_path)

    monkeypatch.setattr(envelope, "_check_frame", walk_then_change)
    return planned


def _copy(good: Path, path: Path, change: Callable[[Path], None] | None = None) -> Path:
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(good.read_bytes())
    if change is not None:
        change(path)
    return path


def _same(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


def _says_changed(message: str, path: Path) -> None:
    assert message.startswith(f"{path}: changed while it was read ("), message
    assert "another process is writing it" in message
    assert "\n" not in message


@pytest.mark.parametrize("case", sorted(CHANGES))
def test_the_reader_refuses_it_as_changed_not_as_damage(
    case: str, good: Path, changing: dict[str, Callable[[Path], None]], tmp_path: Path
) -> None:
    path = _copy(good, tmp_path / "in" / "changing.c1z")
    changing[path.name] = CHANGES[case]
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(C1ZFormatError) as caught:
        C1ZReader(path, work)
    assert not isinstance(caught.value, DamagedC1ZError), "not damage: the file is being written, not broken"
    _says_changed(str(caught.value), path)
    assert leftovers(work) == []


@pytest.mark.parametrize("case", sorted(CHANGES))
def test_inspect_exits_2_naming_the_change(
    case: str, good: Path, changing: dict[str, Callable[[Path], None]], tmp_path: Path
) -> None:
    path = _copy(good, tmp_path / "in" / "changing.c1z")
    changing[path.name] = CHANGES[case]
    code, out, err = run_inspect(path)
    assert (code, out) == (2, "")
    assert err.startswith("baton-datadog: inspect: ")
    _says_changed(err.removeprefix("baton-datadog: inspect: ").rstrip("\n"), path)


@pytest.mark.parametrize("case", sorted(CHANGES))
async def test_a_one_shot_sync_leaves_a_file_being_written_alone(
    case: str, good: Path, changing: dict[str, Callable[[Path], None]], tmp_path: Path
) -> None:
    """Called damage, the file was replaced by a new sync while its writer was still at it."""
    path = _copy(good, tmp_path / "out" / "changing.c1z")
    changing[path.name] = CHANGES[case]
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(C1ZFormatError) as caught:
        await sync_to_file(syncers(Org(), Faults()), path, options(), tmp_dir=work)
    _says_changed(str(caught.value), path)
    assert _same(path, _copy(good, tmp_path / "expected" / "changing.c1z", CHANGES[case])), "as its writer left it"
    assert leftovers(work) == []
    assert leftovers(path.parent, path) == []


def test_a_file_that_did_not_change_still_reads(
    good: Path, changing: dict[str, Callable[[Path], None]], tmp_path: Path
) -> None:
    path = _copy(good, tmp_path / "in" / "still.c1z")
    with C1ZReader(path, tmp_path) as reader, C1ZReader(good, tmp_path) as expected:
        assert sorted(g.id for g in reader.grants()) == sorted(g.id for g in expected.grants())


def _rename_over(good: Path) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        fresh = path.with_name("fresh.c1z")
        fresh.write_bytes(good.read_bytes())
        fresh.replace(path)  # another writer's atomic save: the open file is still the whole old one

    return change


def _hard_link(path: Path) -> None:
    path.with_name("backup.c1z").hardlink_to(path)


UNCHANGED_CONTENT: dict[str, Callable[[Path], None]] = {
    "a hard link made to it (a backup)": _hard_link,
    "its mode changed": lambda path: path.chmod(0o600),
}


@pytest.mark.parametrize("case", [*sorted(UNCHANGED_CONTENT), "a new file renamed over its path"])
def test_a_file_whose_content_did_not_change_under_the_reader_is_read(
    case: str, good: Path, changing: dict[str, Callable[[Path], None]], tmp_path: Path
) -> None:
    """What changes only the inode's ctime (a link, a chmod) or replaces the path by rename (the open file is the whole
    old one) leaves what was read whole: it was refused as "changed while it was read", and an `inspect` or an upload
    racing the daemon's own save by rename failed for nothing."""
    path = _copy(good, tmp_path / "in" / "steady.c1z")
    changing[path.name] = UNCHANGED_CONTENT.get(case) or _rename_over(good)
    work = tmp_path / "work"
    work.mkdir()
    with C1ZReader(path, work) as reader:
        assert reader.sync_runs()


def test_a_copy_still_being_written_is_named_as_changed_not_as_a_hostile_frame(tmp_path: Path) -> None:
    """A copy in progress: the reader opens it with its first bytes only, and the rest lands while the frame is read.
    The frame then declares more than the cap allowed for the size seen at the open, and the refusal read as a
    decompression bomb ("declares N decompressed bytes, more than the cap") where the file was only being written."""
    # A database that compresses far (zeros past the cap of the first bytes' size): the frame's header declares it.
    whole = envelope.MAGIC_V1 + zstandard.ZstdCompressor().compress(bytes(envelope.MIN_CAP + 1))
    path = tmp_path / "in" / "copying.c1z"
    path.parent.mkdir()
    path.write_bytes(whole[:40])
    real_walk = envelope._check_frame

    def rest_lands_then_walk(
        source: object, c1z_path: Path, size: int, cap: int, stop: threading.Event | None = None
    ) -> None:
        with c1z_path.open("ab") as file:
            file.write(whole[40:])
        real_walk(source, c1z_path, size, cap, stop)  # type: ignore[arg-type]

    work = tmp_path / "work"
    work.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(envelope, "_check_frame", rest_lands_then_walk)
        with pytest.raises(C1ZFormatError) as caught:
            C1ZReader(path, work)
    assert not isinstance(caught.value, DamagedC1ZError)
    _says_changed(str(caught.value), path)
