"""Issue 11 against Datadog's side, byte by byte: what a grant, a revoke, a key's creation or deletion and a sync's page
meet when Datadog (or anything on the path to it) answers oddly.

Each case is a real HTTP/1.1 peer on 127.0.0.1 (`rawpeer.RawPeer`) writing exactly the bytes under test, and the real
client. What every case must show: the call either does what Datadog's answer says or raises one of the client's
errors (a `DatadogError`, naming the method and path), in bounded time; no error's text holds either key (canaries);
and a write is never taken as done on an answer that does not say so.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import DatadogError, RateLimited, Unavailable, UnexpectedResponse
from connector.datadog.retry import RetryPolicy
from tests.datadog.helpers import FakeTime, listed, loopback_trust
from tests.independent.rawpeer import JSON, Answer, CloseAfter, RawPeer, Stall, http

API_KEY = "indep-canary-api-5b1d0c3e9f7a2468ace1"
APP_KEY = "indep-canary-app-7e6d5c4b3a291807f6e5d4c3"
ROLE, USER = "r-1", "u-1"
QUICK = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.005, min_rate_limit_wait=0.001)


def _user(uid: str, *roles: str) -> dict[str, Any]:
    return {
        "type": "users",
        "id": uid,
        "attributes": {"email": f"{uid}@example.com", "name": uid, "status": "Active", "disabled": False},
        "relationships": {"roles": {"data": [{"type": "roles", "id": r} for r in roles]}},
    }


def _list(*users: dict[str, Any]) -> bytes:
    total = {"total_count": len(users), "total_filtered_count": len(users)}
    return json.dumps({"data": list(users), "meta": {"page": total}}).encode()


GRANTED = _list(_user(USER, ROLE), _user("u-2", ROLE))
"""The role's users after an addition of USER."""
REVOKED = _list(_user("u-2", ROLE))
"""The role's users after a removal of USER."""

Call = Callable[[DatadogClient], Awaitable[object]]


def grant(dd: DatadogClient) -> Awaitable[None]:
    return dd.add_user_to_role(ROLE, USER)


def revoke(dd: DatadogClient) -> Awaitable[None]:
    return dd.remove_user_from_role(ROLE, USER)


def delete_key(dd: DatadogClient) -> Awaitable[None]:
    return dd.delete_api_key("k-1")


def create_key(dd: DatadogClient) -> Awaitable[object]:
    return dd.create_api_key("c1-issued")


def list_users(dd: DatadogClient) -> Awaitable[object]:
    return listed(dd.fetch_users)(0)


def _client(peer: RawPeer, **options: Any) -> DatadogClient:
    return DatadogClient(
        api_key=API_KEY,
        app_key=APP_KEY,
        base_url=peer.base_url,
        retry=options.pop("retry", QUICK),
        timeout=options.pop("timeout", 5.0),
        connect_timeout=1.0,
        verify=options.pop("verify", loopback_trust()),  # one a process: plain http never uses it
        **options,
    )


async def _outcome(answers: list[Answer], call: Call, **options: Any) -> tuple[object, RawPeer]:
    """What `call` returned or raised against a peer answering `answers`, within a bound no case may pass."""
    async with RawPeer(answers) as peer:
        client = _client(peer, **options)
        try:
            result: object = await asyncio.wait_for(call(client), timeout=30)
        except DatadogError as exc:
            result = exc
        finally:
            await client.aclose()
    if isinstance(result, DatadogError):
        for text in (str(result), repr(result)):
            assert API_KEY not in text, text
            assert APP_KEY not in text, text
        assert result.path.startswith("/api/"), result
    return result, peer


def _refused(result: object, kind: type[DatadogError], *words: str) -> DatadogError:
    assert isinstance(result, kind), f"expected {kind.__name__}, got {result!r}"
    for word in words:
        assert word in str(result), str(result)
    return result


