"""Issuance tasks and what a test reads off the fake Datadog after one: which credentials it made are live, their
secrets (the canaries), and how many requests each step cost."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.fakes.datadog import FakeDatadog
from tests.fakes.datadog.org import User
from tests.independent.credentials.keys import age_config, age_x25519

KINDS = ("service-account-application-key", "api-key", "service-account-access-token")
MINT_PATHS = {
    "service-account-application-key": r"/api/v2/service_accounts/[^/]+/application_keys",
    "api-key": r"/api/v2/api_keys",
    "service-account-access-token": r"/api/v2/service_accounts/[^/]+/access_tokens",
}
PREFIX = "error: creating encryption manager failed: "


def robot(fake: FakeDatadog, email: str = "robot-202@example.com") -> User:
    return fake.org.add_user(email, name="Robot 202", service_account=True, status="Active")


def issue_task(
    identity: str,
    kind: str,
    configs: list[dict[str, Any]] | None = None,
    *,
    scopes: tuple[str, ...] = (),
    task_id: str | None = None,
) -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid() if task_id is None else task_id)
    issue = task.issue_credential
    issue.identity_id.resource_type, issue.identity_id.resource = "user", identity
    issue.credential_options.secret_resource_type_id = kind
    if kind == "service-account-access-token":
        issue.credential_options.token.scopes.extend(scopes or ("dashboards_read",))
    else:
        issue.credential_options.api_key.SetInParent()
        issue.credential_options.api_key.scopes.extend(scopes)
    for config in [age_config(age_x25519())] if configs is None else configs:
        json_format.ParseDict(config, issue.encryption_configs.add())
    return task


def credentials(fake: FakeDatadog) -> set[str]:
    org = fake.org
    return set(org.app_keys) | set(org.api_keys) | set(org.tokens)
