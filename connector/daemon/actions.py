"""One-shot provisioning (baton-sdk's `--grant-entitlement`, `--revoke-grant`, `--create-account-email`,
`--invoke-action`, `--delete-resource`): an admin tests an access change without ConductorOne.

Each flag becomes the Task ConductorOne would send and runs through the service's own task handlers
(connector/baton/tasks/handlers.py), so what works here works there. The outcome is one line on stdout.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Sequence
from typing import NoReturn

import structlog
from google.protobuf import json_format

from connector.baton import builders as b
from connector.baton.annotations import has
from connector.baton.errors import Code, ConnectorError, InvalidPrincipalError
from connector.baton.pb.c1.connector.v2 import (
    action_pb2,
    annotation_grant_pb2,
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.printable import printable
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.outcome import Outcome, TaskError
from connector.daemon import outcome
from connector.daemon.main import fail
from connector.daemon.oneshot import cancel_on_signal, datadog_options, keep_the_outcome, open_datadog_client
from connector.daemon.settings import Settings, SettingsError, action_arguments, flag, named
from connector.datadog.connector import DatadogConnector
from connector.datadog.credentials import deletions_found
from connector.datadog.errors import DatadogError
from connector.datadog.idrules import holds_whitespace, is_email_address
from connector.datadog.keyshape import KEY_SHAPE, holds_key_shape, shown_value
from connector.datadog.resources import types
from connector.datadog.resources.keys import parse_sat_handle

log = structlog.get_logger(__name__)

# A refusal of what was asked (wrong id, unknown type or action) is the operator's mistake: exit 2 like a bad
# setting. What Datadog answered (even a 400) is a runtime failure: exit 1.
_INPUT_MISTAKES = (Code.INVALID_ARGUMENT, Code.UNIMPLEMENTED, Code.FAILED_PRECONDITION)


class ActionFailed(Exception):
    """The action ran and failed; the message is safe to print (built from our own error types)."""


def _bad(field_name: str, message: str) -> SettingsError:
    return SettingsError(f"{named(field_name)}: {message}")


def parse_entitlement_id(value: str) -> tuple[str, str, str]:
    """`<resource type>:<resource id>:<slug>` (the Go SDK's entitlement id) → its three parts.

    Datadog's ids never hold a colon (see `parse_grant_id`), so a value of more parts is some other id pasted.
    """
    parts = value.strip().split(":")
    if len(parts) == 5 and all(parts):
        raise _bad(
            "grant_entitlement",
            f"{shown_value(value)} is a grant id, not an entitlement id: grant {shown_value(':'.join(parts[:3]))} to "
            f"{shown_value(parts[4])} "
            "(or revoke it with --revoke-grant)",
        )
    if len(parts) != 3 or not all(parts):
        raise _bad(
            "grant_entitlement",
            f"{shown_value(value)} is not an entitlement id (expected <resource type>:<resource id>:<slug>)",
        )
    return parts[0], parts[1], parts[2]


def parse_grant_id(value: str) -> tuple[tuple[str, str, str], str, str]:
    """`<resource type>:<resource id>:<slug>:<principal type>:<principal id>` → (entitlement, principal type, id).

    Datadog's ids (UUIDs, numbers, handles without ':') never hold a colon, so the five parts are unambiguous.
    """
    parts = value.strip().split(":")
    if len(parts) != 5 or not all(parts):
        raise _bad(
            "revoke_grant",
            f"{shown_value(value)} is not a grant id "
            "(expected <resource type>:<resource id>:<slug>:<principal type>:<principal id>)",
        )
    return (parts[0], parts[1], parts[2]), parts[3], parts[4]


def _no_key(field_name: str, *ids: str) -> None:
    """Refuse an id that has the shape of a Datadog key: the key itself, pasted where its id or a user's goes (the
    admin deleting a leaked key holds the key, not its id). Sent, it was echoed in the request's URL, in the log
    line and in the printed answer; an API key given to --delete-resource was even "deleted" (Datadog's 404 for an
    id it has no key of), exit 0, the key still live. A key anywhere in a value counts: with a type in front
    (`user:<the key>`), the whole was no key's shape and the key went into the URL and the error line."""
    if any(holds_key_shape(value) for value in ids):
        raise _bad(
            field_name,
            f"the value has {KEY_SHAPE}, not of an id; it was not sent to Datadog and is not shown. Give the id (a "
            "UUID: `baton-datadog inspect` lists them)",
        )


