"""Credential issuance and revocation, Datadog side (docs/spec/credentials.md §4).

Three kinds are minted for a Datadog user identity, each named `c1-<request_id>` at Datadog:

* a service-account application key (preferred), sent as `DD-APPLICATION-KEY`;
* an organization API key, sent as `DD-API-KEY`;
* a service access token (SAT), sent as `Authorization: Bearer`.

The baton layer validates the request and encrypts the plaintext; this module talks to Datadog. Rules that
matter for safety:

* the name lookup before a mint refuses a second request with the same id (a retried task never mints twice);
* a minted credential whose result cannot be returned is deleted on the spot (rollback), a create whose answer
  is lost or never awaited (cancelled at shutdown) is looked up by name and deleted, and the baton layer calls
  `rollback_credential` when encrypting it fails, so no live key is left behind;
* a SAT create is sent exactly once (no HTTP-level retry at all);
* the secret exists only inside the `api_key_v2` plaintext: never in a log line, an error or a resource.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

import structlog
from google.protobuf import any_pb2, timestamp_pb2
from pydantic import SecretStr

from connector.baton import builders as b
from connector.baton import issuance
from connector.baton.connector import IssuedCredential, undone_on_stop
from connector.baton.errors import (
    AlreadyExistsError,
    Code,
    ConnectorError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    error_with_code,
)
from connector.baton.gostrings import go_is_blank
from connector.baton.ids import quoted_id
from connector.baton.pb.c1.connector.v2 import connector_pb2, resource_pb2
from connector.datadog.client import DatadogClient, path_id
from connector.datadog.errors import DatadogError, NotFound, nothing_done, scrub
from connector.datadog.idrules import is_path_id
from connector.datadog.models import User
from connector.datadog.paging import PAGE_SIZE, Page
from connector.datadog.provisioning import Effect, said_if_maybe_made, unless_already
from connector.datadog.resources import types
from connector.datadog.resources.keys import (
    ACCESS_TOKEN_DETAIL,
    API_KEY_DETAIL,
    APP_KEY_DETAIL,
    STATIC_SECRET,
    is_malformed_id,
    parse_sat_handle,
    sat_handle,
)

__all__ = [
    "AccessTokenDeleter",
    "ApiKeyDeleter",
    "AppKeyDeleter",
    "DatadogCredentialIssuer",
    "api_key_v2",
    "service_access_token_v2",
]

log = structlog.get_logger(__name__)
T = TypeVar("T")

APP_KEY = types.SERVICE_ACCOUNT_APP_KEY.id
ORG_KEY = types.API_KEY.id
SAT = types.SERVICE_ACCOUNT_ACCESS_TOKEN.id

Option = connector_pb2.CapabilityDetailCredentialOption
DISCOVERABLE = resource_pb2.CredentialResourceMode.CREDENTIAL_RESOURCE_MODE_DISCOVERABLE

_OWNERS_KEPT = 1024


# -- the api_key_v2 plaintext (§4.5) -------------------------------------------------------------------


def _document(key_value: str, key_id: str, scopes: Sequence[str] | None, header: str) -> bytes:
    return issuance.api_key_v2(
        key_value=key_value, provider="datadog", key_id=key_id, header_name=header, scopes=scopes
    )


def api_key_v2(kind: str, key_value: str, key_id: str, scopes: Sequence[str] | None) -> bytes:
    """The plaintext of a service-account application key or an org API key: the JSON document C1 stores."""
    if kind == APP_KEY:
        header = "DD-APPLICATION-KEY"
    elif kind == ORG_KEY:
        if scopes is not None:
            raise InternalError("datadog organization API keys cannot have scopes")
        header = "DD-API-KEY"
    else:
        raise InternalError("unsupported datadog native API key kind")
    if not key_value or not key_id:
        raise InternalError("datadog native API key requires a key value and provider key ID")
    return _document(key_value, key_id, scopes, header)


def service_access_token_v2(key_value: str, token_id: str, scopes: Sequence[str] | None) -> bytes:
    if not key_value or not token_id:
        raise InternalError("datadog service access token requires a key value and provider token ID")
    return _document(key_value, token_id, scopes, "Authorization")


# -- issuance -----------------------------------------------------------------------------------------


def _check_scopes(scopes: Sequence[str], what: str) -> list[str]:
    seen: set[str] = set()
    for scope in scopes:
        if go_is_blank(scope):
            raise InvalidArgumentError(f"baton-datadog: invalid {what} scopes: scope must not be empty")
        if scope in seen:
            raise InvalidArgumentError(f'baton-datadog: invalid {what} scopes: duplicate scope "{scope}"')
        seen.add(scope)
    return list(scopes)


def _granted_scopes(model: Any) -> list[str] | None:
    """Scopes as Datadog reported them: None when absent, [] for null, else the list."""
    return list(model.scopes or []) if model.scopes_reported else None


class DatadogCredentialIssuer:
    """Mints credentials for Datadog users; which kinds are offered follows the flags (§3.7)."""

    def __init__(self, client: DatadogClient, *, app_keys: bool, org_keys: bool) -> None:
        self._client = client
        self._app_keys = app_keys
        self._org_keys = org_keys
        self._api_key_deleter = ApiKeyDeleter(client)
        self._app_key_deleter = AppKeyDeleter(client)
        self._token_deleter = AccessTokenDeleter(client)
        # Owner of each application key minted by this process: a rollback then needs no owner lookup.
        self._owners: dict[str, str] = {}

    def credential_issue_details(self) -> connector_pb2.CredentialDetailsCredentialIssue:
        Descriptor = connector_pb2.CredentialIssueOptionDescriptor
        options: list[connector_pb2.CredentialIssueOptionDescriptor] = []
        if self._app_keys:
            options.append(
                Descriptor(
                    option=Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_API_KEY,
                    custom_scopes_allowed=True,
                    resource_mode=DISCOVERABLE,
                    secret_resource_type_id=APP_KEY,
                    # Only needed (and only set) when another descriptor shares the API_KEY option.
                    preferred=self._org_keys,
                )
            )
        if self._org_keys:
            options.append(
                Descriptor(
                    option=Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_API_KEY,
                    resource_mode=DISCOVERABLE,
                    secret_resource_type_id=ORG_KEY,
                )
            )
        if self._app_keys:
            options.append(
                Descriptor(
                    option=Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_TOKEN,
                    custom_scopes_allowed=True,
                    resource_mode=DISCOVERABLE,
                    secret_resource_type_id=SAT,
                    input_fields=[issuance.required_scopes_field()],
                )
            )
        preferred = (
            Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_API_KEY
            if self._app_keys or self._org_keys
            else Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_UNSPECIFIED
        )
        return connector_pb2.CredentialDetailsCredentialIssue(options=options, preferred_option=preferred)

    async def issue_credential(
        self,
        identity_id: resource_pb2.ResourceId,
        options: resource_pb2.CredentialIssueOptions,
        expires_at: timestamp_pb2.Timestamp | None,
        request_id: str,
    ) -> IssuedCredential:
        # An id no request path can hold (over 1,024 characters, a dot segment) is no Datadog user's: an org key's
        # identity is never looked up, so it was minted for one and every log line of the issuance quoted it.
        identity = identity_id.resource
        if identity_id.resource_type != types.USER.id or is_malformed_id(identity) or not is_path_id(identity):
            raise InvalidArgumentError("baton-datadog: a Datadog user identity is required")
        if not issuance.REQUEST_ID.fullmatch(request_id):
            raise InvalidArgumentError("baton-datadog: the request id must be 1..128 letters, digits, '_' or '-'")
        kind = options.secret_resource_type_id
        name = f"c1-{request_id}"
        if kind == APP_KEY:
            if not self._app_keys:
                raise FailedPreconditionError(
                    "baton-datadog: service account application key issuance requires "
                    "sync-service-account-application-keys, which also provides the revoke path"
                )
            self._arm(options, "api_key", kind)
            issued = await self._issue_app_key(identity_id, list(options.api_key.scopes), name, request_id)
        elif kind == ORG_KEY:
            if not self._org_keys:
                raise FailedPreconditionError(
                    "baton-datadog: organization API key issuance requires allow-org-api-key-deletion, "
                    "which also provides the revoke path"
                )
            self._arm(options, "api_key", kind)
            issued = await self._issue_org_key(identity_id, list(options.api_key.scopes), name, request_id)
        elif kind == SAT:
            if not self._app_keys:
                raise FailedPreconditionError(
                    "baton-datadog: service access token issuance requires sync-service-account-application-keys"
                )
            self._arm(options, "token", kind)
            if expires_at is not None and (expires_at.seconds or expires_at.nanos):
                raise InvalidArgumentError(
                    "baton-datadog: caller-selected service access token expiry is not advertised"
                )
            issued = await self._issue_token(identity_id, list(options.token.scopes), name, request_id)
        else:
            raise InvalidArgumentError(f'baton-datadog: unsupported credential secret resource type "{kind}"')
        log.info(
            "datadog issue_credential",
            kind=kind,
            identity=identity_id.resource,
            secret_id=issued.secret.id.resource,
            request_id=request_id,
            outcome="issued",
        )
        return issued

    @staticmethod
    def _arm(options: resource_pb2.CredentialIssueOptions, arm: str, kind: str) -> None:
        if options.WhichOneof("options") != arm:
            raise InvalidArgumentError(f'baton-datadog: a "{kind}" credential needs the {arm} credential option')

    async def rollback_credential(self, secret_id: resource_pb2.ResourceId) -> bool:
        """Delete a credential this issuer minted: True when Datadog deleted it, False when it answered that it has no
        such credential (404, which §4.6 counts a success for a revocation): nothing was deleted, and one minted a
        moment ago may still be live."""
        kind = secret_id.resource_type
        with deletions_found() as found:
            if kind == APP_KEY:
                owner = self._owners.get(secret_id.resource)
                parent = b.resource_id(types.USER.id, owner) if owner else None
                await self._app_key_deleter.delete_resource(secret_id, parent)
            elif kind == ORG_KEY:
                await self._api_key_deleter.delete_resource(secret_id)
            elif kind == SAT:
                await self._token_deleter.delete_resource(secret_id)
            else:
                raise InvalidArgumentError(f'baton-datadog: unsupported credential secret resource type "{kind}"')
        # None: a token's revocation, whose success does not tell whether Datadog held it, but leaves it revoked.
        deleted = bool(found) and found[-1] is not False
        outcome = "deleted" if deleted else "not_found"
        log.info("datadog rollback_credential", kind=kind, secret_id=secret_id.resource, outcome=outcome)
        return deleted

    # -- the three kinds ----------------------------------------------------------------------------------

    async def _service_account(self, identity: resource_pb2.ResourceId, suffix: str) -> User:
        try:
            user = await self._client.get_user(identity.resource)
        except NotFound:
            raise NotFoundError(f'baton-datadog: Datadog user "{identity.resource}" not found') from None
        if not user.service_account:
            raise InvalidArgumentError(
                f'baton-datadog: Datadog user "{identity.resource}" is not a service account{suffix}'
            )
        if user.disabled:
            # Disabled since the sync: its key paths answer 404 "Service account not found" (ConductorOne was told
            # only that), and a credential of a disabled account authenticates nothing. The spec is silent: refused.
            raise FailedPreconditionError(
                f'baton-datadog: Datadog service account "{identity.resource}" is disabled; enable it in Datadog '
                "before issuing it a credential"
            )
        return user

    async def _issue_app_key(
        self, identity: resource_pb2.ResourceId, scopes: list[str], name: str, request_id: str
    ) -> IssuedCredential:
        scopes = _check_scopes(scopes, "application key")
        sa = (await self._service_account(identity, "; credential issuance only targets service accounts")).id
        existing = await _first_page(self._client.iter_service_account_app_keys(sa, name_filter=name))
        _refuse_duplicate(existing, name, f'application key for request "{request_id}"')

        def app_key_leftovers() -> Awaitable[tuple[int, int]]:
            return _delete_named(
                self._client.iter_service_account_app_keys(sa, name_filter=name),
                lambda key_id: self._client.delete_service_account_app_key(sa, key_id),
                name,
            )

        key, secret = await _created_or_cleaned_up(
            self._client.create_service_account_app_key(sa, name, scopes), app_key_leftovers, APP_KEY, name
        )
        self._owners[key.id] = sa
        if len(self._owners) > _OWNERS_KEPT:  # only recent mints are rolled back; older ones get looked up
            del self._owners[next(iter(self._owners))]

        def build() -> IssuedCredential:
            _check_revocable(APP_KEY, key.id)
            granted = _within_asked(APP_KEY, scopes, _granted_scopes(key))
            plaintext = api_key_v2(APP_KEY, _reveal(secret), key.id, granted)
            res = b.resource(types.SERVICE_ACCOUNT_APP_KEY, key.id, name, parent=identity)
            _secret_trait(res, identity, APP_KEY_DETAIL, scopes=granted)
            return _issued(res, "application_key", plaintext)

        return await _built_or_rolled_back(
            build,
            lambda: _unless_gone(self._client.delete_service_account_app_key(sa, key.id)),
            APP_KEY,
            key.id,
            secret,
        )

    async def _issue_org_key(
        self, identity: resource_pb2.ResourceId, scopes: list[str], name: str, request_id: str
    ) -> IssuedCredential:
        if scopes:
            raise InvalidArgumentError(
                "baton-datadog: Datadog organization API keys cannot be scoped; request a service account "
                "application key for a scoped credential"
            )
        existing = await _first_page(self._client.iter_api_keys(name_filter=name))
        _refuse_duplicate(existing, name, f'organization API key for request "{request_id}"')

        def org_key_leftovers() -> Awaitable[tuple[int, int]]:
            # Datadog's own ids, whatever they hold: the malformed-id check is for ids a task names.
            return _delete_named(self._client.iter_api_keys(name_filter=name), self._client.delete_api_key, name)

        key, secret = await _created_or_cleaned_up(self._client.create_api_key(name), org_key_leftovers, ORG_KEY, name)

        def build() -> IssuedCredential:
            _check_revocable(ORG_KEY, key.id)
            plaintext = api_key_v2(ORG_KEY, _reveal(secret), key.id, None)
            res = b.resource(types.API_KEY, key.id, name)
            creator = b.resource_id(types.USER.id, key.created_by_id) if key.created_by_id else None
            _secret_trait(res, identity, API_KEY_DETAIL, created_by=creator)
            return _issued(res, "api_key", plaintext)

        return await _built_or_rolled_back(
            build, lambda: _unless_gone(self._client.delete_api_key(key.id)), ORG_KEY, key.id, secret
        )

    async def _issue_token(
        self, identity: resource_pb2.ResourceId, scopes: list[str], name: str, request_id: str
    ) -> IssuedCredential:
        if not scopes:
            raise InvalidArgumentError("baton-datadog: service access tokens require at least one scope")
        scopes = _check_scopes(scopes, "service access token")
        sa = (await self._service_account(identity, "")).id
        # Each one listed is a service access token of this service account: the listing refuses any other (§4.3
        # step 4).
        existing = await _first_page(self._client.iter_service_account_access_tokens(sa, name_filter=name))
        _refuse_duplicate(
            existing,
            name,
            f'service access token for request "{request_id}"',
            suffix="refusing duplicate issuance",
        )

        def token_leftovers() -> Awaitable[tuple[int, int]]:
            return _delete_named(
                self._client.iter_service_account_access_tokens(sa, name_filter=name),
                lambda token_id: self._client.revoke_service_account_access_token(sa, token_id),
                name,
            )

        token, secret = await _created_or_cleaned_up(
            self._client.create_service_account_access_token(sa, name, scopes), token_leftovers, SAT, name
        )

        def build() -> IssuedCredential:
            _check_revocable(SAT, token.id)
            granted = _within_asked(SAT, scopes, _granted_scopes(token))
            plaintext = service_access_token_v2(_reveal(secret), token.id, granted)
            res = b.resource(types.SERVICE_ACCOUNT_ACCESS_TOKEN, sat_handle(sa, token.id), name, parent=identity)
            _secret_trait(res, identity, ACCESS_TOKEN_DETAIL, scopes=granted, expires_at=token.expires_at)
            return _issued(res, "service_access_token", plaintext)

        return await _built_or_rolled_back(
            build,
            lambda: _unless_gone(self._client.revoke_service_account_access_token(sa, token.id)),
            SAT,
            token.id,
            secret,
        )


def _check_revocable(kind: str, object_id: str) -> None:
    """A credential is issued only under an id its deletion can take later (§4.6 refuses blank ids and control
    characters; a path cannot hold '.', '..' or an id over 1,024 characters): one Datadog names otherwise could never
    be revoked through ConductorOne. Raised inside `build`, so the credential is deleted again at once."""
    if is_malformed_id(object_id) or not is_path_id(object_id):
        raise InternalError(
            f"baton-datadog: Datadog gave the new {kind} an id it could not be revoked by later; refusing to issue it"
        )


def _within_asked(kind: str, asked: list[str], granted: list[str] | None) -> list[str] | None:
    """The scopes Datadog reports granting, refused when they reach beyond the ones asked for: null (an application
    key of every permission of its owner) or a scope not asked for. A scoped credential was asked for, and one of
    more power was issued as it. Raised inside `build`, so the credential is deleted again at once. Unreported
    scopes stay unreported (§4.1)."""
    if asked and granted is not None and (not granted or not set(granted) <= set(asked)):
        raise InternalError(
            f"baton-datadog: Datadog made the new {kind} with other scopes than asked for (unrestricted, or beyond "
            "them); refusing to issue it"
        )
    return granted


def _reveal(secret: SecretStr | None) -> str:
    if secret is None:
        raise InternalError(
            "baton-datadog: Datadog returned no secret value for the new credential "
            "(data.attributes.key: missing, null or empty)"
        )
    return secret.get_secret_value()


def _refuse_duplicate(page: Page[Any], name: str, what: str, *, suffix: str = "") -> None:
    names = [item.name for item in page.items]
    if name in names:
        raise AlreadyExistsError(
            f"baton-datadog: {what} may already exist; {suffix or 'refusing to issue a duplicate'}"
        )
    if len(names) >= PAGE_SIZE or page.next_number is not None:
        # Datadog's filter is a substring match: a full page without the exact name proves nothing.
        raise FailedPreconditionError(
            f"baton-datadog: cannot rule out an existing {what}: {len(names)} or more names match; refusing to issue"
        )
    if None in names:
        # A match whose name the answer leaves out may be the one sought: no proof of absence either.
        raise FailedPreconditionError(
            f"baton-datadog: cannot rule out an existing {what}: Datadog listed a match without its name; "
            "refusing to issue"
        )


def _secret_trait(
    res: resource_pb2.Resource,
    identity: resource_pb2.ResourceId,
    detail: str,
    *,
    scopes: list[str] | None = None,
    created_by: resource_pb2.ResourceId | None = None,
    expires_at: Any = None,
) -> None:
    b.add_secret_trait(
        res,
        profile_values={"scopes": scopes} if scopes is not None else None,
        identity=identity,
        created_by=created_by,
        expires_at=expires_at,
        credential_type=STATIC_SECRET,
        credential_detail=detail,
    )


def _issued(res: resource_pb2.Resource, plaintext_name: str, plaintext: bytes) -> IssuedCredential:
    return IssuedCredential(
        secret=res,
        plaintexts=[resource_pb2.PlaintextData(name=plaintext_name, bytes=plaintext)],
        resource_mode=DISCOVERABLE,
    )


async def _created_or_cleaned_up(
    create: Awaitable[T], leftovers: Callable[[], Awaitable[tuple[int, int]]], kind: str, name: str
) -> T:
    """The create's result; when the create failed in a way that may still have created the credential (no
    answer, a 5xx, an unreadable 2xx, a 4xx without Datadog's JSON error body), whatever now carries its name is
    deleted before the error is raised. Datadog's 4xx is a refusal, and a create held back unsent (`nothing_done`)
    was never made: nothing to clean up. A create cancelled in flight (the task was abandoned at shutdown) may have
    landed too, and its answer, the only trace of it, is gone: it is cleaned up the same way before the cancellation
    goes on."""
    try:
        return await create
    except asyncio.CancelledError:
        try:
            found, removed = await _interruptible(leftovers(), kind, name)
        except ConnectorError as failure:
            log.error("datadog issue_credential", kind=kind, name=name, outcome="cleanup_failed", error=str(failure))
        else:
            _log_cleanup("create_cancelled", kind, name, found, removed, unfinished=True)
            if found and removed == found:
                # What the create made was found and Datadog confirmed its deletion: the stopped task's report says so
                # (the baton layer's hook, no word of the task processor's here), not "a change it had already sent
                # may have been made all the same: check it there" of a credential Datadog had deleted.
                undone_on_stop(f"the {kind} {quoted_id(name)} its create made was found by its name and deleted again")
        raise
    except DatadogError as exc:
        if nothing_done(exc):
            raise
        try:
            found, removed = await _interruptible(leftovers(), kind, name)
        except ConnectorError as failure:
            log.error("datadog issue_credential", kind=kind, name=name, outcome="cleanup_failed", error=str(failure))
            error = InternalError(
                f'baton-datadog: creating {kind} "{name}" failed ({exc}) and it may exist; looking it up to delete '
                f"it failed too ({failure}); delete it in Datadog"
            )
        else:
            unfinished = not (exc.status is not None and 200 <= exc.status < 300)
            _log_cleanup("create_failed", kind, name, found, removed, unfinished=unfinished)
            # The failure says what became of what the create may have made: "-> 201: empty body" alone did not tell
            # whether a live credential was left. After what it said (Datadog's words, else the transport's reason).
            if not found:
                became = "none found"
                if unfinished:
                    # No answer of Datadog's own that the create was done: a timeout, a gateway's 5xx or 4xx may have
                    # cut it off while Datadog was still at it, and it may land after the lookup. "none found" alone
                    # said nothing was made, and one that landed a moment later was live with no report naming it.
                    became += (
                        " then; a create Datadog had not finished by then may still make one under that name: "
                        "check for it in Datadog"
                    )
            elif removed == found:
                became = f"deleted again ({found} found)"
            else:
                # A 404 to the DELETE: Datadog says it has no such one, so nothing was deleted, and what the create
                # made may still be live.
                became = (
                    f"{found} found, and Datadog answered that it has no such one when deleting {found - removed}: "
                    "it may still be live, check in Datadog"
                )
            exc.messages = (*exc.details, f'the {kind} it may have made was looked up by its name "{name}": {became}')
            raise
    # Raised outside the handlers: its words are all it carries, not the create's failure (an answer that may hold the
    # new secret) as its context (`_rollback_refused`).
    raise error


async def _first_page(pages: AsyncGenerator[Page[T], None]) -> Page[T]:
    """The first page of a listing, read alone: closed after it, the client forgets the walk (`DatadogClient._walk`).
    Read as page 0 and left, a name-filtered listing of more than a page (issuance refused then) kept its walk in the
    listing checks' memory, one per such issuance."""
    async with contextlib.aclosing(pages):
        return await anext(pages)


