"""Every credential encryption vector (tests/fixtures/credentials/index.json) holds for our providers.

docs/spec/credentials.md §2 and §6: the Go-made ciphertexts decrypt with the vectors' private keys; our
own encryption to the same configs carries the same metadata and decrypts back; the binary forms parse to
the JSON forms (our stubs and field numbers).
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from google.protobuf import json_format

from connector.baton.crypto.providers import encrypt_all, validate_encryption_configs
from connector.baton.pb.c1.connector.v2 import resource_pb2
from tests.baton.credential_vectors import configs_of, decrypt, load, plaintext_of, vector_files

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
