"""A c1z that changes while it is read: a copy still being written, a writer appending or cutting it short.

The envelope is checked (the frame walked) before it is decompressed; a file that changes between the two was read
as neither the old file nor the new one. The decoder stops quietly where its input ends, so a file cut short after the
walk, or grown by a frame, read "successfully" (or was called damaged, and a one-shot sync replaced the file another
process was writing). Each entry point refuses it with one line naming the file: not damage, so a one-shot sync
leaves the file alone (docs/spec/c1z-format.md §2.2: "One zstd frame ... Nothing follows the frame").
"""

from __future__ import annotations

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


CHANGES: dict[str, Callable[[Path], None]] = {
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
