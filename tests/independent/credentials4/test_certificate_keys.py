"""An `x5c` chain as go-jose reads it (docs/spec/credentials.md §2.2 item 1): Go's x509 parses every certificate, and
go-jose compares the leaf's key with the JWK's only when Go's x509 reads a key from it. Go reads the keys of four
algorithms (rsaEncryption, DSA, id-ecPublicKey on P-224/256/384/521 with an uncompressed point, Ed25519); for any other
it sets no key and nothing is compared. Here the leaf's key was judged by the key Python reads: an X25519 leaf was
compared and refused where the SDK issues. A certificate Go refuses (a version above v3, a negative serial number, a
compressed EC point) was taken here, or escaped as an internal error with a traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa, x448, x25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.baton.crypto import jwk
from connector.baton.crypto.errors import ConfigError
from connector.baton.errors import Code
from tests.independent.credentials.issuing import PREFIX, issue_task, robot
from tests.independent.credentials.keys import ED25519, b64u, ed25519_jwk, jwk_config
from tests.independent.credentials4.certs import (
    EC_CERT,
    EC_JWK,
    EC_KEY,
    SERIAL_12345,
    VERSION_3,
    b64,
    builder,
    compressed_point_cert,
    patched_tbs,
    rsa_pss_spki,
    spki_of,
)
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import failed_for_good

UNMARSHAL = "jwk: failed to unmarshal jwk: "
X5C = UNMARSHAL + "go-jose/go-jose: failed to unmarshal x5c field: x509: "
MISMATCH = UNMARSHAL + "go-jose/go-jose: invalid JWK, public keys in key and x5c fields do not match"


def _parse(value: dict[str, Any]) -> jwk.PublicJwk:
    return jwk.parse(json.dumps(value).encode())


def _refusal(value: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as refused:
        _parse(value)
    return str(refused.value)


def _leaf(public: Any) -> str:
    return b64(builder(public).sign(ED25519, None))


NOT_READ_BY_GO: dict[str, str] = {
    "x25519": _leaf(x25519.X25519PrivateKey.generate().public_key()),
    "x448": _leaf(x448.X448PrivateKey.generate().public_key()),
    # RSA-PSS is an RSA key to Python; to Go's x509 an algorithm it does not read.
    "rsa-pss": b64(
        patched_tbs(spki_of(EC_KEY.public_key()), rsa_pss_spki(rsa.generate_private_key(65537, 2048).public_key()))
    ),
}


@pytest.mark.parametrize("algorithm", list(NOT_READ_BY_GO))
def test_a_leaf_of_a_key_go_does_not_read_is_not_compared(algorithm: str) -> None:
    assert _parse(ed25519_jwk(x5c=[NOT_READ_BY_GO[algorithm]])).kty == "OKP"


READ_BY_GO_BUT_NO_JWK = {
    "dsa": _leaf(dsa.generate_private_key(1024).public_key()),
    "p-224": _leaf(ec.generate_private_key(ec.SECP224R1()).public_key()),
}


@pytest.mark.parametrize("algorithm", list(READ_BY_GO_BUT_NO_JWK))
def test_a_leaf_of_a_key_go_reads_is_compared_and_refused_when_it_is_not_the_jwk_s(algorithm: str) -> None:
    assert _refusal(ed25519_jwk(x5c=[READ_BY_GO_BUT_NO_JWK[algorithm]])) == MISMATCH


def test_a_leaf_on_a_curve_go_does_not_know_is_refused_with_the_chain() -> None:
    leaf = _leaf(ec.generate_private_key(ec.SECP256K1()).public_key())
    assert _refusal(ed25519_jwk(x5c=[leaf])) == X5C + "unsupported elliptic curve"


REFUSED_BY_GO_X509 = {
    "compressed-point": (compressed_point_cert(), "failed to unmarshal elliptic curve point"),
    "version-6": (patched_tbs(VERSION_3, b"\xa0\x03\x02\x01\x05"), "invalid version"),
    "version-0-less-one": (patched_tbs(VERSION_3, b"\xa0\x03\x02\x01\xff"), "malformed version"),
    "negative-serial": (patched_tbs(SERIAL_12345, b"\x02\x02\xb0\x39"), "negative serial number"),
}


@pytest.mark.parametrize("case", list(REFUSED_BY_GO_X509))
def test_a_certificate_go_x509_refuses_is_refused_in_go_s_words(case: str) -> None:
    der, reason = REFUSED_BY_GO_X509[case]
    assert _refusal({**EC_JWK, "x5c": [b64(der)]}) == X5C + reason


def test_a_refused_certificate_second_in_the_chain_refuses_the_jwk() -> None:
    """Go parses every certificate of the chain, not only the leaf."""
    chain = [b64(EC_CERT), b64(compressed_point_cert())]
    assert _refusal({**EC_JWK, "x5c": chain}) == X5C + "failed to unmarshal elliptic curve point"


def test_the_leaf_of_the_jwk_s_own_key_is_taken() -> None:
    assert _parse({**EC_JWK, "x5c": [b64(EC_CERT)]}).kty == "EC"


def test_an_oct_key_with_a_chain_is_refused_in_go_jose_s_words() -> None:
    oct_jwk = {"kty": "oct", "k": b64u(b"secret"), "x5c": [_leaf(ED25519.public_key())]}
    assert _refusal(oct_jwk) == UNMARSHAL + "go-jose/go-jose: invalid JWK, found 'oct' (symmetric) key with cert chain"


def test_an_oct_key_with_a_leaf_go_reads_no_key_from_is_an_unsupported_key_type() -> None:
    """No chain key to go-jose: it reads the symmetric key, which the provider then refuses."""
    assert (
        _refusal({"kty": "oct", "k": b64u(b"secret"), "x5c": [NOT_READ_BY_GO["x25519"]]}) == "jwk: unsupported key type"
    )


GOOD_DER = EC_CERT.public_bytes(serialization.Encoding.DER)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_certificate_of_any_bytes_is_taken_or_refused_never_an_internal_error(data: st.DataObject) -> None:
    """A good certificate with bytes changed, cut or added: every failure of the parsers is the clear refusal."""
    der = bytearray(GOOD_DER)
    for _ in range(data.draw(st.integers(1, 4))):
        der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        der = der[: data.draw(st.integers(0, len(der)))] + data.draw(st.binary(max_size=8))
    try:
        _parse({**EC_JWK, "x5c": [b64(bytes(der))]})
    except ConfigError as refused:
        message = str(refused)
    else:
        message = UNMARSHAL  # taken
    assert message.startswith(UNMARSHAL), message


async def test_an_x25519_leaf_is_issued_to_as_the_sdk_issues(rig: Rig) -> None:
    config = jwk_config(ed25519_jwk(x5c=[NOT_READ_BY_GO["x25519"]]))
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [config]))
    assert finish.ok, finish


async def test_a_certificate_of_a_bad_version_is_refused_before_the_mint_not_an_internal_error(rig: Rig) -> None:
    config = jwk_config({**EC_JWK, "x5c": [b64(REFUSED_BY_GO_X509["version-6"][0])]})
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [config]))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert finish.message.startswith(PREFIX), finish.message
    assert finish.message.endswith(X5C + "invalid version"), finish.message
    assert rig.wire.seen == []
