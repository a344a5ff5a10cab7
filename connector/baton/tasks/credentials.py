"""The `issue_credential` and `delete_resource` tasks (docs/spec/credentials.md §3.1-§3.4).

Issuance runs baton-sdk's builder checks in its order with its codes and messages, then the connector's
mint, a self-check of what it returned (§3.3), and encryption to ConductorOne's keys (§2). Every refusal
happens before the mint where the spec allows it; when encryption still fails after the mint, the new
credential is deleted again (`rollback_credential`) so no live key is left behind; so is one whose report the
processor gives up (`Outcome.undo`): ConductorOne never received it. All failures are
final (non-retryable): issuance may have happened, and a replay must never mint twice.

The plaintext lives only between the mint and the encryption: it is never logged, never part of an
error message, and dropped as soon as the ciphertexts exist. The crypto stack is imported only here,
when a credential task runs (issue 12: an idle daemon does not carry it).
"""

from __future__ import annotations

import asyncio
import enum
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog
from google.protobuf import timestamp_pb2

from connector.baton.annotations import type_url
from connector.baton.connector import Connector, CredentialIssuer, IssuedCredential, undone_on_stop
from connector.baton.errors import Code, ConnectorError
from connector.baton.gostrings import go_is_blank
from connector.baton.issuance import REQUEST_ID
from connector.baton.pb.c1.config.v1 import config_pb2
from connector.baton.pb.c1.connector.v2 import annotation_trait_pb2, connector_pb2, resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks.outcome import MAX_REPORT_BYTES, Outcome, TaskError, Undo

if TYPE_CHECKING:
    from connector.baton.crypto.providers import Recipient

log = structlog.get_logger(__name__)

Task = baton_pb2.Task
Option = connector_pb2.CapabilityDetailCredentialOption
Mode = resource_pb2.CredentialResourceMode

MAX_SECRET_TYPE_BYTES = 1024
MAX_ENCRYPTION_CONFIGS = 64
"""ConductorOne sends one or two (a key rotation). Each costs CPU to check and again to encrypt to (both on a worker
thread, which still holds the GIL while Python code runs): ~0.03 ms to check and ~0.25 ms to encrypt to an RSA key, up to ~1.5 ms to check an age1pq1
recipient (its ~1,960 characters of Bech32, decoded in Python) or to encrypt to a P-521 key, ~8 ms to check a JWK of
16 KiB nested past Python's JSON reader; 64 of the costliest kind to encrypt to take ~0.1 s.
Each also takes ~700 bytes of the FinishTask: thousands would stall /healthz and heartbeats for seconds and make a
report ConductorOne refuses as too large (retried until shutdown, the minted key unreported). Refused pre-mint."""
INVALID_REQUEST = "invalid credential issuance request: "
INVALID_OUTPUT = "connector returned invalid credential issuance output: "
NOT_ROLLED_BACK = "; the minted credential could not be deleted again"
ROLLED_BACK = "; the minted credential was deleted again"
"""Said by every failure after a mint whose credential was deleted again: without it, a report of a failure after a
201 did not tell ConductorOne (or the person reading it) whether a live credential was left."""
MAYBE_ROLLED_BACK = "; deleting the minted credential again may have worked (no answer said whether it did)"
"""Said when the deletion failed in a way that may have deleted the credential all the same (the provider's error
says it may have taken effect, `ConnectorError.may_have_taken_effect`: an attempt whose answer was lost, or one
answered with a success status that did not show the deletion): it may have deleted the credential, or not. Not
"its answer was lost", which the second had not been. "Could not be deleted
again" said it was live of a credential Datadog had deleted (a DELETE that landed, then a 503 each time); "could
not" is kept for a deletion the provider refused."""
NO_SUCH_CREDENTIAL = "; deleting the minted credential again was answered that there is no such credential"
"""Said when the provider answered the deletion that it has no such credential (a 404): nothing was deleted, and the
credential minted a moment ago may still be live. Never "was deleted again": only a confirmed deletion is one."""
_NAMED_CHARS = 256
"""The most of a credential's id a failure quotes: a whole SAT handle (~110) fits, a hostile id does not swell it."""
_KINDS = {
    "api_key": Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_API_KEY,
    "keypair": Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_KEYPAIR,
    "token": Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_TOKEN,
    "client_secret": Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_CLIENT_SECRET,
}
_SECRET_TRAIT_URL = type_url(annotation_trait_pb2.SecretTrait)


