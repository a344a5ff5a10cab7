"""BatonServiceClient end to end against the fake ConductorOne over TLS (trusting only the fake's CA)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import pytest
import structlog
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from connector.baton.c1 import (
    BatonServiceClient,
    C1AuthRejectedError,
    C1FatalError,
    C1ResponseTooLargeError,
    C1TransientError,
    CallTimeouts,
    RpcResult,
    TokenSource,
    grpc_proxy_from_env,
    grpc_root_certificates,
    parse_client_id,
    parse_client_secret,
    resolve_endpoints,
)
from connector.baton.c1.client import MAX_RETRY_AFTER
from connector.baton.c1.token import AccessToken
from connector.baton.pb.c1.connector.v2 import annotation_etag_pb2, connector_pb2, grant_pb2, resource_pb2
from connector.daemon import logging as daemon_logging
from tests.baton.c1.conftest import FAST_UPLOAD_RETRY, LeakGuard, make_client
from tests.fakes.c1 import FakeC1
from tests.fakes.c1.proxy import ConnectProxy
from tests.fakes.c1.service import GARBAGE
from tests.fakes.refusing import RefusingPeer
from tests.fakes.tasks import kind_task
from tests.polling import until

ROOT = Path(__file__).resolve().parents[3]
CHUNK = 512 * 1024
RETRY_INFO_URL = "type.googleapis.com/google.rpc.RetryInfo"
METADATA = connector_pb2.ConnectorMetadata(display_name="Test connector", description="for tests")


def _write_random(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


async def test_hello_reads_the_hosts_os_files_off_the_event_loop(
    fake: FakeC1, client: BatonServiceClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connector.baton.c1 import hostinfo

    readers: list[threading.Thread] = []
    real = hostinfo._read_os_release

    def recorded(path: Path) -> dict[str, str]:
        readers.append(threading.current_thread())
        return real(path)

    monkeypatch.setattr(hostinfo, "_read_os_release", recorded)
    await client.hello(METADATA)
    assert readers
    assert threading.main_thread() not in readers


# ---- the happy path, call by call -----------------------------------------------------------------------------


async def test_hello_carries_host_id_metadata_os_info_token_and_user_agent(
    fake: FakeC1, client: BatonServiceClient
) -> None:
    await client.hello(METADATA)
    (hello,) = fake.recorded().hellos
    assert hello.host_id == "test-host"
    assert hello.task_id == ""
    assert hello.connector_metadata == METADATA
    assert all(getattr(hello.os_info, name) for name in ("hostname", "os", "kernel_arch", "virtualization_system"))
    assert hello.build_info.lang_version.startswith("python3.")
    (call,) = fake.recorded().calls
    assert call.authorization
    name = parse_client_id(fake.client_id).client_name
    assert call.user_agent.startswith(f"{name} baton-sdk/v0.25.0 grpc-python")


async def test_hello_answering_a_task_carries_its_id(fake: FakeC1, client: BatonServiceClient) -> None:
    task = kind_task("hello")
    await client.hello(METADATA, task_id=task.id)
    assert fake.recorded().hellos[0].task_id == task.id
    with pytest.raises(ValueError, match="task_id"):
        await client.hello(METADATA, task_id="short")
    with pytest.raises(ValueError, match="display_name"):
        await client.hello(connector_pb2.ConnectorMetadata())


async def test_get_task_returns_the_enqueued_task_then_none(fake: FakeC1, client: BatonServiceClient) -> None:
    task = kind_task("grant")
    task.grant.principal.id.resource_type = "user"
    task.grant.principal.id.resource = "u-1"
    fake.enqueue(task)
    fake.set_polling(next_poll=2.5)
    first = await client.get_task()
    assert first.task == task
    assert first.task.WhichOneof("task_type") == "grant"
    second = await client.get_task()
    assert not second.HasField("task")
    assert second.next_poll.ToTimedelta().total_seconds() == 2.5
    assert fake.recorded().get_task_count == 2


async def test_heartbeat_is_recorded_and_reports_cancellation(fake: FakeC1, client: BatonServiceClient) -> None:
    task = kind_task("sync_full")
    fake.set_polling(next_heartbeat=7)
    first = await client.heartbeat(task.id)
    assert not first.cancelled
    assert first.next_heartbeat.seconds == 7
    fake.cancel_task(task.id)
    assert (await client.heartbeat(task.id)).cancelled
    beats = fake.recorded().heartbeats
    assert [(beat.host_id, beat.task_id) for beat in beats] == [("test-host", task.id)] * 2


async def test_finish_task_success_packs_the_response(fake: FakeC1, client: BatonServiceClient) -> None:
    task = kind_task("grant")
    response = grant_pb2.GrantManagerServiceGrantResponse(
        grants=[grant_pb2.Grant(id="g-1", principal=resource_pb2.Resource(display_name="Alice"))]
    )
    annotation = any_pb2.Any()
    annotation.Pack(annotation_etag_pb2.ETag(value="v1"))
    await client.finish_task(task.id, response=response, annotations=[annotation])

    (request,) = fake.recorded().finish_tasks[task.id]
    assert request.host_id == "test-host"
    assert request.WhichOneof("final_state") == "success"
    assert not request.HasField("status")
    assert request.success.response.type_url == "type.googleapis.com/c1.connector.v2.GrantManagerServiceGrantResponse"
    unpacked = grant_pb2.GrantManagerServiceGrantResponse()
    assert request.success.response.Unpack(unpacked)
    assert unpacked == response
    assert list(request.success.annotations) == [annotation]


async def test_finish_task_error_sets_status_and_error(fake: FakeC1, client: BatonServiceClient) -> None:
    task = kind_task("revoke")
    detail = any_pb2.Any()
    detail.Pack(annotation_etag_pb2.ETag(value="why"))
    status = status_pb2.Status(
        code=grpc.StatusCode.FAILED_PRECONDITION.value[0], message="provisioning is not enabled", details=[detail]
    )
    await client.finish_task(task.id, error=status, non_retryable=True)
    (request,) = fake.recorded().finish_tasks[task.id]
    assert request.WhichOneof("final_state") == "error"
    assert request.status == status
    assert request.error.non_retryable
    assert not request.error.HasField("response")
    assert not request.HasField("success")


async def test_finish_task_rejects_contradictions_before_sending(fake: FakeC1, client: BatonServiceClient) -> None:
    task_id = kind_task("grant").id
    with pytest.raises(ValueError, match="no response"):
        await client.finish_task(task_id, response=grant_pb2.Grant(), error=status_pb2.Status(code=2))
    with pytest.raises(ValueError, match="non-OK"):
        await client.finish_task(task_id, error=status_pb2.Status(code=0))
    with pytest.raises(ValueError, match="non_retryable"):
        await client.finish_task(task_id, non_retryable=True)
    assert fake.recorded().calls == []


def test_finish_task_deadline_defaults_to_thirty_seconds() -> None:
    assert CallTimeouts().finish_task == 30.0


async def test_call_deadline_is_enforced_as_transient(fake: FakeC1) -> None:
    async with make_client(fake, timeouts=CallTimeouts(get_task=0.2)) as client:
        fake.slow_down("GetTask", 1.0)
        with pytest.raises(C1TransientError) as caught:
            await client.get_task()
    assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert caught.value.method == "GetTask"


async def test_a_call_grpc_refuses_to_make_is_a_clear_transient_error(fake: FakeC1) -> None:
    """grpc raises its own exception type (not an AioRpcError with a status) when it cannot even start a call,
    e.g. for an `authorization` value that is not visible ASCII. The token source refuses such tokens; should
    anything else make grpc refuse a call, it is still one C1 error naming the RPC, never a raw grpc exception
    (which escaped every loop: a lost report, a dead poll loop, a traceback)."""
    async with make_client(fake) as client:
        real = client.tokens.token

        async def broken_token() -> AccessToken:
            token = await real()
            return dataclasses.replace(token, value=token.value + "\u00e9")

        client.tokens.token = broken_token  # type: ignore[method-assign]
        for call in (client.get_task, lambda: client.finish_task(kind_task("grant").id)):
            with pytest.raises(C1TransientError, match=r"^(GetTask|FinishTask): the call could not be made") as caught:
                await call()
            assert caught.value.code == grpc.StatusCode.INTERNAL


# ---- upload -----------------------------------------------------------------------------------------------------


async def test_upload_multi_chunk_file_is_reassembled_with_matching_sha256(
    fake: FakeC1, client: BatonServiceClient, tmp_path: Path
) -> None:
    task = kind_task("sync_full")
    size = 2 * 1024 * 1024 + 12345
    data = _write_random(tmp_path / "sync.c1z", size)
    assert await client.upload_asset(task.id, tmp_path / "sync.c1z") == size

    (upload,) = fake.recorded().uploads
    assert upload.ok, upload.error
    assert (upload.host_id, upload.task_id, upload.size) == ("test-host", task.id, size)
    assert upload.chunk_sizes == [CHUNK] * 4 + [12345]
    assert upload.received_sha256 == hashlib.sha256(data).digest()
    assert len(upload.received_sha256) == 32
    assert upload.path is not None
    assert upload.path.read_bytes() == data


async def test_upload_of_an_empty_file_sends_no_data(fake: FakeC1, client: BatonServiceClient, tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    assert await client.upload_asset(kind_task("sync_full").id, tmp_path / "empty") == 0
    (upload,) = fake.recorded().uploads
    assert upload.ok
    assert upload.chunk_sizes == []
    assert upload.received_sha256 == hashlib.sha256(b"").digest()


async def test_upload_memory_does_not_grow_with_file_size(
    fake: FakeC1, client: BatonServiceClient, tmp_path: Path
) -> None:
    size = 32 * 1024 * 1024
    path = tmp_path / "big.c1z"
    with path.open("wb") as sink:
        for _ in range(size // (1024 * 1024)):
            sink.write(os.urandom(1024 * 1024))
    await client.hello(METADATA)  # connect and fetch the token outside the measurement
    tracemalloc.start()
    try:
        sent = await client.upload_asset(kind_task("sync_full").id, path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sent == size
    assert fake.recorded().uploads[0].ok
    # A handful of 512 KiB chunks in flight (ours and the in-process fake's), never the file.
    assert peak < 8 * 1024 * 1024, peak
    print(f"upload of {size} bytes peaked at {peak} traced bytes")


async def test_upload_retries_transient_failures_then_succeeds(fake: FakeC1, tmp_path: Path) -> None:
    data = _write_random(tmp_path / "f", CHUNK + 1)
    fake.fail_next("UploadAsset", grpc.StatusCode.UNAVAILABLE, times=2)
    async with make_client(fake, upload_retry=FAST_UPLOAD_RETRY) as client:
        assert await client.upload_asset(kind_task("sync_full").id, tmp_path / "f") == len(data)
    assert [call.code for call in fake.recorded().calls_to("UploadAsset")] == ["UNAVAILABLE", "UNAVAILABLE", "OK"]
    assert fake.recorded().uploads[-1].received_sha256 == hashlib.sha256(data).digest()


async def test_upload_gives_up_after_three_attempts(fake: FakeC1, tmp_path: Path) -> None:
    _write_random(tmp_path / "f", 10)
    fake.fail_next("UploadAsset", grpc.StatusCode.UNAVAILABLE, times=5)
    async with make_client(fake, upload_retry=FAST_UPLOAD_RETRY) as client:
        with pytest.raises(C1TransientError):
            await client.upload_asset(kind_task("sync_full").id, tmp_path / "f")
    assert len(fake.recorded().calls_to("UploadAsset")) == 3


@pytest.mark.parametrize("size", [10, 3 * CHUNK])
async def test_upload_does_not_retry_a_fatal_failure(
    fake: FakeC1, client: BatonServiceClient, tmp_path: Path, size: int
) -> None:
    # The fake rejects the stream before reading it, so the rejection races our writes: grpc then reports
    # INTERNAL "Internal error from Core" unless the client recovers the server's status. Repeat to hit the race.
    _write_random(tmp_path / "f", size)
    for attempt in range(1, 11):
        fake.fail_next("UploadAsset", grpc.StatusCode.INVALID_ARGUMENT)
        with pytest.raises(C1FatalError) as caught:
            await client.upload_asset(kind_task("sync_full").id, tmp_path / "f")
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "scripted INVALID_ARGUMENT" in str(caught.value)
        assert len(fake.recorded().calls_to("UploadAsset")) == attempt


async def test_upload_with_a_revoked_token_refreshes_it(
    fake: FakeC1, client: BatonServiceClient, tmp_path: Path
) -> None:
    data = _write_random(tmp_path / "f", 3 * CHUNK)
    for _ in range(5):
        await client.get_task()
        fake.revoke_tokens()
        assert await client.upload_asset(kind_task("sync_full").id, tmp_path / "f") == len(data)
    codes = [call.code for call in fake.recorded().calls_to("UploadAsset")]
    assert codes == ["UNAUTHENTICATED", "OK"] * 5
    assert all(upload.ok for upload in fake.recorded().uploads)


async def test_upload_whose_token_refresh_gets_a_200_without_a_token_is_retried(
    fake: FakeC1, client: BatonServiceClient, tmp_path: Path
) -> None:
    # Mid-run, a token refresh answered by a proxy's page: a transient failure of the upload (retried under its
    # policy), not a refusal that fails the sync task.
    data = _write_random(tmp_path / "f", CHUNK + 1)
    await client.get_task()
    fake.revoke_tokens()
    fake.answer_token_requests(b"<html>proxy login</html>", content_type="text/html", times=1)
    assert await client.upload_asset(kind_task("sync_full").id, tmp_path / "f") == len(data)
    assert fake.recorded().uploads[-1].received_sha256 == hashlib.sha256(data).digest()


@pytest.mark.parametrize("status", [400, 401, 403])
async def test_upload_whose_token_refresh_is_refused_once_is_retried(
    fake: FakeC1, client: BatonServiceClient, tmp_path: Path, status: int
) -> None:
    """Mid-run, one refusal from the token endpoint (a 400 invalid_grant passing by, credentials being rotated) is
    retried as a report's is (docs/service-mode.md, "When a report fails"): it failed the whole sync, already built,
    on that one answer, and ConductorOne ran it again from the start."""
    data = _write_random(tmp_path / "f", CHUNK + 1)
    await client.get_task()
    fake.revoke_tokens()
    fake.fail_token_requests(status, times=1)
    assert await client.upload_asset(kind_task("sync_full").id, tmp_path / "f") == len(data)
    assert fake.recorded().uploads[-1].received_sha256 == hashlib.sha256(data).digest()


async def test_upload_refusing_even_the_fresh_token_once_is_retried(
    fake: FakeC1, client: BatonServiceClient, tmp_path: Path
) -> None:
    """UNAUTHENTICATED to the first attempt and to its fresh-token retry (a clock stepped, an auth service mid-deploy)
    is what the report table retries ("token revoked, clock skew, credentials being rotated"): the upload tries again
    within its attempts, instead of failing the whole sync on it."""
    data = _write_random(tmp_path / "f", CHUNK + 1)
    fake.fail_next("UploadAsset", grpc.StatusCode.UNAUTHENTICATED, times=2)
    assert await client.upload_asset(kind_task("sync_full").id, tmp_path / "f") == len(data)
    codes = [call.code for call in fake.recorded().calls_to("UploadAsset")]
    assert codes == ["UNAUTHENTICATED", "UNAUTHENTICATED", "OK"]


async def test_upload_whose_token_refresh_is_refused_every_time_gives_up_after_its_attempts(
    fake: FakeC1, client: BatonServiceClient, tmp_path: Path
) -> None:
    _write_random(tmp_path / "f", CHUNK + 1)
    await client.get_task()
    fake.revoke_tokens()
    fake.fail_token_requests(401, times=FAST_UPLOAD_RETRY.max_attempts)
    with pytest.raises(C1AuthRejectedError):
        await client.upload_asset(kind_task("sync_full").id, tmp_path / "f")
    assert fake.recorded().uploads == []


async def test_upload_answered_ok_before_its_end_is_not_success(fake: FakeC1, tmp_path: Path) -> None:
    data = _write_random(tmp_path / "f", 8 * CHUNK)
    fake.accept_uploads_early(times=1)
    async with make_client(fake, upload_retry=FAST_UPLOAD_RETRY) as client:
        assert await client.upload_asset(kind_task("sync_full").id, tmp_path / "f") == len(data)
    uploads = fake.recorded().uploads
    assert [upload.ok for upload in uploads] == [False, True]
    assert uploads[1].received_sha256 == hashlib.sha256(data).digest()


async def test_an_undecodable_answer_logs_no_error_line_and_no_traceback(fake: FakeC1) -> None:
    """A peer's garbage answer is retried by the caller, which logs it at warning naming the RPC. grpc's own record
    of it ("Exception deserializing message!") was at error, naming neither RPC nor task: a page for nothing, at the
    level that means a task ConductorOne will never hear of."""
    fake.answer_raw("Heartbeat", GARBAGE, times=1)
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    daemon_logging.configure("info", "json", stream)
    try:
        async with make_client(fake) as client:
            with pytest.raises(C1TransientError, match="could not be decoded as HeartbeatResponse"):
                await client.heartbeat(kind_task("sync_full").id)
    finally:
        structlog.reset_defaults()
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    (grpc_line,) = [r for r in records if "deserializ" in r["event"]]
    assert grpc_line["level"] == "warning"
    assert "exception" not in grpc_line
    assert [r for r in records if r["level"] in ("error", "critical")] == []


async def test_upload_answered_ok_with_an_undecodable_answer_is_not_success(fake: FakeC1, tmp_path: Path) -> None:
    """A broken peer's OK whose answer does not decode proves nothing arrived (grpc hands such an answer back as
    None): the attempt fails as every undecodable answer does, and is retried under the upload's policy."""
    _write_random(tmp_path / "f", CHUNK + 1)
    fake.answer_raw("UploadAsset", GARBAGE, times=3)
    async with make_client(fake, upload_retry=FAST_UPLOAD_RETRY) as client:
        with pytest.raises(C1TransientError) as caught:
            await client.upload_asset(kind_task("sync_full").id, tmp_path / "f")
        assert (
            str(caught.value)
            == "UploadAsset: ConductorOne's response could not be decoded as UploadAssetResponse (INTERNAL)"
        )
        assert caught.value.code == grpc.StatusCode.INTERNAL
        fake.answer_raw("UploadAsset", GARBAGE, times=1)
        assert await client.upload_asset(kind_task("sync_full").id, tmp_path / "f") == CHUNK + 1
    assert [upload.ok for upload in fake.recorded().uploads] == [True]


