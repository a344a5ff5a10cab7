"""The client secret's JWK is read as go-jose reads it (docs/spec/service-mode.md §1.1: "a private key that go-jose
accepts"; §1.4: `kid` "present only if the JWK in the secret carried a kid").

Class guarded: a member of the secret's JWK that the Go SDK reads one way and this daemon another. go-jose decodes a
key member by trimming trailing `=` and reading the rest as RawURLEncoding (`base64URLDecode`), the same rule this
project's `baton/jwk/v1` recipient parser already follows; and go-jose's signer writes `kid` into the protected header
only when the key's KeyID is non-empty, so `"kid": ""` signs exactly as no kid at all.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connector.baton.c1.assertion import make_client_assertion
from connector.baton.c1.credentials import CredentialError, parse_client_id, parse_client_secret

PREFIX = "secret-token:conductorone.com:v1:"
CLIENT_ID = "abc@acme.conductor.one/pcc"


def _raw(key: Ed25519PrivateKey) -> tuple[bytes, bytes]:
    return key.private_bytes_raw(), key.public_key().public_bytes_raw()


def _padded(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()  # 32 bytes: 44 characters ending in one '='


def _unpadded(data: bytes) -> str:
    return _padded(data).rstrip("=")


def _secret(jwk: dict[str, object]) -> str:
    return PREFIX + _unpadded(json.dumps(jwk).encode())


def _header(assertion: str) -> dict[str, object]:
    segment = assertion.split(".")[0]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded


@pytest.mark.parametrize(
    ("d_form", "x_form"),
    [(_padded, _unpadded), (_unpadded, _padded), (_padded, _padded)],
    ids=["d-padded", "x-padded", "both-padded"],
)
def test_a_padded_key_member_reads_as_go_jose_reads_it(
    d_form: Callable[[bytes], str], x_form: Callable[[bytes], str]
) -> None:
    key = Ed25519PrivateKey.generate()
    d, x = _raw(key)
    secret = parse_client_secret(_secret({"kty": "OKP", "crv": "Ed25519", "d": d_form(d), "x": x_form(x)}))
    assert secret.private_key.private_bytes_raw() == d


def test_go_jose_trims_every_trailing_equals_sign() -> None:
    key = Ed25519PrivateKey.generate()
    d, x = _raw(key)
    secret = parse_client_secret(
        _secret({"kty": "OKP", "crv": "Ed25519", "d": _unpadded(d) + "===", "x": _unpadded(x)})
    )
    assert secret.public_key.public_bytes_raw() == x


@pytest.mark.parametrize("bad", ["=" + "A" * 43, "AAAA=AAAA" + "A" * 34, "+" * 43, "A" * 42 + "/"])
def test_padding_inside_a_member_or_the_standard_alphabet_is_still_refused(bad: str) -> None:
    # Only trailing '=' is trimmed: anything else Go's RawURLEncoding refuses stays refused.
    key = Ed25519PrivateKey.generate()
    _, x = _raw(key)
    with pytest.raises(CredentialError) as refused:
        parse_client_secret(_secret({"kty": "OKP", "crv": "Ed25519", "d": bad, "x": _unpadded(x)}))
    assert refused.value.setting == "client-secret"


def test_an_empty_kid_signs_as_no_kid() -> None:
    key = Ed25519PrivateKey.generate()
    d, x = _raw(key)
    secret = parse_client_secret(
        _secret({"kty": "OKP", "crv": "Ed25519", "d": _unpadded(d), "x": _unpadded(x), "kid": ""})
    )
    header = _header(make_client_assertion(parse_client_id(CLIENT_ID), secret))
    assert set(header) == {"alg", "nonce"}, header


def test_a_non_empty_kid_is_still_sent() -> None:
    key = Ed25519PrivateKey.generate()
    d, x = _raw(key)
    secret = parse_client_secret(
        _secret({"kty": "OKP", "crv": "Ed25519", "d": _unpadded(d), "x": _unpadded(x), "kid": "k1"})
    )
    assert _header(make_client_assertion(parse_client_id(CLIENT_ID), secret))["kid"] == "k1"


def test_a_line_break_inside_a_key_member_is_skipped_as_go_jose_skips_it() -> None:
    # go-jose's RawURLEncoding skips CR and LF inside a member (and Go's inside the key part itself, outside the JSON:
    # tests/baton/c1/test_credentials.py).
    key = Ed25519PrivateKey.generate()
    d, x = _raw(key)
    folded = _unpadded(d)[:20] + "\r\n" + _unpadded(d)[20:]
    secret = parse_client_secret(_secret({"kty": "OKP", "crv": "Ed25519", "d": folded, "x": _unpadded(x)}))
    assert secret.private_key.private_bytes_raw() == d
