"""Fuzz: any EncryptionConfig list or issuance request gets a verdict, never another exception.

Properties (docs/spec/credentials.md §2.1, §3.2): validation answers with InvalidArgumentError or a list
of recipients; a config that passed validation never fails to encrypt (so nothing fails after a mint);
the issue_credential task answers with a TaskError or a response, whatever the request holds.
"""

from __future__ import annotations

import base64
import json
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.baton.connector import Connector
from connector.baton.crypto.providers import encrypt_all, validate_encryption_configs
from connector.baton.errors import Code, InvalidArgumentError
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks import credentials
from connector.baton.tasks.outcome import TaskError
from tests.baton.credential_vectors import configs_of, load, vector_files
from tests.baton.test_issue_credential import NOW, TASK_ID, StubConnector

VALID = [c for name in vector_files() for c in configs_of(load(name))]
PROVIDERS = ["", "baton/jwk/v1", "BATON/JWK/V1/PRIVATE", " baton/age/v1", "baton/jwe/v1", "baton/x"]
B64URL = st.binary(max_size=80).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("="))
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | B64URL,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
JWK_DICTS = st.fixed_dictionaries(
    {},
    optional={
        "kty": st.sampled_from(["OKP", "EC", "RSA", "oct", "AKP", ""]) | JSONISH,
        "crv": st.sampled_from(["Ed25519", "X25519", "P-256", "P-384", "P-521", "P-1"]) | JSONISH,
        "x": B64URL | JSONISH,
        "y": B64URL,
        "n": B64URL,
        "e": st.sampled_from(["AQAB", "Aw", "", "AA"]) | B64URL,
        "d": B64URL,
        "alg": st.just("https://c1.ai/alg/hpke-xwing-hkdf-sha256-chacha20poly1305/v1") | st.text(max_size=5),
        "pub": B64URL,
        "kid": st.text(max_size=5),
        "use": st.sampled_from(["enc", "sig"]),
        "key_ops": JSONISH,
    },
)
PUB_KEYS = st.one_of(
    st.binary(max_size=64),
    JWK_DICTS.map(lambda d: json.dumps(d).encode()),
    JSONISH.map(lambda d: json.dumps(d).encode()),
    # Numbers too long for Python's int conversion, and deep nesting.
    st.integers(4000, 6000).map(lambda n: b'{"kty":' + b"9" * n + b"}"),
    st.integers(1, 3000).map(lambda n: b"[" * n),
)
RECIPIENTS = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [c.age_recipient_config.recipient for c in VALID if c.WhichOneof("config") == "age_recipient_config"]
    ).flatmap(lambda r: st.sampled_from([r, r.upper(), r[:-1], r + "q", " " + r, r[:10]])),
)


@st.composite
def configs(draw: st.DrawFn) -> resource_pb2.EncryptionConfig:
    if draw(st.booleans()) and draw(st.booleans()):
        config = resource_pb2.EncryptionConfig()
        config.CopyFrom(draw(st.sampled_from(VALID)))
        if draw(st.booleans()):
            config.provider = draw(st.sampled_from(PROVIDERS))
        return config
    config = resource_pb2.EncryptionConfig(provider=draw(st.sampled_from(PROVIDERS)), key_id=draw(st.text(max_size=8)))
    arm = draw(st.sampled_from(["jwk", "age", "none"]))
    if arm == "jwk":
        config.jwk_public_key_config.pub_key = draw(PUB_KEYS)
        config.jwk_public_key_config.additional_authenticated_data = draw(st.binary(max_size=4))
    elif arm == "age":
        config.age_recipient_config.recipient = draw(RECIPIENTS)
    return config


@pytest.mark.fuzz
@given(st.lists(configs(), min_size=0, max_size=3))
def test_validation_gives_a_verdict_and_validated_configs_always_encrypt(
    items: list[resource_pb2.EncryptionConfig],
) -> None:
    try:
        recipients = validate_encryption_configs(items)
    except InvalidArgumentError as exc:
        refusal = str(exc)
    else:
        refusal = ""
    if refusal:
        assert refusal.startswith(("invalid encryption config ", "encryption config "))
        return
    plaintext = resource_pb2.PlaintextData(name="k", bytes=b"secret")
    assert len(encrypt_all(recipients, [plaintext])) == len(items)


@pytest.mark.fuzz
@given(
    configs=st.lists(configs(), min_size=0, max_size=2),
    secret_type=st.sampled_from(
        ["service-account-application-key", "api-key", "service-account-access-token", "", "x"]
    ),
    arm=st.sampled_from(["api_key", "token", "keypair", "client_secret", None]),
    scopes=st.lists(st.text(max_size=4), max_size=3),
    audiences=st.lists(st.text(max_size=3), max_size=1),
    expiry=st.none() | st.integers(min_value=-(10**12), max_value=10**12),
    task_id=st.sampled_from([TASK_ID, "", "a b", "x" * 129]),
)
async def test_any_issue_request_gets_an_answer(
    configs: list[resource_pb2.EncryptionConfig],
    secret_type: str,
    arm: str | None,
    scopes: list[str],
    audiences: list[str],
    expiry: int | None,
    task_id: str,
) -> None:
    task = baton_pb2.Task.IssueCredentialTask(identity_id=resource_pb2.ResourceId(resource_type="user", resource="sa"))
    task.encryption_configs.extend(configs)
    task.credential_options.secret_resource_type_id = secret_type
    if arm == "api_key":
        task.credential_options.api_key.scopes.extend(scopes)
    elif arm == "token":
        task.credential_options.token.scopes.extend(scopes)
        task.credential_options.token.audiences.extend(audiences)
    elif arm is not None:
        getattr(task.credential_options, arm).SetInParent()
    else:
        task.credential_options.SetInParent()
    if expiry is not None:
        task.expires_at.seconds = int(NOW.timestamp()) + expiry
    stub = StubConnector()
    try:
        outcome: Any = await credentials.issue_credential(cast(Connector, stub), task_id, task, now=lambda: NOW)
    except TaskError as exc:
        refusal: TaskError | None = exc
    else:
        refusal = None
    if refusal is not None:
        assert refusal.non_retryable
        assert refusal.code != Code.UNKNOWN  # every refusal names its reason's code
        return
    assert isinstance(outcome.response, resource_pb2.IssueCredentialResponse)
    assert len(outcome.response.encrypted_data) == len(configs)
