"""One mapping from a Datadog error response to a typed error, for every body shape Datadog uses."""

from __future__ import annotations

import json

import pytest

from connector.datadog.errors import (
    Conflict,
    DatadogError,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
    UnexpectedResponse,
    error_for_response,
    nothing_done,
    parse_error_messages,
)
from connector.datadog.ratelimit import RateLimitHeaders
from tests.datadog.helpers import ClientFactory
from tests.fakes.datadog import FakeDatadog


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, Invalid), (401, Unauthorized), (403, Forbidden), (404, NotFound), (409, Conflict), (422, Invalid),
        (429, RateLimited), (500, Unavailable), (502, Unavailable), (503, Unavailable), (504, Unavailable),
        (405, DatadogError), (418, DatadogError),
    ],
)  # fmt: skip
def test_status_maps_to_error_class(status: int, cls: type[DatadogError]) -> None:
    error = error_for_response(status, method="get", path="/api/v2/users/x", body=b'{"errors":["nope"]}')
    assert type(error) is cls
    assert (error.status, error.method, error.path, error.messages) == (status, "GET", "/api/v2/users/x", ("nope",))


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        ({"errors": ["abc not found"]}, ("abc not found",)),
        (
            {"errors": [{"status": "409", "title": "Conflict", "detail": "users already present on the team [u]"}]},
            ("users already present on the team [u]",),
        ),
        ({"errors": [{"title": "Forbidden"}]}, ("Forbidden",)),
        (
            {
                "errors": [
                    "{'errors': [{'detail': 'Not a valid choice.', 'source': {'pointer': '/data/attributes/role'}}]}"
                ]
            },
            ("Not a valid choice. (/data/attributes/role)",),
        ),
        ({"errors": ["one", {"detail": "two"}]}, ("one", "two")),
        ({"errors": []}, ()),
        ({"message": "plain"}, ("plain",)),
    ],
)
def test_both_error_shapes_are_parsed(body: object, messages: tuple[str, ...]) -> None:
    assert parse_error_messages(json.dumps(body).encode()) == messages


@pytest.mark.parametrize(
    "text", ["{'errors': {[]: 'x'}}", "{'errors': [{['a']}]}", "{'errors': {{}: 1}}", "{'errors': ['x'] + {}"]
)
def test_a_message_that_only_looks_like_a_python_dict_is_kept_as_text(text: str) -> None:
    # Python literals that cannot be built (an unhashable key or set member, a broken expression): the message
    # is quoted as sent, not an error of our own (a TypeError escaped as a traceback from the error mapping).
    body = json.dumps({"errors": [text]}).encode()
    assert parse_error_messages(body) == (text,)
    error = error_for_response(409, method="POST", path="/api/v2/team/t/memberships", body=body)
    assert type(error) is Conflict
    assert error.messages == (text,)


@pytest.mark.parametrize("status", [404, 409])
@pytest.mark.parametrize(
    "body", [b"<html><body><h1>404 Not Found</h1></body></html>", b"", b'["not found"]'], ids=["html", "empty", "list"]
)
def test_already_so_statuses_without_datadogs_error_body_are_not_datadogs_word(status: int, body: bytes) -> None:
    # 404 and 409 read as "already revoked" / "already granted" / "gone": only Datadog's JSON error body says so.
    error = error_for_response(status, method="DELETE", path="/api/v2/team/t/memberships/u", body=body)
    assert type(error) is UnexpectedResponse
    assert error.retryable
    assert error.status == status
    assert f"a {status} without Datadog's JSON error body" in str(error)


@pytest.mark.parametrize(("status", "cls"), [(404, NotFound), (409, Conflict)])
@pytest.mark.parametrize(
    "broken", [b"J\xe9r\xf4me", b"J\\ud800r\\ud800me"], ids=["bytes-not-utf8", "lone-surrogate-escape"]
)
def test_datadogs_error_body_with_broken_unicode_is_still_datadogs_word(
    status: int, cls: type[DatadogError], broken: bytes
) -> None:
    # Read as Go reads it (U+FFFD in place), as the sync reads answers: a 404 naming a user whose name held such a
    # byte became a retryable "unexpected answer", and a revoke of a membership already gone retried forever.
    body = b'{"errors": ["user ' + broken + b' not found"]}'
    error = error_for_response(status, method="DELETE", path="/api/v2/team/t/memberships/u", body=body)
    assert type(error) is cls
    assert error.datadog_body
    assert error.messages == ("user J\ufffdr\ufffdme not found",)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_says_it_was_not_followed(status: int) -> None:
    # It read 'Datadog error: GET /api/v2/users -> 301' and nothing else.
    error = error_for_response(status, method="GET", path="/api/v2/users", body=b"")
    assert str(error) == (
        f"Datadog error: GET /api/v2/users -> {status}: a redirect, not followed: check the Datadog site or base URL"
    )


