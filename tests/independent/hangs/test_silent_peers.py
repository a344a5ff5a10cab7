"""Peers that accept and then go silent at one step, to the Datadog client and the token request: each wait ends
within its timeout, named by the peer and the step it stalled at (docs/service-mode.md: "every call has a deadline,
so a peer that stops answering is a failure within one"). httpcore raises one `ConnectTimeout` for a TCP connect, a
TLS handshake with the host or an https proxy and the handshake inside a proxy's tunnel, and one `ReadTimeout` for a
proxy that never answered the CONNECT and a host that never answered the request: each read "timed out connecting" or
"timed out waiting for the response" (the token request's: "timed out", or "no complete answer"), and the operator
looked at routes and firewalls for a peer that had taken the connection (`connector/baton/netsteps.py`).

The bound asserted is generous: twice what the timeouts allow, or more; a wait past it fails the test.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any, Literal

import pytest

from connector.baton.c1.credentials import parse_client_id, parse_client_secret
from connector.baton.c1.errors import C1AuthUnavailableError
from connector.baton.c1.token import TokenSource
from connector.datadog.errors import Unavailable
from connector.datadog.retry import RetryPolicy
from connector.datadog.transport import ApiTransport
from tests.fakes.c1.certs import TlsFiles, generate_tls_files
from tests.fakes.c1.creds import generate_client_credentials
from tests.independent.hangs.silentpeer import Mode, SilentPeer

TIMEOUT = 0.3
"""The timeout the stalled step runs under (the token request's: every one): the whole wait is a few of them at most."""
SLACK = 3.0
"""The Datadog client's other timeout (connect or read), which no stalled step runs under: the steps before the stalled
one (a TCP connect, a TLS handshake with a proxy) are not cut by it however slowly a loaded host runs them. Under
`TIMEOUT` too, a loaded host (4 CPU burners beside three runs) ran them past it once in ~60 tries, and the error named
that step, or the transport's overall deadline (connect + 2 x read), instead of the stalled one."""
BOUND = 10 * TIMEOUT + 5
"""Generous: a step's timeout, the Datadog transport's deadline (connect + 2 x read: `TIMEOUT` + 2 x `SLACK` at most),
and a slow CI host."""

DATADOG = "api.silent-peer.invalid"  # reached only through the proxy: never looked up
PROXY_NAME = "proxy.stalled-resolver.example"
ONE_ATTEMPT = RetryPolicy(max_attempts=1)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return generate_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("no_proxy", raising=False)


@pytest.fixture
def resolver_silent(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A resolver that never answers for `PROXY_NAME` (until the test ends); every other name as usual."""
    answer = threading.Event()
    real = socket.getaddrinfo

    def lookup(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in (PROXY_NAME, PROXY_NAME.encode()):  # anyio hands the name IDNA-encoded
            answer.wait()
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    yield
    answer.set()


async def _datadog_error(base_url: str, tls: TlsFiles, *, cut_by: Literal["connect", "read"]) -> str:
    """The reason the Datadog client gives, its step stalled under its connect timeout (a lookup, a TLS handshake) or
    its read timeout (a proxy's answer to CONNECT, the response): that one is `TIMEOUT`, the other `SLACK`."""
    transport = ApiTransport(
        api_key="a" * 32,
        app_key="b" * 40,
        base_url=base_url,
        timeout=TIMEOUT if cut_by == "read" else SLACK,
        connect_timeout=TIMEOUT if cut_by == "connect" else SLACK,
        retry=ONE_ATTEMPT,
        verify=ssl.create_default_context(cafile=str(tls.ca_cert)),
    )
    try:
        with pytest.raises(Unavailable) as raised:
            await asyncio.wait_for(transport.request("GET", "/api/v1/validate", group="validate"), BOUND)
    finally:
        await transport.aclose()
    return raised.value.reason or ""


async def _token_error(api_host: str, tls: TlsFiles) -> str:
    credentials = generate_client_credentials(api_host)
    source = TokenSource(
        parse_client_id(credentials.client_id),
        parse_client_secret(credentials.client_secret),
        api_host=api_host,
        verify=ssl.create_default_context(cafile=str(tls.ca_cert)),
        timeout=TIMEOUT,
    )
    try:
        with pytest.raises(C1AuthUnavailableError) as raised:
            await asyncio.wait_for(source.token(), BOUND)
    finally:
        await source.aclose()
    return str(raised.value)


def _server_context(tls: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.server_cert, tls.server_key)
    return context


# Datadog, directly.


async def test_a_datadog_peer_silent_before_its_server_hello_is_a_tls_handshake_timeout(
    tls: TlsFiles, no_proxy: None
) -> None:
    async with SilentPeer() as peer:
        reason = await _datadog_error(f"https://{peer.address}", tls, cut_by="connect")
    assert reason == f"cannot reach {peer.address}: TLS handshake with {peer.address} timed out"


@pytest.mark.parametrize("mode", ["head-then-nothing", "continue-then-nothing"])
async def test_a_datadog_peer_silent_after_a_head_or_a_100_continue_was_reached_and_timed_out(
    tls: TlsFiles, no_proxy: None, mode: Mode
) -> None:
    async with SilentPeer(mode, tls=_server_context(tls)) as peer:
        reason = await _datadog_error(f"https://{peer.address}", tls, cut_by="read")
    assert reason.startswith(f"{peer.address} was reached, but timed out waiting for the response"), reason


# Datadog, through a forward proxy (HTTPS_PROXY): an http:// one (the asyncio pool), an https:// one (httpx's path on
# a Python whose asyncio cannot fail TLS in TLS cleanly). Each proxy is named by its address: a name (it was
# `localhost`) is looked up on a thread within the same connect timeout, and on a loaded host that thread ran after the
# timeout, so the step these tests name read "DNS lookup timed out" (the lookup's own step is tested below, with a
# resolver that never answers).


# How an error names each silent step of a proxy ({proxy}: its `host:port`; {host}: the host asked for through it).
# The CONNECT's answer is awaited under the read timeout, the tunnel's TLS handshake under the connect timeout.
PROXY_CUT_BY: dict[str, Literal["connect", "read"]] = {"connect-unanswered": "read", "tunnel-silent": "connect"}
PROXY_STEPS = {
    "connect-unanswered": "the proxy {proxy} took the CONNECT to {host} and did not answer it",
    # The tunnel is open and stays silent: the host's TLS handshake times out in it.
    "tunnel-silent": "TLS handshake with {host} through the proxy {proxy}'s tunnel timed out",
}


@pytest.mark.parametrize("mode", sorted(PROXY_STEPS))
@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_a_proxy_silent_at_a_step_of_the_tunnel_is_named_with_its_step(
    tls: TlsFiles, no_proxy: None, monkeypatch: pytest.MonkeyPatch, scheme: str, mode: Mode
) -> None:
    async with SilentPeer(mode, tls=_server_context(tls) if scheme == "https" else None) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"{scheme}://{proxy.address}")
        reason = await _datadog_error(f"https://{DATADOG}", tls, cut_by=PROXY_CUT_BY[mode])
    step = PROXY_STEPS[mode].format(proxy=proxy.address, host=DATADOG)
    assert reason == f"cannot reach {DATADOG}: {step}"


async def test_an_https_proxy_silent_before_its_server_hello_is_its_tls_handshake_timing_out(
    tls: TlsFiles, no_proxy: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with SilentPeer() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"https://{proxy.address}")
        reason = await _datadog_error(f"https://{DATADOG}", tls, cut_by="connect")
    assert reason == f"cannot reach {DATADOG}: TLS handshake with the proxy {proxy.address} timed out"


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_a_proxys_name_the_resolver_never_answers_is_a_dns_lookup_timeout_whichever_the_proxys_scheme(
    tls: TlsFiles, no_proxy: None, monkeypatch: pytest.MonkeyPatch, resolver_silent: None, scheme: str
) -> None:
    """Through an https:// proxy httpx makes the connection (anyio looks the name up inside its connect): a
    resolver that never answered read "timed out connecting" there."""
    monkeypatch.setenv("HTTPS_PROXY", f"{scheme}://{PROXY_NAME}:3128")
    reason = await _datadog_error(f"https://{DATADOG}", tls, cut_by="connect")
    assert reason == f"cannot reach {DATADOG}: cannot connect to the proxy {PROXY_NAME}:3128: DNS lookup timed out"


# The token request (ConductorOne's token endpoint, httpx).


async def test_a_token_endpoint_silent_before_its_server_hello_is_a_tls_handshake_timeout(
    tls: TlsFiles, no_proxy: None
) -> None:
    async with SilentPeer() as peer:
        text = await _token_error(peer.address, tls)
    assert text == f"failed to get a token from {peer.address}: TLS handshake with {peer.address} timed out"


async def test_a_token_endpoint_that_sends_its_head_then_nothing_gave_no_complete_answer(
    tls: TlsFiles, no_proxy: None
) -> None:
    async with SilentPeer("head-then-nothing", tls=_server_context(tls)) as peer:
        text = await _token_error(peer.address, tls)
    assert text == f"failed to get a token from {peer.address}: no complete answer within {TIMEOUT:g}s"


async def test_a_token_endpoint_whose_name_the_resolver_never_answers_is_a_dns_lookup_timeout(
    tls: TlsFiles, no_proxy: None, resolver_silent: None
) -> None:
    text = await _token_error(PROXY_NAME, tls)
    assert text == f"failed to get a token from {PROXY_NAME}: DNS lookup timed out"


@pytest.mark.parametrize("mode", sorted(PROXY_STEPS))
async def test_a_proxy_stalling_the_token_request_is_named_with_its_step(
    tls: TlsFiles, no_proxy: None, monkeypatch: pytest.MonkeyPatch, mode: Mode
) -> None:
    host = "acme.conductor.invalid"
    async with SilentPeer(mode) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        text = await _token_error(host, tls)
    step = PROXY_STEPS[mode].format(proxy=f"127.0.0.1:{proxy.port}", host=host)
    assert text == f"failed to get a token from {host}: {step}"