async def _delete_named(
    pages: AsyncGenerator[Page[Any], None], delete: Callable[[str], Awaitable[None]], name: str
) -> tuple[int, int]:
    """Delete every credential carrying exactly `name`: how many there were, and how many Datadog deleted (a DELETE
    answered 404 deleted nothing: Datadog says it has no such one). Every page of the name-filtered listing is read
    first: Datadog's filter is a substring match, and the one sought may sit past a page of near matches (the first
    page alone was read, and a credential left live was reported as never created)."""
    async with contextlib.aclosing(pages):
        matches = [item async for page in pages for item in page.items]
    if any(item.name is None for item in matches):
        # A match whose name the answer leaves out may be the credential sought: it cannot be told, nor deleted.
        raise FailedPreconditionError(f'Datadog listed a match of "{name}" without its name')
    named = [item.id for item in matches if item.name == name]
    deleted = [await _unless_gone(delete(object_id)) for object_id in named]
    return len(named), sum(deleted)


def _log_cleanup(outcome: str, kind: str, name: str, found: int, removed: int, *, unfinished: bool) -> None:
    """`unfinished`: the create may have been cut off while Datadog was still at it (no answer of its own that it was
    done): one found by nothing may still land, and the log line (a cancelled task's only trace) says so at error."""
    if not found and unfinished:
        log.error(
            "datadog issue_credential",
            kind=kind,
            name=name,
            outcome=outcome,
            cleaned_up=0,
            error=f'{kind} "{name}": none found by the name, but a create Datadog had not finished by then may still '
            "make one under that name: check for it in Datadog",
        )
    elif removed == found:
        log.warning("datadog issue_credential", kind=kind, name=name, outcome=outcome, cleaned_up=removed)
    else:
        log.error(
            "datadog issue_credential",
            kind=kind,
            name=name,
            outcome=outcome,
            cleaned_up=removed,
            error=f'{kind} "{name}": {found - removed} of {found} found by the name answered 404 to their deletion; '
            "they may still be live: check in Datadog",
        )


