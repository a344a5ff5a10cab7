"""The report table of docs/service-mode.md ("When a report fails"), row by row, against the fake ConductorOne.

A real BatonServiceClient and TaskProcessor run a grant whose FinishTask the fake answers with a scripted gRPC
status (or whose token refresh the fake's token endpoint answers with a scripted HTTP status). Each row states
what must happen: the report arrives (exactly once), or — only when the task is known gone — no report and an
error log line naming the task and its outcome.
"""

from __future__ import annotations

import asyncio
from typing import cast

import grpc
import pytest
import structlog
from google.protobuf import struct_pb2

from connector.baton import builders as b
from connector.baton.c1 import BatonServiceClient
from connector.baton.c1.errors import C1RequestTooLargeError
from connector.baton.connector import Connector, GrantResult
from connector.baton.pb.c1.connector.v2 import entitlement_pb2, resource_pb2
from connector.baton.tasks.full_sync import FullSyncHandler
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.outcome import MAX_REPORT_BYTES, REPORT_ROOM_BYTES
from connector.baton.tasks.processor import FAILED_MID_WRITE, TaskProcessor
from connector.baton.tasks.report import GONE_CONFIRMATIONS
from tests.baton.c1.conftest import LeakGuard, make_client
from tests.baton.tasks.stubs import INSTANT, StubConnector, StubFullSync
from tests.fakes.c1 import FakeC1
from tests.fakes.tasks import grant_task

S = grpc.StatusCode

# (code, consecutive answers): the report must still arrive after them.
DELIVERED_AFTER = [
    (S.UNAVAILABLE, 4),
    (S.DEADLINE_EXCEEDED, 2),
    (S.RESOURCE_EXHAUSTED, 2),
    (S.ABORTED, 2),
    (S.INTERNAL, 2),
    (S.UNKNOWN, 2),
    (S.CANCELLED, 1),
    (S.DATA_LOSS, 1),
    (S.PERMISSION_DENIED, 3),
    (S.UNIMPLEMENTED, 2),
    (S.UNAUTHENTICATED, 2),  # twice: the client's own fresh-token retry is spent, the report loop goes on
    (S.UNAUTHENTICATED, 5),
    (S.NOT_FOUND, GONE_CONFIRMATIONS - 1),
    (S.FAILED_PRECONDITION, GONE_CONFIRMATIONS - 1),
    (S.INVALID_ARGUMENT, GONE_CONFIRMATIONS - 1),
    (S.OUT_OF_RANGE, 1),
]
GONE = [S.NOT_FOUND, S.FAILED_PRECONDITION, S.INVALID_ARGUMENT, S.OUT_OF_RANGE]
TOKEN_STATUSES = [400, 401, 403, 404, 408, 429, 500, 502, 503]


def _processor(client: BatonServiceClient) -> tuple[TaskProcessor, StubConnector]:
    connector = StubConnector()
    processor = TaskProcessor(
        client,
        Handlers(cast(Connector, connector), provisioning=True),
        cast(FullSyncHandler, StubFullSync()),
        hello=lambda task_id, awaiting: _nothing(),
        finish_retry=INSTANT,
    )
    return processor, connector


async def _nothing() -> None:
    return None


@pytest.mark.parametrize(("code", "times"), DELIVERED_AFTER, ids=lambda v: getattr(v, "name", str(v)))
async def test_the_report_arrives_after(
    fake: FakeC1, client: BatonServiceClient, code: grpc.StatusCode, times: int
) -> None:
    processor, connector = _processor(client)
    task = grant_task("role", "r1", "member", "u1")
    fake.fail_next("FinishTask", code, times=times)
    with structlog.testing.capture_logs() as events:
        await processor.process(task)
    (report,) = fake.recorded().finish_tasks[task.id]
    assert report.WhichOneof("final_state") == "success"
    assert connector.provisioning.calls == ["grant"]
    assert not [e for e in events if e["log_level"] == "error"]


@pytest.mark.parametrize("code", GONE, ids=lambda c: c.name)
async def test_a_task_known_gone_is_logged_with_its_outcome(
    fake: FakeC1, client: BatonServiceClient, code: grpc.StatusCode
) -> None:
    processor, _ = _processor(client)
    task = grant_task("role", "r1", "member", "u1")
    fake.fail_next("FinishTask", code, times=GONE_CONFIRMATIONS)
    with structlog.testing.capture_logs() as events:
        await processor.process(task)
    assert task.id not in fake.recorded().finish_tasks
    assert len(fake.recorded().calls_to("FinishTask")) == GONE_CONFIRMATIONS
    (lost,) = [e for e in events if e["log_level"] == "error"]
    assert lost["event"] == "task not reported to ConductorOne"
    assert (lost["task_id"], lost["outcome"], lost["code"]) == (task.id, "success", "OK")
    assert code.name in str(lost["error"])


