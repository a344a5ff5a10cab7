"""`x5u` as go-jose reads it: `url.Parse` must take it (docs/spec/credentials.md §2.2 item 1). Only a control character
and a ':' first were refused here; Go's parser also refuses a bad %-escape, a character a host may not hold, a port of
other than digits, bad userinfo and a ':' in a scheme-less first segment, and the SDK refuses such a JWK before the
mint. A URL Go takes is taken whatever it points at (go-jose never fetches it)."""

from __future__ import annotations

import json

import pytest

from connector.baton.crypto import jwk
from connector.baton.crypto.errors import ConfigError
from connector.baton.errors import Code
from tests.independent.credentials.issuing import issue_task, robot
from tests.independent.credentials.keys import ed25519_jwk, jwk_config
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import failed_for_good

INVALID = "jwk: failed to unmarshal jwk: go-jose/go-jose: invalid JWK, x5u header is invalid URL: "

REFUSED = {
    "https://keys.example/%zz": 'invalid URL escape "%zz"',
    "https://keys.example/c1%2": 'invalid URL escape "%2"',
    "https://keys example/c1.pem": 'invalid character " " in host name',
    "https://keys{x}.example/": 'invalid character "{" in host name',
    "https://keys%41.example/": 'invalid URL escape "%41"',
    "https://keys.example:443x/": 'invalid port ":443x" after host',
    "https://[::1/": "missing ']' in host",
    "https://[::1]x/": 'invalid port "x" after host',
    "https://[fe80::1%25%2F]/": 'invalid URL escape "%2F"',  # an IPv6 zone: an escaped byte a host may not hold
    "https://[fe80::1%25e n]/": 'invalid character " " in host name',
    "https://us er@keys.example/": "net/url: invalid userinfo",
    "https://us%zzer@keys.example/": 'invalid URL escape "%zz"',
    "https://keys.example/c1.pem#%g0": 'invalid URL escape "%g0"',
    "//keys.example/%": 'invalid URL escape "%"',
    "1keys:443/c1.pem": "first path segment in URL cannot contain colon",
    "\x7fhttps://keys.example/": "net/url: invalid control character in URL",
    ":keys.example": "missing protocol scheme",
}
TAKEN = [
    "https://keys.example/c1.pem",
    "keys.example:443/c1.pem",  # scheme "keys.example", an opaque rest
    "https://keys.example/c1.pem?%zz",  # the query is kept raw
    "https://[fe80::1%25en0]:8443/c1.pem",
    "https://[fe80::1%25%41%20]/",  # a zone may escape what a host may hold, and a space
    "https://user:p%41ss@keys.example/",
    "https://keys.example/ü%C3%BC",
    "mailto:keys example",  # opaque: kept as it is
    "*",
    "relative/path",
]


@pytest.mark.parametrize("url", list(REFUSED))
def test_an_x5u_go_s_url_parser_refuses_is_refused_in_its_words(url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        jwk.parse(json.dumps(ed25519_jwk(x5u=url)).encode())
    assert str(refused.value) == INVALID + REFUSED[url]


@pytest.mark.parametrize("url", TAKEN)
def test_an_x5u_go_s_url_parser_takes_is_taken(url: str) -> None:
    assert jwk.parse(json.dumps(ed25519_jwk(x5u=url)).encode()).kty == "OKP"


async def test_an_x5u_with_a_space_in_its_host_is_refused_before_the_mint(rig: Rig) -> None:
    config = jwk_config(ed25519_jwk(x5u="https://keys example/c1.pem"))
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [config]))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert finish.message.endswith(INVALID + 'invalid character " " in host name'), finish.message
    assert rig.wire.seen == []
