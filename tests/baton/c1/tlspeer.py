"""A real grpc.aio TLS server on 127.0.0.1 answering one BatonService method with a test's own handler, and a client
of it: for what only grpc's own connection shows (a GOAWAY while it holds a call, a connection made mid-call)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from connector.baton.c1 import BatonServiceClient, CallTimeouts
from connector.baton.c1.credentials import parse_client_id
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.baton.c1.conftest import TEST_CHANNEL_OPTIONS
from tests.baton.c1.test_unreachable import StaticTokens
from tests.fakes.c1 import generate_client_credentials
from tests.fakes.c1.certs import TlsFiles


async def one_method_server(tls: TlsFiles, method: str, handler: Callable[..., Any]) -> tuple[grpc.aio.Server, str]:
    """A started server answering `method` (e.g. "Hello") with `handler`, and its address."""
    request = getattr(baton_pb2, f"BatonService{method}Request")
    response = getattr(baton_pb2, f"BatonService{method}Response")
    handlers = grpc.method_handlers_generic_handler(
        "c1.connectorapi.baton.v1.BatonService",
        {
            method: grpc.unary_unary_rpc_method_handler(
                handler, request_deserializer=request.FromString, response_serializer=response.SerializeToString
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handlers,))
    port = server.add_secure_port(
        "127.0.0.1:0", grpc.ssl_server_credentials([(tls.server_key.read_bytes(), tls.server_cert.read_bytes())])
    )
    await server.start()
    return server, f"127.0.0.1:{port}"


def client_of(address: str, tls: TlsFiles, timeouts: CallTimeouts) -> BatonServiceClient:
    return BatonServiceClient(
        client_id=parse_client_id(generate_client_credentials(address).client_id),
        token_source=StaticTokens(),  # type: ignore[arg-type]
        host_id="test-host",
        api_host=address,
        root_certificates=tls.ca_pem,
        channel_options=TEST_CHANNEL_OPTIONS,
        timeouts=timeouts,
    )
