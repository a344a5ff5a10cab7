"""A secret as a peer writes it back, not as it was sent: percent-encoded (a URL, a form body), HTML-escaped (a proxy's
error page), JSON-escaped as Go writes it (`\\u0026`) or as `\\/`, a hexadecimal key in the other case, wrapped across
lines (a page quoting headers at a fixed width). Each was found by none of the three cleaners (`redaction.blank_out`
and its users: the log redactor, Datadog's error text, the ConductorOne client's status details), which looked for the
secret as given, its repr and its JSON alone; a line break within a secret's first 24 characters left all of it. And
the Ed25519 private key inside the client secret (the JWK's `d`), quoted alone or as the JWK it decodes to, was found
by nothing: the client secret's base64url key part was the only spelling of it looked for."""

from __future__ import annotations

import base64
import html
import json
import random
import urllib.parse
from collections.abc import Callable, Iterator

import pytest

from connector.baton.c1.credentials import parse_client_id, parse_client_secret
from connector.baton.c1.token import TokenSource
from connector.baton.redaction import ACROSS_LINES_WINDOW, blank_out
from connector.daemon import logging as logs
from connector.datadog.errors import error_for_response
from tests.fakes.c1.creds import generate_client_credentials
from tests.independent.secrets.canaries import BASE64, ESCAPED, LONG, QUOTE_FORMAT

HEX_KEY = "0123456789abcdef0123456789abcdef"
SECRETS = {"quote-format": QUOTE_FORMAT, "base64": BASE64, "escaped": ESCAPED, "long": LONG, "hex": HEX_KEY}

ENCODINGS: dict[str, Callable[[str], str]] = {
    "percent": lambda s: urllib.parse.quote(s, safe=""),
    "form": lambda s: urllib.parse.quote_plus(s, safe=""),
    "percent-lower": lambda s: urllib.parse.quote(s, safe="").replace("%2B", "%2b").replace("%2F", "%2f"),
    "html": html.escape,
    "go-html": lambda s: html.escape(s, quote=False).replace("'", "&#39;").replace('"', "&#34;"),
    "go-json": lambda s: json.dumps(s)[1:-1].replace("&", "\\u0026").replace("<", "\\u003c"),
    "json-slash": lambda s: json.dumps(s)[1:-1].replace("/", "\\/"),
    "wrapped-early": lambda s: f"{s[:7]}\n{s[7:]}",
    "wrapped-crlf-indented": lambda s: f"{s[:13]} \r\n    {s[13:]}",
    "wrapped-twice": lambda s: f"{s[:5]}\n{s[5:18]}\n{s[18:]}",
    "upper": str.upper,
}


def _pieces(written: str) -> Iterator[str]:
    """Every 10-character run of `written` within one line: none may be left in a cleaned text."""
    for line in written.splitlines():
        line = line.strip()
        yield from (line[at : at + 10] for at in range(max(len(line) - 9, 1)))


def _assert_gone(cleaned: str, written: str) -> None:
    left = [piece for piece in _pieces(written) if len(piece) == 10 and piece in cleaned]
    assert not left, f"{left[:3]} left in {cleaned[:300]!r}"


@pytest.fixture(autouse=True)
def fresh_redactor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "_secrets", set())
    monkeypatch.setattr(logs, "_rotating", {})
    monkeypatch.setattr(logs, "_known", ())


def _cases() -> Iterator[tuple[str, str, str]]:
    for name, secret in SECRETS.items():
        for encoding, encode in ENCODINGS.items():
            written = encode(secret)
            if encoding == "upper" and secret != HEX_KEY:
                continue  # only hex is read in either case
            # One that leaves this secret as it is, or as JSON or a repr writes it, tests nothing new.
            if written not in (secret, json.dumps(secret)[1:-1], repr(secret)[1:-1]):
                yield secret, written, f"{name}-{encoding}"


CASES = list(_cases())


@pytest.mark.parametrize(("secret", "written"), [c[:2] for c in CASES], ids=[c[2] for c in CASES])
def test_the_log_redactor_finds_a_secret_as_a_peer_wrote_it(secret: str, written: str) -> None:
    logs.register_secret(secret)
    _assert_gone(logs.redact(f"upstream said: {written} (end)"), written)


@pytest.mark.parametrize(("secret", "written"), [c[:2] for c in CASES], ids=[c[2] for c in CASES])
def test_datadogs_error_text_keeps_no_encoded_key(secret: str, written: str) -> None:
    page = f"<html><body><pre>Blocked: DD-API-KEY: {written}</pre></body></html>".encode()
    error = error_for_response(403, method="GET", path="/api/v2/users", body=page, secrets=[secret])
    _assert_gone(str(error), written)


@pytest.mark.parametrize("encoding", ["percent", "go-json", "wrapped-early"])
def test_the_c1_clients_redaction_of_a_status_detail_finds_an_encoded_token(encoding: str) -> None:
    token = "tok+en/with=padding&more-0123456789"
    creds = generate_client_credentials("tenant.example.com")
    source = TokenSource(parse_client_id(creds.client_id), parse_client_secret(creds.client_secret))
    written = ENCODINGS[encoding](token)
    _assert_gone(source.redact(f"proxy echoed: {written}", carried=[token]), written)


def test_the_private_key_inside_the_client_secret_is_found_alone_and_as_its_jwk() -> None:
    secret = generate_client_credentials("tenant.example.com").client_secret
    key = secret.rpartition(":")[2]
    jwk = json.loads(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)))
    logs.register_secret(secret)
    for text in (f"d={jwk['d']}", json.dumps(jwk), repr(jwk)):
        cleaned = logs.redact(f"decoded: {text}")
        assert jwk["d"][:12] not in cleaned, cleaned
        assert jwk["d"][-12:] not in cleaned, cleaned
    assert jwk["x"] in logs.redact(json.dumps(jwk)), "the public key is no secret"


def test_a_secret_wrapped_anywhere_is_blanked_out_whole_and_nothing_around_it() -> None:
    """Wrapped at any places, by any line break and the blanks a wrap leaves: the secret and its breaks become one
    mark, and the text around it stays as it was."""
    rng = random.Random(1205)
    for _ in range(400):
        secret = "".join(rng.choice("abcdefXYZ0123-_") for _ in range(rng.randint(8, 60)))
        cuts = sorted(rng.sample(range(1, len(secret)), rng.randint(1, min(4, len(secret) - 1))))
        parts = [secret[start:stop] for start, stop in zip([0, *cuts], [*cuts, len(secret)], strict=True)]
        wrapped = parts[0] + "".join(rng.choice(["\n", "\r\n", " \n  ", "\n\n", "\r"]) + part for part in parts[1:])
        before, after = rng.choice(["", "key: ", "\n", "  "]), rng.choice(["", " (end)", "\n", "!"])
        assert blank_out(before + wrapped + after, [secret], "#") == f"{before}#{after}", wrapped


def test_a_secret_wrapped_at_either_end_of_a_text_of_megabytes_is_found() -> None:
    """A long text is searched across its lines at its head and its tail, which is what a log keeps of it."""
    secret = "wrapped-CANARY-0123456789abcdef"
    wrapped = f"{secret[:6]}\n{secret[6:]}"
    filler = "a line of a peer's body\n" * (2 * ACROSS_LINES_WINDOW // 24 + 10)
    cleaned = blank_out(f"{wrapped} {filler} {wrapped}", [secret], "#")
    assert cleaned.startswith("# a line")
    assert cleaned.endswith("\n #")
