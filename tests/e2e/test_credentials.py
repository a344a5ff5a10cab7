"""Credential issuance end to end (issue 10's "Must show"): the daemon as a subprocess, the fakes on loopback.

One daemon serves every task of this module's story, in phases: an `issue_credential` task per kind and provider
(the test decrypts each `EncryptedData` with the vector's private key and uses the key against the fake
Datadog), the `c1-<request_id>` duplicate guard, keys that cannot be encrypted to (refused before any mint), a
full sync whose c1z lists the service access tokens, the action schema tasks and `update_user`, and
`delete_resource` for every issued key.
The in-process version of the same join is tests/datadog/test_issue_task.py.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from google.protobuf import struct_pb2

from connector.baton.c1z.reader import C1ZReader
from connector.baton.errors import Code
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connector.v2 import action_pb2, resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions
from tests.baton.credential_vectors import configs_of, decrypt, load
from tests.e2e.harness import Daemon, FinishRequest, Stack, assert_error, assert_success, only_finish, wait_finished
from tests.fakes.c1 import Recorded
from tests.fakes.datadog import FakeDatadog
from tests.fakes.datadog.expect import expected_sync
from tests.fakes.datadog.org import AccessToken

ALL_ON = {
    "BATON_PROVISIONING": "true",
    "BATON_SYNC_SECRETS": "true",
    "BATON_SYNC_SERVICE_ACCOUNT_APPLICATION_KEYS": "true",
    "BATON_ALLOW_ORG_API_KEY_DELETION": "true",
}
ISSUE_RESPONSE = "type.googleapis.com/c1.connector.v2.IssueCredentialResponse"
DELETE_RESPONSE = "type.googleapis.com/c1.connector.v2.DeleteResourceResponse"
# Secret resource type → (option arm, header the api_key_v2 document names).
KINDS = {
    "service-account-application-key": ("api_key", "DD-APPLICATION-KEY"),
    "api-key": ("api_key", "DD-API-KEY"),
    "service-account-access-token": ("token", "Authorization"),
}
# One vector per provider and key type; its private key reads what the daemon encrypted to its config.
PROVIDERS = {
    "jwk-ed25519.json": "baton/jwk/v1",
    "jwk-rsa2048.json": "baton/jwk/v1",
    "jwk-ec-p256.json": "baton/jwk/v1",
    "age-x25519.json": "baton/age/v1",
    "age-pq-mlkem768x25519.json": "baton/age/v1",
    "jwe-xwing.json": "baton/jwe/v1",
}
SCOPE = "dashboards_read"


@dataclass(frozen=True)
class Issued:
    kind: str
    vector: str
    task: baton_pb2.Task
    secret_id: resource_pb2.ResourceId
    document: dict[str, Any]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _issue_task(
    user_id: str, kind: str, configs: list[resource_pb2.EncryptionConfig], task_id: str | None = None
) -> baton_pb2.Task:
    task = baton_pb2.Task(id=task_id or new_ksuid())
    issue = task.issue_credential
    issue.identity_id.resource_type, issue.identity_id.resource = "user", user_id
    issue.credential_options.secret_resource_type_id = kind
    if KINDS[kind][0] == "token":
        issue.credential_options.token.scopes.append(SCOPE)
    else:
        issue.credential_options.api_key.SetInParent()
    issue.encryption_configs.extend(configs)
    return task


def _jwk_config(public: dict[str, str]) -> resource_pb2.EncryptionConfig:
    config = resource_pb2.EncryptionConfig(provider="baton/jwk/v1")
    config.jwk_public_key_config.pub_key = json.dumps(public).encode()
    return config


def _issue_response(finish: FinishRequest) -> resource_pb2.IssueCredentialResponse:
    assert_success(finish)
    assert finish.success.response.type_url == ISSUE_RESPONSE
    response = resource_pb2.IssueCredentialResponse()
    assert finish.success.response.Unpack(response)
    return response


def _status(dd: FakeDatadog, document: dict[str, Any]) -> int:
    """What the fake Datadog answers a request authenticated with the issued credential."""
    header, value = document["header_name"], document["key_value"]
    if header == "Authorization":
        headers = {header: f"Bearer {value}"}
    else:
        headers = {"DD-API-KEY": dd.api_key, "DD-APPLICATION-KEY": dd.app_key, header: value}
    return httpx.get(f"{dd.base_url}/api/v2/users", params={"page[size]": 1}, headers=headers).status_code


def _live_keys(dd: FakeDatadog) -> tuple[set[str], set[str], set[str]]:
    org = dd.org
    return set(org.app_keys), set(org.api_keys), set(org.tokens)


def _run(daemon: Daemon, stack: Stack, tasks: list[baton_pb2.Task]) -> dict[str, FinishRequest]:
    for task in tasks:
        stack.c1.enqueue(task)
    recorded = wait_finished(daemon, stack.c1, [t.id for t in tasks], timeout=30)
    return {t.id: only_finish(recorded, t.id) for t in tasks}


def _issue_all(daemon: Daemon, stack: Stack, sa_id: str) -> list[Issued]:
    """Phase 1: every kind and provider; each answer decrypts to an api_key_v2 document whose key works."""
    plan = [(kind, vector) for kind in KINDS for vector in PROVIDERS]
    tasks = [_issue_task(sa_id, kind, configs_of(load(vector))) for kind, vector in plan]
    finishes = _run(daemon, stack, tasks)
    issued = []
    for (kind, vector), task in zip(plan, tasks, strict=True):
        response = _issue_response(finishes[task.id])
        assert response.request_id == task.id, "the request id is the task id (§3.1)"
        assert response.resource_mode == resource_pb2.CREDENTIAL_RESOURCE_MODE_DISCOVERABLE
        assert response.secret.id.resource_type == kind
        assert response.secret.display_name == f"c1-{task.id}"
        (encrypted,) = response.encrypted_data
        assert encrypted.provider == PROVIDERS[vector], (kind, vector)
        private_key = load(vector)["private_keys"][0]
        document = json.loads(decrypt(encrypted.provider, encrypted.encrypted_bytes, private_key))
        assert document["provider"] == "datadog"
        assert document["header_name"] == KINDS[kind][1]
        if kind == "service-account-access-token":
            assert document["scopes"] == [SCOPE]
        assert _status(stack.dd, document) == 200, f"the issued {kind} ({vector}) works against Datadog"
        issued.append(Issued(kind, vector, task, response.secret.id, document))
    return issued


def test_issue_use_guard_sync_update_and_delete(stack: Stack) -> None:
    dd, c1 = stack.dd, stack.c1
    sa = dd.org.add_user("robot@example.com", name="Robot", service_account=True, status="Active")
    human = next(u for u in dd.org.sorted_users() if not u.service_account and u.status == "Active")
    # A token the org already had: the sync must list it beside the ones issued here.
    existing = AccessToken(
        id=dd.org.new_id(),
        name="deploy-bot",
        key=dd.org.new_secret(40),
        public_portion=f"ddsat_{dd.org.new_secret(22)}",
        owner_id=sa.id,
        scopes=[SCOPE],
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    dd.org.tokens[existing.id] = existing
    daemon = stack.start(ALL_ON)

    # The Hello carries the capabilities tests/datadog/test_credentials.py holds to §3.7 (all flags on).
    hello = c1.recorded().hellos[0].connector_metadata
    options = DatadogOptions(
        provisioning=True,
        sync_secrets=True,
        sync_service_account_application_keys=True,
        allow_org_api_key_deletion=True,
    )
    in_process = DatadogConnector(DatadogClient(api_key="k" * 32, app_key="a" * 40), options).metadata()
    assert hello.capabilities == in_process.capabilities

    issued = _issue_all(daemon, stack, sa.id)
    assert len(issued) == len(KINDS) * len(PROVIDERS) == 18

    # The duplicate guard: the same task (same id, so the same c1-<request_id> name) again, per kind.
    keys_before, posts_before = _live_keys(dd), len(dd.requests("POST"))
    first = {i.kind: i for i in reversed(issued)}
    repeats = [_issue_task(sa.id, kind, configs_of(load(i.vector)), task_id=i.task.id) for kind, i in first.items()]
    for task in repeats:
        c1.enqueue(task)

    def answered_twice() -> Recorded | None:
        recorded = c1.recorded()
        return recorded if all(len(recorded.finish_tasks[t.id]) == 2 for t in repeats) else None

    recorded = daemon.wait_for(answered_twice, timeout=30, what="the repeated tasks' second FinishTask")
    assert recorded is not None
    for task in repeats:
        finish = recorded.finish_tasks[task.id][1]
        assert_error(finish, code=Code.ALREADY_EXISTS, non_retryable=True)
        assert "refusing" in finish.status.message, finish.status.message
        assert f'"{task.id}"' in finish.status.message, finish.status.message
    assert _live_keys(dd) == keys_before, "a refused duplicate mints nothing"
    assert len(dd.requests("POST")) == posts_before

    # Keys that cannot be encrypted to (an RSA key under 2048 bits, an Ed25519 value that is not a curve
    # point): refused before the mint, so nothing is created and nothing is left live.
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_numbers()
    bad_configs = [
        _jwk_config({"kty": "RSA", "n": _b64url(weak.n.to_bytes(128, "big")), "e": _b64url(b"\x01\x00\x01")}),
        # y = 2 is the y-coordinate of no Edwards25519 point.
        _jwk_config({"kty": "OKP", "crv": "Ed25519", "x": _b64url((2).to_bytes(32, "little"))}),
    ]
    refused = [_issue_task(sa.id, kind, [config]) for kind in KINDS for config in bad_configs]
    for finish in _run(daemon, stack, refused).values():
        assert_error(finish, code=Code.INVALID_ARGUMENT, non_retryable=True)
        assert finish.status.message.startswith("error: creating encryption manager failed: "), finish.status.message
    assert _live_keys(dd) == keys_before, "a refused encryption leaves no key behind"
    assert len(dd.requests("POST")) == posts_before, "nothing was minted"

    # A full sync: the uploaded c1z lists the org's service access tokens, the old one and the issued ones.
    sync = baton_pb2.Task(id=new_ksuid())
    sync.sync_full.SetInParent()
    assert_success(_run(daemon, stack, [sync])[sync.id])
    (upload,) = [u for u in c1.recorded().uploads if u.task_id == sync.id]
    assert upload.ok
    assert upload.path is not None
    expected = expected_sync(dd.org, secrets=True, app_keys=True).resources
    issued_sats = {i.secret_id.resource for i in issued if i.kind == "service-account-access-token"}
    with C1ZReader(upload.path) as reader:
        for type_id in ("service-account-access-token", "service-account-application-key", "api-key"):
            assert {r.id.resource for r in reader.resources(type_id)} == expected[type_id], type_id
        sats = {r.id.resource for r in reader.resources("service-account-access-token")}
    assert len(issued_sats) == len(PROVIDERS)
    assert sats >= issued_sats
    assert len(sats) == len(issued_sats) + 1, "the pre-existing token is listed too"

    # update_user: the resource-scoped action changes the user in Datadog.
    update = baton_pb2.Task(id=new_ksuid())
    update.action_invoke.name = "update_user"
    update.action_invoke.resource_type_id = "user"
    args = struct_pb2.Struct()
    args.update(
        {
            "user_id": {"resource_type_id": "user", "resource_id": human.id},
            "name": "Renamed By ConductorOne",
            "email": "",  # empty means "not given" (§5 step 2)
        }
    )
    update.action_invoke.args.CopyFrom(args)
    email_before = human.email
    # ConductorOne first learns the action and its form from the schema tasks.
    listing = baton_pb2.Task(id=new_ksuid())
    listing.action_list_schemas.resource_type_id = "user"
    schema = baton_pb2.Task(id=new_ksuid())
    schema.action_get_schema.name = "update_user"
    answers = _run(daemon, stack, [listing, schema, update])
    listed = action_pb2.ListActionSchemasResponse()
    assert_success(answers[listing.id])
    assert answers[listing.id].success.response.Unpack(listed)
    assert [(s.name, s.resource_type_id) for s in listed.schemas] == [("update_user", "user")]
    got = action_pb2.GetActionSchemaResponse()
    assert_success(answers[schema.id])
    assert answers[schema.id].success.response.Unpack(got)
    assert got.schema == listed.schemas[0]
    assert [a.name for a in got.schema.arguments] == ["user_id", "name", "email", "title"]
    invoked = action_pb2.InvokeActionResponse()
    assert_success(answers[update.id])
    assert answers[update.id].success.response.Unpack(invoked)
    assert invoked.status == action_pb2.BatonActionStatus.BATON_ACTION_STATUS_COMPLETE
    assert invoked.name == "update_user"
    assert dict(invoked.response) == {"success": True}
    assert dd.org.users[human.id].name == "Renamed By ConductorOne"
    assert dd.org.users[human.id].email == email_before

    # delete_resource for every issued key: each is gone from Datadog and no longer authenticates.
    deletes = []
    for item in issued:
        task = baton_pb2.Task(id=new_ksuid())
        task.delete_resource.resource_id.CopyFrom(item.secret_id)
        deletes.append(task)
    for finish in _run(daemon, stack, deletes).values():
        assert_success(finish)
        assert finish.success.response.type_url == DELETE_RESPONSE
    for item in issued:
        assert _status(dd, item.document) == 403, f"the deleted {item.kind} ({item.vector}) still works"
    app_keys, api_keys, tokens = _live_keys(dd)
    assert app_keys == keys_before[0] - {
        i.secret_id.resource for i in issued if i.kind == "service-account-application-key"
    }
    assert api_keys == keys_before[1] - {i.secret_id.resource for i in issued if i.kind == "api-key"}
    assert tokens == {existing.id}, "only the token the org had before is left"

    # Every minted value is a secret: none of them reached the daemon's output.
    output = daemon.output()
    leaked = [f"{i.kind}/{i.vector}" for i in issued if i.document["key_value"] in output]
    assert not leaked, f"issued credentials in the daemon's output: {leaked}"
    daemon.wait_no_task_in_flight()  # a task is counted once FinishTask's answer is back, after the fake recorded it
    assert daemon.metric("baton_datadog_tasks_finished_total", type="issue_credential", outcome="success") == 18
