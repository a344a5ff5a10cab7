"""`POST /auth/v1/token` of the fake: checks the request exactly as docs/spec/service-mode.md §1.3 and §1.4 describe it.

Every check that fails answers 401 `invalid_client` and records which check it was, so a test can tell a
wrong claim from a wrong signature. The checks are deliberately strict (exact key sets, `aud` a string,
`nbf`/`exp` exactly 120 s from `iat`): the real server's tolerance is unknown, the Go client's output is not.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from multidict import CIMultiDict

from tests.fakes.c1.creds import b64url_decode
from tests.fakes.c1.state import FakeState, TokenRequestRecord

TOKEN_PATH = "/auth/v1/token"
FORM_KEYS = ("client_assertion", "client_assertion_type", "client_id", "grant_type")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLAIM_KEYS = frozenset({"iss", "sub", "aud", "iat", "nbf", "exp"})
HEADER_KEYS = frozenset({"alg", "nonce", "kid"})
CLOCK_SKEW = 60
_NONCE = re.compile(r"[0-9a-f]{32}")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


class _Rejected(Exception):
    pass


TOKEN_HOLD = "token request"
"""The key of a held token request among the fake's holds (`FakeC1.hold_next_token_request`)."""
TOKEN_HOLD_LIMIT_SECONDS = 60.0


def add_token_routes(app: web.Application, state: FakeState) -> None:
    async def token(request: web.Request) -> web.Response:
        if state.outage() == "unavailable":
            return web.json_response({"error": "temporarily_unavailable"}, status=503)
        hold = state.pop_rpc_hold(TOKEN_HOLD)
        if hold is not None:
            # A token endpoint that took the request and does not answer, until the test releases it (bounded).
            await asyncio.to_thread(hold.wait, TOKEN_HOLD_LIMIT_SECONDS)
        injected = state.pop_token_answer()
        if injected is not None:
            headers = CIMultiDict([("Content-Type", injected.content_type), *injected.headers])
            return web.Response(status=injected.status, body=injected.body, headers=headers)
        record = TokenRequestRecord(
            ok=False,
            reason="",
            user_agent=request.headers.get("User-Agent", ""),
            form_keys=(),
            header=None,
            claims=None,
        )
        try:
            await _check(request, state, record)
        except _Rejected as exc:
            record.reason = str(exc)
            state.record_token_request(record)
            return web.json_response({"error": "invalid_client", "error_description": record.reason}, status=401)
        record.ok = True
        state.record_token_request(record)
        return web.json_response(
            {"access_token": state.issue_token(), "token_type": "bearer", "expires_in": state.expires_in}
        )

    app.router.add_post(TOKEN_PATH, token)


async def _check(request: web.Request, state: FakeState, record: TokenRequestRecord) -> None:
    credentials = state.credentials
    assert credentials is not None, "the fake has no client registered yet"
    if request.content_type != "application/x-www-form-urlencoded":
        raise _Rejected(f"content type {request.content_type!r}")
    if "Authorization" in request.headers:
        raise _Rejected("an Authorization header was sent")
    form = await request.post()
    record.form_keys = tuple(form.keys())
    if sorted(form.keys()) != list(FORM_KEYS):
        raise _Rejected(f"form fields {sorted(form.keys())}, expected exactly {list(FORM_KEYS)}")
    values = {key: form[key] for key in FORM_KEYS}
    if not all(isinstance(value, str) for value in values.values()):
        raise _Rejected("a form field is not text")
    if values["grant_type"] != "client_credentials":
        raise _Rejected("grant_type")
    if values["client_assertion_type"] != ASSERTION_TYPE:
        raise _Rejected("client_assertion_type")
    if values["client_id"] != credentials.client_id:
        raise _Rejected("unknown client_id")

    parts = str(values["client_assertion"]).split(".")
    if len(parts) != 3 or not all(_B64URL.fullmatch(part) for part in parts):
        raise _Rejected("the assertion is not a compact JWS of unpadded base64url parts")
    header, claims = _json_object(parts[0], "header"), _json_object(parts[1], "claims")
    record.header, record.claims = header, claims

    if not set(header) <= HEADER_KEYS:
        raise _Rejected(f"unexpected header members {sorted(set(header) - HEADER_KEYS)}")
    if header.get("alg") != "EdDSA":
        raise _Rejected("alg is not EdDSA")
    nonce = header.get("nonce")
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        raise _Rejected("nonce is not 32 lowercase hex characters")
    if header.get("kid") != credentials.kid:
        raise _Rejected("kid does not match the registered key")
    try:
        credentials.public_key.verify(b64url_decode(parts[2]), f"{parts[0]}.{parts[1]}".encode("ascii"))
    except InvalidSignature:
        raise _Rejected("bad signature") from None
    if not state.nonce_is_new(nonce):
        raise _Rejected("nonce replayed")

    if set(claims) != CLAIM_KEYS:
        raise _Rejected(f"claims {sorted(claims)}, expected exactly {sorted(CLAIM_KEYS)}")
    if claims["iss"] != credentials.client_id or claims["sub"] != credentials.client_id:
        raise _Rejected("iss and sub must both be the client id")
    if not isinstance(claims["aud"], str):
        raise _Rejected("aud must be a single string")
    if claims["aud"] != state.audience:
        raise _Rejected(f"aud {claims['aud']!r}, expected {state.audience!r}")
    times = [claims["iat"], claims["nbf"], claims["exp"]]
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in times):
        raise _Rejected("iat, nbf and exp must be integers")
    iat, nbf, exp = (int(str(value)) for value in times)
    if nbf != iat - 120 or exp != iat + 120:
        raise _Rejected("nbf and exp must be iat -/+ 120 s")
    now = time.time()
    if abs(now - iat) > CLOCK_SKEW or not nbf <= now <= exp:
        raise _Rejected("the assertion is not valid now")


def _json_object(part: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(part))
    except ValueError:
        raise _Rejected(f"the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise _Rejected(f"the {what} is not a JSON object")
    return value
