"""Each failure of a call to ConductorOne is one log line, and that line names its cause.

A token request ConductorOne's token endpoint refused was logged twice: the token source's own warning (`c1 token
request failed`, its URL and status, no words), then the line of the loop that needed the token (`polling
ConductorOne failed`, `Hello failed; retrying`, `heartbeat failed`, `task report failed; retrying`), which names the
same failure in full. A failed upload attempt was logged with its gRPC code only (none at all when the token was the
failure): why it failed was in no line until the task's own, after the last attempt.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import structlog

from connector.baton.retry import RetryPolicy
from connector.baton.runtime.scheduler import Scheduler
from tests.baton.c1.conftest import make_client
from tests.baton.tasks.stubs import processor_over
from tests.fakes.c1 import FakeC1
from tests.fakes.tasks import kind_task
from tests.independent.operator2.conftest import seen


async def test_a_refused_token_request_is_one_line_naming_its_cause(fake: FakeC1) -> None:
    client = make_client(fake)
    try:
        await client.get_task()  # a token, then one the endpoint will not renew
        fake.revoke_tokens()
        fake.fail_token_requests(401, times=100)
        stop = asyncio.Event()
        waits: list[float] = []

        async def wait(event: asyncio.Event, delay: float) -> bool:
            waits.append(delay)
            if len(waits) == 3:
                event.set()
            return event.is_set()

        scheduler = Scheduler(client, processor_over(client), concurrency=1, wait=wait)
        with structlog.testing.capture_logs() as events:
            await asyncio.wait_for(scheduler.run(stop), 10)
        failed_polls = len(waits)
    finally:
        await client.close()
    lines = seen(events)
    assert [line["event"] for line in lines] == ["polling ConductorOne failed"] * failed_polls, lines
    for line in lines:
        assert "failed to get a token from" in line["error"], line
        assert "401" in line["error"], line


async def test_a_failed_upload_attempt_names_its_cause(fake: FakeC1, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 1000)
    fake.fail_next("UploadAsset", grpc.StatusCode.UNAVAILABLE, message="the load balancer is draining")
    client = make_client(fake, upload_retry=RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0))
    try:
        with structlog.testing.capture_logs() as events:
            assert await client.upload_asset(kind_task("sync_full").id, tmp_path / "f") == 1000
    finally:
        await client.close()
    (line,) = seen(events)
    assert line["event"] == "c1 upload attempt failed, retrying"
    assert "the load balancer is draining" in line["error"], line


async def test_an_upload_attempt_failed_by_its_token_names_the_token_request(fake: FakeC1, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 1000)
    client = make_client(fake, upload_retry=RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0))
    try:
        await client.get_task()
        fake.revoke_tokens()
        fake.fail_token_requests(503)
        with structlog.testing.capture_logs() as events:
            assert await client.upload_asset(kind_task("sync_full").id, tmp_path / "f") == 1000
    finally:
        await client.close()
    (line,) = seen(events)
    assert line["event"] == "c1 upload attempt failed, retrying"
    assert "failed to get a token from" in line["error"], line
    assert "503" in line["error"], line