async def _interruptible(cleanup: Awaitable[tuple[int, int]], kind: str, name: str) -> tuple[int, int]:
    """`cleanup`, which may itself be cancelled: the shutdown gives an abandoned task a few seconds and then cancels
    it again, and a lookup or delete still waiting on Datadog ends there. The log line is then the only trace of a
    credential that may be live."""
    try:
        return await cleanup
    except asyncio.CancelledError:
        log.error(
            "datadog issue_credential",
            kind=kind,
            name=name,
            outcome="cleanup_interrupted",
            error=f'{kind} "{name}" may exist in Datadog: stopped before it could be looked up and deleted; delete it',
        )
        raise


async def _built_or_rolled_back(
    build: Callable[[], IssuedCredential],
    rollback: Callable[[], Awaitable[bool]],
    kind: str,
    object_id: str,
    secret: SecretStr | None,
) -> IssuedCredential:
    """The result of `build`, or, when it fails, the just-minted credential deleted again and the error raised with
    the build failure's code (§3.2 step 12: Unknown for an exception with none), saying what became of the credential.
    `rollback` answers whether Datadog deleted it (False: it answered 404, it has no such one)."""
    try:
        return build()
    except Exception as exc:
        deleted, told = await _rollback_refused(rollback, kind, object_id, secret)
        # Why the issuing failed in its own words (scrubbed as the deletion's are), not its exception's class name:
        # "failed (InternalError)" told the on-call engineer nothing of what Datadog answered.
        why = (
            _without_secret(exc, secret)
            if isinstance(exc, ConnectorError)
            else f"an unexpected {type(exc).__name__} in the connector"
        )
        code = exc.code if isinstance(exc, ConnectorError) else Code.UNKNOWN
        if told is not None:
            message = (
                f'baton-datadog: issuing {kind} "{object_id}" failed ({why}) and deleting it again '
                f"failed too ({told}); delete it in Datadog"
            )
        elif deleted:
            _log_rollback(kind, object_id, deleted=True)
            # Said in the failure too: the report of a failure after a 201 did not tell whether a credential was left.
            message = f'{why}; the new {kind} "{object_id}" was deleted again'
        else:
            # Only a confirmed deletion is reported as one: Datadog's 404 deleted nothing, and the key it made a moment
            # ago may still be live.
            _log_rollback(kind, object_id, deleted=False)
            message = (
                f'{why}; deleting the new {kind} "{object_id}" again, Datadog answered that it has no such {kind}: '
                "it may still be live, check in Datadog"
            )
        error = error_with_code(code, message)
    # Raised outside the handler: the scrubbed words are all it carries, no exception of the failure as its context.
    raise error