def _typed_alone(value: str) -> str | None:
    """The id in `value` when it is a typed reference (`user:<id>`, the SDK's `bid:r:user/<id>`), where an operator's
    flag takes a bare id (a Datadog id is a UUID, with neither `:` nor `/`); None when it holds neither. Its caller
    judged the value for a key's shape first (`_no_key`): the part quoted back holds none."""
    if ":" not in value and "/" not in value:
        return None
    return value.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def _no_email(field_name: str, value: str) -> None:
    """Refuse an email address given as a user's id (`is_email_address`), naming what to give instead."""
    if is_email_address(value):
        raise _bad(
            field_name,
            f"{shown_value(value.strip())} is an email address, not a Datadog user id: give the user's id "
            "(a UUID; `baton-datadog inspect --resources user` lists them with their names)",
        )


def _entitlement(rtype: str, rid: str, slug: str) -> entitlement_pb2.Entitlement:
    resource = resource_pb2.Resource(id=b.resource_id(rtype, rid))
    return entitlement_pb2.Entitlement(resource=resource, id=f"{rtype}:{rid}:{slug}", slug=slug)


# The flags that name what an action acts on, each judged whole by `_no_key` before it is parsed: a key in a part no
# per-part check looked at (a type, a slug) went to Datadog and into the error line, and one in a value that does not
# parse was quoted by the parse error ("'<the key>' is not a grant id").
_NAMING_FLAGS = (
    "grant_entitlement",
    "grant_principal",
    "grant_principal_type",
    "revoke_grant",
    "invoke_action",
    "delete_resource",
    "delete_resource_type",
)


