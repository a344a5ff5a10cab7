"""Golden .c1z fixtures (real files from the Go baton SDK) and a helper to open them.

A v1 .c1z is the 5-byte magic ``C1ZF\\0`` followed by one zstd frame holding a SQLite database.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import zstandard

from tests.fixtures_dir import FIXTURES_DIR

FIXTURE_DIR = FIXTURES_DIR / "c1z"
C1Z_V1_MAGIC = b"C1ZF\x00"


def fixture_paths() -> list[Path]:
    """Every golden ``*.c1z`` file, sorted by name."""
    return sorted(FIXTURE_DIR.glob("*.c1z"))


@contextmanager
def decompressed_db(c1z: Path) -> Iterator[Path]:
    """Yield the path of a temporary SQLite file decompressed from ``c1z``; removed on exit."""
    with tempfile.TemporaryDirectory(prefix="c1z_fixture_") as tmp:
        db_path = Path(tmp) / "db.sqlite"
        with c1z.open("rb") as src, db_path.open("wb") as dst:
            magic = src.read(len(C1Z_V1_MAGIC))
            if magic != C1Z_V1_MAGIC:
                raise ValueError(f"{c1z}: not a v1 c1z (magic {magic!r})")
            with zstandard.ZstdDecompressor().stream_reader(src) as reader:
                shutil.copyfileobj(reader, dst)
        yield db_path
