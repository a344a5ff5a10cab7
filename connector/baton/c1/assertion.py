"""The EdDSA client assertion (RFC 7523 private_key_jwt) of docs/spec/service-mode.md §1.4, as a compact JWS.

Written by hand rather than with a JWT library: it is one fixed header shape, one fixed claim set and one
signature, and the exact bytes matter (no `typ`, `aud` as a string, integer times, no `jti`).
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Final

from connector.baton.c1.credentials import ClientId, ClientSecret
from connector.baton.gostrings import go_raw_url_b64encode

ASSERTION_LIFETIME: Final = 120
"""Seconds either side of `iat` for `nbf` and `exp`."""
NONCE_BYTES: Final = 16


def make_client_assertion(
    client_id: ClientId,
    secret: ClientSecret,
    *,
    now: float | None = None,
) -> str:
    """Sign a fresh assertion: header `{alg, kid?, nonce}`, claims `{iss, sub, aud, iat, nbf, exp}`.

    `now` (epoch seconds) exists for tests; leave it unset otherwise so every assertion gets the current time. The
    nonce (32 lowercase hex) is new each time.
    """
    header: dict[str, str] = {"alg": "EdDSA"}
    if secret.kid is not None:
        header["kid"] = secret.kid
    header["nonce"] = secrets.token_hex(NONCE_BYTES)
    issued_at = int(time.time() if now is None else now)
    claims: dict[str, str | int] = {
        "iss": client_id.value,
        "sub": client_id.value,
        "aud": client_id.audience,
        "iat": issued_at,
        "nbf": issued_at - ASSERTION_LIFETIME,
        "exp": issued_at + ASSERTION_LIFETIME,
    }
    signing_input = f"{_b64url_json(header)}.{_b64url_json(claims)}"
    signature = secret.private_key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{go_raw_url_b64encode(signature)}"


def _b64url_json(value: dict[str, str] | dict[str, str | int]) -> str:
    return go_raw_url_b64encode(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
