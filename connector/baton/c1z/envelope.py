"""The c1z v1 envelope: the magic `C1ZF\\0`, then exactly one zstd frame holding a SQLite file (c1z-format.md §2.2).

Both directions stream, so memory does not grow with the size of the sync. A c1z is untrusted input: opening
refuses anything but a regular file (a FIFO must not hang us, a directory or device is not a c1z), the zstd
frame is walked before it is decompressed (a truncated or trailing-garbage file is named as such), and the
decompressed size is capped (`decompression_cap`) so a 32 KB file cannot fill the disk with a gigabyte.
Everything here blocks: run it on the store's thread or a worker thread, never on the event loop.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import os
import stat
import threading
from pathlib import Path
from typing import BinaryIO, cast

import structlog
import zstandard

from connector.baton.c1z.errors import (
    C1ZFormatError,
    C1ZWriteError,
    DamagedC1ZError,
    DiskFullError,
    check_stop,
    disk_full,
    is_disk_full,
    working_file_failure,
)
from connector.baton.c1z.workfiles import locked_save_temp
from connector.baton.pathnames import shell_shorthand

log = structlog.get_logger(__name__)

MAGIC_V1 = b"C1ZF\x00"
MAGIC_V3 = b"C1Z3\x00"
SQLITE_HEADER = b"SQLite format 3\x00"
# Level 4 with a 32 MiB window: on a real 10k-user org's file the same CPU as Go's level-3-like default with
# its 8 MiB window, and 28% smaller than level 3 with zstd's default 2 MiB window, because index pages repeat
# the table pages' strings far apart (docs/benchmarks.md, "c1z store"). Go's reader accepts up to 128 MiB.
LEVEL = 4
WINDOW_LOG = 25
# ... except for databases of at least LARGE_BYTES, which `save` stores as loaded (not compacted: store.py's
# COMPACT_MAX_BYTES): over those, level 1 with the same window is as small and takes half the CPU of the
# end-of-sync tail. Measured on the fake Datadog's orgs (docs/benchmarks.md, "Store thread: the grants' unique
# index built after the load"): 100k users, 433 MB: -0.4% bytes, 2.0-2.2 -> 1.0-1.1 s; 75k, 323 MB: -0.3%,
# 2.1 -> 0.8-1.0 s; but 50k, 215 MB: +5% bytes; 10k, 42 MB compacted: +45%.
LARGE_BYTES = 256 << 20
LARGE_LEVEL = 1
# Go's reader limits (§2.2): zstd window 128 MiB, decoded size 10 GiB.
MAX_WINDOW = 128 << 20
MAX_DECOMPRESSED = 10 << 30
# Real c1z files decompress 13-25x (the fixtures, ours); a file may grow at most this much, and any file may
# reach at least the floor. A decompression bomb (32 KB -> 1 GiB) is refused before it touches the disk.
MAX_RATIO = 1000
_SKIPPABLE_MAGIC = 0x184D2A50  # zstd's skippable frames: 0x184D2A50-0x184D2A5F
MIN_CAP = 64 << 20
_CHUNK = 1 << 20


def decompression_cap(compressed_size: int) -> int:
    """The most bytes a c1z of this size may decompress to."""
    return min(MAX_DECOMPRESSED, max(MIN_CAP, MAX_RATIO * compressed_size))


def open_regular(path: Path) -> BinaryIO:
    """Open `path` for reading if it is a regular file (symlinks to one are fine); a clear error otherwise."""
    try:
        # O_NONBLOCK: opening a FIFO for reading must not wait for a writer. Cleared again below.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise C1ZFormatError(f"{path}: {shell_shorthand(path) or 'no such file'}") from exc
    except OSError as exc:
        raise C1ZFormatError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = (
                "a directory"
                if stat.S_ISDIR(mode)
                else "a FIFO"
                if stat.S_ISFIFO(mode)
                else "a device"
                if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a socket"
                if stat.S_ISSOCK(mode)
                else "not a regular file"
            )
            raise C1ZFormatError(f"{path}: is {kind}, not a c1z file")
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def decompress_to(c1z_path: Path, db_path: Path, stop: threading.Event | None = None) -> None:
    """Write the SQLite database inside `c1z_path` to `db_path`; `C1ZFormatError` naming what was wrong.

    A failure of the disk under `db_path` (full, a file-size limit, an I/O error) is the working file's, named as
    such (`working_file_failure`); one reading `c1z_path` is the c1z's. Neither is a bare OSError. `stop` set: raises
    `OpeningStopped` at the next chunk.
    """
    try:
        written = _decompress(c1z_path, db_path, stop)
        with db_path.open("rb") as check:
            head = check.read(len(SQLITE_HEADER))
    except _ReadFailed as failed:
        raise C1ZFormatError(f"{c1z_path}: cannot read: {failed.cause}") from failed.__cause__
    except OSError as exc:
        raise working_file_failure(db_path, f"decompressing {c1z_path}", exc) from exc
    if written < len(SQLITE_HEADER):
        raise DamagedC1ZError(f"{c1z_path}: the body is not a SQLite database (only {written} bytes)")
    if head != SQLITE_HEADER:
        raise DamagedC1ZError(f"{c1z_path}: the body is not a SQLite database")


# What a file given as a c1z often is instead, named by its own signature. The bytes themselves are never quoted: the
# path may name any file (`--file ~/.baton/secret`), and its first bytes may be the first bytes of a key.
_SIGNATURES = (
    (SQLITE_HEADER, "a bare SQLite database, without the c1z envelope"),
    (b"\x28\xb5\x2f\xfd", "a bare zstd frame, without the c1z envelope"),
    (b"\x1f\x8b", "a gzip file"),
    (b"PK\x03\x04", "a zip archive"),
    (b"-----BEGIN", "a PEM file"),
)


def _what_it_starts_as(magic: bytes, source: BinaryIO) -> str:
    head = magic + source.read(16 - len(magic))
    named = next((what for signature, what in _SIGNATURES if head.startswith(signature)), None)
    if named is not None:
        return f"{named}; a c1z starts with C1ZF\\0"
    return "the file is empty" if not head else "it does not start with C1ZF\\0"


def _decompress(c1z_path: Path, db_path: Path, stop: threading.Event | None) -> int:
    with open_regular(c1z_path) as opened:
        before = os.fstat(opened.fileno())
        try:
            written = _decompress_opened(opened, before.st_size, c1z_path, db_path, stop)
        except C1ZFormatError:
            # A file cut short, grown or rewritten as it was read is refused as that, not as damage or a hostile
            # frame: a copy still at work gave "declares N decompressed bytes, more than the cap", a truncation the
            # magic's refusal.
            _check_unchanged(opened, before, c1z_path, refused=True)
            raise
        # The decoder stops quietly where its input ends, a frame finished or not: a file cut short (or rewritten)
        # after the walk gave a database that was never all there, and a file grown after it was read in part.
        _check_unchanged(opened, before, c1z_path)
        return written


def _decompress_opened(opened: BinaryIO, size: int, c1z_path: Path, db_path: Path, stop: threading.Event | None) -> int:
    reading = _Source(opened, c1z_path, stop)
    source = cast(BinaryIO, reading)
    magic = source.read(len(MAGIC_V1))
    if magic == MAGIC_V3:
        raise C1ZFormatError(f"{c1z_path}: a v3 (Pebble) c1z; only the v1 SQLite format is supported")
    if magic != MAGIC_V1:
        if magic and MAGIC_V1.startswith(magic):
            # The whole file is the start of a c1z's magic (a read comes back short only at the end): a c1z cut short,
            # as one cut after its magic is, not another file. Refused as "not a c1z", it was never replaced by a new
            # sync, run after run, while a file cut one byte later was.
            raise DamagedC1ZError(
                f"{c1z_path}: truncated (the file ends within the c1z magic, after {len(magic)} "
                f"byte{'s' if len(magic) > 1 else ''})"
            )
        raise C1ZFormatError(f"{c1z_path}: not a c1z file (bad magic: {_what_it_starts_as(magic, source)})")
    # From here no further than the frame walk looks: bytes a writer appends meanwhile are never decoded. (Not
    # before: a file whose size says 0 may still hold bytes, a /proc file's, and its first ones name it.)
    reading.limit = size
    cap = decompression_cap(size)
    _check_frame(source, c1z_path, size, cap, stop)
    source.seek(len(MAGIC_V1))
    try:
        with db_path.open("wb") as target:
            return int(
                zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW).copy_stream(
                    source,
                    cast(BinaryIO, _CappedWriter(target, cap, c1z_path, stop)),
                    read_size=_CHUNK,
                    write_size=_CHUNK,
                )[1]
            )
    except zstandard.ZstdError as exc:
        raise DamagedC1ZError(f"{c1z_path}: corrupt zstd body: {exc}") from exc


def _check_unchanged(opened: BinaryIO, before: os.stat_result, c1z_path: Path, *, refused: bool = False) -> None:
    """Refuse a c1z whose content changed while it was read (a copy or a writer still at work on it): what was read is
    neither the old file nor the new one. Not damage: a one-shot sync must not start over and replace a file being
    written.

    A file read whole is judged by its size and modification time: a file renamed over the path, a hard link made to it
    or a chmod change only its inode's ctime, not what was read (the open file is the whole old one), and were refused.
    A file `refused` (damaged, as read) by its ctime too: a writer that restores the mtime it found (`cp -p`, `rsync
    -t`, `tar -x`, `touch -r`) changes only the ctime, and its file being written was called damaged and replaced.

    A file only touched (a new mtime, the same bytes) is refused too: its stat is the stat of a writer rewriting it in
    place at the same size (`dd conv=notrunc`, a copier that sizes the file first), and only a second whole read could
    tell them apart. Refused, it costs the reader a retry; read, a torn file would be taken for the file."""
    try:
        now = os.fstat(opened.fileno())
    except OSError as exc:
        raise C1ZFormatError(f"{c1z_path}: cannot read: {exc.strerror or exc}") from exc
    judged = ("st_size", "st_mtime_ns", "st_ctime_ns") if refused else ("st_size", "st_mtime_ns")
    if any(getattr(now, field) != getattr(before, field) for field in judged):
        how = (
            f"{before.st_size:,} bytes, then {now.st_size:,}"
            if now.st_size != before.st_size
            else f"rewritten at the same size, {now.st_size:,} bytes"
        )
        raise C1ZFormatError(
            f"{c1z_path}: changed while it was read ({how}): another process is writing it; try again once it is "
            "written"
        )


class _ReadFailed(Exception):
    """Reading the c1z failed (an I/O error of its disk): told apart from a failure to write the working copy."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.cause = error.strerror or type(error).__name__


