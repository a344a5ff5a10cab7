"""A recipient key's JSON read as Go reads it (docs/spec/credentials.md §2.1: the jwk check is "pub_key parses as a
go-jose JWK"; §2.5 item 5 for `baton/jwe/v1`). Go's reader skips a member it does not read, whatever that member
holds: a number of any length (never converted) and nesting up to encoding/json's 10,000 levels. Python's reader
builds every member: it refused a number over 4,300 digits ("JSON number out of range") and nesting past ~1,000
levels ("JSON nested too deeply"), so a key the SDK takes was refused before the mint. The class guarded: no false
refusal of a recipient for what Python's JSON reader cannot build; what Go's reader refuses (bad syntax at any depth)
is still refused."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from connector.baton.crypto.providers import validate_encryption_configs
from connector.baton.errors import InvalidArgumentError
from connector.baton.pb.c1.connector.v2 import resource_pb2
from tests.independent.credentials.issuing import issue_task, robot
from tests.independent.credentials.keys import ED_X, JWE_VECTOR, b64u
from tests.independent.writes.conftest import Rig

UNMARSHAL = "invalid encryption config 0: rpc error: code = InvalidArgument desc = jwk: failed to unmarshal jwk: "
JWK_HEAD = '{"kty":"OKP","crv":"Ed25519","x":"' + b64u(ED_X) + '"'
# Members go-jose does not read, holding what Go's reader skips and Python's could not build. All under the 16 KiB
# bound of a `pub_key`.
SKIPPED = {
    "long-integer": "9" * 5000,
    "long-negative-integer": "-" + "1" * 6000,
    "deep-array": "[" * 3000 + "]" * 3000,
    "deep-object": '{"a":' * 1500 + "null" + "}" * 1500,
    "deep-mixed": '[{"b":' * 1000 + "1" + "}]" * 1000,
    "long-integer-deep": "[" * 1200 + "1" * 5000 + "]" * 1200,
}
# Refused by Go's reader wherever it stands, so refused here at any depth too.
BROKEN = {
    "empty-element": "[" * 2000 + "1,,2" + "]" * 2000,
    "unbalanced": "[" * 2000 + "]" * 1999,
    "mismatched": "[" * 1000 + "{" + "]" + "]" * 999,
    "bare-word": "[" * 1500 + "nul" + "]" * 1500,
    "nan": "[" * 1500 + "NaN" + "]" * 1500,
    "control-in-string": "[" * 1500 + '"\x01"' + "]" * 1500,
}


def _jwk(extra: str) -> resource_pb2.EncryptionConfig:
    config = resource_pb2.EncryptionConfig(provider="baton/jwk/v1")
    config.jwk_public_key_config.pub_key = f'{JWK_HEAD},"ext":{extra}}}'.encode()
    assert len(config.jwk_public_key_config.pub_key) <= 16384
    return config


def _jwe(extra: str) -> resource_pb2.EncryptionConfig:
    vector = JWE_VECTOR["encryption_configs"][0]
    config = resource_pb2.EncryptionConfig(provider=vector["provider"], key_id=vector["key_id"])
    text = base64.b64decode(vector["jwk_public_key_config"]["pub_key"]).decode()
    config.jwk_public_key_config.pub_key = (text.rstrip()[:-1] + f',"ext":{extra}}}').encode()
    assert len(config.jwk_public_key_config.pub_key) <= 16384
    return config


def _verdict(config: resource_pb2.EncryptionConfig) -> str | None:
    try:
        validate_encryption_configs([config])
    except InvalidArgumentError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("extra", SKIPPED.values(), ids=SKIPPED.keys())
def test_a_jwk_member_go_jose_skips_is_skipped_whatever_it_holds(extra: str) -> None:
    assert _verdict(_jwk(extra)) is None


@pytest.mark.parametrize("extra", SKIPPED.values(), ids=SKIPPED.keys())
def test_a_jwe_member_the_sdk_does_not_read_is_taken_whatever_it_holds(extra: str) -> None:
    assert _verdict(_jwe(extra)) is None


@pytest.mark.parametrize("extra", BROKEN.values(), ids=BROKEN.keys())
def test_json_go_refuses_is_refused_at_any_depth(extra: str) -> None:
    jwk_verdict = _verdict(_jwk(extra))
    assert jwk_verdict is not None
    assert jwk_verdict.startswith(UNMARSHAL)
    assert _verdict(_jwe(extra)) == (
        "invalid encryption config 0: rpc error: code = InvalidArgument desc = jwe: public key must be a JSON object"
    )


def test_a_long_number_where_go_jose_reads_a_string_is_go_joses_type_error() -> None:
    config = resource_pb2.EncryptionConfig(provider="baton/jwk/v1")
    config.jwk_public_key_config.pub_key = f'{JWK_HEAD},"kid":{"7" * 5000}}}'.encode()
    assert _verdict(config) == (
        UNMARSHAL + "json: cannot unmarshal number into Go struct field rawJSONWebKey.kid of type string"
    )


def test_a_deep_x5c_item_is_a_type_error_not_a_depth_error() -> None:
    """Past the levels Python's reader builds, a value keeps its JSON type: an x5c item nested 2,000 deep is an array
    where go-jose reads a string."""
    config = resource_pb2.EncryptionConfig(provider="baton/jwk/v1")
    config.jwk_public_key_config.pub_key = f'{JWK_HEAD},"x5c":[{"[" * 2000}{"]" * 2000}]}}'.encode()
    assert _verdict(config) == (
        UNMARSHAL + "json: cannot unmarshal array into Go struct field rawJSONWebKey.x5c of type string"
    )


async def test_an_issuance_to_such_a_jwk_is_made_and_encrypted_to_its_key(rig: Rig) -> None:
    """End to end: the task succeeds, and the ciphertext names the key's own thumbprint (the member skipped)."""
    sa = robot(rig.fake)
    config = {
        "provider": "baton/jwk/v1",
        "jwkPublicKeyConfig": {
            "pubKey": base64.b64encode(_jwk(SKIPPED["deep-array"]).jwk_public_key_config.pub_key).decode()
        },
    }
    finish = await rig.run(issue_task(sa.id, "service-account-application-key", [config]))
    assert finish.ok, finish.message
    response = finish.response
    assert isinstance(response, resource_pb2.IssueCredentialResponse)
    plain = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": b64u(ED_X)}, separators=(",", ":"))
    assert [d.key_ids for d in response.encrypted_data] == [[hashlib.sha256(plain.encode()).hexdigest()]]
