"""`gostrings.go_quote` (Go's `strconv.Quote`) where a JWK's `x5u` that Go's `url.Parse` refuses is named in Go's
words (docs/spec/credentials.md §2.2 item 1): a quote and a backslash escaped, a character Go does not print as
`\\u`/`\\U`, the control characters Go has a short escape for (`\\n`, `\\t`, ...) in it, not as `\\x0a`, and a lone
surrogate escape (`\\ud800`, which Go's JSON reader makes U+FFFD) as the U+FFFD Go prints. Only a fragment can hold a
control character (Go looks for them before the '#' only), so those are in a fragment's bad %-escape."""

from __future__ import annotations

import json

import pytest

from connector.baton.crypto import jwk
from connector.baton.crypto.errors import ConfigError
from tests.independent.credentials.keys import ed25519_jwk

INVALID = "jwk: failed to unmarshal jwk: go-jose/go-jose: invalid JWK, x5u header is invalid URL: "

REFUSED = {
    'https://keys.example:1"\\\u200b\U000e0001/': 'invalid port ":1\\"\\\\\\u200b\\U000e0001" after host',
    "https://keys.example:1\u00e9/": 'invalid port ":1\u00e9" after host',  # printable: as it is
    "https://keys.example/#%\n1": 'invalid URL escape "%\\n1"',
    "https://keys.example/#%\t\x0b": 'invalid URL escape "%\\t\\v"',
    "https://keys.example/#%\a\b": 'invalid URL escape "%\\a\\b"',
    "https://keys.example/#%\f\r": 'invalid URL escape "%\\f\\r"',
    "https://keys.example/#%\x01\x7f": 'invalid URL escape "%\\x01\\x7f"',
    "https://keys.example:\ud800/": 'invalid port ":\ufffd" after host',
}


@pytest.mark.parametrize("url", list(REFUSED))
def test_an_x5u_refused_is_quoted_as_go_quotes_it(url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        jwk.parse(json.dumps(ed25519_jwk(x5u=url)).encode())
    assert str(refused.value) == INVALID + REFUSED[url]
