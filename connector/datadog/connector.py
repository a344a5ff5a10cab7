"""The Datadog connector as the baton layer sees it: its syncers, metadata and validation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connector.baton.capabilities import connector_capabilities
from connector.baton.connector import (
    AccountManager,
    ActionManager,
    CredentialIssuer,
    ResourceDeleter,
    ResourceProvisioner,
    ResourceSyncer,
)
from connector.baton.pb.c1.connector.v2 import connector_pb2
from connector.datadog.client import DatadogClient
from connector.datadog.credentials import AccessTokenDeleter, ApiKeyDeleter, AppKeyDeleter, DatadogCredentialIssuer
from connector.datadog.idrules import id_key
from connector.datadog.provisioning import (
    AccountCreator,
    RoleProvisioner,
    TeamProvisioner,
    UserActions,
)
from connector.datadog.resources import types
from connector.datadog.resources.keys import (
    ApiKeySyncer,
    ServiceAccountAccessTokenSyncer,
    ServiceAccountAppKeySyncer,
)
from connector.datadog.resources.roles import RoleSyncer
from connector.datadog.resources.schedules import ScheduleSyncer
from connector.datadog.resources.teams import TeamSyncer
from connector.datadog.resources.users import UserSyncer
from connector.datadog.sites import SITES


@dataclass(frozen=True, slots=True)
class DatadogOptions:
    """What to sync and allow; the meanings follow the Go connector's flags of the same names."""

    site: str = "datadoghq.com"
    sync_secrets: bool = False
    sync_schedules: bool = False
    sync_service_account_application_keys: bool = False
    allow_org_api_key_deletion: bool = False
    provisioning: bool = False

    @property
    def app_keys(self) -> bool:
        """Service-account application keys and access tokens (SATs): synced, and with provisioning on,
        issued and deleted (docs/spec/credentials.md §3.7)."""
        return self.sync_secrets and self.sync_service_account_application_keys

    @property
    def org_key_deletion(self) -> bool:
        # Deleting an org API key breaks whatever uses it, so it takes its own opt-in on top of provisioning,
        # and the keys must be synced for ConductorOne to know them at all. Issuing one needs the same: the
        # deleter is the revoke path of an issued key.
        return self.provisioning and self.allow_org_api_key_deletion and self.sync_secrets

    @property
    def issues_app_keys(self) -> bool:
        return self.provisioning and self.app_keys

    @property
    def issues_credentials(self) -> bool:
        return self.issues_app_keys or self.org_key_deletion

    @property
    def site_lacks_on_call(self) -> bool:
        """Whether the site has no Datadog On-Call (us2.ddog-gov.com): no schedules are synced there, whatever is
        asked; asking would fail the sync with 404s."""
        site = SITES.get(self.site)
        return site is not None and not site.supports_on_call

    @property
    def schedules(self) -> bool:
        return self.sync_schedules and not self.site_lacks_on_call


# Datadog permissions each type needs, as the Go connector advertises them (docs/spec/reference-connector.md §1e).
_PERMISSIONS: dict[str, tuple[str, ...]] = {
    types.USER.id: ("user_access_invite", "user_access_manage"),
    types.ROLE.id: ("user_access_manage",),
    types.TEAM.id: ("user_access_manage",),
    types.SCHEDULE.id: ("on_call_read",),
    types.API_KEY.id: ("api_keys_read",),
    types.SERVICE_ACCOUNT_APP_KEY.id: ("service_account_write", "org_app_keys_read"),
    types.SERVICE_ACCOUNT_ACCESS_TOKEN.id: ("service_account_write",),
}


class DatadogConnector:
    def __init__(self, client: DatadogClient, options: DatadogOptions) -> None:
        self.client = client
        self.options = options
        self._issuer: DatadogCredentialIssuer | None = None

    async def validate(self) -> None:
        await self.client.validate()

    def syncers(self) -> Sequence[ResourceSyncer]:
        out: list[ResourceSyncer] = [
            UserSyncer(self.client, app_key_children=self.options.app_keys),
            RoleSyncer(self.client),
            TeamSyncer(self.client),
        ]
        if self.options.schedules:
            out.append(ScheduleSyncer(self.client))
        if self.options.sync_secrets:
            out.append(ApiKeySyncer(self.client))
        if self.options.app_keys:
            out.append(ServiceAccountAppKeySyncer(self.client))
            out.append(ServiceAccountAccessTokenSyncer(self.client))
        return out

    def metadata(self) -> connector_pb2.ConnectorMetadata:
        accounts = self.account_manager()
        return connector_pb2.ConnectorMetadata(
            account_creation_schema=accounts.account_creation_schema() if accounts is not None else None,
            display_name="Datadog",
            help_url="/docs/baton/datadog",
            description="Syncs Datadog users, roles, teams, On-Call schedules and keys; grants and revokes "
            "role and team membership.",
            capabilities=connector_capabilities(self, accounts_of=types.USER.id, permissions=self._permissions()),
        )

    def _permissions(self) -> dict[str, tuple[str, ...]]:
        if not self.options.org_key_deletion:
            return _PERMISSIONS
        return {
            **_PERMISSIONS,
            types.API_KEY.id: (*_PERMISSIONS[types.API_KEY.id], "api_keys_write", "api_keys_delete"),
        }

    # -- provisioning (connector/datadog/provisioning.py) -------------------------------------------------
    # Every lookup answers None unless provisioning is on: the task runner then fails the task as "provisioning
    # is not enabled", never as a silent success.

    def provisioner(self, resource_type_id: str) -> ResourceProvisioner | None:
        if not self.options.provisioning:
            return None
        # Schedules and keys have nothing to grant: on-call comes from Datadog's rotations, keys are secrets.
        provisioners = {types.ROLE.id: RoleProvisioner, types.TEAM.id: TeamProvisioner}
        cls = provisioners.get(resource_type_id)
        return cls(self.client) if cls is not None else None

    def account_manager(self) -> AccountManager | None:
        return AccountCreator(self.client) if self.options.provisioning else None

    def resource_deleter(self, resource_type_id: str) -> ResourceDeleter | None:
        # docs/spec/credentials.md §4.6; every type an issuer mints has a deleter (its revoke path).
        if resource_type_id == types.API_KEY.id and self.options.org_key_deletion:
            return ApiKeyDeleter(self.client)
        if resource_type_id == types.SERVICE_ACCOUNT_APP_KEY.id and self.options.issues_app_keys:
            return AppKeyDeleter(self.client)
        if resource_type_id == types.SERVICE_ACCOUNT_ACCESS_TOKEN.id and self.options.issues_app_keys:
            return AccessTokenDeleter(self.client)
        return None

    def action_manager(self) -> ActionManager | None:
        return UserActions(self.client) if self.options.provisioning else None

    def id_key(self, resource_type_id: str, resource_id: str) -> str:
        # Datadog takes a UUID in either case: a grant and a revoke of one membership may spell it two ways.
        return id_key(resource_id)

    def credential_issuer(self, resource_type_id: str) -> CredentialIssuer | None:
        # Issuance targets users (service accounts), only for the kinds the flags enable (docs/spec/credentials.md
        # §3.7); one issuer per connector, so a rollback finds the owners it remembers.
        if resource_type_id != types.USER.id or not self.options.issues_credentials:
            return None
        if self._issuer is None:
            self._issuer = DatadogCredentialIssuer(
                self.client, app_keys=self.options.issues_app_keys, org_keys=self.options.org_key_deletion
            )
        return self._issuer
