"""A c1z cut short anywhere, with any byte changed, or with bytes after it, read by `inspect` (every listing) and by a
one-shot sync whose `--file` it is: one line naming the file (exit 2 for a file that is no readable c1z, 1 for a row
that does not read), never an unexpected error. The sync ends with a whole sync in the file (a damaged one is replaced,
docs/c1z.md), or fails leaving the file byte for byte as it was (what is no c1z is never overwritten).

Drawn by Hypothesis over every offset, so each boundary the earlier rounds picked by hand (the magic, the zstd frame
header, a block header, the SQLite header, a page) is among the cuts, and so is every offset between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connector.baton.errors import ConnectorError
from connector.baton.sync.to_file import sync_to_file
from connector.cli import main
from tests.baton.fake_connector import Faults, Org, syncers
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import good_c1z

LISTINGS = [[], ["--grants"], ["--entitlements"], ["--resources", "user"], ["--json"], ["--grants", "--json"]]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    where = tmp_path_factory.mktemp("good")
    return asyncio.run(good_c1z(where / "good.c1z", where)).read_bytes()


def _inspect(path: Path, *flags: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["inspect", str(path), *flags])
    return code, out.getvalue(), err.getvalue()


def _read_by_every_listing(path: Path) -> None:
    for flags in LISTINGS:
        code, _, err = _inspect(path, *flags)
        assert "unexpected error" not in err, (flags, err)
        if code == 0:
            continue
        assert code in (1, 2), (flags, code, err)
        assert err.count("\n") == 1, (flags, err)
        assert str(path) in err, (flags, err)


def _synced_into(path: Path, tmp: Path) -> None:
    """A one-shot sync into `path`: it ends with a whole sync in the file, or fails with the file as it was."""
    before = path.read_bytes()
    try:
        asyncio.run(sync_to_file(syncers(Org(), Faults()), path, options(), tmp_dir=tmp))
    except ConnectorError:
        assert path.read_bytes() == before
        return
    _read_by_every_listing(path)
    code, _, err = _inspect(path)
    assert code == 0, err


SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=25)


@pytest.mark.fuzz
@SETTINGS
@given(cut=st.floats(min_value=0, max_value=1, exclude_max=True))
@example(cut=0.0)
def test_a_file_cut_short_anywhere_is_one_line_and_a_sync_over_it_is_whole(
    cut: float, good: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    where = tmp_path_factory.mktemp("cut")
    path = where / "sync.c1z"
    path.write_bytes(good[: int(cut * len(good))])
    _read_by_every_listing(path)
    _synced_into(path, where)


@pytest.mark.fuzz
@SETTINGS
@given(at=st.floats(min_value=0, max_value=1, exclude_max=True), byte=st.integers(0, 255))
def test_a_file_with_any_byte_changed_is_read_or_one_line_and_a_sync_over_it_is_whole(
    at: float, byte: int, good: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    where = tmp_path_factory.mktemp("byte")
    path = where / "sync.c1z"
    data = bytearray(good)
    data[int(at * len(good))] = byte
    path.write_bytes(bytes(data))
    _read_by_every_listing(path)
    _synced_into(path, where)


@pytest.mark.fuzz
@SETTINGS
@given(tail=st.binary(min_size=1, max_size=64))
def test_a_file_with_bytes_after_its_frame_is_one_line_and_a_sync_over_it_is_whole(
    tail: bytes, good: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    where = tmp_path_factory.mktemp("tail")
    path = where / "sync.c1z"
    path.write_bytes(good + tail)
    _read_by_every_listing(path)
    _synced_into(path, where)
