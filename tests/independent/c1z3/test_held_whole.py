"""Guards the class "a read that holds a whole table of a file at once": every other read of a c1z's objects comes a
batch at a time (bounded in rows and bytes: rows.iter_blobs) and each object is bounded (rows.MAX_OBJECT_BYTES), but a
sync's resource types are held all at once, decoded, by `inspect` (its summary and its --resources check) and by the
engine resuming an unfinished sync, and so are the type ids its rows name, one count each, by every `inspect`. Protobuf of tiny repeated fields decodes to ~30x its size: a 24 KB file of three
resource types of 4 MiB of empty annotations each took `inspect` 390 MB, and fifteen (within the 64 MiB any file may
decompress to) 1.7 GB, before any check. Now they are counted and measured in SQL first, and a file over the bound is
one line naming it (inspect: exit 1) or damage (a resumed sync starts over in a new file)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
import structlog

from connector.baton.c1z import rows
from connector.baton.c1z.errors import C1ZFormatError, DamagedC1ZError
from connector.baton.c1z.reader import C1ZReader
from connector.baton.c1z.store import C1ZStore
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, InjectedFailure, Org, expected_grant_ids, syncers
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import edited, good_c1z, leftovers, run_inspect

# Empty `annotations` (field 4) appended to each resource type: still the type its key names, each 400 KiB, three of
# them over the 1 MiB bound.
_PADDING = b"\x22\x00" * (200 << 10)
_PADDED = "UPDATE v1_resource_types SET data = CAST(data || ? AS BLOB)"
# 10,001 tiny resource types in the finished sync, each its own key.
_MANY = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i <= 10000) "
    "INSERT INTO v1_resource_types (external_id, data, sync_id, discovered_at) "
    "SELECT 't' || i, CAST('' AS BLOB), (SELECT sync_id FROM v1_sync_runs), '2026-01-01 00:00:00' FROM n"
)


# Rows of the finished sync naming resource types of their own: 10,001 of them, or two of 2.5 million characters.
_NAMING = (
    "INSERT INTO v1_resources (resource_type_id, external_id, data, sync_id, discovered_at) "
    "SELECT {type_id}, 'r' || i || ':x', CAST('' AS BLOB), (SELECT sync_id FROM v1_sync_runs), '2026-01-01 00:00:00' "
    "FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) SELECT i FROM n)"
)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("finished")
    return asyncio.run(good_c1z(where / "good.c1z", where))


@pytest.fixture(scope="module")
def unfinished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An unfinished sync saved by a failure in the grants phase: the next run resumes it."""
    where = tmp_path_factory.mktemp("unfinished")
    path = where / "unfinished.c1z"
    with pytest.raises(InjectedFailure):
        asyncio.run(sync_to_file(syncers(Org(), Faults(fail_at_call=19)), path, options(concurrency=1), tmp_dir=where))
    return path


@pytest.mark.parametrize(
    ("case", "statement", "said"),
    [
        ("too large", _PADDED, "the resource types of one sync take 1,2"),
        ("too many", _MANY, "holds 10,00[0-9] resource types of one sync, more than the 10,000"),
    ],
)
@pytest.mark.parametrize("flags", [(), ("--resources", "user")])
def test_inspect_refuses_resource_types_over_the_bound_in_one_line(
    finished: Path, tmp_path: Path, case: str, statement: str, said: str, flags: tuple[str, ...]
) -> None:
    path = edited(finished, tmp_path / "types.c1z", statement, params=(_PADDING,) if "?" in statement else ())
    code, out, err = run_inspect(path, *flags)
    assert code == 1, (case, code, out[:200])
    assert out == ""
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert err.startswith(f"baton-datadog: inspect: {path}: cannot read v1_resource_types: "), err
    assert re.search(said, err), err
    with C1ZReader(path, tmp_path) as reader, pytest.raises(C1ZFormatError, match=said):
        reader.resource_types()


def test_resource_types_within_the_bound_are_read(finished: Path, tmp_path: Path) -> None:
    # Just under the bound: two padded types (800 KiB with their keys and objects), the third as written.
    path = edited(finished, tmp_path / "types.c1z", f"{_PADDED} WHERE external_id != 'role'", params=(_PADDING,))
    assert 2 * len(_PADDING) < rows.MAX_RESOURCE_TYPES_BYTES
    code, _, err = run_inspect(path)
    assert (code, err) == (0, "")
    with C1ZReader(path, tmp_path) as reader:
        assert sorted(t.id for t in reader.resource_types()) == ["group", "role", "user"]


async def test_a_resumed_sync_does_not_hold_resource_types_over_the_bound(unfinished: Path, tmp_path: Path) -> None:
    path = edited(unfinished, tmp_path / "resumed.c1z", _PADDED, params=(_PADDING,))
    store = await C1ZStore.open(path, tmp_path)
    try:
        (run,) = await store.sync_runs()
        await store.resume_sync(run.sync_id)
        with pytest.raises(DamagedC1ZError, match=rf"^{re.escape(str(path))}: v1_resource_types: the resource types"):
            await store.resource_types()
    finally:
        await store.close()


async def test_a_sync_over_such_a_run_starts_over_and_ends_whole(unfinished: Path, tmp_path: Path) -> None:
    path = edited(unfinished, tmp_path / "resumed.c1z", _PADDED, params=(_PADDING,))
    work = tmp_path / "work"
    work.mkdir()
    org = Org()
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=work)
    assert not result.resumed
    (warning,) = [e for e in events if e["log_level"] == "warning"]
    assert warning["event"] == "existing c1z is damaged; starting a new sync instead of resuming"
    assert warning["error"].startswith(f"{path}: v1_resource_types: the resource types of one sync take ")
    with C1ZReader(path, work) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (result.sync_id, True)
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
    assert leftovers(work) == []


@pytest.mark.parametrize(
    ("case", "statement"),
    [
        ("too many", _NAMING.format(type_id="'t' || i", rows=10_001)),
        ("too long together", _NAMING.format(type_id="printf('%.*c', 2500000, 't') || i", rows=2)),
    ],
)
def test_inspect_refuses_rows_naming_types_over_the_bound_in_one_line(
    finished: Path, tmp_path: Path, case: str, statement: str
) -> None:
    """The types a sync's rows name are counted for every `inspect` (its summary, its --resources check), one entry
    each: a 19 MB file naming a million of them took 660 MB and 10 s of CPU, and printed 112 MB."""
    path = edited(finished, tmp_path / "named.c1z", statement)
    code, out, err = run_inspect(path)
    assert code == 1, (case, code, out[:200])
    assert out == ""
    said = (
        "cannot read v1_resources: its rows name more than 10,000 resource types of one sync, or type ids of more "
        "than 4 MiB together"
    )
    assert err == f"baton-datadog: inspect: {path}: {said}\n"


def test_one_long_type_id_is_still_shown_whole(finished: Path, tmp_path: Path) -> None:
    """Within the bound a long id is what the file holds, and shown (tests/baton/test_inspect.py shows 100,000)."""
    path = edited(finished, tmp_path / "named.c1z", _NAMING.format(type_id="printf('%.*c', 1000000, 't')", rows=1))
    code, out, err = run_inspect(path)
    assert (code, err) == (0, "")
    assert "t" * 1_000_000 in out
