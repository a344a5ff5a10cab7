"""A second connector, for a made-up wiki SaaS, written on the generic baton layer alone (connector/baton).

It exists to prove the team guide's promise that the baton layer (protos, c1z store, sync engine, ConductorOne
client, task runner, service runner) is reusable by a connector that is not Datadog's: its resource types, ids and
entitlements are shaped nothing like Datadog's (accounts keyed by e-mail address, spaces by number, two entitlements
per space), it grants and revokes in memory, and it imports nothing but `connector.baton`. The worked example in
docs/service-mode.md ("A second connector") points here; tests/baton/second_connector/test_service.py runs it through
`run_service` against the fake ConductorOne.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from google.protobuf import any_pb2, timestamp_pb2

from connector.baton import builders as b
from connector.baton import ids
from connector.baton.annotations import pack
from connector.baton.capabilities import connector_capabilities
from connector.baton.connector import (
    AccountManager,
    ActionManager,
    Connector,
    CredentialIssuer,
    GrantResult,
    IssuedCredential,
    Page,
    ResourceDeleter,
    ResourceProvisioner,
    ResourceSyncer,
)
from connector.baton.errors import InvalidPrincipalError, NotFoundError, UnauthenticatedError, UnavailableError
from connector.baton.pb.c1.connector.v2 import (
    annotation_grant_pb2,
    connector_pb2,
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)
from connector.baton.runtime.service import StartupVerdict

ACCOUNT = b.resource_type("wiki_account", "Wiki account", [b.Trait.TRAIT_USER])
SPACE = b.resource_type("space", "Space", [b.Trait.TRAIT_GROUP])
SPACE_LEVELS = ("reader", "editor")
TOKEN = b.resource_type("wiki_api_token", "Wiki API token", [b.Trait.TRAIT_SECRET])


@dataclass
class Wiki:
    """The upstream system: accounts by e-mail, spaces by number, and who holds which level in which space."""

    accounts: dict[str, str] = field(default_factory=dict)  # e-mail -> display name
    spaces: dict[str, str] = field(default_factory=dict)  # number -> title
    members: set[tuple[str, str, str]] = field(default_factory=set)  # (space, level, e-mail)
    token_valid: bool = True
    down: bool = False
    """The wiki does not answer (its start-up check fails with UnavailableError)."""
    writes: list[tuple[str, str, str, str]] = field(default_factory=list)  # ("add" | "remove", space, level, e-mail)
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # token id -> (account e-mail, token value)
    hold: asyncio.Event | None = None
    """When set to an event, a grant waits for it before writing (a slow upstream); `granting` is set meanwhile."""
    granting: asyncio.Event = field(default_factory=asyncio.Event)


class AccountSyncer:
    def __init__(self, wiki: Wiki) -> None:
        self._wiki = wiki

    def resource_type(self) -> resource_pb2.ResourceType:
        return ACCOUNT

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        return Page([self._account(email) for email in sorted(self._wiki.accounts)])

    def _account(self, email: str) -> resource_pb2.Resource:
        return b.add_user_trait(b.resource(ACCOUNT, email, self._wiki.accounts[email]), emails=[email], login=email)

    def entitlements(self, resource: resource_pb2.Resource) -> list[entitlement_pb2.Entitlement]:
        return []

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        return Page([])


class SpaceSyncer:
    """Spaces, listed one per page (so the engine's paging is used), with their members' grants."""

    def __init__(self, wiki: Wiki) -> None:
        self._wiki = wiki

    def resource_type(self) -> resource_pb2.ResourceType:
        return SPACE

    def _space(self, number: str) -> resource_pb2.Resource:
        return b.add_group_trait(b.resource(SPACE, number, self._wiki.spaces[number]))

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        numbers = sorted(self._wiki.spaces, key=int)
        at = int(page_token or 0)
        return Page(
            [self._space(numbers[at])] if at < len(numbers) else [], str(at + 1) if at + 1 < len(numbers) else ""
        )

    def page_tokens_are_positions(self) -> bool:
        # A page token is an index into the sorted spaces (`PositionalPageTokens`): a space added or deleted between
        # an interrupted sync and its resumption moves the others, so the engine restarts this listing on resume.
        return True

    def entitlements(self, resource: resource_pb2.Resource) -> list[entitlement_pb2.Entitlement]:
        return [b.entitlement(resource, level, grantable_to=[ACCOUNT]) for level in SPACE_LEVELS]

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        space = resource.id.resource
        return Page(
            [
                b.grant(resource, level, b.resource_id(ACCOUNT.id, email))
                for (number, level, email) in sorted(self._wiki.members)
                if number == space
            ]
        )

    async def grant(self, principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement) -> GrantResult:
        space, level, email = self._target(principal.id, entitlement)
        self._wiki.granting.set()
        if self._wiki.hold is not None:
            await self._wiki.hold.wait()
        self._wiki.writes.append(("add", space, level, email))
        self._wiki.members.add((space, level, email))
        return GrantResult([b.grant(self._space(space), level, principal.id)])

    async def revoke(self, grant: grant_pb2.Grant) -> list[any_pb2.Any]:
        space, level, email = self._target(grant.principal.id, grant.entitlement)
        ids.check_grant_id(grant.id, ids.entitlement_id(SPACE.id, space, level), ACCOUNT.id, email)
        self._wiki.writes.append(("remove", space, level, email))
        if (space, level, email) not in self._wiki.members:
            return [pack(annotation_grant_pb2.GrantAlreadyRevoked())]
        self._wiki.members.discard((space, level, email))
        return []

    def _target(
        self, principal: resource_pb2.ResourceId, entitlement: entitlement_pb2.Entitlement
    ) -> tuple[str, str, str]:
        if principal.resource_type != ACCOUNT.id:
            raise InvalidPrincipalError(
                f"a space is granted to wiki accounts, not {principal.resource_type!r}", of_type=True
            )
        if principal.resource not in self._wiki.accounts:
            raise InvalidPrincipalError(f"no wiki account {principal.resource!r}", of_type=False)
        # A revoke's grant embeds its entitlement as the SDK's NewGrant does, {id, resource}: no slug.
        space = entitlement.resource.id.resource
        level = ids.entitlement_slug(entitlement, entitlement.resource.id)
        if space not in self._wiki.spaces:
            raise NotFoundError(f"no space {space!r}")
        if level not in SPACE_LEVELS:
            raise NotFoundError(f"no level {level!r} in a space")
        return space, level, principal.resource


class TokenSyncer:
    """The accounts' API tokens, as secrets (their values are never synced)."""

    def __init__(self, wiki: Wiki) -> None:
        self._wiki = wiki

    def resource_type(self) -> resource_pb2.ResourceType:
        return TOKEN

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        return Page([token_resource(token_id, email) for token_id, (email, _) in sorted(self._wiki.tokens.items())])

    def entitlements(self, resource: resource_pb2.Resource) -> list[entitlement_pb2.Entitlement]:
        return []

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        return Page([])


def token_resource(token_id: str, email: str) -> resource_pb2.Resource:
    return b.add_secret_trait(
        b.resource(TOKEN, token_id, f"token {token_id}"), identity=b.resource_id(ACCOUNT.id, email)
    )


class TokenIssuer:
    """Mints an account's API token for ConductorOne (which receives it encrypted), and deletes it again."""

    def __init__(self, wiki: Wiki) -> None:
        self._wiki = wiki

    def credential_issue_details(self) -> connector_pb2.CredentialDetailsCredentialIssue:
        return connector_pb2.CredentialDetailsCredentialIssue(
            options=[
                connector_pb2.CredentialIssueOptionDescriptor(
                    option=connector_pb2.CAPABILITY_DETAIL_CREDENTIAL_OPTION_TOKEN,
                    resource_mode=resource_pb2.CREDENTIAL_RESOURCE_MODE_DISCOVERABLE,
                    secret_resource_type_id=TOKEN.id,
                )
            ],
            preferred_option=connector_pb2.CAPABILITY_DETAIL_CREDENTIAL_OPTION_TOKEN,
        )

    async def issue_credential(
        self,
        identity_id: resource_pb2.ResourceId,
        options: resource_pb2.CredentialIssueOptions,
        expires_at: timestamp_pb2.Timestamp | None,
        request_id: str,
    ) -> IssuedCredential:
        email = identity_id.resource
        if email not in self._wiki.accounts:
            raise NotFoundError(f"no wiki account {email!r}")
        token_id, value = f"tok-{len(self._wiki.tokens) + 1}", f"wiki-secret-{request_id}"
        self._wiki.tokens[token_id] = (email, value)
        return IssuedCredential(
            secret=token_resource(token_id, email),
            plaintexts=[resource_pb2.PlaintextData(name="token", bytes=value.encode())],
            resource_mode=resource_pb2.CREDENTIAL_RESOURCE_MODE_DISCOVERABLE,
        )

    async def rollback_credential(self, secret_id: resource_pb2.ResourceId) -> bool:
        return self._wiki.tokens.pop(secret_id.resource, None) is not None

    async def delete_resource(
        self, resource_id: resource_pb2.ResourceId, parent_resource_id: resource_pb2.ResourceId | None = None
    ) -> list[any_pb2.Any]:
        if self._wiki.tokens.pop(resource_id.resource, None) is None:
            raise NotFoundError(f"no wiki token {resource_id.resource!r}")
        return []


class WikiConnector:
    def __init__(self, wiki: Wiki) -> None:
        self._wiki = wiki
        self._spaces = SpaceSyncer(wiki)
        self._tokens = TokenIssuer(wiki)
        self._syncers: list[ResourceSyncer] = [AccountSyncer(wiki), self._spaces, TokenSyncer(wiki)]

    def metadata(self) -> connector_pb2.ConnectorMetadata:
        return connector_pb2.ConnectorMetadata(
            display_name="Wiki",
            description="A second connector, as a test fixture",
            capabilities=connector_capabilities(self, permissions={SPACE.id: ("spaces:admin",)}),
        )

    async def validate(self) -> None:
        if self._wiki.down:
            raise UnavailableError("the wiki did not answer")
        if not self._wiki.token_valid:
            raise UnauthenticatedError("the wiki refused the API token")

    def syncers(self) -> Sequence[ResourceSyncer]:
        return self._syncers

    def provisioner(self, resource_type_id: str) -> ResourceProvisioner | None:
        return self._spaces if resource_type_id == SPACE.id else None

    def account_manager(self) -> AccountManager | None:
        return None

    def resource_deleter(self, resource_type_id: str) -> ResourceDeleter | None:
        return self._tokens if resource_type_id == TOKEN.id else None

    def credential_issuer(self, resource_type_id: str) -> CredentialIssuer | None:
        return self._tokens if resource_type_id == ACCOUNT.id else None

    def action_manager(self) -> ActionManager | None:
        return None


class WikiApp:
    """The wiki connector as the service runner sees it (`ServiceApp`)."""

    build_name = "baton-wiki"
    version = "0.0.1"

    def __init__(self, wiki: Wiki) -> None:
        self.wiki = wiki
        self.closed = False

    def open(self) -> Connector:
        return WikiConnector(self.wiki)

    def startup_verdict(self, error: Exception) -> StartupVerdict | None:
        if isinstance(error, UnauthenticatedError):
            return StartupVerdict(True, "the wiki refused the API token; fix BATON_WIKI_TOKEN")
        return None

    async def aclose(self) -> None:
        self.closed = True