async def _rollback_refused(
    rollback: Callable[[], Awaitable[bool]], kind: str, object_id: str, secret: SecretStr | None
) -> tuple[bool, str | None]:
    """Delete the just-minted credential: whether Datadog deleted it (False: it answered 404), and Datadog's refusal
    in words, scrubbed of the secret, when the deletion failed (None otherwise). The refusal itself is not raised on: a
    peer may quote the very key it would not delete, and an exception keeps its text (as the `__context__` of whatever
    is raised while handling it) where a renderer walking the chain finds it."""
    try:
        deleted = await rollback()
    except asyncio.CancelledError:
        await _rollback_after_cancel(rollback, kind, object_id, secret)
        raise
    except ConnectorError as failure:
        told = _without_secret(failure, secret)
    else:
        return deleted, None
    log.error("datadog issue_credential", kind=kind, secret_id=object_id, outcome="rollback_failed", error=told)
    return False, told


def _without_secret(error: BaseException, secret: SecretStr | None) -> str:
    """An error's text with the new secret scrubbed out: a peer refusing to delete a key may quote the very key."""
    return scrub(str(error), [secret.get_secret_value()] if secret is not None else [])


async def _rollback_after_cancel(
    rollback: Callable[[], Awaitable[bool]], kind: str, object_id: str, secret: SecretStr | None
) -> None:
    """A rollback cancelled mid-way: the task abandoned at shutdown, which gives it a few seconds and then cancels it
    again. The interrupted deletion may not have reached Datadog, and the credential's id is in no other trace: it is
    tried once more, and when that fails or is cut short too, the error line names the credential to delete."""
    try:
        deleted = await rollback()
    except (ConnectorError, asyncio.CancelledError) as failure:
        # What stopped the deletion in words (Datadog's refusal scrubbed of the new secret, which a peer may quote),
        # not the class of its exception: "(UnexpectedResponse)" told nothing of what Datadog answered.
        why = "stopped at shutdown" if isinstance(failure, asyncio.CancelledError) else _without_secret(failure, secret)
        log.error(
            "datadog issue_credential",
            kind=kind,
            secret_id=object_id,
            outcome="rollback_interrupted",
            error=f'{kind} "{object_id}" may be live: its deletion was stopped or failed ({why}); delete it in Datadog',
        )
        if isinstance(failure, asyncio.CancelledError):
            raise
    else:
        _log_rollback(kind, object_id, deleted=deleted)
        if deleted:
            # Confirmed deleted before the cancellation goes on (`_rollback_refused` re-raises it): the stopped task's
            # report says so, not "may have been made all the same" of a credential Datadog had deleted.
            undone_on_stop(f"the new {kind} {quoted_id(object_id)} was deleted again")


