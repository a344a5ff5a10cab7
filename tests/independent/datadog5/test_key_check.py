"""The key check's application-key probe (`GET /api/v2/users?page[size]=1`) answered with a 2xx that is no users page.

`DatadogClient.validate` took the probe's status alone as the keys' worth: a proxy's or a captive portal's 200 page,
Datadog's error shape under a 200, an empty body or a page of roles passed it, and the service reported ready (the
one-shot went on) on an application key nothing had checked. Each is refused now as the unusable answer it is, naming
the endpoint and what was wrong; a users page (empty or not) still passes."""

from __future__ import annotations

import pytest

from connector.datadog.errors import DatadogError, UnexpectedResponse
from tests.independent.datadog2.org import API_KEY, APP_KEY, client, page_body, role, user
from tests.independent.rawpeer import JSON, RawPeer, http

VALID = http(200, b'{"valid": true}')

REFUSED = {
    "an HTML page": (http(200, b"<html><body>Welcome to the network</body></html>", [(b"Content-Type", b"text/html")]),
                     "content type 'text/html' where JSON was expected"),
    "Datadog's error shape": (http(200, b'{"data": [], "errors": ["Forbidden"]}'), "a success status with Datadog's error body"),
    # As Datadog's errors are, with no `data`: it was "1 invalid field(s): data (missing)".
    "Datadog's error shape alone": (http(200, b'{"errors": ["Forbidden"]}'), "a success status with Datadog's error body"),
    "an empty body": (http(200, b""), "empty body where JSON was expected"),
    "a gateway's JSON": (http(200, b'{"status": "ok"}'), "data (missing)"),
    "a page of roles": (http(200, page_body([role("r-1")])), 'data[0].type: expected "users"'),
    "JSON that is no object": (http(200, b"[]"), "the body (expected an object"),
}  # fmt: skip


async def _validate(probe: bytes) -> tuple[DatadogError | None, list[bytes]]:
    async with RawPeer([VALID, probe]) as peer:
        dd = client(peer.base_url)
        try:
            await dd.validate()
            error = None
        except DatadogError as exc:
            error = exc
        finally:
            await dd.aclose()
    for canary in (API_KEY, APP_KEY):
        assert canary not in str(error)
    return error, peer.requests


@pytest.mark.parametrize("case", list(REFUSED))
async def test_a_probe_answer_that_is_no_users_page_is_refused(case: str) -> None:
    probe, said = REFUSED[case]
    error, requests = await _validate(probe)
    assert isinstance(error, UnexpectedResponse), error
    assert str(error).startswith("Datadog unexpected response: GET /api/v2/users -> 200: "), str(error)
    assert said in str(error), str(error)
    assert len(requests) == 2  # validate, then the probe once: the client does not ask again


@pytest.mark.parametrize("users", [[], [user("u-0")]])
async def test_a_users_page_passes(users: list[dict[str, object]]) -> None:
    error, requests = await _validate(http(200, page_body(users), [*JSON]))
    assert error is None
    assert [r.split(b" ", 2)[1].split(b"?")[0] for r in requests] == [b"/api/v1/validate", b"/api/v2/users"]


@pytest.mark.parametrize("body", [b'{"errors": ["Forbidden"]}', b'{"data": [], "errors": ["Forbidden"]}'])
async def test_a_listing_answered_with_datadogs_error_body_is_refused_as_that(body: bytes) -> None:
    """A listing's page too (`_fetch_page`): Datadog's error shape alone was named a page missing its `data`, and
    beside `data` it was read as the page (an empty one here: no users listed, on a body saying the listing failed)."""
    async with RawPeer([http(200, body)]) as peer:
        dd = client(peer.base_url)
        try:
            with pytest.raises(UnexpectedResponse, match="a success status with Datadog's error body"):
                (await dd.fetch_users(0))()
        finally:
            await dd.aclose()
