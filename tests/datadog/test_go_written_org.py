"""Our sync of the org that a Go-written c1z describes: the same ids, and everything the Go connector recorded.

tests/fixtures/c1z/old-sdk-v0.1.14.*.c1z were written by the Go baton-datadog connector of December 2023 from
a fake Datadog org (tests/fixtures/c1z/README.md). Rebuilt in the fake Datadog and synced by us, the same org
must give the same resource type, resource, entitlement and grant ids (docs/spec/c1z-format.md §4,
docs/spec/reference-connector.md §2 and §3), and every field the Go connector recorded with the same value: an
installation that moves from the Go connector to this one keeps every id ConductorOne matches on.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog
from google.protobuf import struct_pb2

from connector.baton.c1z.reader import C1ZReader
from connector.baton.pb.c1.connector.v2 import annotation_trait_pb2, resource_pb2
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions
from tests.datadog.helpers import FAST_RETRY
from tests.fakes.datadog import FakeDatadog
from tests.fakes.datadog.from_c1z import org_from_c1z, trait
from tests.independent.c1z.hostile import edited

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "c1z"
SMALL, MODERATE = FIXTURES / "old-sdk-v0.1.14.small.c1z", FIXTURES / "old-sdk-v0.1.14.moderate.c1z"
TRAITS = {
    "user": annotation_trait_pb2.UserTrait,
    "role": annotation_trait_pb2.RoleTrait,
    "team": annotation_trait_pb2.GroupTrait,
}


async def sync_org_of(go_file: Path, out: Path) -> None:
    with FakeDatadog(org_from_c1z(go_file)) as fake:
        client = DatadogClient(api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url, retry=FAST_RETRY)
        async with client:
            # The defaults sync users, roles and teams: the types the Go connector of 2023 had.
            await sync_to_file(DatadogConnector(client, DatadogOptions()).syncers(), out, SyncOptions())


def external_ids(path: Path) -> dict[str, set[str]]:
    with C1ZReader(path) as reader:
        return {
            table: {str(v) for (v,) in reader.connection.execute(f"SELECT external_id FROM v1_{table}")}
            for table in ("resource_types", "resources", "entitlements", "grants")
        }


def by_id(path: Path) -> dict[str, resource_pb2.Resource]:
    with C1ZReader(path) as reader:
        return {f"{r.id.resource_type}:{r.id.resource}": r for r in reader.resources()}


@pytest.mark.parametrize("go_file", [SMALL, MODERATE], ids=["small", "moderate"])
async def test_the_same_org_gives_the_go_connectors_ids(go_file: Path, tmp_path: Path) -> None:
    ours = tmp_path / "sync.c1z"
    await sync_org_of(go_file, ours)
    go_ids, our_ids = external_ids(go_file), external_ids(ours)
    assert {table: len(ids) for table, ids in go_ids.items()}["grants"] > 0
    assert our_ids == go_ids


async def test_every_field_the_go_connector_recorded_is_there_with_its_value(tmp_path: Path) -> None:
    ours_path = tmp_path / "sync.c1z"
    await sync_org_of(MODERATE, ours_path)
    go, ours = by_id(MODERATE), by_id(ours_path)
    assert go.keys() == ours.keys()
    pending = 0
    for key, go_res in go.items():
        res = ours[key]
        trait_type = TRAITS[go_res.id.resource_type]
        go_trait, our_trait = trait(go_res, trait_type()), trait(res, trait_type())
        assert res.display_name == go_res.display_name, key
        for name, value in go_trait.profile.fields.items():
            # An empty team description is left out rather than recorded as "".
            expected = None if value == struct_pb2.Value(string_value="") and name == "team_description" else value
            assert our_trait.profile.fields.get(name) == expected, (key, name)
        if isinstance(go_trait, annotation_trait_pb2.UserTrait):
            assert isinstance(our_trait, annotation_trait_pb2.UserTrait)
            assert list(our_trait.emails) == list(go_trait.emails), key
            assert our_trait.account_type == go_trait.account_type, key
            if go_trait.status.status == annotation_trait_pb2.UserTrait.Status.STATUS_UNSPECIFIED:
                # The Go connector of 2023 left a Pending user's status unspecified; it now maps to DISABLED
                # (docs/spec/reference-connector.md §2.1), as ours does.
                pending += 1
                assert our_trait.status.status == annotation_trait_pb2.UserTrait.Status.STATUS_DISABLED, key
                assert our_trait.status.details == "Pending", key
            else:
                assert our_trait.status.status == go_trait.status.status, key
    assert pending > 0


# The Go SDK's token of a sync stopped in its grants phase (c1z-format.md §2.7): the Go shape, with neither the settings
# nor the tally of rows our tokens record.
_GO_TOKEN = (
    '{"actions_map":{"0000000009":{"id":"0000000009","operation":"list-grants","resource_type_id":"team"}},'
    '"action_order":["0000000009"],"current_action_id":9,"completed_actions_count":8,"version":1}'
)


async def test_an_unfinished_go_sync_whose_rows_were_deleted_is_not_resumed(tmp_path: Path) -> None:
    """A working file the Go connector left unfinished, some of its rows deleted since: its token claims the pages
    its run stored, and records nothing this engine could check them against (Go writes no tally and no settings).
    It is not resumed (docs/c1z.md, "Resuming"; issue 8 asks a Go file to be "replaced or resumed"): a new sync
    replaces it and the file holds the whole org."""
    path = edited(
        SMALL,
        tmp_path / "sync.c1z",
        "DELETE FROM v1_grants WHERE id IN (SELECT id FROM v1_grants ORDER BY id LIMIT 10)",
        "UPDATE v1_sync_runs SET ended_at = NULL, started_at = datetime('now', 'localtime'), sync_token = ?",
        params=(_GO_TOKEN,),
    )
    with structlog.testing.capture_logs() as events:
        await sync_org_of(SMALL, path)
    (warning,) = [e for e in events if e["log_level"] == "warning"]
    assert warning["event"] == "unfinished sync was started with other settings; starting a new one"
    assert warning["changed"] == ["the settings it was started with are not recorded (another version or SDK wrote it)"]
    assert external_ids(path) == external_ids(SMALL)
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
        assert run.finished
        assert run.sync_id != "3MtF72cpTXgslJXvAb4BF3Xaoe3", "a new sync, not the Go run continued"