class _Source:
    """The c1z being read (up to `limit` bytes, once set): its OS errors become `_ReadFailed`; once `stop` is set,
    `OpeningStopped` at the next read. The writer looks too, but blocks that decode to nothing (5 bytes each) never
    reach it: 190 MiB of them decoded for 1.6 s after the stop."""

    def __init__(self, file: BinaryIO, c1z_path: Path, stop: threading.Event | None) -> None:
        self._file, self._path, self._stop = file, c1z_path, stop
        self.limit: int | None = None

    def read(self, size: int = -1) -> bytes:
        check_stop(self._stop, self._path)
        try:
            if self.limit is not None:
                left = max(0, self.limit - self._file.tell())
                size = left if size < 0 else min(size, left)
            return self._file.read(size)
        except OSError as exc:
            raise _ReadFailed(exc) from exc

    def seek(self, offset: int) -> int:
        try:
            return self._file.seek(offset)
        except OSError as exc:
            raise _ReadFailed(exc) from exc


class _CappedWriter:
    """A file wrapper that refuses to grow past the decompression cap, or at all once `stop` is set."""

    def __init__(self, target: BinaryIO, cap: int, c1z_path: Path, stop: threading.Event | None) -> None:
        self._target, self._cap, self._path, self._written = target, cap, c1z_path, 0
        self._stop = stop

    def write(self, data: bytes) -> int:
        check_stop(self._stop, self._path)
        self._written += len(data)
        if self._written > self._cap:
            raise C1ZFormatError(
                f"{self._path}: decompresses to more than {self._cap:,} bytes, the cap for a file of this size "
                f"({MAX_RATIO}x its size, at least {MIN_CAP >> 20} MiB, at most {MAX_DECOMPRESSED >> 30} GiB)"
            )
        return self._target.write(data)


