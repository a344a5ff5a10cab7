"""The capabilities a connector advertises in its Hello, derived from what it implements, as baton-sdk's connector
builder derives them (docs/spec/credentials.md §3.7 gives the order).

ConductorOne reads them to decide what it may ask of the connector: a type without PROVISION is never offered a
grant. A connector hand-writing them must keep them in step with its provisioners, deleters and issuers, so the
derivation is the baton layer's: per synced type SYNC, TARGETED_SYNC (its syncer can fetch one resource), PROVISION
(it has a provisioner), ACCOUNT_PROVISIONING (the type its account manager creates), RESOURCE_DELETE (it has a
deleter), then issuance (`advertise_issuance`); connector-wide the union of those, sorted by number, with
SERVICE_MODE_TARGETED_SYNC beside TARGETED_SYNC and ACTIONS with an action manager; the types listed by id; and the
account manager's credential option in `credential_details` (`_credential_details`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from connector.baton.connector import Connector, ResourceGetter
from connector.baton.issuance import advertise_issuance
from connector.baton.pb.c1.connector.v2 import connector_pb2

Capability = connector_pb2.Capability


def connector_capabilities(
    connector: Connector,
    *,
    accounts_of: str | None = None,
    permissions: Mapping[str, Sequence[str]] | None = None,
) -> connector_pb2.ConnectorCapabilities:
    """What `connector` can do, per synced type and as a whole.

    `accounts_of`: the resource type the connector's account manager creates (the SDK's account manager is one
    type's syncer; here it is the connector's, so the type is named). `permissions`: the upstream permissions each
    type needs, shown to ConductorOne's operators. Raises ValueError naming the type and the rule when an issuer's
    advertisement is one ConductorOne would refuse (`advertise_issuance`).
    """
    permissions = permissions or {}
    creates_accounts = connector.account_manager() is not None
    per_type = []
    for syncer in connector.syncers():
        rtype = syncer.resource_type()
        caps = [Capability.CAPABILITY_SYNC]
        if isinstance(syncer, ResourceGetter):
            caps.append(Capability.CAPABILITY_TARGETED_SYNC)
        if connector.provisioner(rtype.id) is not None:
            caps.append(Capability.CAPABILITY_PROVISION)
        if creates_accounts and rtype.id == accounts_of:
            caps.append(Capability.CAPABILITY_ACCOUNT_PROVISIONING)
        if connector.resource_deleter(rtype.id) is not None:
            caps.append(Capability.CAPABILITY_RESOURCE_DELETE)
        per_type.append(
            connector_pb2.ResourceTypeCapability(
                resource_type=rtype,
                capabilities=caps,
                permissions=connector_pb2.CapabilityPermissions(
                    permissions=[
                        connector_pb2.CapabilityPermission(permission=p) for p in permissions.get(rtype.id, ())
                    ]
                ),
            )
        )
    # Sorted by resource type id, as the SDK's builder sorts them (byte order; a str's code points sort alike): the
    # Hello's metadata and the `capabilities` document list the types in Go's order, not the syncers'.
    per_type.sort(key=lambda entry: entry.resource_type.id)
    every = {c for entry in per_type for c in entry.capabilities}
    if Capability.CAPABILITY_TARGETED_SYNC in every:
        every.add(Capability.CAPABILITY_SERVICE_MODE_TARGETED_SYNC)
    if connector.action_manager() is not None:
        every.add(Capability.CAPABILITY_ACTIONS)
    capabilities = connector_pb2.ConnectorCapabilities(
        resource_type_capabilities=per_type,
        connector_capabilities=sorted(every),
        credential_details=_credential_details(creates_accounts=creates_accounts),
    )
    advertise_issuance(capabilities, connector)
    return capabilities


NO_PASSWORD = connector_pb2.CapabilityDetailCredentialOption.CAPABILITY_DETAIL_CREDENTIAL_OPTION_NO_PASSWORD


def _credential_details(*, creates_accounts: bool) -> connector_pb2.CredentialDetails:
    """`credential_details` as the SDK's builder fills it (`getCredentialDetails`): always present, holding the account
    manager's credential options when the connector creates accounts. This layer's create_account makes an account
    without a credential (it reads no credential option and returns no encrypted data: `tasks.handlers`), so NO_PASSWORD
    is the one option it honours, as the Go Datadog connector advertises (reference-connector.md §4.1). Without it
    ConductorOne heard that accounts can be created, but not with which credential option to ask."""
    details = connector_pb2.CredentialDetails()
    if creates_accounts:
        provisioning = details.capability_account_provisioning
        provisioning.supported_credential_options.append(NO_PASSWORD)
        provisioning.preferred_credential_option = NO_PASSWORD
    return details
