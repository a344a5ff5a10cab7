"""An unreachable ConductorOne is described by host and cause (DNS, refused, TLS, timeout), never a class name."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path

import grpc
import pytest

from connector.baton.c1 import (
    AccessToken,
    BatonServiceClient,
    C1Error,
    C1TransientError,
    CallTimeouts,
    parse_client_id,
)
from connector.baton.c1.errors import C1UnreadableTaskError, network_cause
from connector.baton.pb.c1.connector.v2 import connector_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tlsrefusal import PLAIN_TEXT_PEER
from tests.baton.c1.conftest import TEST_CHANNEL_OPTIONS, connected, make_client
from tests.fakes.c1 import FakeC1, generate_client_credentials
from tests.fakes.c1.certs import generate_tls_files
from tests.fakes.refusing import PROTOCOL_VERSION_ALERT, RefusingPeer, proxy_authorization
from tests.fakes.tasks import BAD_UTF8_MARK, grant_task, kind_task, with_bad_utf8


class StaticTokens:
    """A token source that always has a token: the failure under test is the gRPC connection's."""

    async def token(self) -> AccessToken:
        return AccessToken(value="static-test-token", token_type="Bearer", expires_at=float("inf"))

    def invalidate(self, rejected: AccessToken | None = None) -> None:
        return None

    def redact(self, text: str, carried: Iterable[str] = ()) -> str:
        for value in ("static-test-token", *carried):
            text = text.replace(value, "<token>")
        return text

    async def aclose(self) -> None:
        return None


def _client(
    client_id: str, *, api_host: str | None = None, roots: bytes | None = None, proxy: str | None = None
) -> BatonServiceClient:
    """A client with a fixed token (no token endpoint to reach), pointed where the test says."""
    return BatonServiceClient(
        client_id=parse_client_id(client_id),
        token_source=StaticTokens(),  # type: ignore[arg-type]
        host_id="test-host",
        api_host=api_host,
        root_certificates=roots,
        proxy=proxy,
        channel_options=TEST_CHANNEL_OPTIONS,
        timeouts=CallTimeouts(get_task=5.0),
    )


@pytest.mark.parametrize(
    ("details", "cause"),
    [
        (
            "DNS resolution failed for c1.invalid:443: C-ares status is not ARES_SUCCESS qtype=A name=c1.invalid "
            "is_balancer=0: Domain name not found",
            "DNS lookup failed",
        ),
        ("[Errno -2] Name or service not known", "DNS lookup failed"),
        (
            "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Failed to connect to remote "
            "host: Connection refused",
            "connection refused",
        ),
        ("[Errno 111] Connection refused", "connection refused"),
        (
            "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:9: Ssl handshake failed: "
            "SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED",
            "TLS verification failed",
        ),
        ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", "TLS verification failed"),
        (
            "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:9: Custom verification check "
            "failed with error: UNAUTHENTICATED: Hostname Verification Check failed.",
            "TLS verification failed",
        ),
        (
            "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:9: Tls handshake failed "
            "(TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:1000042e:SSL routines:OPENSSL_internal:"
            "TLSV1_ALERT_PROTOCOL_VERSION: Invalid certificate verification context: OK",
            "TLS handshake failed",
        ),
        (
            "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:9: Tls handshake failed "
            "(TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER",
            PLAIN_TEXT_PEER,
        ),
        ("[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version (_ssl.c:1006)", "TLS handshake failed"),
        (
            "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:9: Cannot check peer: missing "
            "selected ALPN property.",
            "TLS handshake failed: the peer does not offer HTTP/2 (ALPN h2)",
        ),
        (
            "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:9: HTTP proxy returned "
            "response code 407",
            "the proxy refused the tunnel (HTTP 407 Proxy Authentication Required)",
        ),
        ("[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol", "connection closed by the peer"),
        ("Server disconnected without sending a response.", "connection closed by the peer"),
        ("Deadline Exceeded", "timed out"),
        ("Socket closed", "connection closed by the peer"),
        ("something nobody has seen", None),
    ],
)
def test_network_causes_are_named(details: str, cause: str | None) -> None:
    assert network_cause(details) == cause


