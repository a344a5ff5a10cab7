"""age v1 files (docs/spec/credentials.md §2.3, §2.4).

X25519, ssh-ed25519 and ssh-rsa recipients go through pyrage (the age reference format in Rust). pyrage
cannot write the post-quantum `mlkem768x25519` stanza, so that one file kind is assembled here: the age
header, its HMAC and the STREAM payload, reviewed against the age v1 format (C2SP age.md) and proven by
the `age-pq-mlkem768x25519` vector.
"""

from __future__ import annotations

import base64
import hmac
import os

import pyrage
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from connector.baton.crypto import bech32, xwing

INTRO = b"age-encryption.org/v1\n"
PQ_STANZA = "mlkem768x25519"
PQ_INFO = b"age-encryption.org/mlkem768x25519"
CHUNK = 64 * 1024
X25519_HRP = "age"
PQ_HRP = "age1pq"


class RecipientError(ValueError):
    """The recipient is not one age accepts here (message never quotes it)."""


def parse_recipient(recipient: str) -> tuple[str, bytes]:
    """("x25519" | "pq", public key) for an `age1…` or `age1pq1…` recipient; anything else is refused."""
    try:
        hrp, data = bech32.decode(recipient)
    except bech32.Bech32Error:
        raise RecipientError("age: invalid recipient") from None
    # age's prefixes are lower case; an all-upper string would otherwise decode.
    if recipient != recipient.lower():
        raise RecipientError("age: invalid recipient")
    if hrp == X25519_HRP and len(data) == 32:
        # A low-order point makes the age library panic (a BaseException) after the mint; refuse it here.
        if xwing.is_low_order_x25519(data):
            raise RecipientError("age: invalid recipient")
        return "x25519", data
    if hrp == PQ_HRP and len(data) == xwing.PUBLIC_KEY_SIZE:
        try:
            xwing.check_public_key(data)
        except ValueError:
            raise RecipientError("age: invalid recipient") from None
        return "pq", data
    raise RecipientError("age: invalid recipient")


class AgeLibraryError(RuntimeError):
    """pyrage failed in its Rust code (a panic); the panic's own text is not kept."""


def _encrypt(plaintext: bytes, recipient: pyrage.x25519.Recipient | pyrage.ssh.Recipient) -> bytes:
    try:
        return pyrage.encrypt(plaintext, [recipient])
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a Rust panic arrives as pyo3's PanicException, which is not an Exception
        failure = type(exc).__name__
    # Raised outside the handler, so the library's exception (whose text may quote the plaintext) is not even kept as
    # the suppressed context of this one (crypto/errors.py).
    raise AgeLibraryError(f"age: encryption failed ({failure})")


def encrypt_x25519(recipient: str, plaintext: bytes) -> bytes:
    return _encrypt(plaintext, pyrage.x25519.Recipient.from_str(recipient))


def encrypt_ssh(ssh_public_key_line: str, plaintext: bytes) -> bytes:
    """age to an OpenSSH public key line (`ssh-ed25519 …` or `ssh-rsa …`)."""
    return _encrypt(plaintext, pyrage.ssh.Recipient.from_str(ssh_public_key_line))


def ed25519_is_low_order(x: bytes) -> bool:
    """Whether an Ed25519 public key maps to a low-order X25519 point (u = (1+y)/(1-y), RFC 7748 §4.1).

    age's ssh-ed25519 stanza does X25519 with that point; Go's age refuses the all-zero shared secret, but
    pyrage writes a stanza whose wrap key anyone can derive, so such keys are refused before the mint.
    """
    p = 2**255 - 19
    y = (int.from_bytes(x, "little") & ((1 << 255) - 1)) % p
    u = (1 + y) * pow((1 - y) % p, p - 2, p) % p
    return xwing.is_low_order_x25519(u.to_bytes(32, "little"))


def ssh_recipient_ok(ssh_public_key_line: str) -> bool:
    """Whether age accepts the key (e.g. an Ed25519 value that is not a curve point is refused)."""
    try:
        pyrage.ssh.Recipient.from_str(ssh_public_key_line)
    except Exception:  # pyrage raises its own error types for every parse failure
        return False
    return True


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def _stanza(kind: str, args: list[str], body: bytes) -> bytes:
    encoded = _b64(body)
    lines = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    if not lines or len(lines[-1]) == 64:
        lines.append("")  # the body always ends with a line shorter than 64 characters
    return ("-> " + " ".join([kind, *args]) + "\n" + "".join(line + "\n" for line in lines)).encode()


def header_mac(file_key: bytes, header_up_to_dashes: bytes) -> bytes:
    return hmac.digest(_hkdf(file_key, b"", b"header"), header_up_to_dashes, "sha256")


def stream(key: bytes, data: bytes, *, decrypt: bool) -> bytes:
    """age's STREAM: 64 KiB chunks, nonce = 11-byte counter ‖ last-chunk flag. An empty input is one chunk."""
    aead = ChaCha20Poly1305(key)
    size = CHUNK + 16 if decrypt else CHUNK
    chunks = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    out = []
    for counter, chunk in enumerate(chunks):
        nonce = counter.to_bytes(11, "big") + (b"\x01" if counter == len(chunks) - 1 else b"\x00")
        out.append(aead.decrypt(nonce, chunk, None) if decrypt else aead.encrypt(nonce, chunk, None))
    return b"".join(out)


def encrypt_pq(public_key: bytes, plaintext: bytes) -> bytes:
    """age to one `age1pq1…` (ML-KEM-768 + X25519) recipient: a single `mlkem768x25519` stanza."""
    file_key = os.urandom(16)
    enc, body = xwing.seal(public_key, PQ_INFO, b"", file_key)
    header = INTRO + _stanza(PQ_STANZA, [_b64(enc)], body) + b"---"
    nonce = os.urandom(16)
    payload = stream(_hkdf(file_key, nonce, b"payload"), plaintext, decrypt=False)
    return header + b" " + _b64(header_mac(file_key, header)).encode() + b"\n" + nonce + payload
