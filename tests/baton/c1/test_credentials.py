"""Client id / client secret parsing (docs/spec/service-mode.md §1.1) and host derivation (§1.2)."""

from __future__ import annotations

import base64
import json
import pickle
import traceback
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connector.baton.c1.credentials import (
    CredentialError,
    parse_client_id,
    parse_client_secret,
    resolve_endpoints,
)
from tests.baton.c1.conftest import LeakGuard
from tests.fakes.c1 import generate_client_credentials, make_client_secret

PREFIX = "secret-token:conductorone.com:v1:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw(key: Ed25519PrivateKey) -> tuple[str, str]:
    d = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    x = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _b64(d), _b64(x)


def _secret_from_jwk(jwk: Any) -> str:
    return PREFIX + _b64(json.dumps(jwk).encode())


def _assert_no_leak(exc: BaseException, *canaries: str) -> None:
    rendered = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)
    for canary in canaries:
        if canary:
            assert canary not in rendered


# ---- client id ----------------------------------------------------------------------------------------------


def test_client_id_splits_at_first_at_then_first_slash() -> None:
    parsed = parse_client_id("2aBcD@acme.conductor.one/pcc/extra")
    assert (parsed.client_name, parsed.token_host, parsed.suffix) == ("2aBcD", "acme.conductor.one", "pcc/extra")
    assert parsed.value == "2aBcD@acme.conductor.one/pcc/extra"
    assert parsed.audience == "acme.conductor.one"


def test_client_id_host_may_carry_a_port_which_aud_drops() -> None:
    parsed = parse_client_id("  name@acme.conductor.one:8443/pcc\n")
    assert parsed.token_host == "acme.conductor.one:8443"
    assert parsed.audience == "acme.conductor.one"
    assert parsed.value == "name@acme.conductor.one:8443/pcc"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "just-a-name",
        "name@acme.conductor.one",  # no "/"
        "name/acme.conductor.one",  # no "@"
        "@acme.conductor.one/pcc",  # empty client name
        "name@/pcc",  # empty host
        "name@acme conductor.one/pcc",
        "name@acme.conductor.one:https/pcc",
        "name@acme.conductor.one:0/pcc",
        "name@acme.conductor.one:70000/pcc",
        "a@b@acme.conductor.one/pcc",  # the host would carry userinfo into the token URL
        "name@::1/pcc",
    ],
)
def test_malformed_client_id_names_the_setting(value: str) -> None:
    with pytest.raises(CredentialError) as caught:
        parse_client_id(value)
    assert caught.value.setting == "client-id"
    assert str(caught.value).startswith("client-id: invalid client id")


def test_a_secret_pasted_as_client_id_is_not_echoed(leak_guard: LeakGuard) -> None:
    secret = generate_client_credentials("acme.conductor.one").client_secret
    leak_guard.add(secret)
    with pytest.raises(CredentialError) as caught:
        parse_client_id(secret)
    _assert_no_leak(caught.value, secret, secret.removeprefix(PREFIX)[:16])


# ---- client secret ------------------------------------------------------------------------------------------


def test_generated_secret_parses_to_its_key() -> None:
    credentials = generate_client_credentials("acme.conductor.one")
    parsed = parse_client_secret(credentials.client_secret + "\n")
    public = parsed.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert public == credentials.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert parsed.kid is None


def test_kid_is_kept() -> None:
    parsed = parse_client_secret(make_client_secret(Ed25519PrivateKey.generate(), kid="key-1"))
    assert parsed.kid == "key-1"


def test_only_the_version_part_is_checked() -> None:
    # Go checks part 3 only; parts 1 and 2 may be anything.
    secret = make_client_secret(Ed25519PrivateKey.generate()).replace("secret-token:conductorone.com", "x:y", 1)
    assert parse_client_secret(secret).kid is None


def test_secret_repr_hides_the_key(leak_guard: LeakGuard) -> None:
    key = Ed25519PrivateKey.generate()
    secret_text = make_client_secret(key, kid="kid-7")
    d, _ = _raw(key)
    leak_guard.add(secret_text, d)
    parsed = parse_client_secret(secret_text)
    for rendered in (repr(parsed), str(parsed), f"{parsed!r}"):
        assert d not in rendered
        assert secret_text.removeprefix(PREFIX) not in rendered
        assert "redacted" in rendered
        assert "kid-7" in rendered
    with pytest.raises(TypeError):
        pickle.dumps(parsed)