async def test_an_upload_the_peer_stops_reading_ends_at_the_stall_bound_and_is_retried(
    small_window_fake: FakeC1, tmp_path: Path
) -> None:
    """A peer alive but not reading (its flow-control window full) made our writes wait until the attempt's own
    deadline, 30 minutes, three times over, while the sync's heartbeats went on. Each message must be taken within
    `upload_stall`; the attempt then fails as a deadline and the next one is made."""
    fake = small_window_fake
    data = _write_random(tmp_path / "f", 16 * CHUNK)  # well past what its window buffers for a stalled peer
    fake.stall_uploads(times=2)
    # Not 0.3 s as below: here the last attempt must succeed, and a loaded machine can keep a live peer from taking
    # one message for that long (seen at load 20), which made it a third stall.
    timeouts = CallTimeouts(upload_attempt=600.0, upload_stall=2.0)
    async with make_client(fake, timeouts=timeouts, upload_retry=FAST_UPLOAD_RETRY) as client:
        async with asyncio.timeout(120):  # not a measure: a failure instead of the 600 s attempt deadline
            assert await client.upload_asset(kind_task("sync_full").id, tmp_path / "f") == len(data)
    assert [call.code for call in fake.recorded().calls_to("UploadAsset")] == ["STALLED", "STALLED", "OK"]
    assert fake.recorded().uploads[-1].received_sha256 == hashlib.sha256(data).digest()


