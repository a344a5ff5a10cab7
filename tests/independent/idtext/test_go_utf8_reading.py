"""Bytes in a Datadog answer that are not UTF-8, read as the Go connector reads them: Go's JSON decoder coerces a
string to UTF-8 one byte at a time (`utf8.DecodeRune` answers `(RuneError, 1)` for every byte that starts no whole
character), so a cut-short sequence (`\\xe2\\x82`, an emoji's first three bytes) is one U+FFFD per byte. The reader of
Datadog's bodies (`connector.datadog.jsonbody`) used Python's "replace", which makes one U+FFFD of the whole cut-short
sequence: a name read otherwise than the Go connector's, and ids too. A SAT's resource id is built from its token's
id, so it differed from the one the Go connector gives the same token; and two ids Go tells apart (`u-\\xe2\\x82`,
`u-\\xe2`) were one id here, their page refused as listing one id twice.

The bytes that were already read alike (a lone `\\xff`, an overlong or surrogate encoding) are pinned beside them.
"""

from __future__ import annotations

import pytest

from connector.datadog.jsonbody import from_json
from connector.datadog.resources.keys import sat_handle
from tests.independent.datadog2.org import page_body, user
from tests.independent.datadog2.test_json import _page

# (bytes inside a JSON string, what Go's decoder makes of them)
GO_READS = [
    (b"a\xe2\x82b", "a\ufffd\ufffdb"),  # a three-byte character cut after two
    (b"a\xf0\x9f\x98", "a\ufffd\ufffd\ufffd"),  # an emoji cut after three, at the string's end
    (b"\xf0\x9f", "\ufffd\ufffd"),
    (b"\xe2\x82\xe2\x82\xac", "\ufffd\ufffd\u20ac"),  # a cut one, then a whole one
    # Already alike: each byte is one U+FFFD to both readers.
    (b"\xff", "\ufffd"),
    (b"\xc0\xaf", "\ufffd\ufffd"),  # overlong
    (b"\xed\xa0\x80", "\ufffd\ufffd\ufffd"),  # a surrogate's encoding
    (b"\xf4\x90\x80\x80", "\ufffd\ufffd\ufffd\ufffd"),  # past U+10FFFF
]


@pytest.mark.parametrize(("raw", "go"), GO_READS, ids=range(len(GO_READS)))
def test_a_string_of_bytes_that_are_not_utf8_reads_as_go_reads_it(raw: bytes, go: str) -> None:
    assert from_json(b'{"name": "' + raw + b'"}') == {"name": go}


async def test_a_users_name_cut_short_is_the_name_the_go_connector_syncs() -> None:
    body = page_body([user("u-0"), user("u-1")]).replace(b'"name": "u-1"', b'"name": "caf\xe2\x82"')
    assert await _page(body) == [("u-0", "u-0"), ("u-1", "caf\ufffd\ufffd")]


async def test_two_ids_go_tells_apart_are_two_users() -> None:
    """`u-\\xe2\\x82` and `u-\\xe2` are two ids to Go (two U+FFFD, one): read as one, the page was refused as one id
    listed twice with different contents, a page the Go connector syncs."""
    body = page_body([user("u-x"), user("u-y")])
    body = body.replace(b'"id": "u-x"', b'"id": "u-\xe2\x82"').replace(b'"id": "u-y"', b'"id": "u-\xe2"')
    assert await _page(body) == [("u-\ufffd\ufffd", "u-x"), ("u-\ufffd", "u-y")]


def test_a_service_access_tokens_id_is_the_go_connectors() -> None:
    """The SAT's resource id embeds its token's id as decoded: Go's handle for the token `t\\xe2\\x82` holds two
    U+FFFD."""
    token_id = from_json(b'{"id": "t\xe2\x82"}')["id"]
    assert sat_handle("sa-1", token_id) == sat_handle("sa-1", "t\ufffd\ufffd")