def build_task(settings: Settings) -> baton_pb2.Task:
    """The Task ConductorOne would send for the one-shot action in `settings` (a SettingsError if malformed)."""
    for name in _NAMING_FLAGS:
        _no_key(name, getattr(settings, name))
    task = baton_pb2.Task()
    if settings.grant_entitlement:
        rtype, rid, slug = parse_entitlement_id(settings.grant_entitlement)
        principal_type = settings.grant_principal_type.strip()
        if not principal_type:
            raise _bad("grant_principal_type", "must not be empty")
        if ":" in settings.grant_principal:
            # `user:<id>` (a resource reference) named no Datadog user, and failed as Datadog's 404, exit 1.
            raise _bad(
                "grant_principal",
                f"{shown_value(settings.grant_principal.strip())} is not a principal id: give the id alone "
                "(its type goes in --grant-principal-type, user by default)",
            )
        _no_email("grant_principal", settings.grant_principal)
        task.grant.entitlement.CopyFrom(_entitlement(rtype, rid, slug))
        task.grant.principal.CopyFrom(
            resource_pb2.Resource(id=b.resource_id(principal_type, settings.grant_principal.strip()))
        )
    elif settings.revoke_grant:
        (rtype, rid, slug), principal_type, principal_id = parse_grant_id(settings.revoke_grant)
        _no_email("revoke_grant", principal_id)
        task.revoke.grant.CopyFrom(
            grant_pb2.Grant(
                id=settings.revoke_grant.strip(),
                entitlement=_entitlement(rtype, rid, slug),
                principal=resource_pb2.Resource(id=b.resource_id(principal_type, principal_id)),
            )
        )
    elif settings.create_account_email:
        profile = {"email": settings.create_account_email.strip()}
        profile |= {"name": settings.create_account_name} if settings.create_account_name else {}
        profile |= {"title": settings.create_account_title} if settings.create_account_title else {}
        info = task.create_account.account_info
        info.emails.add(address=profile["email"], is_primary=True)
        info.profile.update(profile)
    elif settings.invoke_action:
        task.action_invoke.name = settings.invoke_action.strip()
        args = action_arguments(settings.invoke_action_args)
        user = args.get("user_id")  # a string, or the SDK's resource id: {"resource_type_id", "resource_id"}
        _no_key(
            "invoke_action_args",
            *(v for v in (user.values() if isinstance(user, dict) else [user]) if isinstance(v, str)),
        )
        bare = user.get("resource_id", user.get("resource")) if isinstance(user, dict) else user
        if isinstance(bare, str):
            _no_email("invoke_action_args", bare)
            if (alone := _typed_alone(bare.strip())) is not None:
                # `user:<id>` (as a grant id and --sync-resources write it) or the SDK's `bid:r:user/<id>` went to
                # Datadog as the id: its 404 failed the action, exit 1, naming an id no one had meant.
                raise _bad(
                    "invoke_action_args",
                    f"user_id {shown_value(bare.strip())} is not a bare user id: give the id alone, "
                    f"{shown_value(alone)}",
                )
        # Set even when empty, as the SDK's CLI sends the Struct it parsed: the handler refuses an invocation without
        # args in Go's words ("args required").
        task.action_invoke.args.SetInParent()
        task.action_invoke.args.update(args)
    elif settings.delete_resource:
        rtype, value = settings.delete_resource_type.strip(), settings.delete_resource.strip()
        if rtype != types.SERVICE_ACCOUNT_ACCESS_TOKEN.id and parse_sat_handle(value):
            # Deleted as an API or application key, Datadog's 404 for an id no key has was printed "deleted", exit 0,
            # the token still live.
            raise _bad(
                "delete_resource_type",
                f"the id is a service access token's handle, not an id of type {shown_value(rtype)}: give "
                f"--delete-resource-type {types.SERVICE_ACCOUNT_ACCESS_TOKEN.id}",
            )
        if holds_whitespace(value):
            # No id holds whitespace (a key's is a UUID, a token's handle base64url): a row of `inspect` pasted whole
            # (`<id>  <name>`) went to Datadog as the id, and its 404 was printed "gone from Datadog", exit 0.
            raise _bad(
                "delete_resource",
                f"{shown_value(value)} holds whitespace or an invisible character, which no id does (a table row "
                "pasted whole?): give the id alone",
            )
        if rtype != types.SERVICE_ACCOUNT_ACCESS_TOKEN.id and (alone := _typed_alone(value)) is not None:
            # A key's id is a UUID. With its type in front (`api-key:<id>`, as the deletion's own line, the grant ids
            # and --sync-resources write it, or the SDK's `bid:r:api-key/<id>`) it went to Datadog as the id, whose
            # 404 for an id no key has was printed "gone from Datadog", exit 0, the key still live.
            raise _bad(
                "delete_resource",
                f"{shown_value(value)} is not a bare {printable(rtype[:100])} id: give the id alone, "
                f"{shown_value(alone)} (its type goes in --delete-resource-type)",
            )
        task.delete_resource.resource_id.CopyFrom(b.resource_id(rtype, value))
    else:
        raise SettingsError("no one-shot provisioning action was given")
    return task


async def run_action(settings: Settings) -> int:
    """Run the one-shot action; print what it did. SettingsError for input mistakes, ActionFailed otherwise.

    SIGTERM or SIGINT stops it with a line that says whether Datadog may have been changed: it said "interrupted while
    starting; nothing was written" even with the grant or revoke already sent, so an operator took a change that may
    have landed for one that had not.
    """
    loop = asyncio.get_running_loop()
    what = flag(settings.one_shot_action or "")
    received = cancel_on_signal(what)
    sending = asyncio.Event()  # set once the key check is done and the change itself may go out
    try:
        return await _run_action(settings, sending)
    except asyncio.CancelledError:
        if not received:
            raise
        sig = received[0]
        message = (
            f"interrupted by {sig.name} during {what}: its request may already have reached Datadog; check the "
            "access (a sync, or Datadog itself) before running it again"
            if sending.is_set()
            else f"interrupted by {sig.name} before {what} sent its change; Datadog was not changed"
        )
        log.warning(message, signal=sig.name)
        return fail(message, 128 + int(sig))  # the closing line, as every other
    finally:
        keep_the_outcome(loop)


