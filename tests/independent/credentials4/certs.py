"""Certificates for `x5c` as a hostile ConductorOne would send them: well formed ones of each key algorithm, and ones
rebuilt from a good one with one TBS field changed and signed again (copied from the rev1001 review's probes)."""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jwcrypto import jwk as jwcrypto_jwk

NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "c1-recipient")])
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def builder(public: Any, serial: int = 12345) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(NAME)
        .issuer_name(NAME)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(START)
        .not_valid_after(START + datetime.timedelta(days=365))
    )


def b64(certificate: x509.Certificate | bytes) -> str:
    der = certificate if isinstance(certificate, bytes) else certificate.public_bytes(serialization.Encoding.DER)
    return base64.b64encode(der).decode()


def der_len(n: int) -> bytes:
    return bytes([n]) if n < 128 else (b"\x81" + bytes([n]) if n < 256 else b"\x82" + n.to_bytes(2, "big"))


def der_seq(body: bytes) -> bytes:
    return b"\x30" + der_len(len(body)) + body


def _body(der: bytes) -> bytes:
    return der[2:] if der[1] < 128 else der[2 + (der[1] & 0x7F) :]


EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC_CERT = builder(EC_KEY.public_key()).sign(EC_KEY, hashes.SHA256())
EC_JWK: dict[str, Any] = json.loads(jwcrypto_jwk.JWK.from_pyca(EC_KEY.public_key()).export_public())


def patched_tbs(old: bytes, new: bytes) -> bytes:
    """EC_CERT with `old` in its TBS replaced by `new`, signed again by EC_KEY."""
    tbs = EC_CERT.tbs_certificate_bytes
    assert old in tbs
    new_tbs = der_seq(_body(tbs).replace(old, new, 1))
    rest = _body(EC_CERT.public_bytes(serialization.Encoding.DER))[len(tbs) :]
    algid = rest[: rest[1] + 2]
    sig = EC_KEY.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    return der_seq(new_tbs + algid + b"\x03" + der_len(len(sig) + 1) + b"\x00" + sig)


def compressed_point_cert() -> bytes:
    spki = EC_KEY.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    point = EC_KEY.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    algid = _body(spki)[: _body(spki)[1] + 2]
    return patched_tbs(spki, der_seq(algid + b"\x03" + der_len(len(point) + 1) + b"\x00" + point))


def spki_of(public: ec.EllipticCurvePublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def rsa_pss_spki(public: rsa.RSAPublicKey) -> bytes:
    """The SubjectPublicKeyInfo of an RSA key under id-RSASSA-PSS (1.2.840.113549.1.1.10, no parameters)."""
    pkcs1 = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    algid = der_seq(b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a")
    return der_seq(algid + b"\x03" + der_len(len(pkcs1) + 1) + b"\x00" + pkcs1)


VERSION_3 = b"\xa0\x03\x02\x01\x02"
SERIAL_12345 = b"\x02\x02\x30\x39"
