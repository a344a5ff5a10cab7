"""Real Datadog permission and managed-role ids, so recorded requests that name them work unchanged.

Values are copied from the recorded ``GET /api/v2/permissions`` responses in
tests/fixtures/datadog (DataDog/datadog-api-client-python cassettes, Apache-2.0).
"""

from __future__ import annotations

# (id, name, display_name, group_name, display_type, restricted, created, description)
PERMISSIONS: tuple[tuple[str, str, str, str, str, bool, str, str], ...] = (
    ("984a2bd4-d3b4-11e8-a1ff-a7f660d43029", "admin", "Privileged Access", "General", "other", False,
     "2018-10-19T15:35:23.734317", "Deprecated. Privileged Access has been replaced by more specific permissions."),
    ("984d2f00-d3b4-11e8-a200-bb47109e9987", "standard", "Standard Access", "General", "other", False,
     "2018-10-19T15:35:23.756736", "Deprecated. Standard Access has been replaced by more specific permissions."),
    ("6f66600e-dd12-11e8-9e55-7f30fbb45e73", "logs_live_tail", "Logs Live Tail", "Log Management", "read", False,
     "2018-10-31T13:39:48.292879", "View the live tail feed for all log indexes."),
    ("d90f6830-d3d8-11e9-a77a-b3404e5e9ee2", "dashboards_read", "Dashboards Read", "Dashboards", "read", True,
     "2019-09-10T14:39:51.955175", "View dashboards."),
    ("d90f6831-d3d8-11e9-a77a-4fd230ddbc6a", "dashboards_write", "Dashboards Write", "Dashboards", "write", False,
     "2019-09-10T14:39:51.962944", "Create and change dashboards."),
    ("d90f6832-d3d8-11e9-a77a-bf8a2607f864", "dashboards_public_share", "Dashboards Public Share", "Dashboards",
     "other", False, "2019-09-10T14:39:51.967094", "Generate public links to share dashboards."),
    ("4441648c-d8b1-11e9-a77a-1b899a04b304", "monitors_read", "Monitors Read", "Monitors", "read", True,
     "2019-09-16T18:39:07.744297", "View monitors."),
    ("9ac1d8cc-e707-11ea-aa2d-73d37e989a9d", "user_access_invite", "User Access Invite", "Access Management",
     "other", False, "2020-08-25T19:17:23.539701", "Invite other users to your organization."),
    ("9de604d8-e707-11ea-aa2d-93f1a783b3a3", "user_access_manage", "User Access Manage", "Access Management",
     "other", False, "2020-08-25T19:17:28.810412", "Disable users, manage user roles and SAML-to-role mappings."),
    ("46a301da-ec5c-11ea-aa9f-73bedeab67ee", "user_app_keys", "User App Keys", "API and Application Keys",
     "other", False, "2020-09-01T14:06:05.444705", "View and manage Application Keys owned by the user."),
    ("46a301db-ec5c-11ea-aa9f-2fe72193d60e", "org_app_keys_read", "Org App Keys Read", "API and Application Keys",
     "read", False, "2020-09-01T14:06:05.444705", "View Application Keys owned by all users in the organization."),
    ("46a301dc-ec5c-11ea-aa9f-13b33f8f46ea", "org_app_keys_write", "Org App Keys Write", "API and Application Keys",
     "write", False, "2020-09-01T14:06:05.444705", "Manage Application Keys owned by all users."),
    ("372896c4-f923-11ea-adbc-4fecd107156d", "api_keys_read", "API Keys Read", "API and Application Keys", "read",
     False, "2020-09-17T20:20:23.279769", "List and retrieve the key values of all API Keys."),
    ("3e4d4d28-f923-11ea-adbc-e3565938c12e", "api_keys_write", "API Keys Write", "API and Application Keys",
     "write", False, "2020-09-17T20:20:35.264430", "Create and rename API Keys for your organization."),
    ("a42e94b2-1476-11eb-bd08-efda28c04248", "service_account_write", "Service Account Write", "Access Management",
     "write", False, "2020-10-22T14:55:35.814239", "Create, disable, and use Service Accounts."),
    ("417ba636-2dce-11eb-84c0-6bce5b0d9de0", "apm_read", "APM Read", "APM", "read", True,
     "2020-11-23T20:55:45.006110", "Read and query APM and Trace Analytics."),
    ("12efc20e-d36c-11eb-a9b8-da7ad0900002", "incident_read", "Incidents Read", "Case and Incident Management",
     "read", True, "2021-06-22T15:11:09.255499", "View incidents in Datadog."),
    ("97971c1c-e895-11eb-b13c-da7ad0900002", "appsec_event_rule_read", "Application Security Event Rules Read",
     "Cloud Security Platform", "read", False, "2021-07-19T13:31:15.595771", "View Application Security rules."),
    ("7605ef24-f376-11eb-b90b-da7ad0900002", "rum_apps_read", "RUM Apps Read", "Real User Monitoring", "read", True,
     "2021-08-02T09:46:07.671535", "View RUM Applications data."),
    ("b6bf9ac6-9a59-11ec-8480-da7ad0900002", "notebooks_read", "Notebooks Read", "Notebooks", "read", True,
     "2022-03-02T18:51:05.040950", "View notebooks."),
    ("f8e941cf-e746-11ec-b22d-da7ad0900002", "slos_read", "SLOs Read", "Service Level Objectives", "read", True,
     "2022-06-08T16:20:55.142591", "View SLOs and status corrections."),
    ("6c5ad874-7aff-11ed-a5cd-da7ad0900002", "ci_visibility_read", "CI Visibility Read", "Software Delivery", "read",
     True, "2022-12-13T16:01:37.149406", "View CI Visibility."),
    ("1d76ecfa-9771-11ed-9c2f-da7ad0900002", "teams_manage", "Teams Manage", "Teams", "write", False,
     "2023-01-18T20:45:59.977837", "Manage Teams: create, delete, rename and edit metadata of all Teams."),
    ("7850e390-20da-11ee-bed6-da7ad0900002", "api_keys_delete", "API Keys Delete", "API and Application Keys",
     "write", False, "2023-07-12T17:35:18.858294", "Delete API Keys for your organization."),
    ("a8b4d6e8-4ea4-11ee-b482-da7ad0900002", "cd_visibility_read", "CD Visibility Read", "Software Delivery", "read",
     True, "2023-09-09T00:06:00.708335", "View CD Visibility."),
    ("50c270de-69ee-11ee-9151-da7ad0900002", "appsec_vm_read", "Vulnerability Management Read",
     "Cloud Security Platform", "read", True, "2023-10-13T17:31:17.311029", "View vulnerabilities."),
    ("1c23f168-da90-11ef-910a-da7ad0900002", "on_call_read", "On-Call Read", "On-Call", "read", False,
     "2025-01-24T20:16:35.403038", "View On-Call teams, schedules, escalation policies and overrides."),
    ("1c248fc4-da90-11ef-910b-da7ad0900002", "on_call_write", "On-Call Write", "On-Call", "write", False,
     "2025-01-24T20:16:35.403038", "Create, update, and delete On-Call teams, schedules and escalation policies."),
)  # fmt: skip

