"""What go-jose reads of a JWK beside its public key (docs/spec/credentials.md §2.1: the jwk check is "pub_key parses as
a go-jose JWK"; §2.2 item 1). A private half is allowed, but go-jose then reads the key as a private key: an EC `d`
must be of the curve's size, an RSA key needs `p` and `q` and must pass Go's key validation. A certificate chain
(`x5c`) must hold certificates whose leaf carries the JWK's own key, `x5u` must parse as a URL, and `x5t` /
`x5t#S256` must be digests of their size (of that leaf, when there is a chain). The SDK refuses all of these before
the mint; here each was issued to the JWK's `x`/`y`/`n`, a JWK naming a second key among them."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from connector.baton.errors import Code
from tests.independent.credentials.issuing import PREFIX, issue_task, robot
from tests.independent.credentials.keys import ED25519, b64u, ed25519_jwk, jwk_config
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import failed_for_good

UNMARSHAL = "invalid encryption config 0: rpc error: code = InvalidArgument desc = jwk: failed to unmarshal jwk: "


def _certificate(key: ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "c1-recipient")])
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365))
    )
    return builder.sign(key, None)


def _der(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def _int(value: int, size: int | None = None) -> str:
    return b64u(value.to_bytes(size or (value.bit_length() + 7) // 8, "big"))


def _off_curve_certificate() -> str:
    """A P-256 certificate whose key's point was bent off the curve (its last byte flipped): Go's x509 refuses it."""
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "c1-recipient")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(EC_KEY.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365))
    )
    der = builder.sign(EC_KEY, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    point = EC_KEY.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    last = der.index(point) + len(point) - 1
    return base64.b64encode(der[:last] + bytes([der[last] ^ 1]) + der[last + 1 :]).decode()


OWN = _certificate(ED25519)
ANOTHER = _certificate(ed25519.Ed25519PrivateKey.generate())
EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC_PUBLIC = EC_KEY.public_key().public_numbers()
EC_JWK = {"kty": "EC", "crv": "P-256", "x": _int(EC_PUBLIC.x, 32), "y": _int(EC_PUBLIC.y, 32)}
RSA_NUMBERS = rsa.generate_private_key(65537, 2048).private_numbers()
RSA_JWK = {"kty": "RSA", "n": _int(RSA_NUMBERS.public_numbers.n), "e": _int(65537)}
D, P, Q = _int(RSA_NUMBERS.d), _int(RSA_NUMBERS.p), _int(RSA_NUMBERS.q)

REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "ec-d-of-one-byte": ({**EC_JWK, "d": b64u(b"\x01")}, "go-jose/go-jose: invalid EC private key, wrong length for d"),
    "ec-d-empty": ({**EC_JWK, "d": ""}, "go-jose/go-jose: invalid EC private key, wrong length for d"),
    "ec-d-of-p384-size": (
        {**EC_JWK, "d": b64u(bytes(47) + b"\x01")},
        "go-jose/go-jose: invalid EC private key, wrong length for d",
    ),
    "rsa-d-without-primes": ({**RSA_JWK, "d": D}, "go-jose/go-jose: invalid RSA private key, missing P value(s)"),
    "rsa-d-and-p-without-q": (
        {**RSA_JWK, "d": D, "p": P},
        "go-jose/go-jose: invalid RSA private key, missing Q value(s)",
    ),
    "rsa-primes-of-another-modulus": ({**RSA_JWK, "d": D, "p": P, "q": P}, "crypto/rsa: p * q != n"),
    "rsa-d-not-inverting-e": (
        {**RSA_JWK, "d": _int(RSA_NUMBERS.d + 2), "p": P, "q": Q},
        "crypto/rsa: invalid CRT exponent",
    ),
    "x5c-of-another-key": (
        ed25519_jwk(x5c=[_der(ANOTHER)]),
        "go-jose/go-jose: invalid JWK, public keys in key and x5c fields do not match",
    ),
    "x5c-key-off-its-curve": (
        {**EC_JWK, "x5c": [_off_curve_certificate()]},
        "go-jose/go-jose: failed to unmarshal x5c field: x509: malformed certificate",
    ),
    "x5c-no-certificate": (
        ed25519_jwk(x5c=["AAAA"]),
        "go-jose/go-jose: failed to unmarshal x5c field: x509: malformed certificate",
    ),
    "x5c-url-alphabet": (
        ed25519_jwk(x5c=[_der(OWN).replace("+", "-").replace("/", "_") + "-_"]),
        "go-jose/go-jose: failed to unmarshal x5c field: illegal base64 data",
    ),
    "x5u-with-a-line-break": (
        ed25519_jwk(x5u="https://keys.example/c1\n.pem"),
        "go-jose/go-jose: invalid JWK, x5u header is invalid URL: net/url: invalid control character in URL",
    ),
    "x5u-colon-first": (
        ed25519_jwk(x5u=":keys.example/c1.pem"),
        "go-jose/go-jose: invalid JWK, x5u header is invalid URL: missing protocol scheme",
    ),
    "x5t-of-three-bytes": (
        ed25519_jwk(x5t=b64u(b"abc")),
        "go-jose/go-jose: invalid JWK, x5t header is of incorrect size",
    ),
    "x5t-s256-of-sha1-size": (
        ed25519_jwk(**{"x5t#S256": b64u(bytes(20))}),
        "go-jose/go-jose: invalid JWK, x5t#S256 header is of incorrect size",
    ),
    "x5t-illegal-base64": (
        ed25519_jwk(x5t="no base64!"),
        "go-jose/go-jose: invalid JWK, x5t header has invalid encoding",
    ),
    "x5t-forty-characters-not-hex": (
        ed25519_jwk(x5t=b64u(b"zz" * 20)),
        "go-jose/go-jose: invalid JWK, unable to hex decode x5t",
    ),
    "x5t-s256-of-another-certificate": (
        ed25519_jwk(x5c=[_der(OWN)], **{"x5t#S256": b64u(ANOTHER.fingerprint(hashes.SHA256()))}),
        "go-jose/go-jose: invalid JWK, x5c thumbprint does not match x5t#S256 value",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_a_jwk_go_jose_refuses_for_what_it_holds_beside_the_key_is_refused_before_the_mint(
    rig: Rig, case: str
) -> None:
    jwk, why = REFUSED[case]
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [jwk_config(jwk)]))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert finish.message == PREFIX + UNMARSHAL + why
    assert rig.wire.seen == [], "nothing is asked of Datadog before the refusal"


ACCEPTED: dict[str, dict[str, Any]] = {
    "ec-with-its-private-half": {**EC_JWK, "d": _int(EC_KEY.private_numbers().private_value, 32)},
    "rsa-with-its-private-half": {**RSA_JWK, "d": D, "p": P, "q": Q},
    "ed25519-with-any-d": ed25519_jwk(d=b64u(b"\x01")),
    "x5c-of-its-own-key": ed25519_jwk(x5c=[_der(OWN)]),
    "x5c-with-its-digests": ed25519_jwk(
        x5c=[_der(OWN)],
        x5t=b64u(OWN.fingerprint(hashes.SHA1())),
        **{"x5t#S256": b64u(OWN.fingerprint(hashes.SHA256()))},
    ),
    # Go's x509 reads an Ed448 certificate as one without a key, and go-jose compares no key then.
    "x5c-of-a-key-go-does-not-know": ed25519_jwk(x5c=[_der(_certificate(ed448.Ed448PrivateKey.generate()))]),
    "x5u-a-url": ed25519_jwk(x5u="https://keys.example/c1.pem"),
    "x5u-a-relative-reference": ed25519_jwk(x5u="keys/c1.pem"),
    "x5t-as-hex": ed25519_jwk(x5t=b64u(b"ab" * 20)),
    "x5t-padded": ed25519_jwk(x5t=b64u(bytes(20)) + "="),
}


@pytest.mark.parametrize("case", list(ACCEPTED))
async def test_what_go_jose_reads_without_complaint_is_issued_to_the_public_key(rig: Rig, case: str) -> None:
    """The controls: each member above is refused for its value, not for being there."""
    finish = await rig.run(
        issue_task(robot(rig.fake).id, "service-account-application-key", [jwk_config(ACCEPTED[case])])
    )
    assert finish.ok, finish
