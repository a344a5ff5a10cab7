"""Shared fixtures: a running fake ConductorOne, clients pointed at it, and a guard that fails any test whose
logs, stdout or stderr contain a credential (the client secret, its private key, or any token the fake issued).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import structlog

from connector.baton.c1 import (
    BatonServiceClient,
    CallTimeouts,
    RpcResult,
    TokenSource,
    parse_client_id,
    parse_client_secret,
)
from connector.baton.c1.client import MAX_RECEIVE_MESSAGE_BYTES
from connector.baton.retry import RetryPolicy
from tests.fakes.c1 import FakeC1

TEST_CHANNEL_OPTIONS: list[tuple[str, int | str]] = [
    # Reconnect quickly after a scripted outage; production keeps the slower defaults.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 300),
]

# The production attempt count (3) with delays short enough for a test.
FAST_UPLOAD_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05)


class LeakGuard:
    def __init__(self) -> None:
        self.canaries: set[str] = set()
        self.fakes: list[FakeC1] = []
        self.captured = ""

    def add(self, *values: str) -> None:
        self.canaries.update(value for value in values if value)

    def watch(self, fake: FakeC1) -> None:
        """The fake's secret, its private key and every token it issues count as canaries."""
        self.fakes.append(fake)
        self.add(fake.client_secret, fake.credentials.private_d)

    def collect(self) -> set[str]:
        canaries = set(self.canaries)
        for fake in self.fakes:
            canaries.update(fake.recorded().issued_tokens)
        return canaries


@pytest.fixture(autouse=True)
def leak_guard(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Iterator[LeakGuard]:
    guard = LeakGuard()
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        yield guard
    out, err = capfd.readouterr()
    guard.captured = "\n".join([caplog.text, repr(events), out, err])
    leaked = sorted(canary[:6] + "..." for canary in guard.collect() if canary in guard.captured)
    assert not leaked, f"credentials leaked into logs or output: {leaked}"


@pytest.fixture
def fake(leak_guard: LeakGuard) -> Iterator[FakeC1]:
    with FakeC1() as running:
        leak_guard.watch(running)
        yield running


@pytest.fixture
def small_window_fake(leak_guard: LeakGuard) -> Iterator[FakeC1]:
    """A fake whose gRPC server keeps its initial flow-control window, for tests of a peer that stops reading.
    With grpc's BDP probing a peer that never reads still let about 7.5 of 8 MiB into its window, and more on a
    busy machine (the probes' round trips grow, and the window with them): a file taken whole was no stall but an
    upload awaiting its answer until the attempt deadline (the 120 s guard of the stall tests, hit at load 20)."""
    with FakeC1(grpc_options=[("grpc.http2.bdp_probe", 0)]) as running:
        leak_guard.watch(running)
        yield running


def make_client(
    fake: FakeC1,
    *,
    host_id: str = "test-host",
    expiry_delta: float = 10.0,
    timeouts: CallTimeouts | None = None,
    upload_retry: RetryPolicy = FAST_UPLOAD_RETRY,
    on_call: Callable[[RpcResult], None] | None = None,
    max_receive_bytes: int = MAX_RECEIVE_MESSAGE_BYTES,
) -> BatonServiceClient:
    client_id = parse_client_id(fake.client_id)
    tokens = TokenSource(
        client_id,
        parse_client_secret(fake.client_secret),
        api_host=fake.api_host,
        verify=fake.ssl_context(),
        expiry_delta=expiry_delta,
    )
    return BatonServiceClient(
        client_id=client_id,
        token_source=tokens,
        host_id=host_id,
        api_host=fake.api_host,
        root_certificates=fake.ca_pem,
        channel_options=TEST_CHANNEL_OPTIONS,
        owns_token_source=True,
        timeouts=timeouts,
        upload_retry=upload_retry,
        on_call=on_call,
        max_receive_bytes=max_receive_bytes,
    )


async def connected(client: BatonServiceClient, within: float = 30.0) -> None:
    """Wait, within the test's own bound, for `client`'s channel to hold a made connection (TCP, TLS, the peer's HTTP/2
    settings). A test of what a call's short deadline does once the connection is made gave that deadline to making
    the connection too: a loaded host took longer than it, and the call read "the connection ... was not made"."""
    client.warm_up()
    assert client._channel is not None
    await asyncio.wait_for(client._channel.channel_ready(), within)


@pytest.fixture
async def client(fake: FakeC1) -> AsyncIterator[BatonServiceClient]:
    async with make_client(fake) as made:
        yield made
