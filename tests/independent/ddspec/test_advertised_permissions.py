"""Guards the class "a resource type advertising other Datadog permissions than the Go connector's"
(reference-connector.md §1e): the permissions each synced type names in the connector's capabilities, which the
installation's operator reads to scope the application key. Only the secret types' were held by a test."""

from __future__ import annotations

from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions


def test_each_type_advertises_the_permissions_of_the_go_connectors_table() -> None:
    client = DatadogClient(api_key="k" * 32, app_key="a" * 40)
    options = DatadogOptions(sync_schedules=True, sync_secrets=True, sync_service_account_application_keys=True)
    capabilities = DatadogConnector(client, options).metadata().capabilities.resource_type_capabilities
    advertised = {c.resource_type.id: [p.permission for p in c.permissions.permissions] for c in capabilities}
    assert advertised == {
        "user": ["user_access_invite", "user_access_manage"],
        "role": ["user_access_manage"],
        "team": ["user_access_manage"],
        "schedule": ["on_call_read"],
        # Without allow-org-api-key-deletion: the variant without delete.
        "api-key": ["api_keys_read"],
        "service-account-application-key": ["service_account_write", "org_app_keys_read"],
        "service-account-access-token": ["service_account_write"],
    }
