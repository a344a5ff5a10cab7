"""Bodies no Datadog release sends, through a sync's page, a grant, a key's creation and the key check: each is read
as Datadog's JSON reads or refused as an `UnexpectedResponse` naming the endpoint and what was wrong, in bounded
time, never a traceback (the issue 11 suite covers gzip bombs, deep `data` nesting, bad chunk heads and duplicate
keys in a removal; these are the other encodings, nestings and framings)."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Awaitable

import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import DatadogError, InvalidAPIKey, Unavailable, UnexpectedResponse
from tests.datadog.helpers import listed
from tests.independent.datadog.peer import Call, outcome, refused, user, users_page
from tests.independent.rawpeer import JSON, CloseAfter, http

PAGE = users_page(user("u-1", "r-1"))


def list_users(dd: DatadogClient) -> Awaitable[object]:
    return listed(dd.fetch_users)(0)


def grant(dd: DatadogClient) -> Awaitable[object]:
    return dd.add_user_to_role("r-1", "u-1")


def create_key(dd: DatadogClient) -> Awaitable[object]:
    return dd.create_api_key("c1-new")


def validate(dd: DatadogClient) -> Awaitable[object]:
    return dd.validate()


def _user_ids(result: object) -> list[str]:
    items = getattr(result, "items", None)
    assert items is not None, result
    return [item.id for item in items]


# -- encodings -----------------------------------------------------------------------------------------------------


async def test_a_deflate_bomb_stops_at_the_response_cap_as_a_gzip_one_does() -> None:
    bomb = zlib.compress(b" " * (8 * 1024 * 1024), 9)
    result, peer = await outcome(
        [http(200, bomb, [(b"Content-Encoding", b"deflate"), *JSON])], list_users, max_response_bytes=1024 * 1024
    )
    refused(result, UnexpectedResponse, "/api/v2/users", "larger than the 1048576-byte cap")
    assert len(peer.requests) == 1  # the same bomb again would cost the same: no retry


async def test_gzip_inside_gzip_is_an_unsupported_encoding_never_a_second_inflation() -> None:
    """Two layers multiply a bomb's ratio (200 MiB of spaces fit in a few hundred bytes): the stacked coding is
    refused by name, not inflated twice."""
    double = gzip.compress(gzip.compress(b" " * (64 * 1024 * 1024), 9), 9)
    result, _ = await outcome([http(200, double, [(b"Content-Encoding", b"gzip, gzip"), *JSON])], list_users)
    refused(result, UnexpectedResponse, "could not be decoded", "unsupported Content-Encoding")


@pytest.mark.parametrize(
    "body",
    [b"\xef\xbb\xbf" + PAGE, PAGE.decode().encode("utf-16"), PAGE.decode().encode("utf-32")],
    ids=["utf8-bom", "utf16", "utf32"],
)
async def test_json_behind_a_byte_order_mark_or_in_utf16_is_not_json(body: bytes) -> None:
    """RFC 8259 §8.1: JSON exchanged between systems is UTF-8 without a BOM, and Go's decoder refuses both."""
    result, _ = await outcome([http(200, body)], list_users)
    refused(result, UnexpectedResponse, "GET /api/v2/users", "not valid JSON")


@pytest.mark.parametrize("charset", [b"iso-8859-1", b"utf-16", b"garbage"])
async def test_a_charset_parameter_does_not_change_how_json_is_read(charset: bytes) -> None:
    result, _ = await outcome(
        [http(200, PAGE, [(b"Content-Type", b"application/json; charset=" + charset)])], list_users
    )
    assert _user_ids(result) == ["u-1"]