# -- status codes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("call", [grant, revoke, create_key, delete_key, list_users])
async def test_a_redirect_is_never_followed_so_the_keys_never_reach_another_origin(status: int, call: Call) -> None:
    async with RawPeer([http(200, b"{}")]) as elsewhere:
        origin = elsewhere.base_url
        location = f"{origin}/api/v2/roles/{ROLE}/users?key={API_KEY}".encode()
        result, peer = await _outcome([http(status, b"", [(b"Location", location)])], call)
    error = _refused(result, DatadogError, str(status), "redirect")
    assert elsewhere.connections == 0
    assert len(peer.requests) == 1
    assert origin.removeprefix("http://") not in str(error)


@pytest.mark.parametrize("interim", [100, 102, 103])
async def test_interim_answers_before_the_final_one_are_read_past(interim: int) -> None:
    result, _ = await _outcome([http(interim, b"", (), length=False) + http(200, GRANTED)], grant)
    assert result is None


async def test_a_switching_protocols_nobody_asked_for_is_no_answer() -> None:
    upgrade = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"
    result, _ = await _outcome([upgrade], grant)
    _refused(result, Unavailable, "not valid HTTP")


@pytest.mark.parametrize("status", [99, 600, 999])
async def test_a_status_outside_http_is_an_error_not_a_success(status: int) -> None:
    line = b"HTTP/1.1 %03d X\r\nContent-Length: 0\r\n\r\n" % status
    result, _ = await _outcome([line], revoke)
    assert isinstance(result, DatadogError), result


@pytest.mark.parametrize("status", [202, 203, 206, 226])
async def test_a_revoke_answered_by_another_2xx_without_the_list_is_not_done(status: int) -> None:
    result, _ = await _outcome([http(status, b"")], revoke)
    _refused(result, UnexpectedResponse, "not the list of the role's users")


@pytest.mark.parametrize("call", [delete_key, revoke])
async def test_a_204_is_done_whatever_body_follows_its_head(call: Call) -> None:
    """A 204 has no body (RFC 9110 §15.3.5): bytes after its head belong to no answer, and its Content-Length is no
    promise. A key deletion is done; a role removal is not the role's users list (the client's rule for it)."""
    lying = http(204, b"", [(b"Content-Length", b"999")]) + b'{"errors":["forged"]}'
    result, _ = await _outcome([lying], call)
    if call is delete_key:
        assert result is None
    else:
        _refused(result, UnexpectedResponse)


@pytest.mark.parametrize("call", [grant, revoke, create_key, list_users])
async def test_5xx_with_a_body_quoting_the_keys_never_quotes_them(call: Call) -> None:
    echo = json.dumps({"errors": [f"upstream said DD-API-KEY={API_KEY} DD-APPLICATION-KEY={APP_KEY}"]}).encode()
    html = f"<html><pre>dd-api-key: {API_KEY}\ndd-application-key: {APP_KEY}</pre></html>".encode()
    result, _ = await _outcome([http(502, html, [(b"Content-Type", b"text/html")]), http(500, echo)], call)
    assert isinstance(result, DatadogError)


# -- framing ------------------------------------------------------------------------------------------------------


async def test_a_body_cut_short_on_a_create_is_not_sent_again_and_says_so() -> None:
    """A create's answer lost mid-body: the key may exist, so the POST is never repeated (two keys)."""
    cut = http(201, b'{"data":{"type":"api_keys","id":"k-9","attri', [(b"Content-Length", b"4096"), *JSON])
    result, peer = await _outcome([CloseAfter(cut)], create_key)
    assert isinstance(result, DatadogError), result
    assert len(peer.requests) == 1


async def test_a_body_cut_short_on_a_revoke_is_asked_again_and_then_done() -> None:
    cut = http(200, REVOKED[:20], [(b"Content-Length", b"4096"), *JSON])
    result, peer = await _outcome([CloseAfter(cut), http(200, REVOKED)], revoke)
    assert result is None
    assert len(peer.requests) == 2


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * 200_000 + b"\r\n\r\n",
        b"\x16\x03\x01\x02\x00garbage",
    ],
    ids=["two-lengths", "negative-length", "hex-length", "bad-chunk", "huge-header", "not-http"],
)
async def test_framing_no_http_peer_writes_is_a_named_failure(head: bytes) -> None:
    result, _ = await _outcome([CloseAfter(head)], revoke)
    _refused(result, DatadogError, "/api/v2/roles/r-1/users")