async def test_already_exists_means_an_earlier_attempt_landed(fake: FakeC1, client: BatonServiceClient) -> None:
    processor, _ = _processor(client)
    task = grant_task("role", "r1", "member", "u1")
    fake.fail_next("FinishTask", S.ALREADY_EXISTS)
    with structlog.testing.capture_logs() as events:
        await processor.process(task)
    assert len(fake.recorded().calls_to("FinishTask")) == 1  # not sent again
    assert not [e for e in events if e["log_level"] == "error"]


@pytest.mark.parametrize("status", TOKEN_STATUSES)
async def test_a_token_endpoint_failure_during_a_report_does_not_lose_it(
    fake: FakeC1, client: BatonServiceClient, status: int
) -> None:
    processor, _ = _processor(client)
    task = grant_task("role", "r1", "member", "u1")
    await client.get_task()  # a token is cached
    fake.revoke_tokens()  # the report's call is refused, and the refresh hits the scripted failures
    fake.fail_token_requests(status, times=2)
    await processor.process(task)
    (report,) = fake.recorded().finish_tasks[task.id]
    assert report.WhichOneof("final_state") == "success"
    assert sum(not r.ok for r in fake.recorded().token_requests) == 0  # scripted failures are not recorded
    assert fake.recorded().tokens_issued == 2


@pytest.mark.parametrize("status", [429, 503])
async def test_a_report_waits_the_retry_after_the_token_endpoint_asks_for(
    fake: FakeC1, client: BatonServiceClient, status: int
) -> None:
    """The token endpoint's Retry-After is what ConductorOne asks of the report's next attempt, as a RetryInfo is: the
    loop waits at least that long (here 1 s; the policy's own backoff is milliseconds) instead of asking at once."""
    processor, _ = _processor(client)
    task = grant_task("role", "r1", "member", "u1")
    await client.get_task()  # a token is cached
    fake.revoke_tokens()  # the report's call is refused, and the refresh hits the scripted failure
    fake.fail_token_requests(status, retry_after=["1"])
    with structlog.testing.capture_logs() as events:
        await processor.process(task)
    (report,) = fake.recorded().finish_tasks[task.id]
    assert report.WhichOneof("final_state") == "success"
    (retried,) = [e for e in events if e["event"] == "task report failed; retrying"]
    assert retried["retry_in_seconds"] >= 1
    assert "(it asked to wait 1 s)" in retried["error"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html><body>captive portal</body></html>", "text/html"),
        (b'{"token_type": "bearer"}', "application/json"),
        (b"{" * 10, "application/json"),
        (b'{"access_token": "' + b"x" * 70_000 + b'"}', "application/json"),
    ],
    ids=["html", "no-access-token", "broken-json", "huge"],
)
async def test_a_token_refresh_answered_200_garbage_during_a_report_does_not_lose_it(
    fake: FakeC1, client: BatonServiceClient, body: bytes, content_type: str
) -> None:
    processor, _ = _processor(client)
    task = grant_task("role", "r1", "member", "u1")
    await client.get_task()  # a token is cached
    fake.revoke_tokens()  # the report's call is refused, and the refresh gets the garbage
    fake.answer_token_requests(body, content_type=content_type, times=3)
    with structlog.testing.capture_logs() as events:
        await processor.process(task)
    (report,) = fake.recorded().finish_tasks[task.id]
    assert report.WhichOneof("final_state") == "success"
    assert fake.recorded().tokens_issued == 2
    assert not [e for e in events if e["log_level"] == "error"]


async def test_a_failed_grant_is_reported_as_such_through_the_same_table(
    fake: FakeC1, client: BatonServiceClient
) -> None:
    processor, connector = _processor(client)
    connector.provisioning.error = KeyError("boom")
    task = grant_task("role", "r1", "member", "u1")
    fake.fail_next("FinishTask", S.UNAVAILABLE, times=2)
    await processor.process(task)
    (report,) = fake.recorded().finish_tasks[task.id]
    assert report.WhichOneof("final_state") == "error"
    assert report.error.non_retryable
    assert report.status.message == f"internal error (KeyError); {FAILED_MID_WRITE}"


