"""Another connector's c1z at the path a sync writes (`sync.c1z` is every baton connector's default name).

One-shot and service mode refuse such a file at start (`output_file_problem`). A service's periodic syncs run long
after that check, through `sync_to_file`: a file that another connector wrote there since (two containers on one
volume, each with the default name) was replaced by this connector's sync, that connector's sync lost without a
word. `sync_to_file` refuses it too when told the connector's types, and leaves it as it is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.baton.c1z.errors import C1ZFormatError
from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, Org, expected_grant_ids, syncers
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import edited, good_c1z, leftovers

OURS = ("user", "group", "role")


async def test_a_periodic_sync_leaves_another_connectors_file_as_it_is(tmp_path: Path) -> None:
    path = await good_c1z(tmp_path / "sync.c1z", tmp_path)
    other = edited(
        path,
        tmp_path / "other.c1z",
        "UPDATE v1_resource_types SET external_id = 'okta_' || external_id",
        "UPDATE v1_resources SET resource_type_id = 'okta_' || resource_type_id",
    )
    before = other.read_bytes()
    with pytest.raises(C1ZFormatError) as refused:
        await sync_to_file(syncers(Org(), Faults()), other, options(), tmp_dir=tmp_path, known_types=OURS)
    assert str(refused.value) == (
        f"{other}: the existing file holds another connector's sync, or a newer release's of this one (resource types "
        "'okta_group', 'okta_role', 'okta_user'; this connector writes group, role, user); move it away or name "
        "another file — it is never overwritten blindly"
    )
    assert other.read_bytes() == before
    assert leftovers(tmp_path, path, other) == []


async def test_its_own_file_is_synced_into_as_before(tmp_path: Path) -> None:
    org = Org()
    path = await good_c1z(tmp_path / "sync.c1z", tmp_path, org)
    result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path, known_types=OURS)
    with C1ZReader(path, tmp_path) as reader:
        assert [r.sync_id for r in reader.sync_runs()] == [result.sync_id]
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
