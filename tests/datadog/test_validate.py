"""Startup validation checks both keys, says which one is wrong, and never shows a key."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from connector.datadog.errors import DatadogError, InvalidAPIKey, InvalidApplicationKey, InvalidCredentials
from connector.datadog.transport import ApiTransport
from tests.datadog.helpers import CANARY_API_KEY, CANARY_APP_KEY, ClientFactory, answered_by
from tests.fakes.datadog import FakeDatadog, generate_org


@pytest.fixture
def canary_fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=5, seed=1, teams=1, schedules=1), api_key=CANARY_API_KEY,
                     app_key=CANARY_APP_KEY) as fake:  # fmt: skip
        yield fake


def _assert_no_canary(*texts: str) -> None:
    for text in texts:
        assert CANARY_API_KEY not in text
        assert CANARY_APP_KEY not in text


async def test_valid_keys_pass_with_one_call_per_key(canary_fake: FakeDatadog, make_client: ClientFactory) -> None:
    client = make_client(canary_fake)
    await client.validate()
    validate = canary_fake.requests("GET", "/api/v1/validate")
    users = canary_fake.requests("GET", "/api/v2/users")
    assert len(validate) == 1
    assert len(users) == 1
    assert users[0].param("page[size]") == "1"


async def test_wrong_api_key_is_named(
    canary_fake: FakeDatadog, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(canary_fake, api_key=SecretStr(CANARY_API_KEY[:-1] + "X"))
    with pytest.raises(InvalidAPIKey) as raised:
        await client.validate()
    error = raised.value
    assert error.key == "api_key"
    assert isinstance(error, InvalidCredentials)
    assert "API key" in str(error)
    assert "DD-API-KEY" in str(error)
    assert error.status == 403
    _assert_no_canary(str(error), repr(error), repr(client), repr(client.stats), caplog.text)
    assert CANARY_API_KEY[:-1] not in str(error) + repr(error) + caplog.text


async def test_wrong_application_key_is_named(
    canary_fake: FakeDatadog, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(canary_fake, app_key=CANARY_API_KEY)  # the classic swap: API key as app key
    with pytest.raises(InvalidApplicationKey) as raised:
        await client.validate()
    error = raised.value
    assert error.key == "application_key"
    assert "application key" in str(error)
    assert "DD-APPLICATION-KEY" in str(error)
    assert error.messages == ("Forbidden",)
    # The API key was checked on its own first, and passed.
    assert canary_fake.requests("GET", "/api/v1/validate")[0].status == 200
    _assert_no_canary(str(error), repr(error), repr(client), caplog.text)


async def test_validate_sends_only_the_api_key_to_the_api_key_check(make_client: ClientFactory) -> None:
    import httpx

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = b'{"valid": true}' if request.url.path == "/api/v1/validate" else b'{"data": [], "meta": {}}'
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    from connector.datadog.client import DatadogClient

    async with DatadogClient(
        api_key=CANARY_API_KEY, app_key=CANARY_APP_KEY, transport=httpx.MockTransport(handler)
    ) as dd:
        await dd.validate()
    assert seen[0].headers["DD-API-KEY"] == CANARY_API_KEY
    assert "DD-APPLICATION-KEY" not in seen[0].headers
    assert seen[1].headers["DD-APPLICATION-KEY"] == CANARY_APP_KEY
    assert str(seen[0].url).startswith("https://api.datadoghq.com/")


@pytest.mark.parametrize("bad", ["k\u00e9y", "key\r\nX-Injected: 1", "two words", ""])
@pytest.mark.parametrize("which", ["api_key", "app_key"])
def test_a_key_no_header_can_carry_is_refused_when_the_client_is_made(which: str, bad: str) -> None:
    """The transport is where the keys become headers: a key that could never authenticate is refused there,
    whoever builds the client, and the message never quotes it."""
    keys = {"api_key": CANARY_API_KEY, "app_key": CANARY_APP_KEY, which: CANARY_API_KEY + bad if bad else ""}
    with pytest.raises(ValueError, match="API key and the application key") as refused:
        ApiTransport(api_key=keys["api_key"], app_key=keys["app_key"], base_url="http://127.0.0.1:1")
    assert CANARY_API_KEY not in str(refused.value)


_PROXY_PAGES = {
    "html": httpx.Response(403, text="<html><body>Access denied by policy</body></html>"),
    "gateway-json": httpx.Response(403, json={"message": "Forbidden"}),
    "empty-401": httpx.Response(401, text=""),
}


@pytest.mark.parametrize("answered", _PROXY_PAGES.values(), ids=_PROXY_PAGES.keys())
@pytest.mark.parametrize("refused", ["/api/v1/validate", "/api/v2/users"])
async def test_a_refusal_that_is_not_datadogs_is_no_verdict_on_the_keys(refused: str, answered: httpx.Response) -> None:
    """A 401 or 403 is Datadog's verdict on a key only with Datadog's error body. A TLS-inspecting proxy's or a
    gateway's 403 page at the key check was "Datadog rejected a key": the daemon exited 1 telling the operator to fix
    keys that were right. It is the 403 it is (the daemon warns and carries on; the first sync reports it)."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == refused:
            return answered
        if request.url.path == "/api/v1/validate":
            return httpx.Response(200, json={"valid": True})
        return httpx.Response(200, json={"data": [], "meta": {"page": {"total_filtered_count": 0}}})

    async with answered_by(answer) as client:
        with pytest.raises(DatadogError) as raised:
            await client.validate()
    assert not isinstance(raised.value, InvalidCredentials)
    assert (raised.value.status, raised.value.path) == (answered.status_code, refused)