# -- nesting, numbers, shapes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "replace"),
    [
        ("attribute", (b'"name": "u-1"', b'"name": ' + b"[" * 50_000 + b"]" * 50_000)),
        ("meta", (b'"meta": {', b'"meta": {"x": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b", ")),
        ("relationship", (b'"roles": {', b'"roles": {"x": ' + b"[" * 50_000 + b"]" * 50_000 + b", ")),
    ],
)
async def test_nesting_deeper_than_any_answer_anywhere_in_the_body_fails_the_page_not_the_stack(
    where: str, replace: tuple[bytes, bytes]
) -> None:
    result, _ = await outcome([http(200, PAGE.replace(*replace))], list_users)
    refused(result, UnexpectedResponse, "GET /api/v2/users", "nested too deeply")


async def test_an_integer_of_thousands_of_digits_is_no_count() -> None:
    """Python's int parser costs quadratic time on long literals (CVE-2020-10735): a count of 5,000 digits must not
    reach it."""
    body = PAGE.replace(b'"total_filtered_count": 1', b'"total_filtered_count": 1' + b"0" * 5000)
    result, _ = await outcome([http(200, body)], list_users)
    refused(result, UnexpectedResponse, "GET /api/v2/users")


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e999999"])
async def test_a_non_finite_total_is_no_total(number: bytes) -> None:
    body = PAGE.replace(b'"total_filtered_count": 1', b'"total_filtered_count": ' + number)
    body = body.replace(b'"total_count": 1', b'"total_count": ' + number)
    result, _ = await outcome([http(200, body)], list_users)
    refused(result, UnexpectedResponse, "meta.page.total_filtered_count")


@pytest.mark.parametrize("number", [b"NaN", b"Infinity"])
async def test_a_non_finite_number_where_a_name_belongs_names_the_field(number: bytes) -> None:
    result, _ = await outcome([http(200, PAGE.replace(b'"u-1@example.com"', number))], list_users)
    refused(result, UnexpectedResponse, "data[0].attributes.email")


# -- success statuses that carry no success ----------------------------------------------------------------------


@pytest.mark.parametrize("call", [list_users, grant, create_key])
async def test_a_200_carrying_datadogs_errors_array_is_never_a_result(call: Call) -> None:
    result, peer = await outcome([http(200, b'{"errors":["Forbidden"]}')], call)
    assert isinstance(result, UnexpectedResponse), result
    assert len(peer.requests) == 1


@pytest.mark.parametrize("call", [list_users, grant, create_key, validate])
async def test_a_204_where_a_body_is_the_answer_is_no_answer(call: Call) -> None:
    result, _ = await outcome([http(204, b"", ())], call)
    error = refused(result, UnexpectedResponse, "204")
    assert "empty" in str(error)


async def test_a_key_check_answered_valid_false_names_the_api_key() -> None:
    result, _ = await outcome([http(200, b'{"valid": false}')], validate)
    refused(result, InvalidAPIKey, "DD-API-KEY", "valid is false")


@pytest.mark.parametrize("valid", [b'"true"', b"1", b"null", b"[true]"])
async def test_a_key_check_whose_valid_is_not_a_boolean_is_no_proof(valid: bytes) -> None:
    result, _ = await outcome([http(200, b'{"valid": ' + valid + b"}")], validate)
    refused(result, UnexpectedResponse, "/api/v1/validate", "valid")


@pytest.mark.parametrize(
    "content_type",
    [b"application/xml", b"text/plain", b"application/octet-stream", b"multipart/mixed; boundary=x"],
)
async def test_json_under_another_content_type_is_named_by_its_type(content_type: bytes) -> None:
    result, _ = await outcome([http(200, PAGE, [(b"Content-Type", content_type)])], list_users)
    refused(result, UnexpectedResponse, "content type")


async def test_two_content_types_are_no_content_type() -> None:
    answer = http(200, PAGE, [(b"Content-Type", b"text/html"), (b"Content-Type", b"application/json")])
    result, _ = await outcome([answer], list_users)
    refused(result, UnexpectedResponse, "content type")


async def test_a_created_key_whose_secret_is_not_a_string_is_refused_by_its_path() -> None:
    body = {"data": {"type": "api_keys", "id": "k-1", "attributes": {"name": "c1-new", "key": 12345, "last4": "2345"}}}
    result, _ = await outcome([http(201, json.dumps(body).encode())], create_key)
    refused(result, UnexpectedResponse, "POST /api/v2/api_keys", "data.attributes.key")


# -- framing ------------------------------------------------------------------------------------------------------


async def test_an_http_1_0_body_delimited_by_the_close_is_read_whole() -> None:
    answer = CloseAfter(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + PAGE)
    result, _ = await outcome([answer], list_users)
    assert _user_ids(result) == ["u-1"]


async def test_a_close_delimited_body_cut_by_the_response_cap_is_no_page() -> None:
    answer = CloseAfter(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + b" " * (2 * 1024 * 1024))
    result, _ = await outcome([answer], list_users, max_response_bytes=1024 * 1024)
    refused(result, UnexpectedResponse, "larger than the 1048576-byte cap")


@pytest.mark.parametrize(
    "chunk_head", [b"ffffffffffffffffffffffff", b"-5", b"1 0", b"+10"], ids=["huge", "negative", "space", "plus"]
)
async def test_a_chunk_size_no_server_writes_is_not_http(chunk_head: bytes) -> None:
    answer = CloseAfter(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk_head + b"\r\nabc")
    result, _ = await outcome([answer], list_users)
    refused(result, Unavailable, "GET /api/v2/users", "not valid HTTP")


async def test_a_chunk_extension_is_read_past() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
    answer = head + b"%x;name=value\r\n" % len(PAGE) + PAGE + b"\r\n0\r\n\r\n"
    result, _ = await outcome([answer], list_users)
    assert _user_ids(result) == ["u-1"]


async def test_a_transfer_coding_other_than_chunked_is_not_http() -> None:
    packed = gzip.compress(PAGE)
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Type: application/json\r\n\r\n"
    result, _ = await outcome([head + b"%x\r\n" % len(packed) + packed + b"\r\n0\r\n\r\n"], list_users)
    refused(result, Unavailable, "not valid HTTP")


async def test_a_nul_in_a_header_value_is_not_http() -> None:
    result, _ = await outcome([http(200, PAGE, [(b"X-Trace", b"a\x00b"), *JSON])], list_users)
    refused(result, DatadogError, "not valid HTTP")


# -- memory -------------------------------------------------------------------------------------------------------


def _page_with_filler(filler: bytes) -> bytes:
    return PAGE.replace(b'"meta": {', b'"meta": {"x": ' + filler + b", ")


@pytest.mark.parametrize("item", [b"{}", b"[]", b"0"], ids=["objects", "arrays", "numbers"])
async def test_a_page_of_more_json_values_than_any_answer_holds_is_refused_before_it_is_parsed(item: bytes) -> None:
    """32 MiB of `{},` under the response cap are 11 million objects: 1.1 GB of Python objects, past the deployment's
    1 GiB memory limit (charts/…/values.yaml), so one such answer restarted the pod at every sync. 1.2 million values
    (3.6 MB) stand for them here."""
    filler = b"[" + b",".join([item] * 1_200_000) + b"]"
    result, peer = await outcome([http(200, _page_with_filler(filler))], list_users)
    refused(result, UnexpectedResponse, "GET /api/v2/users", "more than 1,000,000 of the bytes")
    assert len(peer.requests) == 1


async def test_a_page_under_the_value_bound_is_read_whatever_its_size() -> None:
    """The bound counts values, not bytes: 4 MB of text (one value) or 900,000 numbers are read."""
    text = b'"' + b"a" * (4 * 1024 * 1024) + b'"'
    result, _ = await outcome([http(200, _page_with_filler(text))], list_users)
    assert _user_ids(result) == ["u-1"]
    numbers = b"[" + b",".join([b"0"] * 900_000) + b"]"
    result, _ = await outcome([http(200, _page_with_filler(numbers))], list_users)
    assert _user_ids(result) == ["u-1"]