def _refuse(code: Code, message: str) -> TaskError:
    return TaskError(code, message, non_retryable=True)


def _invalid(message: str) -> TaskError:
    return _refuse(Code.INVALID_ARGUMENT, INVALID_REQUEST + message)


# -- request checks (§3.2 steps 6-11) -------------------------------------------------------------------------


def _select_descriptor(
    details: connector_pb2.CredentialDetailsCredentialIssue, options: resource_pb2.CredentialIssueOptions
) -> connector_pb2.CredentialIssueOptionDescriptor:
    arm = options.WhichOneof("options")
    if arm is None:
        raise _invalid("unsupported credential option")
    kind = _KINDS[arm]
    kind_name = Option.Name(kind)
    same_kind = [d for d in details.options if d.option == kind]
    if not same_kind:
        raise _invalid(f"credential option {kind_name} is not advertised by connector")
    wanted = options.secret_resource_type_id
    if not wanted:
        raise _invalid("credential_options.secret_resource_type_id is required")
    if len(wanted.encode()) > MAX_SECRET_TYPE_BYTES:
        raise _invalid(f"credential_options.secret_resource_type_id must be at most {MAX_SECRET_TYPE_BYTES} bytes")
    for descriptor in same_kind:
        if descriptor.secret_resource_type_id == wanted:
            return descriptor
    produced = ", ".join(f'"{d.secret_resource_type_id}"' for d in same_kind)
    raise _invalid(
        f'credential option {kind_name} does not produce secret resource type "{wanted}"; it produces {produced}'
    )


def _requested_values(options: resource_pb2.CredentialIssueOptions) -> tuple[list[str], list[str]]:
    arm = options.WhichOneof("options")
    if arm == "api_key":
        return list(options.api_key.scopes), []
    if arm == "token":
        return list(options.token.scopes), list(options.token.audiences)
    return [], []


def _check_legacy(values: Sequence[str], advertised: Sequence[str], custom_allowed: bool, what: str) -> None:
    """baton-sdk v0.25 `validateRequestedValues`: non-blank, unique, advertised unless custom ones are allowed."""
    seen: set[str] = set()
    for value in values:
        if go_is_blank(value):
            raise _invalid(f"{what} must not be empty")
        if value in seen:
            raise _invalid(f'duplicate {what} "{value}"')
        seen.add(value)
        if not custom_allowed and value not in advertised:
            raise _invalid(f'{what} "{value}" is not advertised by connector')


def _check_field(values: Sequence[str], field: config_pb2.Field) -> None:
    """A descriptor's explicit `scopes` input field (c1.config.v1 string-slice rules, §3.6/§3.7)."""
    rules = field.string_slice_field.rules
    name = field.name
    if not values and not (field.is_required or rules.is_required or rules.validate_empty):
        return
    if not values and (field.is_required or rules.is_required) and not rules.HasField("min_items"):
        raise _invalid(f"{name} is required")
    if rules.HasField("min_items") and len(values) < rules.min_items:
        raise _invalid(f"{name} must have at least {rules.min_items} item(s)")
    if rules.HasField("max_items") and len(values) > rules.max_items:
        raise _invalid(f"{name} must have at most {rules.max_items} item(s)")
    if rules.unique:
        seen: set[str] = set()
        for value in values:  # one pass: a task may name a great many items
            if value in seen:
                raise _invalid(f'duplicate {name} item "{value}"')
            seen.add(value)
    item = rules.item_rules
    pattern = None
    if item.HasField("pattern"):
        try:
            pattern = re.compile(item.pattern)
        except re.error:
            raise _refuse(Code.INTERNAL, f"the advertised pattern of {name} cannot be evaluated") from None
    for value in values:
        if not value and not (item.validate_empty or item.is_required):
            continue
        if not value and item.is_required:
            raise _invalid(f"{name} items must not be empty")
        if pattern is not None and pattern.search(value) is None:
            raise _invalid(f'{name} item "{value}" does not match the required pattern')
        allowed = getattr(item, "in")  # `in` is a Python keyword
        if allowed and value not in allowed:
            raise _invalid(f'{name} item "{value}" is not one of the allowed values')


