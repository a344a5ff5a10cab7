"""The sync engine: walks resource types -> resources -> entitlements -> grants into a c1z store.

Every page is written together with the state that follows it in one all-or-nothing store call (`write`,
run on the store's own thread), so a sync that stops for any reason resumes at the first page it had not
stored. Per-resource grant listings are independent and run concurrently (bounded, in a sliding window over
the stored resources); everything else runs one page at a time.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import structlog
from google.protobuf import any_pb2
from google.protobuf.message import Message

from connector.baton import annotations as ann
from connector.baton.connector import (
    EndsWithTheSync,
    ListedAsChildren,
    Page,
    PageTokenChecker,
    PositionalPageTokens,
    ResourceGetter,
    ResourceSyncer,
    SideLoadedGrants,
)
from connector.baton.errors import InternalError, InvalidArgumentError, NotFoundError
from connector.baton.pb.c1.connector.v2 import (
    annotation_grant_pb2,
    annotation_resource_pb2,
    annotation_resource_tree_pb2,
    annotation_trait_pb2,
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)
from connector.baton.sync import state as st

if TYPE_CHECKING:  # the SQLite layer loads when a sync runs, not with the idle daemon (docs/benchmarks.md)
    from connector.baton.c1z.store import C1ZStore

log = structlog.get_logger(__name__)
T = TypeVar("T")

Trait = resource_pb2.ResourceType.Trait
_TRAIT_ANNOTATIONS: dict[int, type[Message]] = {
    Trait.TRAIT_USER: annotation_trait_pb2.UserTrait,
    Trait.TRAIT_GROUP: annotation_trait_pb2.GroupTrait,
    Trait.TRAIT_ROLE: annotation_trait_pb2.RoleTrait,
    Trait.TRAIT_APP: annotation_trait_pb2.AppTrait,
    Trait.TRAIT_SECRET: annotation_trait_pb2.SecretTrait,
}
_TRAIT_URLS = {trait: ann.type_url(message) for trait, message in _TRAIT_ANNOTATIONS.items()}
_CHILD_TYPE_URL = ann.type_url(annotation_resource_tree_pb2.ChildResourceType)
_SKIP_BOTH_URL = ann.type_url(annotation_resource_pb2.SkipEntitlementsAndGrants)
_EXPANDABLE_URL = ann.type_url(annotation_grant_pb2.GrantExpandable)
# How many stored resources one cursor step turns into entitlements or per-resource grant actions.
_RESOURCE_BATCH = 200
# Per-resource grant pages in progress per connector call allowed at once (`SyncOptions.concurrency`).
_GRANT_PAGES_PER_CALL = 2
_MAX_WARNINGS = 10
# What a resumed full sync's token may hold (a targeted sync is never resumed), and the most digits of a number
# in it (a row id cursor, an action id) that always fits 64 bits, as SQLite's INTEGER and the Go SDK's ids do.
_RESUMABLE_OPERATIONS = frozenset(
    {st.INIT, st.LIST_RESOURCE_TYPES, st.LIST_RESOURCES, st.LIST_ENTITLEMENTS, st.LIST_GRANTS}
)
_MAX_ID_DIGITS = 18


class TooManyWarningsError(InternalError):
    pass


class SyncObserver(Protocol):
    """Progress hook (progress bar, metrics). Called on the event loop; must not block."""

    def page_stored(self, phase: str, resource_type_id: str, items: int) -> None: ...

    def sync_finished(self) -> None:
        """Every page is stored; the file is saved next, and that save is finished even if the sync is cancelled
        now (`sync_to_file`)."""


class _NullObserver:
    def page_stored(self, phase: str, resource_type_id: str, items: int) -> None:
        return None

    def sync_finished(self) -> None:
        return None


@dataclass(slots=True)
class SyncOptions:
    skip_entitlements_and_grants: bool = False
    skip_grants: bool = False
    resource_type_ids: Sequence[str] = ()  # empty: every type
    targeted_resources: Sequence[resource_pb2.ResourceId] = ()
    concurrency: int = 8
    # The connector's settings that shape what a sync holds beyond the above (the syncers cover which types
    # exist), e.g. which account or region it reads. An unfinished sync is resumed only when these, the skip
    # options and the synced types are what it was started with. Recorded in the file's sync token: never a
    # secret, nor anything derived from one.
    scope: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class SyncResult:
    sync_id: str
    sync_type: str
    resumed: bool
    stats: dict[str, object]
    warnings: list[str]
    seconds: float
    started: float = 0.0
    """When this run of the sync began, on the process's monotonic clock: of two syncs run side by side, the later
    one's is the later view of the org (`Metrics.sync_succeeded`)."""


