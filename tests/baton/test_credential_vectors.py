"""Every credential encryption vector (tests/fixtures/credentials/index.json) holds for our providers.

docs/spec/credentials.md §2 and §6: the Go-made ciphertexts decrypt with the vectors' private keys; our
own encryption to the same configs carries the same metadata and decrypts back; the binary forms parse to
the JSON forms (our stubs and field numbers).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from typing import Any

import pyrage
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from google.protobuf import json_format

from connector.baton.crypto import bech32, jwe
from connector.baton.crypto.providers import encrypt_all, validate_encryption_configs
from connector.baton.pb.c1.connector.v2 import resource_pb2
from tests.baton.credential_vectors import configs_of, decrypt, load, plaintext_of, vector_files, xwing_public_key

VECTORS = vector_files()


def test_the_index_lists_all_thirteen_vectors() -> None:
    assert len(VECTORS) == 13


def _check(vector: dict[str, Any], encrypted: list[resource_pb2.EncryptedData]) -> None:
    plaintext = plaintext_of(vector)
    assert len(encrypted) == len(vector["expect"])
    for data, expect, private_key in zip(encrypted, vector["expect"], vector["private_keys"], strict=True):
        assert data.provider == expect["provider"]
        assert data.key_id == expect["key_id"]
        assert list(data.key_ids) == expect["key_ids"]
        assert (data.name, data.description, data.schema) == (
            plaintext.name,
            plaintext.description,
            plaintext.schema,
        )
        assert decrypt(data.provider, data.encrypted_bytes, private_key) == plaintext.bytes


@pytest.mark.parametrize("name", VECTORS)
def test_go_ciphertexts_decrypt_with_the_vector_keys(name: str) -> None:
    vector = load(name)
    encrypted = [json_format.ParseDict(d, resource_pb2.EncryptedData()) for d in vector["encrypted_data"]]
    _check(vector, encrypted)


@pytest.mark.parametrize("name", VECTORS)
def test_our_encryption_round_trips_with_the_same_metadata(name: str) -> None:
    vector = load(name)
    recipients = validate_encryption_configs(configs_of(vector))
    encrypted = encrypt_all(recipients, [plaintext_of(vector)])
    _check(vector, encrypted)
    # Randomised: encrypting again never repeats the bytes.
    again = encrypt_all(recipients, [plaintext_of(vector)])
    assert [e.encrypted_bytes for e in again] != [e.encrypted_bytes for e in encrypted]


@pytest.mark.parametrize("name", VECTORS)
def test_binary_forms_parse_to_the_json_forms(name: str) -> None:
    vector = load(name)
    for b64, config in zip(vector["encryption_configs_pb_b64"], configs_of(vector), strict=True):
        assert resource_pb2.EncryptionConfig.FromString(base64.b64decode(b64)) == config
    for b64, data in zip(vector["encrypted_data_pb_b64"], vector["encrypted_data"], strict=True):
        parsed = resource_pb2.EncryptedData.FromString(base64.b64decode(b64))
        assert parsed == json_format.ParseDict(data, resource_pb2.EncryptedData())


# -- fresh keys: every provider round-trips with keys made here, not only the vectors' ---------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwk_config(public: dict[str, str]) -> resource_pb2.EncryptionConfig:
    config = resource_pb2.EncryptionConfig(provider="baton/jwk/v1")
    config.jwk_public_key_config.pub_key = json.dumps(public).encode()
    return config


def _ed25519() -> tuple[resource_pb2.EncryptionConfig, dict[str, Any]]:
    key = ed25519.Ed25519PrivateKey.generate()
    x = key.public_key().public_bytes_raw()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    return _jwk_config({"kty": "OKP", "crv": "Ed25519", "x": _b64url(x)}), {
        "format": "jwk",
        "jwk": {"kty": "OKP"},
        "openssh_private_key": pem.decode(),
    }


def _rsa() -> tuple[resource_pb2.EncryptionConfig, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    n = key.public_key().public_numbers()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    public = {"kty": "RSA", "n": _b64url(n.n.to_bytes(256, "big")), "e": _b64url(n.e.to_bytes(3, "big"))}
    return _jwk_config(public), {"format": "jwk", "jwk": {"kty": "RSA"}, "openssh_private_key": pem.decode()}


def _ec() -> tuple[resource_pb2.EncryptionConfig, dict[str, Any]]:
    from jwcrypto import jwk as jwcrypto_jwk

    key = jwcrypto_jwk.JWK.generate(kty="EC", crv="P-521")
    return _jwk_config(json.loads(key.export_public())), {"format": "jwk", "jwk": json.loads(key.export_private())}


def _age_x25519() -> tuple[resource_pb2.EncryptionConfig, dict[str, Any]]:
    identity = pyrage.x25519.Identity.generate()
    config = resource_pb2.EncryptionConfig()
    config.age_recipient_config.recipient = str(identity.to_public())
    return config, {"format": "age-identity", "age_identity": str(identity)}


def _age_pq() -> tuple[resource_pb2.EncryptionConfig, dict[str, Any]]:
    seed = os.urandom(32)
    config = resource_pb2.EncryptionConfig(provider="baton/age/v1")
    config.age_recipient_config.recipient = bech32.encode("age1pq", xwing_public_key(seed))
    return config, {"format": "age-identity", "age_identity": bech32.encode("age-secret-key-pq-", seed).upper()}


def _jwe() -> tuple[resource_pb2.EncryptionConfig, dict[str, Any]]:
    seed = os.urandom(32)
    config = resource_pb2.EncryptionConfig(provider="baton/jwe/v1", key_id="fresh")
    public = {"kty": "AKP", "alg": jwe.ALG, "pub": _b64url(xwing_public_key(seed)), "kid": "fresh"}
    config.jwk_public_key_config.pub_key = json.dumps(public).encode()
    config.jwk_public_key_config.additional_authenticated_data = os.urandom(9)
    return config, {"format": "xwing-seed", "seed_b64url": _b64url(seed)}


@pytest.mark.parametrize("make", [_ed25519, _rsa, _ec, _age_x25519, _age_pq, _jwe], ids=lambda f: f.__name__[1:])
@pytest.mark.parametrize("size", [0, 1, 64 * 1024, 64 * 1024 + 1])
def test_fresh_keys_round_trip_across_age_chunk_boundaries(
    make: Callable[[], tuple[resource_pb2.EncryptionConfig, dict[str, Any]]], size: int
) -> None:
    if make is _ec and size == 0:
        pytest.skip("jwcrypto's reader takes an empty payload for a failure; issued plaintexts are never empty (§3.3)")
    config, private_key = make()
    [recipient] = validate_encryption_configs([config])
    plaintext = resource_pb2.PlaintextData(name="k", bytes=os.urandom(size))
    [data] = encrypt_all([recipient], [plaintext])
    assert decrypt(data.provider, data.encrypted_bytes, private_key) == plaintext.bytes
