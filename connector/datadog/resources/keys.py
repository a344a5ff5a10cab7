"""Organization API keys, service-account application keys and access tokens (opt-in): metadata only, never a
key value."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable
from typing import Generic, TypeVar

from connector.baton import builders as b
from connector.baton.connector import Page
from connector.baton.gostrings import go_is_blank, go_raw_url_b64decode, go_raw_url_b64encode
from connector.baton.pb.c1.connector.v2 import annotation_trait_pb2, entitlement_pb2, grant_pb2, resource_pb2
from connector.datadog.client import DatadogClient
from connector.datadog.errors import NotFound, not_skipped
from connector.datadog.idrules import has_control_character
from connector.datadog.models import AccessToken, APIKey, ApplicationKey
from connector.datadog.paging import Page as DatadogPage
from connector.datadog.resources import types
from connector.datadog.resources.tokens import PageNumberTokens, next_token, page_number

STATIC_SECRET = annotation_trait_pb2.SecretTrait.CredentialType.CREDENTIAL_TYPE_STATIC_SECRET
# The SecretTrait's `credential_detail` of each kind: the same on a key synced here and on one just issued
# (connector/datadog/credentials.py), so ConductorOne sees one kind of credential either way.
API_KEY_DETAIL = "datadog.api_key"
APP_KEY_DETAIL = "datadog.service_account_application_key"
ACCESS_TOKEN_DETAIL = "datadog.service_access_token"  # noqa: S105 - a kind's name


LAST4_CHARS = 4


def _last4(value: str | None) -> str | None:
    """A key's `last4` as Datadog sends it (its last four characters), or None for anything longer: the profile is
    written to the c1z and shown in ConductorOne, and a peer sending more there (up to the whole key) would put a
    live secret in both."""
    return value if value is not None and len(value) <= LAST4_CHARS else None


def api_key_resource(key: APIKey) -> resource_pb2.Resource:
    res = b.resource(types.API_KEY, key.id, key.name or key.id)
    b.add_secret_trait(
        res,
        profile_values={
            "name": key.name,
            "last4": _last4(key.last4),
            "category": key.category,
            "created_at": b.iso_time(key.created_at),
            "created_by": key.created_by_id,
            "modified_at": b.iso_time(key.modified_at),
        },
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        created_by=b.resource_id(types.USER.id, key.created_by_id) if key.created_by_id else None,
        credential_type=STATIC_SECRET,
        credential_detail=API_KEY_DETAIL,
    )
    return res


def app_key_resource(key: ApplicationKey, service_account: resource_pb2.ResourceId) -> resource_pb2.Resource:
    res = b.resource(types.SERVICE_ACCOUNT_APP_KEY, key.id, key.name or key.id, parent=service_account)
    profile: dict[str, object] = {
        "name": key.name,
        "last4": _last4(key.last4),
        "created_at": b.iso_time(key.created_at),
    }
    # Three states, as in the Go connector: absent (not reported), [] (unscoped: Datadog sends null), or the list.
    if key.scopes_reported:
        profile["scopes"] = list(key.scopes or [])
    b.add_secret_trait(
        res,
        profile_values=profile,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        identity=service_account,
        credential_type=STATIC_SECRET,
        credential_detail=APP_KEY_DETAIL,
    )
    return res


# -- service access tokens ---------------------------------------------------------------------------------

SAT_PREFIX = "sat:"


def is_malformed_id(value: str) -> bool:
    """The "malformed id" rule of docs/spec/credentials.md §4.6: blank (Go whitespace) or any control character."""
    return go_is_blank(value) or has_control_character(value)


def sat_handle(service_account_id: str, token_id: str) -> str:
    """A SAT's resource id: `sat:` + unpadded base64url(sa NUL token) (docs/spec/reference-connector.md §2).

    ConductorOne does not reliably send the parent on delete, so the id alone must name the owner.
    """
    raw = f"{service_account_id}\x00{token_id}".encode()
    return SAT_PREFIX + go_raw_url_b64encode(raw)


def parse_sat_handle(handle: str) -> tuple[str, str] | None:
    """(service account id, token id), or None when the handle is malformed (docs/spec/credentials.md §4.6)."""
    if not handle.startswith(SAT_PREFIX):
        return None
    decoded = go_raw_url_b64decode(handle[len(SAT_PREFIX) :])
    if decoded is None:
        return None
    try:
        raw = decoded.decode("utf-8")
    except UnicodeDecodeError:
        return None
    parts = raw.split("\x00")
    if len(parts) != 2 or any(is_malformed_id(p) for p in parts):
        return None
    return parts[0], parts[1]


def access_token_resource(token: AccessToken, service_account: resource_pb2.ResourceId) -> resource_pb2.Resource:
    res = b.resource(
        types.SERVICE_ACCOUNT_ACCESS_TOKEN,
        # A token without an id has no handle: the engine drops, logs and counts it, as any record without an id.
        sat_handle(service_account.resource, token.id) if token.id else "",
        token.name or token.id,
        parent=service_account,
    )
    profile: dict[str, object] = {"name": token.name, "token_id": token.id, "created_at": b.iso_time(token.created_at)}
    if token.scopes_reported:
        profile["scopes"] = list(token.scopes or [])
    b.add_secret_trait(
        res,
        profile_values=profile,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        expires_at=token.expires_at,
        identity=service_account,
        credential_type=STATIC_SECRET,
        credential_detail=ACCESS_TOKEN_DETAIL,
    )
    return res


class _NoGrants(PageNumberTokens):
    def entitlements(self, resource: resource_pb2.Resource) -> list[entitlement_pb2.Entitlement]:
        return []

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        return Page([])


class ApiKeySyncer(_NoGrants):
    def __init__(self, client: DatadogClient) -> None:
        self._client = client

    def resource_type(self) -> resource_pb2.ResourceType:
        return types.API_KEY

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        page = self._read(await self._client.list_api_keys(page_number(page_token)))
        # A key without an id goes on: the engine drops, logs and counts it (see TeamSyncer.list_grants).
        return Page([api_key_resource(k) for k in page.items], next_token(page))


K = TypeVar("K", ApplicationKey, AccessToken)


async def _of_enabled_account(listing: Awaitable[DatadogPage[K]]) -> DatadogPage[K]:
    """A page of an enabled service account's keys or tokens (only enabled ones are listed: `users.user_resource`).
    A 404 fails the sync rather than skip the listing, as Go's syncer does (docs/spec/reference-connector.md §5.4,
    fail-hard rules): skipped, the account's live keys were reported deleted."""
    try:
        return await listing
    except NotFound as exc:
        why = "not found, though the service account was enabled when listed: its keys are never skipped"
        raise not_skipped(exc, why, resumable=False) from None


