"""Encryption configs as a hostile ConductorOne would send them: each provider of docs/spec/credentials.md §2, well
formed and malformed, built from fresh keys (the private halves kept, to read what was encrypted)."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519
from google.protobuf import json_format

from connector.baton.crypto import bech32
from connector.baton.pb.c1.connector.v2 import resource_pb2
from tests.baton.credential_vectors import load

JWE_VECTOR = load("jwe-xwing.json")
PQ_VECTOR = load("age-pq-mlkem768x25519.json")


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwk_config(jwk: dict[str, Any] | bytes, provider: str = "baton/jwk/v1") -> dict[str, Any]:
    raw = jwk if isinstance(jwk, bytes) else json.dumps(jwk).encode()
    return {"provider": provider, "jwkPublicKeyConfig": {"pubKey": base64.b64encode(raw).decode()}}


def age_config(recipient: str, provider: str = "baton/age/v1") -> dict[str, Any]:
    return {"provider": provider, "ageRecipientConfig": {"recipient": recipient}}


def parsed(config: dict[str, Any]) -> resource_pb2.EncryptionConfig:
    return json_format.ParseDict(config, resource_pb2.EncryptionConfig())


ED25519 = ed25519.Ed25519PrivateKey.generate()
ED_X = ED25519.public_key().public_bytes_raw()
X25519 = x25519.X25519PrivateKey.generate()
X_PUB = X25519.public_key().public_bytes_raw()


def ed25519_jwk(**extra: Any) -> dict[str, Any]:
    return {"kty": "OKP", "crv": "Ed25519", "x": b64u(ED_X), **extra}


def ec_jwk(crv: str) -> dict[str, Any]:
    curve, size = {"P-256": (ec.SECP256R1(), 32), "P-384": (ec.SECP384R1(), 48), "P-521": (ec.SECP521R1(), 66)}[crv]
    numbers = ec.generate_private_key(curve).public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": crv,
        "x": b64u(numbers.x.to_bytes(size, "big")),
        "y": b64u(numbers.y.to_bytes(size, "big")),
    }


_RSA: dict[int, int] = {}


def rsa_modulus(bits: int) -> int:
    if bits not in _RSA:
        _RSA[bits] = rsa.generate_private_key(65537, bits).public_key().public_numbers().n
    return _RSA[bits]


def rsa_jwk(n: int, e: int = 65537) -> dict[str, Any]:
    return {"kty": "RSA", "n": b64u(n.to_bytes((n.bit_length() + 7) // 8, "big")), "e": b64u(e.to_bytes(3, "big"))}


def age_x25519(public: bytes = X_PUB, hrp: str = "age") -> str:
    return bech32.encode(hrp, public)


def good_configs() -> dict[str, dict[str, Any]]:
    """One usable config of every provider and key kind."""
    return {
        "jwk-ed25519": jwk_config(ed25519_jwk()),
        "jwk-rsa": jwk_config(rsa_jwk(rsa_modulus(2048))),
        "jwk-p256": jwk_config(ec_jwk("P-256")),
        "jwk-p521": jwk_config(ec_jwk("P-521")),
        "age-x25519": age_config(age_x25519()),
        "age-pq": PQ_VECTOR["encryption_configs"][0],
    }


def jwe_config(**jwk_changes: Any) -> dict[str, Any]:
    """The X-Wing vector's config with its JWK's members changed (None removes one)."""
    config: dict[str, Any] = json.loads(json.dumps(JWE_VECTOR["encryption_configs"][0]))
    arm = config["jwk_public_key_config"]
    jwk = json.loads(base64.b64decode(arm["pub_key"]))
    for name, value in jwk_changes.items():
        if value is None:
            jwk.pop(name, None)
        else:
            jwk[name] = value
    arm["pub_key"] = base64.b64encode(json.dumps(jwk).encode()).decode()
    return config


def jwe_pub() -> str:
    config = JWE_VECTOR["encryption_configs"][0]
    return str(json.loads(base64.b64decode(config["jwk_public_key_config"]["pub_key"]))["pub"])


def age_identity() -> Any:
    """The pyrage identity of `age_x25519()`'s recipient."""
    import pyrage

    scalar = X25519.private_bytes_raw()
    return pyrage.x25519.Identity.from_str(bech32.encode("age-secret-key-", scalar).upper())


def opened(encrypted: bytes) -> bytes:
    """What an `age_x25519()` config's EncryptedData holds."""
    import pyrage

    return bytes(pyrage.decrypt(encrypted, [age_identity()]))


REFUSED_AGE = age_x25519()[:-1] + ("q" if not age_x25519().endswith("q") else "p")
"""An age recipient whose checksum does not hold."""
