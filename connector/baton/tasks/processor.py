"""Runs one ConductorOne task to completion and reports it with exactly one FinishTask.

Invariant (tested): every task the processor is given ends in exactly one accepted FinishTask, or in an error
log line naming it ("task not reported" / "invalid task" / "task id reused"; a copy ConductorOne re-offers of a
task already so named is a debug line). Hello tasks are answered with a
Hello carrying the task id instead (that is their acknowledgement, §3.4), or end in "hello task not answered".

A task is validated before anything touches the connector: an id that is not 27 ASCII letters or digits cannot
be reported (ConductorOne refuses such a FinishTask), so it is logged and dropped; a task without a payload is
reported as failed. FinishTask is retried under the one backoff policy until accepted, known gone
(`report.report_verdict`) or the process stops (the Go SDK sends it once and drops it on failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import structlog
from google.protobuf import any_pb2, struct_pb2
from google.rpc import status_pb2

from connector.baton.c1.client import MAX_ANNOTATIONS, BatonServiceClient, task_id_problem
from connector.baton.c1.errors import (
    C1Error,
    C1RequestTooLargeError,
    C1TransientError,
    C1UnreadableAnswerError,
    C1UnreadableTaskError,
)
from connector.baton.connector import ActionManager, Connector, IdKeys, noting_undone_on_stop
from connector.baton.errors import Code, ConnectorError
from connector.baton.ids import grant_id, resource_key
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.retry import Backoff, RetryPolicy
from connector.baton.tasks import action_schemas
from connector.baton.tasks.full_sync import FullSyncHandler
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.outcome import (
    MAX_REPORT_BYTES,
    REPORT_ROOM_BYTES,
    Failure,
    Outcome,
    TaskError,
    Undo,
    failure_from,
)
from connector.baton.tasks.report import GONE_CONFIRMATIONS, Verdict, report_verdict

log = structlog.get_logger(__name__)

# Tasks that change the upstream system: their failures are final (a retry could grant twice), but for those of
# RETRIED_IF_TRANSIENT.
PROVISIONING_TASKS = frozenset(
    {
        "grant",
        "revoke",
        "create_account",
        "create_resource",
        "delete_resource",
        "rotate_credentials",
        "issue_credential",
        "action_invoke",
    }
)
# Provisioning tasks whose repeat cannot do them twice (an action sets a state: enable, disable, a profile's fields):
# a passing failure is retryable, as Go reports every action's failure (§3.4), the rest final (`failure_from`).
RETRIED_IF_TRANSIENT = frozenset({"action_invoke"})
# Tasks a replay could do twice (§3.4: issuance "always NR (issuance is not idempotent)"): even one stopped by a
# shutdown is a final failure, since what it had started may have happened.
NOT_REPLAYABLE = frozenset({"issue_credential"})
# Go answers the task types it has no handler for (event_feed, create_sync_diff, compact_syncs) with "unsupported
# task type", retryable; so do we, plus the other types this connector does not run (§3.4).
UNSUPPORTED = "unsupported task type"
UNREPORTED = "unreported"
"""The outcome label of a task that ran but that ConductorOne will not hear of from us: its report was given up (known
gone, the stop deadline, cancelled), or a hello task's Hello was not answered. Not its outcome: a grant done in
Datadog is no success at ConductorOne, and the failure alert (`outcome!="success"`) must see it. A task that could
not run at all is `not_run` (`TaskObserver.task_refused`)."""
_SENT_MAY_HAVE_LANDED = "a change it had already sent may have been made all the same: check it there"
STOPPED_MID_WRITE = f"stopped mid-way, so {_SENT_MAY_HAVE_LANDED}"
"""What the failure of a provisioning task stopped after its handler began says (`TaskProcessor._abandoned`)."""
FAILED_MID_WRITE = f"failed mid-way, so {_SENT_MAY_HAVE_LANDED}"
"""What the failure of a provisioning task whose handler timed out or raised an unexpected error says: the handler's
own errors say what they know of the writes they sent; these know nothing (`TaskProcessor._outcome_of`)."""
FINISH_RETRY = RetryPolicy(base_delay=1.0, max_delay=30.0)
"""Backoff between FinishTask attempts; the loop itself is unbounded (it ends on acceptance, gone or stop)."""
LAST_ATTEMPT_SECONDS = 1.0
"""Once stopping, a report's first FinishTask (or a hello task's first Hello) gets what is left before the stop
deadline, and at least this long: a processor cancelled at shutdown (its handler outlived the grace) still makes one
attempt, and nothing else waits. A retry gets what is left, and is never begun at the deadline or after it
(`_wait_before_retry`)."""
_REFUSALS_REMEMBERED = 64
"""Unrunnable tasks whose error line is remembered, so a re-offered copy is not another (`_first_refusal`)."""
_UNREPORTED_REMEMBERED = 4096
"""Unreported tasks remembered by id (`TaskProcessor.unreported`); older ones are counted, no longer by id."""
_LOGGED_ID_CHARS = 40
_LOGGED_TARGET_CHARS = 200
MAX_TARGET_ARGS = 64
"""The most arguments an action may have for its log lines to name its target (`_action_target`): an action takes a
handful, and a peer's million (a 32 MiB task) were sorted and read whole, on the event loop, for a log field."""


class TaskObserver(Protocol):
    def task_received(self, task_type: str) -> None: ...

    def task_finished(self, task_type: str, outcome: str, seconds: float) -> None: ...

    def task_refused(self, task_type: str) -> None:
        """A task received and not run, that no FinishTask can report (its id is invalid or a running task's)."""


def _report_bytes(outcome: Outcome) -> int:
    """What a success's response and annotations take in a report (MAX_REPORT_BYTES bounds it)."""
    response = outcome.response.ByteSize() if outcome.response is not None else 0
    return response + sum(annotation.ByteSize() for annotation in outcome.annotations)


def _held_bytes(outcome: Outcome) -> int:
    """What a report being retried holds: its response and annotations, and its failure's message (at most
    MAX_FAILURE_MESSAGE characters)."""
    message = outcome.failure.message if outcome.failure is not None else ""
    return _report_bytes(outcome) + len(message.encode())


def _fitted(outcome: Outcome, limit: int = MAX_REPORT_BYTES) -> Outcome:
    """The outcome as it can be reported: at most MAX_ANNOTATIONS annotations, and response and annotations within
    `limit` bytes (MAX_REPORT_BYTES; less when ConductorOne refused a report as over its own message limit). What
    does not fit is dropped with a warning (the response first: the outcome itself, success or failure, is what the
    report is for; ConductorOne's next sync shows what a grant did)."""
    annotations = list(outcome.annotations)
    if len(annotations) > MAX_ANNOTATIONS:
        log.warning("too many annotations for a report; sending the first ones", count=len(annotations))
        annotations = annotations[:MAX_ANNOTATIONS]
    response = outcome.response
    sizes = [annotation.ByteSize() for annotation in annotations]
    response_size = response.ByteSize() if response is not None else 0
    if response_size + sum(sizes) <= limit:
        return replace(outcome, annotations=annotations)
    if response is not None:
        log.warning(
            "task response too large to report; reporting the outcome without it",
            response_bytes=response_size,
            limit_bytes=limit,
        )
    kept: list[any_pb2.Any] = []
    used = 0
    for annotation, size in zip(annotations, sizes, strict=True):
        if used + size <= limit:
            kept.append(annotation)
            used += size
    if len(kept) < len(annotations):
        log.warning(
            "task annotations too large to report; sending those that fit",
            count=len(annotations),
            sent=len(kept),
            limit_bytes=limit,
        )
    return replace(outcome, response=None, annotations=kept)


