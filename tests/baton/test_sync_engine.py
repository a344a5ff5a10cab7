"""The sync engine: what lands in the c1z, resuming after interruption, retries, warnings and options."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path

import pytest
import structlog.testing

from connector.baton import builders as b
from connector.baton.c1z.reader import C1ZReader
from connector.baton.connector import Page
from connector.baton.errors import InvalidArgumentError
from connector.baton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import (
    Faults,
    GroupSyncer,
    InjectedFailure,
    Org,
    UserSyncer,
    expected_grant_ids,
    page_of,
    syncers,
)


def options(**kwargs: object) -> SyncOptions:
    return SyncOptions(**kwargs)  # type: ignore[arg-type]


def rows_of(path: Path) -> set[tuple[str, str, bytes]]:
    """Every object row of the default sync as (table, external_id, data): what ConductorOne would ingest."""
    out: set[tuple[str, str, bytes]] = set()
    with C1ZReader(path) as reader:
        sid = reader.default_sync_id()
        for table in ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants"):
            query = f"SELECT external_id, data FROM {table} WHERE sync_id = ?"
            out |= {(table, ext, data) for ext, data in reader.connection.execute(query, (sid,))}
    return out


async def test_full_sync_stores_exactly_the_org(tmp_path: Path) -> None:
    org = Org()
    path = tmp_path / "sync.c1z"
    result = await sync_to_file(syncers(org, Faults()), path, options())
    with C1ZReader(path) as reader:
        runs = reader.sync_runs()
        assert len(runs) == 1
        assert runs[0].finished
        assert runs[0].sync_type == "full"
        assert {r.id.resource for r in reader.resources("user")} == set(org.user_ids())
        assert {r.id.resource for r in reader.resources("group")} == {f"g{i}" for i in range(org.groups)}
        assert {e.id for e in reader.entitlements()} == {
            f"group:g{i}:{s}" for i in range(org.groups) for s in ("member", "admin")
        } | {f"role:r{i}:member" for i in range(org.roles)}
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
    assert result.stats["resources"] == org.users + org.groups + org.roles
    assert result.stats["grants"] == len(expected_grant_ids(org))


@pytest.mark.parametrize("fail_at", [1, 2, 4, 6, 7, 9, 12, 15, 20])
async def test_interrupted_sync_resumes_to_the_same_rows(tmp_path: Path, fail_at: int) -> None:
    org = Org()
    clean = tmp_path / "clean.c1z"
    await sync_to_file(syncers(org, Faults()), clean, options())

    path = tmp_path / "sync.c1z"
    faults = Faults(fail_at_call=fail_at)
    with pytest.raises(InjectedFailure):
        await sync_to_file(syncers(org, faults), path, options(concurrency=1))
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
        assert not run.finished, "the interrupted sync is saved unfinished, with its checkpoint"
        assert json.loads(run.sync_token)["version"] == 1

    resumed = Faults()
    result = await sync_to_file(syncers(org, resumed), path, options(concurrency=1))
    assert result.resumed
    assert rows_of(path) == rows_of(clean)
    assert resumed.calls < Faults().calls + 40  # sanity: bounded work
    # The resumed run must not repeat every page: it starts after the last stored page.
    fresh = Faults()
    await sync_to_file(syncers(org, fresh), tmp_path / "again.c1z", options(concurrency=1))
    assert resumed.calls <= fresh.calls - (fail_at - 1)


async def test_a_retryable_error_fails_the_sync_once_and_a_rerun_resumes_to_the_same_rows(tmp_path: Path) -> None:
    """The connector's client owns retries: the engine never calls again with the same error (issue 11 §5)."""
    from connector.baton.errors import UnavailableError

    org = Org()
    clean, flaky = tmp_path / "clean.c1z", tmp_path / "flaky.c1z"
    await sync_to_file(syncers(org, Faults()), clean, options())
    faults = Faults(unavailable_calls={3}, retry_after=0.0)
    with pytest.raises(UnavailableError) as raised:
        await sync_to_file(syncers(org, faults), flaky, options(concurrency=1))
    assert raised.value.retryable
    assert faults.calls == 3, "the failing call was made once, not retried by the engine"
    result = await sync_to_file(syncers(org, Faults()), flaky, options(concurrency=1))
    assert result.resumed
    assert rows_of(flaky) == rows_of(clean)