async def test_a_peer_that_stalls_after_its_headers_fails_within_the_documented_deadline() -> None:
    """connect + 2 x timeout (docs/service-mode.md): here 1 s + 2 x 0.5 s for each attempt, where the peer never ends
    (`_outcome` fails the test past its own bound: no wall-clock assertion)."""
    stall = Stall(http(200, b"", [(b"Content-Length", b"100"), *JSON]) + b'{"data":')
    result, peer = await _outcome([stall], revoke, timeout=0.5, retry=RetryPolicy(max_attempts=2, base_delay=0.001))
    _refused(result, Unavailable, "timed out")
    assert len(peer.requests) == 2


# -- encodings ---------------------------------------------------------------------------------------------------


async def test_a_gzip_bomb_stops_at_the_response_cap() -> None:
    bomb = gzip.compress(b" " * (8 * 1024 * 1024), compresslevel=9)
    answer = http(200, bomb, [(b"Content-Encoding", b"gzip"), *JSON])
    result, _ = await _outcome([answer], list_users, max_response_bytes=1024 * 1024)
    _refused(result, UnexpectedResponse, "larger than the 1048576-byte cap")


@pytest.mark.parametrize(
    ("encoding", "body", "words"),
    [
        (b"br", GRANTED, "unsupported Content-Encoding"),
        (b"gzip", b"not gzip at all", "not what it claims"),
        (b"gzip, br", gzip.compress(GRANTED), "unsupported Content-Encoding"),
        (b"gzip", gzip.compress(GRANTED)[:-9], "truncated"),
    ],
)
async def test_a_body_that_cannot_be_decoded_names_its_encoding(encoding: bytes, body: bytes, words: str) -> None:
    result, _ = await _outcome([http(200, body, [(b"Content-Encoding", encoding), *JSON])], grant)
    _refused(result, UnexpectedResponse, "could not be decoded", words)


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        (b"gzip", gzip.compress(GRANTED)),
        (b"GZIP", gzip.compress(GRANTED)),
        (b"deflate", zlib.compress(GRANTED)),
        (b"identity", GRANTED),
        (b"gzip", gzip.compress(GRANTED[:40]) + gzip.compress(GRANTED[40:])),
    ],
    ids=["gzip", "upper-case", "deflate", "identity", "two-gzip-members"],
)
async def test_a_body_in_an_encoding_that_decodes_is_read(encoding: bytes, body: bytes) -> None:
    result, _ = await _outcome([http(200, body, [(b"Content-Encoding", encoding), *JSON])], grant)
    assert result is None


async def test_bytes_that_are_not_utf8_in_a_name_are_read_as_go_reads_them() -> None:
    body = _list(_user(USER)).replace(b'"name": "u-1"', b'"name": "J\xff\xfeane"')
    page = await _outcome([http(200, body)], list_users)
    users = getattr(page[0], "items", None)
    assert users is not None
    assert users[0].name == "J\ufffd\ufffdane"


async def test_a_duplicated_key_is_read_as_its_last_occurrence_as_go_reads_it() -> None:
    """Two `data` members: the first says USER was removed, the last still lists USER. Read as the last (Go's
    encoding/json, pydantic's parser), the revoke is not done."""
    still = json.dumps([_user(USER, ROLE), _user("u-2", ROLE)]).encode()
    body = b'{"data":[],"data":' + still + b',"meta":{"page":{"total_count":2,"total_filtered_count":2}}}'
    result, _ = await _outcome([http(200, body)], revoke)
    _refused(result, UnexpectedResponse, "still lists the user")


