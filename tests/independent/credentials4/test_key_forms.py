"""A public JWK with a member twice (docs/spec/credentials.md §2.2 item 1: the JWK is read by go-jose's rules). go-jose
reads a JWK with its own JSON reader, which refuses any key an object repeats ("json: duplicate key 'x' in object"),
whether it is a member it reads or not: the SDK refuses such a config before the mint (§2.1, pre-mint validation).
Here the last occurrence won: a key of two `x` was issued to the second one, a key of two `kty` was read as whichever
came last."""

from __future__ import annotations

import pytest

from connector.baton.crypto import jwk
from connector.baton.crypto.errors import ConfigError
from connector.baton.errors import Code
from tests.independent.credentials.issuing import PREFIX, issue_task, robot
from tests.independent.credentials.keys import ED_X, b64u, ec_jwk, jwk_config
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import failed_for_good

DUPLICATE = "invalid encryption config {index}: rpc error: code = InvalidArgument desc = jwk: failed to unmarshal jwk: "
X = b64u(ED_X).encode()
OTHER_X = b64u(bytes(31) + b"\x09").encode()
P256 = ec_jwk("P-256")

REPEATED: dict[str, tuple[bytes, str]] = {
    "x-twice-same-value": (b'{"kty":"OKP","crv":"Ed25519","x":"' + X + b'","x":"' + X + b'"}', "x"),
    "x-twice-other-value": (b'{"kty":"OKP","crv":"Ed25519","x":"' + OTHER_X + b'","x":"' + X + b'"}', "x"),
    "kty-twice": (b'{"kty":"EC","kty":"OKP","crv":"Ed25519","x":"' + X + b'"}', "kty"),
    "crv-twice": (
        b'{"kty":"EC","crv":"P-384","crv":"P-256","x":"' + P256["x"].encode() + b'","y":"' + P256["y"].encode() + b'"}',
        "crv",
    ),
    "unread-member-twice": (b'{"kty":"OKP","crv":"Ed25519","x":"' + X + b'","note":1,"note":2}', "note"),
    "kid-twice": (b'{"kid":"a","kty":"OKP","crv":"Ed25519","x":"' + X + b'","kid":"b"}', "kid"),
    "escaped-spelling-of-x": (b'{"kty":"OKP","crv":"Ed25519","x":"' + X + b'","\\u0078":"' + X + b'"}', "x"),
    "private-half-twice": (
        b'{"kty":"OKP","crv":"Ed25519","x":"' + X + b'","d":"' + X + b'","d":"' + X + b'"}',
        "d",
    ),
}


@pytest.mark.parametrize("case", list(REPEATED))
async def test_a_jwk_repeating_a_member_is_refused_naming_it_before_datadog_is_asked(rig: Rig, case: str) -> None:
    raw, member = REPEATED[case]
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [jwk_config(raw)]))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    expected = PREFIX + DUPLICATE.format(index=0) + f"json: duplicate key '{member}' in object"
    assert finish.message == expected
    assert rig.wire.seen == [], "nothing is asked of Datadog before the refusal"


async def test_a_repeated_member_of_the_second_config_is_named_by_its_index(rig: Rig) -> None:
    good = jwk_config(b'{"kty":"OKP","crv":"Ed25519","x":"' + X + b'"}')
    bad = jwk_config(REPEATED["kty-twice"][0])
    finish = await rig.run(issue_task(robot(rig.fake).id, "api-key", [good, bad]))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert finish.message == PREFIX + DUPLICATE.format(index=1) + "json: duplicate key 'kty' in object"
    assert rig.wire.seen == []


async def test_a_member_repeated_only_inside_an_unread_member_is_no_repeat(rig: Rig) -> None:
    """go-jose skips the value of a member it does not read without looking inside: only the key's own members count."""
    raw = b'{"kty":"OKP","crv":"Ed25519","x":"' + X + b'","note":{"a":1,"a":2}}'
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [jwk_config(raw)]))
    assert finish.ok, finish


async def test_members_spelt_in_another_case_are_other_members(rig: Rig) -> None:
    """go-jose's reader matches member names case-sensitively: `X` beside `x` repeats nothing, and is not the key."""
    raw = b'{"kty":"OKP","crv":"Ed25519","x":"' + X + b'","X":"' + OTHER_X + b'"}'
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [jwk_config(raw)]))
    assert finish.ok, finish


BROKEN_UTF8_NAMES: dict[str, tuple[bytes, str | None]] = {
    # Go's reader makes one U+FFFD of each byte that is not UTF-8; Python's "replace" one of a truncated sequence.
    "truncated-sequence-beside-one-replacement": (b'"\xe2\x82":1,"\\ufffd":2', None),
    "truncated-sequence-beside-two-replacements": (b'"\xe2\x82":1,"\\ufffd\\ufffd":2', "\ufffd\ufffd"),
    "stray-byte-beside-one-replacement": (b'"\xff":1,"\\ufffd":2', "\ufffd"),
    "encoded-surrogate-beside-three-replacements": (b'"\xed\xa0\x80":1,"\\ufffd\\ufffd\\ufffd":2', "\ufffd" * 3),
    "lone-surrogate-escapes": (b'"\\ud800":1,"\\udbff":2', "\ufffd"),
}


@pytest.mark.parametrize("case", list(BROKEN_UTF8_NAMES))
def test_member_names_are_compared_as_go_s_reader_decodes_them(case: str) -> None:
    names, repeated = BROKEN_UTF8_NAMES[case]
    raw = b'{"kty":"OKP","crv":"Ed25519","x":"' + X + b'",' + names + b"}"
    if repeated is None:
        assert jwk.parse(raw).kty == "OKP"
        return
    with pytest.raises(ConfigError) as refused:
        jwk.parse(raw)
    assert str(refused.value) == f"jwk: failed to unmarshal jwk: json: duplicate key '{repeated}' in object"


async def test_a_name_of_broken_utf8_beside_one_replacement_character_is_issued_to(rig: Rig) -> None:
    raw = b'{"kty":"OKP","crv":"Ed25519","x":"' + X + b'","\xe2\x82":1,"\\ufffd":2}'
    finish = await rig.run(issue_task(robot(rig.fake).id, "service-account-application-key", [jwk_config(raw)]))
    assert finish.ok, finish
