"""The health and metrics server over HTTP/1.1: what kubelet and Prometheus get, and what a misbehaving peer gets."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from connector.baton.runtime.http import OpsServer
from connector.baton.runtime.metrics import CONTENT_TYPE, Metrics
from tests.polling import until

HANG = 60.0
"""How long a test waits for the server (on this loop) to act before calling it a hang: never a measure. A test
rendering /metrics 200 times took 0.2 s alone and over 5 s (the bound it had) on a loaded host."""


class Ready:
    def __init__(self) -> None:
        self.ready, self.why = False, "waiting for a successful Hello to ConductorOne"

    def __call__(self) -> tuple[bool, str]:
        return self.ready, self.why


@pytest.fixture
async def server() -> AsyncIterator[tuple[OpsServer, Ready]]:
    ready = Ready()
    ops = OpsServer(Metrics("baton_datadog", "test"), ready, "127.0.0.1", 0)
    await ops.start()
    try:
        yield ops, ready
    finally:
        await ops.stop()


def base(ops: OpsServer) -> str:
    assert ops.bound_port, "port 0 must be resolved to the real port"
    return f"http://127.0.0.1:{ops.bound_port}"


async def raw(ops: OpsServer, request: bytes) -> bytes:
    """Send bytes as they are and read until the server closes the connection."""
    assert ops.bound_port
    reader, writer = await asyncio.open_connection("127.0.0.1", ops.bound_port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), HANG)
    writer.close()
    return answer


async def test_healthz_readyz_and_metrics(server: tuple[OpsServer, Ready]) -> None:
    ops, ready = server
    async with httpx.AsyncClient(base_url=base(ops)) as http:
        health = await http.get("/healthz")
        assert (health.status_code, health.headers["content-type"]) == (200, "application/json")
        assert health.json()["status"] == "ok"

        not_ready = await http.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["reason"] == "waiting for a successful Hello to ConductorOne"
        ready.ready = True
        assert (await http.get("/readyz")).json()["status"] == "ready"

        metrics = await http.get("/metrics?name[]=x")  # Prometheus may add a query string
        assert (metrics.status_code, metrics.headers["content-type"]) == (200, CONTENT_TYPE)
        assert b"baton_datadog_ready " in metrics.content


async def test_one_connection_serves_request_after_request(server: tuple[OpsServer, Ready]) -> None:
    ops, _ = server
    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(base_url=base(ops), limits=limits) as http:
        for _ in range(3):
            assert (await http.get("/healthz")).status_code == 200
    # Without keep-alive each GET would have needed a connection of its own: three answers on one socket.
    answer = await raw(
        ops,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert answer.count(b"HTTP/1.1 200 ") == 2
    assert answer.count(b"HTTP/1.1 503 ") == 1


async def test_head_answers_without_a_body(server: tuple[OpsServer, Ready]) -> None:
    ops, _ = server
    answer = await raw(ops, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert body == b""


@pytest.mark.parametrize(
    ("request_line", "status"),
    [(b"GET /nope", 404), (b"GET /", 404), (b"POST /healthz", 405), (b"DELETE /metrics", 405)],
)
async def test_other_paths_and_methods_are_refused(
    server: tuple[OpsServer, Ready], request_line: bytes, status: int
) -> None:
    ops, _ = server
    answer = await raw(ops, request_line + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 %d " % status)


async def test_a_refused_method_is_told_the_methods_the_path_takes(server: tuple[OpsServer, Ready]) -> None:
    """RFC 9110 §15.5.6: a 405 must carry Allow; it came without one."""
    ops, _ = server
    answer = await raw(ops, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    head = answer.split(b"\r\n\r\n", 1)[0].lower().split(b"\r\n")
    assert head[0] == b"http/1.1 405 "
    assert b"allow: get, head" in head


@pytest.mark.parametrize(
    ("target", "status"),
    [
        (b"http://127.0.0.1/healthz", 200),
        (b"HTTP://localhost:8081/readyz?x=1", 503),
        (b"https://pod.example/metrics", 200),
        (b"http://127.0.0.1", 404),
        (b"http://127.0.0.1/nope", 404),
        (b"ftp://127.0.0.1/healthz", 404),
    ],
)
async def test_a_request_target_in_absolute_form_is_served_by_its_path(
    server: tuple[OpsServer, Ready], target: bytes, status: int
) -> None:
    """RFC 9112 §3.2.2: a server must accept `GET http://host/path` (what a client sends through a proxy); it was
    answered 404, so a probe or a scrape sent that way failed on a healthy daemon."""
    ops, _ = server
    answer = await raw(ops, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:60]


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n",  # a TLS ClientHello
        b"GET /healthz HTTP/1.1\r\nNo colon here\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
    ],
)
async def test_a_malformed_request_gets_a_4xx_and_the_server_stays_up(
    server: tuple[OpsServer, Ready], garbage: bytes
) -> None:
    ops, _ = server
    answer = await raw(ops, garbage)
    assert answer.startswith(b"HTTP/1.1 4"), answer[:60]
    async with httpx.AsyncClient(base_url=base(ops)) as http:
        assert (await http.get("/healthz")).status_code == 200


@pytest.mark.parametrize(
    ("request_bytes", "statuses"),
    [
        (b"\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", [200]),
        (b"\r\n\r\n\nGET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", [503]),
        # An old client's POST body followed by a CRLF it did not count, then the next request on the connection.
        (
            b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab\r\n"
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\r\n\r\n"
            b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            [405, 200, 503],
        ),
        (b"\r\n\r\n", []),  # empty lines and the end: no request, nothing to answer
    ],
)
async def test_empty_lines_before_a_request_line_are_ignored(
    server: tuple[OpsServer, Ready], request_bytes: bytes, statuses: list[int]
) -> None:
    """RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF) received before the request line. Such a
    request, or one pipelined after them, was answered 400 and its connection closed."""
    ops, _ = server
    assert ops.bound_port
    reader, writer = await asyncio.open_connection("127.0.0.1", ops.bound_port)
    writer.write(request_bytes)
    writer.write_eof()  # the end of what this peer sends: the server answers it and closes
    answer = await asyncio.wait_for(reader.read(), HANG)
    writer.close()
    assert [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)] == statuses


async def test_empty_lines_sent_apart_from_their_request_are_ignored(server: tuple[OpsServer, Ready]) -> None:
    ops, _ = server
    assert ops.bound_port
    reader, writer = await asyncio.open_connection("127.0.0.1", ops.bound_port)
    for part in (b"\r", b"\n\r\n", b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"):
        writer.write(part)
        await writer.drain()
        await asyncio.sleep(0.01)  # each part a read of its own, most of the time; the answer is the same either way
    answer = await asyncio.wait_for(reader.read(), HANG)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:60]


async def test_a_peer_that_hangs_up_mid_request_changes_nothing(server: tuple[OpsServer, Ready]) -> None:
    ops, _ = server
    assert ops.bound_port
    _, writer = await asyncio.open_connection("127.0.0.1", ops.bound_port)
    writer.write(b"GET /heal")
    await writer.drain()
    writer.close()
    async with httpx.AsyncClient(base_url=base(ops)) as http:
        assert json.loads((await http.get("/healthz")).content)["status"] == "ok"


async def test_stop_closes_idle_keep_alive_connections() -> None:
    ops = OpsServer(Metrics("baton_datadog", "test"), Ready(), "127.0.0.1", 0)
    await ops.start()
    assert ops.bound_port
    reader, writer = await asyncio.open_connection("127.0.0.1", ops.bound_port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200 ")
    await asyncio.wait_for(ops.stop(), HANG)  # an open keep-alive connection must not hold the shutdown
    rest = await asyncio.wait_for(reader.read(), HANG)
    assert b"HTTP/1.1" not in rest  # the body of the answer at most, then the end of the stream
    writer.close()


# -- peers that hold a connection without doing their part ---------------------------------------------------
# The server's limits are lowered here so the tests are quick; what is asserted is that the connection ends,
# never how fast.


@pytest.fixture
async def strict() -> AsyncIterator[OpsServer]:
    ops = OpsServer(
        Metrics("baton_datadog", "test"), Ready(), "127.0.0.1", 0,
        request_timeout=0.5, write_timeout=0.5, max_connections=3,
    )  # fmt: skip
    await ops.start()
    try:
        yield ops
    finally:
        await asyncio.wait_for(ops.stop(), HANG)


async def test_a_request_dripped_a_byte_at_a_time_is_dropped(strict: OpsServer) -> None:
    """Each byte comes well within the time allowed for a read: only a deadline on the whole request ends it."""
    assert strict.bound_port
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Drip: " + b"a" * 100 + b"\r\n\r\n"
    answer = await _drip(strict, [bytes([byte]) for byte in request])
    assert b"HTTP/1.1 200" not in answer, "a request that took longer than allowed is not answered"
    assert strict.open_connections == 0


async def test_empty_lines_that_never_end_are_dropped_as_a_request_that_never_comes(strict: OpsServer) -> None:
    """Empty lines before a request are skipped, not answered: a peer sending nothing else must still be cut off at
    the request deadline."""
    assert strict.bound_port
    answer = await _drip(strict, [b"\r\n" * 64] * 500)
    assert answer == b"", "nothing to answer: no request came"
    assert strict.open_connections == 0


async def test_a_request_body_that_never_ends_is_dropped(strict: OpsServer) -> None:
    assert strict.bound_port
    reader, writer = await asyncio.open_connection("127.0.0.1", strict.bound_port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nabc")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), HANG)  # the answer, then the end of the connection
    assert answer.startswith(b"HTTP/1.1 200 ")
    writer.close()
    await until(lambda: strict.open_connections == 0, "the connection is still open", within=HANG)


async def flood_without_reading(ops: OpsServer, last: bytes = b"", count: int = 5_000) -> asyncio.StreamWriter:
    """Pipeline `count` /metrics requests (then `last`) on a connection with a tiny receive buffer that never reads:
    the answers fill every buffer between the server and this peer."""
    assert ops.bound_port
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", ops.bound_port))
    sock.setblocking(False)
    _, writer = await asyncio.open_connection(sock=sock)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * count + last)
    with contextlib.suppress(ConnectionError):
        await asyncio.wait_for(writer.drain(), HANG)
    return writer


async def test_a_peer_that_never_reads_its_metrics_is_dropped(strict: OpsServer) -> None:
    """Thousands of pipelined /metrics requests and not one byte read: the answers fill every buffer, and the
    server stops waiting for the peer to take them."""
    writer = await flood_without_reading(strict)
    await until(
        lambda: strict.open_connections == 0, "a peer that does not read still holds its connection", within=HANG
    )
    writer.close()
    async with httpx.AsyncClient(base_url=base(strict)) as http:
        assert (await http.get("/healthz")).status_code == 200


async def test_held_connections_never_lock_out_the_next_probe() -> None:
    """At the connection cap a new connection closes the oldest: kubelet's next probe is answered."""
    ops = OpsServer(Metrics("baton_datadog", "test"), Ready(), "127.0.0.1", 0, request_timeout=3600, max_connections=3)
    await ops.start()
    try:
        assert ops.bound_port
        held = [await asyncio.open_connection("127.0.0.1", ops.bound_port) for _ in range(5)]
        await until(lambda: ops.open_connections == 3, "the cap is three connections", within=HANG)
        async with httpx.AsyncClient(base_url=base(ops)) as http:
            assert (await http.get("/healthz")).status_code == 200
        for reader, _ in held[:3]:
            assert await asyncio.wait_for(reader.read(), HANG) == b"", "the oldest connections were closed"
        assert ops.open_connections <= 3
        for _, writer in held:
            writer.close()
    finally:
        await asyncio.wait_for(ops.stop(), HANG)