async def test_an_error_that_keeps_coming_costs_exactly_one_call(tmp_path: Path) -> None:
    from connector.baton.errors import UnavailableError

    faults = Faults(unavailable_calls=set(range(1, 100)), retry_after=0.0)
    with pytest.raises(UnavailableError):
        await sync_to_file(syncers(Org(), faults), tmp_path / "s.c1z", options())
    assert faults.calls == 1


async def test_not_found_is_a_warning_and_the_sync_goes_on(tmp_path: Path) -> None:
    org = Org()
    path = tmp_path / "s.c1z"
    result = await sync_to_file(syncers(org, Faults(missing_groups={"g2"})), path, options())
    assert len(result.warnings) == 1
    assert "g2" in result.warnings[0]
    with C1ZReader(path) as reader:
        grants = {g.id for g in reader.grants()}
    assert not any(gid.startswith("group:g2:") for gid in grants)
    assert expected_grant_ids(org) - grants == {g for g in expected_grant_ids(org) if g.startswith("group:g2:")}


async def test_grant_listing_runs_concurrently_within_the_bound(tmp_path: Path) -> None:
    faults = Faults(delay=0.01)
    await sync_to_file(syncers(Org(groups=12), faults), tmp_path / "s.c1z", options(concurrency=3))
    assert faults.max_in_flight == 3


async def test_skip_grants_keeps_entitlements(tmp_path: Path) -> None:
    path = tmp_path / "s.c1z"
    await sync_to_file(syncers(Org(), Faults()), path, options(skip_grants=True))
    with C1ZReader(path) as reader:
        assert list(reader.grants()) == []
        assert len(list(reader.entitlements())) > 0
        assert reader.sync_runs()[0].supports_diff


async def test_skip_entitlements_and_grants(tmp_path: Path) -> None:
    path = tmp_path / "s.c1z"
    await sync_to_file(syncers(Org(), Faults()), path, options(skip_entitlements_and_grants=True))
    with C1ZReader(path) as reader:
        assert list(reader.grants()) == []
        assert list(reader.entitlements()) == []
        (run,) = reader.sync_runs()
        assert run.finished
        assert not run.supports_diff


async def test_resource_type_filter(tmp_path: Path) -> None:
    path = tmp_path / "s.c1z"
    await sync_to_file(syncers(Org(), Faults()), path, options(resource_type_ids=["group"]))
    with C1ZReader(path) as reader:
        assert [rt.id for rt in reader.resource_types()] == ["group"]
        assert {g.entitlement.resource.id.resource_type for g in reader.grants()} == {"group"}


async def test_unknown_resource_type_filter_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"sync_resource_type_ids.*nope"):
        await sync_to_file(syncers(Org(), Faults()), tmp_path / "s.c1z", options(resource_type_ids=["nope"]))


async def test_targeted_sync_is_partial_and_holds_only_the_targets(tmp_path: Path) -> None:
    org = Org()
    path = tmp_path / "s.c1z"
    await sync_to_file(syncers(org, Faults()), path, options())
    targets = [b.resource_id("group", "g1"), b.resource_id("user", "u0003")]
    result = await sync_to_file(syncers(org, Faults()), path, options(targeted_resources=targets))
    assert result.sync_type == "partial"
    with C1ZReader(path) as reader:
        runs = {r.sync_id: r for r in reader.sync_runs()}
        partial = runs[result.sync_id]
        assert partial.sync_type == "partial"
        assert partial.parent_sync_id in runs
        assert {r.id.resource for r in reader.resources(sync_id=result.sync_id)} == {"g1", "u0003"}
        assert {g.id for g in reader.grants(sync_id=result.sync_id)} == {
            g for g in expected_grant_ids(org) if g.startswith("group:g1:")
        }


