"""ConductorOne's gRPC API going silent at one step: each call ends at its deadline, named by what stalled. A peer that
completed TLS and HTTP/2's settings and then held the call read "ConductorOne at <host> unreachable: timed out", and
the operator looked at routes and firewalls for a peer that had taken the call; grpc's own words for a silent TLS
peer ("Handshake read failed (Endpoint closing)") reached the log raw, and a peer that finished TLS without sending
its SETTINGS frame read "timed out" as any other."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connector.baton.c1 import BatonServiceClient, CallTimeouts
from connector.baton.c1.credentials import parse_client_id
from connector.baton.c1.errors import C1TransientError, network_cause
from tests.baton.c1.conftest import TEST_CHANNEL_OPTIONS
from tests.baton.c1.test_unreachable import StaticTokens
from tests.fakes.c1 import generate_client_credentials
from tests.fakes.c1.certs import TlsFiles, generate_tls_files

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


async def test_a_call_the_peer_took_and_never_answered_is_named_so_not_unreachable(
    settings_then_nothing: tuple[str, TlsFiles],
) -> None:
    address, tls = settings_then_nothing
    client = BatonServiceClient(
        client_id=parse_client_id(generate_client_credentials(address).client_id),
        token_source=StaticTokens(),  # type: ignore[arg-type]
        host_id="test-host",
        api_host=address,
        root_certificates=tls.ca_cert.read_bytes(),
        channel_options=TEST_CHANNEL_OPTIONS,
        timeouts=CallTimeouts(get_task=DEADLINE),
    )
    try:
        with pytest.raises(C1TransientError) as caught:
            await asyncio.wait_for(client.get_task(), 10 * DEADLINE + 5)
    finally:
        await client.close()
    assert str(caught.value) == (
        f"GetTask: ConductorOne at {address} took the call and gave no answer within {DEADLINE:g}s (DEADLINE_EXCEEDED)"
    )


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
    ends first varies; the call's deadline first reads "unreachable: timed out", grpc naming no step then)."""
    assert network_cause(details) == cause
