"""Property-based: any client id or client secret text parses or fails with a CredentialError naming the
setting — never another exception, and never echoing the secret.
"""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.baton.c1.credentials import CredentialError, parse_client_id, parse_client_secret

PREFIX = "secret-token:conductorone.com:v1:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


jwk_values = st.one_of(st.none(), st.integers(), st.text(max_size=50), st.binary(max_size=40).map(_b64))
jwks = st.fixed_dictionaries(
    {},
    optional={
        "kty": st.sampled_from(["OKP", "EC", ""]),
        "crv": st.sampled_from(["Ed25519", "X25519"]),
        "d": jwk_values,
        "x": jwk_values,
        "kid": jwk_values,
    },
)
secrets_text = st.one_of(
    st.text(max_size=200),
    st.builds(lambda tail: PREFIX + tail, st.text(max_size=100)),
    st.builds(lambda raw: PREFIX + _b64(raw), st.binary(max_size=120)),
    st.builds(lambda jwk: PREFIX + _b64(json.dumps(jwk).encode()), jwks),
)


@pytest.mark.fuzz
@given(
    st.one_of(
        st.text(max_size=120),
        st.builds("{}@{}/{}".format, st.text(max_size=20), st.text(max_size=30), st.text(max_size=20)),
    )
)
def test_any_client_id_parses_or_names_the_setting(value: str) -> None:
    try:
        parsed = parse_client_id(value)
    except CredentialError as exc:
        error = exc
    else:
        assert parsed.client_name
        assert parsed.token_host
        assert "@" in parsed.value
        return
    assert error.setting
    assert str(error).startswith(error.setting)


@pytest.mark.fuzz
@given(secrets_text)
def test_any_client_secret_parses_or_fails_without_echoing_it(value: str) -> None:
    try:
        parse_client_secret(value)
    except CredentialError as exc:
        error = exc
    else:
        return
    assert str(error).startswith(f"{error.setting}: invalid client secret")
    key_part = value.strip().split(":", 3)[-1]
    if len(key_part) >= 8:
        assert key_part not in str(error)
    # A JSONDecodeError would carry the decoded key document along with the error.
    assert not isinstance(error.__cause__, json.JSONDecodeError)