async def test_connection_refused_names_host_and_cause(fake: FakeC1) -> None:
    async with _client(
        fake.client_id, api_host="127.0.0.1:1", roots=fake.ca_pem
    ) as client:  # nothing listens on port 1
        with pytest.raises(C1TransientError) as caught:
            await client.get_task()
    assert str(caught.value) == "GetTask: ConductorOne at 127.0.0.1:1 unreachable: connection refused (UNAVAILABLE)"


async def test_tls_verification_failure_names_host_and_cause(fake: FakeC1, tmp_path: Path) -> None:
    other_ca = generate_tls_files(tmp_path / "other").ca_cert.read_bytes()
    async with _client(fake.client_id, api_host=fake.address, roots=other_ca) as client:
        with pytest.raises(C1TransientError) as caught:
            await client.get_task()
    assert str(caught.value) == (
        f"GetTask: ConductorOne at {fake.address} unreachable: TLS verification failed (UNAVAILABLE)"
    )


async def test_a_tls_handshake_refused_for_its_version_is_not_called_a_verification_failure() -> None:
    """A server that speaks only TLS 1.0 answers with a protocol_version alert; grpc words it "Tls handshake
    failed ... Invalid certificate verification context", which read "TLS verification failed" and sent the
    operator to the CA bundle."""
    async with RefusingPeer(lambda _: PROTOCOL_VERSION_ALERT) as peer:
        client_id = generate_client_credentials(peer.address).client_id
        async with _client(client_id, api_host=peer.address) as client:
            with pytest.raises(C1TransientError) as caught:
                await client.get_task()
    assert (
        str(caught.value) == f"GetTask: ConductorOne at {peer.address} unreachable: TLS handshake failed (UNAVAILABLE)"
    )


async def test_a_proxy_refusing_the_tunnel_is_named_with_the_host() -> None:
    """grpc's "HTTP proxy returned response code 407" named no cause: the error was grpc's raw details, with the
    proxy's address where ConductorOne's belongs."""

    def refuse(received: bytes) -> bytes:
        return b"HTTP/1.1 407 %s\r\nContent-Length: 0\r\n\r\n" % proxy_authorization(received)

    async with RefusingPeer(refuse) as proxy:
        client_id = generate_client_credentials("acme.conductor.invalid").client_id
        async with _client(client_id, proxy=f"http://ops:proxy-pw-canary@{proxy.address}") as client:
            with pytest.raises(C1TransientError) as caught:
                await client.get_task()
    assert str(caught.value) == (
        "GetTask: ConductorOne at acme.conductor.invalid:443 unreachable: "
        "the proxy refused the tunnel (HTTP 407 Proxy Authentication Required) (UNAVAILABLE)"
    )
    assert proxy_authorization(proxy.received[0]) == b"ops:proxy-pw-canary"


