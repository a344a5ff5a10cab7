"""A call ConductorOne took on a made connection, then its GOAWAY (a graceful stop, a load balancer's connection age)
while it held the call: by the deadline the channel is IDLE, and the call's failure read "the connection ... was not
made", sending the operator to TCP and TLS for a peer that was reached. Whether the connection was made is read when
the call goes out as well."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from connector.baton.c1 import CallTimeouts
from connector.baton.c1.errors import C1TransientError
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.baton.c1.conftest import connected
from tests.baton.c1.tlspeer import client_of, one_method_server
from tests.fakes.c1.certs import generate_tls_files

DEADLINE = 1.5


async def test_a_call_held_through_the_peers_goaway_took_the_call(tmp_path: Path) -> None:
    tls = generate_tls_files(tmp_path)
    calls = 0
    held = asyncio.Event()

    async def get_task(request: object, context: object) -> baton_pb2.BatonServiceGetTaskResponse:
        nonlocal calls
        calls += 1
        if calls > 1:  # the first is answered: the connection is made
            held.set()
            await asyncio.sleep(30)
        return baton_pb2.BatonServiceGetTaskResponse()

    server, address = await one_method_server(tls, "GetTask", get_task)
    client = client_of(address, tls, CallTimeouts(get_task=DEADLINE))
    stopping: asyncio.Future[None] | None = None
    try:
        await connected(client)  # not within the calls' deadline: a loaded host took longer to make the connection
        await client.get_task()
        call = asyncio.ensure_future(client.get_task())
        await asyncio.wait_for(held.wait(), 30)
        stopping = asyncio.ensure_future(server.stop(grace=20))  # GOAWAY; the held call is let run
        with pytest.raises(C1TransientError) as caught:
            await asyncio.wait_for(call, 30)
        assert f"ConductorOne at {address} took the call and gave no answer within {DEADLINE:g}s" in str(caught.value)
    finally:
        await client.close()
        await server.stop(None)
        if stopping is not None:
            stopping.cancel()