class Syncer:
    def __init__(
        self,
        syncers: Sequence[ResourceSyncer],
        store: C1ZStore,
        options: SyncOptions | None = None,
        observer: SyncObserver | None = None,
    ) -> None:
        self._by_type: dict[str, ResourceSyncer] = {}
        for syncer in syncers:
            type_id = syncer.resource_type().id
            if type_id in self._by_type:
                raise ValueError(f"two syncers for resource type {type_id!r}")
            self._by_type[type_id] = syncer
        self._store = store
        self._options = options or SyncOptions()
        self._observer: SyncObserver = observer or _NullObserver()
        self._state = st.SyncState()
        self._types: dict[str, resource_pb2.ResourceType] = {}
        self._warnings: list[str] = []
        # Records the connector returned without an identity, dropped (Go's syncer drops and counts them too).
        self._dropped = 0
        self._trait_urls: dict[str, list[tuple[str, str]]] = {}
        # Resources whose grant actions are on the stack, by (type, id), until their last grants page.
        self._grant_subjects: dict[tuple[str, str], resource_pb2.Resource] = {}
        self._grant_listers: dict[str, Callable[[resource_pb2.Resource, str], Awaitable[Page[grant_pb2.Grant]]]] = {}
        # The child listings this run pushed, by (child type, parent type, parent id): a parent's children are
        # listed once per sync, as Go de-duplicates its child actions per sync. Without it a resource listed twice
        # had its children listed twice, and a cycle of parents and children never ended. One entry per parent
        # with children (Datadog: two per enabled service account), not per resource.
        self._children_pushed: set[tuple[str, str, str]] = set()
        # A resumed run does not know what the earlier runs pushed: a parent already stored in this sync had its
        # children pushed by the page that stored it, so the store answers for those (`_new_parents`).
        self._resumed = False
        # The page tokens each listing in progress was asked for in this run, by action id (`_check_next_token`).
        self._tokens_given: dict[str, set[int]] = {}
        # The targeted resources whose grants listing this run pushed, as the connector answered them (`_targeted`).
        self._target_grants: set[tuple[str, str]] = set()
        # Whether the syncers were told the sync is over (`_end_syncers`): once, at the last action of a sync that
        # finishes, or on the way out of one that does not.
        self._syncers_ended = False

    async def run(self) -> SyncResult:
        # The objects alive when the sync starts (the process's modules, classes, settings, clients: ~50k) are set
        # aside from the cyclic collector for the sync (`gc.freeze`): every full collection the sync's pages, tokens
        # and rows trigger walked them again. A 10k-user one-shot sync's collections on the loop thread: 268M -> 231M
        # instructions (callgrind, issue 12). They are handed back at the end (`gc.unfreeze`), so a cycle among them is
        # collected as before, only later. Process-wide: a sync running beside another may end its freeze early,
        # which costs only the saving.
        gc.freeze()
        try:
            return await self._run()
        finally:
            gc.unfreeze()
            await self._end_syncers()

    async def _end_syncers(self) -> None:
        """Tell every syncer that keeps work between calls that this sync is over (`EndsWithTheSync`), then wait for
        that work to end; once a sync. Each is stopped first, at once: a cancellation of the sync arriving meanwhile
        cuts only the wait short."""
        if self._syncers_ended:
            return
        self._syncers_ended = True
        stopped: list[asyncio.Future[Any]] = []
        for resource_type, syncer in self._by_type.items():
            if not isinstance(syncer, EndsWithTheSync):
                continue
            try:
                stopped.extend(syncer.sync_ended())
            except Exception as exc:
                # A hook that breaks its promise not to raise must not decide the sync's outcome: raised out of this
                # `finally`, it replaced the sync's own error (or failed a finished sync) and skipped the hooks after
                # it, whose work kept running. Named by its type only: the message is the connector's, and may hold
                # anything.
                log.error(
                    "sync end hook failed; its work may still be running",
                    resource_type=resource_type,
                    error=type(exc).__name__,
                )
        if stopped:
            await asyncio.wait(stopped)

    async def _run(self) -> SyncResult:
        started = time.monotonic()
        sync_type, resumed = await self._start_or_resume()
        bound = log.bind(sync_id=self._store.sync_id, sync_type=sync_type)
        bound.info("sync started" if not resumed else "sync resumed", pending_actions=len(self._state.actions))
        while self._state.actions:
            top = self._state.actions[-1]
            if top.operation == st.LIST_GRANTS and top.resource_id:
                await self._run_parallel(*self._parallel_batch())
            else:
                await self._step(top)
            # A turn for the rest of the loop (health probes, heartbeats, the task poll) after every page: pages
            # fetched ahead and writes queued to the store thread complete without suspending, so without this
            # the engine could run 16 pages (~100 ms) in one go (issue 11's `/healthz` goal).
            await asyncio.sleep(0)
        # Before the store ends the sync, not after: a stop arriving while the syncers' work ends then finds the sync
        # unfinished, and it is saved as one. Waited for after `end_sync`, the stop turned a finished sync into a
        # cancelled one, saved by the unfinished sync's path, the older runs the finished save drops kept (review
        # r1604).
        await self._end_syncers()
        # Go's last checkpoint clears only the stack and the entitlement graph (c1z-format.md §5.4): the flags stay, so
        # the finished token still says the sync left entitlements or grants out (§2.7's `should_skip_*`). Dropped,
        # a sync run with --skip-grants was saved with supports_diff = 1 and nothing saying its grants were not listed.
        final = st.SyncState(
            current_action_id=self._state.current_action_id,
            needs_expansion=self._state.needs_expansion,
            should_skip_entitlements_and_grants=self._state.should_skip_entitlements_and_grants,
            should_skip_grants=self._state.should_skip_grants,
            completed_actions_count=self._state.completed_actions_count,
        )
        collected = not self._state.should_skip_entitlements_and_grants
        # First, so that the grants on a record left out for its size are not taken for dangling ones (a race).
        with_oversized = await self._store.drop_left_out_dependants()
        dangling = 0
        if sync_type == "full" and collected and not self._state.should_skip_grants:
            # A partial sync's grants name resources of its parent sync (ConductorOne reads them together): only a full
            # sync must hold every entitlement its grants name.
            dropped = await self._store.drop_dangling_grants()
            if dangling := dropped.count:
                bound.warning(
                    "grants on a resource the sync does not hold were left out (it was created or deleted between the "
                    "listings that name it)",
                    grants=dangling,
                    reasons=dropped.by_reason,
                    examples=dropped.examples,
                )
        stats = await self._store.end_sync(final.marshal(), supports_diff=collected and sync_type == "full")
        seconds = time.monotonic() - started
        bound.info(
            "sync finished",
            seconds=round(seconds, 3),
            warnings=len(self._warnings),
            # With the records the store left out, for an object too large to read back (`C1ZStore.dropped_oversized`).
            dropped_invalid_records=self._dropped + self._store.dropped_oversized,
            # What depended on those: their entitlements, the grants on them (`drop_left_out_dependants`).
            dropped_with_oversized_records=with_oversized,
            dropped_dangling_grants=dangling,
            **stats,
        )
        return SyncResult(self._store.sync_id, sync_type, resumed, stats, list(self._warnings), seconds, started)

    # -- start -------------------------------------------------------------------------------------------

    async def _start_or_resume(self) -> tuple[str, bool]:
        opts = self._options
        if opts.targeted_resources:
            from connector.baton.c1z.rows import latest_finished_full

            parent = latest_finished_full(await self._store.sync_runs())
            await self._store.start_sync("partial", parent.sync_id if parent else "")
            # The skip options hold for a targeted sync too: Go's InitOp sets both flags before it pushes the targets.
            # Left out, a task naming targets with skip_grants (or --sync-resources with --skip-grants) listed and
            # stored the targets' grants and entitlements all the same.
            self._state = st.SyncState(
                should_skip_entitlements_and_grants=opts.skip_entitlements_and_grants,
                should_skip_grants=opts.skip_grants,
            )
            self._init_targeted()
            await self._checkpoint()
            return "partial", False
        resumable = await self._store.resumable_sync("full")
        settings = self._settings()
        resumed_state = None
        types: dict[str, resource_pb2.ResourceType] = {}
        if resumable is not None:
            token = await self._store.resume_sync(resumable.sync_id)
            try:
                # Off the loop: the token is a file's bytes, and a 25 MB one is a second of JSON parsing that would
                # stall health probes and heartbeats (the service's periodic sync resumes from its --file).
                resumed_state = await asyncio.to_thread(st.SyncState.unmarshal, token)
                types = {rt.id: rt for rt in await self._store.resource_types()}
                self._check_runnable(resumed_state, types)
            except ValueError as exc:
                # Another SDK's token, a damaged one, or one naming what this engine cannot run: that run cannot be
                # continued faithfully. Start a new sync; saving a finished full sync keeps only the new one.
                resumed_state = None
                log.warning(
                    "unfinished sync cannot be resumed; starting a new one", sync_id=resumable.sync_id, reason=str(exc)
                )
            if resumed_state is not None and (resumed_state.actions or resumed_state.completed_actions_count):
                changed = _changes(_recorded(resumed_state), settings)
                if changed:
                    # Resuming would finish the old run's plan: a type turned on since would be missing from a
                    # file saved as complete, or two sites' rows mixed. Saving the new sync drops the old run.
                    resumed_state = None
                    log.warning(
                        "unfinished sync was started with other settings; starting a new one",
                        sync_id=resumable.sync_id,
                        changed=changed,
                    )
                elif (
                    problem := self._listed_types_problem(resumed_state, types)
                    or await self._stray_rows_problem(resumed_state, types)
                    or await self._store.rows_changed(resumed_state.stored_rows)
                ) is not None:
                    resumed_state = None
                    log.warning(
                        "unfinished sync cannot be resumed; starting a new one",
                        sync_id=resumable.sync_id,
                        reason=problem,
                    )
        if resumed_state is not None and (resumed_state.actions or resumed_state.completed_actions_count):
            await self._store.drop_unfinished_full(keep=self._store.sync_id)
            self._state = resumed_state
            self._types = types
            self._grant_listers.clear()
            self._trait_urls.clear()
            self._resumed = True
            self._restart_positional_listings()
            return "full", True
        if resumable is not None and resumed_state is not None:
            # An empty token (Go's fresh state) says nothing of the rows the run already holds: continued under its
            # sync id, they stayed in the finished file whether or not this run listed them again (users deleted
            # since, another connector's rows). A new sync replaces it like any run that cannot be resumed.
            log.warning("unfinished sync has an empty state; starting a new one", sync_id=resumable.sync_id)
        # The unfinished runs this one does not continue are never resumed (`C1ZStore.drop_unfinished_full`).
        await self._store.drop_unfinished_full()
        await self._store.start_sync("full")
        self._state = st.SyncState(
            should_skip_entitlements_and_grants=opts.skip_entitlements_and_grants,
            should_skip_grants=opts.skip_grants,
            settings={k: v for k, v in settings.items() if k not in _TOKEN_FLAGS},
        )
        self._state.push(st.INIT)
        await self._checkpoint()
        return "full", False

    def _settings(self) -> dict[str, str]:
        """This run's settings as an unfinished sync's token records them (the skip options are Go's own fields)."""
        opts = self._options
        return {
            **opts.scope,
            "resource_types": ",".join(sorted(set(opts.resource_type_ids or self._by_type))),
            # The types the connector defines, beside the ones synced: a resource's `ChildResourceType` annotations
            # name other types, so with a filter the same synced types can come with other rows (Datadog's users
            # name the service-account key types only when those are synced).
            "connector_types": ",".join(sorted(self._by_type)),
            "skip_entitlements_and_grants": _flag(opts.skip_entitlements_and_grants),
            "skip_grants": _flag(opts.skip_grants),
        }

    def _check_runnable(self, state: st.SyncState, types: dict[str, resource_pb2.ResourceType]) -> None:
        """Raise ValueError when a parsed token's actions cannot run against this file.

        The token is a c1z's bytes: an action naming a type the file or this connector lacks, or a store cursor
        that is not a row id, would otherwise stop every resume with a KeyError or ValueError; an id that a new
        action could take would silently drop a phase from a sync saved as complete.
        """
        for action in state.actions:
            where = f"action {action.id[:32]!r}"
            if (
                action.id.isascii()
                and action.id.isdigit()
                and (len(action.id) > _MAX_ID_DIGITS or int(action.id) > state.current_action_id)
            ):
                # `push` would give a later action the same id, and finishing either would drop both.
                raise ValueError(f"{where} has an id above the token's current_action_id")
            if action.operation not in _RESUMABLE_OPERATIONS:
                # A newer version's (or Go's) step this engine does not know: it cannot be skipped faithfully.
                raise ValueError(f"{where} has an operation a full sync does not run: {action.operation[:64]!r}")
            for type_id, object_id, unstored_ok in (
                (action.resource_type_id, action.resource_id, False),
                (action.parent_resource_type_id, action.parent_resource_id, self._walked_for_parents(action)),
            ):
                if (type_id or object_id) and (
                    type_id not in self._by_type or (type_id not in types and not unstored_ok)
                ):
                    raise ValueError(f"{where} names a resource type this sync does not have")
            cursor = action.page_token
            if (
                _store_cursor(action)
                and cursor
                and not (cursor.isascii() and cursor.isdigit() and len(cursor) <= _MAX_ID_DIGITS)
            ):
                raise ValueError(f"{where} has a store cursor that is not a row id")
            syncer = self._page_token_owner(action, types)
            if cursor and isinstance(syncer, PageTokenChecker):
                # The connector's own cursor (the Go connector's pagination bags are JSON): refused by the syncer, it
                # would fail this resume and every later one.
                problem = syncer.page_token_problem(cursor)
                if problem is not None:
                    raise ValueError(f"{where} has a page token the connector does not read: {problem}")

    def _walked_for_parents(self, action: st.Action) -> bool:
        """Whether the action lists children under a parent of a type this sync walks only for its children, without
        storing it (`ListedAsChildren`, e.g. service-account keys without the users): that parent's type is in no
        file of such a sync, and its listings are still the sync's own."""
        syncer = self._by_type.get(action.resource_type_id)
        return isinstance(syncer, ListedAsChildren) and syncer.listed_under() == action.parent_resource_type_id

    def _page_token_owner(
        self, action: st.Action, types: Mapping[str, resource_pb2.ResourceType]
    ) -> ResourceSyncer | None:
        """The syncer whose page tokens `action` holds; None when its token is the store's cursor."""
        if _store_cursor(action):
            return None
        syncer = self._by_type.get(action.resource_type_id)
        if (
            isinstance(syncer, ListedAsChildren)
            and not action.parent_resource_id
            and syncer.listed_under() not in types
        ):
            syncer = self._by_type.get(syncer.listed_under())  # the action walks the parents: its tokens are theirs
        return syncer

    def _restart_positional_listings(self) -> None:
        """On a resume: the listings in progress whose page tokens are positions start again from their first page
        (`PositionalPageTokens`): items that moved between the runs are read, not skipped. Costs the pages of the
        listings that were in progress, read again; the stored ones are upserted over themselves."""
        restarted = 0
        for action in self._state.actions:
            syncer = self._page_token_owner(action, self._types)
            if action.page_token and isinstance(syncer, PositionalPageTokens) and syncer.page_tokens_are_positions():
                action.page_token = ""
                restarted += 1
        if restarted:
            log.info(
                "resumed listings start again from their first page (their pages may have shifted since)",
                listings=restarted,
            )

    def _listed_types_problem(self, state: st.SyncState, types: dict[str, resource_pb2.ResourceType]) -> str | None:
        """Why a run whose token records this run's settings still cannot be resumed: it listed other resource
        types than this one would (the token is untrusted: it may claim settings its run did not have), or types
        the syncers now define otherwise. Finishing its plan would save a file as complete without the types it
        never listed, or with type rows that do not describe its resources."""
        if any(a.operation in (st.INIT, st.LIST_RESOURCE_TYPES) for a in state.actions):
            return None  # not listed yet: the resumed run lists them itself
        wanted = set(self._options.resource_type_ids or self._by_type)
        if set(types) != wanted:
            differ = ", ".join(sorted(set(types) ^ wanted)[:5])[:200]
            return (
                f"the run listed {len(types)} resource type(s), not the {len(wanted)} this sync lists ({differ} differ)"
            )
        # The run goes on with the types it stored: they decide each resource's required traits and which phases
        # a type skips. Defined otherwise now (another connector version), the file would be saved as complete
        # with the old definitions over resources the new code built, or fail every resume on a missing trait.
        redefined = sorted(
            type_id
            for type_id, stored in types.items()
            if (syncer := self._by_type.get(type_id)) is None
            or stored.SerializeToString(deterministic=True)
            != syncer.resource_type().SerializeToString(deterministic=True)
        )
        if redefined:
            return f"resource type(s) defined otherwise since the run started: {', '.join(redefined[:5])[:200]}"
        return None

    async def _stray_rows_problem(self, state: st.SyncState, types: dict[str, resource_pb2.ResourceType]) -> str | None:
        """Why a run that passed the checks above still cannot be resumed: it holds rows its plan never makes (the file
        is untrusted), e.g. resources of a type it does not sync, or grants of a run that skips them. Nothing in the
        resumed plan replaces or removes them: they would stay in the sync saved as complete, and in its stats, beside
        what an uninterrupted sync of the org holds. Checked once per resume (a pass over each table), not per page."""
        listed = not any(a.operation in (st.INIT, st.LIST_RESOURCE_TYPES) for a in state.actions)
        empty: tuple[str, ...] = ()
        if state.should_skip_entitlements_and_grants:
            empty = ("v1_entitlements", "v1_grants")
        elif state.should_skip_grants:
            empty = ("v1_grants",)
        # Before its types are listed a run has written nothing: every row is stray (`NOT IN ()` matches any).
        return await self._store.stray_row(sorted(types) if listed else [], empty)

    def _init_targeted(self) -> None:
        # Each target once, in the order first named: a request (a task's 32 MiB, --sync-resources) naming one resource
        # again and again cost a lookup and a grants listing per mention, hundreds of thousands of upstream requests for
        # one resource, and a target gone since counted one warning per mention until too many failed the sync.
        targets = dict.fromkeys((rid.resource_type, rid.resource) for rid in self._options.targeted_resources)
        for type_id, resource_id in reversed(list(targets)):
            self._state.push(st.TARGETED_RESOURCE_SYNC, resource_type_id=type_id, resource_id=resource_id)
        self._state.push(st.LIST_RESOURCE_TYPES)

    # -- one step ----------------------------------------------------------------------------------------

    async def _step(self, action: st.Action) -> None:
        op = action.operation
        if op == st.INIT:
            self._state.finish(action)
            if not self._state.should_skip_entitlements_and_grants:
                if not self._state.should_skip_grants:
                    self._state.push(st.LIST_GRANTS)
                self._state.push(st.LIST_ENTITLEMENTS)
            self._state.push(st.LIST_RESOURCES)
            self._state.push(st.LIST_RESOURCE_TYPES)
            await self._checkpoint()
        elif op == st.LIST_RESOURCE_TYPES:
            await self._list_resource_types(action)
        elif op in (st.LIST_RESOURCES, st.LIST_ENTITLEMENTS, st.LIST_GRANTS) and not action.resource_type_id:
            await self._fan_out_per_type(action)
        elif op == st.LIST_RESOURCES:
            await self._list_resources_page(action)
        elif op == st.LIST_ENTITLEMENTS:
            await self._entitlements_batch(action)
        elif op == st.LIST_GRANTS:
            await self._grant_actions_batch(action)
        elif op == st.TARGETED_RESOURCE_SYNC:
            await self._targeted(action)
        else:
            raise InternalError(f"unknown sync operation {op!r} in the saved state")

    async def _list_resource_types(self, action: st.Action) -> None:
        wanted = list(self._options.resource_type_ids)
        unknown = sorted(set(wanted) - set(self._by_type))
        if unknown:
            raise InvalidArgumentError(
                f"sync_resource_type_ids names unknown resource types {unknown}; known: {sorted(self._by_type)}"
            )
        types = [s.resource_type() for t, s in self._by_type.items() if not wanted or t in wanted]
        self._types = {rt.id: rt for rt in types}
        self._grant_listers.clear()
        self._trait_urls.clear()
        self._state.finish(action)
        await self._store.write(self._token(), resource_types=types)
        self._observer.page_stored("resource_types", "", len(types))

    async def _fan_out_per_type(self, action: st.Action) -> None:
        self._state.finish(action)
        # Pushed in reverse so the types run in declaration order.
        for type_id in reversed(list(self._types)):
            self._state.push(action.operation, resource_type_id=type_id)
        await self._checkpoint()

    async def _list_resources_page(self, action: st.Action) -> None:
        syncer = self._syncer(action.resource_type_id)
        if not action.parent_resource_id and (parent_type := self._unlisted_parent_type(syncer)):
            await self._list_parents_page(action, parent_type)
            return
        parent = (
            resource_pb2.ResourceId(resource_type=action.parent_resource_type_id, resource=action.parent_resource_id)
            if action.parent_resource_id
            else None
        )
        page = await self._call(action, lambda: syncer.list_resources(parent, action.page_token))
        if page is None:
            return
        self._check_next_token(action, page)
        items = self._identified(action, "resources", page.items, _RESOURCE_IDENTITY)
        children = [(res, self._validate_resource(res)) for res in items]
        side_grants = self._side_grants(action, page.grants) if self._grants_enabled() else []
        parents = self._storable_parents([(res, packed) for res, packed in children if packed])
        if parents and self._resumed:
            parents = await self._new_parents(parents)
        self._advance(action, page.next_token)
        for res, packed in parents:
            for child in packed:
                self._push_child(res, child)
        await self._store.write(self._token(), resources=items, grants=side_grants)
        self._observer.page_stored("resources", action.resource_type_id, len(items))
        if side_grants:
            self._observer.page_stored("grants", action.resource_type_id, len(side_grants))

    def _side_grants(self, action: st.Action, grants: Sequence[grant_pb2.Grant]) -> Sequence[grant_pb2.Grant]:
        """A resources page's side-loaded grants, only those for entitlement types this sync covers (a type filter may
        exclude roles), each carrying its identity (`_identified`)."""
        # The usual case in one pass in C: each grant's entitlement resource id read once for its type and its identity.
        # A users page's 115 grants: 294 -> 212 µs (issue 12).
        rids = list(map(_ENTITLEMENT_RESOURCE_ID, grants))
        types = self._types
        if (
            all(map(types.__contains__, map(_RESOURCE_TYPE, rids)))
            and all(map(_RESOURCE, rids))
            and all(map(_ID, grants))
            and all(map(_PRINCIPAL_RESOURCE, grants))
        ):
            return grants
        covered = [grant for grant, rid in zip(grants, rids, strict=True) if rid.resource_type in types]
        return self._identified(action, "grants", covered, _GRANT_IDENTITY)

    def _unlisted_parent_type(self, syncer: ResourceSyncer) -> str | None:
        """The parent type a `ListedAsChildren` syncer's resources are listed under, when this sync does not list it."""
        if not isinstance(syncer, ListedAsChildren):
            return None
        parent_type = syncer.listed_under()
        return None if parent_type in self._types else parent_type

    async def _list_parents_page(self, action: st.Action, parent_type: str) -> None:
        """One page of the parent type's listing, stored nowhere: it only pushes this type's listing under every
        parent that names it (`ListedAsChildren`), as the parents' own listing would have."""
        syncer = self._syncer(parent_type)
        page = await self._call(action, lambda: syncer.list_resources(None, action.page_token))
        if page is None:
            return
        self._check_next_token(action, page)
        self._advance(action, page.next_token)
        parents = [
            (res, naming)
            for res in page.items
            if res.id.resource
            and (
                naming := [
                    packed
                    for packed in res.annotations
                    if packed.type_url == _CHILD_TYPE_URL
                    and annotation_resource_tree_pb2.ChildResourceType.FromString(packed.value).resource_type_id
                    == action.resource_type_id
                ]
            )
        ]
        # As the parents' own listing does: a parent too large to store has no children listed, or a sync filtered to
        # the child type stored what a full sync leaves out.
        for res, naming in self._storable_parents(parents):
            for packed in naming:
                self._push_child(res, packed)
        await self._checkpoint()

    async def _new_parents(
        self, parents: list[tuple[resource_pb2.Resource, list[any_pb2.Any]]]
    ) -> list[tuple[resource_pb2.Resource, list[any_pb2.Any]]]:
        """On a resumed run: the parents not stored in this sync yet (a stored one's children were pushed with it,
        by this run or an earlier one: they are done or still on the stack)."""
        keys = [(res.id.resource_type, res.id.resource) for res, _ in parents]
        stored = await self._store.stored_resources(keys)
        return [(res, packed) for (res, packed), key in zip(parents, keys, strict=True) if key not in stored]

    def _storable_parents(
        self, parents: list[tuple[resource_pb2.Resource, list[any_pb2.Any]]]
    ) -> list[tuple[resource_pb2.Resource, list[any_pb2.Any]]]:
        """The parents the store keeps (`rows.fits`): one it leaves out for its size has no children listed, as Go
        lists children only of the resources it stored; they were stored naming a parent not in the file. Asked of
        parents only (a resource with a `ChildResourceType`), a few on a page of thousands."""
        if not parents:
            return parents
        from connector.baton.c1z.rows import fits

        kept = [(res, packed) for res, packed in parents if fits(res)]
        if len(kept) < len(parents):
            for res, packed in parents:
                if not fits(res):
                    self._children_left_out(res, packed)
        return kept

    def _children_left_out(self, res: resource_pb2.Resource, packed: Sequence[any_pb2.Any]) -> None:
        from connector.baton.c1z.rows import MAX_OBJECT_BYTES

        log.warning(
            "children of a resource too large for a c1z object not listed (the resource is left out)",
            resource_type=res.id.resource_type,
            resource=res.id.resource[:200],
            child_types=sorted(
                annotation_resource_tree_pb2.ChildResourceType.FromString(p.value).resource_type_id for p in packed
            ),
            limit_bytes=MAX_OBJECT_BYTES,
        )

    def _push_child(self, res: resource_pb2.Resource, packed: any_pb2.Any) -> None:
        child = annotation_resource_tree_pb2.ChildResourceType.FromString(packed.value)
        if child.resource_type_id not in self._types:
            return
        key = (child.resource_type_id, res.id.resource_type, res.id.resource)
        if key in self._children_pushed:
            return
        self._children_pushed.add(key)
        self._state.push(
            st.LIST_RESOURCES,
            resource_type_id=child.resource_type_id,
            parent_resource_type_id=res.id.resource_type,
            parent_resource_id=res.id.resource,
        )

    async def _entitlements_batch(self, action: st.Action) -> None:
        rtype = self._types[action.resource_type_id]
        syncer = self._syncer(action.resource_type_id)
        if self._type_skips(rtype, annotation_resource_pb2.SkipEntitlements):
            # No resource of the type has entitlements: none is read back from the store (a 100k-user org's users
            # were read back, parsed and dropped in 500 batches per phase; issue 12).
            self._advance(action, "")
            await self._store.write(self._token(), entitlements=[])
            self._observer.page_stored("entitlements", action.resource_type_id, 0)
            return
        batch, more = await self._store.resources_after(
            action.resource_type_id, int(action.page_token or 0), _RESOURCE_BATCH
        )
        entitlements: list[entitlement_pb2.Entitlement] = []
        for _, res in batch:
            if not self._skips(rtype, res, annotation_resource_pb2.SkipEntitlements):
                entitlements.extend(syncer.entitlements(res))
        kept = self._identified(action, "entitlements", entitlements, _ENTITLEMENT_IDENTITY)
        self._advance(action, str(batch[-1][0]) if more else "")
        await self._store.write(self._token(), entitlements=kept)
        self._observer.page_stored("entitlements", action.resource_type_id, len(kept))

    async def _grant_actions_batch(self, action: st.Action) -> list[st.Action]:
        """Turn the next stored resources of a type into per-resource grant actions (run concurrently); returns
        them in the order they run."""
        rtype = self._types[action.resource_type_id]
        if self._type_skips(rtype, annotation_resource_pb2.SkipGrants):
            self._advance(action, "")  # no resource of the type has grants: none is read back
            await self._checkpoint()
            return []
        batch, more = await self._store.resources_after(
            action.resource_type_id, int(action.page_token or 0), _RESOURCE_BATCH
        )
        self._advance(action, str(batch[-1][0]) if more else "")
        pushed: list[st.Action] = []
        for _, res in reversed(batch):
            if not self._skips(rtype, res, annotation_resource_pb2.SkipGrants):
                pushed.append(
                    self._state.push(st.LIST_GRANTS, resource_type_id=res.id.resource_type, resource_id=res.id.resource)
                )
                self._grant_subjects[(res.id.resource_type, res.id.resource)] = res
        await self._checkpoint()
        pushed.reverse()
        return pushed

    def _parallel_batch(self) -> tuple[list[st.Action], st.Action | None]:
        """The per-resource grant actions on top of the stack (in run order), and the type-level grants action
        right under them that makes more (None when something else is there)."""
        batch: list[st.Action] = []
        for action in reversed(self._state.actions):
            if action.operation != st.LIST_GRANTS or not action.resource_id:
                feeder = action if action.operation == st.LIST_GRANTS and action.resource_type_id else None
                return batch, feeder
            batch.append(action)
        return batch, None

    async def _run_parallel(self, actions: list[st.Action], feeder: st.Action | None) -> None:
        """Run per-resource grant actions with a sliding window, topping it up from `feeder` as it drains.

        `_GRANT_PAGES_PER_CALL` x `concurrency` workers each take the next action and list its pages, at most
        `concurrency` of them in a connector call: while some workers marshal the state and queue their page for
        the store (or wait for the store to catch up), the others keep the connector's calls going (issue 12
        goal 2). When fewer actions wait than there are workers,
        the next batch of resources is turned into actions while the others run: no barrier per batch. Every
        action stays on the stack until its last page is stored, so the token saved with any page names every
        action not yet done, and a resumed sync runs exactly those (then the rest of `feeder`).
        """
        waiting = deque(actions)
        calls = asyncio.Semaphore(max(1, self._options.concurrency))
        workers = max(1, self._options.concurrency) * _GRANT_PAGES_PER_CALL
        topping_up: asyncio.Task[None] | None = None

        async def top_up(source: st.Action) -> None:
            waiting.extend(await self._grant_actions_batch(source))

        def check_top_up() -> None:
            """Start a top-up when the queue runs low; collect a finished one (raising its failure)."""
            nonlocal topping_up
            if topping_up is not None and topping_up.done():
                done, topping_up = topping_up, None
                done.result()
            if (
                topping_up is None
                and len(waiting) < workers
                and feeder is not None
                and any(a is feeder for a in self._state.actions)
            ):
                topping_up = asyncio.create_task(top_up(feeder))

        async def work() -> None:
            while True:
                check_top_up()
                if waiting:
                    action = waiting.popleft()
                    while await self._list_grants_page(action, calls):
                        pass
                elif topping_up is not None:
                    await asyncio.shield(topping_up)  # a worker's cancellation must not cancel the shared top-up
                else:
                    return

        tasks = [asyncio.create_task(work()) for _ in range(workers)]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            # The first failure stops the run; the others' stored pages stay checkpointed for a resume.
            if topping_up is not None:
                tasks.append(topping_up)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _list_grants_page(self, action: st.Action, calls: asyncio.Semaphore) -> bool:
        """List and store the action's next grants page, the listing within `calls`; returns whether the action
        has more pages (False: it is finished)."""
        syncer = self._syncer(action.resource_type_id)
        key = (action.resource_type_id, action.resource_id)
        # The resource as `_grant_actions_batch` read it (a resumed sync reads it again): a store round trip per
        # grants page cost ~55 µs of CPU, 5,000 times for a 5,000-team org (issue 12).
        res = self._grant_subjects.get(key)
        if res is None:
            res = await self._store.get_resource(*key)
        if res is None:
            await self._warn(action, "resource is no longer in the store")
            return False
        list_grants = self._grant_lister(action.resource_type_id, syncer)
        async with calls:
            page = await self._call(action, lambda: list_grants(res, action.page_token))
        if page is None:  # finished with a warning
            self._grant_subjects.pop(key, None)
            return False
        # Room in the store's queue before the state moves past this page: from here to `write` nothing awaits,
        # so no other worker's token can claim this page while it waits for room (and its worker is cancelled).
        await self._store.room()
        self._check_next_token(action, page)
        grants = self._identified(action, "grants", page.items, _GRANT_IDENTITY)
        self._note_expandable(grants)
        self._advance(action, page.next_token)
        if not page.next_token:
            self._grant_subjects.pop(key, None)
        await self._store.write(self._token(), grants=grants)
        self._observer.page_stored("grants", action.resource_type_id, len(grants))
        return bool(page.next_token)

    async def _targeted(self, action: st.Action) -> None:
        # The targets come from the request (a task, --sync-resources): a type that is unknown or left out by the
        # type filter is its mistake, not the connector's ("no syncer", "returned a resource with an unknown type").
        if action.resource_type_id not in self._by_type:
            raise InvalidArgumentError(
                f"targeted resource {action.resource_type_id!r} {action.resource_id[:64]!r}: no such resource type; "
                f"known: {sorted(self._by_type)}"
            )
        if action.resource_type_id not in self._types:
            raise InvalidArgumentError(
                f"targeted resource {action.resource_type_id!r} {action.resource_id[:64]!r}: its resource type is left "
                f"out by sync_resource_type_ids {sorted(self._types)}"
            )
        syncer = self._syncer(action.resource_type_id)
        if not isinstance(syncer, ResourceGetter):
            raise InvalidArgumentError(f"resource type {action.resource_type_id!r} does not support targeted sync")
        rid = resource_pb2.ResourceId(resource_type=action.resource_type_id, resource=action.resource_id)
        res = await self._call(action, lambda: syncer.get_resource(rid))
        if res is None:
            return
        if not res.id.resource:
            raise InternalError(f"connector returned the targeted resource {rid} without an id")
        if res.id.resource_type != rid.resource_type:
            raise InternalError(f"connector returned a {res.id.resource_type!r} for the targeted {rid.resource_type!r}")
        children = self._validate_resource(res)
        from connector.baton.c1z.rows import fits

        # A target the store leaves out for its size (`rows.fits`) has nothing listed under it: no children, no
        # entitlements, no grants (its grants' listing found it missing, and warned "no longer in the store").
        kept = fits(res)
        if not kept and children:
            self._children_left_out(res, children)
            children = []
        rtype = self._types[action.resource_type_id]
        entitlements: list[entitlement_pb2.Entitlement] = []
        if (
            kept
            and not self._state.should_skip_entitlements_and_grants
            and not self._skips(rtype, res, annotation_resource_pb2.SkipEntitlements)
        ):
            entitlements = list(syncer.entitlements(res))
        self._state.finish(action)  # the top of the stack: before the push below, so finishing it is a pop
        answered = (res.id.resource_type, res.id.resource)
        if (
            kept
            and self._grants_enabled()
            and not self._skips(rtype, res, annotation_resource_pb2.SkipGrants)
            and answered not in self._target_grants
        ):
            # Once per resource answered: two targets the connector answers with one resource (a UUID named in two
            # cases) listed its grants twice.
            self._target_grants.add(answered)
            # The resource as the connector answered it, as it is stored: a target named otherwise (another case of a
            # UUID) found no stored resource, and the sync ended with the target's grants missing.
            self._state.push(st.LIST_GRANTS, resource_type_id=res.id.resource_type, resource_id=res.id.resource)
        # As in Go's targeted sync (`getSubResources`, pushed last so they run first): a target's children are
        # listed too, so a targeted service account carries its application keys and tokens (c1z-format.md §3.3).
        for packed in children:
            self._push_child(res, packed)
        await self._store.write(self._token(), resources=[res], entitlements=entitlements)

    # -- helpers -----------------------------------------------------------------------------------------

    async def _call(self, action: st.Action, fetch: Callable[[], Awaitable[T]]) -> T | None:
        """Run one connector call; NotFound finishes the action with a warning.

        No retry here: the connector's own client owns retries of its calls (for Datadog, the HTTP transport),
        so an error that reaches the engine is final for this sync. A retryable one fails the sync retryably,
        and the next attempt resumes from the last checkpoint (docs/service-mode.md, "Datadog failures").
        """
        try:
            return await fetch()
        except NotFoundError as exc:
            await self._warn(action, str(exc))
            return None

    async def _warn(self, action: st.Action, message: str) -> None:
        text = f"{action.operation} {action.resource_type_id}:{action.resource_id}: {message}".replace(": :", ": ")
        self._warnings.append(text)
        log.warning(
            "sync warning; skipping",
            operation=action.operation,
            resource_type=action.resource_type_id,
            resource=action.resource_id,
            detail=message,
        )
        self._state.finish(action)
        self._tokens_given.pop(action.id, None)
        await self._checkpoint()
        done = self._state.completed_actions_count
        if len(self._warnings) > _MAX_WARNINGS and len(self._warnings) > done / 10:
            raise TooManyWarningsError(f"too many warnings: {len(self._warnings)} of {done} actions")

    def _advance(self, action: st.Action, next_token: str) -> None:
        if next_token:
            action.page_token = next_token
        else:
            self._state.finish(action)

    def _check_next_token(self, action: st.Action, page: Page[T]) -> None:
        """Refuse a next page token this run already asked the action's listing for: its pages go round.

        The same token as the one given is a loop of one page; a listing whose tokens go round through two or more
        pages (a peer's cursors A -> B -> C -> A, a page served again under a new cursor that leads back) was walked
        for ever, each page stored again over itself. The tokens are remembered per action as hashes (about 90 bytes a
        page in a set, whatever a token's length; the string hash is randomised per process, so a peer cannot choose
        two tokens that collide), only while its listing is in progress. A resumed run starts with none: a cycle
        that began before the interruption is caught once it comes round again after it."""
        token = page.next_token
        if not token:
            self._tokens_given.pop(action.id, None)
            return
        if token == action.page_token:
            raise InternalError(
                f"{action.operation} {action.resource_type_id}: the connector returned the same page token "
                "it was given (would loop forever)"
            )
        given = self._tokens_given.get(action.id)
        if given is None:
            given = self._tokens_given[action.id] = set()
        if action.page_token:
            given.add(hash(action.page_token))
        if hash(token) in given:
            where = f"{action.resource_type_id}:{action.resource_id}" if action.resource_id else action.resource_type_id
            raise InternalError(
                f"{action.operation} {where}: the connector returned a page token it had already returned in this "
                "listing: its pages go round (would loop forever)"
            )

    async def _checkpoint(self) -> None:
        await self._store.write(self._token())

    def _token(self) -> str | None:
        """The state token to store with a page; None (the stored one stays) in a targeted sync. A targeted run is
        never resumed, and its token lists every target still to sync: marshalled with every page, a run's CPU grew
        with the square of its targets (8,000: 33 s; a task's 32 MiB may name hundreds of thousands)."""
        return None if self._options.targeted_resources else self._state.marshal()

    def _syncer(self, type_id: str) -> ResourceSyncer:
        try:
            return self._by_type[type_id]
        except KeyError:
            raise InternalError(f"no syncer for resource type {type_id!r}") from None

    def _grant_lister(
        self, type_id: str, syncer: ResourceSyncer
    ) -> Callable[[resource_pb2.Resource, str], Awaitable[Page[grant_pb2.Grant]]]:
        """`list_grants`, or `list_grants_directly` when the walk that side-loads this type's grants is not run.

        Decided once per type: an `isinstance` against a runtime-checkable Protocol walks the protocol's
        members, and this is asked for every grants page (issue 12).
        """
        lister = self._grant_listers.get(type_id)
        if lister is None:
            lister = syncer.list_grants
            if isinstance(syncer, SideLoadedGrants) and not self._lists_resources_of(syncer.grants_side_loaded_by()):
                lister = syncer.list_grants_directly
            self._grant_listers[type_id] = lister
        return lister

    def _lists_resources_of(self, type_id: str) -> bool:
        """Whether this sync walks every resource of a type (a targeted sync walks none)."""
        return not self._options.targeted_resources and type_id in self._types

    def _grants_enabled(self) -> bool:
        return not (self._state.should_skip_grants or self._state.should_skip_entitlements_and_grants)

    def _note_expandable(self, grants: Sequence[grant_pb2.Grant]) -> None:
        if not self._state.needs_expansion and any(
            a.type_url == _EXPANDABLE_URL for g in grants for a in g.annotations
        ):
            self._state.needs_expansion = True

    @staticmethod
    def _type_skips(rtype: resource_pb2.ResourceType, phase: type[Message]) -> bool:
        """Whether the type's annotations skip this phase (`phase` or both) for every resource of the type."""
        urls = (_SKIP_BOTH_URL, ann.type_url(phase))
        return any(a.type_url in urls for a in rtype.annotations)

    @staticmethod
    def _skips(rtype: resource_pb2.ResourceType, res: resource_pb2.Resource, phase: type[Message]) -> bool:
        # Called for every stored resource in two phases: compare type URLs, do not rebuild them per annotation.
        urls = (_SKIP_BOTH_URL, ann.type_url(phase))
        return any(a.type_url in urls for a in rtype.annotations) or any(a.type_url in urls for a in res.annotations)

    def _identified(
        self, action: st.Action, kind: str, records: Sequence[T], identity: tuple[attrgetter[Any], ...]
    ) -> Sequence[T]:
        """The records that carry their identity (each of `identity` non-empty); the others are dropped and counted,
        as Go's syncer does (docs/spec/c1z-format.md §5.2): one record without an id (a peer's blank one) must not
        fail every sync."""
        # The usual case checked in C (`map` over attrgetters): this runs for every synced object (issue 12).
        if all(all(map(field, records)) for field in identity):
            return records
        kept = [record for record in records if all(field(record) for field in identity)]
        self._dropped += len(records) - len(kept)
        log.warning(
            "records without an identity dropped",
            kind=kind,
            dropped=len(records) - len(kept),
            operation=action.operation,
            resource_type=action.resource_type_id,
            resource=action.resource_id,
        )
        return kept

    def _validate_resource(self, res: resource_pb2.Resource) -> list[any_pb2.Any]:
        """Check one listed resource; returns its `ChildResourceType` annotations (one pass over them)."""
        rid = res.id
        type_id = rid.resource_type
        traits = self._trait_urls.get(type_id)
        if traits is None:
            rtype = self._types.get(type_id)
            if rtype is None:
                raise InternalError(f"connector returned a resource of an unknown type: {rid}")
            # What each resource of the type must carry, worked out once per type: this runs for every resource.
            traits = self._trait_urls[type_id] = [
                (_TRAIT_URLS[t], _TRAIT_ANNOTATIONS[t].DESCRIPTOR.name) for t in rtype.traits if t in _TRAIT_URLS
            ]
        annotations = res.annotations
        present = {a.type_url for a in annotations}
        for url, name in traits:
            if url not in present:
                raise InternalError(f"resource {type_id}:{rid.resource} is missing its {name}")
        return [a for a in annotations if a.type_url == _CHILD_TYPE_URL] if _CHILD_TYPE_URL in present else []