async def test_stop_does_not_wait_for_a_peer_that_does_not_read() -> None:
    ops = OpsServer(Metrics("baton_datadog", "test"), Ready(), "127.0.0.1", 0, write_timeout=3600)
    # The writers the server answers on, to see when it is stuck (not a fixed sleep: on a loaded machine the
    # server may not have got there yet, and stop() would be tested against a connection it is still reading).
    writers: list[asyncio.StreamWriter] = []
    send = ops._send

    async def recorded(writer: asyncio.StreamWriter, data: bytes) -> None:
        writers.append(writer)
        await send(writer, data)

    ops._send = recorded  # type: ignore[method-assign]
    await ops.start()
    writer = await flood_without_reading(ops)

    def stuck() -> bool:
        # Over the transport's high-water mark, an answer's drain waits for the peer to read.
        transport = writers[-1].transport if writers else None
        return transport is not None and transport.get_write_buffer_size() > transport.get_write_buffer_limits()[1]

    await until(stuck, "the server never filled its buffers writing to this peer", within=HANG)
    await asyncio.wait_for(ops.stop(), HANG)
    writer.close()


def _largest_send_buffer() -> int:
    """The most a TCP socket's send buffer grows to here (`net.ipv4.tcp_wmem`'s maximum; 4 MiB is Linux's default)."""
    try:
        return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        return 4 << 20