async def test_a_stalled_upload_names_the_stall(small_window_fake: FakeC1, tmp_path: Path) -> None:
    fake = small_window_fake
    _write_random(tmp_path / "f", 16 * CHUNK)
    fake.stall_uploads(times=3)
    timeouts = CallTimeouts(upload_attempt=600.0, upload_stall=0.3)
    async with make_client(fake, timeouts=timeouts, upload_retry=FAST_UPLOAD_RETRY) as client:
        with pytest.raises(C1TransientError) as caught:
            async with asyncio.timeout(120):  # not a measure: a failure instead of the 600 s attempt deadline
                await client.upload_asset(kind_task("sync_full").id, tmp_path / "f")
    assert str(caught.value) == (
        f"UploadAsset: ConductorOne at {fake.address} took no upload data for 0.3 s (DEADLINE_EXCEEDED)"
    )


async def test_an_upload_taken_whole_and_never_answered_ends_at_the_stall_bound_and_is_retried(
    fake: FakeC1, tmp_path: Path
) -> None:
    """ConductorOne takes the whole asset, eof and all, and never answers: the attempt waited for its own deadline,
    30 minutes, three times over, holding a task slot (grants and revokes wait for slots) while the heartbeats went
    on. The answer must come within `upload_stall` of the upload's end, as each message must be taken within it."""
    data = _write_random(tmp_path / "f", 3 * CHUNK)
    fake.hold_upload_answers(times=2)
    timeouts = CallTimeouts(upload_attempt=600.0, upload_stall=2.0)
    async with make_client(fake, timeouts=timeouts, upload_retry=FAST_UPLOAD_RETRY) as client:
        async with asyncio.timeout(120):  # not a measure: a failure instead of the 600 s attempt deadline
            assert await client.upload_asset(kind_task("sync_full").id, tmp_path / "f") == len(data)
    assert [call.code for call in fake.recorded().calls_to("UploadAsset")] == ["HELD", "HELD", "OK"]
    assert fake.recorded().uploads[-1].received_sha256 == hashlib.sha256(data).digest()


