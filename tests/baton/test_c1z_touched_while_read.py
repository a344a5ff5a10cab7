"""A c1z touched while it is read (a new mtime, the same bytes) is refused as changed, like one rewritten in place at
the same size: stat tells the two apart by nothing, and only a second whole read of the file could. The refusal costs
a retry; reading a torn file as the file would cost its content (envelope._check_unchanged)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.baton.c1z import envelope
from connector.baton.c1z.errors import C1ZFormatError, DamagedC1ZError
from connector.baton.c1z.reader import C1ZReader
from tests.independent.c1z.hostile import good_c1z


def _touch(path: Path) -> None:
    found = path.stat()
    os.utime(path, ns=(found.st_atime_ns, found.st_mtime_ns + 1_000_000_000))


def _rewrite_same_bytes_in_place(path: Path) -> None:
    """A writer that sized the file first and fills it in place: here with the bytes it already held."""
    data = path.read_bytes()
    with path.open("r+b") as file:
        file.write(data)
    _touch(path)


@pytest.mark.parametrize("change", [_touch, _rewrite_same_bytes_in_place], ids=["touched", "rewritten in place"])
async def test_a_file_whose_mtime_moves_while_it_is_read_is_refused_as_changed(
    change: Callable[[Path], None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = await good_c1z(tmp_path / "in.c1z", tmp_path)
    before = path.read_bytes()
    walk = envelope._check_frame

    def walk_then_change(
        source: object, c1z_path: Path, size: int, cap: int, stop: threading.Event | None = None
    ) -> None:
        walk(source, c1z_path, size, cap, stop)  # type: ignore[arg-type]
        change(c1z_path)

    monkeypatch.setattr(envelope, "_check_frame", walk_then_change)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(C1ZFormatError) as caught:
        C1ZReader(path, work)
    assert not isinstance(caught.value, DamagedC1ZError)
    assert str(caught.value).startswith(f"{path}: changed while it was read (rewritten at the same size")
    assert path.read_bytes() == before