async def _run_action(settings: Settings, sending: asyncio.Event) -> int:
    task = build_task(settings)
    await check_task(settings, task)
    async with await open_datadog_client(settings) as client:
        connector = DatadogConnector(client, datadog_options(settings))
        await connector.validate()
        sending.set()
        handlers = Handlers(connector, provisioning=settings.provisioning)
        kind = task.WhichOneof("task_type")
        asked = client.stats.total_requests
        try:
            if kind == "delete_resource":
                with deletions_found() as found:
                    await _handle(handlers, task)
                line = _deleted(task.delete_resource, found)
            elif kind == "grant":
                line = _granted(task.grant, await _handle(handlers, task))
            elif kind == "revoke":
                line = _revoked(task.revoke, await _handle(handlers, task))
            elif kind == "create_account":
                line = _created(await _handle(handlers, task))
            else:
                line = _invoked(task.action_invoke, await _handle(handlers, task))
        except TaskError as exc:
            # The connector checks what the operator gave (ids, types, the entitlement's shape) before its first
            # request, and `check_task` ran those checks before the key check; a refusal after Datadog was asked is
            # Datadog's answer (a key it still holds but will not delete, an owner it does not name), not a mistake in
            # a flag. An action's arguments are the exception: Datadog judges update_user's email, and its refusal
            # names --invoke-action-args (README).
            answered = kind != "action_invoke" and client.stats.total_requests > asked
            raise (ActionFailed(_unprefixed(_said(exc))) if answered else _refusal(settings, kind, exc)) from None
        except DatadogError as exc:
            raise ActionFailed(str(exc)) from None
        except ConnectorError as exc:
            raise _refusal(settings, kind, exc) from None
    # Done in Datadog: an output that fails from here fails the run (exit 1), and its line says this was done.
    outcome.record(f"{flag(settings.one_shot_action or '')} was done; its result: {line}")
    print(line)
    return 0


def _handle(handlers: Handlers, task: baton_pb2.Task) -> Awaitable[Outcome]:
    """The service's own handler of the task, as the task processor calls it."""
    kind = task.WhichOneof("task_type")
    if kind == "grant":
        return handlers.grant(task.grant)
    if kind == "revoke":
        return handlers.revoke(task.revoke)
    if kind == "create_account":
        return handlers.create_account(task.create_account)
    if kind == "delete_resource":
        return handlers.delete_resource(task.delete_resource)
    return handlers.invoke_action(task.action_invoke)


def _said(exc: TaskError) -> str:
    # delete_resource wraps the deleter's error in ConductorOne's wire text and keeps it as the cause: the line said
    # "delete-resource failed: error: delete resource failed: baton-datadog: ...". It says the connector's own words,
    # as the other actions' lines do.
    return str(exc.__cause__ if isinstance(exc.__cause__, ConnectorError) else exc)


def _refusal(settings: Settings, kind: str | None, exc: TaskError | ConnectorError) -> Exception:
    """A handler's refusal of the task before Datadog answered anything, as the run says it: a SettingsError naming the
    flag to fix for a mistake in what was asked (`_INPUT_MISTAKES`), an ActionFailed otherwise."""
    if isinstance(exc, TaskError):
        return _classified(settings, exc.code, _said(exc))
    setting = None
    if isinstance(exc, InvalidPrincipalError) and kind == "grant":
        # The principal's type and id are flags of their own: --grant-entitlement was blamed for either.
        setting = "grant_principal_type" if exc.of_type else "grant_principal"
    return _classified(settings, exc.code, str(exc), setting)


class _WouldSend(BaseException):
    """The dry run of `check_task` reached its handler's first Datadog request: every check the handler makes of what
    it was given came before. A BaseException, as a cancellation is, so no `except Exception` of a handler takes it for
    the task's failure."""


class _Unsent:
    """The Datadog client of `check_task`'s dry run: any use of it is the handler's first request, never made."""

    def __getattr__(self, name: str) -> NoReturn:
        raise _WouldSend(name)


# What lets each credential type be deleted (DatadogOptions: the Go connector's flags, docs/credentials.md).
_KEY_FLAGS = "--provisioning, --sync-secrets and --sync-service-account-application-keys"
_DELETION_NEEDS = {
    types.API_KEY.id: "--provisioning, --sync-secrets and --allow-org-api-key-deletion",
    types.SERVICE_ACCOUNT_APP_KEY.id: _KEY_FLAGS,
    types.SERVICE_ACCOUNT_ACCESS_TOKEN.id: _KEY_FLAGS,
}


