"""Issue 11: any bytes as Datadog's answer, seeded. Each case mutates a real answer (a role's users, a 204, a 429, a
gzipped list, a key's creation) at the byte level (bytes flipped, inserted, cut, header lines and JSON tokens
spliced in, the whole doubled) and hands it to one of the client's calls from a real peer on 127.0.0.1. Whatever the
bytes, the call returns or raises one of the client's errors, within its bounds, and no error holds a key.

Seeded and bounded (the slow tier: about 7 s a seed); a failure names its seed and case."""

from __future__ import annotations

import asyncio
import gzip
import json
import random
from collections.abc import Awaitable, Callable

import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import DatadogError
from connector.datadog.retry import RetryPolicy
from tests.datadog.helpers import listed
from tests.independent.rawpeer import JSON, CloseAfter, RawPeer, http
from tests.independent.test_issue11_datadog_http import API_KEY, APP_KEY, GRANTED, REVOKED

pytestmark = pytest.mark.slow

CASES = 150
SEEDS = (11, 102)

_KEY = json.dumps(
    {"data": {"type": "api_keys", "id": "k", "attributes": {"name": "c1-issued", "key": "0123456789abcdef" * 2}}}
).encode()
ANSWERS = [
    http(200, GRANTED),
    http(200, REVOKED),
    http(204, b""),
    http(429, b'{"errors":["Too many requests"]}', [(b"Retry-After", b"1"), *JSON]),
    http(200, gzip.compress(GRANTED), [(b"Content-Encoding", b"gzip"), *JSON]),
    http(201, _KEY),
]
SPLICED = [b"\r\n", b"\r\n\r\n", b"Content-Length: 5\r\n", b"Transfer-Encoding: chunked\r\n", b"\x00", b"{", b"}"]
SPLICED += [b'"', b"1e999", b"[", b"\xff", API_KEY.encode()]
CALLS: list[Callable[[DatadogClient], Awaitable[object]]] = [
    lambda dd: dd.add_user_to_role("r-1", "u-1"),
    lambda dd: dd.remove_user_from_role("r-1", "u-1"),
    lambda dd: dd.delete_api_key("k-1"),
    lambda dd: dd.create_api_key("c1-issued"),
    lambda dd: listed(dd.fetch_users)(0),
    lambda dd: dd.disable_user("u-1"),
    lambda dd: dd.get_user("u-1"),
    lambda dd: dd.add_team_member("t-1", "u-1"),
    lambda dd: listed(dd.fetch_teams)(0),
    lambda dd: dd.validate(),
]


def _mutated(rng: random.Random, answer: bytes) -> bytes:
    data = bytearray(answer)
    for _ in range(rng.randint(1, 6)):
        op, at = rng.random(), rng.randrange(len(data)) if data else 0
        if op < 0.3 and data:
            data[at] = rng.randrange(256)
        elif op < 0.5:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op < 0.7 and data:
            del data[at : at + rng.randint(1, 20)]
        elif op < 0.85:
            data[at:at] = rng.choice(SPLICED)
        else:
            data = bytearray(bytes(data) * 2)
    return bytes(data)


@pytest.mark.parametrize("seed", SEEDS)
async def test_any_bytes_as_datadogs_answer_end_in_a_result_or_one_of_the_clients_errors(seed: int) -> None:
    rng = random.Random(seed)
    policy = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002, max_hinted_delay=0.5)
    for case in range(CASES):
        answer, call = _mutated(rng, rng.choice(ANSWERS)), rng.choice(CALLS)
        async with RawPeer([CloseAfter(answer)]) as peer:
            client = DatadogClient(
                api_key=API_KEY, app_key=APP_KEY, base_url=peer.base_url, retry=policy, timeout=1, connect_timeout=1
            )
            try:
                # Bounded: at most two attempts of connect + 2 x timeout each, and the 429's wait.
                await asyncio.wait_for(call(client), timeout=20)
            except DatadogError as exc:
                for text in (str(exc), repr(exc)):
                    assert API_KEY not in text, (seed, case)
                    assert APP_KEY not in text, (seed, case)
            finally:
                await client.aclose()
