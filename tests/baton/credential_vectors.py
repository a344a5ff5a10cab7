"""The credential vectors of tests/fixtures/credentials/ and the private-key side needed to read them.

Decryption is test-only (ConductorOne holds the private keys), so it lives here: pyrage for the age
X25519 and SSH identities, jwcrypto for EC JWE, and the X-Wing decapsulation for age PQ and
`baton/jwe/v1`, written from docs/spec/credentials.md §2.4/§2.5 on the production module's primitives.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pyrage
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf import json_format

from connector.baton.crypto import age, bech32, xwing
from connector.baton.pb.c1.connector.v2 import resource_pb2
from tests.fixtures_dir import FIXTURES_DIR

VECTORS_DIR: Path = FIXTURES_DIR / "credentials"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS_DIR / name).read_text())
    return data


def vector_files() -> list[str]:
    return [entry["file"] for entry in load("index.json")["vectors"]]


def configs_of(vector: dict[str, Any]) -> list[resource_pb2.EncryptionConfig]:
    return [json_format.ParseDict(c, resource_pb2.EncryptionConfig()) for c in vector["encryption_configs"]]


def plaintext_of(vector: dict[str, Any]) -> resource_pb2.PlaintextData:
    p = vector["plaintext"]
    return resource_pb2.PlaintextData(
        name=p["name"],
        description=p.get("description", ""),
        schema=p.get("schema", ""),
        bytes=base64.b64decode(p["bytes_b64"]),
    )


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- X-Wing private side ---------------------------------------------------------------------------------


def xwing_decapsulate(seed: bytes, enc: bytes) -> bytes:
    expanded = hashlib.shake_256(seed).digest(96)
    sk_m = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
    sk_x = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
    ct_m, ct_x = enc[:1088], enc[1088:]
    ss_m = sk_m.decapsulate(ct_m)
    ss_x = sk_x.exchange(x25519.X25519PublicKey.from_public_bytes(ct_x))
    return xwing.combine(ss_m, ss_x, ct_x, sk_x.public_key().public_bytes_raw())


def xwing_public_key(seed: bytes) -> bytes:
    expanded = hashlib.shake_256(seed).digest(96)
    pk_m = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]).public_key().public_bytes_raw()
    pk_x = x25519.X25519PrivateKey.from_private_bytes(expanded[64:]).public_key().public_bytes_raw()
    return pk_m + pk_x


def pq_seed(identity: str) -> bytes:
    hrp, seed = bech32.decode(identity)
    assert hrp == "age-secret-key-pq-", hrp
    return seed


# -- decryption per provider -------------------------------------------------------------------------------


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def age_pq_decrypt(seed: bytes, data: bytes) -> bytes:
    """Read an age file with exactly one mlkem768x25519 stanza (the only kind we write ourselves)."""
    head, sep, rest = data.partition(b"\n---")
    assert sep, "no header end"
    lines = head.split(b"\n")
    assert lines[0] + b"\n" == age.INTRO
    args = lines[1].decode().split(" ")
    assert args[:2] == ["->", age.PQ_STANZA], args[:2]
    assert len(args) == 3
    body = b"".join(lines[2:])
    mac_line, _, rest = rest.partition(b"\n")
    enc = base64.b64decode(args[2] + "=" * (-len(args[2]) % 4))
    context = xwing.key_schedule(xwing_decapsulate(seed, enc), age.PQ_INFO)
    file_key = context.open(base64.b64decode(body + b"=" * (-len(body) % 4)), b"")
    header = head + b"\n---"
    assert mac_line[:1] == b" "
    assert base64.b64decode(mac_line[1:] + b"=" * (-len(mac_line[1:]) % 4)) == age.header_mac(file_key, header)
    nonce, payload = rest[:16], rest[16:]
    return age.stream(_hkdf(file_key, nonce, b"payload"), payload, decrypt=True)


def jwe_xwing_decrypt(seed: bytes, envelope: bytes) -> tuple[bytes, dict[str, Any]]:
    """(plaintext, protected header) of a `baton/jwe/v1` flattened JWE."""
    doc = json.loads(envelope)
    assert list(doc) == ["protected", "encrypted_key", "aad", "iv", "ciphertext", "tag"]
    assert doc["iv"] == ""
    assert doc["tag"] == ""
    context = xwing.key_schedule(xwing_decapsulate(seed, b64url_decode(doc["encrypted_key"])), b"")
    aad = f"{doc['protected']}.{doc['aad']}".encode()
    return context.open(b64url_decode(doc["ciphertext"]), aad), json.loads(b64url_decode(doc["protected"]))


def decrypt(provider: str, encrypted: bytes, private_key: dict[str, Any]) -> bytes:
    """Undo the provider's encoding (spec §1) and decrypt with the vector-format private key."""
    fmt = private_key["format"]
    if provider == "baton/jwk/v1":
        inner = base64.b64decode(encrypted, validate=True)
        if private_key["jwk"]["kty"] == "EC":
            from jwcrypto import jwe, jwk

            token = jwe.JWE()
            token.deserialize(inner.decode("ascii"), key=jwk.JWK(**private_key["jwk"]))
            header = json.loads(b64url_decode(inner.decode().split(".")[0]))
            assert (header["alg"], header["enc"]) == ("ECDH-ES", "A256GCM")
            return bytes(token.payload)
        identity = pyrage.ssh.Identity.from_buffer(private_key["openssh_private_key"].encode())
        return pyrage.decrypt(inner, [identity])
    if provider == "baton/age/v1":
        assert fmt == "age-identity"
        ident = private_key["age_identity"]
        if ident.startswith("AGE-SECRET-KEY-PQ-"):
            return age_pq_decrypt(pq_seed(ident), encrypted)
        return pyrage.decrypt(encrypted, [pyrage.x25519.Identity.from_str(ident)])
    assert provider == "baton/jwe/v1"
    assert fmt == "xwing-seed"
    plaintext, header = jwe_xwing_decrypt(b64url_decode(private_key["seed_b64url"]), encrypted)
    assert header["alg"] == "https://c1.ai/alg/hpke-xwing-hkdf-sha256-chacha20poly1305/v1"
    return plaintext