async def test_a_target_named_otherwise_than_the_connector_answers_gets_the_grants_of_the_resource_answered(
    tmp_path: Path,
) -> None:
    """A connector may answer a target named in another case with the resource as it names it (Datadog ids are
    UUIDs, compared case-free: `idrules.same_id`). The grants were then asked for the target as named, which the
    store holds under no such id: the sync ended "resource is no longer in the store" with the group stored and
    none of its grants, as if every member had left it."""

    class CanonicalIds(GroupSyncer):
        async def get_resource(self, resource_id: resource_pb2.ResourceId) -> resource_pb2.Resource:
            return await super().get_resource(b.resource_id(resource_id.resource_type, resource_id.resource.lower()))

    org, faults = Org(), Faults()
    kinds = [CanonicalIds(org, faults) if isinstance(s, GroupSyncer) else s for s in syncers(org, faults)]
    result = await sync_to_file(kinds, tmp_path / "s.c1z", options(targeted_resources=[b.resource_id("group", "G1")]))
    assert result.warnings == []
    with C1ZReader(tmp_path / "s.c1z") as reader:
        assert {r.id.resource for r in reader.resources(sync_id=result.sync_id)} == {"g1"}
        assert {g.id for g in reader.grants(sync_id=result.sync_id)} == {
            g for g in expected_grant_ids(org) if g.startswith("group:g1:")
        }


