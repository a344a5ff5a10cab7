"""Token answers ConductorOne's endpoint (or whatever stands in its place) may send that earlier rounds did not: a JSON
object naming `access_token` twice, keys nobody reads beside it, a token type other than Bearer. What the daemon
reads is what Go's oauth2 reads (the last of two keys; the type as sent, `MAC`, `DPoP`), and a token ConductorOne
refuses with it is dropped and fetched again once (`BatonServiceClient._call`): the call goes through on the fresh one,
no loop, no secret in any line."""

from __future__ import annotations

import json

import pytest
import structlog

from connector.baton.c1 import BatonServiceClient
from connector.baton.pb.c1.connector.v2 import connector_pb2
from tests.fakes.c1 import FakeC1

METADATA = connector_pb2.ConnectorMetadata(display_name="service4")


async def test_an_access_token_named_twice_is_read_as_the_last_as_go_reads_it(
    c1: FakeC1, client: BatonServiceClient
) -> None:
    good = c1.state.issue_token()
    body = (
        '{"access_token": "never-issued-token", "extra": {"nested": [1, {"deep": null}]}, '
        f'"access_token": {json.dumps(good)}, "token_type": "bearer", "expires_in": 3600, "scope": ["x"]}}'
    )
    c1.answer_token_requests(body.encode())
    await client.hello(METADATA)
    assert [call.authorization for call in c1.recorded().calls_to("Hello")] == [True]


@pytest.mark.parametrize("token_type", ["MAC", "DPoP", "mac"])
async def test_a_token_of_another_type_is_refused_by_conductorone_and_fetched_again_once(
    c1: FakeC1, client: BatonServiceClient, token_type: str
) -> None:
    refused = c1.state.issue_token()
    body = {"access_token": refused, "token_type": token_type, "expires_in": 3600}
    c1.answer_token_requests(json.dumps(body).encode())
    with structlog.testing.capture_logs() as events:
        await client.hello(METADATA)
    assert [call.authorization for call in c1.recorded().calls_to("Hello")] == [False, True]
    assert refused not in repr(events)
