"""The client secret's `d` is redacted in every secret the parser accepts, and only at a secret's length; a sync token
Go reads is read whatever its depth (review r1606 of fix1601).

- The parser reads the secret's JWK as Go does (bytes that are not UTF-8, a number of any length, deep unknown
  members), the redactor read it with Python's `json`: the daemon ran with a key whose `d` no line had blanked out.
- A `d` of line breaks and one letter unfolds to that letter: every "e" of every line was blanked out.
- A token holding a surrogate escape was walked recursively to replace it: 500 levels ran out of stack and a sync Go
  resumes was refused as damaged.
"""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connector.baton.c1.credentials import parse_client_secret
from connector.baton.redaction import blank_out
from connector.baton.sync.state import SyncState

PREFIX = "secret-token:conductorone.com:v1:"


def _u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize(
    "extra",
    [b'"kid":"k\xff"', b'"n2":' + b"9" * 5000, b'"z":' + b"[" * 3000 + b"]" * 3000],
    ids=["kid-not-utf8", "long-number", "deep-unknown-member"],
)
def test_d_of_a_secret_the_parser_accepts_is_redacted(extra: bytes) -> None:
    key = Ed25519PrivateKey.generate()
    d, x = _u(key.private_bytes_raw()), _u(key.public_key().public_bytes_raw())
    document = b'{"kty":"OKP","crv":"Ed25519","x":"%s","d":"%s",%s}' % (x.encode(), d.encode(), extra)
    secret = PREFIX + _u(document)
    parse_client_secret(secret)  # accepted: the daemon runs with this key
    assert d[:24] not in blank_out(f"private key d={d}", [secret], "[REDACTED]")


def test_a_d_that_unfolds_to_a_few_characters_does_not_blank_out_every_line() -> None:
    document = json.dumps({"kty": "OKP", "crv": "Ed25519", "x": "abc", "d": "\n" * 7 + "e"}).encode()
    secret = PREFIX + _u(document)
    line = "client-secret: invalid client secret: the JWK d is not base64url"
    assert blank_out(line, [secret], "[REDACTED]") == line


def test_a_sync_token_go_reads_is_resumed_when_it_holds_a_surrogate_escape_deep_down() -> None:
    token = (
        '{"version":1,"actions_map":{"1":{"id":"1","operation":"list-resources","resource_type_id":"user"}},'
        '"action_order":["1"],"current_action_id":1,"note":"\\ud800","x":' + "[" * 500 + '"\\udc00"' + "]" * 500 + "}"
    )
    (action,) = SyncState.unmarshal(token).actions
    assert action.resource_type_id == "user"


def test_every_lone_surrogate_of_a_token_is_read_as_go_reads_it() -> None:
    from connector.baton.gostrings import go_json_strings

    text = '{"a\\ud800":["\\udc00",{"b":"\\ud800x"}],"c":"\\ud801"}'
    assert go_json_strings(json.loads(text), text) == {"a\ufffd": ["\ufffd", {"b": "\ufffdx"}], "c": "\ufffd"}
