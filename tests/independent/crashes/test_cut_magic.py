"""A c1z cut short anywhere is damage the next sync starts over from, never a file "not a c1z" refused for good.

A write cut at any byte (a copy killed, a disk filled, a node losing power under a writer that did not sync) leaves a
prefix of the file. Cut after its fifth byte, the file was named truncated and a one-shot sync started over with a
warning; cut inside its five-byte magic (`C`, `C1`, `C1Z`, `C1ZF`), it was "not a c1z file (bad magic: it does not
start with C1ZF\\0)", which it does, as far as it goes: the run was refused as if `--file` named someone else's file,
and every later run too, until an operator deleted it by hand. A file that is no prefix of the magic is still
refused and left alone (docs/c1z.md, "Resuming"), and an empty one is still a fresh start.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from connector.baton.c1z.errors import C1ZFormatError, DamagedC1ZError
from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.to_file import output_file_problem, sync_to_file
from tests.baton.fake_connector import Faults, Org, syncers
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import good_c1z, leftovers, run_inspect

DAMAGED = "existing c1z is damaged; starting a new sync instead of resuming"


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    import asyncio

    tmp = tmp_path_factory.mktemp("whole")
    return asyncio.run(good_c1z(tmp / "sync.c1z", tmp)).read_bytes()


@pytest.mark.parametrize("cut", [1, 2, 3, 4])
def test_a_file_cut_inside_its_magic_is_a_damaged_c1z(whole: bytes, cut: int, tmp_path: Path) -> None:
    path = tmp_path / "sync.c1z"
    path.write_bytes(whole[:cut])
    assert output_file_problem(path, tmp_path) is None, "the one-shot run's settings check lets it through"
    with pytest.raises(DamagedC1ZError, match=rf"truncated \(the file ends within the c1z magic, after {cut} byte"):
        C1ZReader(path, tmp_path)
    assert leftovers(tmp_path, path) == []


@pytest.mark.parametrize("cut", [1, 4])
async def test_a_sync_starts_over_from_a_file_cut_inside_its_magic(whole: bytes, cut: int, tmp_path: Path) -> None:
    path = tmp_path / "sync.c1z"
    path.write_bytes(whole[:cut])
    with structlog.testing.capture_logs() as events:
        done = await sync_to_file(syncers(Org(), Faults()), path, options(), tmp_dir=tmp_path)
    assert not done.resumed
    warned = [e for e in events if e["log_level"] == "warning"]
    assert [e["event"] for e in warned] == [DAMAGED]
    assert "truncated" in warned[0]["error"]
    with C1ZReader(path, tmp_path) as reader:
        (run,) = reader.sync_runs()
        assert run.finished
    assert leftovers(tmp_path, path) == []


def test_inspect_names_a_file_cut_inside_its_magic_truncated(whole: bytes, tmp_path: Path) -> None:
    path = tmp_path / "sync.c1z"
    path.write_bytes(whole[:3])
    code, out, err = run_inspect(path)
    assert code == 2
    assert out == ""
    assert "truncated (the file ends within the c1z magic, after 3 bytes)" in err
    assert "not a c1z file" not in err


@pytest.mark.parametrize("content", [b"C1ZX", b"X", b"C1ZF\x01", b"C1Z3"])
async def test_a_file_that_is_no_prefix_of_the_magic_is_still_refused_and_left_alone(
    content: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "sync.c1z"
    path.write_bytes(content)
    assert output_file_problem(path, tmp_path) is not None
    with pytest.raises(C1ZFormatError) as refused:
        await sync_to_file(syncers(Org(), Faults()), path, options(), tmp_dir=tmp_path)
    assert not isinstance(refused.value, DamagedC1ZError)
    assert path.read_bytes() == content