async def test_a_targeted_syncs_work_per_target_does_not_grow_with_the_targets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every target is an action on the stack until it is synced, and a targeted run is never resumed: its state
    token (which lists them all) is not marshalled with each page. It was, so a run of n targets encoded about n²/2
    actions (8,000 targets: 13 s of CPU; a ConductorOne task's 32 MiB may name hundreds of thousands)."""
    from connector.baton.sync import state

    encoded = 0
    real = state.Action.encoded

    def counting(self: state.Action) -> str:
        nonlocal encoded
        encoded += 1
        return real(self)

    monkeypatch.setattr(state.Action, "encoded", counting)
    org = Org(users=300, groups=40)
    targets = [b.resource_id("user", u) for u in org.user_ids()] + [b.resource_id("group", f"g{i}") for i in range(40)]
    path = tmp_path / "s.c1z"
    result = await sync_to_file(syncers(org, Faults()), path, options(targeted_resources=targets))
    assert encoded <= len(targets)
    with C1ZReader(path) as reader:
        assert len(list(reader.resources(sync_id=result.sync_id))) == len(targets)
        assert {g.id for g in reader.grants(sync_id=result.sync_id)} == {
            g for g in expected_grant_ids(org) if g.startswith("group:")
        }


async def test_repeated_targeted_syncs_keep_the_full_sync_and_only_the_latest_targeted_one(tmp_path: Path) -> None:
    """The service's periodic sync with BATON_SYNC_RESOURCES is a targeted sync into the same --file every interval:
    each run was kept, and the file grew by one run without end. As Go's keep-limit of two: the full sync the
    targeted ones build on, and the newest targeted one."""
    org = Org()
    path = tmp_path / "s.c1z"
    full = await sync_to_file(syncers(org, Faults()), path, options())
    targeted = options(targeted_resources=[b.resource_id("group", "g1")])
    with pytest.raises(InjectedFailure):  # a failed targeted run is saved unfinished, and never resumed
        await sync_to_file(syncers(org, Faults(fail_at_call=1)), path, targeted)
    for _ in range(3):
        last = await sync_to_file(syncers(org, Faults()), path, targeted)
    with C1ZReader(path) as reader:
        assert [(r.sync_id, r.sync_type) for r in reader.sync_runs()] == [
            (full.sync_id, "full"),
            (last.sync_id, "partial"),
        ]
        assert {r.id.resource for r in reader.resources(sync_id=last.sync_id)} == {"g1"}
        assert len(list(reader.resources(sync_id=full.sync_id))) == org.users + org.groups + org.roles


async def test_targeted_runs_failing_run_after_run_keep_only_the_newest_failure(tmp_path: Path) -> None:
    """A periodic targeted sync that fails every interval (Datadog down for a day, a target that always fails):
    each failed run was saved beside the others until the next success, so the file grew by one run per interval
    for as long as it failed. The newest finished targeted run stays: its data is still the newest there is."""
    org = Org()
    path = tmp_path / "s.c1z"
    full = await sync_to_file(syncers(org, Faults()), path, options())
    targeted = options(targeted_resources=[b.resource_id("group", "g1")])
    good = await sync_to_file(syncers(org, Faults()), path, targeted)
    for _ in range(3):
        with pytest.raises(InjectedFailure):
            await sync_to_file(syncers(org, Faults(fail_at_call=1)), path, targeted)
    with C1ZReader(path) as reader:
        runs = reader.sync_runs()
        assert [(r.sync_id, r.sync_type, r.finished) for r in runs[:2]] == [
            (full.sync_id, "full", True),
            (good.sync_id, "partial", True),
        ]
        assert [(r.sync_type, r.finished) for r in runs[2:]] == [("partial", False)]
        assert {r.id.resource for r in reader.resources(sync_id=good.sync_id)} == {"g1"}


@pytest.mark.parametrize(
    ("target", "types", "message"),
    [
        (("group", "g1"), ["user"], "targeted resource 'group' 'g1': its resource type is left out by"),
        (("nope", "x"), [], "targeted resource 'nope' 'x': no such resource type"),
    ],
)
async def test_a_target_of_a_type_the_sync_does_not_list_is_the_requests_mistake(
    tmp_path: Path, target: tuple[str, str], types: list[str], message: str
) -> None:
    """A task's (or --sync-resources') target of an unknown type, or of one its type filter leaves out: a clear
    refusal naming the target, not an internal error blaming the connector ("no syncer for resource type",
    "connector returned a resource with an unknown type")."""
    targets = [b.resource_id(*target)]
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        await sync_to_file(
            syncers(Org(), Faults()), tmp_path / "s.c1z", options(targeted_resources=targets, resource_type_ids=types)
        )


async def test_resource_missing_its_trait_fails_the_sync(tmp_path: Path) -> None:
    from connector.baton.errors import InternalError
    from tests.baton.fake_connector import GROUP, GroupSyncer

    org, faults = Org(), Faults()

    class Traitless(GroupSyncer):
        def group(self, gid: str) -> resource_pb2.Resource:
            return b.resource(GROUP, gid, gid)

    with pytest.raises(InternalError, match="missing its GroupTrait"):
        await sync_to_file([Traitless(org, faults)], tmp_path / "s.c1z", options())


async def test_resource_of_an_unknown_type_fails_the_sync(tmp_path: Path) -> None:
    from connector.baton.errors import InternalError
    from tests.baton.fake_connector import GROUP, GroupSyncer

    org, faults = Org(), Faults()

    class Misnamed(GroupSyncer):
        def group(self, gid: str) -> resource_pb2.Resource:
            res = b.add_group_trait(b.resource(GROUP, gid, gid))
            res.id.resource_type = "no-such-type"
            return res

    with pytest.raises(InternalError, match="connector returned a resource of an unknown type"):
        await sync_to_file([Misnamed(org, faults)], tmp_path / "s.c1z", options())


async def test_records_without_an_identity_are_dropped_and_counted_not_a_failed_sync(tmp_path: Path) -> None:
    """Go's syncer drops and counts a resource without an id, an entitlement without its resource and a grant
    without a principal (docs/spec/c1z-format.md §5.2): one blank id from a peer must not fail every sync."""
    from tests.baton.fake_connector import GROUP, GroupSyncer, RoleSyncer

    org, faults = Org(), Faults()

    class Blank(GroupSyncer):
        def group(self, gid: str) -> resource_pb2.Resource:
            return super().group("" if gid == "g1" else gid)

        def entitlements(self, resource: resource_pb2.Resource) -> list[entitlement_pb2.Entitlement]:
            out = super().entitlements(resource)
            if resource.id.resource == "g2":
                out[1].resource.id.resource = ""
            return out

        async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
            page = await super().list_grants(resource, page_token)
            if resource.id.resource == "g3" and not page_token:
                page.items[0].principal.id.resource = ""
            return page

    out = tmp_path / "s.c1z"
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(
            [UserSyncer(org, faults), RoleSyncer(org, faults), Blank(org, faults)], out, options()
        )
    with C1ZReader(out) as reader:
        groups = {r.id.resource for r in reader.resources(GROUP.id)}
        entitlements = {e.id for e in reader.entitlements(GROUP.id)}
        grants = {g.id for g in reader.grants(GROUP.id)}
    assert groups == {f"g{i}" for i in range(org.groups)} - {"g1"}
    assert "group:g2:member" in entitlements
    assert "group:g2:admin" not in entitlements
    first_member = org.group_members(3)[0]
    assert f"group:g3:member:user:{first_member}" not in grants
    assert f"group:g4:member:user:{org.group_members(4)[0]}" in grants
    assert result.warnings == []
    finished = next(line for line in events if line.get("event") == "sync finished")
    assert finished["dropped_invalid_records"] == 3
    dropped = [line for line in events if line.get("event") == "records without an identity dropped"]
    assert sorted(str(line["kind"]) for line in dropped) == ["entitlements", "grants", "resources"]


async def test_repeated_page_token_is_refused(tmp_path: Path) -> None:
    from connector.baton.connector import Page
    from connector.baton.errors import InternalError
    from tests.baton.fake_connector import GroupSyncer

    class Looping(GroupSyncer):
        async def list_resources(self, parent: object, page_token: str) -> Page[resource_pb2.Resource]:
            return Page([self.group("g0")], "same")

    with pytest.raises(InternalError, match="same page token"):
        await sync_to_file([Looping(Org(), Faults())], tmp_path / "s.c1z", options())


async def test_checkpoint_is_committed_with_each_page(tmp_path: Path) -> None:
    """After a failure, every stored grant page is covered by the saved token: nothing is stored twice."""
    path = tmp_path / "s.c1z"
    with pytest.raises(InjectedFailure):
        await sync_to_file(syncers(Org(), Faults(fail_at_call=10)), path, options(concurrency=1))
    with C1ZReader(path) as reader:
        token = json.loads(reader.sync_runs()[0].sync_token)
        pending = [token["actions_map"][i] for i in token["action_order"]]
        assert pending, "an unfinished sync keeps its pending actions"
        conn: sqlite3.Connection = reader.connection
        assert conn.execute("SELECT count(*) FROM v1_resources").fetchone()[0] > 0


async def test_a_type_that_skips_entitlements_and_grants_is_never_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Users carry SkipEntitlementsAndGrants on their type: reading them back from the store for the entitlement
    # and grant phases only to drop each one cost ~1 s of CPU on a 100k-user org (issue 12).
    from connector.baton.c1z.store import C1ZStore

    read_back: list[str] = []
    original = C1ZStore.resources_after

    async def recording(self: C1ZStore, type_id: str, after: int, limit: int) -> tuple[list[tuple[int, object]], bool]:
        read_back.append(type_id)
        return await original(self, type_id, after, limit)  # type: ignore[return-value]

    monkeypatch.setattr(C1ZStore, "resources_after", recording)
    org = Org()
    path = tmp_path / "sync.c1z"
    await sync_to_file(syncers(org, Faults()), path, options())
    assert "user" not in read_back
    assert {"group", "role"} <= set(read_back)
    with C1ZReader(path) as reader:
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)