async def check_task(settings: Settings, task: baton_pb2.Task) -> None:
    """Refuse, before any request (the start-up key check's included) and in the run's own words, a task the settings
    or the action do not allow: `_check_deletable`, `_check_token_handle`, `_check_arguments`, then the service's own
    handler of the task, run on a connector without a client until its first Datadog request (`_Unsent`). A typo'd
    action, a missing `user_id`, a principal of another type, an entitlement its resource does not have or an address
    Datadog cannot email were the handler's to refuse, after the key check had sent both keys, and `config`, which
    runs this, said nothing of them and exited 0. A refusal that is no mistake in the flags is left to the run."""
    connector = DatadogConnector(_Unsent(), datadog_options(settings))  # type: ignore[arg-type]
    if task.HasField("delete_resource"):
        _check_deletable(connector, task.delete_resource.resource_id.resource_type)
        _check_token_handle(task.delete_resource.resource_id)
    if task.HasField("action_invoke"):
        _check_arguments(connector, task.action_invoke)
    try:
        await _handle(Handlers(connector, provisioning=settings.provisioning), task)
    except _WouldSend:
        return
    except (TaskError, ConnectorError) as exc:
        refusal = _refusal(settings, task.WhichOneof("task_type"), exc)
        if isinstance(refusal, SettingsError):
            raise refusal from None


def _check_deletable(connector: DatadogConnector, type_id: str) -> None:
    """Refuse, before any request, a deletion the settings do not allow, naming what would: the handler's answer
    (ConductorOne's wire text, "does not have resource Delete() configured") does not say which flags are missing."""
    if connector.resource_deleter(type_id) is not None:
        return
    needs = _DELETION_NEEDS.get(type_id)
    problem = (
        f"deleting resource type {type_id} needs {needs}"
        if needs
        else f"resource type {shown_value(type_id)} cannot be deleted; the types that can are "
        + ", ".join(_DELETION_NEEDS)
    )
    raise _bad("delete_resource_type", problem)


def _check_token_handle(resource_id: resource_pb2.ResourceId) -> None:
    """A service access token is deleted by its `sat:` handle, as a sync lists it. The token's own id (what Datadog's
    pages show) names no service account, and the deleter's refusal, "malformed service access token handle" (the
    spec's words for ConductorOne), names nothing --help or the README says: the operator is told what the flag
    takes and where a sync lists it. After `_check_deletable`, which names the flags a deletion needs first."""
    if (
        resource_id.resource_type == types.SERVICE_ACCOUNT_ACCESS_TOKEN.id
        and parse_sat_handle(resource_id.resource) is None
    ):
        raise _bad(
            "delete_resource",
            f"{shown_value(resource_id.resource)} is not a service access token's id: give the sat:… id "
            f"a sync lists it under (baton-datadog inspect FILE --resources {types.SERVICE_ACCOUNT_ACCESS_TOKEN.id})",
        )


def _unprefixed(message: str) -> str:
    # The handlers' wire messages carry the connector's name (spec credentials §5), at the start or after the task's
    # own words ("error: delete resource failed: baton-datadog: ..."); the CLI's one line already starts with it.
    return message.removeprefix("baton-datadog: ").replace(": baton-datadog: ", ": ", 1)


def _classified(settings: Settings, code: Code, message: str, setting: str | None = None) -> Exception:
    message = _unprefixed(message)
    if code in _INPUT_MISTAKES:
        action = setting or settings.one_shot_action or "provisioning"
        if action == "invoke_action" and code is Code.INVALID_ARGUMENT:
            # The action's name was checked with the settings: what the action refuses is in its arguments.
            action = "invoke_action_args"
        return SettingsError(f"{named(action)}: {message}")
    return ActionFailed(message)


def _granted(task: baton_pb2.Task.GrantTask, outcome: Outcome) -> str:
    response = outcome.response
    assert isinstance(response, grant_pb2.GrantManagerServiceGrantResponse)
    ids = ", ".join(g.id for g in response.grants) or "none reported"
    principal = f"{task.principal.id.resource_type}:{task.principal.id.resource}"
    if has(outcome.annotations, annotation_grant_pb2.GrantAlreadyExists):
        return f"already granted: {task.entitlement.id} to {principal} (nothing changed; grants: {ids})"
    return f"granted {task.entitlement.id} to {principal} (grants: {ids})"