class _PerServiceAccount(_NoGrants, ABC, Generic[K]):
    """Keys or tokens listed per service account: enabled service-account users carry a ChildResourceType for each
    such type (and the same flags gate both)."""

    def __init__(self, client: DatadogClient) -> None:
        self._client = client

    def listed_under(self) -> str:
        # Without the users in a sync (`--sync-resource-types` of this type), the engine walks them for the parents.
        return types.USER.id

    @abstractmethod
    def _list(self, account_id: str, number: int) -> Awaitable[DatadogPage[K]]: ...

    @abstractmethod
    def _build(self, item: K, account: resource_pb2.ResourceId) -> resource_pb2.Resource: ...

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        if parent is None:
            return Page([])
        page = self._read(await _of_enabled_account(self._list(parent.resource, page_number(page_token))))
        return Page([self._build(item, parent) for item in page.items], next_token(page))


class ServiceAccountAppKeySyncer(_PerServiceAccount[ApplicationKey]):
    def resource_type(self) -> resource_pb2.ResourceType:
        return types.SERVICE_ACCOUNT_APP_KEY

    def _list(self, account_id: str, number: int) -> Awaitable[DatadogPage[ApplicationKey]]:
        return self._client.list_service_account_app_keys(account_id, number)

    def _build(self, item: ApplicationKey, account: resource_pb2.ResourceId) -> resource_pb2.Resource:
        return app_key_resource(item, account)


class ServiceAccountAccessTokenSyncer(_PerServiceAccount[AccessToken]):
    def resource_type(self) -> resource_pb2.ResourceType:
        return types.SERVICE_ACCOUNT_ACCESS_TOKEN

    def _list(self, account_id: str, number: int) -> Awaitable[DatadogPage[AccessToken]]:
        return self._client.list_service_account_access_tokens(account_id, number)

    def _build(self, item: AccessToken, account: resource_pb2.ResourceId) -> resource_pb2.Resource:
        return access_token_resource(item, account)
