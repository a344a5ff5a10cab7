"""Shared by the suite: canary keys, a client on a `RawPeer`, and the outcome of one call against scripted answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from connector.datadog.client import DatadogClient
from connector.datadog.errors import DatadogError
from connector.datadog.retry import RetryPolicy
from tests.datadog.helpers import loopback_trust
from tests.independent.rawpeer import Answer, RawPeer

API_KEY = "attack303canaryapikey0123456789a"
APP_KEY = "attack303canaryappkey0123456789abcdef012"
QUICK = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.005, min_rate_limit_wait=0.001)

Call = Callable[[DatadogClient], Awaitable[object]]


def user(uid: str, *roles: str) -> dict[str, Any]:
    return {
        "type": "users",
        "id": uid,
        "attributes": {"email": f"{uid}@example.com", "name": uid, "status": "Active", "disabled": False},
        "relationships": {"roles": {"data": [{"type": "roles", "id": r} for r in roles]}},
    }


def users_page(*users: dict[str, Any]) -> bytes:
    total = {"total_count": len(users), "total_filtered_count": len(users)}
    return json.dumps({"data": list(users), "meta": {"page": total}}).encode()


def client(base_url: str, **options: Any) -> DatadogClient:
    return DatadogClient(
        api_key=API_KEY,
        app_key=APP_KEY,
        base_url=base_url,
        retry=options.pop("retry", QUICK),
        timeout=options.pop("timeout", 3.0),
        connect_timeout=1.0,
        verify=options.pop("verify", loopback_trust()),  # one a process: plain http never uses it
        **options,
    )


async def outcome(answers: list[Answer], call: Call, **options: Any) -> tuple[object, RawPeer]:
    """What `call` returned or raised against a peer answering `answers`, within a bound no case may pass; an error's
    text never holds a key."""
    async with RawPeer(answers) as peer:
        dd = client(peer.base_url, **options)
        try:
            result: object = await asyncio.wait_for(call(dd), timeout=30)
        except DatadogError as exc:
            result = exc
        finally:
            await dd.aclose()
    if isinstance(result, DatadogError):
        for text in (str(result), repr(result)):
            assert API_KEY not in text, text
            assert APP_KEY not in text, text
    return result, peer


def refused(result: object, kind: type[DatadogError], *words: str) -> DatadogError:
    assert isinstance(result, kind), f"expected {kind.__name__}, got {result!r}"
    for word in words:
        assert word in str(result), str(result)
    return result