async def _take_back(undo: Undo) -> bool:
    """Run `undo`; whether it took back what it names. A failure is logged at error and answers False; a
    cancellation is raised, logged at error when it left the work in place (`Undo.done` says whether it did)."""
    try:
        return await undo.run() is not False
    except asyncio.CancelledError:
        if undo.may_be_done and not undo.done:
            # An earlier try of the undo may have worked, no answer saying whether (its answer lost, or a 2xx that did
            # not show it done), before the cancel came (r1107): neither "left in place" nor "stopped before it could
            # be undone" is known.
            log.error(
                "unreported work may be left in place: stopped while undoing it, after a try that may have worked",
                may_be_live=undo.what,
            )
        elif not undo.done:
            log.error("unreported work left in place: stopped before it could be undone", left_live=undo.what)
        raise
    except Exception as exc:
        if isinstance(exc, ConnectorError) and exc.may_have_taken_effect:
            undo.may_be_done = True
            log.error(
                "unreported work may be left in place: undoing it may have worked (no answer said whether it did)",
                may_be_live=undo.what,
                error_type=type(exc).__name__,
            )
            return False
        log.error(
            "unreported work left in place: undoing it failed", left_live=undo.what, error_type=type(exc).__name__
        )
        return False


def _too_large_failure(outcome: Outcome, limit: int, *, undone: bool) -> Outcome:
    """The final failure reported in place of a success too large to report (over `limit` bytes) whose work only its
    response hands over (`Outcome.undo`), saying whether that work was taken back."""
    assert outcome.undo is not None
    what, size = outcome.undo.what, _report_bytes(outcome)
    if undone:
        done = f"{what} was deleted again"
    elif outcome.undo.may_be_done:
        # Its deletion may have worked, no answer saying whether (`Undo.may_be_done`): "failed: delete it by hand" of a
        # key Datadog had deleted.
        done = f"deleting {what} again may have worked (no answer said whether it did): {what} may still be live, check for it"
    else:
        done = f"deleting {what} again failed: delete it by hand"
    message = f"the task's response is too large to report ({size} bytes; at most {limit}); {done}"
    return Outcome(failure=Failure(Code.INTERNAL, message, True))


def loggable_task_id(task_id: str) -> str:
    """A task id as it may appear in a log line: escaped, and cut when absurdly long (a 1 MB id)."""
    return _loggable(task_id, _LOGGED_ID_CHARS)


def _loggable(text: str, limit: int) -> str:
    """ConductorOne's text as it may appear in a log line: escaped (no control characters, no forged line), and
    cut when absurdly long."""
    shown = ascii(text[:limit])[1:-1]
    return shown if len(text) <= limit else f"{shown}...({len(text)} chars)"


def _ref(resource_id: resource_pb2.ResourceId) -> str:
    if not resource_id.resource_type and not resource_id.resource:
        return ""
    return _loggable(f"{resource_id.resource_type}:{resource_id.resource}", _LOGGED_TARGET_CHARS)


def task_target(task: baton_pb2.Task, kind: str) -> dict[str, str]:
    """What a grant, revoke, delete or credential issuance is about, as log fields bound to every line of the task: a
    failed revoke must say who keeps which access without looking the task up (the ids are ConductorOne's, never
    secrets)."""
    if kind == "grant":
        return {
            "entitlement": _loggable(task.grant.entitlement.id, _LOGGED_TARGET_CHARS),
            "principal": _ref(task.grant.principal.id),
        }
    if kind == "revoke":
        grant = task.revoke.grant
        return {
            "entitlement": _loggable(grant.entitlement.id, _LOGGED_TARGET_CHARS),
            "principal": _ref(grant.principal.id),
        }
    if kind == "delete_resource":
        return {"resource": _ref(task.delete_resource.resource_id)}
    if kind == "action_invoke":
        # A failed disable_user is an offboarding that did not happen: which action, on whom, in every line.
        action = task.action_invoke
        bound = {"action": _loggable(action.name, _LOGGED_TARGET_CHARS)}
        target = _action_target(action.args)
        return bound | ({"action_target": target} if target else {})
    if kind == "issue_credential":
        # A refused issuance (a duplicate, a disabled account, the provider's error) named neither in any line.
        issue = task.issue_credential
        return {
            "identity": _ref(issue.identity_id),
            "secret_type": _loggable(issue.credential_options.secret_resource_type_id, _LOGGED_TARGET_CHARS),
        }
    return {}


def _action_target(args: struct_pb2.Struct) -> str:
    """The resource an action acts on, for its log lines: its first argument (by name) in the SDK's resource-id shape,
    `{resource_type_id, resource_id}` (or `resource_type`, `resource`); "" when none is. (A plain string argument may
    be anything, an email or a title, so only the object shape names a target here.) None is looked for among more
    than MAX_TARGET_ARGS arguments."""
    if len(args.fields) > MAX_TARGET_ARGS:
        return ""
    for name in sorted(args.fields):
        value = args.fields[name]
        if value.WhichOneof("kind") == "struct_value" and (named := _resource_arg(value)) is not None:
            return _ref(named)
    return ""


