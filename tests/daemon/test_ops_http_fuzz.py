"""Fuzz: whatever bytes a peer sends the health server (pipelined requests, garbage, cut-off heads, bodies,
empty lines, absolute-form targets), it answers in HTTP/1.1 or closes, never leaves the connection open after
the peer's end, never logs an exception from its loop, and the next kubelet probe is answered 200."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.baton.runtime.http import OpsServer
from connector.baton.runtime.metrics import Metrics

PIECES = st.sampled_from(
    [
        b"GET ",
        b"HEAD ",
        b"POST ",
        b"OPTIONS ",
        b"get ",
        b"/healthz",
        b"/readyz",
        b"/metrics",
        b"/live",
        b"/ready",
        b"http://h/healthz",
        b"HTTPS://h",
        b"?x=1",
        b"*",
        b" HTTP/1.1",
        b" HTTP/1.0",
        b" HTTP/2.0",
        b"\r\n",
        b"\n",
        b"\r",
        b"Host: h\r\n",
        b"Content-Length: 3\r\n",
        b"Content-Length: -1\r\n",
        b"Content-Length: 99999999999\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"3\r\nabc\r\n0\r\n\r\n",
        b"Connection: close\r\n",
        b"Expect: 100-continue\r\n",
        b"abc",
        b"\x00",
        b"\xff",
        b":",
        b" ",
        b"\t",
        b"x" * 9000,
    ]
)
REQUEST_BYTES = st.lists(st.one_of(PIECES, st.binary(max_size=8)), max_size=20).map(b"".join)
STATUS_LINE = re.compile(rb"HTTP/1\.1 (\d{3}) ")


async def _exchange(data: bytes) -> tuple[bytes, bytes, int, list[dict[str, Any]]]:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    ops = OpsServer(Metrics("baton_datadog", "fuzz"), lambda: (True, ""), "127.0.0.1", 0, request_timeout=5.0)
    await ops.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", ops.bound_port)
        writer.write(data)
        writer.write_eof()  # the peer's end: the server must finish within its own deadlines, not hang on
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        probe_reader, probe_writer = await asyncio.open_connection("127.0.0.1", ops.bound_port)
        probe_writer.write(b"GET /healthz HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n")
        probe = await asyncio.wait_for(probe_reader.read(), 10)
        probe_writer.close()
        for _ in range(100):  # the server's side of both connections ends once it sees their ends
            if not ops.open_connections:
                break
            await asyncio.sleep(0.01)
        return answer, probe, ops.open_connections, errors
    finally:
        await ops.stop()


@pytest.mark.fuzz
@given(data=REQUEST_BYTES)
def test_any_bytes_get_http_answers_or_a_close_and_the_next_probe_is_answered(data: bytes) -> None:
    answer, probe, still_open, errors = asyncio.run(_exchange(data))
    assert not errors
    if answer:
        assert answer.startswith(b"HTTP/1.1 "), answer[:200]
        assert {int(code) for code in STATUS_LINE.findall(answer)} <= {200, 400, 404, 405, 413, 431, 501}
    assert probe.startswith(b"HTTP/1.1 200 "), probe[:200]
    assert still_open == 0
