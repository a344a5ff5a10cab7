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
from cryptography.hazmat.primitives import hashes
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
