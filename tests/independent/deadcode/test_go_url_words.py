"""The class: Go's `net/url` works on the bytes of a URL and `strconv.Quote` quotes bytes, where
`gostrings.go_url_parse_error` worked on characters (docs/spec/credentials.md §2.2 item 1, a JWK's `x5u`).

- A bad %-escape is named by its first 3 BYTES (`s[i:i+3]` in Go's `url.unescape`), which can end inside a
  character; `strconv.Quote` writes each byte that is not valid UTF-8 as `\\xNN`. We cut 3 characters
  (`"%€"` for `%€`, Go's `"%\\xe2\\x82"`), in every part Go unescapes: host, IPv6 zone, path, fragment.
- An escaped byte in an IPv6 zone is refused unless it is one a host may hold unescaped (or '%', ' '): a byte of
  0x80 or more never is (`shouldEscape(0xc3, encodeHost)`), which we took.

Each case's words are Go 1.25's (`url.Parse(x).Error()` after its `parse "<url>": `)."""

from __future__ import annotations

import json

import pytest

from connector.baton import gostrings
from connector.baton.crypto import jwk
from connector.baton.crypto.errors import ConfigError
from tests.independent.credentials.keys import ed25519_jwk

INVALID = "jwk: failed to unmarshal jwk: go-jose/go-jose: invalid JWK, x5u header is invalid URL: "

GO_SAYS: dict[str, str | None] = {
    # A bad escape cut at 3 bytes, mid-character: the bytes of the broken character as \xNN.
    "https://keys.example/#%\u20ac": 'invalid URL escape "%\\xe2\\x82"',
    "https://keys.example/#%1\u00e9": 'invalid URL escape "%1\\xc3"',
    "https://keys.example/#%\u200bz": 'invalid URL escape "%\\xe2\\x80"',
    "https://keys.example/#%\U0001f600": 'invalid URL escape "%\\xf0\\x9f"',
    "https://keys.example/#%1\U0001f600": 'invalid URL escape "%1\\xf0"',
    # 3 bytes ending on a character's end: the character, as Go prints it (or escapes it), nothing after it.
    "https://keys.example/#%\u00e9x": 'invalid URL escape "%\u00e9"',
    "https://keys.example/#%\u00a0x": 'invalid URL escape "%\\u00a0"',
    # Every part Go unescapes: path, host, the host before and inside an IPv6 zone, a scheme-less and an opaque URL.
    "https://keys.example/a%\u20ac/b": 'invalid URL escape "%\\xe2\\x82"',
    "https://keys.%\u20ac/": 'invalid URL escape "%\\xe2\\x82"',
    "https://[fe80::%\u20ac%25en0]/": 'invalid URL escape "%\\xe2\\x82"',
    "https://[fe80::1%25en%\u20ac]/": 'invalid URL escape "%\\xe2\\x82"',
    "/keys%1\u00e9": 'invalid URL escape "%1\\xc3"',
    "mailto:keys#%\u20ac": 'invalid URL escape "%\\xe2\\x82"',
    "*#%\u20ac": 'invalid URL escape "%\\xe2\\x82"',
    # A zone's escaped byte of 0x80 or more: refused like any byte a host may not hold.
    "https://[fe80::1%25en%c3]/": 'invalid URL escape "%c3"',
    "https://[fe80::1%25en%c3%a9]/": 'invalid URL escape "%c3"',
    "https://[fe80::1%25%80]/": 'invalid URL escape "%80"',
    "https://[fe80::1%25en%FF]:443/": 'invalid URL escape "%FF"',
    "https://[fe80::1%25en%2f]/": 'invalid URL escape "%2f"',
    # What a zone may escape, and a host's escaped non-ASCII byte, still taken.
    "https://[fe80::1%25en%41%20%25%2d]/": None,
    "https://keys.%c3%a9xample/": None,
    "https://keys.example/#%c3": None,
    "https://keys.example:/": None,  # an empty port after the ':'
    "https://[::1]:/": None,
    # The slices Go names whole (a port, a host character) are unchanged.
    "https://keys.example:1\u00e9/": 'invalid port ":1\u00e9" after host',
    "https://[::1]\u20ac/": 'invalid port "\u20ac" after host',
    "https://ke ys.example/": 'invalid character " " in host name',
    "https://\u00e9:x@keys.example/": "net/url: invalid userinfo",
}


@pytest.mark.parametrize("url", list(GO_SAYS))
def test_go_url_parse_error_says_what_go_says(url: str) -> None:
    assert gostrings.go_url_parse_error(url) == GO_SAYS[url]


@pytest.mark.parametrize("url", [url for url, said in GO_SAYS.items() if said is not None][:4])
def test_a_jwk_x5u_is_refused_in_go_words(url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        jwk.parse(json.dumps(ed25519_jwk(x5u=url)).encode())
    assert str(refused.value) == INVALID + str(GO_SAYS[url])


GO_QUOTES: dict[bytes, str] = {
    b"%\xe2\x82": '"%\\xe2\\x82"',
    b"\xff\xfe": '"\\xff\\xfe"',
    b"\xed\xa0\x80": '"\\xed\\xa0\\x80"',  # a surrogate's encoding is no UTF-8 to Go either
    b"\xc0\xaf": '"\\xc0\\xaf"',  # nor an overlong one
    "\ufffd".encode(): '"\ufffd"',  # a real U+FFFD is printed
    'a"\\\n\x7f\u200b\U000e0001\u00e9'.encode(): '"a\\"\\\\\\n\\x7f\\u200b\\U000e0001\u00e9"',
}


@pytest.mark.parametrize("data", list(GO_QUOTES))
def test_go_quote_quotes_bytes_as_strconv_quote(data: bytes) -> None:
    assert gostrings.go_quote(data) == GO_QUOTES[data]
    # The same bytes held in a str by "surrogateescape" are quoted alike.
    assert gostrings.go_quote(data.decode("utf-8", "surrogateescape")) == GO_QUOTES[data]


def test_go_quote_of_a_lone_surrogate_not_a_byte_is_u_fffd() -> None:
    # Not a byte "surrogateescape" holds: Go's string(rune) and JSON reader make U+FFFD of it, printed as it is.
    assert gostrings.go_quote("a\ud800") == '"a\ufffd"'