def _check_values(
    descriptor: connector_pb2.CredentialIssueOptionDescriptor, options: resource_pb2.CredentialIssueOptions
) -> None:
    scopes, audiences = _requested_values(options)
    field = next((f for f in descriptor.input_fields if f.name == "scopes"), None)
    if field is not None:
        _check_field(scopes, field)
    else:
        _check_legacy(scopes, descriptor.scopes, descriptor.custom_scopes_allowed, "scope")
    _check_legacy(audiences, descriptor.audiences, descriptor.custom_audiences_allowed, "audience")


def _check_expiry(
    descriptor: connector_pb2.CredentialIssueOptionDescriptor,
    expires_at: timestamp_pb2.Timestamp | None,
    now: datetime,
) -> None:
    if expires_at is None:
        return
    try:
        when = expires_at.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise _invalid("expires_at is invalid") from None
    if when <= now:
        raise _invalid("expires_at must be in the future")
    if not descriptor.HasField("expiry"):
        raise _invalid("connector does not support caller-selected expiry")
    lifetime = when - now
    if descriptor.expiry.HasField("min") and lifetime < descriptor.expiry.min.ToTimedelta():
        raise _invalid("expires_at is earlier than the minimum lifetime the connector advertises")
    if descriptor.expiry.HasField("max") and lifetime > descriptor.expiry.max.ToTimedelta():
        raise _invalid("expires_at is later than the maximum lifetime the connector advertises")


# -- output validation (§3.3) ----------------------------------------------------------------------------------


def _output_problem(
    issued: IssuedCredential,
    identity_id: resource_pb2.ResourceId,
    descriptor: connector_pb2.CredentialIssueOptionDescriptor,
    expires_at: timestamp_pb2.Timestamp | None,
    *,
    single_plaintext: bool,
) -> str | None:
    secret = issued.secret
    if secret is None or not secret.HasField("id"):
        return "secret id is required"
    if go_is_blank(secret.id.resource_type) or go_is_blank(secret.id.resource):
        return "secret id must have a resource type and a resource"
    trait = None
    for annotation in secret.annotations:
        if annotation.type_url == _SECRET_TRAIT_URL:
            candidate = annotation_trait_pb2.SecretTrait()
            if annotation.Unpack(candidate) and candidate.identity_id == identity_id:
                trait = candidate
                break
    if trait is None:
        return "secret must carry a SecretTrait whose identity_id is the requested identity"
    if expires_at is not None:
        if not trait.HasField("expires_at"):
            return "secret trait expires_at is required when an expiry was requested"
        if trait.expires_at.ToNanoseconds() > expires_at.ToNanoseconds():
            return "secret trait expires_at is later than the requested expiry"
    if issued.resource_mode == Mode.CREDENTIAL_RESOURCE_MODE_UNSPECIFIED:
        return "resource mode is required"
    if issued.resource_mode != descriptor.resource_mode:
        return "resource mode does not match the advertised resource mode"
    if secret.id.resource_type != descriptor.secret_resource_type_id:
        return (
            f'secret resource type "{secret.id.resource_type}" does not match the advertised '
            f'"{descriptor.secret_resource_type_id}"'
        )
    if not issued.plaintexts:
        return "at least one plaintext is required"
    names: set[str] = set()
    for index, plaintext in enumerate(issued.plaintexts):
        if go_is_blank(plaintext.name):
            return f"plaintext {index} has no name"
        if not plaintext.bytes:
            return f'plaintext "{plaintext.name}" is empty'
        if plaintext.name in names:
            return f'duplicate plaintext name "{plaintext.name}"'
        names.add(plaintext.name)
    if single_plaintext and len(issued.plaintexts) != 1:
        return "baton/jwe/v1 requires exactly one plaintext"
    return None


def _checked_recipients(configs: Sequence[resource_pb2.EncryptionConfig]) -> list[Recipient]:
    """`validate_encryption_configs`, imported here, not at module level: see the module docstring."""
    from connector.baton.crypto import providers

    return providers.validate_encryption_configs(configs)


# -- the tasks ----------------------------------------------------------------------------------------------


