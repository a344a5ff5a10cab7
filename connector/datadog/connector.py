"""The Datadog connector as the baton layer sees it: its syncers, metadata and validation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connector.baton.connector import (
    AccountManager,
    ActionManager,
    CredentialIssuer,
    ResourceDeleter,
    ResourceProvisioner,
    ResourceSyncer,
)
from connector.baton.pb.c1.connector.v2 import connector_pb2, resource_pb2
from connector.datadog.client import DatadogClient
from connector.datadog.provisioning import (
    AccountCreator,
    ApiKeyDeleter,
    RoleProvisioner,
    TeamProvisioner,
    UserActions,
)
from connector.datadog.resources import types
from connector.datadog.resources.keys import ApiKeySyncer, ServiceAccountAppKeySyncer
from connector.datadog.resources.roles import RoleSyncer
from connector.datadog.resources.schedules import ScheduleSyncer
from connector.datadog.resources.teams import TeamSyncer
from connector.datadog.resources.users import UserSyncer
from connector.datadog.sites import SITES

Capability = connector_pb2.Capability


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
        return self.sync_secrets and self.sync_service_account_application_keys

    @property
    def schedules(self) -> bool:
        # On-Call does not exist on us2.ddog-gov.com; asking would fail the sync with 404s.
        site = SITES.get(self.site)
        return self.sync_schedules and (site is None or site.supports_on_call)


# Datadog permissions each type needs, as the Go connector advertises them (docs/spec/reference-connector.md §1e).
_PERMISSIONS: dict[str, tuple[str, ...]] = {
    types.USER.id: ("user_access_invite", "user_access_manage"),
    types.ROLE.id: ("user_access_manage",),
    types.TEAM.id: ("user_access_manage",),
    types.SCHEDULE.id: ("on_call_read",),
    types.API_KEY.id: ("api_keys_read",),
    types.SERVICE_ACCOUNT_APP_KEY.id: ("service_account_write", "org_app_keys_read"),
}


class DatadogConnector:
    def __init__(self, client: DatadogClient, options: DatadogOptions) -> None:
        self.client = client
        self.options = options

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
        return out

    def metadata(self) -> connector_pb2.ConnectorMetadata:
        accounts = self.account_manager()
        return connector_pb2.ConnectorMetadata(
            account_creation_schema=accounts.account_creation_schema() if accounts is not None else None,
            display_name="Datadog",
            help_url="/docs/baton/datadog",
            description="Syncs Datadog users, roles, teams, On-Call schedules and keys; grants and revokes "
            "role and team membership.",
            capabilities=connector_pb2.ConnectorCapabilities(
                resource_type_capabilities=[self._capability(s.resource_type()) for s in self.syncers()],
                connector_capabilities=self._connector_capabilities(),
            ),
        )

    def _capability(self, rtype: resource_pb2.ResourceType) -> connector_pb2.ResourceTypeCapability:
        caps = [Capability.CAPABILITY_SYNC]
        permissions = list(_PERMISSIONS.get(rtype.id, ()))
        if self.options.provisioning and rtype.id in (types.ROLE.id, types.TEAM.id):
            caps.append(Capability.CAPABILITY_PROVISION)
        if rtype.id == types.USER.id and self.options.provisioning:
            caps.append(Capability.CAPABILITY_ACCOUNT_PROVISIONING)
        if rtype.id in (types.API_KEY.id, types.SERVICE_ACCOUNT_APP_KEY.id):
            caps.append(Capability.CAPABILITY_SYNC_SECRETS)
        if rtype.id == types.API_KEY.id and self.options.allow_org_api_key_deletion and self.options.provisioning:
            caps.append(Capability.CAPABILITY_RESOURCE_DELETE)
            permissions += ["api_keys_write", "api_keys_delete"]
        return connector_pb2.ResourceTypeCapability(
            resource_type=rtype,
            capabilities=caps,
            permissions=connector_pb2.CapabilityPermissions(
                permissions=[connector_pb2.CapabilityPermission(permission=p) for p in permissions]
            ),
        )

    def _connector_capabilities(self) -> list[connector_pb2.Capability.ValueType]:
        # No TARGETED_SYNC: role grants come from the users walk, so a sync of one role alone would miss them.
        caps = [Capability.CAPABILITY_SYNC]
        if self.options.provisioning:
            caps += [
                Capability.CAPABILITY_PROVISION,
                Capability.CAPABILITY_ACCOUNT_PROVISIONING,
                Capability.CAPABILITY_ACTIONS,
            ]
        if self.options.sync_secrets:
            caps.append(Capability.CAPABILITY_SYNC_SECRETS)
        return caps

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
        # Deleting an org API key breaks whatever uses it, so it takes its own opt-in on top of provisioning,
        # and the keys must be synced for ConductorOne to know them at all.
        allowed = self.options.provisioning and self.options.allow_org_api_key_deletion and self.options.sync_secrets
        return ApiKeyDeleter(self.client) if allowed and resource_type_id == types.API_KEY.id else None

    def action_manager(self) -> ActionManager | None:
        return UserActions(self.client) if self.options.provisioning else None

    def credential_issuer(self, resource_type_id: str) -> CredentialIssuer | None:
        # Issuance is not offered yet (docs/spec/credentials.md §4); the task then fails as unimplemented.
        return None