# Blocks the frame walk reads between two looks at `stop`: a file of 4-byte blocks is read at ~5 MB/s.
_BLOCKS_PER_LOOK = 1 << 16


def _check_frame(source: BinaryIO, c1z_path: Path, size: int, cap: int, stop: threading.Event | None = None) -> None:
    """Walk the zstd frame's block headers (no decompression): one whole frame, nothing after it, size in cap.

    The decoder itself cannot tell a truncated stream from a finished one, and a truncated SQLite file may
    still open; the block walk makes both cases a clear error first.
    """
    head = source.read(18)  # the longest frame header
    if len(head) >= 4 and int.from_bytes(head[:4], "little") & 0xFFFFFFF0 == _SKIPPABLE_MAGIC:
        # Metadata zstd lets a stream carry; Go never writes one, and the walk below would misread it ("truncated").
        raise DamagedC1ZError(f"{c1z_path}: a skippable zstd frame where the database's frame belongs")
    try:
        header_size = zstandard.frame_header_size(head)
        params = zstandard.get_frame_parameters(head)
    except zstandard.ZstdError as exc:
        raise DamagedC1ZError(f"{c1z_path}: corrupt zstd frame header: {exc}") from exc
    if params.window_size > MAX_WINDOW:
        raise C1ZFormatError(f"{c1z_path}: zstd window of {params.window_size:,} bytes exceeds the 128 MiB limit")
    declared = params.content_size
    if declared != zstandard.CONTENTSIZE_UNKNOWN and declared > cap:
        raise C1ZFormatError(
            f"{c1z_path}: declares {declared:,} decompressed bytes, more than the {cap:,}-byte cap for a file "
            "of this size"
        )
    offset = len(MAGIC_V1) + header_size
    for walked in itertools.count():
        if walked % _BLOCKS_PER_LOOK == 0:
            check_stop(stop, c1z_path)
        source.seek(offset)
        block = source.read(3)
        if len(block) < 3:
            raise DamagedC1ZError(f"{c1z_path}: truncated (the zstd frame ends early)")
        value = int.from_bytes(block, "little")
        last, kind, block_size = value & 1, (value >> 1) & 3, value >> 3
        if kind == 3:
            raise DamagedC1ZError(f"{c1z_path}: corrupt zstd body (reserved block type)")
        if block_size == 0 and not last:
            # Three bytes that hold nothing, which no encoder writes but at the end: zeros read as a run of them,
            # so a sparse file of gigabytes of zeros (no disk used) kept this walk going for hours (30 MB: 45 s).
            raise DamagedC1ZError(f"{c1z_path}: corrupt zstd body (an empty block before the last)")
        offset += 3 + (1 if kind == 1 else block_size)  # an RLE block stores one byte
        if offset > size:
            raise DamagedC1ZError(f"{c1z_path}: truncated (the zstd frame ends early)")
        if last:
            break
    offset += 4 if params.has_checksum else 0
    if offset > size:
        raise DamagedC1ZError(f"{c1z_path}: truncated (the zstd frame ends early)")
    if offset < size:
        raise DamagedC1ZError(f"{c1z_path}: {size - offset} unexpected bytes after the zstd frame")