async def test_an_upload_never_answered_names_what_is_missing(fake: FakeC1, tmp_path: Path) -> None:
    _write_random(tmp_path / "f", CHUNK)
    fake.hold_upload_answers(times=3)
    timeouts = CallTimeouts(upload_attempt=600.0, upload_stall=0.3)
    async with make_client(fake, timeouts=timeouts, upload_retry=FAST_UPLOAD_RETRY) as client:
        with pytest.raises(C1TransientError) as caught:
            async with asyncio.timeout(120):  # not a measure: a failure instead of the 600 s attempt deadline
                await client.upload_asset(kind_task("sync_full").id, tmp_path / "f")
    assert str(caught.value) == (
        f"UploadAsset: ConductorOne at {fake.address} gave no answer within 0.3 s of the upload's end (DEADLINE_EXCEEDED)"
    )


async def test_upload_of_a_missing_file_sends_nothing(fake: FakeC1, client: BatonServiceClient, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await client.upload_asset(kind_task("sync_full").id, tmp_path / "missing")
    assert fake.recorded().calls_to("UploadAsset") == []


# ---- tokens on the channel ------------------------------------------------------------------------------------


async def test_short_lived_tokens_keep_working_via_unauthenticated_refetch_retry(leak_guard: LeakGuard) -> None:
    # The server honours tokens for 1 s but advertises 3 s (a skewed clock, or a revocation), and the client
    # keeps a token to its advertised end: expiry shows up as UNAUTHENTICATED every second or so.
    with FakeC1(expires_in=3, token_lifetime=1.0) as fake:
        leak_guard.watch(fake)
        async with make_client(fake, expiry_delta=0) as client:
            # Poll at a steady pace until the server has refused two expired tokens (several lifetimes); the
            # deadline only bounds a broken client, however slow the machine.
            deadline = time.monotonic() + 30
            polls = 0
            while [call.code for call in fake.recorded().calls].count("UNAUTHENTICATED") < 2:
                assert time.monotonic() < deadline, "no token was refused in 30 s"
                await client.get_task()
                polls += 1
                await asyncio.sleep(0.4)
            fetches = client.tokens.fetch_count
        codes = [call.code for call in fake.recorded().calls]
    # every rejection was followed by exactly one successful retry with a new token
    for index, code in enumerate(codes):
        if code == "UNAUTHENTICATED":
            assert codes[index + 1] == "OK"
    assert codes.count("OK") == polls
    assert fetches == 1 + codes.count("UNAUTHENTICATED")


async def test_tokens_shorter_than_the_expiry_delta_are_fetched_for_every_call(leak_guard: LeakGuard) -> None:
    with FakeC1(expires_in=3) as fake:
        leak_guard.watch(fake)
        async with make_client(fake) as client:
            for _ in range(3):
                await client.get_task()
            assert client.tokens.fetch_count == 3
        assert [call.code for call in fake.recorded().calls] == ["OK"] * 3


async def test_revoked_token_is_replaced_once(fake: FakeC1, client: BatonServiceClient) -> None:
    await client.get_task()
    fake.revoke_tokens()
    await client.get_task()
    assert [call.code for call in fake.recorded().calls] == ["OK", "UNAUTHENTICATED", "OK"]
    assert client.tokens.fetch_count == 2


@pytest.mark.parametrize("method", ["GetTask", "FinishTask", "UploadAsset"])
async def test_a_peer_quoting_the_tokens_it_was_sent_never_gets_them_into_an_error(
    fake: FakeC1, client: BatonServiceClient, tmp_path: Path, method: str
) -> None:
    """A hostile peer (or a proxy echoing requests) quotes bearer tokens in its status details: the one of this
    attempt, and the one the attempt before it, refused as UNAUTHENTICATED, carried. Neither reaches the error, nor
    (the leak guard) any log line."""
    task_id = kind_task("sync_full").id
    (tmp_path / "f").write_bytes(b"c1z")
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "GetTask": client.get_task,
        "FinishTask": lambda: client.finish_task(task_id),
        "UploadAsset": lambda: client.upload_asset(task_id, tmp_path / "f"),
    }
    await client.get_task()  # the first token
    fake.revoke_tokens()  # the next call is refused with it, and repeated with a second one
    fake.fail_next(method, grpc.StatusCode.INVALID_ARGUMENT, echo_tokens=True)
    with pytest.raises(C1FatalError) as caught:
        await calls[method]()
    issued = fake.recorded().issued_tokens
    assert len(issued) == 2
    assert str(caught.value).startswith(f"{method}: INVALID_ARGUMENT: scripted INVALID_ARGUMENT; tokens seen: ")
    assert not [token for token in issued if token in str(caught.value)]