def _log_rollback(kind: str, object_id: str, *, deleted: bool) -> None:
    """A rollback that reached Datadog: deleted, or answered 404 (nothing deleted; the credential may still be live)."""
    if deleted:
        log.warning("datadog issue_credential", kind=kind, secret_id=object_id, outcome="rolled_back")
        return
    log.error(
        "datadog issue_credential",
        kind=kind,
        secret_id=object_id,
        outcome="rollback_not_found",
        error=f'{kind} "{object_id}" may still be live: Datadog answered its deletion 404; check in Datadog',
    )


# -- deletion (§4.6) -----------------------------------------------------------------------------------


async def _unless_gone(call: Any) -> bool:
    """True when deleted now, False when Datadog says it was already gone (404 counts as success). A 404 answering
    the retry of an attempt whose answer was lost is that attempt's deletion (`unless_already`): it was logged
    `deleted: false`, as if someone else had deleted the credential first. A failure after such an attempt says the
    deletion may have been made (`said_if_maybe_made`): a DELETE that landed, its answers a 503 each time, was reported
    "delete resource failed" alone, the credential reported live though Datadog had deleted it."""
    return await said_if_maybe_made(unless_already(NotFound, call)) is Effect.CHANGED


_found: ContextVar[list[bool | None] | None] = ContextVar("datadog_deletions_found", default=None)


