"""Answers whose head is odd but whose framing is whole, fourth round: thousands of headers, header values that are
not ASCII, a Content-Length given as a list of one value, an HTTP/1.0 answer asking to keep its connection. Each
page is read whole in one request (nothing in such a head makes its body doubtful); a head no parser takes (a
header name that is not a token, a megabyte of one header) is named as not HTTP, never read as an answer."""

from __future__ import annotations

import pytest

from connector.datadog.errors import DatadogError, Unavailable
from connector.datadog.paging import paginate
from tests.datadog.helpers import listed
from tests.independent.datadog2.org import API_KEY, APP_KEY, client, page_body, user
from tests.independent.rawpeer import JSON, RawPeer, http

IDS = ["u-0", "u-1", "u-2"]
PAGE = page_body([user(uid) for uid in IDS], len(IDS))


async def _users(answer: bytes) -> tuple[object, int]:
    async with RawPeer([answer]) as peer:
        dd = client(peer.base_url)
        try:
            result: object = [item.id async for page in paginate(listed(dd.fetch_users)) for item in page.items]
        except DatadogError as exc:
            result = exc
        finally:
            await dd.aclose()
    assert API_KEY not in str(result)
    assert APP_KEY not in str(result)
    return result, len(peer.requests)


READ = {
    "5,000 headers": http(200, PAGE, [*JSON, *((b"X-H%d" % i, b"v") for i in range(5000))]),
    "values not ASCII": http(200, PAGE, [*JSON, (b"X-Note", b"\xff\xfe\x80"), (b"X-RateLimit-Name", b"\xc3\xa9")]),
    "a Content-Length list of one value": http(
        200, PAGE, [*JSON, (b"Content-Length", b"%d, %d" % (len(PAGE), len(PAGE)))], length=False
    ),
    "HTTP/1.0 keep-alive": http(200, PAGE, [*JSON, (b"Connection", b"keep-alive")]).replace(b"HTTP/1.1", b"HTTP/1.0"),
    "a reason phrase of 100 KB": http(200, PAGE, reason=b"O" * 100_000),
}


@pytest.mark.parametrize("answer", list(READ))
async def test_an_odd_head_around_a_whole_body_is_read_in_one_request(answer: str) -> None:
    assert await _users(READ[answer]) == (IDS, 1)


REFUSED = {
    "a header of 1 MB": http(200, PAGE, [*JSON, (b"X-Big", b"a" * 1_000_000)]),
    "a header name that is not a token": http(200, PAGE, [*JSON, (b"X-F\xffo", b"v")]),
}


@pytest.mark.parametrize("answer", list(REFUSED))
async def test_a_head_no_parser_takes_is_named_not_http(answer: str) -> None:
    result, requests = await _users(REFUSED[answer])
    assert isinstance(result, Unavailable), result
    assert "GET /api/v2/users" in str(result)
    assert "was reached, but the answer is not valid HTTP" in str(result), result
    assert requests == 2  # QUICK's two attempts: a read may be asked again