async def test_a_call_outlived_by_many_fresher_tokens_still_never_gets_its_own_into_an_error(
    leak_guard: LeakGuard,
) -> None:
    """With tokens advertised for less than the refresh margin (`expires_in` 0 to 10 s) every call fetches its own. A
    FinishTask ConductorOne holds while the poll loop goes on saw more than 8 newer tokens fetched meanwhile, and its
    own token, no longer among the ones redacted, came back in the error (and the log line) from a peer or a proxy
    echoing the request's `authorization` header."""
    with FakeC1(expires_in=3) as fake:
        leak_guard.watch(fake)
        async with make_client(fake) as client:
            release = fake.hold_next("FinishTask")
            fake.fail_next("FinishTask", grpc.StatusCode.UNAVAILABLE, echo_tokens="own")
            finishing = asyncio.create_task(client.finish_task(kind_task("sync_full").id))
            await until(lambda: fake.recorded().calls_to("FinishTask"), "no FinishTask reached the fake")
            (own,) = fake.recorded().issued_tokens
            for _ in range(12):
                await client.get_task()  # each with a token of its own
            release.set()
            with pytest.raises(C1TransientError) as caught:
                await finishing
        assert len(fake.recorded().issued_tokens) == 13
        assert "authorization: Bearer <token>" in str(caught.value)
        assert own not in str(caught.value)


async def test_unauthenticated_twice_is_fatal_after_one_retry(leak_guard: LeakGuard) -> None:
    with FakeC1(token_lifetime=0) as fake:
        leak_guard.watch(fake)
        async with make_client(fake) as client:
            with pytest.raises(C1FatalError) as caught:
                await client.get_task()
        assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
        assert [call.code for call in fake.recorded().calls] == ["UNAUTHENTICATED"] * 2
        assert len(fake.recorded().issued_tokens) == 2


async def test_api_host_override_reaches_the_fake_and_aud_stays_the_tenant(leak_guard: LeakGuard) -> None:
    with FakeC1(tenant_host="acme.conductor.one") as fake:
        leak_guard.watch(fake)
        assert fake.api_host == fake.address
        async with make_client(fake) as client:
            await client.get_task()
        (record,) = fake.recorded().token_requests
        assert record.ok, record.reason
        assert record.claims is not None
        assert record.claims["aud"] == "acme.conductor.one"


