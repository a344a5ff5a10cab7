"""The client secret's JWK read by go-jose's rules, the whole of it (docs/spec/service-mode.md §1.1: "a private key
that go-jose accepts"; the SDK's ParseClientSecret reads the key part with base64.RawURLEncoding and the JWK with
go-jose's JSONWebKey.UnmarshalJSON, and says "invalid client secret" for any refusal).

Class guarded: a client secret Go reads one way and this daemon another. A JWK go-jose refuses (a member twice, a
malformed member of any key type, a string member of another JSON type, an `x5t` that is no SHA-1 digest, a BOM before
the document, NaN) was taken here; a `kid` holding an unpaired surrogate escape, which Go reads as U+FFFD, was kept as
a lone surrogate, and the first token request ended the daemon ("unexpected error") writing it into the assertion.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connector.baton.c1.assertion import make_client_assertion
from connector.baton.c1.credentials import CredentialError, parse_client_id, parse_client_secret
from connector.baton.redaction import blank_out
from tests.e2e.harness import Stack
from tests.fakes.c1 import FakeC1
from tests.fakes.datadog import FakeDatadog, generate_org

PREFIX = "secret-token:conductorone.com:v1:"
CLIENT_ID = "abc@acme.conductor.one/pcc"


def _u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _parts() -> tuple[str, str, str]:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    return _u(key.private_bytes_raw()), _u(key.public_key().public_bytes_raw()), _u(other.private_bytes_raw())


def _secret_text(document: str) -> str:
    return PREFIX + _u(document.encode())


def _refused(secret: str) -> CredentialError:
    with pytest.raises(CredentialError) as refused:
        parse_client_secret(secret)
    assert refused.value.setting == "client-secret"
    assert str(refused.value).startswith("client-secret: invalid client secret: ")
    assert refused.value.__cause__ is None  # the JSON error's context holds the decoded document
    assert refused.value.__suppress_context__ or refused.value.__context__ is None
    return refused.value


@pytest.mark.parametrize(
    ("template", "said"),
    [
        ('{{"kty":"OKP","crv":"Ed25519","d":"{other}","x":"{x}","d":"{d}"}}', "the JWK d is given twice"),
        ('{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}","kid":"a","kid":"b"}}', "the JWK kid is given twice"),
        ('{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}","{d}":1,"{d}":2}}', "a JWK member is given twice"),
        ('{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}","y":"!!!!"}}', "the JWK y is not base64url"),
        ('{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}","alg":5}}', "the JWK alg must be a string, not a number"),
        (
            '{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}","use":{{}}}}',
            "the JWK use must be a string, not an object",
        ),
        ('{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}","x5t":"AAAA"}}', "the JWK x5t is not a SHA-1 digest"),
        (
            '{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}","x5t#S256":"AAAA"}}',
            "the JWK x5t#S256 is not a SHA-256 digest",
        ),
        ('{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}","x5u":"%zz"}}', "the JWK x5u is not a URL"),
        (
            '{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}","x5c":"{d}"}}',
            "the JWK x5c must be an array of strings, not a string",
        ),
        (
            '{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}","x5c":["{d}"]}}',
            "the JWK x5c is not a certificate chain go-jose reads",
        ),
    ],
    ids=[
        "two-d",
        "two-kid",
        "two-unknown",
        "bad-y",
        "numeric-alg",
        "object-use",
        "short-x5t",
        "short-x5t256",
        "bad-x5u",
        "x5c-string",
        "x5c-not-der",
    ],
)
def test_a_jwk_go_jose_refuses_is_refused(template: str, said: str) -> None:
    d, x, other = _parts()
    refused = _refused(_secret_text(template.format(d=d, x=x, other=other)))
    assert str(refused) == f"client-secret: invalid client secret: {said}"
    assert d not in str(refused)
    assert other not in str(refused)


def test_a_kid_with_a_lone_surrogate_signs_without_a_traceback() -> None:
    d, x, _ = _parts()
    secret = parse_client_secret(_secret_text(f'{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}","kid":"\\ud800"}}'))
    assert secret.kid == "\ufffd"  # what Go's JSON reader makes of it, and signs with
    assertion = make_client_assertion(parse_client_id(CLIENT_ID), secret)  # was: UnicodeEncodeError
    seg = assertion.split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))["kid"] == "\ufffd"


def test_a_kid_of_bytes_that_are_not_utf8_signs_as_go_reads_it() -> None:
    # Go's reader makes each such byte U+FFFD; json.loads of the bytes refused the whole secret as not JSON.
    d, x, _ = _parts()
    document = f'{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}","kid":"k\xff"}}'.encode("latin-1")
    secret = parse_client_secret(PREFIX + _u(document))
    assert secret.kid == "k\ufffd"
    make_client_assertion(parse_client_id(CLIENT_ID), secret)


@pytest.mark.parametrize(
    ("document", "encoding"),
    [
        ('\ufeff{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}"}}', "utf-8"),
        ('{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}","ext":NaN}}', "utf-8"),
        ('{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}","ext":-Infinity}}', "utf-8"),
        ('{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}"}}', "utf-16"),
    ],
    ids=["utf8-bom", "nan-member", "infinity-member", "utf-16"],
)
def test_json_go_refuses_is_refused(document: str, encoding: str) -> None:
    d, x, _ = _parts()
    refused = _refused(PREFIX + _u(document.format(d=d, x=x).encode(encoding)))
    assert str(refused) == "client-secret: invalid client secret: the key part does not decode to a JSON JWK"


def test_a_member_go_jose_does_not_read_is_still_skipped() -> None:
    # The other side of the class: what Go takes is still taken (a member it does not read, of any type or size).
    d, x, _ = _parts()
    document = f'{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}","ext":[{{"a":1e999}}],"n2":{"9" * 5000}}}'
    assert parse_client_secret(_secret_text(document)).private_key.private_bytes_raw() == base64.urlsafe_b64decode(
        d + "="
    )


@pytest.mark.parametrize("brk", ["\n", "\r", "\r\n", "\n\n"], ids=["LF", "CR", "CRLF", "LFLF"])
def test_a_key_part_folded_across_lines_is_read_as_go_reads_it_and_still_redacted(brk: str) -> None:
    """Go's base64.RawURLEncoding skips CR and LF anywhere in the key part, so the SDK takes a secret folded across lines
    (a wrapped paste into a Secret); it was refused here. The redactor finds it in each form the daemon accepts."""
    d, x, _ = _parts()
    secret = _secret_text(f'{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}"}}')
    key = secret.removeprefix(PREFIX)
    folded = PREFIX + key[:30] + brk + key[30:60] + brk + key[60:] + "\n"
    assert parse_client_secret(folded).private_key.private_bytes_raw() == base64.urlsafe_b64decode(d + "=")
    for shown in (folded, secret, key, key[:30] + brk + key[30:], d, repr(folded), json.dumps(folded)):
        cleaned = blank_out(f"value={shown} end", [folded], "[redacted]")
        for part in (key[5:29], key[-24:], d[:24]):
            assert part not in cleaned, shown


def test_the_cli_given_a_surrogate_kid_secret_comes_up_signing_as_go_signs(tmp_path: Path) -> None:
    """The daemon end to end, against the fake ConductorOne holding the key with the kid Go signs with (U+FFFD): it
    comes up ready. It exited 1 at its first token request, "unexpected error: UnicodeEncodeError", writing the lone
    surrogate into the assertion (with ConductorOne unreachable, the same failure was a retried "c1 token request
    failed")."""
    with FakeC1(kid="\ufffd") as c1, FakeDatadog(generate_org(users=2, seed=1, teams=1)) as dd:
        jwk = json.loads(base64.urlsafe_b64decode(c1.client_secret.removeprefix(PREFIX) + "=="))
        document = f'{{"kty":"OKP","crv":"Ed25519","d":"{jwk["d"]}","x":"{jwk["x"]}","kid":"\\ud800"}}'
        stack = Stack(c1=c1, dd=dd, root=tmp_path)
        try:
            daemon = stack.start({"BATON_CLIENT_SECRET": _secret_text(document)}, wait_ready=False)
            daemon.wait_ready()
        finally:
            stack.stop_all()
        output = daemon.output()
    assert "unexpected error" not in output, daemon.tail()
    assert "c1 token request failed" not in output, daemon.tail()
    assert jwk["d"] not in output


# ---- the class beyond the secret: JSON (or YAML) text decoded from a setting, written out as UTF-8 later ------------


@pytest.mark.parametrize(
    ("how", "value"),
    [
        ("env-json-list", '["user:\\ud800x"]'),
        ("env-json-list-types", '["\\udfff"]'),
        ("yaml-list", 'sync-resources: ["user:\\ud800x"]\n'),
        ("yaml-text", 'grant-entitlement: "role:\\ud800x:member"\nprovisioning: true\n'),
    ],
)
def test_a_setting_holding_half_a_surrogate_pair_is_refused_naming_it(how: str, value: str, tmp_path: Path) -> None:
    """A lone surrogate from a JSON or YAML escape in a setting: `BATON_SYNC_RESOURCES='["user:\\ud800x"]'` (the JSON
    list form the Helm chart renders) ended a one-shot run at its first Datadog request, "unexpected error:
    UnicodeEncodeError", exit 1. Refused at start as every other setting's bad text is, the setting named."""
    from tests.daemon.cli import KEYS, run_cli_in_process

    if how.startswith("env"):
        var = "BATON_SYNC_RESOURCES" if how == "env-json-list" else "BATON_SYNC_RESOURCE_TYPES"
        done = run_cli_in_process("config", env={**KEYS, var: value})
        setting = "--sync-resources" if how == "env-json-list" else "--sync-resource-types"
    else:
        config = tmp_path / "settings.yaml"
        config.write_text(value)
        done = run_cli_in_process("config", "--config", str(config), env=KEYS)
        setting = "--sync-resources" if how == "yaml-list" else "--grant-entitlement"
    assert done.returncode == 2, done.stderr
    assert setting in done.stderr, done.stderr
    assert "half a surrogate pair" in done.stderr, done.stderr


def test_a_sync_token_s_surrogate_escape_is_read_as_the_go_engine_reads_it() -> None:
    """A resumed c1z's sync token (untrusted bytes) with a `\\ud800` escape in a page token: Python's reader kept the
    lone surrogate, which no request can carry (httpx raises UnicodeEncodeError writing it into a URL's query).
    Go's reader makes it U+FFFD; so does this one, ids and member names too."""
    from connector.baton.sync.state import SyncState

    token = (
        '{"version":1,"actions_map":{"1":{"id":"1","operation":"list-resources","page_token":"p\\ud800",'
        '"resource_type_id":"user","\\udc00":"\\udfff"}},"action_order":["1"],"current_action_id":1}'
    )
    (action,) = SyncState.unmarshal(token).actions
    assert action.page_token == "p\ufffd"
    assert SyncState.unmarshal(token).marshal().encode("utf-8")
    # A surrogate pair is one character, kept.
    (paired,) = SyncState.unmarshal(token.replace("p\\ud800", "\\ud83d\\ude00")).actions
    assert paired.page_token == "\U0001f600"


def test_a_jwe_key_s_kid_is_compared_as_the_sdk_reads_it() -> None:
    """`baton/jwe/v1`: the JWK's `kid` must equal the config's key_id (§2.5). The SDK's reader makes a `"\\ud800"`
    escape U+FFFD, so a key_id of U+FFFD matches it; here the lone surrogate was compared and the key refused."""
    from connector.baton.crypto import jwe
    from connector.baton.pb.c1.connector.v2 import resource_pb2
    from tests.baton.credential_vectors import xwing_public_key

    alg = "https://c1.ai/alg/hpke-xwing-hkdf-sha256-chacha20poly1305/v1"
    pub = _u(xwing_public_key(bytes(range(0xA0, 0xC0))))
    config = resource_pb2.EncryptionConfig(provider="baton/jwe/v1", key_id="\ufffd")
    config.jwk_public_key_config.pub_key = json.dumps({"kty": "AKP", "alg": alg, "pub": pub, "kid": "\ud800"}).encode()
    assert b"\\ud800" in config.jwk_public_key_config.pub_key
    assert jwe.parse(config).key_id == "\ufffd"


def _certificate(key: Ed25519PrivateKey) -> bytes:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "c1")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    builder = x509.CertificateBuilder(name, name, key.public_key(), 1, start, start + datetime.timedelta(days=1))
    return builder.sign(key, None).public_bytes(serialization.Encoding.DER)


def test_a_certificate_chain_is_checked_as_go_jose_checks_it() -> None:
    # go-jose reads `x5c` and refuses a leaf of another key, and an `x5t` that is not the leaf's digest.
    import hashlib

    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    d, x = _u(key.private_bytes_raw()), _u(key.public_key().public_bytes_raw())
    own, foreign = (base64.b64encode(_certificate(k)).decode() for k in (key, other))
    thumb = _u(hashlib.sha1(base64.b64decode(own)).digest())  # x5t is a SHA-1 digest by definition
    base = f'{{"kty":"OKP","crv":"Ed25519","d":"{d}","x":"{x}"'
    assert parse_client_secret(_secret_text(f'{base},"x5c":["{own}"],"x5t":"{thumb}"}}')).kid is None
    refused = _refused(_secret_text(f'{base},"x5c":["{foreign}"]}}'))
    assert str(refused).endswith("the JWK x5c certificate is not of its key")
    refused = _refused(_secret_text(f'{base},"x5c":["{own}"],"x5t":"{_u(bytes(20))}"}}'))
    assert str(refused).endswith("the JWK x5t does not match its certificate")
