"""The Hello's connector metadata lists its capabilities in the order the Go SDK's builder writes them
(docs/spec/service-mode.md §2.4, "How the Go builder fills metadata capabilities": "The list is sorted, and resource
types are sorted by id"; credentials.md §3.7 gives the per-type order).

Class guarded: a Hello advertisement that differs from what the Go connector's builder sends for the same flags: its
order the connector's own (its syncers' order), or a part the builder always fills left out (`credential_details`,
the account manager's credential options).
"""

from __future__ import annotations

import itertools
from typing import cast

import pytest

from connector.baton.pb.c1.connector.v2 import connector_pb2
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions

Capability = connector_pb2.Capability
FLAGS = ("provisioning", "sync_secrets", "sync_service_account_application_keys", "allow_org_api_key_deletion")
COMBINATIONS = [dict(zip(FLAGS, values, strict=True)) for values in itertools.product((False, True), repeat=4)]


def _metadata(flags: dict[str, bool], *, schedules: bool = True) -> connector_pb2.ConnectorMetadata:
    # metadata() asks Datadog nothing: the client is never called.
    options = DatadogOptions(
        provisioning=flags.get("provisioning", False),
        sync_secrets=flags.get("sync_secrets", False),
        sync_service_account_application_keys=flags.get("sync_service_account_application_keys", False),
        allow_org_api_key_deletion=flags.get("allow_org_api_key_deletion", False),
        sync_schedules=schedules,
    )
    return DatadogConnector(cast(DatadogClient, None), options).metadata()


@pytest.mark.parametrize(
    "flags", COMBINATIONS, ids=["+".join(k for k, v in c.items() if v) or "none" for c in COMBINATIONS]
)
def test_resource_types_are_listed_by_id_and_connector_capabilities_by_number(flags: dict[str, bool]) -> None:
    capabilities = _metadata(flags).capabilities
    ids = [entry.resource_type.id for entry in capabilities.resource_type_capabilities]
    assert ids == sorted(ids), ids
    assert list(capabilities.connector_capabilities) == sorted(capabilities.connector_capabilities)


def test_every_flag_on_gives_the_go_connectors_order() -> None:
    every = dict.fromkeys(FLAGS, True)
    entries = _metadata(every).capabilities.resource_type_capabilities
    assert [entry.resource_type.id for entry in entries] == [
        "api-key",
        "role",
        "schedule",
        "service-account-access-token",
        "service-account-application-key",
        "team",
        "user",
    ]
    user = entries[-1]
    # The SDK's per-type order: SYNC, [TARGETED_SYNC], [PROVISION], [ACCOUNT_PROVISIONING], [RESOURCE_DELETE], issuance.
    assert list(user.capabilities) == [
        Capability.CAPABILITY_SYNC,
        Capability.CAPABILITY_TARGETED_SYNC,
        Capability.CAPABILITY_ACCOUNT_PROVISIONING,
        Capability.CAPABILITY_CREDENTIAL_ISSUE,
        Capability.CAPABILITY_CREDENTIAL_ENCRYPTION_JWE_XWING_V1,
    ]


Option = connector_pb2.CapabilityDetailCredentialOption
NO_PASSWORD = Option.CAPABILITY_DETAIL_CREDENTIAL_OPTION_NO_PASSWORD


def test_account_creation_advertises_its_one_credential_option() -> None:
    """The SDK's builder puts the account manager's `CreateAccountCapabilityDetails` in
    `ConnectorCapabilities.credential_details` (field 3); the Go Datadog connector's is NO_PASSWORD alone
    (reference-connector.md §4.1). Without it ConductorOne is told account provisioning exists but not which
    credential option to ask it with."""
    capabilities = _metadata({"provisioning": True}).capabilities
    assert Capability.CAPABILITY_ACCOUNT_PROVISIONING in capabilities.connector_capabilities
    assert capabilities.HasField("credential_details")
    details = capabilities.credential_details.capability_account_provisioning
    assert list(details.supported_credential_options) == [NO_PASSWORD]
    assert details.preferred_credential_option == NO_PASSWORD
    assert not capabilities.credential_details.HasField("capability_credential_rotation")


def test_without_account_creation_the_details_are_present_and_empty() -> None:
    # Go's builder always sets the message (an empty one without an account manager or a credential manager).
    capabilities = _metadata({"provisioning": False}).capabilities
    assert Capability.CAPABILITY_ACCOUNT_PROVISIONING not in capabilities.connector_capabilities
    assert capabilities.HasField("credential_details")
    assert capabilities.credential_details == connector_pb2.CredentialDetails()
