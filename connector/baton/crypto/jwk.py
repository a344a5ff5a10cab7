"""`baton/jwk/v1`: encrypt to a public JWK (docs/spec/credentials.md §2.2).

Ed25519 and RSA keys get an age file to the key's SSH form (pyrage), EC keys a compact JWE with
ECDH-ES + A256GCM (jwcrypto); either is then std-base64 encoded. The JWK is parsed here with go-jose's
rules and messages (the SDK parses it with go-jose), and two things go-jose lets through until after the
mint are refused up front: RSA keys under 2048 bits and Ed25519 values that are not curve points. RSA keys over
4096 bits, which age cannot encrypt to here, are refused naming that limit.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from connector.baton.crypto import age
from connector.baton.crypto.errors import ConfigError, EncryptError
from connector.baton.crypto.gojose import (
    JwkError,
    bytes_member,
    check_certificates,
    read_members,
    text_member,
    thumbprint,
    unmarshal_error,
)
from connector.baton.gostrings import go_raw_url_b64encode

PROVIDER = "baton/jwk/v1"
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 4096
"""The largest RSA modulus the age library (pyrage's `rsa` crate) encrypts to; Go's age takes larger ones."""
MAX_PUB_KEY_BYTES = 16384
"""The largest `pub_key` read. The spec sets none for `baton/jwk/v1` and 16 KiB for `baton/jwe/v1`'s (§2.5 item 4); a
public JWK is under 2 KB (an RSA-4096 one about 800 bytes). Python's JSON reader builds every member before a check
can look at one: a 30 MB key of `{}` members took 800 MB and seconds of the event loop, Go's reader skips them."""
_CURVES: dict[str, tuple[int, ec.EllipticCurve]] = {
    "P-256": (32, ec.SECP256R1()),
    "P-384": (48, ec.SECP384R1()),
    "P-521": (66, ec.SECP521R1()),
}


@dataclass(frozen=True, slots=True)
class PublicJwk:
    """A validated recipient: its RFC 7638 thumbprint and how to encrypt to it."""

    kty: str  # "OKP" (Ed25519), "RSA" or "EC"
    thumbprint: str  # lowercase hex SHA-256
    ssh_line: str = ""  # OKP and RSA: the OpenSSH public key line age encrypts to
    ec_jwk: tuple[tuple[str, str], ...] = ()  # EC: the public members for jwcrypto


def _ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _mpint(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 8) // 8, "big") if value else b""
    return _ssh_string(body)


def _minimal(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def parse(pub_key: bytes) -> PublicJwk:
    """Parse and check a public JWK; ConfigError with go-jose's wording when it is not usable."""
    if len(pub_key) > MAX_PUB_KEY_BYTES:
        # Before decoding or parsing anything: see MAX_PUB_KEY_BYTES.
        raise ConfigError(f"jwk: public key must be at most {MAX_PUB_KEY_BYTES} bytes")
    raw = read_members(pub_key)
    # go-jose's order: the certificate chain, the key (its private half too, when it has one), the chain's leaf against
    # the key, then the certificate thumbprints. A JWK go-jose refuses is refused by the SDK before the mint (§2.1).
    chain = certificate_chain(raw.get("x5c"))
    leaf = chain[0][1] if chain else None
    if leaf is not None and raw.get("kty") == "oct":
        raise _unmarshal_error("go-jose/go-jose: invalid JWK, found 'oct' (symmetric) key with cert chain")
    key = _key(raw)
    # go-jose refuses a JWK naming a second key or a digest of another size: here such a key was issued to.
    check_certificates(raw, chain[0][0] if chain else None, leaf, key.thumbprint)
    return key


def _unmarshal_error(message: str, reason: str = "go-jose refuses the key") -> JwkError:
    return unmarshal_error(message, reason)


_NO_CHAIN = "the JWK x5c is not a certificate chain go-jose reads"
_STD_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _key(raw: dict[str, object]) -> PublicJwk:
    kty = text_member(raw, "kty")
    crv = text_member(raw, "crv")
    if kty == "OKP":
        return _okp(crv, bytes_member(raw, "x"))
    if kty == "EC":
        return _ec(crv, bytes_member(raw, "x"), bytes_member(raw, "y"), bytes_member(raw, "d"))
    if kty == "RSA":
        private = {name: bytes_member(raw, name) for name in ("d", "p", "q", "dp", "dq", "qi")}
        return _rsa(bytes_member(raw, "n"), bytes_member(raw, "e"), private)
    if kty == "oct":
        # go-jose parses symmetric keys; the provider then refuses them with a plain (non-status) error.
        raise ConfigError("jwk: unsupported key type", status=False)
    raise _unmarshal_error(f"go-jose/go-jose: unknown json web key type '{kty}'")


def certificate_chain(value: object) -> list[tuple[bytes, str | None]]:
    """`x5c` as go-jose reads it: each item std base64 (padded) of a DER X.509 certificate that Go's x509 parses: its
    DER, with the RFC 7638 thumbprint of its key (`_go_certificate_key`).

    cryptography's certificate reader holds DER stricter than Go's x509 does (a `critical` FALSE written out, `*` or
    `&` in a PrintableString, a UTCTime without seconds or with an offset, fractional seconds, an explicit v1, an
    unsorted SET in a name): Go reads those, and refusing them blocked an issuance the SDK makes. What it refuses is
    then read as Go reads the key, from the SubjectPublicKeyInfo alone; a key not read so is not compared (as before
    certificates were read at all). Refused here: bytes that are no certificate's structure, and what Go's x509 is
    known to refuse (`_go_x509_fields`, `_go_certificate_key`)."""
    chain: list[tuple[bytes, str | None]] = []
    for item in value if isinstance(value, list) else []:
        body = str(item).replace("\r", "").replace("\n", "")
        if not _STD_BASE64.fullmatch(body) or len(body) % 4:
            raise _unmarshal_error("go-jose/go-jose: failed to unmarshal x5c field: illegal base64 data", _NO_CHAIN)
        der = base64.b64decode(body)
        fields = _tbs_fields(der)
        try:
            if fields is None:
                raise _GoX509Error("malformed certificate")
            _go_x509_fields(der, fields)
            try:
                certificate = x509.load_der_x509_certificate(der)
            except Exception:  # InvalidVersion is no ValueError; any refusal here is read leniently
                chain.append((der, _lenient_certificate_key(der, fields)))
                continue
            algorithm = certificate.public_key_algorithm_oid.dotted_string
            chain.append((der, _go_certificate_key(algorithm, certificate.public_key, der, fields)))
        except _GoX509Error as exc:
            raise _unmarshal_error(f"go-jose/go-jose: failed to unmarshal x5c field: x509: {exc}", _NO_CHAIN) from None
        except Exception:
            raise _unmarshal_error(
                "go-jose/go-jose: failed to unmarshal x5c field: x509: malformed certificate", _NO_CHAIN
            ) from None
    return chain


def _lenient_certificate_key(der: bytes, fields: list[tuple[int, int, int]]) -> str | None:
    """The thumbprint of a certificate's key read from its SubjectPublicKeyInfo alone (`certificate_chain`), as Go
    reads it: None (nothing compared) for an algorithm Go's x509 does not read; a key of one it reads that does not
    parse refuses the certificate, as Go's x509 refuses it (a point off its curve, an RSA key of no modulus)."""
    spki = 6 if fields[0][0] == 0xA0 else 5
    if len(fields) <= spki:
        raise _GoX509Error("malformed certificate")
    start, end = fields[spki - 1][2], fields[spki][2]  # the TBS fields are contiguous: SPKI starts where one ends
    try:
        _, content, _ = _der_element(der, start)
        _, oid_at, _ = _der_element(der, content)  # AlgorithmIdentifier
        tag, oid_start, oid_end = _der_element(der, oid_at)
        if tag != 0x06:
            raise ValueError("OID")
        algorithm = _dotted_oid(der[oid_start:oid_end])
    except (IndexError, ValueError):
        raise _GoX509Error("malformed certificate") from None
    if algorithm not in _GO_X509_KEYS:
        return None
    spki_der = der[start:end]
    try:
        return _go_certificate_key(algorithm, lambda: serialization.load_der_public_key(spki_der), der, fields)
    except _GoX509Error:
        raise
    except Exception:  # the key of an algorithm Go reads, which no reader takes
        raise _GoX509Error("malformed certificate") from None


def _dotted_oid(body: bytes) -> str:
    """An OBJECT IDENTIFIER's content as its dotted text; ValueError when it is none, or an arc is not in its shortest
    form (a leading 0x80: Go's and cryptography's readers refuse it, "x509: malformed OID")."""
    if not body or body[-1] & 0x80:
        raise ValueError("OID")
    arcs, value, first_byte = [], 0, True
    for byte in body:
        if first_byte and byte == 0x80:
            raise ValueError("OID")
        value = value << 7 | byte & 0x7F
        first_byte = not byte & 0x80
        if first_byte:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in (first, arcs[0] - 40 * first, *arcs[1:]))


class _GoX509Error(Exception):
    """A refusal of Go's x509 that has its own words (the text after "x509: ")."""


def _der_element(der: bytes, at: int) -> tuple[int, int, int]:
    """The DER element at `at`: its tag, where its content starts and where it ends (IndexError or ValueError when
    the bytes are not one)."""
    tag, length = der[at], der[at + 1]
    at += 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("DER length")
        length = int.from_bytes(der[at : at + count], "big")
        at += count
    if at + length > len(der):
        raise ValueError("DER length")
    return tag, at, at + length


def _tbs_fields(der: bytes) -> list[tuple[int, int, int]] | None:
    """The elements of a certificate's TBSCertificate (version, serial number, ... subject public key info), or None
    when the bytes are no such structure (the certificate parser then refuses them)."""
    try:
        _, start, _ = _der_element(der, 0)
        _, at, end = _der_element(der, start)
        fields = []
        while at < end:
            fields.append(_der_element(der, at))
            at = fields[-1][2]
    except (IndexError, ValueError):
        return None
    return fields


def _go_x509_fields(der: bytes, fields: list[tuple[int, int, int]]) -> None:
    """What Go's x509 refuses in a certificate cryptography reads: a version below v1 or above v3 (cryptography's own
    refusal of it escaped as a traceback) and a negative serial number (Go 1.23 and later; cryptography only warns)."""
    if fields and fields[0][0] == 0xA0:  # [0] EXPLICIT version
        _, start, end = _der_element(der, fields[0][1])
        version = int.from_bytes(der[start:end], "big", signed=True)
        if version < 0:
            raise _GoX509Error("malformed version")
        if version > 2:
            raise _GoX509Error("invalid version")
        fields = fields[1:]
    if fields and fields[0][0] == 0x02 and fields[0][2] > fields[0][1] and der[fields[0][1]] & 0x80:
        raise _GoX509Error("negative serial number")


def _point_form(der: bytes, fields: list[tuple[int, int, int]] | None) -> int | None:
    """The first byte of the key in a certificate's SubjectPublicKeyInfo (for an EC key, the form of its point)."""
    spki = 6 if fields and fields[0][0] == 0xA0 else 5
    if fields is None or len(fields) <= spki:
        return None
    try:
        at = fields[spki][1]
        at = _der_element(der, at)[2]  # past the AlgorithmIdentifier
        tag, start, stop = _der_element(der, at)
    except (IndexError, ValueError):
        return None
    return der[start + 1] if tag == 0x03 and stop - start > 1 else None


_DSA = "1.2.840.10040.4.1"
_GO_X509_KEYS = frozenset(
    {
        "1.2.840.113549.1.1.1",  # rsaEncryption
        _DSA,
        "1.2.840.10045.2.1",  # id-ecPublicKey
        "1.3.101.112",  # Ed25519
    }
)
"""The public-key algorithms Go's x509 reads in a certificate. For any other (X25519, X448, Ed448, DH, RSA-PSS...) it
sets no key, and go-jose then compares nothing with the JWK's key: the algorithm decides, not the key Python reads."""
_GO_X509_CURVES = frozenset({"secp224r1", "secp256r1", "secp384r1", "secp521r1"})


def _go_certificate_key(
    algorithm: str, read_key: Callable[[], object], der: bytes, fields: list[tuple[int, int, int]] | None
) -> str | None:
    """The RFC 7638 thumbprint of a certificate's key as Go's x509 reads it, as `PublicKey.thumbprint`: None for an
    algorithm Go does not read (no key, nothing compared), "" for a key of a kind no JWK here can be (DSA, P-224).
    A key of an algorithm Go reads must parse as Go parses it, else the certificate is refused."""
    if algorithm not in _GO_X509_KEYS:
        return None
    if algorithm == _DSA:  # read by Go, so compared, and equal to no JWK (cryptography warns when it reads one)
        return ""
    public = read_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        x = go_raw_url_b64encode(public.public_bytes_raw())
        return thumbprint({"crv": "Ed25519", "kty": "OKP", "x": x})
    if isinstance(public, ec.EllipticCurvePublicKey):
        if public.curve.name not in _GO_X509_CURVES:
            raise _GoX509Error("unsupported elliptic curve")
        # Go reads only the uncompressed form of the point (0x04 || X || Y); cryptography also takes compressed ones.
        if _point_form(der, fields) != 0x04:
            raise _GoX509Error("failed to unmarshal elliptic curve point")
        crv = next((name for name, (_, curve) in _CURVES.items() if curve.name == public.curve.name), None)
        if crv is None:
            return ""
        size, numbers = _CURVES[crv][0], public.public_numbers()
        x, y = (go_raw_url_b64encode(v.to_bytes(size, "big")) for v in (numbers.x, numbers.y))
        return thumbprint({"crv": crv, "kty": "EC", "x": x, "y": y})
    if isinstance(public, rsa.RSAPublicKey):
        n, e = public.public_numbers().n, public.public_numbers().e
        return thumbprint(
            {"e": go_raw_url_b64encode(_minimal(e)), "kty": "RSA", "n": go_raw_url_b64encode(_minimal(n))}
        )
    return ""


def _okp(crv: str, x: bytes | None) -> PublicJwk:
    if crv != "Ed25519" or x is None:
        raise _unmarshal_error("go-jose/go-jose: unsupported key type/format")
    wire = _ssh_string(b"ssh-ed25519") + _ssh_string(x)
    line = "ssh-ed25519 " + base64.b64encode(wire).decode()
    # Go finds a bad point only when encrypting, after the mint; age refuses it here.
    if len(x) != 32 or not age.ssh_recipient_ok(line):
        raise ConfigError("jwk: Ed25519 public key is not a valid curve point")
    if age.ed25519_is_low_order(x):
        raise ConfigError("jwk: Ed25519 public key is a low-order point")
    return PublicJwk("OKP", thumbprint({"crv": "Ed25519", "kty": "OKP", "x": go_raw_url_b64encode(x)}), ssh_line=line)


def _ec(crv: str, x: bytes | None, y: bytes | None, d: bytes | None = None) -> PublicJwk:
    if crv not in _CURVES:
        raise _unmarshal_error(f"go-jose/go-jose: unsupported elliptic curve '{crv}'")
    size, curve = _CURVES[crv]
    # With a private half go-jose reads the key as a private key, which also needs `d` of the curve's size.
    half = "public" if d is None else "private"
    if x is None or y is None:
        raise _unmarshal_error("go-jose/go-jose: invalid EC key, missing x/y")
    if len(x) != size:
        raise _unmarshal_error(f"go-jose/go-jose: invalid EC {half} key, wrong length for x")
    if len(y) != size:
        raise _unmarshal_error(f"go-jose/go-jose: invalid EC {half} key, wrong length for y")
    if d is not None and len(d) != size:
        raise _unmarshal_error("go-jose/go-jose: invalid EC private key, wrong length for d")
    try:
        ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve).public_key()
    except ValueError:
        raise _unmarshal_error("go-jose/go-jose: invalid EC key, X/Y are not on declared curve") from None
    members = {"crv": crv, "kty": "EC", "x": go_raw_url_b64encode(x), "y": go_raw_url_b64encode(y)}
    return PublicJwk("EC", thumbprint(members), ec_jwk=tuple(members.items()))


