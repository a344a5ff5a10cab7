"""Property: whatever Datadog answers (any status, headers, encoding, JSON shape or bytes), the client, the
paging helper and the models raise nothing but a `DatadogError`, never wait for real, and make a bounded
number of requests (issue 11 §3, §4; the invariant in docs/service-mode.md, "Datadog failures").

The answers are served in-process (httpx.MockTransport) so hundreds of cases run in seconds; the fault-
injection tests in test_hostile.py cover the same classes over a real socket.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.datadog.client import DatadogClient, included_roles
from connector.datadog.errors import DatadogError
from connector.datadog.paging import paginate
from connector.datadog.retry import RetryPolicy
from tests.datadog.helpers import CANARY_API_KEY, CANARY_APP_KEY, FakeTime, listed

pytestmark = pytest.mark.fuzz

RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, max_rate_limit_retries=2, max_hinted_delay=5.0)
MAX_PAGES = 4
# Per logical request: at most max_attempts failures plus max_rate_limit_retries + 1 throttled answers.
ATTEMPTS_PER_CALL = RETRY.max_attempts + RETRY.max_rate_limit_retries + 1

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
ids = st.one_of(st.text(max_size=10), st.integers(), st.none(), json_values)
linkage = st.one_of(
    st.none(),
    st.fixed_dictionaries({"type": st.sampled_from(["roles", "users", "x"]), "id": ids}),
    st.lists(st.fixed_dictionaries({"type": st.just("roles"), "id": ids}), max_size=3),
    json_values,
)
relationships = st.one_of(
    st.dictionaries(st.sampled_from(["roles", "org", "user", "team", "shifts"]), st.fixed_dictionaries({"data": linkage}) | json_values, max_size=3),
    json_values,
)  # fmt: skip
attributes = st.one_of(
    st.dictionaries(
        st.sampled_from(["email", "name", "status", "disabled", "service_account", "created_at", "scopes", "role", "user_count", "position", "start"]),
        json_values,
        max_size=5,
    ),
    json_values,
)  # fmt: skip
resources = st.one_of(
    st.fixed_dictionaries(
        {"id": ids},
        optional={"type": st.sampled_from(["users", "roles", "team", "shifts", "schedule_oncall_responder"]) | json_values,
                  "attributes": attributes, "relationships": relationships},
    ),
    json_values,
)  # fmt: skip
counts = st.one_of(st.integers(min_value=-5, max_value=1000), st.integers(), json_values)
metas = st.one_of(
    st.fixed_dictionaries({"page": st.dictionaries(st.sampled_from(["total_count", "total_filtered_count", "total", "size", "next_number", "last_number"]), counts, max_size=3)}),
    st.fixed_dictionaries({"pagination": st.dictionaries(st.sampled_from(["total", "size", "limit", "last_number", "next_number"]), counts, max_size=3)}),
    json_values,
)  # fmt: skip
envelopes = st.fixed_dictionaries(
    {},
    optional={"data": st.lists(resources, max_size=6) | resources, "included": st.lists(resources, max_size=4) | json_values,
              "meta": metas, "errors": json_values},
)  # fmt: skip


def _encode(payload: Any) -> bytes:
    return json.dumps(payload, allow_nan=True).encode()


bodies = st.one_of(
    envelopes.map(_encode),
    json_values.map(_encode),
    st.binary(max_size=64),
    st.sampled_from([b"", b"{", b'{"data": [', b"<html>oops</html>", b"[" * 5000 + b"]" * 5000, b"\xff\xfe"]),
)
encodings = st.sampled_from([None, "gzip", "deflate", "identity", "br", "x-garbage", "gzip, gzip"])
content_types = st.sampled_from(
    [None, "application/json", "application/vnd.api+json", "text/html; charset=utf-8", "text/plain", "", "\x00"]
)
header_values = st.one_of(
    st.integers(min_value=-10, max_value=10).map(str), st.sampled_from(["0", "1e308", "nan", "inf", "-1", "9" * 30,
    "Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", ""]), st.text(max_size=8),
)  # fmt: skip
rate_headers = st.dictionaries(
    st.sampled_from(["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Period", "X-RateLimit-Name", "Retry-After"]),
    header_values,
    max_size=4,
)  # fmt: skip
statuses = st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 409, 418, 422, 429, 500, 501, 502, 503])


Answer = tuple[int, dict[str, str], bytes]


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    body = draw(bodies)
    encoding = draw(encodings)
    if encoding == "gzip" and draw(st.booleans()):
        body = gzip.compress(body)
    elif encoding == "deflate" and draw(st.booleans()):
        body = zlib.compress(body)
    headers: dict[str, str] = {}
    for key, value in draw(rate_headers).items():
        if value.isprintable() and value.isascii():
            headers[key] = value
    content_type = draw(content_types)
    if content_type is not None and content_type.isprintable():
        headers["Content-Type"] = content_type
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    return draw(statuses), headers, body


def _run(script: list[Answer], call: Callable[[DatadogClient], Awaitable[Any]]) -> int:
    """Serve `script` (cycled) to a client running `call`; return how many requests it made."""
    served = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal served
        status, headers, body = script[served % len(script)]
        served += 1
        # A raw stream: the body is decoded (or fails to be) only when the client reads it, as on the wire.
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))

    async def main() -> None:
        clock = FakeTime()
        client = DatadogClient(
            api_key=CANARY_API_KEY,
            app_key=CANARY_APP_KEY,
            base_url="https://api.datadoghq.com",
            transport=httpx.MockTransport(handler),
            retry=RETRY,
            max_pages=MAX_PAGES,
            max_response_bytes=64 * 1024,
            sleep=clock.sleep,
            clock=clock.clock,
        )
        shown = ""
        try:
            # The bound is not a wall-clock assertion: a hang would show as this timeout, not as slowness.
            await asyncio.wait_for(call(client), timeout=30)
        except DatadogError as exc:
            shown = str(exc) + repr(exc)
        finally:
            await client.aclose()
        assert CANARY_API_KEY not in shown
        assert CANARY_APP_KEY not in shown
        assert sum(clock.sleeps) <= (RETRY.max_attempts * RETRY.max_delay + 3 * RETRY.max_hinted_delay) * (
            MAX_PAGES + 2
        )

    asyncio.run(main())
    return served


async def _walk_users(client: DatadogClient) -> None:
    async for page in paginate(listed(client.fetch_users)):
        included_roles(page)


async def _walk_teams(client: DatadogClient) -> None:
    async for page in paginate(listed(client.fetch_teams)):
        for team in page.items:
            assert isinstance(team.id, str)


async def _walk_schedules(client: DatadogClient) -> None:
    async for _ in paginate(client.list_schedules):
        pass


CALLS: dict[str, Callable[[DatadogClient], Awaitable[Any]]] = {
    "validate": lambda c: c.validate(),
    "walk_users": _walk_users,
    "walk_teams": _walk_teams,
    "walk_schedules": _walk_schedules,
    "get_user": lambda c: c.get_user("u1"),
    "responders": lambda c: c.get_schedule_responders("s1"),
    "add_user_to_role": lambda c: c.add_user_to_role("r1", "u1"),
    "list_api_keys": lambda c: c.list_api_keys(0),
    "team_memberships": lambda c: c.list_team_memberships("t1", 0),
    "disable_user": lambda c: c.disable_user("u1"),
}


@given(script=st.lists(answers(), min_size=1, max_size=6), call=st.sampled_from(sorted(CALLS)))
def test_any_answer_ends_in_a_result_or_a_datadog_error(script: list[Answer], call: str) -> None:
    requests = _run(script, CALLS[call])
    assert requests <= ATTEMPTS_PER_CALL * (MAX_PAGES + 2)


@given(envelope=envelopes, total=counts)
def test_any_page_shape_through_paging_and_models(envelope: dict[str, Any], total: Any) -> None:
    """Every page answers 200 with a JSON:API-ish body; the walk ends within the page ceiling."""
    if isinstance(envelope.get("meta"), dict) and "page" in envelope["meta"]:
        envelope["meta"]["page"]["total_count"] = total
    requests = _run([(200, {"Content-Type": "application/json"}, _encode(envelope))], _walk_users)
    assert requests <= MAX_PAGES