# ---- failures -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error_class"),
    [
        (grpc.StatusCode.PERMISSION_DENIED, C1FatalError),
        (grpc.StatusCode.INVALID_ARGUMENT, C1FatalError),
        (grpc.StatusCode.UNIMPLEMENTED, C1FatalError),
        (grpc.StatusCode.FAILED_PRECONDITION, C1FatalError),
        (grpc.StatusCode.NOT_FOUND, C1FatalError),
        (grpc.StatusCode.UNAVAILABLE, C1TransientError),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, C1TransientError),
        (grpc.StatusCode.INTERNAL, C1TransientError),
        (grpc.StatusCode.UNKNOWN, C1TransientError),
        (grpc.StatusCode.ABORTED, C1TransientError),
    ],
)
async def test_status_codes_are_classified(
    fake: FakeC1, client: BatonServiceClient, code: grpc.StatusCode, error_class: type[Exception]
) -> None:
    fake.fail_next("Heartbeat", code)
    with pytest.raises(error_class) as caught:
        await client.heartbeat(kind_task("sync_full").id)
    assert isinstance(caught.value, C1TransientError | C1FatalError)
    assert caught.value.code == code
    assert caught.value.method == "Heartbeat"
    assert len(fake.recorded().calls) == 1  # no hidden retries


@pytest.mark.parametrize("mode", ["refuse", "unavailable"])
async def test_outage_is_transient_and_the_channel_recovers(
    fake: FakeC1, client: BatonServiceClient, mode: str
) -> None:
    await client.get_task()
    fake.start_outage("refuse" if mode == "refuse" else "unavailable")
    for _ in range(2):
        with pytest.raises(C1TransientError) as caught:
            await client.get_task()
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    fake.end_outage()
    deadline = time.monotonic() + 10
    while True:
        try:
            await client.get_task()
            break
        except C1TransientError:
            assert time.monotonic() < deadline, "the channel did not recover"
            await asyncio.sleep(0.1)
    assert client.tokens.fetch_count == 1


async def test_on_call_hook_sees_every_attempt(fake: FakeC1) -> None:
    results: list[RpcResult] = []
    async with make_client(fake, on_call=results.append) as client:
        await client.get_task()
        fake.revoke_tokens()
        await client.get_task()
    assert [(result.method, result.code) for result in results] == [
        ("GetTask", "OK"),
        ("GetTask", "UNAUTHENTICATED"),
        ("GetTask", "OK"),
    ]
    assert all(result.seconds >= 0 for result in results)


