"""An unfinished sync is resumed only with the settings it was started with (the synced resource types, the skip
options, the connector's scope such as a Datadog site); otherwise a new sync starts, with a warning naming what
changed. Resuming the old plan would save a file as complete without a type turned on since, or mix two sites.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog

from connector.baton import builders as b
from connector.baton.annotations import pack
from connector.baton.c1z.reader import C1ZReader
from connector.baton.pb.c1.connector.v2 import annotation_resource_pb2, resource_pb2
from connector.baton.sync.state import SETTINGS_KEY, SyncState
from connector.baton.sync.syncer import SyncOptions, SyncResult
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import GROUP, Faults, GroupSyncer, InjectedFailure, Org, syncers
from tests.baton.test_c1z_untrusted import rewritten
from tests.baton.test_sync_engine import rows_of

CHANGED = "unfinished sync was started with other settings; starting a new one"


async def interrupted(path: Path, org: Org, options: SyncOptions, fail_at: int = 2) -> str:
    """Sync into `path` until the `fail_at`th connector call fails; the unfinished sync's token."""
    with pytest.raises(InjectedFailure):
        await sync_to_file(syncers(org, Faults(fail_at_call=fail_at)), path, options)
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
        assert not run.finished
        return run.sync_token


async def rerun(path: Path, org: Org, options: SyncOptions) -> tuple[SyncResult, list[MutableMapping[str, Any]]]:
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(syncers(org, Faults()), path, options)
    return result, [e for e in events if e["event"] == CHANGED]


@pytest.mark.parametrize(
    ("before", "after", "changed"),
    [
        (
            SyncOptions(resource_type_ids=["user"], concurrency=1),
            SyncOptions(concurrency=1),
            ["resource_types: 'user' -> 'group,role,user'"],
        ),
        (
            SyncOptions(concurrency=1),
            SyncOptions(resource_type_ids=["user", "group"], concurrency=1),
            ["resource_types: 'group,role,user' -> 'group,user'"],
        ),
        (
            SyncOptions(skip_entitlements_and_grants=True, concurrency=1),
            SyncOptions(concurrency=1),
            ["skip_entitlements_and_grants: 'true' -> 'false'"],
        ),
        (
            SyncOptions(concurrency=1),
            SyncOptions(skip_grants=True, concurrency=1),
            ["skip_grants: 'false' -> 'true'"],
        ),
        (
            SyncOptions(scope={"site": "datadoghq.com"}, concurrency=1),
            SyncOptions(scope={"site": "datadoghq.eu"}, concurrency=1),
            ["site: 'datadoghq.com' -> 'datadoghq.eu'"],
        ),
        (
            SyncOptions(concurrency=1),
            SyncOptions(scope={"site": "datadoghq.eu"}, concurrency=1),
            ["site: (not set) -> 'datadoghq.eu'"],
        ),
    ],
    ids=[
        "type-turned-on",
        "type-turned-off",
        "entitlements-and-grants-turned-on",
        "grants-turned-off",
        "site",
        "scope",
    ],
)
async def test_other_settings_start_a_new_sync_that_holds_what_a_clean_one_does(
    tmp_path: Path, before: SyncOptions, after: SyncOptions, changed: list[str]
) -> None:
    org = Org()
    clean = tmp_path / "clean.c1z"
    await sync_to_file(syncers(org, Faults()), clean, after)

    path = tmp_path / "sync.c1z"
    await interrupted(path, org, before)
    result, warnings = await rerun(path, org, after)
    assert not result.resumed
    (warning,) = warnings
    assert warning["changed"] == changed
    assert warning["log_level"] == "warning"
    assert rows_of(path) == rows_of(clean)
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()  # the old unfinished run is dropped with the save
        assert (run.sync_id, run.finished) == (result.sync_id, True)


async def test_the_same_settings_resume_and_the_order_of_the_types_does_not_matter(tmp_path: Path) -> None:
    org = Org()
    path = tmp_path / "sync.c1z"
    scope = {"site": "datadoghq.eu"}
    await interrupted(path, org, SyncOptions(resource_type_ids=["user", "group"], scope=scope, concurrency=1))
    result, warnings = await rerun(
        path, org, SyncOptions(resource_type_ids=["group", "user"], scope=dict(scope), concurrency=4)
    )
    assert result.resumed
    assert warnings == []


async def test_the_resumed_token_is_parsed_off_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The token is a file's bytes, as large as the file makes it: parsing it is blocking work."""
    org = Org()
    path = tmp_path / "sync.c1z"
    await interrupted(path, org, SyncOptions(concurrency=1))
    parsed_on: list[str] = []
    unmarshal = SyncState.unmarshal

    def recording(token: str) -> SyncState:
        parsed_on.append(threading.current_thread().name)
        return unmarshal(token)

    monkeypatch.setattr(SyncState, "unmarshal", staticmethod(recording))
    result, _ = await rerun(path, org, SyncOptions(concurrency=1))
    assert result.resumed
    assert parsed_on
    assert threading.main_thread().name not in parsed_on