# What a newly created role gets (as observed on POST /api/v2/roles).
DEFAULT_ROLE_PERMISSIONS: tuple[str, ...] = (
    "d90f6830-d3d8-11e9-a77a-b3404e5e9ee2",
    "4441648c-d8b1-11e9-a77a-1b899a04b304",
    "417ba636-2dce-11eb-84c0-6bce5b0d9de0",
    "12efc20e-d36c-11eb-a9b8-da7ad0900002",
    "97971c1c-e895-11eb-b13c-da7ad0900002",
    "7605ef24-f376-11eb-b90b-da7ad0900002",
    "b6bf9ac6-9a59-11ec-8480-da7ad0900002",
)

ADMIN_ROLE_ID = "94172442-be03-11e9-a77a-3b7612558ac1"
STANDARD_ROLE_ID = "94172443-be03-11e9-a77a-373332f69711"
# Not seen in any recording; synthetic but in the same family.
READ_ONLY_ROLE_ID = "94172444-be03-11e9-a77a-000000000000"

MANAGED_ROLES: tuple[tuple[str, str], ...] = (
    (ADMIN_ROLE_ID, "Datadog Admin Role"),
    (STANDARD_ROLE_ID, "Datadog Standard Role"),
    (READ_ONLY_ROLE_ID, "Datadog Read Only Role"),
)

ORG_ID = "4dee724d-00cc-11ea-a77b-570c9d03c6c5"
