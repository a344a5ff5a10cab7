"""`baton/jwe/v1`: a flattened JWE to an X-Wing key, HPKE base mode (docs/spec/credentials.md §2.5).

Advertised as capability 16 (CAPABILITY_CREDENTIAL_ENCRYPTION_JWE_XWING_V1). Every rule of §2.5 is
checked before minting, in the spec's order, each refusal naming the rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from connector.baton.crypto import xwing
from connector.baton.crypto.errors import ConfigError, EncryptError
from connector.baton.gostrings import (
    go_json,
    go_json_loads,
    go_json_name,
    go_raw_url_b64decode,
    go_raw_url_b64encode,
    go_trim_space,
)
from connector.baton.pb.c1.connector.v2 import resource_pb2

PROVIDER = "baton/jwe/v1"
ALG = "https://c1.ai/alg/hpke-xwing-hkdf-sha256-chacha20poly1305/v1"
MAX_KEY_ID_BYTES = 1024
MAX_HEADER_BYTES = 4096
MAX_FIELD_BYTES = 16384
MAX_PLAINTEXT_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class JweRecipient:
    """A checked JWE public key config, ready to encrypt to (`providers.Recipient` is any provider's, holding this)."""

    key_id: str
    public_key: bytes
    protected: str  # b64url of the protected header
    aad_b64: str


class _Members(list[tuple[str, object]]):
    """A JSON object as its members in document order, duplicates kept: only the JWK's own (top-level) members must
    be unique (§2.5 item 5). The SDK reads a member's value as raw JSON and looks no further into it: a value holding
    an object with a repeated key is no duplicate member, and a JWK carrying one was refused here."""


def _top_level(members: _Members) -> dict[str, object]:
    unique: dict[str, object] = {}
    for name, value in members:
        key = go_json_name(name)  # "\ud800" and "\udbff" are two names to Python, one (U+FFFD) to the SDK's reader
        if key in unique:
            raise ConfigError("jwe: public key JWK has a duplicate member")
        # A value as the SDK's reader makes it too: a `kid` of "\ud800" is the key_id U+FFFD to it, not a mismatch.
        unique[key] = go_json_name(value) if isinstance(value, str) else value
    return unique


def parse(config: resource_pb2.EncryptionConfig) -> JweRecipient:
    """Check one `baton/jwe/v1` config (rules 1-6 of §2.5); the plaintext size is checked at encryption."""
    if config.WhichOneof("config") != "jwk_public_key_config":
        raise ConfigError("jwe: public key configuration is required")
    key_id = config.key_id
    if not key_id:
        raise ConfigError("jwe: key_id is required")
    if len(key_id.encode()) > MAX_KEY_ID_BYTES:
        raise ConfigError(f"jwe: key_id must be at most {MAX_KEY_ID_BYTES} bytes")
    if go_trim_space(key_id) != key_id:
        raise ConfigError("jwe: key_id must not have leading or trailing whitespace")
    header = go_json({"alg": ALG, "kid": key_id}, escape_html=True).encode()
    if len(header) > MAX_HEADER_BYTES:
        raise ConfigError(f"jwe: protected header must be at most {MAX_HEADER_BYTES} bytes")
    cfg = config.jwk_public_key_config
    if len(cfg.pub_key) > MAX_FIELD_BYTES:
        raise ConfigError(f"jwe: public key must be at most {MAX_FIELD_BYTES} bytes")
    if len(cfg.additional_authenticated_data) > MAX_FIELD_BYTES:
        raise ConfigError(f"jwe: additional authenticated data must be at most {MAX_FIELD_BYTES} bytes")
    public_key = _public_key(cfg.pub_key, key_id)
    return JweRecipient(
        key_id, public_key, go_raw_url_b64encode(header), go_raw_url_b64encode(cfg.additional_authenticated_data)
    )


def _public_key(pub_key: bytes, key_id: str) -> bytes:
    if not pub_key:
        raise ConfigError("jwe: public key is required")
    try:
        # Go's reader: a member's value is raw JSON to the SDK, never converted (a number of any length) nor built
        # (nesting to 10,000 levels); Python's reader refused both, and a key the SDK takes.
        parsed = go_json_loads(pub_key.decode("utf-8"), object_pairs_hook=_Members)
    except (ValueError, RecursionError):  # bad UTF-8, bad JSON, trailing data
        raise ConfigError("jwe: public key must be a JSON object") from None
    if not isinstance(parsed, _Members):
        raise ConfigError("jwe: public key must be a JSON object")
    jwk = _top_level(parsed)
    if jwk.get("kty") != "AKP":
        raise ConfigError('jwe: public key kty must be "AKP"')
    if jwk.get("alg") != ALG:
        raise ConfigError(f'jwe: public key alg must be "{ALG}"')
    pub = jwk.get("pub")
    if not isinstance(pub, str) or not pub:
        raise ConfigError("jwe: public key pub is required")
    if any(name in jwk for name in ("priv", "d", "k")):
        raise ConfigError("jwe: public key must not contain private key material")
    if "kid" in jwk and jwk["kid"] != key_id:
        raise ConfigError("jwe: public key kid does not match key_id")
    if "use" in jwk and jwk["use"] != "enc":
        raise ConfigError('jwe: public key use must be "enc"')
    if "key_ops" in jwk and jwk["key_ops"] != ["encrypt"]:
        raise ConfigError('jwe: public key key_ops must be ["encrypt"]')
    raw = go_raw_url_b64decode(pub)
    if not raw or go_raw_url_b64encode(raw) != pub:
        raise ConfigError("jwe: public key pub must be canonical unpadded base64url")
    if len(raw) != xwing.PUBLIC_KEY_SIZE:
        raise ConfigError(f"jwe: public key pub must be {xwing.PUBLIC_KEY_SIZE} bytes")
    if xwing.is_low_order_x25519(raw[xwing.MLKEM_PUBLIC_SIZE :]):
        raise ConfigError("jwe: public key has a low-order X25519 component")
    try:
        xwing.check_public_key(raw)
    except ValueError:
        raise ConfigError("jwe: public key is not a valid ML-KEM-768 key") from None
    return raw


def encrypt(recipient: JweRecipient, plaintext: bytes) -> bytes:
    """The `encrypted_bytes`: the flattened JWE as compact UTF-8 JSON (members in the spec's order)."""
    if len(plaintext) > MAX_PLAINTEXT_BYTES:
        raise EncryptError(f"jwe: plaintext must be at most {MAX_PLAINTEXT_BYTES} bytes")
    aad = f"{recipient.protected}.{recipient.aad_b64}".encode("ascii")
    try:
        enc, ciphertext = xwing.seal(recipient.public_key, b"", aad, plaintext)
    except Exception:  # OpenSSL errors may say anything; only the provider's name leaves this function
        sealed = False
    else:
        sealed = True
    if not sealed:
        raise EncryptError("jwe: X-Wing encryption failed")  # outside the handler: no context kept (errors.py)
    envelope = {
        "protected": recipient.protected,
        "encrypted_key": go_raw_url_b64encode(enc),
        "aad": recipient.aad_b64,
        "iv": "",
        "ciphertext": go_raw_url_b64encode(ciphertext),
        "tag": "",
    }
    return json.dumps(envelope, separators=(",", ":")).encode()