def _rsa(n_bytes: bytes | None, e_bytes: bytes | None, private: dict[str, bytes | None] | None = None) -> PublicJwk:
    if not n_bytes or not e_bytes:
        raise _unmarshal_error("go-jose/go-jose: invalid RSA key, missing n/e values")
    n, e = int.from_bytes(n_bytes, "big"), int.from_bytes(e_bytes, "big")
    if private is not None and private["d"] is not None:
        _check_rsa_private(n, e, private)
    # Go accepts these and fails after the mint (spec §2.2); refusing first leaves no key behind.
    if n.bit_length() < MIN_RSA_BITS:
        raise ConfigError(f"jwk: RSA key size is too small ({n.bit_length()} bits; at least {MIN_RSA_BITS} required)")
    if n.bit_length() > MAX_RSA_BITS:
        raise ConfigError(f"jwk: RSA key size is too large ({n.bit_length()} bits; at most {MAX_RSA_BITS} supported)")
    try:
        rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError:
        raise ConfigError("jwk: invalid RSA public key") from None
    line = "ssh-rsa " + base64.b64encode(_ssh_string(b"ssh-rsa") + _mpint(e) + _mpint(n)).decode()
    if not age.ssh_recipient_ok(line):
        raise ConfigError("jwk: invalid RSA public key")
    return PublicJwk(
        "RSA",
        thumbprint({"e": go_raw_url_b64encode(_minimal(e)), "kty": "RSA", "n": go_raw_url_b64encode(_minimal(n))}),
        ssh_line=line,
    )