async def test_a_task_over_the_message_limit_is_a_transient_error_naming_the_limit(fake: FakeC1) -> None:
    """gRPC refuses an answer over the receive limit (32 MiB in production) as RESOURCE_EXHAUSTED: the error says
    so, with the limit, so the poll loop can tell it from a server's own RESOURCE_EXHAUSTED (a rate limit)."""
    results: list[RpcResult] = []
    task = kind_task("grant")
    task.grant.principal.id.resource = "u" * 5000
    fake.enqueue(task)
    async with make_client(fake, on_call=results.append, max_receive_bytes=4096) as client:
        with pytest.raises(C1ResponseTooLargeError) as raised:
            await client.get_task()
    error = raised.value
    assert isinstance(error, C1TransientError)
    assert (error.limit, error.method, error.code) == (4096, "GetTask", grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert "over the client's 4096-byte gRPC message limit" in str(error)
    assert [(r.method, r.code, r.too_large) for r in results] == [("GetTask", "RESOURCE_EXHAUSTED", True)]


def test_constructor_validates_host_id(fake: FakeC1) -> None:
    for bad in ("", "h" * 257):
        with pytest.raises(ValueError, match="host_id"):
            make_client(fake, host_id=bad)


async def test_client_repr_holds_no_token(fake: FakeC1, client: BatonServiceClient) -> None:
    await client.get_task()
    token = fake.recorded().issued_tokens[0]
    assert token not in repr(client)
    assert token not in repr(client.tokens)


# ---- the environment ------------------------------------------------------------------------------------------


def test_grpc_root_certificates_from_env(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b"PEM")
    assert grpc_root_certificates({"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": "x", "SSL_CERT_FILE": str(bundle)}) is None
    assert grpc_root_certificates({"SSL_CERT_FILE": str(bundle)}) == b"PEM"
    assert grpc_root_certificates({}) is None


_ROOTS_SCRIPT = textwrap.dedent(
    """
    import asyncio, os, sys
    from connector.baton.c1 import BatonServiceClient, C1TransientError, parse_client_id, parse_client_secret
    from connector.baton.c1.client import grpc_root_certificates

    async def main() -> int:
        client = BatonServiceClient.from_credentials(
            parse_client_id(os.environ["BATON_CLIENT_ID"]),
            parse_client_secret(os.environ["BATON_CLIENT_SECRET"]),
            host_id="subprocess",
            root_certificates=grpc_root_certificates(os.environ),
        )
        try:
            await client.get_task()
            return 0
        except C1TransientError as exc:
            print(exc.code.name, file=sys.stderr)
            return 3
        finally:
            await client.close()

    sys.exit(asyncio.run(main()))
    """
)


@pytest.mark.parametrize("trust_fake", [True, False])
def test_grpc_default_ssl_roots_file_path_is_honoured(fake: FakeC1, trust_fake: bool) -> None:
    # grpc reads the variable once per process, so each case runs in its own interpreter.
    env = {key: value for key, value in os.environ.items() if "PROXY" not in key.upper()}
    env.update(
        BATON_CLIENT_ID=fake.client_id,
        BATON_CLIENT_SECRET=fake.client_secret,
        # httpx trusts the fake either way: this test is about the gRPC channel.
        SSL_CERT_FILE=str(fake.ca_cert_path),
        GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=str(fake.ca_cert_path) if trust_fake else "/etc/ssl/certs/ca-certificates.crt",
        PYTHONPATH=str(ROOT),
    )
    result = subprocess.run(
        [sys.executable, "-c", _ROOTS_SCRIPT], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    getting = [call.code for call in fake.recorded().calls]
    if trust_fake:
        assert result.returncode == 0, result.stderr
        assert getting == ["OK"]
    else:
        assert result.returncode == 3, result.stderr
        assert "UNAVAILABLE" in result.stderr
        assert getting == []  # the TLS handshake failed: no RPC reached the fake


def _openssl_subject_hash(cert: Path) -> str:
    """The name OpenSSL looks a CA up by in a hashed directory (`c_rehash`), from the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to name a CA file as OpenSSL looks it up")
    done = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", str(cert)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_the_channel_trusts_the_cas_of_ssl_cert_dir_as_the_token_request_does(fake: FakeC1, tmp_path: Path) -> None:
    """With SSL_CERT_DIR alone (a TLS-inspecting proxy's CA added to a hashed directory), httpx trusts that directory
    for the token request, and the channel was given nothing of it: its handshake failed on grpc's bundled roots while
    the token came, and the pod never reached ConductorOne. The directory's CAs are the channel's roots too."""
    cert_dir = tmp_path / "certs"
    cert_dir.mkdir()
    (cert_dir / f"{_openssl_subject_hash(fake.ca_cert_path)}.0").write_bytes(fake.ca_cert_path.read_bytes())
    (cert_dir / "README").write_text("not a certificate: OpenSSL reads only hashed names, and so do the roots\n")
    env = {
        key: value
        for key, value in os.environ.items()
        if "PROXY" not in key.upper()
        and key not in ("SSL_CERT_FILE", "SSL_CERT_DIR", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH")
    }
    env.update(
        BATON_CLIENT_ID=fake.client_id,
        BATON_CLIENT_SECRET=fake.client_secret,
        SSL_CERT_DIR=f"{tmp_path / 'missing'}:{cert_dir}:",  # a list, as OpenSSL reads it
        PYTHONPATH=str(ROOT),
    )
    result = subprocess.run(
        [sys.executable, "-c", _ROOTS_SCRIPT], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert [call.code for call in fake.recorded().calls] == ["OK"]
    roots = grpc_root_certificates({"SSL_CERT_DIR": str(cert_dir)})
    assert roots is not None
    assert roots.strip() == fake.ca_cert_path.read_bytes().strip()


_PROXY_NAMES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "grpc_proxy")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"HTTPS_PROXY": "proxy:3128"}, "http://proxy:3128"),
        ({"https_proxy": "http://p:1"}, "http://p:1"),
        ({}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other.one"}, "http://p:1"),
        # The same route as the token request, where grpc's own reading of the environment differed:
        ({"ALL_PROXY": "http://p:1"}, "http://p:1"),  # grpc: no ALL_PROXY
        ({"Https_Proxy": "http://p:1"}, "http://p:1"),  # grpc: lower-case names only
        ({"http_proxy": "http://p:1"}, None),  # grpc: http_proxy for an https target too
        ({"grpc_proxy": "http://p:1"}, None),  # grpc only; neither httpx nor the Go SDK reads it
        ({"https_proxy": "http://p:1", "NO_PROXY": "acme.conductor.one"}, None),  # grpc: lower-case no_proxy only
        ({"HTTPS_PROXY": "http://p:1", "https_proxy": ""}, None),  # an empty lower-case name unsets
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".acme.conductor.one"}, "http://p:1"),  # subdomains only
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "acme.conductor.one:8443"}, "http://p:1"),  # another port
        # The port the channel uses (https's 443), as Go reads it: httpx drops a default port from its URLs, so an
        # entry naming it never matched, and the channel (and the token request) went through the proxy.
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "acme.conductor.one:443"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "conductor.one:443"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "acme.conductor.one:80"}, "http://p:1"),  # http's, not https's
        # `*.domain` is Go's `.domain`: httpx made it the pattern `**.domain`, which matched no host.
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*.conductor.one"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*.conductor.one:443"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*.acme.conductor.one"}, "http://p:1"),  # subdomains only
    ],
)
def test_grpc_proxy_from_env_is_the_token_requests_proxy(
    environ: dict[str, str], expected: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (*_PROXY_NAMES, "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    endpoints = resolve_endpoints(parse_client_id("n@acme.conductor.one/pcc"))
    assert grpc_proxy_from_env(endpoints) == expected


@pytest.mark.parametrize(
    ("api_host", "no_proxy", "expected"),
    [
        ("10.1.2.3:8443", "10.0.0.0/8", None),
        ("10.1.2.3:8443", "localhost, 10.1.0.0/16 ,.svc", None),
        ("10.1.2.3:8443", "192.168.0.0/16", "http://p:1"),
        ("[fd00::5]:8443", "fd00::/8", None),
        ("[fd00::5]:8443", "fc00::/16", "http://p:1"),
        ("acme.conductor.one", "10.0.0.0/8", "http://p:1"),  # a network is matched against an address only, as Go
    ],
)
def test_a_no_proxy_network_holding_the_api_hosts_address_sends_the_channel_and_the_token_direct(
    api_host: str, no_proxy: str, expected: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BATON_C1_API_HOST at a private address and NO_PROXY naming its network, as Go reads it: httpx made
    `10.0.0.0/8` the one address 10.0.0.0, and an IPv6 network no URL at all."""
    for name in (*_PROXY_NAMES, "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://p:1")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    endpoints = resolve_endpoints(parse_client_id("n@acme.conductor.one/pcc"), api_host)
    assert grpc_proxy_from_env(endpoints) == expected


@pytest.mark.parametrize(
    "no_proxy", ["*", "acme.conductor.one", ".conductor.one", "conductor.one", "x, acme.conductor.one"]
)
def test_no_proxy_sends_the_channel_direct(no_proxy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROXY_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://p:1")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    assert grpc_proxy_from_env(resolve_endpoints(parse_client_id("n@acme.conductor.one/pcc"))) is None


async def test_without_a_proxy_the_channel_ignores_the_proxy_variables_grpc_reads(
    fake: FakeC1, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`proxy=None` is a direct channel: grpc would otherwise take `http_proxy` (or `grpc_proxy`) from the
    environment by itself, while the token request, like the Go SDK, goes direct."""
    async with RefusingPeer(lambda _: b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n") as proxy:
        monkeypatch.setenv("http_proxy", f"http://{proxy.address}")
        monkeypatch.setenv("grpc_proxy", f"http://{proxy.address}")
        monkeypatch.delenv("no_proxy", raising=False)
        async with make_client(fake) as client:
            await client.get_task()
    assert proxy.received == []
    assert fake.recorded().calls[0].code == "OK"


async def test_channel_goes_through_the_proxy(fake: FakeC1, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*_PROXY_NAMES, "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    async with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        proxy_url = grpc_proxy_from_env(resolve_endpoints(parse_client_id(fake.client_id)))
        assert proxy_url == proxy.url
        client_id = parse_client_id(fake.client_id)
        proxied = BatonServiceClient(
            client_id=client_id,
            token_source=TokenSource(client_id, parse_client_secret(fake.client_secret), verify=fake.ssl_context()),
            host_id="proxied",
            root_certificates=fake.ca_pem,
            proxy=proxy_url,
            owns_token_source=True,
        )
        await proxied.get_task()
        await proxied.close()
    assert proxy.tunnels == [fake.address, fake.address]  # the token request, then the channel
    assert fake.recorded().calls[0].code == "OK"


def _status_details(*details: Message, code: grpc.StatusCode = grpc.StatusCode.RESOURCE_EXHAUSTED) -> bytes:
    """A `grpc-status-details-bin` trailer: the google.rpc.Status of the answer, its details packed."""
    status = status_pb2.Status(code=code.value[0], message="slow down")
    for detail in details:
        status.details.add().Pack(detail)
    return status.SerializeToString()


def _retry_info(seconds: int, nanos: int = 0) -> error_details_pb2.RetryInfo:
    return error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds, nanos=nanos))


@pytest.mark.parametrize(
    ("trailer", "expected"),
    [
        (_status_details(_retry_info(7, 500_000_000)), 7.5),
        (_status_details(error_details_pb2.ErrorInfo(reason="QUOTA"), _retry_info(3)), 3.0),
        (_status_details(_retry_info(-5, -1)), 0.0),
        (_status_details(_retry_info(10**12)), MAX_RETRY_AFTER),
        (_status_details(error_details_pb2.ErrorInfo(reason="QUOTA")), None),
        (_status_details(), None),
        (b"\xff\xff not a status", None),
        (status_pb2.Status(details=[any_pb2.Any(type_url=RETRY_INFO_URL, value=b"\xff")]).SerializeToString(), None),
    ],
)
async def test_the_retry_delay_conductorone_asks_for_is_carried_on_the_error(
    fake: FakeC1, client: BatonServiceClient, trailer: bytes, expected: float | None
) -> None:
    """RESOURCE_EXHAUSTED (or any status) may say when to come back: google.rpc.RetryInfo in the status details
    trailer. It was dropped, and every loop retried on its own backoff, which starts under a second. Read, clamped,
    and anything that does not decode is no hint at all."""
    fake.fail_next("GetTask", grpc.StatusCode.RESOURCE_EXHAUSTED, status_details=trailer)
    with pytest.raises(C1TransientError) as caught:
        await client.get_task()
    assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert caught.value.retry_after == expected


async def test_the_wait_a_rate_limited_token_endpoint_asks_for_is_carried_on_the_rpcs_error(
    fake: FakeC1, client: BatonServiceClient
) -> None:
    await client.get_task()  # a token is cached
    fake.revoke_tokens()
    fake.fail_token_requests(429, retry_after=["30"])
    with pytest.raises(C1TransientError) as caught:
        await client.get_task()
    assert caught.value.retry_after == 30


async def test_an_upload_waits_the_retry_delay_conductorone_asks_for(
    fake: FakeC1, client: BatonServiceClient, tmp_path: Path
) -> None:
    data = _write_random(tmp_path / "f", CHUNK + 1)
    fake.fail_next(
        "UploadAsset", grpc.StatusCode.RESOURCE_EXHAUSTED, status_details=_status_details(_retry_info(0, 200_000_000))
    )
    with structlog.testing.capture_logs() as events:
        assert await client.upload_asset(kind_task("sync_full").id, tmp_path / "f") == len(data)
    (retried,) = [e for e in events if e["event"] == "c1 upload attempt failed, retrying"]
    assert retried["retry_in"] == 0.2


async def test_an_upload_ended_while_still_writing_keeps_the_retry_delay_conductorone_asks_for(
    fake: FakeC1, client: BatonServiceClient, tmp_path: Path
) -> None:
    """The fake refuses the stream before reading it, which races our writes (see the fatal-failure test above):
    when grpc's "Internal error from Core" overwrote the server's status, the status was recovered but not its
    trailer, so ConductorOne's RetryInfo was lost and the upload retried on its own backoff (seen at load 20).
    Repeat to hit the race."""
    data = _write_random(tmp_path / "f", 3 * CHUNK)
    for _ in range(10):
        fake.fail_next(
            "UploadAsset",
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            status_details=_status_details(_retry_info(0, 100_000_000)),
        )
        with structlog.testing.capture_logs() as events:
            assert await client.upload_asset(kind_task("sync_full").id, tmp_path / "f") == len(data)
        (retried,) = [e for e in events if e["event"] == "c1 upload attempt failed, retrying"]
        assert retried["retry_in"] == 0.1