class Unflushed(OpsServer):
    """Leaves each answer in the transport's buffer, as a peer too slow to take it does (no drain to wait for)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.answered_all = asyncio.Event()

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await super()._serve(reader, writer)
        self.answered_all.set()


async def test_a_connection_still_sending_its_last_answer_is_counted_and_ended_by_stop() -> None:
    """Its requests are all answered ('Connection: close' on the last), but the answers are not yet taken. Such a
    connection was no longer counted (pipelined requests sized to fill the buffers got round the cap, each one held
    for the write timeout) and stop() did not end it: its task outlived the server."""
    metrics = Metrics("baton_datadog", "test")
    ops = Unflushed(metrics, Ready(), "127.0.0.1", 0, write_timeout=3600)
    await ops.start()
    # Enough answers to be twice what the kernel can hold between the two (the server's largest send buffer, the
    # peer's 4 KiB receive buffer doubled), so megabytes are still to be taken once all are answered; 5,000 (40 MB)
    # took 18 s on a slow host and went past a 60 s bound at load 14-18.
    count = 2 * (_largest_send_buffer() + 64 * 1024) // len(metrics.render()) + 1
    last = b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    writer = await flood_without_reading(ops, last=last, count=count)
    # The bound only stops a hang.
    await asyncio.wait_for(ops.answered_all.wait(), HANG)
    assert ops.open_connections == 1, "a connection still sending is an open connection"
    await asyncio.wait_for(ops.stop(), HANG)
    assert asyncio.all_tasks() == {asyncio.current_task()}, "stop() left a connection's task running"
    writer.close()


# -- peers whose bytes, once read, are work the daemon's loop does ---------------------------------------------
# The server runs on the daemon's own loop, beside its task polls and heartbeats: one read of a peer's bytes can
# hold thousands of requests or body chunks, and handling them all in one go held that loop for seconds.


class TurnCounter:
    """Counts the loop's turns: a task that steps once per turn."""

    def __init__(self) -> None:
        self.turns = 0
        self._task = asyncio.create_task(self._step())

    async def _step(self) -> None:
        while True:
            self.turns += 1
            await asyncio.sleep(0)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def turns_at_each_answer(ops: OpsServer, counter: TurnCounter) -> list[int]:
    """The loop turn each request was answered in, in order."""
    seen: list[int] = []
    route = ops._route

    def recorded(method: bytes, target: bytes) -> tuple[int, str, bytes]:
        seen.append(counter.turns)
        return route(method, target)

    ops._route = recorded  # type: ignore[method-assign]
    return seen


