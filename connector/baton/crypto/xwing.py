"""X-Wing KEM and HPKE base-mode sealing (docs/spec/credentials.md §2.5), on `cryptography`'s primitives.

No PyPI package does this: pyhpke lacks KEM 0x647A, and xwing-kem keys are `sk_M‖sk_X` rather than the
32-byte seed ConductorOne uses. Used by `baton/jwe/v1` and by age's `mlkem768x25519` stanza.
Reviewed against RFC 9180 §5.1 (key schedule) and draft-connolly-cfrg-xwing (combiner); proven by the
vectors in tests/fixtures/credentials/ (jwe-xwing*, age-pq-mlkem768x25519).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

MLKEM_PUBLIC_SIZE = 1184
X25519_SIZE = 32
PUBLIC_KEY_SIZE = MLKEM_PUBLIC_SIZE + X25519_SIZE  # 1216
# The X-Wing combiner label, bytes 5c 2e 2f 2f 5e 5c.
_XWING_LABEL = b"\\.//^\\"

KEM_ID = 0x647A
KDF_ID = 0x0001  # HKDF-SHA256
AEAD_ID = 0x0003  # ChaCha20-Poly1305
_SUITE_ID = b"HPKE" + KEM_ID.to_bytes(2, "big") + KDF_ID.to_bytes(2, "big") + AEAD_ID.to_bytes(2, "big")


def is_low_order_x25519(point: bytes) -> bool:
    """True when an X25519 public value yields the all-zero shared secret (a low-order point)."""
    probe = x25519.X25519PrivateKey.from_private_bytes(b"\x01" + bytes(31))
    try:
        probe.exchange(x25519.X25519PublicKey.from_public_bytes(point))
    except ValueError:
        return True
    return False


def check_public_key(public_key: bytes) -> None:
    """Raise ValueError unless `public_key` is a usable X-Wing key (so encryption cannot fail after a mint)."""
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise ValueError("X-Wing public key must be 1216 bytes")
    mlkem.MLKEM768PublicKey.from_public_bytes(public_key[:MLKEM_PUBLIC_SIZE])
    if is_low_order_x25519(public_key[MLKEM_PUBLIC_SIZE:]):
        raise ValueError("X-Wing public key has a low-order X25519 component")


def encapsulate(public_key: bytes) -> tuple[bytes, bytes]:
    """X-Wing Encaps: (shared secret 32 bytes, enc 1120 bytes). Raises ValueError on a malformed key."""
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise ValueError("X-Wing public key must be 1216 bytes")
    pk_m, pk_x = public_key[:MLKEM_PUBLIC_SIZE], public_key[MLKEM_PUBLIC_SIZE:]
    ss_m, ct_m = mlkem.MLKEM768PublicKey.from_public_bytes(pk_m).encapsulate()
    eph = x25519.X25519PrivateKey.generate()
    ct_x = eph.public_key().public_bytes_raw()
    ss_x = eph.exchange(x25519.X25519PublicKey.from_public_bytes(pk_x))
    return combine(ss_m, ss_x, ct_x, pk_x), ct_m + ct_x


def combine(ss_m: bytes, ss_x: bytes, ct_x: bytes, pk_x: bytes) -> bytes:
    return hashlib.sha3_256(ss_m + ss_x + ct_x + pk_x + _XWING_LABEL).digest()


def _labeled_extract(salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hmac.digest(salt, b"HPKE-v1" + _SUITE_ID + label + ikm, "sha256")


def _labeled_expand(prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + _SUITE_ID + label + info
    out, block = b"", b""
    counter = 1
    while len(out) < length:
        block = hmac.digest(prk, block + labeled + bytes([counter]), "sha256")
        out += block
        counter += 1
    return out[:length]


@dataclass(frozen=True, slots=True)
class Context:
    """An HPKE base-mode context: its first Seal/Open uses `base_nonce` (sequence number 0). The key opens what it
    sealed (the credential's plaintext): kept out of the repr, as every secret is."""

    key: bytes = field(repr=False)
    base_nonce: bytes = field(repr=False)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        return ChaCha20Poly1305(self.key).encrypt(self.base_nonce, plaintext, aad)

    def open(self, ciphertext: bytes, aad: bytes) -> bytes:
        return ChaCha20Poly1305(self.key).decrypt(self.base_nonce, ciphertext, aad)


def key_schedule(shared_secret: bytes, info: bytes) -> Context:
    """RFC 9180 §5.1, mode_base (no PSK): X-Wing's shared secret is used as HPKE's directly."""
    psk_id_hash = _labeled_extract(b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash
    secret = _labeled_extract(shared_secret, b"secret", b"")
    return Context(
        key=_labeled_expand(secret, b"key", context, 32),
        base_nonce=_labeled_expand(secret, b"base_nonce", context, 12),
    )


def seal(public_key: bytes, info: bytes, aad: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
    """Single-shot HPKE base-mode Seal to an X-Wing key: (enc, ciphertext with its 16-byte tag)."""
    shared, enc = encapsulate(public_key)
    return enc, key_schedule(shared, info).seal(plaintext, aad)
