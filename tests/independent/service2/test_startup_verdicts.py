"""Who refused at start-up (docs/spec/service-mode.md §3.1, §1.6): the Hello ends the service on a fatal answer, and
its closing line tells the operator what to fix. The token endpoint refusing the client assertion is the client id
or secret; ConductorOne's API refusing the Hello after its token endpoint issued a token is not (the credentials
were accepted): the token is of a type or an audience the API does not take, or the API is another tenant's or no
BatonService at all, which is BATON_C1_API_HOST's to fix. Go exits on both alike (§1.6: "any token failure counts as
non-retryable"); here both still end the service, each naming its own cause.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import grpc
import pytest

from connector.baton.runtime.metrics import Metrics
from connector.baton.runtime.service import StartupRefused, run_service
from tests.baton.second_connector.wiki import WikiApp
from tests.fakes.c1 import FakeC1
from tests.independent.service.rig import PREFIX, config, wiki
from tests.independent.service2.rig import daemon_logging


def _jwt(audience: str) -> str:
    """An access token as a JWT for another audience (unsigned: the API refuses it before any signature check)."""

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'EdDSA'})}.{part({'aud': audience, 'exp': 4102444800})}.c2ln"


async def _refusal(fake: FakeC1, tmp_path: Path) -> tuple[str, list[dict[str, object]]]:
    with daemon_logging() as out, pytest.raises(StartupRefused) as refused:
        await asyncio.wait_for(
            run_service(config(fake, tmp_path), WikiApp(wiki()), Metrics(PREFIX, "0"), stop=asyncio.Event()), 30
        )
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    return str(refused.value), [line for line in lines if line["level"] == "error"]


@pytest.mark.parametrize(
    "token",
    [
        {"access_token": _jwt("other-tenant.conductor.one"), "token_type": "Bearer", "expires_in": 3600},
        {"access_token": "valid-looking-token-0123456789", "token_type": "DPoP", "expires_in": 3600},
    ],
    ids=["wrong-audience", "dpop-type"],
)
async def test_a_token_the_endpoint_issued_but_the_api_refuses_names_the_api_host_not_only_the_secret(
    tmp_path: Path, token: dict[str, object]
) -> None:
    fake = FakeC1().start()
    try:
        fake.answer_token_requests(json.dumps(token).encode(), times=100)
        message, errors = await _refusal(fake, tmp_path)
        assert fake.recorded().hellos == []
        assert "token endpoint accepted" in message, message
        assert "BATON_C1_API_HOST" in message, message
        (line,) = errors
        assert str(line["event"]).startswith("ConductorOne refused the connector")
        assert str(token["access_token"]) not in message
        assert str(token["access_token"]) not in json.dumps(errors)
        assert fake.client_secret not in message
    finally:
        fake.stop()


@pytest.mark.parametrize(
    "code",
    [grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED],
)
async def test_a_hello_the_api_refuses_after_a_token_was_issued_names_the_api_side(
    tmp_path: Path, code: grpc.StatusCode
) -> None:
    fake = FakeC1().start()
    try:
        fake.fail_next("Hello", code, times=5)
        message, errors = await _refusal(fake, tmp_path)
        assert "token endpoint accepted" in message, message
        assert "BATON_C1_API_HOST" in message, message
        assert code.name in message
        assert len(errors) == 1
    finally:
        fake.stop()


async def test_credentials_the_token_endpoint_refuses_name_the_client_id_and_secret(tmp_path: Path) -> None:
    fake = FakeC1().start()
    try:
        fake.fail_token_requests(401, times=5)
        message, _ = await _refusal(fake, tmp_path)
        assert message.startswith("ConductorOne refused the connector; check BATON_CLIENT_ID / BATON_CLIENT_SECRET")
        assert "token endpoint accepted" not in message
    finally:
        fake.stop()