@contextlib.contextmanager
def deletions_found() -> Iterator[list[bool | None]]:
    """What each deletion run inside this block found, in order: True when Datadog deleted the credential (it held
    the id), False when it answered that it has none by that id (404: deleted before, or an id it never had), None
    when its answer does not tell (a token's revocation answers 204 for a token revoked before too). For a caller
    that reports a deletion in its own words (the one-shot --delete-resource), which the task's answer cannot carry:
    §4.6 sends no annotations either way."""
    found: list[bool | None] = []
    token = _found.set(found)
    try:
        yield found
    finally:
        _found.reset(token)


def _finished(deleted: bool, *, tells: bool = True, **named: str) -> None:
    """A deletion's one record: the log line `datadog delete_resource`, and what `deletions_found` hands its caller
    (`tells`: whether Datadog's success answers only for a credential it held)."""
    log.info("datadog delete_resource", **named, deleted=deleted)
    found = _found.get()
    if found is not None:
        found.append(deleted if tells or not deleted else None)


class ApiKeyDeleter:
    """Deletes (revokes) org API keys, for `delete_resource` and for an issuance's rollback; a key that is already gone
    counts as deleted."""

    def __init__(self, client: DatadogClient) -> None:
        self._client = client

    async def delete_resource(
        self, resource_id: resource_pb2.ResourceId, parent_resource_id: resource_pb2.ResourceId | None = None
    ) -> list[any_pb2.Any]:
        if resource_id.resource_type != ORG_KEY:
            raise InvalidArgumentError(
                f"only {ORG_KEY} resources can be deleted, not {quoted_id(resource_id.resource_type)}"
            )
        key_id = resource_id.resource
        if is_malformed_id(key_id):
            raise InvalidArgumentError(f'baton-datadog: API key id "{key_id}" is malformed')
        path_id(key_id)  # before the client is touched (a one-shot run's checks stop there)
        deleted = await _unless_gone(self._client.delete_api_key(key_id))
        _finished(deleted, resource_type=ORG_KEY, resource_id=key_id)
        return []


