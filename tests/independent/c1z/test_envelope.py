"""The c1z envelope as untrusted input: `C1ZF\\0`, then exactly one zstd frame (docs/spec/c1z-format.md §2.2).

Each hostile file goes through every entry point that reads a c1z: the reader API, `inspect`, and a one-shot sync
whose `--file` already exists. The reader and `inspect` refuse it with one line naming the file and what was wrong
(`inspect` exits 2); the one-shot sync either refuses it and leaves it as it was (what is not a c1z at all may be
something else of the user's) or, for a c1z whose body is damaged, starts a new sync and replaces it with a whole
one (docs/c1z.md; `sync_to_file`'s contract). No working file is left behind either way.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.baton.c1z.envelope import decompression_cap
from connector.baton.c1z.errors import C1ZFormatError, DamagedC1ZError
from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, Org, expected_grant_ids, syncers
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import MAGIC, database_of, envelope, frame, good_c1z, leftovers, run_inspect

Maker = Callable[[Path, Path], Path]  # (a good c1z, the directory to write in) -> the hostile file


def _bytes(make: Callable[[bytes, bytes], bytes]) -> Maker:
    """A case built from the good file's database and its whole frame."""

    def build(good: Path, where: Path) -> Path:
        db = database_of(good)
        out = where / "hostile.c1z"
        out.write_bytes(make(db, frame(db)))
        return out

    return build


def _with_content_size(declared: Callable[[int], int]) -> Maker:
    """The frame header's content size (4 bytes after the header descriptor of a single-segment frame) rewritten."""

    def make(db: bytes, whole: bytes) -> bytes:
        assert whole[4] & 0xE0 == 0xA0, "a single-segment frame with a 4-byte content size"
        return MAGIC + whole[:5] + declared(len(db)).to_bytes(4, "little") + whole[9:]

    return _bytes(make)


def _fifo_behind_link(good: Path, where: Path) -> Path:
    os.mkfifo(where / "fifo")
    (where / "hostile.c1z").symlink_to(where / "fifo")
    return where / "hostile.c1z"


def _link_to(target: str) -> Maker:
    def make(good: Path, where: Path) -> Path:
        (where / "hostile.c1z").symlink_to(target)
        return where / "hostile.c1z"

    return make


# name: (builder, what the one line says, whether it is a damaged c1z: the one-shot sync starts over in its place)
CASES: dict[str, tuple[Maker, str, bool]] = {
    # A c1z cut inside its magic is cut short as one cut after it (tests/independent/crashes/test_cut_magic.py).
    "the magic cut short": (_bytes(lambda db, whole: b"C1Z"), "truncated (the file ends within the c1z magic", True),
    "a lower-case magic": (_bytes(lambda db, whole: b"c1zf\x00" + whole), "not a c1z file (bad magic", False),
    "the magic and nothing else": (_bytes(lambda db, whole: MAGIC), "corrupt zstd frame header", True),
    "the magic and zstd's magic only": (_bytes(lambda db, whole: MAGIC + whole[:4]), "corrupt zstd frame header", True),
    "the frame cut inside its first block": (_bytes(lambda db, whole: MAGIC + whole[:40]), "truncated", True),
    "the checksum cut off": (_bytes(lambda db, whole: MAGIC + whole[:-4]), "truncated", True),
    "two frames": (
        _bytes(lambda db, whole: MAGIC + whole + whole),
        "unexpected bytes after the zstd frame",
        True,
    ),
    "a skippable frame after the frame": (
        _bytes(lambda db, whole: MAGIC + whole + bytes.fromhex("5e2a4d1804000000") + b"meta"),
        "4 unexpected bytes after the zstd frame"[2:],  # the count is the skippable frame's 12 bytes
        True,
    ),
    "one trailing zero byte": (_bytes(lambda db, whole: MAGIC + whole + b"\x00"), "1 unexpected bytes", True),
    "a header declaring fewer bytes than the frame holds": (
        _with_content_size(lambda size: size - 1),
        "corrupt zstd body",
        True,
    ),
    "a header declaring more bytes than the frame holds": (
        _with_content_size(lambda size: size + 4096),
        "corrupt zstd body",
        True,
    ),
    # 100 MiB: under Go's window limit (a single-segment frame's window is its content size), over this file's cap.
    "a header declaring 100 MiB": (
        _with_content_size(lambda size: 100 << 20),
        "declares 104,857,600 decompressed bytes, more than the 67,108,864-byte cap",
        False,
    ),
    "a header declaring 4 GiB": (_with_content_size(lambda size: 0xFFFFFFFF), "exceeds the 128 MiB limit", False),
    "a frame that needs a dictionary": (
        # Dictionary id flag set (one byte of id after the descriptor): this reader has no dictionary.
        _bytes(lambda db, whole: MAGIC + whole[:4] + bytes([whole[4] | 1, 7]) + whole[5:]),
        "corrupt zstd body",
        True,
    ),
    "a window over Go's 128 MiB": (
        _bytes(lambda db, whole: MAGIC + whole[:4] + bytes([0x00, (28 - 10) << 3]) + b"\x01\x00\x00"),
        "zstd window of 268,435,456 bytes exceeds the 128 MiB limit",
        False,
    ),
    "a body that is text": (_bytes(lambda db, whole: envelope(b"not a database " * 64)), "not a SQLite database", True),
    "a body of 3 bytes": (_bytes(lambda db, whole: envelope(b"SQL")), "not a SQLite database (only 3 bytes)", True),
    "a link to /dev/zero": (_link_to("/dev/zero"), "is a device, not a c1z file", False),
    "a link to a FIFO": (_fifo_behind_link, "is a FIFO, not a c1z file", False),
    "a link to itself": (_link_to("hostile.c1z"), "cannot open", False),
}


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import asyncio

    where = tmp_path_factory.mktemp("good")
    return asyncio.run(good_c1z(where / "good.c1z", where))


