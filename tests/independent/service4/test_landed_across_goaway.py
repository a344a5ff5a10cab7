"""A Hello ConductorOne received, on a connection made during the call (the first call of a fresh channel), then the
peer's GOAWAY while it held the call: ConductorOne has it, so its loss line must say `may_have_landed`. Two looks at
the channel's state (READY as the call went out, or as it ended) cannot tell this call from one that never left: a
reading of them that said "never sent" (found by the rev1006 review of such a change) logged a Hello that landed as
one that did not. The report that may have landed is said so, whatever the channel's state reads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import grpc
import structlog

from connector.baton.c1 import BatonServiceClient, CallTimeouts
from connector.baton.c1.credentials import parse_client_id
from connector.baton.connector import Connector
from connector.baton.pb.c1.connector.v2 import connector_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.retry import RetryPolicy
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.processor import TaskProcessor
from tests.baton.c1.conftest import TEST_CHANNEL_OPTIONS
from tests.baton.c1.test_unreachable import StaticTokens
from tests.baton.tasks.stubs import INSTANT, StubConnector
from tests.fakes.c1 import generate_client_credentials
from tests.fakes.c1.certs import generate_tls_files
from tests.fakes.tasks import kind_task

HELLO_LOST = "hello task not answered"


def _processor(client: BatonServiceClient, policy: RetryPolicy = INSTANT) -> TaskProcessor:
    async def hello(task_id: str, awaiting: Callable[[bool], None]) -> None:
        await client.hello(connector_pb2.ConnectorMetadata(display_name="t"), task_id=task_id, awaiting=awaiting)

    handlers = Handlers(cast(Connector, StubConnector()), provisioning=True)
    return TaskProcessor(client, handlers, cast(Any, None), hello, finish_retry=policy)


async def _server(tls: Any, hello: Any) -> tuple[Any, str]:
    handler = grpc.method_handlers_generic_handler(
        "c1.connectorapi.baton.v1.BatonService",
        {
            "Hello": grpc.unary_unary_rpc_method_handler(
                hello,
                request_deserializer=baton_pb2.BatonServiceHelloRequest.FromString,
                response_serializer=baton_pb2.BatonServiceHelloResponse.SerializeToString,
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_secure_port(
        "127.0.0.1:0", grpc.ssl_server_credentials([(tls.server_key.read_bytes(), tls.server_cert.read_bytes())])
    )
    await server.start()
    return server, f"127.0.0.1:{port}"


def _client(address: str, tls: Any, hello: float) -> BatonServiceClient:
    return BatonServiceClient(
        client_id=parse_client_id(generate_client_credentials(address).client_id),
        token_source=StaticTokens(),  # type: ignore[arg-type]
        host_id="test-host",
        api_host=address,
        root_certificates=tls.ca_pem,
        channel_options=TEST_CHANNEL_OPTIONS,
        timeouts=CallTimeouts(hello=hello),
    )


async def test_a_hello_received_then_goaway_then_deadline(tmp_path: Path) -> None:
    tls = generate_tls_files(tmp_path)
    received = asyncio.Event()

    async def hello(request: object, context: object) -> Any:
        received.set()
        await asyncio.sleep(30)
        return baton_pb2.BatonServiceHelloResponse()

    server, address = await _server(tls, hello)
    client = _client(address, tls, hello=2.0)
    stopping = None
    try:
        processor = _processor(client, RetryPolicy(max_attempts=1))
        with structlog.testing.capture_logs() as events:
            processing = asyncio.create_task(processor.process(kind_task("hello")))
            await asyncio.wait_for(received.wait(), 30)  # ConductorOne HAS the Hello
            stopping = asyncio.ensure_future(server.stop(grace=20))  # GOAWAY, call held
            await processing
    finally:
        await client.close()
        await server.stop(None)
        if stopping is not None:
            stopping.cancel()
    (line,) = [e for e in events if e["event"] == HELLO_LOST]
    assert received.is_set()
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

    server, address = await _server(tls, hello)
    holder["server"] = server
    client = _client(address, tls, hello=30.0)
    try:
        processor = _processor(client, RetryPolicy(max_attempts=1))
        with structlog.testing.capture_logs() as events:
            await processor.process(kind_task("hello"))
    finally:
        await client.close()
        await server.stop(None)
    (line,) = [e for e in events if e["event"] == HELLO_LOST]
    assert "may_have_landed" in line, line


async def test_a_hello_received_then_goaway_then_cut_at_stop(tmp_path: Path) -> None:
    tls = generate_tls_files(tmp_path)
    received = asyncio.Event()

    async def hello(request: object, context: object) -> Any:
        received.set()
        await asyncio.sleep(30)
        return baton_pb2.BatonServiceHelloResponse()

    server, address = await _server(tls, hello)
    client = _client(address, tls, hello=30.0)
    stopping = None
    try:
        processor = _processor(client)
        with structlog.testing.capture_logs() as events:
            processing = asyncio.create_task(processor.process(kind_task("hello")))
            await asyncio.wait_for(received.wait(), 30)
            stopping = asyncio.ensure_future(server.stop(grace=20))
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
