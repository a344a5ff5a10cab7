"""The client assertion is exactly the JWS of docs/spec/service-mode.md §1.4."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connector.baton.c1.assertion import make_client_assertion
from connector.baton.c1.credentials import parse_client_id, parse_client_secret
from tests.fakes.c1 import generate_client_credentials, make_client_secret

NOW = 1_790_000_000.75


def _decode(segment: str) -> bytes:
    assert "=" not in segment
    assert re.fullmatch(r"[A-Za-z0-9_-]+", segment)
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _split(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    header, payload, signature = token.split(".")
    return (
        json.loads(_decode(header)),
        json.loads(_decode(payload)),
        _decode(signature),
        f"{header}.{payload}".encode(),
    )


def test_header_and_claims_are_exactly_those_of_the_spec() -> None:
    credentials = generate_client_credentials("acme.conductor.one:8443")
    client_id = parse_client_id(credentials.client_id)
    token = make_client_assertion(client_id, parse_client_secret(credentials.client_secret), now=NOW)
    header, claims, signature, signed = _split(token)

    assert set(header) == {"alg", "nonce"}  # no typ, no kid without one in the JWK, no jwk
    assert header["alg"] == "EdDSA"
    assert re.fullmatch(r"[0-9a-f]{32}", header["nonce"])
    assert claims == {
        "iss": credentials.client_id,
        "sub": credentials.client_id,
        "aud": "acme.conductor.one",  # the id's host, port removed, a string and not a list
        "iat": 1_790_000_000,
        "nbf": 1_790_000_000 - 120,
        "exp": 1_790_000_000 + 120,
    }
    assert all(type(claims[name]) is int for name in ("iat", "nbf", "exp"))
    credentials.public_key.verify(signature, signed)


def test_kid_appears_only_when_the_jwk_has_one() -> None:
    key = Ed25519PrivateKey.generate()
    client_id = parse_client_id("name@acme.conductor.one/pcc")
    header, _, signature, signed = _split(
        make_client_assertion(client_id, parse_client_secret(make_client_secret(key, kid="k-1")), now=NOW)
    )
    assert set(header) == {"alg", "kid", "nonce"}
    assert header["kid"] == "k-1"
    key.public_key().verify(signature, signed)


def test_signature_covers_header_and_claims() -> None:
    credentials = generate_client_credentials("acme.conductor.one")
    token = make_client_assertion(
        parse_client_id(credentials.client_id), parse_client_secret(credentials.client_secret), now=NOW
    )
    header, payload, signature = token.split(".")
    forged_claims = json.loads(_decode(payload)) | {"sub": "someone-else"}
    forged = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidSignature):
        credentials.public_key.verify(_decode(signature), f"{header}.{forged}".encode())
    other = generate_client_credentials("acme.conductor.one")
    with pytest.raises(InvalidSignature):
        other.public_key.verify(_decode(signature), f"{header}.{payload}".encode())


def test_every_assertion_gets_a_new_nonce_and_the_current_time() -> None:
    credentials = generate_client_credentials("acme.conductor.one")
    client_id, secret = parse_client_id(credentials.client_id), parse_client_secret(credentials.client_secret)
    first, second = (_split(make_client_assertion(client_id, secret))[0:2] for _ in range(2))
    assert first[0]["nonce"] != second[0]["nonce"]
    assert abs(first[1]["iat"] - time.time()) < 5