def compression_level(db_bytes: int) -> int:
    """The zstd level for a database of this size (the window is WINDOW_LOG either way)."""
    return LARGE_LEVEL if db_bytes >= LARGE_BYTES else LEVEL


def compress_atomically(db_path: Path, c1z_path: Path) -> int:
    """Compress `db_path` into `c1z_path` via a temp file, fsync and rename; returns the bytes written.

    A crash leaves either the old file or the new one, never a truncated c1z that a later upload would send.
    The temp file is locked while written, so `workfiles.sweep_stale_partials` can tell a dead writer's.
    A full disk is a `DiskFullError`; any other OS refusal a `C1ZWriteError` naming the file and the cause.
    """
    # A link names where the file lives: renaming over the link would replace it and leave its target stale.
    c1z_path = Path(os.path.realpath(c1z_path))
    try:
        return _compress_atomically(db_path, c1z_path)
    except OSError as exc:
        cause = exc.strerror or type(exc).__name__
        raise C1ZWriteError(f"cannot write {c1z_path}: {cause}{_kept(c1z_path)}") from None


def _compress_atomically(db_path: Path, c1z_path: Path) -> int:
    c1z_path.parent.mkdir(parents=True, exist_ok=True)
    size = db_path.stat().st_size
    params = zstandard.ZstdCompressionParameters.from_level(
        compression_level(size), window_log=WINDOW_LOG, write_checksum=True, write_content_size=True
    )
    compressor = zstandard.ZstdCompressor(compression_params=params)
    try:
        fd, tmp_path = locked_save_temp(c1z_path)
    except OSError as exc:
        if is_disk_full(exc):
            raise _save_disk_full(c1z_path, exc) from exc
        raise
    # The file object owns the descriptor from here, so it is closed on every path.
    target = os.fdopen(fd, "wb")
    renamed = False
    try:
        with target, db_path.open("rb") as source:
            target.write(MAGIC_V1)
            # On disk at once, not at the first flush after the whole compression: a save killed while compressing
            # left an empty file, which a sweep cannot tell from a live save's fresh one (`sweep_stale_partials`).
            target.flush()
            compressor.copy_stream(source, target, size=size, read_size=_CHUNK, write_size=_CHUNK)
            target.flush()
            os.fsync(target.fileno())
            tmp_path.replace(c1z_path)  # still locked: a sweeper never sees it unlocked under its temp name
            renamed = True
    except OSError as exc:
        if not renamed:
            _drop(tmp_path)
            if is_disk_full(exc):
                raise _save_disk_full(c1z_path, exc) from exc
            raise
        # Only closing the files is left past the rename, and the new file's bytes are synced already: an error
        # closing it (a deferred one an NFS client reports at close) is no failed save. Raised, it said the previous
        # file was "left as it was" when the new one had replaced it.
        log.warning(
            "the c1z is saved, but closing it reported an error",
            file=str(c1z_path),
            error=exc.strerror or type(exc).__name__,
        )
    except BaseException:
        if not renamed:
            _drop(tmp_path)
        raise
    # Past the rename the new file is in place: a failure to sync its directory is not a failed save (it was
    # reported as "disk full ... while saving" with the previous file already gone).
    _fsync_dir(c1z_path.parent)
    return c1z_path.stat().st_size