@pytest.mark.parametrize("request_line", [b"HEAD /metrics", b"GET /healthz"])
async def test_pipelined_requests_are_answered_a_loop_turn_apart(
    server: tuple[OpsServer, Ready], request_line: bytes
) -> None:
    """200 requests in one write (one read of the server's): each /metrics is rendered on the loop (HEAD too, for its
    Content-Length), and a few thousand of them answered without a turn between held the daemon's loop for
    seconds."""
    ops, _ = server
    counter = TurnCounter()
    answered = turns_at_each_answer(ops, counter)
    requests = 200
    one = request_line + b" HTTP/1.1\r\nHost: x\r\n"
    answer = await raw(ops, (one + b"\r\n") * (requests - 1) + one + b"Connection: close\r\n\r\n")
    await counter.stop()
    assert answer.count(b"HTTP/1.1 200 ") == requests
    assert len(answered) == requests
    assert all(a < b for a, b in itertools.pairwise(answered)), "two answers in one loop turn"


async def test_a_body_of_many_chunks_is_read_a_loop_turn_per_chunk(server: tuple[OpsServer, Ready]) -> None:
    """The health paths take no body, but a peer may send one: 5,000 one-byte chunks in one write were 5,000 parser
    events handled in one go. The next request on the connection is answered only after a turn per chunk."""
    ops, _ = server
    counter = TurnCounter()
    answered = turns_at_each_answer(ops, counter)
    chunks = 5_000
    answer = await raw(
        ops,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"1\r\na\r\n" * chunks
        + b"0\r\n\r\n"
        + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    await counter.stop()
    assert answer.count(b"HTTP/1.1 200 ") == 2
    first, second = answered
    assert second - first >= chunks, f"{chunks} chunks read in {second - first} loop turns"


async def test_a_body_streamed_faster_than_it_is_read_is_still_cut_off(strict: OpsServer) -> None:
    """The request deadline held only while the server waited for bytes; a peer that kept its buffer full (one-byte
    chunks, read a loop turn each) never made it wait, and kept its connection for as long as it streamed."""
    assert strict.bound_port
    reader, writer = await asyncio.open_connection("127.0.0.1", strict.bound_port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")

    async def stream() -> None:
        with contextlib.suppress(ConnectionError):
            while not writer.transport.is_closing() and not reader.at_eof():
                writer.write(b"1\r\na\r\n" * 2_000)
                await writer.drain()

    streaming = asyncio.create_task(stream())
    await until(lambda: strict.open_connections == 1, "the connection was never served", within=HANG)
    await until(lambda: strict.open_connections == 0, "a body that never ends still holds its connection", within=HANG)
    streaming.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await streaming
    writer.close()


async def _drip(server: OpsServer, pieces: list[bytes]) -> bytes:
    """Send `pieces` one every 20 ms until the server closes the connection, then read what it answered."""
    assert server.bound_port
    reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
    answer = b""
    for piece in pieces:
        if writer.transport.is_closing() or reader.at_eof() or reader.exception():
            break  # the server closed the connection: stop dripping
        writer.write(piece)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        await asyncio.sleep(0.02)
    with contextlib.suppress(ConnectionError):
        answer = await asyncio.wait_for(reader.read(), HANG)
    writer.close()
    return answer
