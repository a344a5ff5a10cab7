"""A peer on 127.0.0.1 that reads the whole call (its DATA frame with END_STREAM) and then answers in ways grpc turns
into a failure: a gateway's 502/503/504, an answer started then ended, a stream reset with a code that is not
REFUSED_STREAM. The error says the call may have landed: it reached the peer (for a gateway, maybe its backend; for a
started answer, the handler ran). Found by the review r1102; each read as never sent before."""

from __future__ import annotations

import asyncio
import ssl
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.baton.c1 import CallTimeouts
from connector.baton.c1.errors import C1Error
from connector.baton.pb.c1.connector.v2 import connector_pb2
from tests.baton.c1.tlspeer import client_of
from tests.fakes.c1.certs import generate_tls_files


def _frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


_GRPC_200 = b"\x88" + b"\x00\x0ccontent-type\x10application/grpc"  # :status 200, content-type application/grpc

ANSWERS: dict[str, Callable[[int], bytes]] = {
    # A load balancer's 504 Gateway Timeout / 502 Bad Gateway / 503 after forwarding the call (:status literal).
    "504": lambda s: _frame(1, 0x5, s, b"\x08\x03504"),
    "502": lambda s: _frame(1, 0x5, s, b"\x08\x03502"),
    "503": lambda s: _frame(1, 0x5, s, b"\x08\x03503"),
    # The answer started (headers + part of the message: a unary handler returned) then cut with END_STREAM.
    "truncated answer": lambda s: _frame(1, 0x4, s, _GRPC_200) + _frame(0, 0x1, s, b"\x00\x00\x00\x00\x10abc"),
    # A stream reset with an error code that merely starts with 7 (not REFUSED_STREAM = 7).
    "RST_STREAM 71": lambda s: _frame(3, 0, s, struct.pack(">I", 71)),
}


@pytest.mark.parametrize("answer", list(ANSWERS))
async def test_a_call_the_peer_read_whole_then_failed(tmp_path: Path, answer: str) -> None:
    tls = generate_tls_files(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.server_cert, tls.server_key)
    context.set_alpn_protocols(["h2"])
    whole_call = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readexactly(24)  # the client preface
            writer.write(_frame(4, 0, 0, b""))  # our SETTINGS
            while True:
                head = await reader.readexactly(9)
                length = int.from_bytes(head[:3], "big")
                kind, flags, stream = head[3], head[4], int.from_bytes(head[5:], "big") & 0x7FFFFFFF
                await reader.readexactly(length)
                if kind == 4 and not flags & 1:
                    writer.write(_frame(4, 1, 0, b""))  # SETTINGS ACK
                if kind == 0 and flags & 1:  # the request's last DATA: the whole call is here
                    whole_call.set()
                    writer.write(ANSWERS[answer](stream))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    client = client_of(f"127.0.0.1:{port}", tls, CallTimeouts(hello=10.0))
    try:
        with pytest.raises(C1Error) as caught:
            await client.hello(connector_pb2.ConnectorMetadata(display_name="r"), task_id="a" * 27)
    finally:
        await client.close()
        server.close()
    assert whole_call.is_set()
    assert caught.value.may_have_landed is True, str(caught.value)