def _drop(tmp_path: Path) -> None:
    with contextlib.suppress(OSError):
        tmp_path.unlink()


def _kept(c1z_path: Path) -> str:
    """What a failed save says of the file it would have replaced: nothing was renamed over it. Nothing when that cannot
    be told (its directory may no longer be searched): raised here, the OSError replaced the save's own error."""
    try:
        present = c1z_path.is_file()
    except OSError:
        present = False
    return f"; {c1z_path} is left as it was" if present else ""


def _save_disk_full(c1z_path: Path, exc: BaseException) -> DiskFullError:
    full = disk_full(c1z_path.parent, f"saving {c1z_path}", exc)
    return DiskFullError(f"{full}{_kept(c1z_path)}")


# A directory that cannot be synced, though the rename in it is done: a file system that does not sync directories
# (some FUSE, SMB and NFS mounts: EINVAL, ENOTSUP) or one the process may write but not read (a drop box, mode 0333).
_CANNOT_SYNC_DIR = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES, errno.EPERM})


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable where the file system can; where it cannot, the c1z is saved all the same (it was
    reported as "cannot write FILE" with the new file in place and the old one gone)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        if exc.errno not in _CANNOT_SYNC_DIR:
            # A full disk or an I/O error: the file is saved, and a crash before the disk catches up may bring back
            # the one it replaced. Said, not raised: the save itself is done.
            log.warning(
                "the c1z is saved but its directory could not be synced; a crash now may bring back the previous file",
                directory=str(directory),
                error=exc.strerror or type(exc).__name__,
            )
            return
        log.debug("cannot sync the directory of the saved c1z", directory=str(directory), error=exc.strerror)