async def test_grants_pages_use_the_resource_their_action_was_made_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One store round trip per grants page was ~55 µs of CPU (issue 12); a resumed sync still reads it back
    # (test_interrupted_sync_resumes_to_the_same_rows).
    from connector.baton.c1z.store import C1ZStore

    async def refuse(self: C1ZStore, type_id: str, object_id: str) -> None:
        raise AssertionError(f"{type_id}:{object_id} read back from the store")

    monkeypatch.setattr(C1ZStore, "get_resource", refuse)
    org = Org()
    path = tmp_path / "sync.c1z"
    await sync_to_file(syncers(org, Faults()), path, options())
    with C1ZReader(path) as reader:
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)


async def test_the_engine_gives_the_loop_a_turn_after_every_page(tmp_path: Path) -> None:
    """Pages that need no network (fetched ahead) and writes that only queue never suspend the engine; it must
    still let the rest of the loop run between pages, or a health probe waits for a run of pages."""

    class Eager(UserSyncer):
        async def list_resources(
            self, parent: resource_pb2.ResourceId | None, page_token: str
        ) -> Page[resource_pb2.Resource]:
            chunk, nxt = page_of(self.org.user_ids(), page_token, self.page_size)
            return Page([self.user(uid) for uid in chunk], nxt)

    class Counter:
        pages = 0

        def page_stored(self, phase: str, resource_type_id: str, items: int) -> None:
            self.pages += 1

        def sync_finished(self) -> None:
            return None

    counter, longest, done = Counter(), 0, False

    async def ticker() -> None:
        nonlocal longest
        seen = 0
        while not done:
            longest = max(longest, counter.pages - seen)
            seen = counter.pages
            await asyncio.sleep(0)

    org = Org(users=200)
    tick = asyncio.create_task(ticker())
    try:
        await sync_to_file([Eager(org, Faults())], tmp_path / "s.c1z", options(), observer=counter)
    finally:
        done = True
        await tick
    assert counter.pages >= 40
    assert longest <= 2


