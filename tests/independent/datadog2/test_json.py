"""JSON that decoders read differently: duplicate members, `-0` and `1e400`, lone surrogates, bodies that are JSON but
no object. Each page is read one way, the way Go's decoder reads it (the last of duplicate members wins, a lone
surrogate is U+FFFD), and that one reading is the one every check uses: the ids the listing guard counts are the ids
synced. Anything else is an `UnexpectedResponse` naming where."""

from __future__ import annotations

import json

import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import DatadogError, UnexpectedResponse
from tests.datadog.helpers import listed
from tests.independent.datadog2.org import API_KEY, APP_KEY, client, page_body, user
from tests.independent.rawpeer import RawPeer, http


async def _page(body: bytes, status: int = 200) -> object:
    """`list_users(0)`'s page (as ids and names) or its error, against one answer."""
    async with RawPeer([http(status, body)]) as peer:
        dd: DatadogClient = client(peer.base_url)
        try:
            page = await listed(dd.fetch_users)(0)
            result: object = [(u.id, u.name) for u in page.items]
        except DatadogError as exc:
            result = exc
        finally:
            await dd.aclose()
    assert API_KEY not in str(result)
    assert APP_KEY not in str(result)
    return result


THREE = page_body([user("u-0"), user("u-1"), user("u-2")])


async def test_a_duplicated_id_member_is_read_as_its_last_occurrence() -> None:
    body = page_body([user("u-0")]).replace(b'"id": "u-0"', b'"id": "u-first", "id": "u-last"')
    assert await _page(body) == [("u-last", "u-0")]


async def test_a_duplicated_data_member_is_read_as_its_last_and_the_listing_checks_that_one() -> None:
    """`{"data": [3 users], ..., "data": []}`: the empty last one is the page, and the total of 3 says it is short."""
    result = await _page(THREE[:-1] + b', "data": []}')
    assert isinstance(result, UnexpectedResponse), result
    assert "no items, though the list's own total of 3 says there are more" in str(result)


async def test_the_ids_the_listing_counts_are_the_ids_it_syncs() -> None:
    """Two users whose `id` is duplicated so that first-wins reads two ids and last-wins one: a guard reading one way
    and the models the other would pass the page with one user synced twice. Read last-wins everywhere, it is two
    items of one id (listed otherwise: refused as such before the guard counts it short of the total of 2)."""
    body = page_body([user("u-a"), user("u-b")]).replace(b'"id": "u-a"', b'"id": "u-a", "id": "u-b"')
    result = await _page(body)
    assert isinstance(result, UnexpectedResponse), result
    assert "page 0: data[0] and data[1] list one id with different contents" in str(result)


async def test_a_duplicated_total_is_read_as_its_last() -> None:
    body = THREE.replace(b'"total_filtered_count": 3', b'"total_filtered_count": 999, "total_filtered_count": 3')
    assert await _page(body) == [("u-0", "u-0"), ("u-1", "u-1"), ("u-2", "u-2")]


async def test_a_duplicated_errors_member_in_an_error_body_is_read_as_its_last() -> None:
    body = b'{"errors": ["first words"], "errors": ["last words"]}'
    result = await _page(body, status=400)
    assert isinstance(result, DatadogError), result
    assert "last words" in str(result)
    assert "first words" not in str(result)


async def test_minus_zero_is_a_total_of_zero() -> None:
    result = await _page(THREE.replace(b'"total_filtered_count": 3', b'"total_filtered_count": -0'))
    assert isinstance(result, UnexpectedResponse), result
    assert "3 items past the list's own total of 0" in str(result)
    empty = json.dumps({"data": [], "meta": {"page": {"total_filtered_count": 0}}}).encode()
    assert await _page(empty.replace(b": 0}", b": -0}")) == []


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"-0.0", b"1E+400"])
async def test_a_number_past_double_where_a_string_belongs_names_the_field(number: bytes) -> None:
    result = await _page(THREE.replace(b'"name": "u-1"', b'"name": ' + number))
    assert isinstance(result, UnexpectedResponse), result
    assert "data[1].attributes.name (expected a string, got a number)" in str(result)


async def test_a_lone_surrogate_in_a_name_is_replaced_as_go_replaces_it() -> None:
    body = THREE.replace(b'"name": "u-1"', b'"name": "a\\ud800b\\udfffc"')
    assert await _page(body) == [("u-0", "u-0"), ("u-1", "a\ufffdb\ufffdc"), ("u-2", "u-2")]


async def test_a_surrogate_pair_is_kept_whole() -> None:
    body = THREE.replace(b'"name": "u-1"', b'"name": "\\ud83d\\ude00"')
    assert await _page(body) == [("u-0", "u-0"), ("u-1", "\U0001f600"), ("u-2", "u-2")]


async def test_two_ids_that_differ_only_in_a_lone_surrogate_become_one_and_the_listing_says_so() -> None:
    """`u-\\ud800` and `u-\\udbff` are both `u-\\ufffd` once read: the page holds one user where its total says two,
    and is refused, never synced as one user that is really two (their other members differ: named as one id listed
    otherwise)."""
    body = page_body([user("u-x"), user("u-y")])
    body = body.replace(b'"id": "u-x"', b'"id": "u-\\ud800"').replace(b'"id": "u-y"', b'"id": "u-\\udbff"')
    result = await _page(body)
    assert isinstance(result, UnexpectedResponse), result
    assert "page 0: data[0] and data[1] list one id with different contents" in str(result)


@pytest.mark.parametrize(
    ("body", "found"),
    [(b"[]", "an array"), (b'"data"', "a string"), (b"null", "null"), (b"0", "a number"), (b"false", "a boolean")],
)
async def test_a_body_that_is_json_but_no_object_is_named(body: bytes, found: str) -> None:
    result = await _page(body)
    assert isinstance(result, UnexpectedResponse), result
    assert "GET /api/v2/users" in str(result)
    assert f"the body (expected an object, got {found})" in str(result)
