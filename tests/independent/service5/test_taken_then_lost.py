"""A call ConductorOne took, then failed in grpc's own words (a server stopping while it held the call, an answer's
metadata over the client's limit): its loss line says it may have landed. `answer_lost` read any such UNAVAILABLE or
RESOURCE_EXHAUSTED as a status the peer sent, never sent (found by the review r1102)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest
import structlog

from connector.baton.c1 import BatonServiceClient, CallTimeouts
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.retry import RetryPolicy
from tests.baton.c1.tlspeer import client_of, one_method_server
from tests.baton.tasks.stubs import processor_over
from tests.fakes.c1 import FakeC1
from tests.fakes.c1.certs import generate_tls_files
from tests.fakes.tasks import grant_task, kind_task
from tests.polling import until

LOST = "task not reported to ConductorOne"
HELLO_LOST = "hello task not answered"


_processor = processor_over


async def test_a_report_answered_with_metadata_over_the_limit_then_found_gone_may_have_landed(
    c1: FakeC1, client: BatonServiceClient
) -> None:
    """ConductorOne took the FinishTask and answered it, the answer's trailer over grpc's metadata limit
    (RESOURCE_EXHAUSTED "Stream removed (received metadata size exceeds hard limit)"): an answer came, as with one
    over the message limit (`C1ResponseTooLargeError`)."""
    c1.flood_metadata("FinishTask", trailer_bytes=1_000_000, times=1)
    c1.state.refuse_repeated_reports = True
    task = grant_task("role", "r1", "member", "u1")
    with structlog.testing.capture_logs() as events:
        await _processor(client).process(task)
    assert len(c1.recorded().finish_tasks[task.id]) == 1  # ConductorOne has the report
    first = next(e["error"] for e in events if e["event"] == "task report failed; retrying")
    assert "RESOURCE_EXHAUSTED" in first, first
    assert "metadata" in first, first
    (lost,) = [e for e in events if e["event"] == LOST]
    assert lost.get("may_have_landed") is True, (first, lost)


async def test_a_hello_held_by_a_server_stopping_with_grace_may_have_landed(tmp_path: Path) -> None:
    """A real grpc.aio TLS peer receives the Hello (ConductorOne has it) and stops with a grace period while it holds
    it (a rolling deploy): grpc says UNAVAILABLE "Cancelling all calls", in the words a peer's own status could have."""
    tls = generate_tls_files(tmp_path)
    received = asyncio.Event()

    async def hello(request: object, context: object) -> Any:
        received.set()
        await asyncio.sleep(30)
        return baton_pb2.BatonServiceHelloResponse()

    server, address = await one_method_server(tls, "Hello", hello)
    client = client_of(address, tls, CallTimeouts(hello=30.0))
    try:
        processor = _processor(client, RetryPolicy(max_attempts=1))
        with structlog.testing.capture_logs() as events:
            processing = asyncio.create_task(processor.process(kind_task("hello")))
            await asyncio.wait_for(received.wait(), 30)  # ConductorOne has the Hello
            await server.stop(grace=0.2)
            await processing
    finally:
        await client.close()
        await server.stop(None)
    (line,) = [e for e in events if e["event"] == HELLO_LOST]
    assert "Cancelling all calls" in line["error"], line
    assert line.get("may_have_landed") is True, line


async def test_a_report_held_by_a_server_stopping_with_grace_may_have_landed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for a FinishTask, given up at the stop: its loss line must say may_have_landed."""
    tls = generate_tls_files(tmp_path)
    received = asyncio.Event()

    async def finish(request: object, context: object) -> Any:
        received.set()
        await asyncio.sleep(30)
        return baton_pb2.BatonServiceFinishTaskResponse()

    server, address = await one_method_server(tls, "FinishTask", finish)
    client = client_of(address, tls, CallTimeouts(finish_task=30.0))
    # A retry that cannot come before the stop: one drawn early met the stopped server and failed "connection refused"
    # in its place (full jitter draws from 0).
    never_soon = RetryPolicy(base_delay=600.0, max_delay=600.0)
    monkeypatch.setattr(random, "uniform", lambda _low, high: high)  # the policy's draw: its ceiling
    try:
        processor = _processor(client, never_soon)
        with structlog.testing.capture_logs() as events:
            processing = asyncio.create_task(processor.process(grant_task("role", "r1", "member", "u1")))
            await asyncio.wait_for(received.wait(), 30)  # ConductorOne has the report
            await server.stop(grace=0.2)
            await until(
                lambda: any(e["event"] == "task report failed; retrying" for e in events),
                "the first attempt's failure, then its retry's wait",
            )
            processor.stop_reporting_within(0.0)
            await processing
    finally:
        await client.close()
        await server.stop(None)
    (line,) = [e for e in events if e["event"] == LOST]
    assert "Cancelling all calls" in line["error"], line
    assert line.get("may_have_landed") is True, line
