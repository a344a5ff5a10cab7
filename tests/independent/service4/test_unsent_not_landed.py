"""A FinishTask or a hello task's Hello that never left (grpc still making the connection: a peer that never finishes
TLS, SYNs dropped) cannot have landed: its loss line said `may_have_landed`, beside an error saying the connection
"was not made", and the operator looked in ConductorOne for a report that never reached it. Whether the call went out
is read the one way the error's text reads it: a made connection as the call went out, or as it ended or was cut."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import structlog

from connector.baton.c1 import BatonServiceClient, CallTimeouts
from connector.baton.c1.credentials import parse_client_id
from connector.baton.connector import Connector
from connector.baton.pb.c1.connector.v2 import connector_pb2
from connector.baton.retry import RetryPolicy
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.processor import TaskProcessor
from tests.baton.c1.conftest import TEST_CHANNEL_OPTIONS
from tests.baton.c1.test_unreachable import StaticTokens
from tests.baton.tasks.stubs import INSTANT, StubConnector
from tests.fakes.c1 import generate_client_credentials
from tests.fakes.tasks import kind_task
from tests.independent.hangs.silentpeer import SilentPeer
from tests.independent.hangs.test_silent_c1 import never_accepts  # noqa: F401 (a fixture)
from tests.polling import until

HELLO_LOST = "hello task not answered"
REPORT_LOST = "task not reported to ConductorOne"


def _client(address: str, *, hello: float = 30.0, finish: float = 30.0, options: Any = TEST_CHANNEL_OPTIONS) -> Any:
    return BatonServiceClient(
        client_id=parse_client_id(generate_client_credentials(address).client_id),
        token_source=StaticTokens(),  # type: ignore[arg-type]
        host_id="test-host",
        api_host=address,
        root_certificates=None,
        channel_options=options,
        timeouts=CallTimeouts(hello=hello, finish_task=finish),
    )


def _processor(client: BatonServiceClient, out: asyncio.Event, policy: RetryPolicy = INSTANT) -> TaskProcessor:
    async def hello(task_id: str, awaiting: Callable[[bool], None]) -> None:
        def told(now: bool) -> None:
            if now:
                out.set()
            awaiting(now)

        await client.hello(connector_pb2.ConnectorMetadata(display_name="t"), task_id=task_id, awaiting=told)

    handlers = Handlers(cast(Connector, StubConnector()), provisioning=True)
    return TaskProcessor(client, handlers, cast(Any, None), hello, finish_retry=policy)


async def test_a_hello_that_timed_out_while_connecting_never_landed() -> None:
    async with SilentPeer() as peer:
        client = _client(peer.address, hello=0.5)
        try:
            processor = _processor(client, asyncio.Event(), RetryPolicy(max_attempts=1))
            with structlog.testing.capture_logs() as events:
                await processor.process(kind_task("hello"))
        finally:
            await client.close()
    (line,) = [e for e in events if e["event"] == HELLO_LOST]
    assert "was not made within" in line["error"]
    assert "may_have_landed" not in line


async def test_a_report_that_timed_out_while_connecting_never_landed() -> None:
    async with SilentPeer() as peer:
        client = _client(peer.address, finish=0.5)
        try:
            processor = _processor(client, asyncio.Event(), RetryPolicy(base_delay=5, max_delay=5))
            with structlog.testing.capture_logs() as events:
                processing = asyncio.create_task(processor.process(kind_task("event_feed")))
                await until(lambda: any(e["event"] == "task report failed; retrying" for e in events), "a retry")
                processor.stop_reporting_within(0.0)
                await processing
        finally:
            await client.close()
    (line,) = [e for e in events if e["event"] == REPORT_LOST]
    assert "was not made within" in line["error"]
    assert "may_have_landed" not in line


async def test_a_hello_cut_at_the_stop_while_connecting_never_landed(never_accepts: str) -> None:  # noqa: F811
    client = _client(never_accepts, options=[])
    out = asyncio.Event()
    try:
        processor = _processor(client, out)
        with structlog.testing.capture_logs() as events:
            processing = asyncio.create_task(processor.process(kind_task("hello")))
            await out.wait()
            assert not client._connected()
            processor.stop_reporting_within(0.02)
            await processing
        assert not client._connected()
    finally:
        await client.close()
    (line,) = [e for e in events if e["event"] == HELLO_LOST]
    assert "may_have_landed" not in line


async def test_a_report_cut_at_the_stop_while_connecting_never_landed(never_accepts: str) -> None:  # noqa: F811
    client = _client(never_accepts, options=[])
    out = asyncio.Event()

    def told(now: bool) -> None:
        if now:
            out.set()

    original = client.finish_task

    async def finish_task(*args: Any, awaiting: Callable[[bool], None] | None = None, **kwargs: Any) -> Any:
        def both(now: bool) -> None:
            told(now)
            if awaiting is not None:
                awaiting(now)

        return await original(*args, awaiting=both, **kwargs)

    client.finish_task = finish_task
    try:
        processor = _processor(client, asyncio.Event())
        with structlog.testing.capture_logs() as events:
            processing = asyncio.create_task(processor.process(kind_task("event_feed")))
            await out.wait()
            assert not client._connected()
            processor.stop_reporting_within(0.02)
            await processing
        assert not client._connected()
    finally:
        await client.close()
    (line,) = [e for e in events if e["event"] == REPORT_LOST]
    assert "may_have_landed" not in line