def _revoked(task: baton_pb2.Task.RevokeTask, outcome: Outcome) -> str:
    if has(outcome.annotations, annotation_grant_pb2.GrantAlreadyRevoked):
        # Datadog answers 404 for access not held and for a role, team or user it does not know alike, and the revoke
        # takes both as done (ConductorOne's revoke of what is gone must not fail): "already revoked" told an admin
        # who mistyped an id that the access was gone while it stayed.
        return (
            f"not in Datadog: {task.grant.id} "
            "(nothing changed: revoked before, or an id Datadog does not know, which it answers the same)"
        )
    return f"revoked {task.grant.id}"


def _deleted(task: baton_pb2.Task.DeleteResourceTask, found: Sequence[bool | None]) -> str:
    # Datadog answers a deletion of what is already gone with 404, which the deleter takes as done (ConductorOne's
    # revoke of a credential must not fail because someone deleted it first). A mistyped id is answered the same:
    # "gone from Datadog" was printed for a well-formed id Datadog never had, as for a key deleted now. What Datadog
    # answered this deletion tells the two apart, with no request more.
    rid = task.resource_id
    named = f"{rid.resource_type}:{rid.resource}"
    if list(found) == [True]:
        return printable(f"deleted from Datadog: {named}")
    if list(found) == [False]:
        return printable(
            f"not in Datadog: {named} (nothing deleted: deleted before, or an id Datadog does not know, which it "
            "answers the same)"
        )
    # A token's revocation answers 204 whether Datadog held the token or not: its success tells nothing more.
    return printable(f"gone from Datadog: {named} (Datadog answers alike whether it held it or not)")


def _check_arguments(connector: DatadogConnector, task: baton_pb2.Task.ActionInvokeTask) -> None:
    """Refuse an argument the action does not take, before any request. The action ran without it: a typo (`nmae`)
    was an update that changed the other fields only, and `{"user_id": ..., "dry_run": true}` disabled the user,
    exit 0. Only here: ConductorOne builds a task's arguments from the action's own schema. An unknown action is the
    handler's to name."""
    manager = connector.action_manager()
    schema = next((s for s in manager.action_schemas() if s.name == task.name), None) if manager else None
    if schema is None:
        return
    takes = [field.name for field in schema.arguments]
    unknown = sorted(name for name in task.args.fields if name not in takes)
    if unknown:
        # A Datadog key pasted as a name is not repeated back, as `_no_key` keeps it out of what is shown.
        shown = [f"(a name with {KEY_SHAPE})" if holds_key_shape(name) else repr(name[:100]) for name in unknown[:5]]
        named = ", ".join(shown) + (" and more" if len(unknown) > 5 else "")
        raise _bad(
            "invoke_action_args",
            f"action {task.name!r} takes no argument {named}; it takes {', '.join(takes)}; nothing was sent",
        )


def _invoked(task: baton_pb2.Task.ActionInvokeTask, outcome: Outcome) -> str:
    # What the action answered (a user's status after disable_user: "Disabled", or what it already was) is the
    # admin's only word on what happened; the line named only what was asked.
    response = outcome.response
    assert isinstance(response, action_pb2.InvokeActionResponse)
    args = json.dumps(json_format.MessageToDict(task.args), sort_keys=True)
    result = json.dumps(json_format.MessageToDict(response.response), sort_keys=True)
    return printable(f"invoked action {task.name!r} with {args}: {result}")  # the result quotes Datadog's words


def _created(outcome: Outcome) -> str:
    response = outcome.response
    assert isinstance(response, resource_pb2.CreateAccountResponse)
    which = response.WhichOneof("result")
    resource = response.action_required.resource if which == "action_required" else response.success.resource
    named = f" ({resource.display_name})" if resource.display_name else ""  # an account made without a name: no "()"
    created = f"created account {resource.id.resource_type}:{resource.id.resource}{named}"
    if which == "action_required":
        created = f"{created}; action required: {response.action_required.message}"
    return printable(created)  # Datadog's id and name for the user, shown on a terminal