def _malformed_secrets() -> list[tuple[str, str]]:
    key = Ed25519PrivateKey.generate()
    d, x = _raw(key)
    _, other_x = _raw(Ed25519PrivateKey.generate())
    good_jwk = {"kty": "OKP", "crv": "Ed25519", "x": x, "d": d}
    good_json = json.dumps(good_jwk).encode()
    # Pad the JSON so its base64 needs padding, then send it padded (Go's RawURLEncoding rejects that).
    padded_json = good_json if len(good_json) % 3 else good_json[:-1] + b" }"
    padded = base64.urlsafe_b64encode(padded_json).decode()
    assert padded.endswith("=")
    return [
        ("three parts", "secret-token:conductorone.com:" + _b64(good_json)),
        ("wrong version", "secret-token:conductorone.com:v2:" + _b64(good_json)),
        ("padded base64url", PREFIX + padded),
        ("not base64", PREFIX + "not base64!" + d),
        ("not JSON", PREFIX + _b64(b"{not json " + d.encode())),
        ("JSON array", _secret_from_jwk([good_jwk])),
        ("EC key", _secret_from_jwk({**good_jwk, "kty": "EC", "crv": "P-256"})),
        ("X25519 key", _secret_from_jwk({**good_jwk, "crv": "X25519"})),
        ("public only", _secret_from_jwk({k: v for k, v in good_jwk.items() if k != "d"})),
        ("no x", _secret_from_jwk({k: v for k, v in good_jwk.items() if k != "x"})),
        ("short d", _secret_from_jwk({**good_jwk, "d": d[:20]})),
        # Trailing '=' is go-jose's to trim (tests/independent/svcspec/test_secret_jwk_members.py); one inside is not.
        ("'=' inside d", _secret_from_jwk({**good_jwk, "d": d[:20] + "=" + d[20:]})),
        ("x of another key", _secret_from_jwk({**good_jwk, "x": other_x})),
        ("numeric kid", _secret_from_jwk({**good_jwk, "kid": 7})),
        ("JSON nested too deeply", PREFIX + _b64(b"[" * 100_000)),  # json.loads raises RecursionError
        ("empty", ""),
    ]


@pytest.mark.parametrize(("case", "value"), [pytest.param(c, v, id=c) for c, v in _malformed_secrets()])
def test_malformed_secret_names_the_setting_and_never_echoes_it(case: str, value: str, leak_guard: LeakGuard) -> None:
    leak_guard.add(value)
    with pytest.raises(CredentialError) as caught:
        parse_client_secret(value)
    assert caught.value.setting == "client-secret", case
    assert str(caught.value).startswith("client-secret: invalid client secret"), case
    key_part = value.split(":", 3)[-1]
    canaries = [value] + ([key_part[:12], key_part[-12:]] if len(key_part) >= 12 else [])
    _assert_no_leak(caught.value, *canaries)
    # The JSON error must not ride along as context: it holds the decoded document.
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ or caught.value.__context__ is None


def test_standard_base64_alphabet_is_rejected() -> None:
    # A run of "~" (0x7E) always encodes to "-" at some alignment, so the key part has a url-safe character.
    key_part = make_client_secret(Ed25519PrivateKey.generate(), kid="~" * 9).removeprefix(PREFIX)
    assert "-" in key_part
    std = PREFIX + key_part.replace("-", "+").replace("_", "/")
    with pytest.raises(CredentialError, match="base64url"):
        parse_client_secret(std)


