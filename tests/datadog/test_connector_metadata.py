"""The metadata the daemon sends in Hello describes exactly what is enabled."""

from __future__ import annotations

import pytest

from connector.baton.pb.c1.connector.v2 import connector_pb2
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions

Cap = connector_pb2.Capability


def metadata(**options: object) -> connector_pb2.ConnectorMetadata:
    client = DatadogClient(api_key="k" * 32, app_key="a" * 40)
    return DatadogConnector(client, DatadogOptions(**options)).metadata()  # type: ignore[arg-type]


def caps_by_type(meta: connector_pb2.ConnectorMetadata) -> dict[str, set[int]]:
    return {c.resource_type.id: set(c.capabilities) for c in meta.capabilities.resource_type_capabilities}


def test_defaults_sync_only_the_three_core_types() -> None:
    meta = metadata()
    assert meta.display_name == "Datadog"
    # Each core type can be fetched alone, so each is targetable (a targeted role reads its grants per role).
    both = {Cap.CAPABILITY_SYNC, Cap.CAPABILITY_TARGETED_SYNC}
    assert caps_by_type(meta) == {"user": both, "role": both, "team": both}
    assert list(meta.capabilities.connector_capabilities) == [
        Cap.CAPABILITY_SYNC,
        Cap.CAPABILITY_TARGETED_SYNC,
        Cap.CAPABILITY_SERVICE_MODE_TARGETED_SYNC,
    ]
    assert not meta.HasField("account_creation_schema")


def test_provisioning_advertises_grants_accounts_and_actions() -> None:
    meta = metadata(provisioning=True)
    caps = caps_by_type(meta)
    assert Cap.CAPABILITY_PROVISION in caps["role"]
    assert Cap.CAPABILITY_PROVISION in caps["team"]
    assert Cap.CAPABILITY_ACCOUNT_PROVISIONING in caps["user"]
    assert {Cap.CAPABILITY_PROVISION, Cap.CAPABILITY_ACCOUNT_PROVISIONING, Cap.CAPABILITY_ACTIONS} <= set(
        meta.capabilities.connector_capabilities
    )
    assert meta.account_creation_schema.field_map["email"].required


@pytest.mark.parametrize(
    ("options", "types"),
    [
        ({"sync_schedules": True}, {"schedule"}),
        ({"sync_schedules": True, "site": "us2.ddog-gov.com"}, set()),  # no On-Call on that site
        ({"sync_secrets": True}, {"api-key"}),
        (
            {"sync_secrets": True, "sync_service_account_application_keys": True},
            {"api-key", "service-account-application-key", "service-account-access-token"},
        ),
        ({"sync_service_account_application_keys": True}, set()),  # only together with sync_secrets
    ],
)
def test_opt_in_types_appear_only_when_enabled(options: dict[str, object], types: set[str]) -> None:
    assert set(caps_by_type(metadata(**options))) == {"user", "role", "team"} | types


def test_api_key_deletion_needs_provisioning_and_the_flag() -> None:
    assert (
        Cap.CAPABILITY_RESOURCE_DELETE
        not in caps_by_type(metadata(sync_secrets=True, allow_org_api_key_deletion=True))["api-key"]
    )
    both = metadata(sync_secrets=True, allow_org_api_key_deletion=True, provisioning=True)
    assert Cap.CAPABILITY_RESOURCE_DELETE in caps_by_type(both)["api-key"]