def test_non_json_bodies_become_short_text() -> None:
    assert parse_error_messages(b"<html><body><h1>502 Bad Gateway</h1></body></html>") == ("502 Bad Gateway",)
    assert parse_error_messages(b"") == ()
    assert len(parse_error_messages(b"x" * 5000)[0]) <= 300


def test_query_strings_and_secrets_never_reach_the_error() -> None:
    secret = "0123456789abcdef0123456789abcdef"
    error = error_for_response(
        403,
        method="GET",
        path=f"/api/v2/users/{secret}?api_key={secret}",
        body=json.dumps({"errors": [f"key {secret} is invalid"]}).encode(),
        secrets=[secret],
    )
    for text in (str(error), repr(error), error.path, *error.messages):
        assert secret not in text
    assert "?" not in error.path


def test_rate_limited_carries_the_reset() -> None:
    headers = RateLimitHeaders.parse({"retry-after": "7", "x-ratelimit-name": "users_api"})
    error = error_for_response(429, method="GET", path="/x", body=b"", rate_limit=headers)
    assert isinstance(error, RateLimited)
    assert (error.retry_after, error.limit_name) == (7.0, "users_api")
    assert "Datadog asks to wait 7 s" in str(error)


async def test_the_client_raises_typed_errors_from_real_responses(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    client = make_client(fake)
    team = next(t for t in fake.org.teams.values() if t.members)
    member = next(iter(team.members))

    with pytest.raises(Conflict) as conflict:  # JSON:API error object
        await client.add_team_member(team.id, member)
    assert conflict.value.messages == (f"users already present on the team [{member}]",)
    assert conflict.value.path == f"/api/v2/team/{team.id}/memberships"

    with pytest.raises(NotFound) as missing:  # plain string list
        await client.get_user("00000000-0000-4000-8000-000000000000")
    assert missing.value.messages == ("00000000-0000-4000-8000-000000000000 not found",)

    with pytest.raises(NotFound):
        await client.get_team("not-a-uuid")


@pytest.mark.parametrize(
    "body",
    [
        # The key starts just before the 300-character cut of one message.
        json.dumps({"errors": ["x" * 290 + "0123456789abcdef0123456789abcdef is not a valid key"]}).encode(),
        json.dumps({"errors": [{"detail": "y" * 280 + " 0123456789abcdef0123456789abcdef"}]}).encode(),
        # A non-JSON body: the key starts just before the 4096-byte window that is looked at.
        b"z" * 4090 + b"0123456789abcdef0123456789abcdef",
        b"<p>" + b"w" * 280 + b" 0123456789abcdef0123456789abcdef</p>",
    ],
)
def test_a_secret_cut_by_the_message_cap_leaves_no_prefix(body: bytes) -> None:
    """Scrubbing happens before cutting: a cut first would leave a part of the key that no scrub recognises."""
    secret = "0123456789abcdef0123456789abcdef"
    error = error_for_response(403, method="GET", path="/api/v2/users", body=body, secrets=[secret])
    for text in (str(error), repr(error), *error.messages):
        assert secret[:6] not in text


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b'{"errors":["Forbidden\\u001b]0;owned\\u0007"]}', "Forbidden\\x1b]0;owned\\x07"),
        (b'{"errors":["denied\\nbaton-datadog: granted role:admin"]}', "denied\\nbaton-datadog: granted role:admin"),
        (b'{"errors":[{"detail":"no \\u202egnissim"}]}', "no \\u202egnissim"),
        (b"<html><body>Gone\x1b[2J\xc2\x9b31m</body></html>", "Gone\\x1b[2J\\x9b31m"),
    ],
    ids=["osc-title", "forged-line", "bidi-override", "csi-in-html"],
)
def test_datadogs_messages_are_inert_text_on_one_line(body: bytes, shown: str) -> None:
    """A Datadog message reaches a terminal (a one-shot's closing line, a console log) and the logs: ESC in it ran a
    terminal command (set the title, clear the screen), a newline forged a line of output ("granted …") or of a
    log. Every control or reordering character is written as its escape."""
    (message,) = parse_error_messages(body)
    assert message == shown
    text = str(error_for_response(403, method="POST", path="/api/v2/roles/r1/users", body=body))
    assert f"-> 403: {shown}" in text
    assert text.isprintable()