@pytest.mark.parametrize("total", ['"1"', "-1", "1.5", "1e400", "true", "null", "18446744073709551616"])
async def test_a_total_of_the_wrong_type_or_size_fails_the_page_naming_the_member(total: str) -> None:
    body = json.dumps({"data": [_user(USER)], "meta": {"page": {"total_count": 0, "total_filtered_count": 0}}}).encode()
    body = body.replace(b": 0", b": " + total.encode())
    result, _ = await _outcome([http(200, body)], list_users)
    _refused(result, UnexpectedResponse, "meta.page.total_filtered_count")


# -- pacing ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [b"-5", b"nan", b"inf", b"1e999", b"soon", b"0x10", b"", b"Mon, 01 Jan 1990 00:00:00 GMT"]
)
async def test_a_retry_after_that_is_no_wait_is_no_endless_wait(value: bytes) -> None:
    throttled = http(429, b'{"errors":["Too many requests"]}', [(b"Retry-After", value), *JSON])
    result, peer = await _outcome([throttled, http(200, GRANTED)], grant)
    assert result is None
    assert len(peer.requests) == 2


@pytest.mark.parametrize(
    "headers",
    [
        [(b"X-RateLimit-Limit", b"0"), (b"X-RateLimit-Remaining", b"0"), (b"X-RateLimit-Reset", b"1")],
        [(b"X-RateLimit-Limit", b"-1"), (b"X-RateLimit-Remaining", b"-1"), (b"X-RateLimit-Period", b"-1")],
        [(b"X-RateLimit-Remaining", b"0"), (b"X-RateLimit-Reset", b"nan"), (b"X-RateLimit-Period", b"1e-320")],
        [(b"X-RateLimit-Remaining", b"999999999999999999999"), (b"X-RateLimit-Reset", b"1")],
    ],
)
async def test_pacing_headers_that_are_garbage_never_hold_the_next_request_for_ever(
    headers: list[tuple[bytes, bytes]],
) -> None:
    async def twice(dd: DatadogClient) -> None:
        await dd.add_user_to_role(ROLE, USER)
        await dd.add_user_to_role(ROLE, USER)

    result, peer = await _outcome([http(200, GRANTED, [*headers, *JSON])], twice)
    assert result is None
    assert len(peer.requests) == 2


@pytest.mark.parametrize(
    "headers",
    [
        [(b"Retry-After", b"99999")],
        [(b"Retry-After", b"1764969600")],
        [(b"Retry-After", b"Fri, 31 Dec 9999 23:59:59 GMT")],
        [(b"X-RateLimit-Remaining", b"0"), (b"X-RateLimit-Reset", b"86400")],
    ],
    ids=["huge-seconds", "epoch-as-seconds", "far-date", "day-long-reset"],
)
@pytest.mark.parametrize("call", [grant, revoke])
async def test_one_answer_asking_for_a_day_fails_its_call_at_once_but_does_not_shut_the_endpoint_for_the_day(
    headers: list[tuple[bytes, bytes]], call: Call
) -> None:
    """A 429 asking for longer than the client waits (120 s) fails the call at once, retryably, so ConductorOne can
    run it again later. It used to shut the endpoint's rate-limit bucket for as long as the answer said (up to a day,
    the clamp): every later grant and revoke of roles, a just-in-time revoke included, failed at once with "rate limit
    window resets in 86399s" without a request, so no answer of Datadog's could ever reopen it, until the process
    restarted. Once the longest wait has passed, the next call asks Datadog again."""
    time = FakeTime()
    throttled = http(429, b'{"errors":["Too many requests"]}', [*headers, *JSON])
    body = GRANTED if call is grant else REVOKED
    async with RawPeer([throttled, http(200, body)]) as peer:
        client = _client(peer, retry=RetryPolicy(), sleep=time.sleep, clock=time.clock)
        try:
            with pytest.raises(RateLimited) as first:
                await call(client)
            assert first.value.retry_after is not None
            assert first.value.retry_after > 120
            time.now += RetryPolicy().max_hinted_delay + 1
            await asyncio.wait_for(call(client), timeout=10)
        finally:
            await client.aclose()
    assert len(peer.requests) == 2


# -- writes whose status is their outcome --------------------------------------------------------------------------


def remove_team_member(dd: DatadogClient) -> Awaitable[None]:
    return dd.remove_team_member("t-1", USER)


