"""Fresh ConductorOne client credentials: an Ed25519 key pair as a client id and a client secret (§1.1).

Written independently of `connector.baton.c1` so the fake checks the production parser rather than agreeing
with it by construction.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SECRET_PREFIX = "secret-token:conductorone.com:v1:"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    client_secret: str = field(repr=False)
    public_key: Ed25519PublicKey = field(repr=False, compare=False)
    kid: str | None = None

    @property
    def private_d(self) -> str:
        """The JWK `d` (base64url): a canary a test can search logs for."""
        jwk = json.loads(b64url_decode(self.client_secret.removeprefix(SECRET_PREFIX)))
        d: str = jwk["d"]
        return d


def make_client_secret(private_key: Ed25519PrivateKey, *, kid: str | None = None) -> str:
    raw_private = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    raw_public = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk: dict[str, str] = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw_public), "d": b64url(raw_private)}
    if kid is not None:
        jwk["kid"] = kid
    return SECRET_PREFIX + b64url(json.dumps(jwk).encode())


def generate_client_credentials(
    token_host: str, *, client_name: str | None = None, suffix: str = "pcc", kid: str | None = None
) -> ClientCredentials:
    """`<name>@<token_host>/<suffix>` plus a matching secret. `token_host` may carry `:port`."""
    private_key = Ed25519PrivateKey.generate()
    name = client_name or secrets.token_hex(12)
    return ClientCredentials(
        client_id=f"{name}@{token_host}/{suffix}",
        client_secret=make_client_secret(private_key, kid=kid),
        public_key=private_key.public_key(),
        kid=kid,
    )