async def issue_credential(
    connector: Connector,
    task_id: str,
    task: Task.IssueCredentialTask,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Outcome:
    """Run one `issue_credential` task; every failure is a non-retryable TaskError with the SDK's code."""
    if not task.HasField("identity_id") or not task.HasField("credential_options") or not task.encryption_configs:
        raise _refuse(Code.INVALID_ARGUMENT, "malformed issue credential task")
    identity_id = task.identity_id
    issuer = connector.credential_issuer(identity_id.resource_type)
    if issuer is None:
        raise _refuse(Code.UNIMPLEMENTED, "resource type does not have credential issuer configured")

    if len(task.encryption_configs) > MAX_ENCRYPTION_CONFIGS:
        raise _refuse(
            Code.INVALID_ARGUMENT,
            f"error: creating encryption manager failed: {len(task.encryption_configs)} encryption configs; "
            f"at most {MAX_ENCRYPTION_CONFIGS} are accepted",
        )
    try:
        # On a worker thread (the import too, the first time): up to 64 keys of 16 KiB each, read as Go reads them,
        # were up to ~0.5 s of CPU on the event loop for a key nested past Python's reader (its levels read by a
        # token loop), heartbeats and /healthz held meanwhile. Nothing there is the loop's: pure parsing and checks.
        recipients = await asyncio.to_thread(_checked_recipients, task.encryption_configs)
    except ConnectorError as exc:
        raise _refuse(exc.code, f"error: creating encryption manager failed: {exc}") from None
    details = issuer.credential_issue_details()
    if not REQUEST_ID.fullmatch(task_id):
        raise _invalid("request id must be 1..128 characters containing only letters, digits, underscore, or hyphen")
    options = task.credential_options
    descriptor = _select_descriptor(details, options)
    if descriptor.resource_mode == Mode.CREDENTIAL_RESOURCE_MODE_UNSPECIFIED:
        raise _invalid("credential resource mode must be advertised")
    _check_values(descriptor, options)
    expires_at = task.expires_at if task.HasField("expires_at") else None
    _check_expiry(descriptor, expires_at, now())

    issued = await _mint(issuer, identity_id, options, expires_at, task_id)
    from connector.baton.crypto import providers  # imported by `_checked_recipients`: see the module docstring

    single = any(r.provider == providers.JWE for r in recipients)
    problem = _output_problem(issued, identity_id, descriptor, expires_at, single_plaintext=single)
    if problem is not None:
        issued.plaintexts.clear()
        suffix = _after(await _roll_back(issuer, issued.secret, "invalid output"), issued.secret)
        raise _refuse(Code.INTERNAL, INVALID_OUTPUT + problem + suffix)
    # Every ciphertext is at least as large as its plaintext, and each plaintext is encrypted to every config: past
    # this the response is certain to be refused as too large to report (the processor would delete the credential
    # then). Refused before any encryption: a key of megabytes from a broken Datadog, encrypted to 64 configs, was
    # seconds of CPU and most of a gigabyte of memory spent for nothing.
    least = sum(len(plaintext.bytes) for plaintext in issued.plaintexts) * len(recipients)
    if least > MAX_REPORT_BYTES:
        issued.plaintexts.clear()
        suffix = _after(await _roll_back(issuer, issued.secret, "too large to report"), issued.secret)
        raise _refuse(
            Code.INTERNAL,
            f"the credential's ciphertexts would be too large to report (at least {least} bytes for "
            f"{len(recipients)} encryption configs; at most {MAX_REPORT_BYTES} bytes){suffix}",
        )
    try:
        # On a worker thread: encrypting to 64 configs is up to ~0.1 s of CPU, which on the loop would stall the
        # health endpoints and every other task. The thread gets a tuple of the plaintexts, not our list: the
        # `finally` below empties the list at once, whatever the thread is doing, while the tuple (and the plaintexts
        # it holds) lives on in the thread until its encryption ends (~0.1 s at most), since a cancelled `to_thread`
        # does not stop its thread.
        encrypted = await asyncio.to_thread(providers.encrypt_all, recipients, tuple(issued.plaintexts))
    except asyncio.CancelledError:
        # Cut by the shutdown while encrypting: the processor reports the task UNAVAILABLE (stopped mid-way, not to be
        # retried as is), a report that carries no credential, so nothing would hand this one over and nothing would
        # delete it later. Deleted now (`_roll_back` tries once more if cut again).
        issued.plaintexts.clear()
        if await _roll_back(issuer, issued.secret, "the task was cancelled while encrypting") is RolledBack.DELETED:
            undone_on_stop(ROLLED_BACK.removeprefix("; "))  # the report then says so, not "may have been made"
        raise
    except BaseException as exc:  # a native library's panic too: the minted key must not outlive a failure
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        suffix = _after(await _roll_back(issuer, issued.secret, "encryption failed"), issued.secret)
        if isinstance(exc, ConnectorError):
            raise _refuse(exc.code, f"{exc}{suffix}") from None
        raise _refuse(Code.UNKNOWN, f"encryption failed: internal error ({type(exc).__name__}){suffix}") from None
    finally:
        # The plaintext is not needed past this point; drop our references to it at once.
        issued.plaintexts.clear()
    response = resource_pb2.IssueCredentialResponse(
        secret=issued.secret,
        encrypted_data=encrypted,
        annotations=issued.annotations,
        resource_mode=Mode.ValueType(issued.resource_mode),
        request_id=task_id,
    )
    log.info(
        "credential issued",
        secret_type=issued.secret.id.resource_type,
        secret_id=issued.secret.id.resource,
        encrypted=len(encrypted),
    )
    secret_id = issued.secret.id
    # Only the report hands the new credential over: if ConductorOne never takes it, it is deleted again.
    undo = Undo(
        what=f'{secret_id.resource_type} "{secret_id.resource}"',
        run=lambda: _undone(issuer, issued.secret, undo),
    )
    return Outcome(response=response, annotations=list(issued.annotations), undo=undo)


class RolledBack(enum.Enum):
    """What became of a minted credential the task deleted again (`_roll_back`)."""

    DELETED = "deleted"
    NO_SUCH = "no such credential"
    """The provider answered that it has none by that id: nothing was deleted, it may still be live."""
    FAILED = "failed"
    """No id to delete it by, or its deletion failed: it may still be live."""
    MAYBE = "maybe deleted"
    """Its deletion failed in a way that may have deleted it all the same (`ConnectorError.may_have_taken_effect`: an
    attempt's answer lost, or a success status that did not show it done): it may have been deleted, or may still be
    live."""


def _after(rolled_back: RolledBack, secret: resource_pb2.Resource | None) -> str:
    """A failure's last words after a mint: what became of the credential. When it may be live, which one, when it
    has an id: the report is all ConductorOne (and the person reading it) gets, "the minted credential" alone named
    nothing to delete, and the id was only in a log line."""
    if rolled_back is RolledBack.DELETED:
        return ROLLED_BACK
    said = {RolledBack.NO_SUCH: NO_SUCH_CREDENTIAL, RolledBack.MAYBE: MAYBE_ROLLED_BACK}.get(
        rolled_back, NOT_ROLLED_BACK
    )
    if secret is None or go_is_blank(secret.id.resource_type) or go_is_blank(secret.id.resource):
        return said
    rid = secret.id
    named = f"{rid.resource_type} {rid.resource[:_NAMED_CHARS]!a} may still be live"
    return f"{said}: {named}" if rolled_back is RolledBack.FAILED else f"{said}: {named}, check for it"


async def _undone(issuer: CredentialIssuer, secret: resource_pb2.Resource | None, undo: Undo) -> bool:
    """The undo of an issuance whose report was given up: whether the credential was deleted (a provider's "no such
    credential" is no deletion: it may still be live, and is reported left live)."""
    rolled_back = await _roll_back(issuer, secret, "the report did not reach ConductorOne", undo=undo)
    return rolled_back is RolledBack.DELETED


async def _mint(
    issuer: CredentialIssuer,
    identity_id: resource_pb2.ResourceId,
    options: resource_pb2.CredentialIssueOptions,
    expires_at: timestamp_pb2.Timestamp | None,
    request_id: str,
) -> IssuedCredential:
    try:
        return await issuer.issue_credential(identity_id, options, expires_at, request_id)
    except ConnectorError as exc:
        failure = _refuse(exc.code, f"error: issue credential for identity failed: {exc}")
    except Exception as exc:
        # Unknown exception text may quote anything; keep only its type.
        failure = _refuse(
            Code.UNKNOWN, f"error: issue credential for identity failed: internal error ({type(exc).__name__})"
        )
    # Raised outside the handlers, so the connector's exception is not kept as this one's context: a failure after a
    # mint may hold the new secret in it (a peer's answer quoting it), and a renderer walking the chain would show it.
    raise failure


async def _roll_back(
    issuer: CredentialIssuer,
    secret: resource_pb2.Resource | None,
    why: str,
    *,
    again_if_cancelled: bool = True,
    undo: Undo | None = None,
) -> RolledBack:
    """Delete a credential we minted but cannot hand over, and say what became of it: DELETED when the provider
    deleted it; NO_SUCH when it answered that it has no such credential (nothing was deleted, it may still be live);
    MAYBE (logged at error, `undo.may_be_done` set) when its deletion failed in a way that may have deleted it all the
    same (`ConnectorError.may_have_taken_effect`);
    FAILED (logged at error) when it has no id to delete it by or its deletion failed otherwise. Only a cancellation
    escapes it: the task abandoned at shutdown, which the processor gives a few seconds and then cancels again. The
    interrupted deletion may not have reached the provider, so it is tried once more within those seconds; cut short
    again, it is logged at error naming the credential (the only trace of it). `undo`, when this runs as one, is
    marked done once the credential is deleted, the once-more's deletion included (`Undo.done`)."""
    if secret is None or go_is_blank(secret.id.resource_type) or go_is_blank(secret.id.resource):
        log.error("credential minted but not returned; no id to delete it by", reason=why)
        return RolledBack.FAILED
    named = {"reason": why, "secret_type": secret.id.resource_type, "secret_id": secret.id.resource}
    try:
        deleted = await issuer.rollback_credential(secret.id)
    except asyncio.CancelledError:
        if not again_if_cancelled:
            log.error("credential rollback interrupted; a minted credential may still be live", **named)
            raise
        if await _roll_back(issuer, secret, why, again_if_cancelled=False, undo=undo) is RolledBack.DELETED:
            # Said before the cancellation goes on, the only way out of here: the caller's own note of a DELETED
            # (`issue_credential`) is never reached, and the report said "may have been made all the same" of a
            # credential this once-more deletion had deleted, confirmed.
            undone_on_stop(ROLLED_BACK.removeprefix("; "))
        raise
    except Exception as exc:
        code = exc.code.name if isinstance(exc, ConnectorError) else type(exc).__name__
        if isinstance(exc, ConnectorError) and exc.may_have_taken_effect:
            # The provider may have deleted it (a DELETE that landed, its answers a 503 each time, or a 2xx that did
            # not show it done): "could not be deleted" sent someone to delete by hand a credential that was gone, or
            # to trust one that was not.
            log.error(
                "credential rollback may have worked (no answer said whether it did); the minted credential may have "
                "been deleted, or may still be live: check for it",
                error=code,
                **named,
            )
            if undo is not None:
                undo.may_be_done = True
            return RolledBack.MAYBE
        log.error("credential rollback failed; a minted credential may still be live", error=code, **named)
        return RolledBack.FAILED
    if not deleted:
        log.error("credential rollback answered that there is no such credential; it may still be live", **named)
        return RolledBack.NO_SUCH
    if undo is not None:
        undo.done = True
    log.warning("credential rolled back", **named)
    return RolledBack.DELETED


async def delete_resource(connector: Connector, task: Task.DeleteResourceTask) -> Outcome:
    """Run one `delete_resource` task (§3.4): how ConductorOne revokes issued credentials."""
    rid = task.resource_id
    if not task.HasField("resource_id") or not rid.resource or not rid.resource_type:
        raise _refuse(Code.INVALID_ARGUMENT, "malformed delete resource task")
    deleter = connector.resource_deleter(rid.resource_type)
    if deleter is None:
        raise _refuse(
            Code.UNIMPLEMENTED, f"resource type {rid.resource_type} does not have resource Delete() configured"
        )
    parent = task.parent_resource_id if task.HasField("parent_resource_id") else None
    try:
        annotations = await deleter.delete_resource(rid, parent)
    except ConnectorError as exc:
        # The deleter's own error stays the cause: a caller that reports it in its own words (the one-shot
        # --delete-resource) tells an upstream's answer from a refusal of what was asked by it, not by the code kept.
        failure = _refuse(exc.code, f"error: delete resource failed: {exc}")
        failure.may_have_taken_effect = exc.may_have_taken_effect  # the processor's line: not `left_live` then
        raise failure from exc
    return Outcome(response=resource_pb2.DeleteResourceResponse(annotations=annotations), annotations=annotations)
