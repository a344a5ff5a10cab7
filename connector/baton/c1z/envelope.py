"""The c1z v1 envelope: the magic `C1ZF\\0`, then exactly one zstd frame holding a SQLite file.

Both directions stream, so memory does not grow with the size of the sync.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import zstandard

MAGIC_V1 = b"C1ZF\x00"
MAGIC_V3 = b"C1Z3\x00"
SQLITE_HEADER = b"SQLite format 3\x00"
# Go's reader caps the zstd window at 128 MiB; level 3 stays far below it.
_LEVEL = 3
_CHUNK = 1 << 20


class C1ZFormatError(ValueError):
    """The file is not a c1z this project can read."""


def decompress_to(c1z_path: Path, db_path: Path) -> None:
    """Write the SQLite database inside `c1z_path` to `db_path`."""
    with c1z_path.open("rb") as source:
        magic = source.read(len(MAGIC_V1))
        if magic == MAGIC_V3:
            raise C1ZFormatError(f"{c1z_path}: a v3 (Pebble) c1z; only the v1 SQLite format is supported")
        if magic != MAGIC_V1:
            raise C1ZFormatError(f"{c1z_path}: not a c1z file (bad magic {magic!r})")
        try:
            with db_path.open("wb") as target:
                zstandard.ZstdDecompressor().copy_stream(source, target, read_size=_CHUNK, write_size=_CHUNK)
        except zstandard.ZstdError as exc:
            raise C1ZFormatError(f"{c1z_path}: corrupt zstd body: {exc}") from exc
    with db_path.open("rb") as check:
        if check.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise C1ZFormatError(f"{c1z_path}: the body is not a SQLite database")


def unpack(c1z_path: Path, tmp_dir: Path | None = None, prefix: str = "c1z-") -> tuple[Path, Path]:
    """Decompress a c1z into a new private temp directory; returns (directory, database path).

    The directory is removed again if the file turns out not to be a c1z, so no half-written copy is left.
    """
    workdir = Path(tempfile.mkdtemp(prefix=prefix, dir=tmp_dir))
    db_path = workdir / "sync.db"
    try:
        decompress_to(c1z_path, db_path)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return workdir, db_path


def compress_atomically(db_path: Path, c1z_path: Path) -> int:
    """Compress `db_path` into `c1z_path` via a temp file, fsync and rename; returns the bytes written.

    A crash leaves either the old file or the new one, never a truncated c1z that a later upload would send.
    """
    c1z_path.parent.mkdir(parents=True, exist_ok=True)
    size = db_path.stat().st_size
    compressor = zstandard.ZstdCompressor(level=_LEVEL, write_checksum=True, write_content_size=True)
    fd, tmp_name = tempfile.mkstemp(prefix=c1z_path.name + ".", suffix=".tmp", dir=c1z_path.parent)
    tmp_path = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as target, db_path.open("rb") as source:
            target.write(MAGIC_V1)
            compressor.copy_stream(source, target, size=size, read_size=_CHUNK, write_size=_CHUNK)
            target.flush()
            os.fsync(target.fileno())
        tmp_path.replace(c1z_path)
        _fsync_dir(c1z_path.parent)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return c1z_path.stat().st_size


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