def disable_user(dd: DatadogClient) -> Awaitable[None]:
    return dd.disable_user(USER)


def delete_app_key(dd: DatadogClient) -> Awaitable[None]:
    return dd.delete_service_account_app_key("sa-1", "k-1")


def revoke_token(dd: DatadogClient) -> Awaitable[None]:
    return dd.revoke_service_account_access_token("sa-1", "t-1")


DECIDED_BY_STATUS = [remove_team_member, disable_user, delete_key, delete_app_key, revoke_token]
PAGE = b"<html><body><h1>Service Temporarily Unavailable</h1></body></html>"


@pytest.mark.parametrize(
    "answer",
    [
        http(200, PAGE),
        http(200, PAGE, ()),
        http(200, PAGE, [(b"Content-Type", b"application/vnd.api+json")]),
        http(200, b'{"data":' * 100_000 + b"null" + b"}" * 100_000),
        http(202, b"OK"),
    ],
    ids=["page-labelled-json", "page-unlabelled", "page-labelled-json-api", "json-too-deep", "202-text"],
)
@pytest.mark.parametrize("call", DECIDED_BY_STATUS)
async def test_a_revoke_delete_or_disable_answered_by_a_body_that_is_not_json_is_not_done(
    answer: bytes, call: Call
) -> None:
    """Datadog answers these writes with 204 and no body (or JSON). A 2xx whose body is not JSON (a web front end's or
    a proxy's page, labelled as JSON or not labelled at all) is no word from Datadog: its status alone reported an
    offboarding, a team removal or a credential's deletion done that Datadog never saw, while a page labelled
    text/html was already refused."""
    result, _ = await _outcome([answer], call)
    error = _refused(result, UnexpectedResponse, "not JSON")
    assert error.retryable


@pytest.mark.parametrize("answer", [http(204, b""), http(200, b""), http(200, b"{}"), http(200, b'{"data":null}')])
@pytest.mark.parametrize("call", DECIDED_BY_STATUS)
async def test_a_revoke_delete_or_disable_answered_with_json_or_nothing_is_done(answer: bytes, call: Call) -> None:
    result, _ = await _outcome([answer], call)
    assert result is None


@pytest.mark.parametrize("answer", [http(201, b""), http(201, b"{}")])
@pytest.mark.parametrize("call", DECIDED_BY_STATUS)
async def test_a_removal_answered_201_created_is_not_done(answer: bytes, call: Call) -> None:
    """Datadog answers a DELETE 204: 201 Created says something was made, which no removal does. A stub's or a proxy's
    empty 201 reported an offboarding, a team removal or a credential's deletion done."""
    result, _ = await _outcome([answer], call)
    error = _refused(result, UnexpectedResponse, "HTTP 201 Created answers no removal")
    assert error.retryable


def enable_user(dd: DatadogClient) -> Awaitable[object]:
    return dd.enable_user(USER)


def invite(dd: DatadogClient) -> Awaitable[object]:
    return dd.send_invitation(USER)


@pytest.mark.parametrize("call", [enable_user, invite, disable_user])
async def test_a_write_answered_under_an_odd_2xx_is_named_by_its_body_first(call: Call) -> None:
    """A 206 carrying a web page and a 202 carrying Datadog's refusal: each write names what the body is (the page's
    content type; Datadog's error shape, final as a refusal is) before the status, whichever check it goes through."""
    page = http(206, PAGE, [(b"Content-Type", b"text/html")])
    result, _ = await _outcome([page], call, retry=RetryPolicy(max_attempts=1))
    _refused(result, UnexpectedResponse, "content type")
    if call is invite:
        return  # an invitations answer without `data` is refused as such first, whatever its status
    refusal = http(202, json.dumps({"errors": ["Forbidden: missing user_access_manage"]}).encode())
    result, _ = await _outcome([refusal], call, retry=RetryPolicy(max_attempts=1))
    error = _refused(result, UnexpectedResponse, "a success status with Datadog's error body")
    assert not error.retryable