async def test_a_proxy_that_cannot_be_reached_is_named() -> None:
    """Through a proxy the channel connects to the proxy alone: its refusal read "ConductorOne at <host> unreachable:
    connection refused", and the operator checked ConductorOne's egress while the proxy was down or its port wrong.
    Named by host and port, never by its URL, which holds its password."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: every connection is refused
        port = closed.getsockname()[1]
        client_id = generate_client_credentials("acme.conductor.invalid").client_id
        async with _client(client_id, proxy=f"http://ops:proxy-pw-canary@127.0.0.1:{port}") as client:
            with pytest.raises(C1TransientError) as caught:
                await client.get_task()
    assert str(caught.value) == (
        f"GetTask: ConductorOne at acme.conductor.invalid:443 unreachable: cannot connect to the proxy 127.0.0.1:{port}: "
        "connection refused (UNAVAILABLE)"
    )


async def test_a_deadline_names_host_and_timeout(fake: FakeC1) -> None:
    fake.slow_down("GetTask", 3.0)
    async with make_client(fake, timeouts=CallTimeouts(get_task=0.2)) as client:
        # Made first, within the test's own bound: within the call's 0.2 s, a loaded host did not always make it.
        await connected(client)
        with pytest.raises(C1TransientError) as caught:
            await client.get_task()
    assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    # The connection was made: the call was taken and not answered, not "unreachable" (tests/independent/hangs/).
    assert str(caught.value) == (
        f"GetTask: ConductorOne at {fake.address} took the call and gave no answer within 0.2s (DEADLINE_EXCEEDED)"
    )


async def test_a_deadline_exceeded_the_server_answered_at_once_is_its_words_not_a_silence(fake: FakeC1) -> None:
    # ConductorOne passing on its backend's timeout, in grpc's own words: told as "took the call and gave no answer
    # within 30s", a silence that never happened.
    async with make_client(fake, timeouts=CallTimeouts(get_task=30)) as client:
        await client.get_task()  # connected
        fake.fail_next("GetTask", grpc.StatusCode.DEADLINE_EXCEEDED, message="Deadline Exceeded")
        with pytest.raises(C1TransientError) as caught:
            await client.get_task()
    assert str(caught.value) == "GetTask: DEADLINE_EXCEEDED: Deadline Exceeded"


@pytest.mark.parametrize("method", ["GetTask", "Heartbeat", "FinishTask", "Hello"])
async def test_an_undecodable_answer_names_the_rpc(fake: FakeC1, client: BatonServiceClient, method: str) -> None:
    task_id = kind_task("grant").id
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "GetTask": client.get_task,
        "Heartbeat": lambda: client.heartbeat(task_id),
        "FinishTask": lambda: client.finish_task(task_id),
        "Hello": lambda: client.hello(connector_pb2.ConnectorMetadata(display_name="t")),
    }
    await client.get_task()  # a token and a connection first: the garbage is the only fault
    fake.answer_garbage(method)
    with pytest.raises(C1Error) as caught:
        await calls[method]()
    assert str(caught.value) == (
        f"{method}: ConductorOne's response could not be decoded as {method}Response (INTERNAL)"
    )
    await calls[method]()  # the next answer is fine again


async def test_a_task_that_does_not_decode_is_known_by_its_id(fake: FakeC1, client: BatonServiceClient) -> None:
    """A string with bad UTF-8 fails the whole answer: the task inside is still named, so it can be reported."""
    task = grant_task("role", "r", "member", BAD_UTF8_MARK)
    fake.answer_raw("GetTask", with_bad_utf8(baton_pb2.BatonServiceGetTaskResponse(task=task)))
    with pytest.raises(C1UnreadableTaskError) as caught:
        await client.get_task()
    assert (caught.value.task_id, caught.value.task_type) == (task.id, "grant")
    assert str(caught.value) == "GetTask: ConductorOne's grant could not be decoded (String field had bad UTF-8)"
    assert (await client.get_task()).HasField("task") is False  # the next answer is read as ever


async def test_an_answer_read_at_the_wire_level_is_read_off_the_event_loop(
    fake: FakeC1, client: BatonServiceClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An answer that does not decode whole is walked field by field in Python (`salvage`): at the 32 MiB receive
    limit, one of millions of small fields beside a bad string took about 13 s of CPU on the event loop, and
    /healthz, the heartbeats of a running sync and every report waited that long, at every such poll. The walk runs
    on a worker thread; the parser's own decode of an answer (C, 32 MiB of plain fields in well under a second) stays
    where it was, once a large answer has been weighed (a map's decode is not linear: test_decode_cost.py)."""
    import asyncio

    from connector.baton.c1 import salvage

    walked_on: list[str] = []
    walk = salvage._fields

    def recording(data: bytes, known: frozenset[int], *budget: salvage._Budget) -> Iterator[tuple[int, bytes]]:
        try:
            asyncio.get_running_loop()
            walked_on.append("the event loop")
        except RuntimeError:
            walked_on.append("a worker thread")
        return walk(data, known, *budget)

    monkeypatch.setattr(salvage, "_fields", recording)
    task = grant_task("role", "r", "member", BAD_UTF8_MARK)
    fake.answer_raw("GetTask", with_bad_utf8(baton_pb2.BatonServiceGetTaskResponse(task=task)))
    with pytest.raises(C1UnreadableTaskError) as caught:
        await client.get_task()
    assert caught.value.task_id == task.id
    assert walked_on
    assert set(walked_on) == {"a worker thread"}