@pytest.mark.parametrize(
    ("refused", "rejected"), [("/api/v1/validate", InvalidAPIKey), ("/api/v2/users", InvalidApplicationKey)]
)
async def test_datadogs_own_refusal_still_names_the_key(refused: str, rejected: type[InvalidCredentials]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == refused:
            return httpx.Response(403, json={"errors": ["Forbidden"]})
        return httpx.Response(200, json={"valid": True})

    async with answered_by(answer) as client:
        with pytest.raises(rejected):
            await client.validate()


@pytest.mark.parametrize(
    ("edit", "shown"),
    [
        ({"valid": "true"}, "no boolean `valid` (valid: expected a boolean, got a string)"),
        ({"valid": 1}, "no boolean `valid` (valid: expected a boolean, got a number)"),
        ({"valid": None}, "no boolean `valid` (valid: expected a boolean, got null)"),
        ({}, "no boolean `valid` (valid: missing)"),
    ],
)
async def test_a_key_check_answer_of_the_wrong_json_type_says_what_came_instead(
    canary_fake: FakeDatadog, make_client: ClientFactory, edit: dict[str, object], shown: str
) -> None:
    """The start-up key check's answer without a boolean `valid` said only "no boolean `valid`": a string "true", a 1,
    a null and no member at all read alike. It says which, and is no rejection of the key."""
    canary_fake.faults.rewrite(lambda _body: edit, path="/api/v1/validate", method="GET")
    with pytest.raises(DatadogError) as raised:
        await make_client(canary_fake).validate()
    assert not isinstance(raised.value, InvalidCredentials)
    assert str(raised.value) == f"Datadog unexpected response: GET /api/v1/validate -> 200: {shown}"


HEX_API_KEY = "3e9f0c7a1b2d4e6f8a9b0c1d2e3f4a5b"  # an API key's shape: 32 hexadecimal characters
HEX_APP_KEY = "8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b"  # an application key's: 40


@pytest.fixture
def hex_fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=5, seed=1), api_key=HEX_API_KEY, app_key=HEX_APP_KEY) as fake:
        yield fake


@pytest.mark.parametrize(
    ("api_key", "app_key", "rejected", "hint"),
    [
        (
            HEX_APP_KEY,
            HEX_API_KEY,
            InvalidAPIKey,
            "the API key given has an application key's shape (40 hexadecimal characters; an API key has 32); the "
            "application key given has an API key's: the two look swapped",
        ),
        (
            HEX_APP_KEY,
            HEX_APP_KEY,
            InvalidAPIKey,
            "the API key given has an application key's shape (40 hexadecimal characters; an API key has 32)",
        ),
        (
            HEX_API_KEY,
            HEX_API_KEY,
            InvalidApplicationKey,
            "the application key given has an API key's shape (32 hexadecimal characters; an application key has 40): "
            "it is the API key given twice",
        ),
        (
            HEX_API_KEY,
            "0123456789abcdef0123456789abcdef",
            InvalidApplicationKey,
            "the application key given has an API key's shape (32 hexadecimal characters; an application key has 40): "
            "is it an API key?",
        ),
    ],
    ids=["swapped", "app key twice", "api key twice", "another api key"],
)
async def test_a_key_of_the_other_kind_is_named_by_its_shape_not_its_site(
    hex_fake: FakeDatadog,
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
    api_key: str,
    app_key: str,
    rejected: type[InvalidCredentials],
    hint: str,
) -> None:
    """An API key is 32 hexadecimal characters, an application key 40. Two values of a Secret swapped, or one key given
    for both, were rejected with "the key may belong to another Datadog site": a newcomer checked the site, which was
    right. The shapes say which key is of the other kind; neither key, nor any part of one, is shown."""
    caplog.set_level(logging.DEBUG)
    client = make_client(hex_fake, api_key=SecretStr(api_key), app_key=SecretStr(app_key))
    with pytest.raises(rejected) as raised:
        await client.validate()
    assert raised.value.hint == hint
    assert str(raised.value).endswith(f"({hint})")
    assert "another Datadog site" not in str(raised.value)
    for text in (str(raised.value), repr(raised.value), repr(client), caplog.text):
        for key in (HEX_API_KEY, HEX_APP_KEY, app_key):
            assert key[:8] not in text


async def test_a_rejected_key_of_its_own_shape_still_names_the_site(
    hex_fake: FakeDatadog, make_client: ClientFactory
) -> None:
    """A key of the right shape that Datadog rejects is most often one of another site: that hint stays."""
    client = make_client(hex_fake, api_key=SecretStr("f" * 32))
    with pytest.raises(InvalidAPIKey) as raised:
        await client.validate()
    assert raised.value.hint is not None
    assert raised.value.hint.startswith("the key may belong to another Datadog site; this connector uses site ")
