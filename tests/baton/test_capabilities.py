"""The capabilities a connector advertises are derived by the baton layer from what it implements
(connector/baton/capabilities.py), as baton-sdk's builder derives them: a second connector never hand-writes them, and
a provisioner, deleter or account manager it adds is advertised with it. The Datadog connector's table is this
derivation with its permissions (tests/datadog/test_connector_metadata.py)."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf import any_pb2, struct_pb2

from connector.baton.capabilities import connector_capabilities
from connector.baton.connector import AccountManager, ActionManager, ActionResult, ResourceDeleter
from connector.baton.pb.c1.connector.v2 import action_pb2, connector_pb2, resource_pb2
from tests.baton.second_connector.wiki import ACCOUNT, SPACE, TOKEN, Wiki, WikiConnector

Cap = connector_pb2.Capability


class Deleter:
    async def delete_resource(
        self, resource_id: resource_pb2.ResourceId, parent_resource_id: resource_pb2.ResourceId | None = None
    ) -> list[any_pb2.Any]:
        return []


class Actions:
    def action_names(self) -> Sequence[str]:
        return ["archive"]

    def action_schemas(self) -> Sequence[action_pb2.BatonActionSchema]:
        return [action_pb2.BatonActionSchema(name="archive")]

    async def invoke_action(self, name: str, args: struct_pb2.Struct) -> ActionResult:
        return ActionResult(struct_pb2.Struct())


class Accounts:
    def account_creation_schema(self) -> connector_pb2.ConnectorAccountCreationSchema:
        return connector_pb2.ConnectorAccountCreationSchema()

    async def create_account(self, info: object) -> object:
        raise NotImplementedError


class FullWiki(WikiConnector):
    """The wiki connector with everything else a connector may offer: accounts, deletion of spaces, an action."""

    def account_manager(self) -> AccountManager | None:
        return Accounts()  # type: ignore[return-value]  # create_account is never called here

    def resource_deleter(self, resource_type_id: str) -> ResourceDeleter | None:
        return Deleter() if resource_type_id == SPACE.id else super().resource_deleter(resource_type_id)

    def action_manager(self) -> ActionManager | None:
        return Actions()


def _by_type(capabilities: connector_pb2.ConnectorCapabilities) -> dict[str, list[int]]:
    return {c.resource_type.id: list(c.capabilities) for c in capabilities.resource_type_capabilities}


def test_each_type_advertises_what_its_connector_implements_for_it_in_the_sdks_order() -> None:
    capabilities = connector_capabilities(
        FullWiki(Wiki(accounts={}, spaces={})), accounts_of=ACCOUNT.id, permissions={SPACE.id: ("spaces:admin",)}
    )
    issuing = [Cap.CAPABILITY_CREDENTIAL_ISSUE, Cap.CAPABILITY_CREDENTIAL_ENCRYPTION_JWE_XWING_V1]
    assert _by_type(capabilities) == {
        ACCOUNT.id: [Cap.CAPABILITY_SYNC, Cap.CAPABILITY_ACCOUNT_PROVISIONING, *issuing],
        SPACE.id: [Cap.CAPABILITY_SYNC, Cap.CAPABILITY_PROVISION, Cap.CAPABILITY_RESOURCE_DELETE],
        TOKEN.id: [Cap.CAPABILITY_SYNC, Cap.CAPABILITY_RESOURCE_DELETE],
    }
    assert list(capabilities.connector_capabilities) == sorted(
        {
            Cap.CAPABILITY_SYNC,
            Cap.CAPABILITY_PROVISION,
            Cap.CAPABILITY_ACCOUNT_PROVISIONING,
            Cap.CAPABILITY_RESOURCE_DELETE,
            Cap.CAPABILITY_ACTIONS,
            *issuing,
        }
    )
    (space,) = [c for c in capabilities.resource_type_capabilities if c.resource_type.id == SPACE.id]
    assert [p.permission for p in space.permissions.permissions] == ["spaces:admin"]


def test_an_account_manager_without_a_named_type_advertises_no_account_provisioning() -> None:
    """Which type an account manager creates is the connector's to say: none is guessed."""
    capabilities = connector_capabilities(FullWiki(Wiki()))
    assert all(
        Cap.CAPABILITY_ACCOUNT_PROVISIONING not in c.capabilities for c in capabilities.resource_type_capabilities
    )
