"""issue_credential and delete_resource answers on the wire, through the real client to the fake ConductorOne.

FinishTask carries `IssueCredentialResponse` under the Go type URL, the ciphertext decrypts with the
vector key, failures are final with the SDK's code, and the issued plaintext (a canary) never reaches a log
or the process output (docs/spec/credentials.md §3.1, §3.4).
"""

from __future__ import annotations

from typing import Any, cast

from connector.baton.c1 import BatonServiceClient
from connector.baton.connector import Connector
from connector.baton.errors import Code
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.processor import TaskProcessor
from tests.baton.c1.conftest import LeakGuard
from tests.baton.credential_vectors import configs_of, decrypt, load
from tests.baton.test_issue_credential import CANARY, StubConnector, _issued, _plaintext, _task
from tests.fakes.c1 import FakeC1


def _processor(client: BatonServiceClient, stub: StubConnector) -> TaskProcessor:
    async def hello(_: str, awaiting: object) -> None:
        return None

    return TaskProcessor(client, Handlers(cast(Connector, stub), provisioning=True), cast(Any, None), hello)


async def test_an_issued_credential_reaches_conductorone_encrypted(
    fake: FakeC1, client: BatonServiceClient, leak_guard: LeakGuard
) -> None:
    leak_guard.add(CANARY)
    vector = load("age-x25519.json")
    task = baton_pb2.Task(id=new_ksuid(), issue_credential=_task(configs=configs_of(vector)))
    await _processor(client, StubConnector()).process(task)
    (request,) = fake.recorded().finish_tasks[task.id]
    assert request.WhichOneof("final_state") == "success"
    assert request.success.response.type_url == "type.googleapis.com/c1.connector.v2.IssueCredentialResponse"
    response = resource_pb2.IssueCredentialResponse()
    assert request.success.response.Unpack(response)
    assert response.request_id == task.id
    [data] = response.encrypted_data
    assert decrypt(data.provider, data.encrypted_bytes, vector["private_keys"][0]) == _plaintext().bytes
    assert list(request.success.annotations) == list(response.annotations)


async def test_a_failed_encryption_is_final_and_rolled_back(
    fake: FakeC1, client: BatonServiceClient, leak_guard: LeakGuard
) -> None:
    leak_guard.add(CANARY)
    stub = StubConnector()
    stub.issuer.result = _issued(plaintexts=[_plaintext(CANARY.encode() * 50_000)])
    task = baton_pb2.Task(id=new_ksuid(), issue_credential=_task(configs=configs_of(load("jwe-xwing.json"))))
    await _processor(client, stub).process(task)
    (request,) = fake.recorded().finish_tasks[task.id]
    assert request.WhichOneof("final_state") == "error"
    assert request.error.non_retryable
    assert (request.status.code, request.status.message) == (
        Code.UNKNOWN,
        "jwe: plaintext must be at most 1048576 bytes; the minted credential was deleted again",
    )
    assert [s.resource for s in stub.issuer.rolled_back] == ["key-1"]


async def test_a_delete_answers_delete_resource_response(fake: FakeC1, client: BatonServiceClient) -> None:
    task = baton_pb2.Task(id=new_ksuid())
    task.delete_resource.resource_id.CopyFrom(resource_pb2.ResourceId(resource_type="api-key", resource="k-1"))
    await _processor(client, StubConnector()).process(task)
    (request,) = fake.recorded().finish_tasks[task.id]
    assert request.success.response.type_url == "type.googleapis.com/c1.connector.v2.DeleteResourceResponse"
