"""What a connector implements for the baton layer: resource syncers and provisioning operations.

Shaped after baton-sdk's connector builder: one syncer per resource type that lists resources page by
page, derives that type's entitlements from a resource alone (no upstream call), and lists grants page by
page. Provisioning is split into small protocols so a connector implements only what its system supports
and the task runner can tell "unsupported" from "failed".
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from google.protobuf import any_pb2, struct_pb2, timestamp_pb2

from connector.baton.pb.c1.connector.v2 import (
    action_pb2,
    connector_pb2,
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)

T = TypeVar("T")


@dataclass(slots=True)
class Page(Generic[T]):
    """One page of results and the opaque token of the next page ('' when this was the last)."""

    items: list[T]
    next_token: str = ""
    # Grants learned while listing resources: Datadog returns a user's roles with the user, so the role
    # grants cost no request of their own. The engine stores them exactly like listed grants.
    grants: list[grant_pb2.Grant] = field(default_factory=list)


@runtime_checkable
class ResourceSyncer(Protocol):
    """Syncs one resource type."""

    def resource_type(self) -> resource_pb2.ResourceType: ...

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]: ...

    def entitlements(self, resource: resource_pb2.Resource) -> list[entitlement_pb2.Entitlement]:
        """Static: computed from the resource alone, never an upstream request."""
        ...

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]: ...


@runtime_checkable
class ResourceGetter(Protocol):
    """A syncer that can fetch one resource, for targeted (partial) syncs."""

    async def get_resource(self, resource_id: resource_pb2.ResourceId) -> resource_pb2.Resource: ...


@runtime_checkable
class PageTokenChecker(Protocol):
    """A syncer that can tell, without a request, whether a page token is one it could have written.

    A resumed sync's tokens come from a c1z's bytes, possibly written by another connector build (the Go
    connector's pagination bags are JSON): the engine starts such a sync over instead of failing every resume
    on a token the syncer refuses.
    """

    def page_token_problem(self, page_token: str) -> str | None:
        """What is wrong with a non-empty `page_token` of this syncer's listings, or None."""
        ...


@runtime_checkable
class PositionalPageTokens(Protocol):
    """A syncer whose page tokens are positions in a sorted list (page numbers, offsets), not cursors.

    Between an interrupted run and the one that resumes it, an item renamed, added or deleted moves others across
    page boundaries: resumed at the saved position, a listing never reads an item that moved onto a page it had
    already read, and the sync is saved as complete without it (ConductorOne sees it deleted). The engine restarts
    such a listing that was in progress from its first page; the pages read again are upserted over themselves.
    """

    def page_tokens_are_positions(self) -> bool:
        """True when a saved page token may point past items that moved since it was saved."""
        ...


@runtime_checkable
class SideLoadedGrants(Protocol):
    """A syncer whose grants normally arrive with another type's resource pages (`Page.grants`).

    When that other type is not listed in a sync (a targeted sync, or a resource-type filter without it), the
    engine calls `list_grants_directly` instead of `list_grants`, so the grants are never silently missing.
    """

    def grants_side_loaded_by(self) -> str:
        """The resource type whose `list_resources` pages carry these grants."""
        ...

    async def list_grants_directly(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]: ...


@runtime_checkable
class EndsWithTheSync(Protocol):
    """A syncer that starts work of its own between the engine's calls (the pages after the one asked for, fetched
    ahead while the engine stores it): the engine tells it when the sync it served ends, however it ends (finished,
    failed, cancelled), and that work is to end with it. Left running, a sync that failed between two pages (an item
    it refused, a store write, another listing's failure) kept the pages after its last one in flight: requests to the
    upstream for a sync already given up, holding the client's slots (a grant behind them waited for their answers)."""

    def sync_ended(self) -> Collection[asyncio.Future[Any]]:
        """Stop what this syncer still has under way for the sync, at once and without raising; what was stopped is
        returned, for the engine to wait for its end."""
        ...


@runtime_checkable
class ListedAsChildren(Protocol):
    """A syncer whose resources are listed per parent: each parent resource carries a `ChildResourceType` for this
    type, and `list_resources` without a parent lists nothing.

    When the parent type is not listed in a sync (a resource-type filter without it), the engine walks the parent
    type's listing itself, storing none of it, and lists this type under every parent that names it: a filter on
    this type alone never gives a "successful" sync with its resources missing. That top-level action's page
    tokens are the parent type's.
    """

    def listed_under(self) -> str:
        """The resource type whose resources carry the `ChildResourceType` for this one."""
        ...


@runtime_checkable
class ResourceProvisioner(Protocol):
    """A syncer whose entitlements ConductorOne can grant and revoke."""

    async def grant(
        self, principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement
    ) -> GrantResult: ...

    async def revoke(self, grant: grant_pb2.Grant) -> list[any_pb2.Any]:
        """Returns response annotations (e.g. GrantAlreadyRevoked)."""
        ...


@dataclass(slots=True)
class GrantResult:
    grants: list[grant_pb2.Grant]
    annotations: list[any_pb2.Any] = field(default_factory=list)


@dataclass(slots=True)
class AccountInfo:
    """What ConductorOne sends to create an account: emails, login and the profile fields of the schema."""

    emails: list[str]  # the primary one first
    login: str
    profile: dict[str, object]


@dataclass(slots=True)
class CreateAccountResult:
    resource: resource_pb2.Resource
    # True when the account was created and the user must act (e.g. accept an emailed invitation).
    action_required: bool = False
    message: str = ""
    annotations: list[any_pb2.Any] = field(default_factory=list)


@runtime_checkable
class AccountManager(Protocol):
    def account_creation_schema(self) -> connector_pb2.ConnectorAccountCreationSchema: ...

    async def create_account(self, info: AccountInfo) -> CreateAccountResult: ...


@runtime_checkable
class ResourceDeleter(Protocol):
    async def delete_resource(
        self, resource_id: resource_pb2.ResourceId, parent_resource_id: resource_pb2.ResourceId | None = None
    ) -> list[any_pb2.Any]:
        """Delete (revoke) one resource; `parent_resource_id` is the task's when ConductorOne sent one
        (docs/spec/credentials.md §3.4: it usually does not, so a deleter must not depend on it)."""
        ...


@dataclass(slots=True)
class IssuedCredential:
    """What a connector minted for an `issue_credential` task (docs/spec/credentials.md §3.2 step 12).

    The plaintexts are encrypted by the baton layer at once and never kept; the connector must not log them.
    """

    # The credential as a resource; carries a SecretTrait annotation whose identity_id == the request's.
    secret: resource_pb2.Resource
    plaintexts: list[resource_pb2.PlaintextData] = field(repr=False)  # never printed: it is the secret
    resource_mode: int  # a resource_pb2.CredentialResourceMode value
    annotations: list[any_pb2.Any] = field(default_factory=list)


_UNDONE_ON_STOP: ContextVar[list[str] | None] = ContextVar("undone_on_stop", default=None)
"""Inside a handler the task processor runs (`noting_undone_on_stop`): where `undone_on_stop` puts its words."""


def undone_on_stop(words: str) -> None:
    """Said by code cancelled mid-way (the shutdown) that took back what it had made, confirmed, before letting the
    cancellation go on (an issuance's minted credential deleted again, by its id or found by its name): the task
    processor's report of the stopped task says `words` instead of "a change it had already sent may have been made
    all the same", which sent someone to look for a credential the provider had confirmed deleted. Here, in the
    interface a connector implements, so that a connector's own cleanup can say it (the task layer is no connector's
    to import); a no-op outside the processor."""
    said = _UNDONE_ON_STOP.get()
    if said is not None:
        said.append(words)


@contextmanager
def noting_undone_on_stop(said: list[str]) -> Iterator[None]:
    """`undone_on_stop` puts its words in `said` within the block: the processor's handler, whose cancellation leaves
    only this to read."""
    token = _UNDONE_ON_STOP.set(said)
    try:
        yield
    finally:
        _UNDONE_ON_STOP.reset(token)


@runtime_checkable
class CredentialIssuer(Protocol):
    """Mints credentials for identities of one resource type (docs/spec/credentials.md §3)."""

    def credential_issue_details(self) -> connector_pb2.CredentialDetailsCredentialIssue:
        """The advertised descriptors (§3.7); the task checks requests against them before minting."""
        ...

    async def issue_credential(
        self,
        identity_id: resource_pb2.ResourceId,
        options: resource_pb2.CredentialIssueOptions,
        expires_at: timestamp_pb2.Timestamp | None,
        request_id: str,
    ) -> IssuedCredential: ...

    async def rollback_credential(self, secret_id: resource_pb2.ResourceId) -> bool:
        """Delete what issue_credential minted: called when encrypting it failed, so no live key is left behind. True
        when the provider deleted it; False when it answered that it has no such credential: nothing was deleted, and
        one minted a moment ago may still be live (the failure must not say it was deleted). A failure raises."""
        ...


@dataclass(slots=True)
class ActionResult:
    response: struct_pb2.Struct
    annotations: list[any_pb2.Any] = field(default_factory=list)


@runtime_checkable
class ActionManager(Protocol):
    """Named actions such as enable_user / disable_user."""

    def action_names(self) -> Sequence[str]: ...

    def action_schemas(self) -> Sequence[action_pb2.BatonActionSchema]:
        """One schema per action name (connector/baton/actions.py builds them), in a stable order."""
        ...

    async def invoke_action(self, name: str, args: struct_pb2.Struct) -> ActionResult: ...


@runtime_checkable
class IdKeys(Protocol):
    """A connector whose upstream takes one object under ids that differ in more than their bytes (UUIDs in either
    case). The task runner orders a grant and a revoke of one access by it (`TaskProcessor`): compared as bytes, two
    tasks naming one membership in two spellings ran side by side and could land in the wrong order. A connector
    without it has ids that are equal only as bytes."""

    def id_key(self, resource_type_id: str, resource_id: str) -> str:
        """The form of a `resource_type_id` resource's id under which two ids naming the same object are equal."""
        ...


@runtime_checkable
class Connector(Protocol):
    """The whole connector as the baton layer sees it."""

    def metadata(self) -> connector_pb2.ConnectorMetadata: ...

    async def validate(self) -> None:
        """Raise a ConnectorError naming what is wrong (e.g. which credential) when the upstream is unusable."""
        ...

    def syncers(self) -> Sequence[ResourceSyncer]: ...

    # Provisioning lookups: None means "this connector does not do that" (the task runner then reports the
    # task as unsupported/failed, non-retryable), never a stub that pretends to succeed.

    def provisioner(self, resource_type_id: str) -> ResourceProvisioner | None:
        """Grants and revokes entitlements of this resource type."""
        ...

    def account_manager(self) -> AccountManager | None: ...

    def resource_deleter(self, resource_type_id: str) -> ResourceDeleter | None: ...

    def credential_issuer(self, resource_type_id: str) -> CredentialIssuer | None:
        """Issues credentials to identities of this resource type (deletion goes through resource_deleter)."""
        ...

    def action_manager(self) -> ActionManager | None: ...
