"""A call ConductorOne took on a made connection, then its GOAWAY (a graceful stop, a load balancer's connection age)
while it held the call: by the deadline the channel is IDLE, and the call's failure read "the connection ... was not
made", sending the operator to TCP and TLS for a peer that was reached. Whether the connection was made is read when
the call goes out as well."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from connector.baton.c1 import BatonServiceClient, CallTimeouts
from connector.baton.c1.credentials import parse_client_id
from connector.baton.c1.errors import C1TransientError
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.baton.c1.conftest import TEST_CHANNEL_OPTIONS
from tests.baton.c1.test_unreachable import StaticTokens
from tests.fakes.c1 import generate_client_credentials
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

    handler = grpc.method_handlers_generic_handler(
        "c1.connectorapi.baton.v1.BatonService",
        {
            "GetTask": grpc.unary_unary_rpc_method_handler(
                get_task,
                request_deserializer=baton_pb2.BatonServiceGetTaskRequest.FromString,
                response_serializer=baton_pb2.BatonServiceGetTaskResponse.SerializeToString,
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_secure_port(
        "127.0.0.1:0", grpc.ssl_server_credentials([(tls.server_key.read_bytes(), tls.server_cert.read_bytes())])
    )
    await server.start()
    address = f"127.0.0.1:{port}"
    client = BatonServiceClient(
        client_id=parse_client_id(generate_client_credentials(address).client_id),
        token_source=StaticTokens(),  # type: ignore[arg-type]
        host_id="test-host",
        api_host=address,
        root_certificates=tls.ca_pem,
        channel_options=TEST_CHANNEL_OPTIONS,
        timeouts=CallTimeouts(get_task=DEADLINE),
    )
    stopping: asyncio.Future[None] | None = None
    try:
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