async def test_a_success_too_large_for_a_grpc_server_is_reported_without_its_response(
    fake: FakeC1, client: BatonServiceClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A grant's response embeds the task's entitlement resource as sent (Datadog's does, once per implied grant):
    one of 3 MiB made a FinishTask over the 4 MiB a gRPC server takes by default (the fake's too), refused
    (RESOURCE_EXHAUSTED) at every attempt and retried for good, its task slot held. The outcome is reported
    without the response, once, with a warning."""
    processor, connector = _processor(client)
    task = grant_task("role", "r1", "member", "u1")
    task.grant.entitlement.resource.display_name = "r" * (3 * 1024 * 1024)

    async def echoing(principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement) -> GrantResult:
        return GrantResult(grants=[b.grant(entitlement.resource, slug, principal.id) for slug in ("admin", "member")])

    monkeypatch.setattr(connector.provisioning, "grant", echoing)
    with structlog.testing.capture_logs() as events:
        async with asyncio.timeout(60):  # not a measure: a failure instead of retrying for ever
            await processor.process(task)
    (report,) = fake.recorded().finish_tasks[task.id]
    assert report.WhichOneof("final_state") == "success"
    assert not report.success.HasField("response")
    assert [call.code for call in fake.recorded().calls_to("FinishTask")] == ["OK"]
    (warning,) = [
        e for e in events if e["event"] == "task response too large to report; reporting the outcome without it"
    ]
    assert warning["response_bytes"] > MAX_REPORT_BYTES
    assert not [e for e in events if e["log_level"] == "error"]


SMALL_LIMIT = 256 * 1024


async def test_a_report_refused_as_over_the_servers_own_smaller_limit_is_sent_without_what_does_not_fit(
    leak_guard: LeakGuard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ConductorOne taking less than gRPC's default 4 MiB (which MAX_REPORT_BYTES assumes) refused a grant's report
    of 1 MiB as over its limit (RESOURCE_EXHAUSTED, "received message larger than max (N vs. M)") at every attempt:
    the report was retried until the process stopped, its task slot held, and ConductorOne never heard of the grant.
    The refusal names the limit: the outcome is fitted to it and sent again, once."""
    with FakeC1(grpc_options=[("grpc.max_receive_message_length", SMALL_LIMIT)]) as fake:
        leak_guard.watch(fake)
        async with make_client(fake) as client:
            processor, connector = _processor(client)
            task = grant_task("role", "r1", "member", "u1")
            task.grant.entitlement.resource.display_name = "r" * (1024 * 1024)

            async def echoing(
                principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement
            ) -> GrantResult:
                return GrantResult(grants=[b.grant(entitlement.resource, "member", principal.id)])

            monkeypatch.setattr(connector.provisioning, "grant", echoing)
            with structlog.testing.capture_logs() as events:
                async with asyncio.timeout(60):  # not a measure: a failure instead of retrying for ever
                    await processor.process(task)
    (report,) = fake.recorded().finish_tasks[task.id]
    assert report.WhichOneof("final_state") == "success"
    assert not report.success.HasField("response")
    # The refused attempt never reached the fake's handler (grpc refuses it first): its warning says it happened.
    assert [call.code for call in fake.recorded().calls_to("FinishTask")] == ["OK"]
    (refused,) = [e for e in events if e["event"] == "task report refused as too large; sending what fits"]
    assert f"over its {SMALL_LIMIT}-byte gRPC message limit" in refused["error"]
    (warning,) = [
        e for e in events if e["event"] == "task response too large to report; reporting the outcome without it"
    ]
    assert warning["limit_bytes"] == SMALL_LIMIT - REPORT_ROOM_BYTES
    assert not [e for e in events if e["log_level"] == "error"]


async def test_a_refusal_as_over_the_servers_limit_names_the_limit() -> None:
    with FakeC1(grpc_options=[("grpc.max_receive_message_length", SMALL_LIMIT)]) as small:
        async with make_client(small) as client:
            with pytest.raises(C1RequestTooLargeError) as caught:
                await client.finish_task(grant_task("role", "r1", "member", "u1").id, response=_big_struct())
    assert caught.value.limit == SMALL_LIMIT
    assert caught.value.code == S.RESOURCE_EXHAUSTED
    assert str(caught.value).startswith("FinishTask: ConductorOne refused the request of ")
    assert str(caught.value).endswith(f" bytes as over its {SMALL_LIMIT}-byte gRPC message limit (RESOURCE_EXHAUSTED)")


def _big_struct() -> struct_pb2.Struct:
    big = struct_pb2.Struct()
    big.update({"x": "y" * (2 * SMALL_LIMIT)})
    return big
