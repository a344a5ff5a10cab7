"""An independent attack on the health server's bind settings and its answers to odd requests.

A listen that fails names the setting at fault: an address no socket can bind is the bind address's, never the
port's (any port from 0 to 65535 binds). And a request the SDK's paths were never meant for gets an HTTP answer,
the server staying up for the next probe.
"""

from __future__ import annotations

import asyncio
import errno
import json

import httpx
import pytest

from connector.baton.runtime.http import OpsServer
from connector.baton.runtime.metrics import Metrics
from connector.baton.runtime.service import listen_fault
from connector.daemon.settings import SettingsError, load


@pytest.mark.parametrize("address", ["fe80::1", "::ffff:127.0.0.1"], ids=["link-local-without-interface", "v4-mapped"])
async def test_an_address_no_socket_can_bind_is_the_bind_addresss_fault(address: str) -> None:
    ops = OpsServer(Metrics("baton_datadog", "test"), lambda: (True, "ready"), address, 0)
    with pytest.raises(OSError, match="attempting to bind") as caught:
        await ops.start()
    assert listen_fault(caught.value) == "health_check_bind_address", caught.value


@pytest.mark.parametrize(
    ("code", "setting"),
    [
        (errno.EINVAL, "health_check_bind_address"),
        (errno.EAFNOSUPPORT, "health_check_bind_address"),  # `::1` on a host without IPv6
        (errno.EADDRINUSE, "health_check_port"),
    ],
)
def test_each_listen_error_names_one_setting(code: int, setting: str) -> None:
    assert listen_fault(OSError(code, "x")) == setting


async def _raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), 60)  # a bound on a hang, never a measure
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"404"),
        (b"GET /healthz/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"404"),
        (b"GET //healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"404"),
        (b"GET /%68ealthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"404"),  # not decoded into a path
        (b"GET /ready?verbose=1&x=%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"200"),
        (b"GET /live HTTP/1.0\r\n\r\n", b"200"),
        (b"TRACE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"405"),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"404"),  # an HTTP/2 preface: answered in HTTP/1.1, then closed
        (b"GET /\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"400"),
    ],
)
async def test_an_odd_request_gets_an_http_answer_and_the_next_probe_is_served(
    request_bytes: bytes, status: bytes
) -> None:
    ops = OpsServer(Metrics("baton_datadog", "test"), lambda: (True, "ready"), "127.0.0.1", 0)
    await ops.start()
    try:
        assert ops.bound_port
        answer = await _raw(ops.bound_port, request_bytes)
        assert answer.startswith(b"HTTP/1.1 " + status), answer[:80]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ops.bound_port}") as http:
            assert (await http.get("/healthz")).status_code == 200
    finally:
        await ops.stop()


@pytest.mark.parametrize("address", ["224.0.0.1", "239.255.255.250", "255.255.255.255", "ff02::1"])
def test_an_address_nothing_can_connect_to_is_refused_naming_the_setting(address: str) -> None:
    """Linux lets a TCP socket listen on a multicast or the broadcast address; every connection to it fails."""
    with pytest.raises(SettingsError) as caught:
        load(["--health-check-bind-address", address])
    (problem,) = caught.value.problems
    assert problem.startswith("setting --health-check-bind-address (BATON_HEALTH_CHECK_BIND_ADDRESS): ")
    assert "multicast or broadcast address, which nothing can connect to" in problem


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "127.0.0.1", "::1", "10.1.2.3", "255.255.255.254"])
def test_addresses_a_probe_can_reach_are_taken(address: str) -> None:
    assert load(["--health-check-bind-address", address]).health_check_bind_address == address


async def _answer(request: bytes, *, ready: bool) -> tuple[bytes, dict[str, object]]:
    ops = OpsServer(Metrics("baton_datadog", "test"), lambda: (ready, "no Hello yet"), "127.0.0.1", 0)
    await ops.start()
    try:
        assert ops.bound_port
        answer = await _raw(ops.bound_port, request)
    finally:
        await ops.stop()
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], json.loads(body)


@pytest.mark.parametrize("method", [b"GET", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH"])
@pytest.mark.parametrize(
    ("path", "ready", "status_line", "status"),
    [
        (b"/health", False, b"HTTP/1.1 200 ", "healthy"),
        (b"/live", False, b"HTTP/1.1 200 ", "alive"),
        (b"/ready", True, b"HTTP/1.1 200 ", "ready"),
        (b"/ready", False, b"HTTP/1.1 503 ", "not_ready"),
    ],
)
async def test_the_sdks_paths_answer_any_method_in_the_sdks_words(
    method: bytes, path: bytes, ready: bool, status_line: bytes, status: str
) -> None:
    """docs/spec/service-mode.md §5: baton-sdk's health server routes accept any method; `/health` says `healthy`,
    `/live` `alive`, `/ready` `ready`, or 503 `not_ready` with `details.error`."""
    request = method + b" " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    line, body = await _answer(request, ready=ready)
    assert line == status_line
    assert body["status"] == status
    if status == "not_ready":
        assert body["details"] == {"error": "no Hello yet"}


@pytest.mark.parametrize(("path", "status"), [(b"/healthz", "ok"), (b"/readyz", "not_ready")])
async def test_our_own_paths_keep_their_words_and_methods(path: bytes, status: str) -> None:
    _, body = await _answer(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", ready=False)
    assert body["status"] == status
    assert "details" not in body
    answer = await _answer_raw(
        b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 405 ")


@pytest.mark.parametrize("path", [b"/health", b"/live", b"/ready"])
async def test_a_connect_to_the_sdks_paths_is_refused_in_words_not_dropped(path: bytes) -> None:
    # A 2xx to CONNECT switches an HTTP/1.1 connection to a tunnel: the answer's body could not be sent, and the
    # client got an empty reply.
    answer = await _answer_raw(b"CONNECT " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 405 "), answer


async def _answer_raw(request: bytes) -> bytes:
    ops = OpsServer(Metrics("baton_datadog", "test"), lambda: (True, ""), "127.0.0.1", 0)
    await ops.start()
    try:
        assert ops.bound_port
        return await _raw(ops.bound_port, request)
    finally:
        await ops.stop()
