"""Every byte of a `pub_key` is ConductorOne's to choose (docs/spec/credentials.md §2): whatever the JWK parsers are
given, they take it or refuse it with a ConfigError, never let another exception out (an internal error with a
traceback, as cryptography's InvalidVersion did). Good keys with bytes changed, cut or added; modest counts."""

from __future__ import annotations

import base64
import contextlib
import json

from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwcrypto import jwk as jwcrypto_jwk

from connector.baton.crypto import jwe, jwk
from connector.baton.crypto.errors import ConfigError
from tests.independent.credentials.keys import JWE_VECTOR, parsed
from tests.independent.credentials4.certs import EC_CERT, EC_JWK, b64

RSA_FULL = json.loads(jwcrypto_jwk.JWK.from_pyca(rsa.generate_private_key(65537, 2048)).export_private())
JWK_SEEDS = [
    json.dumps({**EC_JWK, "x5c": [b64(EC_CERT)], "x5u": "https://keys.example/c1.pem", "x5t#S256": "A" * 43}).encode(),
    json.dumps({**RSA_FULL, "x5u": "https://[fe80::1%25en0]:8443/c1.pem?q#f"}).encode(),
]
JWE_CONFIG = JWE_VECTOR["encryption_configs"][0]
JWE_SEED = base64.b64decode(JWE_CONFIG["jwk_public_key_config"]["pub_key"])


def _mutated(data: st.DataObject, seed: bytes) -> bytes:
    raw = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(raw)))
        raw[at:at] = data.draw(st.binary(max_size=8))
    return bytes(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_jwk_of_any_bytes_is_taken_or_refused(data: st.DataObject) -> None:
    raw = _mutated(data, data.draw(st.sampled_from(JWK_SEEDS)))
    with contextlib.suppress(ConfigError):  # taken or refused, nothing else
        jwk.parse(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_jwe_public_key_of_any_bytes_is_taken_or_refused(data: st.DataObject) -> None:
    config = {**JWE_CONFIG, "jwk_public_key_config": {"pub_key": base64.b64encode(_mutated(data, JWE_SEED)).decode()}}
    with contextlib.suppress(ConfigError):
        jwe.parse(parsed(config))
