"""A Hello ConductorOne received, on a connection made during the call (the first call of a fresh channel), then the
peer's GOAWAY while it held the call: ConductorOne has it, so its loss line must say `may_have_landed`. Two looks at
the channel's state (READY as the call went out, or as it ended) cannot tell this call from one that never left: a
reading of them that said "never sent" (found by the rev1006 review of such a change) logged a Hello that landed as
one that did not. The report that may have landed is said so, whatever the channel's state reads."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest
import structlog

from connector.baton.c1 import CallTimeouts
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.retry import RetryPolicy
from tests.baton.c1.tlspeer import client_of, one_method_server
from tests.baton.tasks.stubs import INSTANT, processor_over
from tests.fakes.c1.certs import generate_tls_files
from tests.fakes.tasks import kind_task

HELLO_LOST = "hello task not answered"


_processor = processor_over


@pytest.mark.parametrize("ended_by", ["its deadline", "the stop"])
async def test_a_hello_received_then_held_through_goaway(tmp_path: Path, ended_by: str) -> None:
    """ConductorOne has the Hello and holds it; its GOAWAY goes out; the call ends at its deadline, or is cut at the
    stop once the channel no longer reads READY."""
    tls = generate_tls_files(tmp_path)
    received = asyncio.Event()

    async def hello(request: object, context: object) -> Any:
        received.set()
        await asyncio.sleep(30)
        return baton_pb2.BatonServiceHelloResponse()

    server, address = await one_method_server(tls, "Hello", hello)
    at_deadline = ended_by == "its deadline"
    client = client_of(address, tls, CallTimeouts(hello=2.0 if at_deadline else 30.0))
    stopping = None
    try:
        processor = _processor(client, RetryPolicy(max_attempts=1) if at_deadline else INSTANT)
        with structlog.testing.capture_logs() as events:
            processing = asyncio.create_task(processor.process(kind_task("hello")))
            await asyncio.wait_for(received.wait(), 30)  # ConductorOne has the Hello
            stopping = asyncio.ensure_future(server.stop(grace=20))  # GOAWAY, the call held
            if not at_deadline:
                for _ in range(100):
                    if not client._connected():
                        break
                    await asyncio.sleep(0.02)
                processor.stop_reporting_within(0.02)
            await processing
    finally:
        await client.close()
        await server.stop(None)
        if stopping is not None:
            stopping.cancel()
    (line,) = [e for e in events if e["event"] == HELLO_LOST]
    assert "may_have_landed" in line, line


async def test_a_server_answered_deadline_exceeded_then_goaway(tmp_path: Path) -> None:
    tls = generate_tls_files(tmp_path)
    received = asyncio.Event()
    holder: dict[str, Any] = {}

    async def hello(request: object, context: Any) -> Any:
        received.set()
        holder["stop"] = asyncio.ensure_future(holder["server"].stop(grace=20))  # GOAWAY first
        await asyncio.sleep(0.3)
        await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")  # its backend timed out

    server, address = await one_method_server(tls, "Hello", hello)
    holder["server"] = server
    client = client_of(address, tls, CallTimeouts(hello=30.0))
    try:
        processor = _processor(client, RetryPolicy(max_attempts=1))
        with structlog.testing.capture_logs() as events:
            await processor.process(kind_task("hello"))
    finally:
        await client.close()
        await server.stop(None)
    (line,) = [e for e in events if e["event"] == HELLO_LOST]
    assert "may_have_landed" in line, line