def _resource_arg(value: struct_pb2.Value) -> resource_pb2.ResourceId | None:
    """A resource-id argument's value: an id string, or the SDK's `{resource_type_id, resource_id}` object (or
    `resource_type`, `resource`); None for anything else or an empty id."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        named = resource_pb2.ResourceId(resource=value.string_value.strip())
    elif kind == "struct_value":
        fields = value.struct_value.fields
        named = resource_pb2.ResourceId(
            resource_type=_first_text(fields, "resource_type_id", "resource_type"),
            resource=_first_text(fields, "resource_id", "resource"),
        )
    else:
        return None
    return named if named.resource else None


def _first_text(fields: Mapping[str, struct_pb2.Value], *keys: str) -> str:
    return next((fields[k].string_value for k in keys if k in fields and fields[k].string_value), "")


def _left_live(task: baton_pb2.Task, kind: str, *, maybe: bool = False) -> dict[str, str]:
    """The grant a failed revoke leaves in place, by its id (made from its parts when ConductorOne sent none), the
    resource (an issued credential) a failed `delete_resource` leaves live, or the account a failed disable leaves
    enabled; none for a task that did not decode or named nothing. Under `may_be_live` when the failed change may
    have been made all the same (`Failure.may_have_taken_effect`: its answer lost, a success status that did not show it
    made, a 404 the read to settle failed): `left_live` named a credential Datadog had deleted."""
    key = "may_be_live" if maybe else "left_live"
    if kind in ("delete_resource", "action_invoke"):
        shown = (
            _ref(task.delete_resource.resource_id)
            if kind == "delete_resource"
            else _action_target(task.action_invoke.args)
        )
        return {key: shown} if shown else {}
    grant = task.revoke.grant
    principal = grant.principal.id
    if not grant.id and not (grant.entitlement.id and principal.resource):
        return {}
    shown = grant.id or grant_id(grant.entitlement.id, principal.resource_type, principal.resource)
    return {key: _loggable(shown, _LOGGED_TARGET_CHARS)}


IdKey = Callable[[str, str], str]
"""How two ids of one resource type are compared: (resource type, id) -> the form under which ids of one object are
equal (`IdKeys.id_key`)."""


def exact_id(resource_type_id: str, resource_id: str) -> str:
    """The `IdKey` of a connector that does not say otherwise: ids are equal only as bytes."""
    return resource_id


def id_key_of(connector: Connector) -> IdKey:
    return connector.id_key if isinstance(connector, IdKeys) else exact_id


def access_key(task: baton_pb2.Task, kind: str, key: IdKey = exact_id) -> tuple[str, str] | None:
    """The access a grant or revoke changes: the entitlement's resource (every entitlement of it: a team's member and
    admin are one membership) and the principal, each id in its `key` form (two spellings of one object are one
    access). None for other tasks and for one naming neither (it fails alone)."""
    if kind == "grant":
        entitlement, principal = task.grant.entitlement, task.grant.principal.id
    elif kind == "revoke":
        entitlement, principal = task.revoke.grant.entitlement, task.revoke.grant.principal.id
    else:
        return None
    owner = entitlement.resource.id
    if owner.resource:
        owner_type, owner_id = owner.resource_type, owner.resource
    else:
        # A task may name the entitlement by id alone (`<type>:<id>:<slug>`, ids.entitlement_id): its resource is the
        # id without the slug, the same key as a task that names the resource.
        owner_type, _, owner_id = entitlement.id.rpartition(":")[0].partition(":")
    resource = resource_key(owner_type, key(owner_type, owner_id)) if owner_id else owner_type
    if not resource and not principal.resource:
        return None
    return resource, resource_key(principal.resource_type, key(principal.resource_type, principal.resource))


def action_key(task: baton_pb2.Task, manager: ActionManager | None, key: IdKey = exact_id) -> tuple[str, str] | None:
    """What an action changes: the resources its resource-id arguments name (as the action's schema declares them;
    an id or a {resource_type_id, resource_id} value alike), each id in its `key` form. None for an action naming
    none, or unknown here."""
    invoke = task.action_invoke
    schema = next((s for s in manager.action_schemas() if s.name == invoke.name), None) if manager else None
    if schema is None:
        return None
    named = (invoke.args.fields.get(field.name) for field in schema.arguments if field.HasField("resource_id_field"))
    return _resources_key(
        [ref for value in named if value is not None and (ref := _resource_arg(value)) is not None], key
    )


def _resources_key(refs: list[resource_pb2.ResourceId], key: IdKey) -> tuple[str, str] | None:
    """The key of a task that acts on these resources (an action's, an issuance's identity): their ids in `key` form,
    without their types (an action may name its resource by a bare id)."""
    ids = sorted(key(ref.resource_type, ref.resource) for ref in refs)
    return ("resources", "\0".join(ids)) if ids else None


OrderKey = tuple[str, str | None]
"""A task's `order_key`: (scope, ids), or (scope, None) for a task that may depend on any resource of the scope
(`EVERY_RESOURCE`)."""
EVERY_RESOURCE: OrderKey = ("resources", None)
"""The key of a deletion whose resource's owner is unknown before it runs: it acts after every earlier task keyed by
resources (`_resources_key`) and before every later one, beside the tasks of other scopes and other such deletions."""


def order_key(task: baton_pb2.Task, kind: str, connector: Connector) -> OrderKey | None:
    """What a task changes or depends on, as one key: tasks of one key act in the order ConductorOne handed them out
    (`TaskProcessor._in_turn`), others side by side; a key of `EVERY_RESOURCE` is ordered with every key of its scope.
    A grant and a revoke by the access (`access_key`); an action by the resources it names (`action_key`); an issuance
    by its identity, the key of an action on that account: issuance reads the account's state (a disabled service
    account is refused), so an enable handed out before it, run beside it, had the credential refused, and a disable had
    one issued to the account it disabled. A deletion by its parent, the resource that owns what it deletes (an
    application key's service account), the key of an action on that account: the deleter may depend on the owner's
    state (a disabled service account's keys are not under its path), and a disable handed out after a key's
    deletion, run beside it, left the key live. ConductorOne sends no parent with a credential's deletion
    (docs/spec/credentials.md §3.4), and nothing else in the task names the owner (an application key's id does not):
    such a deletion is `EVERY_RESOURCE`. None for the rest: a rotation or resource creation changes nothing here
    (docs/service-mode.md "Task order")."""
    key = id_key_of(connector)
    if kind == "action_invoke":
        return action_key(task, connector.action_manager(), key)
    if kind == "issue_credential":
        identity = task.issue_credential.identity_id
        return _resources_key([identity] if identity.resource else [], key)
    if kind == "delete_resource":
        parent = task.delete_resource.parent_resource_id
        return _resources_key([parent], key) if parent.resource else EVERY_RESOURCE
    access = access_key(task, kind, key)
    # A scope of its own: an access's first id is a type a task names (`resources::member` made a grant's key one of
    # the resources' scope, and it waited for every deletion without an owner, and they for it).
    return ("access", "\0".join(access)) if access is not None else None


@dataclass(frozen=True, slots=True)
class _Reporting:
    """What the processor keeps of a task whose report is being retried: its kind and its digest (`_work_digest`), all
    that telling a copy ConductorOne re-offers from another task under its id needs. The task itself, up to the
    client's 32 MiB receive limit, was held until the report ended: a few such reports held the budget of task bytes
    (`Scheduler`), and polling stopped with slots free."""

    kind: str
    digest: bytes


def _work_digest(task: baton_pb2.Task) -> bytes:
    """The digest of a task's id, type and payload, without `status` and `debug` (ConductorOne's bookkeeping, which the
    SDK never reads, spec §2.3, and which may differ on a copy it re-offers). Its payload is serialized alone, not the
    task copied first (a copy of a task of 25 maps of 10,000 entries takes 200 ms); a payload of a type newer than our
    protos is an unknown field of the task, copied (as bytes) without `status` and `debug`.

    Task-sized work (32 MiB, the client's receive limit): run it with `_digest_off_the_loop`. On the event loop it took
    130 ms for a 30 MiB task, at every copy ConductorOne re-offered (10 a second at the idle pace), and nothing else ran
    meanwhile: /healthz, heartbeats, reports."""
    kind = task.WhichOneof("task_type")
    digest = hashlib.sha256(f"{len(task.id)}:{task.id}\0{kind}\0".encode())
    if kind is None:
        copy = baton_pb2.Task()
        copy.CopyFrom(task)
        copy.ClearField("status")
        copy.ClearField("debug")
        digest.update(copy.SerializeToString(deterministic=True))
    else:
        digest.update(getattr(task, kind).SerializeToString(deterministic=True))
    return digest.digest()


def _id_problem(task_id: str, kind: str | None) -> str | None:
    """What is wrong with a task's id, or None. A hello task's may be empty: its answer is a Hello carrying the id,
    whose `task_id` is 27 letters or digits or empty (docs/spec/service-mode.md §2.2), and Go's handler sends it as it
    came, a plain Hello (§3.4). Refused, such a task was an error line and a `not_run`, and ConductorOne heard nothing."""
    if kind == "hello" and not task_id:
        return None
    return task_id_problem(task_id)


async def _digest_off_the_loop(task: baton_pb2.Task) -> bytes:
    """`_work_digest` on a worker thread: its hashing lets the event loop run (hashlib releases the GIL), and only the
    payload's serialization holds it."""
    return await asyncio.to_thread(_work_digest, task)


def _same_payload(running: baton_pb2.Task, offered: baton_pb2.Task) -> bool:
    """Whether `offered` holds the running task's id, type and payload, `status` and `debug` aside (`_work_digest`):
    the payloads compared in place, no copy made and nothing serialized (a compare of two 30 MiB payloads takes a few
    ms; their digests, a serialization and a hash of each). On the event loop, as the copy's decoding was: a compare
    holds the GIL whichever thread runs it."""
    kind = running.WhichOneof("task_type")
    if running.id != offered.id or kind != offered.WhichOneof("task_type"):
        return False
    if kind is not None:
        return bool(getattr(running, kind) == getattr(offered, kind))
    # A type newer than our protos: its payload is an unknown field of the task, compared with the rest of it.
    copy = baton_pb2.Task()
    copy.CopyFrom(offered)
    copy.status, copy.debug = running.status, running.debug
    return copy == running


async def _same_work(running: baton_pb2.Task | _Reporting, offered: baton_pb2.Task) -> bool:
    """Whether `offered` is a copy of the running task (`_same_payload`), or of one whose report is being retried (by
    its digest, made off the event loop)."""
    if isinstance(running, _Reporting):
        return await _digest_off_the_loop(offered) == running.digest
    return _same_payload(running, offered)


def _kind_of(running: baton_pb2.Task | _Reporting) -> str:
    return running.kind if isinstance(running, _Reporting) else running.WhichOneof("task_type") or "unknown"


HelloCall = Callable[[str, Callable[[bool], None]], Awaitable[None]]
"""A hello task's Hello: (task id, awaiting), where `awaiting` hears whether the Hello is out and unanswered (True as
it goes out, False once answered; `BatonServiceClient.hello`)."""


class TaskProcessor:
    def __init__(
        self,
        client: BatonServiceClient,
        handlers: Handlers,
        full_sync: FullSyncHandler,
        hello: HelloCall,
        *,
        observer: TaskObserver | None = None,
        finish_retry: RetryPolicy = FINISH_RETRY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._handlers = handlers
        self._full_sync = full_sync
        self._hello = hello
        self._observer = observer
        self._finish_retry = finish_retry
        self._clock = clock
        self._work: dict[str, asyncio.Task[Outcome]] = {}
        self._last_on_access: dict[OrderKey, tuple[str, asyncio.Task[Outcome]]] = {}
        """The latest handler started for each key (`order_key`: an access, or the resources an action, an issuance or
        a deletion acts on), with its task id: the next one of the same key waits for it, so they act in the order
        ConductorOne handed them out."""
        self._on_every: dict[str, dict[str, asyncio.Task[Outcome]]] = {}
        """The handlers of `EVERY_RESOURCE` keys under way, by scope and task id: each later task of the scope waits
        for them (they do not wait for each other)."""
        self._active: dict[str, baton_pb2.Task | _Reporting] = {}
        """The tasks running or being reported, by id; one whose report is being retried only as `_Reporting`."""
        self._redelivered: set[str] = set()
        """The running tasks whose redelivery was logged at warning (later copies are logged at debug)."""
        self._refusals_told: OrderedDict[bytes, None] = OrderedDict()
        """Digests of the unrunnable tasks lately logged at error (a copy ConductorOne re-offers is logged at debug)."""
        self._abandon_reason: str | None = None
        self._report_deadline: float | None = None
        self._stopping = asyncio.Event()
        self._windows: set[asyncio.Timeout] = set()
        """The FinishTasks and Hellos awaiting their answer, each under its window (`_attempt`)."""
        self._unreported: OrderedDict[str, None] = OrderedDict()
        """Tasks run whose outcome ConductorOne did not take (`UNREPORTED`), by id: a copy of one re-offered later and
        reported takes it off (`unreported`). The latest _UNREPORTED_REMEMBERED only: a ConductorOne answering every
        report as gone (each task's id kept for the life of the process) grew it without bound, a few hundred bytes a
        task, up to the pod's memory limit."""
        self._unreported_forgotten = 0
        """Unreported tasks counted, whose ids `_unreported` no longer holds: a copy of one reported later cannot take
        it off, and the closing line then counts one that reached ConductorOne after all (too many, never too few)."""

    @property
    def unreported(self) -> int:
        """The tasks whose outcome ConductorOne never took from us, counted once each while their ids are remembered
        (`_UNREPORTED_REMEMBERED`; one forgotten and given up again is counted again): the runner's closing line counts
        them. A task whose report was given up as gone, then re-offered and reported, reached ConductorOne after all."""
        return len(self._unreported) + self._unreported_forgotten

    def abandon_all(self, reason: str, finish_within: float) -> None:
        """Shutdown: stop every running handler (each is then reported as a retryable failure), and give every
        report still being retried `finish_within` seconds more.
        """
        self._abandon_reason = reason
        self.stop_reporting_within(finish_within)
        for work in self._work.values():
            work.cancel()

    def stop_reporting_within(self, seconds: float) -> None:
        """The process is stopping: reports not accepted within `seconds` are given up (and logged)."""
        deadline = self._clock() + seconds
        self._report_deadline = deadline if self._report_deadline is None else min(deadline, self._report_deadline)
        self._stopping.set()
        # Attempts already awaiting an answer are held to the deadline too, not only those begun after it.
        for window in self._windows:
            if not window.expired():
                window.reschedule(self._window_end())

    @property
    def running(self) -> int:
        return len(self._active)

    def takes(self, task_id: str, kind: str | None = None) -> bool:
        """Whether a task of this id (and type, `kind`) would run now: not one with an invalid id, nor a copy of a
        running task or another task under its id (`process` only logs those)."""
        return _id_problem(task_id, kind) is None and task_id not in self._active

    async def process(
        self,
        task: baton_pb2.Task,
        unreadable: C1UnreadableTaskError | None = None,
        *,
        report_retrying: Callable[[int], None] | None = None,
    ) -> None:
        """Run and report one task. Never raises, except CancelledError when this coroutine itself is cancelled
        (after the task was reported or its loss logged).

        `unreadable`: the task did not decode; `task` holds only its id. It is reported failed, not run.
        `report_retrying`: called (once) when the task's report failed and is to be tried again: its work is done,
        and the caller may give the task's slot to the next task (`Scheduler`). It is given the bytes the report holds
        (its response and annotations, and its failure's message); the task itself is no longer held (`_Reporting`)."""
        kind = (unreadable.task_type if unreadable else task.WhichOneof("task_type")) or "unknown"
        problem = _id_problem(task.id, kind)
        if problem is not None:
            # Nothing ran, and a FinishTask with this id would be refused: the log line is the only trace (and the
            # `not_run` count, for every copy).
            level = log.error if await self._first_refusal(task, kind) else log.debug
            level(
                "invalid task from ConductorOne; not executed, cannot be reported",
                problem=problem,
                task_id=loggable_task_id(task.id),
                task_type=kind,
            )
            self._refused(kind)
            return
        running = self._active.get(task.id)
        if running is not None:
            if await _same_work(running, task):
                # Once per running task: ConductorOne may re-offer it at every poll (10 a second at the idle pace),
                # and a line each time flooded the log for as long as the task ran.
                level = log.debug if task.id in self._redelivered else log.warning
                if task.id in self._active:  # still running: it may have ended while the copy's digest was made
                    self._redelivered.add(task.id)
                level("task delivered again while it is still running; ignoring the copy", task_id=task.id)
            else:
                # Another task under a running task's id: the one FinishTask that id gets is the running task's.
                level = log.error if await self._first_refusal(task, kind) else log.debug
                level(
                    "task id reused by a different task while the first still runs; not executed, cannot be reported",
                    task_id=task.id,
                    task_type=kind,
                    running_task_type=_kind_of(running),
                )
                self._refused(kind)
            return
        task_id, target = task.id, task_target(task, kind)
        # From here `_active` alone holds the task, and lets it go once only its report is left (`_process`).
        self._active[task_id] = task
        del task
        started = self._clock()
        label = UNREPORTED
        if self._observer is not None:
            self._observer.task_received(kind)
        try:
            # Bound in the context: every log line of the work below (sync engine, Datadog calls) carries the
            # task id and type, not just the processor's own lines.
            with structlog.contextvars.bound_contextvars(task_id=task_id, task_type=kind, **target):
                label, cancelled_here = await self._process(task_id, kind, started, unreadable, report_retrying)
        finally:
            del self._active[task_id]
            self._redelivered.discard(task_id)
            if not task_id:
                # A hello task may come without an id (`_id_problem`): nothing can name it again, so an unreported one
                # is counted for good, and a reported one takes no other off.
                self._unreported_forgotten += label == UNREPORTED
            elif label == UNREPORTED:
                self._unreported[task_id] = None
                self._unreported.move_to_end(task_id)
                if len(self._unreported) > _UNREPORTED_REMEMBERED:
                    self._unreported.popitem(last=False)
                    self._unreported_forgotten += 1
            else:
                self._unreported.pop(task_id, None)
            # In a finally so the in-flight gauge returns to 0 whatever happened above.
            if self._observer is not None:
                self._observer.task_finished(kind, label, self._clock() - started)
        if cancelled_here:
            # Reported; now let whoever cancelled us see the cancellation.
            raise asyncio.CancelledError

    async def _first_refusal(self, task: baton_pb2.Task, kind: str) -> bool:
        """Whether a task that can neither run nor be reported is logged at error: the first time, not the copies
        ConductorOne re-offers (it cannot hear that the task was refused, so it offers it at every poll, 10 a second
        at the idle pace, and each copy was an error line); those are at debug. Told apart by their type (an unreadable
        task's is all that is known of it) and `_work_digest`, made off the event loop: a copy whose `status` differs
        is the same refused task."""
        digest = hashlib.sha256(kind.encode() + b"\0" + await _digest_off_the_loop(task)).digest()
        if digest in self._refusals_told:
            self._refusals_told.move_to_end(digest)
            return False
        self._refusals_told[digest] = None
        if len(self._refusals_told) > _REFUSALS_REMEMBERED:
            self._refusals_told.popitem(last=False)
        return True

    def _refused(self, kind: str) -> None:
        # Counted, or the alert on tasks that did not succeed would never see them: the log line was their only trace.
        if self._observer is not None:
            self._observer.task_refused(kind)

    async def _process(
        self,
        task_id: str,
        kind: str,
        started: float,
        unreadable: C1UnreadableTaskError | None,
        report_retrying: Callable[[int], None] | None,
    ) -> tuple[str, bool]:
        """The outcome's label, and whether this coroutine was cancelled meanwhile (re-raised once reported)."""
        if kind == "hello":
            return ("success" if await self._answer_hello(task_id) else UNREPORTED), False
        task = self._active[task_id]
        assert isinstance(task, baton_pb2.Task)
        log.info("task started")
        cancelled_here = False
        if unreadable is not None:
            # The same bytes will never decode here: not retryable, so ConductorOne does not offer them for ever.
            outcome = Outcome(
                failure=Failure(
                    Code.INVALID_ARGUMENT,
                    f"malformed task: it could not be decoded ({unreadable.problem}); not run",
                    True,
                )
            )
        elif kind == "unknown":
            # A task type newer than our protos decodes as no payload (its field is unknown to us), the same as an
            # unset one: docs/spec/service-mode.md §0.2 (item 8) answers "anything unknown" as Go does, UNKNOWN and
            # retryable, so ConductorOne may hand it to a connector version that knows it.
            log.warning("task without a payload this connector knows; reported unsupported")
            outcome = Outcome(failure=Failure(Code.UNKNOWN, UNSUPPORTED, False))
        else:
            outcome, cancelled_here = await self._run(kind, task)
            if outcome.failure is None and outcome.undo is not None and _report_bytes(outcome) > MAX_REPORT_BYTES:
                outcome, cancelled = await self._undone_as_too_large(outcome)
                cancelled_here = cancelled_here or cancelled
        seconds = self._clock() - started
        if outcome.failure is None:
            log.info("task succeeded", seconds=round(seconds, 3))
        else:
            # A failed revoke leaves access ConductorOne wants gone in place, a failed `delete_resource` (how it
            # revokes an issued credential, docs/spec/credentials.md §3.4) a live credential, and a failed account
            # disable (offboarding) an account with all its access: the security engineer's line, at error.
            revoke = kind in ("revoke", "delete_resource") or (
                kind == "action_invoke" and self._handlers.disables_account(task.action_invoke.name)
            )
            (log.error if revoke else log.warning)(
                "task failed",
                code=outcome.failure.code.name,
                error=outcome.failure.message,
                non_retryable=outcome.failure.non_retryable,
                seconds=round(seconds, 3),
                **(_left_live(task, kind, maybe=outcome.failure.may_have_taken_effect) if revoke else {}),
            )
        del task  # `_active` holds it until only its report is left (`reporting`)
        # Fitted now, so what is held while the report is retried is what is sent (a response over the limit, dropped
        # from the report, was held until it ended).
        outcome = _fitted(outcome)

        async def reporting(report_bytes: int) -> None:
            # Only the report is left to do: the caller weighs the report instead (`Scheduler`), at once, as the
            # report is refused (its slot and the task's bytes given back in this turn of the loop: waiting for the
            # digest, polling waited with slots free); of the task, only what tells a copy ConductorOne re-offers is
            # kept, once its digest is made.
            if report_retrying is not None:
                report_retrying(report_bytes)
            held = self._active[task_id]
            if isinstance(held, baton_pb2.Task):
                digest = await _digest_off_the_loop(held)
                del held
                self._active[task_id] = _Reporting(kind, digest)

        reported, delivered = await self._report(task_id, outcome, reporting)
        # Counted as ConductorOne sees it: a success whose report was given up is no success there, and one whose
        # report had to be turned into a failure (`_deliver`) is that failure.
        return (reported.label if delivered else UNREPORTED), cancelled_here

    async def _run(self, kind: str, task: baton_pb2.Task) -> tuple[Outcome, bool]:
        """The handler's outcome, and whether this coroutine itself (not just the handler) was cancelled."""
        key = order_key(task, kind, self._handlers.connector)
        before = self._earlier(key)
        dispatched = asyncio.Event()
        undone: list[str] = []  # what the handler, stopped, took back (`undone_on_stop`)
        work = asyncio.create_task(self._in_turn(before, kind, task, dispatched, undone), name=f"task {task.id}")
        self._work[task.id] = work
        if key is not None and key[1] is None:
            self._on_every.setdefault(key[0], {})[task.id] = work
        elif key is not None:
            self._last_on_access[key] = (task.id, work)
        cancelled_here = False
        try:
            # wait(), not `await work`: it raises only when this coroutine itself is cancelled, never the work's
            # own exception or cancellation (abandon_all), which are read from the finished task below.
            await asyncio.wait((work,))
        except asyncio.CancelledError:
            cancelled_here = True
            if not work.done():
                work.cancel()
                with contextlib.suppress(BaseException):
                    await work
        finally:
            self._work.pop(task.id, None)
            if key is not None and key[1] is None:
                under_way = self._on_every[key[0]]
                del under_way[task.id]
                if not under_way:
                    del self._on_every[key[0]]
            elif key is not None and self._last_on_access.get(key, (None, None))[1] is work:
                del self._last_on_access[key]
        if work.cancelled():
            return self._abandoned(kind, started=dispatched.is_set(), undone=undone), cancelled_here
        # Also when we were cancelled just after the handler ended (in the loop turn before we resumed): what it
        # did (a credential minted, a grant applied) is what gets reported, not a made-up "stopped mid-way".
        return self._outcome_of(kind, work), cancelled_here

    def _earlier(self, key: OrderKey | None) -> list[tuple[str, asyncio.Task[Outcome]]]:
        """The handlers a task of `key` waits for, each started before it (so no wait is ever circular): the latest of
        its key and every `EVERY_RESOURCE` one of its scope under way; for an `EVERY_RESOURCE` key, the latest of each
        key of its scope. None of them waits for a task handed out later, so each wait ends with tasks it can name."""
        if key is None:
            return []
        scope, ids = key
        if ids is None:
            return [latest for other, latest in self._last_on_access.items() if other[0] == scope]
        latest = self._last_on_access.get(key)
        return ([latest] if latest is not None else []) + list(self._on_every.get(scope, {}).items())

    async def _undone_as_too_large(self, outcome: Outcome) -> tuple[Outcome, bool]:
        """A success whose response is all ConductorOne would get of what it made (an issued credential), too large
        to report: `_fitted` would send the success without it, and what was made would stay live with no one
        holding it. It is undone instead and the task fails; the bool says whether this coroutine was cancelled."""
        assert outcome.undo is not None
        cancelled = False
        try:
            undone = await _take_back(outcome.undo)
        except asyncio.CancelledError:
            undone, cancelled = outcome.undo.done, True
        return _too_large_failure(outcome, MAX_REPORT_BYTES, undone=undone), cancelled

    def _abandoned(self, kind: str, *, started: bool, undone: Sequence[str] = ()) -> Outcome:
        """The failure of a task stopped before its handler ended; one whose handler had not started (it waited for an
        earlier task on its key, `_in_turn`) did nothing, and ConductorOne may retry it whatever its kind. `undone`:
        what the handler, stopped, took back and says so (`undone_on_stop`)."""
        reason = self._abandon_reason or "task cancelled"
        if kind in NOT_REPLAYABLE and started and undone:
            # What it made was taken back, confirmed (an issuance's credential deleted again): "may have been made all
            # the same: check it there" sent someone to look for a credential Datadog had deleted.
            failure = Failure(
                Code.UNAVAILABLE, f"{reason}; stopped mid-way, and {undone[-1]}; not to be retried as is", True
            )
        elif kind in NOT_REPLAYABLE and started:
            # An issuance's create may have landed with the cleanup by name cut short by the same stop: a live
            # credential nobody holds. "Stopped mid-way, so not to be retried as is" alone said nothing of it, where a
            # grant stopped the same way says its change may have been made.
            failure = Failure(Code.UNAVAILABLE, f"{reason}; {STOPPED_MID_WRITE}; not to be retried as is", True)
        elif kind in PROVISIONING_TASKS and started:
            # Stopped mid-way, a change it had sent may have been made (a revoke's DELETE that landed while its answer
            # was on the way): said as "shutting down" alone, the failure read as "nothing was changed", though the
            # one-shot run says the same stop "may already have reached" the upstream system. Still retryable: what
            # is left of these tasks is safe to repeat (a grant, a revoke), and a repeat reports what it finds.
            failure = Failure(Code.UNAVAILABLE, f"{reason}; {STOPPED_MID_WRITE}; ConductorOne may retry it", False)
        else:
            failure = Failure(Code.UNAVAILABLE, f"{reason}; ConductorOne may retry it", False)
        return Outcome(failure=failure)

    def _outcome_of(self, kind: str, work: asyncio.Task[Outcome]) -> Outcome:
        """The outcome of a handler that ended (not cancelled): its own, or the failure its exception maps to."""
        exc = work.exception()
        if exc is None:
            return work.result()
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise exc
        # BaseException, not Exception: a native library's panic (pyo3's PanicException) is a BaseException,
        # and it must end as a reported failure like any other bug, not escape the processor unreported.
        unexpected = not isinstance(exc, TaskError | ConnectorError | TimeoutError | C1Error)
        if unexpected:
            # Unexpected: the wire gets the terse text, the log gets the (redacted) traceback.
            log.error("task handler raised an unexpected error", error_type=type(exc).__name__, exc_info=exc)
        failure = failure_from(
            exc, provisioning=kind in PROVISIONING_TASKS, retry_transient=kind in RETRIED_IF_TRANSIENT
        )
        if kind in PROVISIONING_TASKS and (unexpected or isinstance(exc, TimeoutError)):
            # A grant timed out on its second write, or a bug after its first: "the task timed out" alone read as
            # nothing done, as a stop's "shutting down" did (`_abandoned`).
            failure = replace(failure, message=f"{failure.message}; {FAILED_MID_WRITE}")
        return Outcome(failure=failure)

    async def _in_turn(
        self,
        before: list[tuple[str, asyncio.Task[Outcome]]],
        kind: str,
        task: baton_pb2.Task,
        dispatched: asyncio.Event,
        undone: list[str],
    ) -> Outcome:
        """The handler, once the earlier tasks on the same access (`before`, `_earlier`) have ended. Run side by side, a
        revoke handed out right after a grant found nothing to remove yet ("already revoked"), then the grant's add
        landed: the access stayed, reported revoked (and an enable and a disable of one user ended as whichever request
        arrived last). Waiting is bounded by the earlier tasks' own bounds, and a task abandoned while it waits has
        done nothing (reported retryable, an issuance too: `dispatched` is set only once its handler starts)."""
        pending = [(task_id, work) for task_id, work in before if not work.done()]
        if pending:
            log.info(
                "waiting for an earlier task on the same access",
                earlier_task_id=pending[0][0],
                **({"earlier_tasks": len(pending)} if len(pending) > 1 else {}),
            )
            await asyncio.wait([work for _, work in pending])
        dispatched.set()
        with noting_undone_on_stop(undone):
            return await self._dispatch(kind, task)

    async def _dispatch(self, kind: str, task: baton_pb2.Task) -> Outcome:
        h = self._handlers
        if kind == "sync_full":
            # §3.8: a debugged task's own log lines go up after its c1z. The keyword only then: a full-sync handler
            # of two arguments (a wrapper's, a test's) serves every task that is not debugged as before.
            if task.debug:
                return await self._full_sync.run(task.id, task.sync_full, debug=True)
            return await self._full_sync.run(task.id, task.sync_full)
        if kind == "grant":
            return await h.grant(task.grant)
        if kind == "revoke":
            return await h.revoke(task.revoke)
        if kind == "create_account":
            return await h.create_account(task.create_account)
        if kind == "delete_resource":
            return await h.delete_resource(task.delete_resource)
        if kind == "issue_credential":
            return await h.issue_credential(task.id, task.issue_credential)
        if kind == "create_resource":
            return await h.create_resource(task.create_resource)
        if kind == "rotate_credentials":
            return await h.rotate_credentials(task.rotate_credentials)
        if kind == "action_invoke":
            return await h.invoke_action(task.action_invoke)
        if kind == "action_status":
            return await h.action_status(task.action_status)
        if kind in action_schemas.TASK_TYPES:
            return await action_schemas.answer(h.connector, task)
        raise TaskError(Code.UNKNOWN, UNSUPPORTED, non_retryable=False)

    async def _answer_hello(self, task_id: str) -> bool:
        """Whether ConductorOne took the Hello that answers the task. A passing failure is tried again under the report
        policy, bounded (the Hello is the task's only acknowledgement: tried once, a brief outage lost it)."""
        # A Hello out and unanswered when cut (the stop deadline, a cancel), or one that failed any way but a refusal
        # (`C1Error.may_have_landed`, `answer_lost`): it may have landed, and ConductorOne then holds the task's
        # acknowledgement after all. Said as a lost report says it.
        out_unanswered = sent_unanswered = False

        def awaiting(now: bool) -> None:
            nonlocal out_unanswered
            out_unanswered = now

        def landing() -> dict[str, bool]:
            return {"may_have_landed": True} if out_unanswered or sent_unanswered else {}

        try:
            backoff = Backoff(self._finish_retry)
            while True:
                try:
                    # Held to the stop deadline as a report is: a Hello awaiting its answer ran on until the drain
                    # cancelled it, and the task's one trace, the line below, came a second after the deadline, when
                    # the pod's kill may already have come.
                    hello = functools.partial(self._hello, task_id, awaiting)
                    if not await self._attempt(hello, retry=backoff.failures > 0):
                        log.error(
                            "hello task not answered",
                            reason="no answer before the stop deadline",
                            task_id=task_id,
                            **landing(),
                        )
                        return False
                    break
                except C1Error as exc:
                    sent_unanswered = sent_unanswered or exc.may_have_landed
                    if isinstance(exc, C1UnreadableAnswerError):
                        # ConductorOne took the Hello and answered it; only the answer could not be read. Sent again
                        # and again, it ended "not answered" though ConductorOne had it from the first.
                        log.warning(
                            "hello task's Hello taken by ConductorOne; its answer could not be read", error=str(exc)
                        )
                        break
                    if report_verdict(exc) is Verdict.ACCEPTED:
                        # ALREADY_EXISTS: the task's acknowledgement is on record (an earlier Hello of it landed, its
                        # answer lost), as the report table reads it of a FinishTask. Taken for a passing failure, the
                        # Hello was sent four more times and the task ended "not answered".
                        log.info("hello task's Hello already on record at ConductorOne", error=str(exc))
                        break
                    # What a report retries, the Hello does too (bounded): a token endpoint refusing one refresh (a 400
                    # or a 401 mid-run, a clock step, credentials being rotated) ended the task unanswered at once.
                    if not isinstance(exc, C1TransientError) and report_verdict(exc) is not Verdict.RETRY:
                        raise
                    delay = backoff.next_delay(exc.retry_after)
                    if delay is None:
                        raise
                    # Said before the wait, as a report's retry is: said after it, a wait of ConductorOne's asking (up
                    # to minutes) passed without a word of why the task was not answered yet.
                    log.warning("hello task's Hello failed; retrying", retry_in_seconds=round(delay, 3), error=str(exc))
                    if not await self._wait_before_retry(delay):
                        # The stop came before the retry could: ConductorOne refused nothing for good (it said so of a
                        # passing failure), and the line blamed it ("did not take the Hello"), where a report given up
                        # the same way says the connector is shutting down.
                        log.error(
                            "hello task not answered",
                            reason="the connector is shutting down",
                            error=str(exc),
                            task_id=task_id,
                            **landing(),
                        )
                        return False
            log.info("hello task answered")
            return True
        except asyncio.CancelledError:
            # Stopped (a straggler the drain cancels) before ConductorOne answered: there is no FinishTask to
            # give up on, so this line is the only trace of the task (it ended without a word).
            log.error(
                "hello task not answered",
                reason="cancelled before ConductorOne answered",
                task_id=task_id,
                **landing(),
            )
            raise
        except C1Error as exc:
            # The Hello is the task's one acknowledgement (§3.4: Go only logs its failure): this line is the only trace
            # of a task ConductorOne handed out and never heard back about, so at error like a report given up.
            log.error(
                "hello task not answered",
                reason="ConductorOne did not take the Hello",
                error=str(exc),
                task_id=task_id,
                **landing(),
            )
        except Exception as exc:
            log.error("hello task not answered", error_type=type(exc).__name__, exc_info=exc)
        return False

    async def _report(
        self, task_id: str, outcome: Outcome, report_retrying: Callable[[int], Awaitable[None]] | None
    ) -> tuple[Outcome, bool]:
        """FinishTask of an outcome `_fitted` made, until accepted, known gone, or stopped; anything but acceptance is logged at error, and a
        success that leaves something live only the report hands over is undone (`Outcome.undo`); an accepted
        success runs its `Outcome.on_accepted`. The outcome as reported (`_deliver` may have turned it into a
        failure), and whether it was accepted."""
        reported, delivered = await self._deliver(task_id, outcome, report_retrying)
        if not delivered and reported.failure is None and reported.undo is not None:
            await _take_back(reported.undo)
        if delivered and reported.failure is None and reported.on_accepted is not None:
            reported.on_accepted()
        return reported, delivered

    async def _deliver(
        self, task_id: str, outcome: Outcome, report_retrying: Callable[[int], Awaitable[None]] | None
    ) -> tuple[Outcome, bool]:
        """FinishTask until accepted (True), known gone or stopped (False, logged at error); with the outcome as last
        sent (fitted to the limits, or the failure a success ConductorOne refuses as too large became).
        `report_retrying` is called before the first retry, with the bytes the report holds (`process`)."""
        backoff = Backoff(self._finish_retry, bounded=False)
        gone_answers = 0
        # FinishTasks sent, the one awaiting its answer included: the loss line must say whether ConductorOne may have
        # the report after all (an attempt it never answered may have landed), not count only the failed ones.
        attempts = 0
        last_error = ""
        asked: float | None = None  # the retry delay ConductorOne's last refusal asked for (RetryInfo)
        sent_unanswered = False  # an attempt that went out and was never answered (`C1Error.may_have_landed`)
        # The attempt under way went out and awaits its answer (`BatonServiceClient.finish_task`'s `awaiting`): cut at
        # the stop deadline or cancelled then, it may have landed all the same (a FinishTask answered OK after a long
        # delay), as one that timed out may have. An attempt still waiting for its token never went out.
        out_unanswered = False

        def awaiting(now: bool) -> None:
            nonlocal out_unanswered
            out_unanswered = now

        try:
            while True:
                try:
                    attempts += 1
                    sent = await self._attempt(
                        functools.partial(self._finish, task_id, outcome, awaiting), retry=attempts > 1
                    )
                    if not sent:
                        self._lost(
                            task_id,
                            outcome,
                            attempts,
                            "no answer before the stop deadline",
                            "the connector is shutting down",
                            may_have_landed=sent_unanswered or out_unanswered,
                        )
                        return outcome, False
                except C1Error as exc:
                    last_error, asked = str(exc), exc.retry_after
                    smaller = self._smaller(outcome, exc)
                    if smaller is not None:
                        # The same bytes would be refused for good (the report retried, its slot held, until the
                        # process stopped): what does not fit is dropped, as for our own limit, and the rest sent.
                        log.warning("task report refused as too large; sending what fits", error=last_error)
                        outcome = smaller
                        continue
                    if isinstance(exc, C1RequestTooLargeError) and outcome.failure is None and outcome.undo is not None:
                        # A success only its response hands over (an issued credential) cannot be sent without it,
                        # and ConductorOne refuses these bytes for good: retried, the report held its task slot until
                        # the process stopped, ConductorOne heard nothing, and the credential stayed live with nobody
                        # holding it. Taken back now and reported failed, as one over our own limit is.
                        log.warning(
                            "task report refused as too large; taking back what only it hands over",
                            error=last_error,
                            undoing=outcome.undo.what,
                        )
                        undone = await _take_back(outcome.undo)
                        limit = max(exc.limit - REPORT_ROOM_BYTES, 0)
                        outcome = _fitted(_too_large_failure(outcome, limit, undone=undone), limit)
                        continue
                    verdict = report_verdict(exc)
                    if verdict is Verdict.ACCEPTED and isinstance(exc, C1UnreadableAnswerError):
                        # Taken (gRPC's OK came with an answer that does not decode): a peer's misbehaviour worth a look.
                        log.warning("task report taken by ConductorOne; its answer could not be read", error=last_error)
                        return outcome, True
                    if verdict is Verdict.ACCEPTED:
                        log.info("task report already on record at ConductorOne", error=last_error)
                        return outcome, True
                    gone_answers = gone_answers + 1 if verdict is Verdict.GONE else 0
                    # Sent and not known refused (timed out, lost under way: `C1Error.may_have_landed`, `answer_lost`):
                    # it may have landed, and the task then left the queue (a finished task does), so "gone" can be
                    # ConductorOne holding this very report.
                    sent_unanswered = sent_unanswered or exc.may_have_landed
                    if gone_answers >= GONE_CONFIRMATIONS:
                        self._lost(
                            task_id,
                            outcome,
                            attempts,
                            last_error,
                            "ConductorOne no longer takes it",
                            may_have_landed=sent_unanswered,
                        )
                        return outcome, False
                else:
                    if attempts > 1:
                        log.info("task reported after retries", attempts=attempts)
                    return outcome, True
                delay = backoff.next_delay(asked)
                assert delay is not None  # an unbounded Backoff always answers
                if report_retrying is not None:
                    retrying, report_retrying = report_retrying, None  # once: the caller gives the task's slot back
                    await retrying(_held_bytes(outcome))
                log.warning(
                    "task report failed; retrying",
                    attempt=attempts,
                    retry_in_seconds=round(delay, 3),
                    error=last_error,
                )
                if not await self._wait_before_retry(delay):
                    self._lost(
                        task_id,
                        outcome,
                        attempts,
                        last_error,
                        "the connector is shutting down",
                        may_have_landed=sent_unanswered,
                    )
                    return outcome, False
        except asyncio.CancelledError:
            # Out and unanswered, or not sent yet (waiting for its token, or for the retry's delay): said as it was.
            error = "cancelled while a FinishTask awaited its answer" if out_unanswered else last_error or "cancelled"
            # Cancelled while taking back a success ConductorOne refused as too large, the undo may have done it.
            undone = outcome.undo is not None and outcome.undo.done
            self._lost(
                task_id,
                outcome,
                attempts,
                error,
                "the report was cancelled",
                undone=undone,
                may_have_landed=sent_unanswered or out_unanswered,
            )
            raise
        except Exception as exc:
            log.error(
                "task not reported to ConductorOne",
                task_id=task_id,
                outcome=outcome.label,
                reason="unexpected error while reporting",
                error_type=type(exc).__name__,
                exc_info=exc,
            )
            return outcome, False

    @staticmethod
    def _smaller(outcome: Outcome, refusal: C1Error) -> Outcome | None:
        """The outcome fitted to the message limit ConductorOne refused it as over, when that leaves it smaller; None
        otherwise. Not for a success only its report hands over (`Outcome.undo`: an issued credential): without its
        response nobody would hold what was made, so `_deliver` takes that back and reports the failure instead."""
        if not isinstance(refusal, C1RequestTooLargeError) or (outcome.failure is None and outcome.undo is not None):
            return None
        smaller = _fitted(outcome, max(refusal.limit - REPORT_ROOM_BYTES, 0))
        return smaller if _report_bytes(smaller) < _report_bytes(outcome) else None

    async def _attempt(self, call: Callable[[], Awaitable[object]], *, retry: bool) -> bool:
        """One FinishTask, or a hello task's Hello; False when the stop deadline cut it short (see
        LAST_ATTEMPT_SECONDS). Without that bound a stalled ConductorOne held a shutdown for the call's own deadline
        (30 s, more with a token fetch), past the pod's kill, and the task's loss was never logged. The bound also
        reaches an attempt begun before stopping (`stop_reporting_within` reschedules its window): one awaiting its
        answer then ran on until the drain cancelled it, too late for `Outcome.undo`, and an issued credential stayed
        live with nobody holding it."""
        window = asyncio.timeout_at(self._window_end(retry=retry))
        try:
            async with window:
                self._windows.add(window)
                try:
                    await call()
                finally:
                    self._windows.discard(window)
        except TimeoutError:
            if window.expired():
                return False
            raise
        return True

    def _window_end(self, *, retry: bool = False) -> float | None:
        """When an attempt awaiting its answer is cut (loop time): what is left before the stop deadline, at least
        LAST_ATTEMPT_SECONDS for a first attempt; None (no cut) before stopping. A retry gets no more than what is left:
        begun in the deadline's last second, it ran up to that second past it, into the one the drain leaves an issued
        credential's undo."""
        if self._report_deadline is None:
            return None
        remaining = self._report_deadline - self._clock()
        if not retry:
            remaining = max(remaining, LAST_ATTEMPT_SECONDS)
        return asyncio.get_running_loop().time() + remaining

    async def _finish(self, task_id: str, outcome: Outcome, awaiting: Callable[[bool], None]) -> None:
        """One FinishTask of an outcome as `_fitted` made it; `awaiting` hears whether it is out unanswered."""
        if outcome.failure is None:
            await self._client.finish_task(
                task_id, response=outcome.response, annotations=outcome.annotations, awaiting=awaiting
            )
        else:
            await self._client.finish_task(
                task_id,
                error=status_pb2.Status(code=int(outcome.failure.code), message=outcome.failure.message),
                non_retryable=outcome.failure.non_retryable,
                annotations=outcome.annotations,
                awaiting=awaiting,
            )

    async def _wait_before_retry(self, delay: float) -> bool:
        """Sleep `delay` seconds, cut short by the stop deadline; False, at once, when the retry could only begin at
        the deadline or after it."""
        if self._report_deadline is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            if self._report_deadline is None:
                return True
            # Stopping started while we slept: retry now, within the deadline.
            return self._clock() < self._report_deadline
        remaining = self._report_deadline - self._clock()
        if delay >= remaining:
            # Not slept until the deadline to retry there: an attempt begun at it gets LAST_ATTEMPT_SECONDS (meant for
            # a task whose handler outlived the abandon), so a report retried on a silent ConductorOne ran a second
            # past the deadline, and an issued credential's undo, which has that second, was cancelled by the drain
            # and left live. Given up now, the undo has the time that was left.
            return False
        await asyncio.sleep(delay)
        return True

    def _lost(
        self,
        task_id: str,
        outcome: Outcome,
        attempts: int,
        error: str,
        reason: str,
        *,
        undone: bool = True,
        may_have_landed: bool = False,
    ) -> None:
        failure = outcome.failure
        extra: dict[str, str | bool] = {}
        if failure is None and outcome.undo is not None:
            # Only the report would have handed it over: say what is live, and whether it is taken back now (or may have
            # been: its deletion's answer lost, `Undo.may_be_done`).
            left = "may_be_live" if outcome.undo.may_be_done else "left_live"
            extra[left if not undone else "undoing"] = outcome.undo.what
        if may_have_landed:
            # An attempt went unanswered (timed out, lost under way as `answer_lost` reads grpc's words, or cut by the
            # stop deadline or a cancel) and may have landed:
            # ConductorOne may show this outcome after all (and an issued credential as issued, though it is deleted
            # now). The operator is told to look, not that ConductorOne never heard of it.
            extra["may_have_landed"] = True
        log.error(
            "task not reported to ConductorOne",
            task_id=task_id,
            reason=reason,
            outcome=outcome.label,
            code=failure.code.name if failure else "OK",
            task_error=failure.message if failure else "",
            attempts=attempts,
            error=error,
            **extra,
        )
