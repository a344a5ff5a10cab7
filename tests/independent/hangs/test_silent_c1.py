"""ConductorOne's gRPC API going silent at one step: each call ends at its deadline, named by what stalled. A peer that
completed TLS and HTTP/2's settings and then held the call read "ConductorOne at <host> unreachable: timed out", and
the operator looked at routes and firewalls for a peer that had taken the call; grpc's own words for a silent TLS
peer ("Handshake read failed (Endpoint closing)") reached the log raw, and a peer that finished TLS without sending
its SETTINGS frame read "timed out" as any other. A call whose deadline came while grpc was still connecting read
"unreachable: timed out" too: it is a connection not made within the deadline."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from connector.baton.c1 import BatonServiceClient, CallTimeouts
from connector.baton.c1.credentials import parse_client_id
from connector.baton.c1.errors import C1TransientError, network_cause
from tests.baton.c1.conftest import TEST_CHANNEL_OPTIONS, connected
from tests.baton.c1.test_unreachable import StaticTokens
from tests.fakes.c1 import generate_client_credentials
from tests.fakes.c1.certs import TlsFiles, generate_tls_files
from tests.independent.hangs.silentpeer import SilentPeer

DEADLINE = 1.0
EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # an HTTP/2 SETTINGS frame with no setting


@pytest.fixture
async def settings_then_nothing(tmp_path: Path) -> AsyncIterator[tuple[str, TlsFiles]]:
    """A TLS peer offering h2 that sends its SETTINGS frame and never a HEADERS frame on any stream."""
    tls = generate_tls_files(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.server_cert, tls.server_key)
    context.set_alpn_protocols(["h2"])
    stop = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        writer.write(EMPTY_SETTINGS)
        await stop.wait()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}", tls
    stop.set()
    server.close()
    for writer in writers:
        writer.transport.abort()
    await server.wait_closed()


async def _get_task_error(address: str, roots: bytes | None = None, *, connect_first: bool = False) -> str:
    """The error of one GetTask to `address` whose deadline is `DEADLINE`; the token it carried is checked absent.
    `connect_first`: the connection is made before the call, within the test's own bound, not the call's deadline (a
    loaded host took longer than `DEADLINE` to make it, and a call the peer took read as a connection not made)."""
    client = BatonServiceClient(
        client_id=parse_client_id(generate_client_credentials(address).client_id),
        token_source=StaticTokens(),  # type: ignore[arg-type]
        host_id="test-host",
        api_host=address,
        root_certificates=roots,
        channel_options=TEST_CHANNEL_OPTIONS,
        timeouts=CallTimeouts(get_task=DEADLINE),
    )
    try:
        if connect_first:
            await connected(client)
        with pytest.raises(C1TransientError) as caught:
            await asyncio.wait_for(client.get_task(), 10 * DEADLINE + 5)
    finally:
        await client.close()
    assert "static-test-token" not in str(caught.value)
    return str(caught.value)


async def test_a_call_the_peer_took_and_never_answered_is_named_so_not_unreachable(
    settings_then_nothing: tuple[str, TlsFiles],
) -> None:
    address, tls = settings_then_nothing
    assert await _get_task_error(address, tls.ca_cert.read_bytes(), connect_first=True) == (
        f"GetTask: ConductorOne at {address} took the call and gave no answer within {DEADLINE:g}s (DEADLINE_EXCEEDED)"
    )


@pytest.fixture
def never_accepts() -> Iterator[str]:
    """A 127.0.0.1 port whose accept queue is full: its SYNs are dropped, as on a black-holed route."""
    with contextlib.ExitStack() as stack:
        hole = stack.enter_context(socket.socket())
        hole.bind(("127.0.0.1", 0))
        hole.listen(0)
        for _ in range(8):
            filler = stack.enter_context(socket.socket())
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(hole.getsockname())
        yield f"127.0.0.1:{hole.getsockname()[1]}"


def _not_made(address: str) -> str:
    return (
        f"GetTask: the connection to ConductorOne at {address} was not made within {DEADLINE:g}s (the TCP connection, "
        "the TLS handshake or the peer's HTTP/2 settings did not come in that time) (DEADLINE_EXCEEDED)"
    )


async def test_a_call_whose_deadline_came_while_a_silent_peer_held_the_connection_says_it_was_not_made() -> None:
    """The peer takes the TCP connection and never speaks TLS. At the call's deadline grpc is still connecting, and
    names no step; or it cuts its connect attempt first, naming the step (which of the two ends first varies). Either
    read "unreachable: timed out", as a peer never reached."""
    async with SilentPeer() as peer:
        error = await _get_task_error(peer.address)
    assert peer.accepted >= 1
    assert error in (
        _not_made(peer.address),
        f"GetTask: ConductorOne at {peer.address} unreachable: TLS handshake timed out (UNAVAILABLE)",
    )


async def test_a_call_whose_deadline_came_before_the_peer_took_the_connection_says_it_was_not_made(
    never_accepts: str,
) -> None:
    assert await _get_task_error(never_accepts) in (
        _not_made(never_accepts),
        f"GetTask: ConductorOne at {never_accepts} unreachable: timed out connecting (UNAVAILABLE)",
    )


@pytest.mark.parametrize(
    "details",
    [
        "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:9: connect() timed out",
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:9: tcp handshaker shutdown",
    ],
)
def test_grpcs_words_for_a_tcp_connection_never_made_name_the_step(details: str) -> None:
    """Seen from a port whose accept queue is full, when grpc's connect attempt ends (its own timeout, or the call's
    deadline shutting it down) before the call's deadline status comes."""
    assert network_cause(details) == "timed out connecting"


@pytest.mark.parametrize(
    ("details", "cause"),
    [
        # No ServerHello: grpc's handshake timeout closes the endpoint mid-read.
        (
            "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:9: Handshake read failed "
            "(Endpoint closing)",
            "TLS handshake timed out",
        ),
        # TLS done, no HTTP/2 SETTINGS frame.
        (
            "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:9: connection attempt timed out "
            "before receiving SETTINGS frame",
            "the TLS handshake was done, but no HTTP/2 SETTINGS frame came in time",
        ),
    ],
)
def test_grpcs_words_for_a_peer_silent_at_a_step_of_the_connection_name_the_step(details: str, cause: str) -> None:
    """Seen from a real silent peer when grpc's connect attempt ends before the call's deadline (which of the two
    ends first varies; the call's deadline first is a connection "not made within" it, grpc naming no step then)."""
    assert network_cause(details) == cause