class AppKeyDeleter:
    """Deletes service-account application keys; the owner comes from the parent or an org-wide lookup."""

    def __init__(self, client: DatadogClient) -> None:
        self._client = client

    async def delete_resource(
        self, resource_id: resource_pb2.ResourceId, parent_resource_id: resource_pb2.ResourceId | None = None
    ) -> list[any_pb2.Any]:
        key_id = resource_id.resource
        if resource_id.resource_type != APP_KEY or is_malformed_id(key_id):
            raise InvalidArgumentError(f'baton-datadog: application key id "{key_id}" is malformed')
        path_id(key_id)
        given = (
            parent_resource_id.resource
            if parent_resource_id is not None and parent_resource_id.resource_type == types.USER.id
            else ""
        )
        owner = given or await self._owner(key_id)
        tried: list[str] = []
        deleted = False
        while owner is not None:
            if await _unless_gone(self._client.delete_service_account_app_key(_owner_id(owner, key_id), key_id)):
                deleted = True
                break
            tried.append(owner)
            # A 404 says the key is gone, or only that it is not under this owner's path: a stale or wrong parent,
            # or an owner the service-account path does not know (a person, a disabled service account), the key
            # live all the same. Only the key's own lookup tells; a new owner gets one more try.
            owner = await self._owner(key_id)
            if owner is not None and (owner in tried or len(tried) > 1):
                deleted = await self._delete_org_wide(key_id, tried[-1], owner)
                break
        _finished(deleted, resource_type=APP_KEY, resource_id=key_id)
        return []

    async def _delete_org_wide(self, key_id: str, owner: str, holder: str) -> bool:
        """The key by its id alone, through the org-wide endpoint (it needs org_app_keys_write, which the connector
        may lack): the last way to revoke a key the service-account path will not name. Only a service account's key
        (a disabled account's): the task names a service-account application key, and a person's key under that
        type's id was deleted org-wide, a human's own access revoked by a task no sync of this type could lead to.
        `owner`: the service account whose path was tried last; `holder`: the owner the key's own lookup names now."""
        await self._service_account_owner(key_id, _owner_id(holder, key_id))
        try:
            return await _unless_gone(self._client.delete_application_key(key_id))
        except ConnectorError as exc:
            # "NOT deleted" only when the org-wide DELETE certainly did nothing: one whose answer was lost (a 5xx, a
            # timeout) may have deleted the key, and the failure said it "was NOT deleted" beside Datadog's words
            # saying it may have been.
            state = "was NOT deleted" if nothing_done(exc) else "may not have been deleted"
            failure = FailedPreconditionError(
                f'baton-datadog: application key "{key_id}" {state}: Datadog answers 404 to deleting it as '
                f'service account "{owner}"\'s key, yet still has it (its owner may be a disabled service account), '
                f"and deleting it org-wide failed too ({exc}); delete it in Datadog"
            )
            # Its own error, so the org-wide DELETE's flag goes with it: an issuance's rollback says "may have worked".
            failure.may_have_taken_effect = exc.may_have_taken_effect
        raise failure from None

    async def _service_account_owner(self, key_id: str, owner: str) -> None:
        """Refuses unless Datadog says `owner`, the owner of application key `key_id`, is a service account."""
        try:
            user = await self._client.get_user(owner)
        except NotFound:
            user = None
        if user is None or not user.service_account:
            who = "is not a service account" if user is not None else "is no Datadog user"
            raise FailedPreconditionError(
                f'baton-datadog: application key "{key_id}" was NOT deleted: its owner "{owner}" {who}, and only '
                "a service account's application key is deleted as a service-account-application-key"
            )

    async def _owner(self, key_id: str) -> str | None:
        try:
            key = await self._client.get_application_key(key_id)
        except NotFound:
            return None
        if not key.owner_id:
            raise InvalidArgumentError(
                f'baton-datadog: the service account owning application key "{key_id}" could not be determined'
            )
        return key.owner_id


def _owner_id(owner: str, key_id: str) -> str:
    if is_malformed_id(owner):
        raise InvalidArgumentError(f'baton-datadog: the owner "{owner}" of application key "{key_id}" is malformed')
    return owner


class AccessTokenDeleter:
    """Revokes service access tokens; the `sat:` id names both the service account and the token."""

    def __init__(self, client: DatadogClient) -> None:
        self._client = client

    async def delete_resource(
        self, resource_id: resource_pb2.ResourceId, parent_resource_id: resource_pb2.ResourceId | None = None
    ) -> list[any_pb2.Any]:
        parsed = parse_sat_handle(resource_id.resource) if resource_id.resource_type == SAT else None
        if parsed is None:
            raise InvalidArgumentError("baton-datadog: malformed service access token handle")
        sa, token_id = map(path_id, parsed)
        deleted = await _unless_gone(self._client.revoke_service_account_access_token(sa, token_id))
        # Datadog answers 204 for a token revoked before (observed) as for one revoked now: a success is no sign it
        # held the token.
        _finished(deleted, tells=False, resource_type=SAT, service_account=sa, token_id=token_id)
        return []