@pytest.mark.parametrize("brk", ["\n", "\r", "\r\n"], ids=["LF", "CR", "CRLF"])
def test_a_line_break_inside_the_key_part_is_skipped_as_go_skips_it(brk: str) -> None:
    """The SDK reads the key part with Go's base64.RawURLEncoding, which skips CR and LF anywhere (a secret folded across
    lines, a Secret written from a wrapped paste): Go takes it, so does this daemon (it refused it, and a secret the
    Go connector runs with did not start here). A break is no base64 character: the key read is the same."""
    key = Ed25519PrivateKey.generate()
    secret = make_client_secret(key)
    parsed = parse_client_secret(secret[:-4] + brk + secret[-4:])
    assert parsed.private_key.private_bytes_raw() == key.private_bytes_raw()


def test_any_other_whitespace_inside_the_key_part_is_still_refused() -> None:
    # Go's decoder skips CR and LF only: a space or a tab is "illegal base64 data".
    secret = make_client_secret(Ed25519PrivateKey.generate())
    for blank in (" ", "\t"):
        with pytest.raises(CredentialError, match="base64url"):
            parse_client_secret(secret[:-4] + blank + secret[-4:])


# ---- endpoints ------------------------------------------------------------------------------------------------


def test_endpoints_from_the_client_id() -> None:
    endpoints = resolve_endpoints(parse_client_id("n@acme.conductor.one/pcc"))
    assert endpoints.token_url == "https://acme.conductor.one/auth/v1/token"
    assert endpoints.grpc_target == "dns:///acme.conductor.one:443"
    assert endpoints.audience == "acme.conductor.one"


def test_endpoints_keep_the_client_id_port() -> None:
    endpoints = resolve_endpoints(parse_client_id("n@acme.conductor.one:8443/pcc"))
    assert endpoints.token_url == "https://acme.conductor.one:8443/auth/v1/token"
    assert endpoints.grpc_target == "dns:///acme.conductor.one:8443"
    assert endpoints.audience == "acme.conductor.one"


@pytest.mark.parametrize(
    ("api_host", "token_url", "target"),
    [
        ("127.0.0.1:9443", "https://127.0.0.1:9443/auth/v1/token", "dns:///127.0.0.1:9443"),
        ("c1.internal", "https://c1.internal/auth/v1/token", "dns:///c1.internal:443"),
        ("[::1]:9443", "https://[::1]:9443/auth/v1/token", "dns:///[::1]:9443"),
    ],
)
def test_api_host_replaces_both_hosts_but_not_aud(api_host: str, token_url: str, target: str) -> None:
    endpoints = resolve_endpoints(parse_client_id("n@acme.conductor.one:8443/pcc"), api_host)
    assert (endpoints.token_url, endpoints.grpc_target) == (token_url, target)
    assert endpoints.audience == "acme.conductor.one"


def test_empty_api_host_means_unset() -> None:
    endpoints = resolve_endpoints(parse_client_id("n@acme.conductor.one/pcc"), "")
    assert endpoints.token_url == "https://acme.conductor.one/auth/v1/token"


@pytest.mark.parametrize("api_host", ["https://c1.internal", "c1.internal/path", "c1.internal:port"])
def test_malformed_api_host_names_the_setting(api_host: str) -> None:
    with pytest.raises(CredentialError) as caught:
        resolve_endpoints(parse_client_id("n@acme.conductor.one/pcc"), api_host)
    assert caught.value.setting == "BATON_C1_API_HOST"


@pytest.mark.parametrize(
    ("member", "value", "said"),
    [
        ("d", 12345, "the JWK d must be a string, not a number"),
        ("d", {"k": "v"}, "the JWK d must be a string, not an object"),
        ("x", ["x"], "the JWK x must be a string, not an array"),
        ("kid", 7, "the JWK kid must be a string, not a number"),
    ],
)
def test_a_secret_member_of_the_wrong_json_type_is_named_as_such(member: str, value: object, said: str) -> None:
    """A `d` that was a number read "the JWK is not a private key (no d)", an `x` that was an array "has no public
    key": the operator looked for a missing member that was there, of another JSON type. The type is named; the value
    never is."""
    d, x = _raw(Ed25519PrivateKey.generate())
    with pytest.raises(CredentialError) as caught:
        parse_client_secret(_secret_from_jwk({"kty": "OKP", "crv": "Ed25519", "x": x, "d": d, member: value}))
    assert str(caught.value) == f"client-secret: invalid client secret: {said}"
