"""The fake ConductorOne is strict where the spec is exact, so "the fake accepted it" in the client tests means
something: each wrong assertion, form or token below is refused for the stated reason. Also: the CLI demo.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connector.baton.c1 import BatonServiceClient, grpc_root_certificates, parse_client_id, parse_client_secret
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2, baton_pb2_grpc
from tests.baton.c1.conftest import LeakGuard, make_client
from tests.fakes.c1 import FakeC1

ROOT = Path(__file__).resolve().parents[3]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _assertion(
    fake: FakeC1,
    *,
    header: Callable[[dict[str, Any]], dict[str, Any]] = lambda h: h,
    claims: Callable[[dict[str, Any]], dict[str, Any]] = lambda c: c,
    key: Ed25519PrivateKey | None = None,
) -> str:
    now = int(time.time())
    base_claims = {
        "iss": fake.client_id,
        "sub": fake.client_id,
        "aud": "127.0.0.1",
        "iat": now,
        "nbf": now - 120,
        "exp": now + 120,
    }
    signing_input = (
        f"{_b64(json.dumps(header({'alg': 'EdDSA', 'nonce': secrets.token_hex(16)})).encode())}."
        f"{_b64(json.dumps(claims(base_claims)).encode())}"
    )
    signer = key or parse_client_secret(fake.client_secret).private_key
    return f"{signing_input}.{_b64(signer.sign(signing_input.encode()))}"


def _form(fake: FakeC1, assertion: str, **overrides: str) -> dict[str, str]:
    form = {
        "client_assertion": assertion,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_id": fake.client_id,
        "grant_type": "client_credentials",
    }
    form.update(overrides)
    return {key: value for key, value in form.items() if value != "<drop>"}


async def _post(fake: FakeC1, form: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(verify=fake.ssl_context()) as http:
        return await http.post(fake.token_url, data=form, headers=headers)


async def test_a_correct_hand_made_assertion_is_accepted(fake: FakeC1) -> None:
    response = await _post(fake, _form(fake, _assertion(fake)))
    assert response.status_code == 200, response.text
    assert response.json()["expires_in"] == 3600


@pytest.mark.parametrize(
    ("case", "header", "claims", "reason"),
    [
        ("typ header", lambda h: {**h, "typ": "JWT"}, None, "unexpected header members"),
        ("embedded jwk", lambda h: {**h, "jwk": {}}, None, "unexpected header members"),
        ("alg", lambda h: {**h, "alg": "ES256"}, None, "alg"),
        ("short nonce", lambda h: {**h, "nonce": "abc"}, None, "nonce"),
        ("upper-case nonce", lambda h: {**h, "nonce": secrets.token_hex(16).upper()}, None, "nonce"),
        ("unexpected kid", lambda h: {**h, "kid": "k"}, None, "kid"),
        ("aud array", None, lambda c: {**c, "aud": ["127.0.0.1"]}, "aud must be a single string"),
        ("aud with port", None, lambda c: {**c, "aud": "127.0.0.1:443"}, "aud"),
        ("jti", None, lambda c: {**c, "jti": "x"}, "claims"),
        ("sub", None, lambda c: {**c, "sub": "someone"}, "iss and sub"),
        ("nbf window", None, lambda c: {**c, "nbf": c["iat"] - 300}, "nbf and exp"),
        ("float iat", None, lambda c: {**c, "iat": c["iat"] + 0.5}, "integers"),
        (
            "stale",
            None,
            lambda c: {**c, "iat": c["iat"] - 600, "nbf": c["iat"] - 720, "exp": c["iat"] - 480},
            "not valid now",
        ),
    ],
)
async def test_wrong_assertions_are_refused(
    fake: FakeC1,
    case: str,
    header: Callable[[dict[str, Any]], dict[str, Any]] | None,
    claims: Callable[[dict[str, Any]], dict[str, Any]] | None,
    reason: str,
) -> None:
    assertion = _assertion(fake, header=header or (lambda h: h), claims=claims or (lambda c: c))
    response = await _post(fake, _form(fake, assertion))
    assert response.status_code == 401, case
    (record,) = fake.recorded().token_requests
    assert reason in record.reason, (case, record.reason)
    assert fake.recorded().issued_tokens == []


async def test_wrong_key_and_replayed_nonce_are_refused(fake: FakeC1) -> None:
    assert (await _post(fake, _form(fake, _assertion(fake, key=Ed25519PrivateKey.generate())))).status_code == 401
    nonce = secrets.token_hex(16)
    replay = _assertion(fake, header=lambda h: {**h, "nonce": nonce})
    assert (await _post(fake, _form(fake, replay))).status_code == 200
    assert (await _post(fake, _form(fake, replay))).status_code == 401
    reasons = [record.reason for record in fake.recorded().token_requests]
    assert reasons == ["bad signature", "", "nonce replayed"]


@pytest.mark.parametrize(
    ("overrides", "headers", "reason"),
    [
        ({"scope": "all"}, None, "form fields"),
        ({"grant_type": "<drop>"}, None, "form fields"),
        ({"grant_type": "password"}, None, "grant_type"),
        ({"client_id": "other@127.0.0.1/pcc"}, None, "unknown client_id"),
        ({}, {"Authorization": "Basic eDp5"}, "Authorization"),
    ],
)
async def test_wrong_forms_are_refused(
    fake: FakeC1, overrides: dict[str, str], headers: dict[str, str] | None, reason: str
) -> None:
    response = await _post(fake, _form(fake, _assertion(fake), **overrides), headers)
    assert response.status_code == 401
    assert reason in fake.recorded().token_requests[0].reason


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic xyz"])
async def test_rpcs_without_a_live_bearer_token_are_unauthenticated(fake: FakeC1, authorization: str | None) -> None:
    metadata = () if authorization is None else (("authorization", authorization),)
    async with grpc.aio.secure_channel(fake.address, grpc.ssl_channel_credentials(fake.ca_pem)) as channel:
        stub = baton_pb2_grpc.BatonServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetTask(baton_pb2.BatonServiceGetTaskRequest(host_id="h"), metadata=metadata)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert fake.recorded().get_task_count == 0


async def test_requests_breaking_field_rules_are_invalid(fake: FakeC1) -> None:
    async with make_client(fake) as client:
        token = await client.tokens.token()
        stub = client._ensure_stub()
        metadata = (("authorization", token.authorization),)
        requests = [
            stub.GetTask(baton_pb2.BatonServiceGetTaskRequest(), metadata=metadata),  # no host_id
            stub.Heartbeat(baton_pb2.BatonServiceHeartbeatRequest(host_id="h", task_id="x"), metadata=metadata),
            stub.FinishTask(baton_pb2.BatonServiceFinishTaskRequest(host_id="h", task_id="a" * 27), metadata=metadata),
        ]
        for call in requests:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_cli_serves_a_daemon_and_writes_a_private_env_file(tmp_path: Path, leak_guard: LeakGuard) -> None:
    env_file = tmp_path / "c1.env"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.c1", "--env-file", str(env_file), "--enqueue", "sync_full"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("fake ConductorOne on"):
                break
        assert any(line.startswith("queued sync_full task") for line in lines)
        assert env_file.stat().st_mode & 0o777 == 0o600
        values = dict(line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines() if line)
        leak_guard.add(values["BATON_CLIENT_SECRET"])
        assert set(values) == {
            "BATON_CLIENT_ID",
            "BATON_CLIENT_SECRET",
            "SSL_CERT_FILE",
            "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
        }
        assert values["BATON_CLIENT_SECRET"].startswith("secret-token:conductorone.com:v1:")
        assert not any(values["BATON_CLIENT_SECRET"] in line for line in lines)
        task = asyncio.run(_poll_with_env(values))
        assert task.WhichOneof("task_type") == "sync_full"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "GetTask -> OK" in output
    assert '"get_task_count": 1' in output
    assert values["BATON_CLIENT_SECRET"] not in output


async def _poll_with_env(values: dict[str, str]) -> baton_pb2.Task:
    """What a daemon given that environment does: trust the CA from it, fetch a token, poll."""
    ca_file = values["SSL_CERT_FILE"]
    client = BatonServiceClient.from_credentials(
        parse_client_id(values["BATON_CLIENT_ID"]),
        parse_client_secret(values["BATON_CLIENT_SECRET"]),
        host_id="cli-test",
        root_certificates=grpc_root_certificates({"SSL_CERT_FILE": ca_file}),
        token_verify=ssl.create_default_context(cafile=ca_file),
    )
    async with client:
        response = await client.get_task()
    return response.task


def test_the_cli_on_a_taken_port_is_one_line_naming_it() -> None:
    """`python -m tests.fakes.c1 --port N` with N taken was asyncio's traceback, not the port and the way out."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "tests.fakes.c1", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"fake ConductorOne: cannot listen on 127.0.0.1:{port}: Address already in use; "
        "--port 0 (the default) takes any free port"
    )