async def test_an_unfinished_token_records_its_settings_and_a_finished_one_keeps_gos_shape(tmp_path: Path) -> None:
    org = Org()
    path = tmp_path / "sync.c1z"
    options = SyncOptions(resource_type_ids=["group", "user"], skip_grants=True, scope={"site": "us5.datadoghq.com"})
    token = json.loads(await interrupted(path, org, options, fail_at=3))
    # The skip options stay Go's own fields; the rest is recorded once, under a key Go's decoder ignores.
    assert token[SETTINGS_KEY] == {
        "site": "us5.datadoghq.com",
        "resource_types": "group,user",
        "connector_types": "group,role,user",
    }
    assert token["should_skip_grants"] is True

    await sync_to_file(syncers(org, Faults()), path, options)
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
    finished = json.loads(run.sync_token)
    assert SETTINGS_KEY not in finished
    # Go's last checkpoint clears the stack and the graph only (c1z-format.md §5.4): its skip flags stay.
    assert set(finished) <= {
        "current_action_id",
        "needs_expansion",
        "should_skip_grants",
        "completed_actions_count",
        "version",
    }
    assert finished["should_skip_grants"] is True


NOT_RECORDED = "the settings it was started with are not recorded (another version or SDK wrote it)"


@pytest.mark.parametrize(
    "recorded",
    [None, {"resource_types": ["group", "role", "user"]}],
    ids=["absent", "not-text"],
)
async def test_an_unfinished_sync_without_usable_recorded_settings_is_not_resumed(
    tmp_path: Path, recorded: dict[str, Any] | None
) -> None:
    """Written by an earlier version (or another SDK), or recording settings that are not text: what it was started
    with is unknown, so it is not trusted. Settings that are not text read as no record at all (a list compared as
    a setting would also differ, and say so in other words)."""
    org = Org()
    interrupted_path = tmp_path / "interrupted.c1z"
    token = json.loads(await interrupted(interrupted_path, org, SyncOptions(concurrency=1)))
    if recorded is None:
        del token[SETTINGS_KEY]
    else:
        token[SETTINGS_KEY] = recorded
    path = rewritten(interrupted_path, tmp_path, f"UPDATE v1_sync_runs SET sync_token = '{json.dumps(token)}'")
    result, warnings = await rerun(path, org, SyncOptions(concurrency=1))
    assert not result.resumed
    (warning,) = warnings
    assert warning["changed"] == [NOT_RECORDED]


async def test_a_token_that_records_the_current_settings_but_lists_other_types_is_not_resumed(tmp_path: Path) -> None:
    """The token is a c1z's bytes: it may claim today's settings while the run listed other resource types. Resumed,
    its plan would be finished and the file saved as complete without the types it never listed."""
    org = Org()
    clean = tmp_path / "clean.c1z"
    await sync_to_file(syncers(org, Faults()), clean, SyncOptions(concurrency=1))
    interrupted_path = tmp_path / "interrupted.c1z"
    token = json.loads(await interrupted(interrupted_path, org, SyncOptions(resource_type_ids=["user"], concurrency=1)))
    token[SETTINGS_KEY]["resource_types"] = "group,role,user"  # the lie: what a run of every type records
    path = rewritten(interrupted_path, tmp_path, f"UPDATE v1_sync_runs SET sync_token = '{json.dumps(token)}'")
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(syncers(org, Faults()), path, SyncOptions(concurrency=1))
    assert not result.resumed
    assert rows_of(path) == rows_of(clean)
    (refused,) = [e for e in events if e["event"] == "unfinished sync cannot be resumed; starting a new one"]
    assert refused["reason"] == "the run listed 1 resource type(s), not the 3 this sync lists (group, role differ)"


@pytest.mark.parametrize(
    "redefine",
    [
        lambda t: t.traits.remove(b.Trait.TRAIT_GROUP),  # resumed, every group "is missing its GroupTrait"
        lambda t: t.annotations.append(pack(annotation_resource_pb2.SkipGrants())),  # a phase now skipped
        lambda t: setattr(t, "description", "Groups of users"),
    ],
    ids=["trait", "annotation", "description"],
)
async def test_a_run_whose_types_the_connector_now_defines_otherwise_is_not_resumed(
    tmp_path: Path, redefine: Callable[[resource_pb2.ResourceType], None]
) -> None:
    """Another connector version between the runs: the resumed run would go on with the type rows the first run
    stored (they decide the traits required and the phases skipped) and save them as complete over resources the
    new code built, or fail every resume on a trait the old type lacks."""
    group = resource_pb2.ResourceType()
    group.CopyFrom(GROUP)
    redefine(group)

    class Redefined(GroupSyncer):
        def resource_type(self) -> resource_pb2.ResourceType:
            return group

        def group(self, gid: str) -> resource_pb2.Resource:
            res = super().group(gid)
            if b.Trait.TRAIT_GROUP not in group.traits:
                del res.annotations[:]
            return res

    org = Org()
    path = tmp_path / "sync.c1z"
    await interrupted(path, org, SyncOptions(concurrency=1), fail_at=12)
    now = [s if not isinstance(s, GroupSyncer) else Redefined(org, Faults()) for s in syncers(org, Faults())]
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(now, path, SyncOptions(concurrency=1))
    assert not result.resumed
    (refused,) = [e for e in events if e["event"] == "unfinished sync cannot be resumed; starting a new one"]
    assert refused["reason"] == "resource type(s) defined otherwise since the run started: group"
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (result.sync_id, True)
        (stored,) = [t for t in reader.resource_types() if t.id == "group"]
        assert stored == group