def _check_rsa_private(n: int, e: int, private: dict[str, bytes | None]) -> None:
    """With a private half go-jose reads an RSA key as a private key: `p` and `q` are needed, and the key must pass
    Go's `rsa.PrivateKey.Validate` as of Go 1.24 (the SDK's builds name Go 1.25, docs/spec/reference-connector.md):
    the CRT values `dp`, `dq`, `qi` are checked (computed from `d` when one of them is missing), and `d` only for its
    size (under `n`, over half its bits); a wrong `d` beside right CRT values is used by no operation and taken."""
    missing = next((name for name in ("p", "q") if private[name] is None), None)
    if missing is not None:
        raise _unmarshal_error(f"go-jose/go-jose: invalid RSA private key, missing {missing.upper()} value(s)")
    d, p, q = (int.from_bytes(private[name] or b"", "big") for name in ("d", "p", "q"))
    reason = _go_rsa_private_refusal(n, e, d, p, q, *(private[name] for name in ("dp", "dq", "qi")))
    if reason is not None:
        raise _unmarshal_error(reason)


def _go_rsa_private_refusal(
    n: int, e: int, d: int, p: int, q: int, dp_bytes: bytes | None, dq_bytes: bytes | None, qi_bytes: bytes | None
) -> str | None:
    """Go's refusal of a two-prime private key (crypto/internal/fips140/rsa: NewPrivateKey or, with all three CRT
    values, NewPrivateKeyWithPrecomputation, then checkPrivateKey), in Go's order and words; None when Go takes it."""
    if n <= 1 or p <= 1 or q <= 1:
        return "modulus must be > 1"
    if d >= n:
        return "input overflows the modulus"
    if dp_bytes is not None and dq_bytes is not None and qi_bytes is not None:
        dp, dq, qi = (int.from_bytes(v, "big") for v in (dp_bytes, dq_bytes, qi_bytes))
        if qi >= p:
            return "input overflows the modulus"
    else:
        if p - 1 <= 1 or q - 1 <= 1:
            return "modulus must be > 1"
        if p % 2 == 0:
            return "crypto/rsa: p is even"
        dp, dq, qi = d % (p - 1), d % (q - 1), pow(q, p - 2, p)
    if n % 2 == 0:
        return "crypto/rsa: public modulus is even"
    if e < 2:
        return "crypto/rsa: public exponent too small or negative"
    if e % 2 == 0:
        return "crypto/rsa: public exponent is even"
    if e > 2**31 - 1:
        return "crypto/rsa: public exponent too large"
    if p >= n or q >= n:
        return "crypto/rsa: invalid prime"
    if (p * q) % n:
        return "crypto/rsa: p * q != n"
    for prime, exponent in ((p, dp), (q, dq)):
        if prime - 1 <= 1:
            return "crypto/rsa: invalid prime"
        if exponent >= prime - 1 or (e * exponent) % (prime - 1) != 1:
            return "crypto/rsa: invalid CRT exponent"
    if (q % p) * qi % p != 1:
        return "crypto/rsa: invalid CRT coefficient"
    if p == q:
        return "crypto/rsa: p == q"
    if abs(p - q).bit_length() <= n.bit_length() // 2 - 100:
        return "crypto/rsa: |p - q| too small"
    if d.bit_length() <= n.bit_length() // 2:
        return "crypto/rsa: d too small"
    return None


def encrypt(key: PublicJwk, plaintext: bytes) -> bytes:
    """The `encrypted_bytes` of one plaintext: std base64 of the age file or of the compact JWE."""
    inner: bytes | None
    try:
        if key.kty == "EC":
            inner = _compact_jwe(dict(key.ec_jwk), plaintext)
        else:
            inner = age.encrypt_ssh(key.ssh_line, plaintext)
    except Exception:  # library errors may say anything; only the key type leaves this function
        inner = None
    if inner is None:
        raise EncryptError(f"jwk: encrypting to the {key.kty} key failed")  # outside the handler (errors.py)
    return base64.b64encode(inner)


def _compact_jwe(public_jwk: dict[str, str], plaintext: bytes) -> bytes:
    from jwcrypto import jwe
    from jwcrypto import jwk as jwcrypto_jwk

    token = jwe.JWE(plaintext, protected=json.dumps({"alg": "ECDH-ES", "enc": "A256GCM"}))
    token.add_recipient(jwcrypto_jwk.JWK(**public_jwk))
    return str(token.serialize(compact=True)).encode("ascii")
