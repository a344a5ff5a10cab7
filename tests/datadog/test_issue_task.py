"""The baton layer's `issue_credential` / `delete_resource` tasks with the Datadog connector and the fake Datadog.

In-process join of both halves (the daemon-subprocess e2e builds on the same pieces): the task's checks,
this connector's mint, encryption to a real recipient; the test decrypts the `api_key_v2` document and uses
the key against the fake.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx
import pyrage
import pytest
from google.protobuf import json_format

from connector.baton.errors import Code
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks import credentials as tasks
from connector.baton.tasks.outcome import TaskError
from connector.datadog.connector import DatadogConnector, DatadogOptions
from tests.datadog.helpers import ClientFactory
from tests.fakes.datadog import FakeDatadog
from tests.fixtures_dir import FIXTURES_DIR

VECTOR = json.loads((FIXTURES_DIR / "credentials" / "age-x25519.json").read_text())
IDENTITY = pyrage.x25519.Identity.from_str(VECTOR["private_keys"][0]["age_identity"])
ALL_ON = DatadogOptions(
    provisioning=True, sync_secrets=True, sync_service_account_application_keys=True, allow_org_api_key_deletion=True
)
KINDS = {
    "service-account-application-key": ("api_key", {"DD-APPLICATION-KEY"}),
    "api-key": ("api_key", {"DD-API-KEY"}),
    "service-account-access-token": ("token", {"Authorization"}),
}


def _task(user_id: str, kind: str) -> baton_pb2.Task.IssueCredentialTask:
    task = baton_pb2.Task.IssueCredentialTask()
    task.identity_id.resource_type, task.identity_id.resource = "user", user_id
    task.credential_options.secret_resource_type_id = kind
    if KINDS[kind][0] == "token":
        task.credential_options.token.scopes.append("dashboards_read")
    else:
        task.credential_options.api_key.SetInParent()
    for config in VECTOR["encryption_configs"]:
        json_format.ParseDict(config, task.encryption_configs.add())
    return task


def _headers(fake: FakeDatadog, document: dict[str, Any]) -> dict[str, str]:
    header, value = document["header_name"], document["key_value"]
    if header == "Authorization":
        return {header: f"Bearer {value}"}
    headers = {"DD-API-KEY": fake.api_key, "DD-APPLICATION-KEY": fake.app_key}
    headers[header] = value
    return headers


async def _status(fake: FakeDatadog, document: dict[str, Any]) -> int:
    async with httpx.AsyncClient(base_url=fake.base_url, headers=_headers(fake, document)) as http:
        return (await http.get("/api/v2/users", params={"page[size]": 1})).status_code


@pytest.mark.parametrize("kind", list(KINDS))
async def test_issue_decrypt_use_and_delete_each_kind(fake: FakeDatadog, make_client: ClientFactory, kind: str) -> None:
    connector = DatadogConnector(make_client(fake), ALL_ON)
    sa = fake.org.add_user("robot@example.com", name="Robot", service_account=True, status="Active")
    outcome = await tasks.issue_credential(connector, "2NxIssueTaskKsuid000000001", _task(sa.id, kind))
    response = outcome.response
    assert isinstance(response, resource_pb2.IssueCredentialResponse)
    assert response.request_id == "2NxIssueTaskKsuid000000001"
    assert response.secret.id.resource_type == kind
    (encrypted,) = response.encrypted_data
    assert encrypted.provider == "baton/age/v1"
    document = json.loads(pyrage.decrypt(encrypted.encrypted_bytes, [IDENTITY]))
    assert document["header_name"] in KINDS[kind][1]
    assert await _status(fake, document) == 200, "the issued credential works against Datadog"

    with pytest.raises(TaskError) as again:
        await tasks.issue_credential(connector, "2NxIssueTaskKsuid000000001", _task(sa.id, kind))
    assert again.value.code == Code.ALREADY_EXISTS

    delete = baton_pb2.Task.DeleteResourceTask(resource_id=response.secret.id)
    await tasks.delete_resource(connector, delete)
    assert await _status(fake, document) == 403, "the deleted credential no longer works"


@pytest.mark.parametrize("kind", list(KINDS))
async def test_failed_encryption_leaves_no_live_key(
    fake: FakeDatadog, make_client: ClientFactory, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connector.baton.crypto import providers

    def broken(*args: object) -> object:
        raise RuntimeError("encryption failed")

    monkeypatch.setattr(providers, "encrypt_all", broken)
    connector = DatadogConnector(make_client(fake), ALL_ON)
    sa = fake.org.add_user("robot@example.com", name="Robot", service_account=True, status="Active")
    before = (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens))
    with pytest.raises(TaskError) as failed:
        await tasks.issue_credential(connector, "2NxIssueTaskKsuid000000002", _task(sa.id, kind))
    assert "could not be deleted again" not in str(failed.value)
    assert (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens)) == before


async def test_a_low_order_age_recipient_is_refused_and_nothing_is_minted(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    from connector.baton.crypto import bech32

    connector = DatadogConnector(make_client(fake), ALL_ON)
    sa = fake.org.add_user("robot@example.com", name="Robot", service_account=True, status="Active")
    task = _task(sa.id, "service-account-application-key")
    task.encryption_configs[0].age_recipient_config.recipient = bech32.encode("age", bytes(32))
    with pytest.raises(TaskError) as refused:
        await tasks.issue_credential(connector, "2NxIssueTaskKsuid000000003", task)
    assert refused.value.code == Code.INVALID_ARGUMENT
    assert str(refused.value).endswith("desc = age: invalid recipient")
    assert not fake.org.app_keys, "no key was minted (pyrage used to panic after the mint, leaving it live)"


async def test_encryption_runs_off_the_event_loop(
    fake: FakeDatadog, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Encrypting to 64 configs is up to ~0.1 s of CPU: on the loop it stalls the health endpoints and heartbeats."""
    from connector.baton.crypto import providers

    real = providers.encrypt_all
    threads: list[int] = []

    def recorded(*args: Any) -> Any:
        threads.append(threading.get_ident())
        return real(*args)

    monkeypatch.setattr(providers, "encrypt_all", recorded)
    connector = DatadogConnector(make_client(fake), ALL_ON)
    sa = fake.org.add_user("robot@example.com", name="Robot", service_account=True, status="Active")
    await tasks.issue_credential(connector, "2NxIssueTaskKsuid000000004", _task(sa.id, "api-key"))
    assert threads
    assert threading.get_ident() not in threads


async def test_a_cancellation_while_encrypting_deletes_the_minted_key(
    fake: FakeDatadog, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut by the shutdown mid-encryption, the task ends unreported: nothing would hand the key over or delete it."""
    from connector.baton.crypto import providers

    real = providers.encrypt_all
    entered, release = threading.Event(), threading.Event()

    def held(*args: Any) -> Any:
        entered.set()
        release.wait(2)
        return real(*args)

    monkeypatch.setattr(providers, "encrypt_all", held)
    connector = DatadogConnector(make_client(fake), ALL_ON)
    sa = fake.org.add_user("robot@example.com", name="Robot", service_account=True, status="Active")
    before = set(fake.org.api_keys)
    issuing = asyncio.ensure_future(
        tasks.issue_credential(connector, "2NxIssueTaskKsuid000000005", _task(sa.id, "api-key"))
    )
    try:
        assert await asyncio.to_thread(entered.wait, 10)
        issuing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await issuing
    finally:
        release.set()
    assert set(fake.org.api_keys) == before, "the key minted before the cancellation was deleted again"