@pytest.mark.parametrize(
    ("error", "done_nothing"),
    [
        (error_for_response(403, method="POST", path="/p", body=b'{"errors":["Forbidden"]}'), True),
        (error_for_response(429, method="POST", path="/p", body=b'{"errors":["Rate limit exceeded"]}'), True),
        # A proxy's or a load balancer's page, not Datadog's word: it may come after the request got through.
        (error_for_response(403, method="POST", path="/p", body=b"<html>Forbidden</html>"), False),
        (error_for_response(408, method="POST", path="/p", body=b""), False),
        (RateLimited(method="POST", path="/p", status=None, reason="wait too long"), True),
        (Invalid(method="POST", path="/p", status=None, reason="the request URL is invalid"), True),
        (Unavailable(method="POST", path="/p", status=502), False),
        (Unavailable(method="POST", path="/p", status=None, reason="timed out waiting for the response"), False),
        (UnexpectedResponse(method="POST", path="/p", status=201, messages=["response has no data.id"]), False),
    ],
    ids=["403", "429", "403-page", "408-empty", "held-back", "unsendable", "502", "timeout", "unreadable-201"],
)
def test_a_write_certainly_did_nothing_only_when_refused_or_never_sent(error: DatadogError, done_nothing: bool) -> None:
    assert nothing_done(error) is done_nothing


# JSON answers of the gateways and proxies that stand in front of APIs: AWS API Gateway, Kong, a Spring or Express
# front end. Each is a JSON object, and none is Datadog's error shape (an `errors` list, docs/spec/datadog-api.md
# §2.4), so none is Datadog's word on anything.
GATEWAY_JSON = {
    "api-gateway": b'{"message":"Forbidden"}',
    "kong": b'{"message":"no Route matched with those values"}',
    "spring": b'{"timestamp":"2026-12-05T16:00:00Z","status":404,"error":"Not Found","path":"/api/v2/x"}',
    "errors-not-a-list": b'{"errors":"Not Found"}',
    "empty-object": b"{}",
}


@pytest.mark.parametrize("status", [404, 409])
@pytest.mark.parametrize("body", GATEWAY_JSON.values(), ids=GATEWAY_JSON.keys())
def test_already_so_statuses_with_a_gateways_json_are_not_datadogs_word(status: int, body: bytes) -> None:
    """A JSON object is not yet Datadog's error body: a gateway's 404 `{"message": ...}` was taken as Datadog's "not
    a member" (a revoke reported already done, the access left in place) and its 409 as "already a member"."""
    error = error_for_response(status, method="DELETE", path="/api/v2/team/t/memberships/u", body=body)
    assert type(error) is UnexpectedResponse
    assert error.retryable
    assert f"a {status} without Datadog's JSON error body" in str(error)


@pytest.mark.parametrize("body", GATEWAY_JSON.values(), ids=GATEWAY_JSON.keys())
def test_a_4xx_with_a_gateways_json_is_no_proof_that_nothing_was_done(body: bytes) -> None:
    """A create refused in a gateway's JSON may have reached Datadog first: the key it made must be looked for and
    deleted, not left live because the answer was taken as Datadog's refusal."""
    for status in (400, 403, 422):
        assert not nothing_done(error_for_response(status, method="POST", path="/p", body=body))


@pytest.mark.parametrize(
    ("errors", "shown"),
    [
        ([{"code": 403, "meta": {"key": "QUOTED-CANARY"}}], "errors[0] (an object without a string detail or title)"),
        (
            ["first", {"detail": 7, "title": ["QUOTED-CANARY"]}],
            "errors[1] (an object without a string detail or title)",
        ),
        ([["QUOTED-CANARY"]], "errors[0] (expected a string or an object, got an array)"),
        ([918273645], "errors[0] (expected a string or an object, got a number)"),
        ([None], "errors[0] (expected a string or an object, got null)"),
        ({"detail": "QUOTED-CANARY"}, "errors (expected an array, got an object)"),
    ],
)
def test_an_error_body_of_the_wrong_shape_is_named_by_its_path_not_quoted_as_a_python_repr(
    errors: object, shown: str
) -> None:
    """An error item that is no string and no object with a string detail or title was shown as Python's repr of it
    ("{'code': 403, 'meta': {...}}", "[918273645]", "None"): not Datadog's words, and whatever it held quoted as if it
    were. An `errors` of another type than an array said nothing at all. Each is named by its path and JSON type."""
    error = error_for_response(403, method="GET", path="/api/v2/users", body=json.dumps({"errors": errors}).encode())
    assert error.messages[-1] == shown
    for text in (str(error), repr(error)):
        assert "QUOTED-CANARY" not in text
        assert "918273645" not in text
        assert "{'" not in text
        assert "None" not in text