def _one_line(text: str, path: Path, phrase: str) -> None:
    assert "\n" not in text.rstrip("\n"), text
    assert text.startswith(str(path)) or text.startswith(f"baton-datadog: inspect: {path}"), text
    assert phrase in text, text


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_reader_refuses_it_with_one_line_naming_the_file(case: str, good: Path, tmp_path: Path) -> None:
    make, phrase, damaged = CASES[case]
    path = make(good, tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(C1ZFormatError) as caught:
        C1ZReader(path, work)
    _one_line(str(caught.value), path, phrase)
    assert isinstance(caught.value, DamagedC1ZError) == damaged, "damage (the sync starts over) or not a c1z at all"
    assert leftovers(work) == [], "the working copy is removed"


@pytest.mark.parametrize("case", sorted(CASES))
def test_inspect_exits_2_with_one_line(case: str, good: Path, tmp_path: Path) -> None:
    make, phrase, _ = CASES[case]
    path = make(good, tmp_path)
    code, out, err = run_inspect(path)
    assert (code, out) == (2, "")
    _one_line(err, path, phrase)


@pytest.mark.parametrize("case", sorted(CASES))
async def test_a_one_shot_sync_refuses_it_untouched_or_replaces_damage_whole(
    case: str, good: Path, tmp_path: Path
) -> None:
    make, phrase, damaged = CASES[case]
    folder = tmp_path / "out"
    folder.mkdir()
    path = make(good, folder)
    before = path.read_bytes() if path.is_file() and not path.is_symlink() else None
    work = tmp_path / "work"
    work.mkdir()
    org = Org()
    if not damaged:
        with pytest.raises(C1ZFormatError, match=re.escape(phrase)):
            await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=work)
        if before is not None:
            assert path.read_bytes() == before, "what is not a c1z is left as it was"
    else:
        result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=work)
        assert not result.resumed
        with C1ZReader(path, work) as reader:
            (run,) = reader.sync_runs()
            assert (run.sync_id, run.finished) == (result.sync_id, True)
            assert {g.id for g in reader.grants()} == expected_grant_ids(org)
    assert leftovers(work) == []
    assert leftovers(folder, path, folder / "fifo") == [], "no temp file or lock file beside the output"


@pytest.mark.parametrize("flags", [{"content_size": False, "checksum": False}, {"content_size": True}])
def test_a_frame_without_its_optional_fields_is_read(flags: dict[str, bool], good: Path, tmp_path: Path) -> None:
    """Older Go files have no content size (§2.2: "Readers accept both"); a checksum is optional to zstd too."""
    path = tmp_path / "plain.c1z"
    path.write_bytes(envelope(database_of(good), **flags))
    code, _, err = run_inspect(path)
    assert (code, err) == (0, "")
    with C1ZReader(path, tmp_path) as reader, C1ZReader(good, tmp_path) as expected:
        assert sorted(g.id for g in reader.grants()) == sorted(g.id for g in expected.grants())


def test_an_empty_file_is_named_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.c1z"
    path.touch()
    code, out, err = run_inspect(path)
    assert (code, out) == (2, "")
    _one_line(err, path, "the file is empty")


async def test_an_empty_file_is_where_a_one_shot_sync_starts_afresh(tmp_path: Path) -> None:
    """`C1ZStore.open`: "a new one when the file does not exist or is empty" (a file made by `touch` or `mktemp`)."""
    path = tmp_path / "empty.c1z"
    path.touch()
    org = Org()
    result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path)
    with C1ZReader(path, tmp_path) as reader:
        assert reader.default_sync_id() == result.sync_id
    assert leftovers(tmp_path, path) == []


def _rle_bomb(path: Path, gibibytes: int) -> Path:
    """A frame of RLE blocks of 128 KiB of zeros, 4 bytes each, after a raw block holding SQLite's header: ~32 KB of
    file per GiB out, made without compressing anything. No content size: the reader learns the size by writing."""
    header = b"SQLite format 3\x00"
    blocks = (gibibytes << 30) // (128 << 10)
    rle = (((128 << 10) << 3) | (1 << 1)).to_bytes(3, "little") + b"\x00"
    last = (((128 << 10) << 3) | (1 << 1) | 1).to_bytes(3, "little") + b"\x00"
    frame_ = bytes.fromhex("28b52ffd") + bytes([0x00, (17 - 10) << 3])  # no size, no checksum, a 128 KiB window
    path.write_bytes(MAGIC + frame_ + ((len(header) << 3).to_bytes(3, "little") + header) + rle * (blocks - 1) + last)
    return path


def test_a_bomb_is_stopped_at_the_cap_with_disk_and_memory_bounded(tmp_path: Path) -> None:
    """4 GiB out of 128 KB. The process may write no more than the cap (a file-size limit just above it: past it
    the error would be "File too large") and use no more than 1 GiB of address space; the line names the cap."""
    bomb = _rle_bomb(tmp_path / "bomb.c1z", 4)
    cap = decompression_cap(bomb.stat().st_size)

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap + (1 << 20), cap + (1 << 20)))
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    done = subprocess.run(
        [sys.executable, "-m", "connector", "inspect", str(bomb)],
        env={**os.environ, "BATON_C1Z_TEMP_DIR": str(tmp_path)},
        preexec_fn=limits,  # the limits of the child alone, set before it runs anything
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"baton-datadog: inspect: {bomb}: decompresses to more than {cap:,} bytes, the cap for a file of this size "
        "(1000x its size, at least 64 MiB, at most 10 GiB)\n"
    )
    assert leftovers(tmp_path, bomb) == []