@pytest.mark.parametrize("step", ["keep_only", "save"])
async def test_a_cancellation_while_the_finished_sync_is_saved_waits_for_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """Cancelled after every page is stored (SIGINT at the last moment, a drain), the finished sync is still written
    whole before the cancellation goes on: cancelled during `keep_only`, it used to be dropped with the file left as
    it was; the observer is told first, so the caller can say what the file holds."""
    from connector.baton.c1z.store import C1ZStore

    reached, release = asyncio.Event(), asyncio.Event()
    original = getattr(C1ZStore, step)

    async def held(self: C1ZStore, *args: object, **kwargs: object) -> object:
        if step == "keep_only" or kwargs.get("vacuum", True):  # the finishing save, not a partial one
            reached.set()
            await release.wait()
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(C1ZStore, step, held)

    class Told:
        finished = False

        def page_stored(self, phase: str, resource_type_id: str, items: int) -> None:
            assert not self.finished

        def sync_finished(self) -> None:
            self.finished = True

    org, told, path = Org(), Told(), tmp_path / "sync.c1z"
    sync = asyncio.create_task(sync_to_file(syncers(org, Faults()), path, options(), observer=told))
    await reached.wait()
    assert told.finished
    sync.cancel()
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await sync
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
        assert run.finished
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)


async def test_the_objects_alive_at_the_start_are_set_aside_from_the_collector_for_the_sync_only(
    tmp_path: Path,
) -> None:
    """Full collections during a sync do not walk the process's start-time objects again (`gc.freeze`, issue 12), and
    they are the collector's again once the sync is over, whether it finished or failed."""
    import gc

    seen: list[int] = []

    class Watching(UserSyncer):
        async def list_resources(self, parent: object, page_token: str) -> Page[resource_pb2.Resource]:
            seen.append(gc.get_freeze_count())
            return await super().list_resources(parent, page_token)  # type: ignore[arg-type]

    org, faults = Org(), Faults()
    assert gc.get_freeze_count() == 0
    await sync_to_file([Watching(org, faults), *syncers(org, faults)[1:]], tmp_path / "s.c1z", options())
    assert seen
    assert all(count > 1000 for count in seen)
    assert gc.get_freeze_count() == 0
    failing = Faults(fail_at_call=2)
    with pytest.raises(InjectedFailure):
        await sync_to_file([Watching(org, failing), *syncers(org, failing)[1:]], tmp_path / "t.c1z", options())
    assert gc.get_freeze_count() == 0
