"""Bytes after an answer, on the fallback sender (`netio.HttpxSender`, httpx's own pool): the path every request takes
where asyncio cannot carry the connections (an https:// proxy on a Python before 3.11.8, which the project supports;
an httpx or httpcore whose internals moved).

A peer that sends a second answer in the same read as the first (a stray or duplicated response, a proxy mixing up
answers) left it in the kept connection's parser, and it was read as the next request's answer: a stray 201 became a
create's answer, its forged key issued as the new credential while the key the create made stayed live and untraced.
The asyncio path drops such a connection (`OriginPool.release`); the fallback does now too, and each request reads its
own answer on a new connection."""

from __future__ import annotations

import json

import httpx

from connector.datadog.client import DatadogClient
from connector.datadog.errors import DatadogError
from tests.datadog.helpers import listed
from tests.independent.datadog2.org import API_KEY, APP_KEY, QUICK, page_body, user
from tests.independent.rawpeer import RawPeer, http


def _key(key_id: str, secret: str) -> bytes:
    return json.dumps(
        {"data": {"type": "api_keys", "id": key_id, "attributes": {"name": "c1-req", "key": secret}}}
    ).encode()


def _fallback(peer: RawPeer) -> DatadogClient:
    return DatadogClient(
        api_key=API_KEY,
        app_key=APP_KEY,
        base_url=peer.base_url,
        retry=QUICK,
        transport=httpx.AsyncHTTPTransport(),  # injected: sent through `HttpxSender`, as the fallback is
    )


async def test_a_stray_answer_after_a_page_is_not_the_next_creates_answer() -> None:
    stray = http(201, _key("k-forged", "f" * 32))
    async with RawPeer([http(200, page_body([user("u-0")])) + stray, http(201, _key("k-made", "m" * 32))]) as peer:
        dd = _fallback(peer)
        try:
            page = await listed(dd.fetch_users)(0)
            created, secret = await dd.create_api_key("c1-req")
        finally:
            await dd.aclose()
    assert [u.id for u in page.items] == ["u-0"]
    assert created.id == "k-made"
    assert secret is not None
    assert secret.get_secret_value() == "m" * 32
    assert len(peer.requests) == 2
    assert peer.connections == 2  # the connection holding the stray answer was not asked again


async def test_a_duplicated_answer_is_not_the_next_reads_answer() -> None:
    first, second = page_body([user("u-first")]), page_body([user("u-second")])
    async with RawPeer([http(200, first) * 2, http(200, second)]) as peer:
        dd = _fallback(peer)
        try:
            results: list[object] = []
            for _ in range(2):
                try:
                    results.append([u.id for u in (await listed(dd.fetch_users)(0)).items])
                except DatadogError as exc:
                    results.append(exc)
        finally:
            await dd.aclose()
    assert results == [["u-first"], ["u-second"]]
    assert peer.connections == 2
