"""Certificates Go's x509 reads and cryptography's stricter DER reader refuses (found by the rev1005 review): a
`critical` FALSE written out (some CAs do), `*` or `&` in a PrintableString (Go allows them on purpose), a UTCTime
without seconds or with an offset, fractional seconds, an explicit v1, serial 0 (cryptography only warns, today).
Refused as "x509: malformed certificate", they blocked an issuance the SDK makes (spec §2.1: the SDK's parse decides).
They are read as Go reads their key, from the SubjectPublicKeyInfo: the leaf is still compared with the JWK, and
`x5t` with the certificate's bytes. And `x5u`: Go looks for control characters before the `#` only."""

from __future__ import annotations

import base64
import hashlib
import json
import warnings
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwk as jwcrypto_jwk

import tests.independent.credentials4.certs as certs
from connector.baton.crypto import jwk
from connector.baton.crypto.errors import ConfigError
from tests.independent.credentials4.certs import EC_CERT, EC_JWK, EC_KEY, VERSION_3, b64, builder, der_seq, patched_tbs

TBS = EC_CERT.tbs_certificate_bytes
VALIDITY = TBS[TBS.find(b"\x30\x1e\x17\x0d") :][:32]


def _name(tag: int, text: bytes) -> bytes:
    """A Name of one common name, its string of type `tag` (0x0c UTF8String, 0x13 PrintableString)."""
    pair = der_seq(b"\x06\x03\x55\x04\x03" + bytes([tag, len(text)]) + text)
    return der_seq(b"\x31" + bytes([len(pair)]) + pair)


CN = _name(0x0C, b"c1-recipient")
NO_SECONDS = (VALIDITY, der_seq(b"\x17\x0b2601010000Z" + VALIDITY[17:]))


def _time(tag: int, text: bytes) -> bytes:
    return bytes([tag, len(text)]) + text


def _parsed(extra: dict[str, Any], key: dict[str, Any] = EC_JWK) -> jwk.PublicJwk:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # what cryptography only warns of today, it will refuse
        return jwk.parse(json.dumps({**key, **extra}).encode())


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param(VERSION_3, b"\xa0\x03\x02\x01\x00", id="explicit-v1"),
        pytest.param(*NO_SECONDS, id="utctime-without-seconds"),
        pytest.param(VALIDITY, der_seq(_time(0x17, b"260101000000+0100") + VALIDITY[17:]), id="utctime-offset"),
        pytest.param(VALIDITY, der_seq(_time(0x18, b"20260101000000.123Z") + VALIDITY[17:]), id="fractional"),
        pytest.param(CN, _name(0x13, b"*.example.com"), id="printable-star"),
        pytest.param(CN, _name(0x13, b"a&b"), id="printable-amp"),
        pytest.param(b"\x02\x02\x30\x39", b"\x02\x01\x00", id="serial-zero"),
    ],
)
def test_a_certificate_go_reads_is_issued_to(old: bytes, new: bytes) -> None:
    assert _parsed({"x5c": [b64(patched_tbs(old, new))]}).thumbprint


def test_an_extension_with_critical_false_written_out_is_issued_to(monkeypatch: pytest.MonkeyPatch) -> None:
    certificate = builder(EC_KEY.public_key()).add_extension(
        x509.BasicConstraints(ca=False, path_length=None), critical=False
    )
    monkeypatch.setattr(certs, "EC_CERT", certificate.sign(EC_KEY, hashes.SHA256()))
    old = der_seq(der_seq(b"\x06\x03\x55\x1d\x13\x04\x02\x30\x00"))
    new = der_seq(der_seq(b"\x06\x03\x55\x1d\x13\x01\x01\x00\x04\x02\x30\x00"))
    der = certs.patched_tbs(b"\xa3" + bytes([len(old)]) + old, b"\xa3" + bytes([len(new)]) + new)
    assert _parsed({"x5c": [b64(der)]}).thumbprint


def test_such_a_certificate_holding_another_key_is_still_refused() -> None:
    other = jwcrypto_jwk.JWK.from_pyca(ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(ConfigError, match="public keys in key and x5c fields do not match"):
        _parsed({"x5c": [b64(patched_tbs(*NO_SECONDS))]}, json.loads(other.export_public()))


def test_such_a_certificates_thumbprint_is_compared_with_its_bytes() -> None:
    der = patched_tbs(*NO_SECONDS)
    right = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    assert _parsed({"x5c": [b64(der)], "x5t#S256": right}).thumbprint
    wrong = base64.urlsafe_b64encode(hashlib.sha256(der + b"x").digest()).decode().rstrip("=")
    with pytest.raises(ConfigError, match="x5c thumbprint does not match x5t#S256 value"):
        _parsed({"x5c": [b64(der)], "x5t#S256": wrong})


@pytest.mark.parametrize("url", ["https://keys.example/k#a\tb", "https://keys.example/k#\x7f", "*#\x01"])
def test_an_x5u_with_a_control_character_in_its_fragment_is_issued_to(url: str) -> None:
    assert _parsed({"x5u": url}).thumbprint


def _with_spki(spki: bytes) -> bytes:
    """EC_CERT without the seconds of its first UTCTime (so cryptography's reader refuses it and the key is read from
    the SubjectPublicKeyInfo alone) and with `spki` for its own, signed again."""
    tbs = EC_CERT.tbs_certificate_bytes
    new_tbs = der_seq(certs._body(tbs).replace(NO_SECONDS[0], NO_SECONDS[1], 1).replace(SPKI, spki, 1))
    rest = certs._body(EC_CERT.public_bytes(serialization.Encoding.DER))[len(tbs) :]
    algorithm = rest[: rest[1] + 2]
    signature = EC_KEY.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    return der_seq(new_tbs + algorithm + _bits(signature))


def _bits(body: bytes) -> bytes:
    return b"\x03" + certs.der_len(len(body) + 1) + b"\x00" + body


SPKI = certs.spki_of(EC_KEY.public_key())
EC_ALGORITHM = SPKI[2 : 2 + SPKI[3] + 2]
POINT = EC_KEY.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
P256 = b"\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07"


@pytest.mark.parametrize(
    "spki",
    [
        pytest.param(der_seq(EC_ALGORITHM + _bits(POINT[:-1])), id="ec-point-cut"),
        pytest.param(der_seq(EC_ALGORITHM + _bits(POINT[:-1] + bytes([POINT[-1] ^ 1]))), id="ec-point-off-curve"),
        pytest.param(
            der_seq(der_seq(b"\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x03\x2b\x81\x04") + _bits(POINT)),
            id="ec-unknown-curve",
        ),
        pytest.param(
            der_seq(der_seq(b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00") + _bits(b"\x30\x03\x02\x01\x00")),
            id="rsa-no-modulus",
        ),
        pytest.param(
            der_seq(der_seq(b"\x06\x08\x80\x2a\x86\x48\xce\x3d\x02\x01" + P256) + _bits(POINT)), id="oid-padded"
        ),
    ],
)
def test_read_so_a_key_go_refuses_refuses_the_certificate(spki: bytes) -> None:
    """A key of an algorithm Go's x509 reads that does not parse, or an OID not in its shortest form, is refused as Go
    refuses it: read as "nothing to compare", it was issued to with a JWK of another key (found by rev1006)."""
    other = json.loads(jwcrypto_jwk.JWK.from_pyca(ec.generate_private_key(ec.SECP256R1()).public_key()).export_public())
    with pytest.raises(ConfigError, match="failed to unmarshal x5c field: x509: "):
        _parsed({"x5c": [b64(_with_spki(spki))]}, other)
