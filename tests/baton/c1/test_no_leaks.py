"""Credentials never reach logs, exception text or reprs, across a whole session with every failure path.

(The autouse `leak_guard` fixture checks the same for every other test in this package; this test also
proves the capture is not empty, so that check is not vacuous.)
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import grpc
import pytest
import structlog
from google.rpc import status_pb2

from connector.baton.c1 import C1AuthRejectedError, C1Error, C1FatalError, parse_client_secret
from connector.baton.pb.c1.connector.v2 import connector_pb2
from tests.baton.c1.conftest import FAST_UPLOAD_RETRY, LeakGuard, make_client
from tests.fakes.c1 import FakeC1
from tests.fakes.tasks import kind_task


async def test_a_whole_session_logs_no_credentials(
    leak_guard: LeakGuard, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    scheduler_log = structlog.get_logger("test.scheduler")
    rendered_errors: list[str] = []

    def report(error: BaseException) -> None:
        # What a scheduler would do with a failure: log it with its traceback, and keep its text.
        scheduler_log.exception("call failed", exc_info=error)
        rendered_errors.append("".join(traceback.format_exception(error)) + repr(error))

    with FakeC1(expires_in=3, token_lifetime=0.5) as fake, structlog.testing.capture_logs() as events:
        leak_guard.watch(fake)
        secret = parse_client_secret(fake.client_secret)
        async with make_client(fake, expiry_delta=0, upload_retry=FAST_UPLOAD_RETRY) as client:
            await client.hello(connector_pb2.ConnectorMetadata(display_name="leak test"))
            task = kind_task("sync_full")
            fake.enqueue(task)
            await client.get_task()
            await client.heartbeat(task.id)
            (tmp_path / "c1z").write_bytes(b"x" * 700_000)
            fake.fail_next("UploadAsset", grpc.StatusCode.UNAVAILABLE)
            await client.upload_asset(task.id, tmp_path / "c1z")
            await client.finish_task(task.id, error=status_pb2.Status(code=2, message="boom"))
            fake.revoke_tokens()
            await client.get_task()

            fake.fail_next("GetTask", grpc.StatusCode.PERMISSION_DENIED)
            with pytest.raises(C1FatalError) as denied:
                await client.get_task()
            report(denied.value)

            client.tokens.invalidate()
            fake.fail_token_requests(401)
            with pytest.raises(C1AuthRejectedError) as rejected:
                await client.get_task()
            report(rejected.value)

            with fake.outage("refuse"), pytest.raises(C1Error) as outage:
                await client.get_task()
            report(outage.value)
            repr_texts = [repr(client), repr(client.tokens), repr(secret)]

        recorded = fake.recorded()

    canaries = leak_guard.collect()
    assert len(recorded.issued_tokens) >= 2
    assert fake.client_secret in canaries
    assert fake.credentials.private_d in canaries
    captured = "\n".join([caplog.text, repr(events), *rendered_errors, *repr_texts])
    # The capture is real: our events, the failures with their tracebacks, httpx's request log lines.
    assert any(event["event"] == "c1 call" for event in events)
    assert any(event["event"] == "c1 rejected the access token, fetching a new one" for event in events)
    assert "PERMISSION_DENIED" in captured
    assert "HTTP 401" in captured
    assert "/auth/v1/token" in caplog.text
    leaked = [canary[:6] for canary in canaries if canary in captured]
    assert not leaked
