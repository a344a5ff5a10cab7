"""A key of another Datadog site (an EU key with the default site datadoghq.com): the first request, the key check,
is refused. The message must say which key and which site is in use, without the key. Datadog answers its identity
endpoints' bad keys with 403 (docs/spec/datadog-api.md §2.4), and with 401 elsewhere (On-Call, incidents; its
`validate_keys` "401 or 403"); a 401 with Datadog's error body named the key but not the site, so the user checked
the key, which was right, rather than the site. A 401 or 403 without Datadog's body is a proxy's or gateway's and
stays no verdict on the keys (tests/datadog/test_validate.py)."""

from __future__ import annotations

import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import InvalidAPIKey, InvalidApplicationKey, InvalidCredentials
from tests.independent.datadog.peer import API_KEY, APP_KEY, outcome, refused
from tests.independent.rawpeer import http

VALID = http(200, b'{"valid": true}')


async def check(dd: DatadogClient) -> None:
    await dd.validate()


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize(
    ("answers", "rejected", "key"),
    [
        ([], InvalidAPIKey, "API key (DD-API-KEY)"),
        ([VALID], InvalidApplicationKey, "application key (DD-APPLICATION-KEY)"),
    ],
    ids=["api-key", "app-key"],
)
async def test_a_key_datadog_refuses_names_the_key_and_the_site_in_use(
    status: int, answers: list[bytes], rejected: type[InvalidCredentials], key: str
) -> None:
    word = b"Unauthorized" if status == 401 else b"Forbidden"
    result, _ = await outcome([*answers, http(status, b'{"errors": ["' + word + b'"]}')], check, site="datadoghq.eu")
    error = refused(result, rejected, key, f"-> {status}")
    assert "the key may belong to another Datadog site; this connector uses site datadoghq.eu" in str(error)
    for secret in (API_KEY, APP_KEY, API_KEY[:8], APP_KEY[:8]):
        assert secret not in str(error)