async def test_an_unfinished_run_with_an_empty_token_is_not_continued(tmp_path: Path) -> None:
    """An empty token says nothing of the run's rows (Go's fresh state): continued under the same sync id, the rows
    it already held stayed in the finished file whether or not the new plan listed them again, e.g. users deleted
    since."""
    path = tmp_path / "sync.c1z"
    await interrupted(path, Org(users=23), SyncOptions(concurrency=1), fail_at=8)
    emptied = rewritten(path, tmp_path, "UPDATE v1_sync_runs SET sync_token = ''")
    org = Org(users=20)
    result = await sync_to_file(syncers(org, Faults()), emptied, SyncOptions(concurrency=1))
    assert not result.resumed
    with C1ZReader(emptied) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (result.sync_id, True)
        assert sorted(r.id.resource for r in reader.resources("user")) == org.user_ids()


_PLANTED = "planted"  # a resource type no syncer here defines


@pytest.mark.parametrize(
    ("options", "plant"),
    [
        (
            SyncOptions(concurrency=1),
            "INSERT INTO v1_resources (resource_type_id, external_id, data, sync_id, discovered_at) "
            f"SELECT '{_PLANTED}', '{_PLANTED}:' || external_id, data, sync_id, discovered_at FROM v1_resources",
        ),
        (
            SyncOptions(concurrency=1),
            "INSERT INTO v1_entitlements (resource_type_id, resource_id, external_id, data, sync_id, discovered_at) "
            f"SELECT '{_PLANTED}', external_id, '{_PLANTED}:' || external_id, data, sync_id, discovered_at "
            "FROM v1_resources",
        ),
        (
            SyncOptions(concurrency=1),
            "INSERT INTO v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, "
            "principal_resource_id, external_id, data, sync_id, discovered_at) "
            f"SELECT '{_PLANTED}', external_id, external_id, 'user', 'u0001', '{_PLANTED}:' || external_id, data, "
            "sync_id, discovered_at FROM v1_resources",
        ),
        (
            SyncOptions(skip_grants=True, concurrency=1),
            "INSERT INTO v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, "
            "principal_resource_id, external_id, data, sync_id, discovered_at) "
            "SELECT resource_type_id, substr(external_id, length(resource_type_id) + 2), external_id || ':member', "
            "'user', 'u0001', external_id || ':member:user:u0001', data, sync_id, discovered_at FROM v1_resources",
        ),
        (
            SyncOptions(skip_entitlements_and_grants=True, concurrency=1),
            "INSERT INTO v1_entitlements (resource_type_id, resource_id, external_id, data, sync_id, discovered_at) "
            "SELECT resource_type_id, substr(external_id, length(resource_type_id) + 2), external_id || ':member', data, "
            "sync_id, discovered_at FROM v1_resources",
        ),
    ],
    ids=[
        "resources-of-another-type",
        "entitlements-of-another-type",
        "grants-of-another-type",
        "grants-skipped",
        "entitlements-skipped",
    ],
)
async def test_an_unfinished_run_holding_rows_its_plan_never_makes_is_not_resumed(
    tmp_path: Path, options: SyncOptions, plant: str
) -> None:
    """The unfinished run's rows are a file's bytes: rows naming a resource type the run does not sync, or grants and
    entitlements of a run that skips them. Resumed, they stayed in the finished sync (and in its stats) beside rows
    no uninterrupted sync of the org holds; nothing in the plan would ever replace them. A new sync starts."""
    org = Org()
    clean = tmp_path / "clean.c1z"
    clean_result = await sync_to_file(syncers(org, Faults()), clean, options)
    interrupted_path = tmp_path / "interrupted.c1z"
    await interrupted(interrupted_path, org, options, fail_at=5)
    path = rewritten(interrupted_path, tmp_path, plant)
    assert _object_rows(path) > _object_rows(interrupted_path)  # something was planted
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(syncers(org, Faults()), path, options)
    assert not result.resumed
    (refused,) = [e for e in events if e["event"] == "unfinished sync cannot be resumed; starting a new one"]
    assert "rows" in refused["reason"]
    assert rows_of(path) == rows_of(clean)
    assert result.stats == clean_result.stats


def _object_rows(path: Path) -> int:
    with C1ZReader(path) as reader:
        return sum(
            reader.connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants")
        )