# What a record must carry to be stored, each field non-empty.
_RESOURCE_IDENTITY = (attrgetter("id.resource"),)
_ENTITLEMENT_IDENTITY = (attrgetter("id"), attrgetter("resource.id.resource"))
# A grant's entitlement must name its resource too (spec c1z-format §5.2: an entitlement without resource identity
# is invalid): a peer's blank linkage (a user's role `{"id": ""}`) made a grant of `role::member` on no role.
_ID, _PRINCIPAL_RESOURCE = attrgetter("id"), attrgetter("principal.id.resource")
_GRANT_IDENTITY = (_ID, _PRINCIPAL_RESOURCE, attrgetter("entitlement.resource.id.resource"))
_ENTITLEMENT_RESOURCE_ID = attrgetter("entitlement.resource.id")
_RESOURCE_TYPE, _RESOURCE = attrgetter("resource_type"), attrgetter("resource")


# The settings the Go token carries as its own fields (`should_skip_*`): not recorded twice.
_TOKEN_FLAGS = ("skip_entitlements_and_grants", "skip_grants")
# How much of a recorded value a warning shows (the token is a file's bytes).
_SHOWN = 120


def _store_cursor(action: st.Action) -> bool:
    """Whether the action's page token is the engine's cursor over stored resources (a row id), not a connector's."""
    return action.operation in (st.LIST_ENTITLEMENTS, st.LIST_GRANTS) and not action.resource_id


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _recorded(state: st.SyncState) -> dict[str, str] | None:
    """The settings an unfinished sync was started with; None when its token does not record them."""
    if state.settings is None:
        return None
    return {
        **state.settings,
        "skip_entitlements_and_grants": _flag(state.should_skip_entitlements_and_grants),
        "skip_grants": _flag(state.should_skip_grants),
    }


def _changes(recorded: dict[str, str] | None, now: dict[str, str]) -> list[str]:
    """Each setting that differs, as `name: before -> after`; empty when the sync may be resumed."""
    if recorded is None:
        return ["the settings it was started with are not recorded (another version or SDK wrote it)"]
    out = []
    names = set(recorded) | set(now)
    if recorded.get("resource_types") != now.get("resource_types"):
        names.discard("connector_types")  # the synced types changed: that line says it (no filter: the same list)
    for name in sorted(names):
        before, after = recorded.get(name), now.get(name)
        if before != after:
            out.append(f"{name[:_SHOWN]}: {_shown(before)} -> {_shown(after)}")
    return out[:20]


def _shown(value: str | None) -> str:
    if value is None:
        return "(not set)"
    return repr(value[:_SHOWN] + ("…" if len(value) > _SHOWN else ""))
