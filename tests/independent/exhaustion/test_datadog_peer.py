"""A hostile Datadog, many requests in a row: descriptors, threads and tasks stay at a constant few whatever the
peer does with its connections, a 429 asking for 10^30 s is no wait, and an error body of megabytes makes an error of
a few kB (what a log line and a task report quote)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading

import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import DatadogError, RateLimited
from tests.datadog.helpers import listed
from tests.independent.datadog2.org import client, page_body, user
from tests.independent.rawpeer import JSON, Answer, CloseAfter, RawPeer, http

PAGE = page_body([user("a1")], 1)
REQUESTS = 150
ANSWERS: dict[str, list[Answer]] = {
    "keep-alive": [http(200, PAGE)],
    "closed-after-each-answer": [CloseAfter(http(200, PAGE))],
    "connection-close": [http(200, PAGE, [*JSON, (b"Connection", b"close")])],
    "body-cut-short": [CloseAfter(http(200, PAGE)[:-5])],
    "server-error": [http(500, b'{"errors":["x"]}')],
    "not-found": [http(404, b'{"errors":["nope"]}')],
    "2000-headers": [http(200, PAGE, [*JSON, *[(b"X-H%d" % i, b"v") for i in range(2000)]])],
    "a-200-kB-header-line": [http(200, PAGE, [*JSON, (b"X-Big", b"v" * 200_000)])],
}


def _descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("answers", ANSWERS.values(), ids=ANSWERS.keys())
async def test_descriptors_threads_and_tasks_stay_bounded_over_many_requests(answers: list[Answer]) -> None:
    async with RawPeer(answers) as peer:
        dd = client(peer.base_url)
        try:
            await _attempt(dd)  # the first connection, the resolver's thread: what every later request reuses
            descriptors, threads, tasks = _descriptors(), threading.active_count(), len(asyncio.all_tasks())
            for _ in range(REQUESTS):
                await _attempt(dd)
            # The client's pool holds at most one idle connection to a peer it asks one request at a time.
            assert _descriptors() <= descriptors + 1
            assert threading.active_count() <= threads + 1
            assert len(asyncio.all_tasks()) <= tasks + 1
        finally:
            await dd.aclose()
        assert len(peer.requests) >= REQUESTS


async def _attempt(dd: DatadogClient) -> None:
    with contextlib.suppress(DatadogError):  # each answer's outcome is another suite's; here only what it leaves
        await listed(dd.fetch_users)()


async def test_a_429_asking_for_ten_to_the_thirty_seconds_is_one_request_and_no_wait() -> None:
    huge = b"1" + b"0" * 30
    headers = [*JSON, (b"Retry-After", huge), (b"X-RateLimit-Reset", huge), (b"X-RateLimit-Remaining", b"0")]
    async with RawPeer([http(429, b'{"errors":["slow down"]}', headers)]) as peer:
        dd = client(peer.base_url)
        try:
            with pytest.raises(RateLimited):
                await listed(dd.fetch_users)()
            # The bucket is now shut for the longest wait the client takes: the next call is refused without a request.
            with pytest.raises(RateLimited):
                await listed(dd.fetch_users)()
        finally:
            await dd.aclose()
    assert len(peer.requests) == 1


BIG = "y" * 5_000_000
ERROR_BODIES: dict[str, bytes] = {
    "one-5-MB-message": http(400, json.dumps({"errors": [BIG]}).encode()),
    "50000-messages": http(400, json.dumps({"errors": [f"e{i}" + "z" * 100 for i in range(50_000)]}).encode()),
    "json-api-detail": http(422, json.dumps({"errors": [{"detail": BIG, "title": BIG}]}).encode()),
    "5-MB-on-a-500": http(500, json.dumps({"errors": [BIG]}).encode()),
    "5-MB-of-html": http(400, b"<html>" + b"q" * 5_000_000, [(b"Content-Type", b"text/html")]),
    "an-80-kB-reason": http(400, b"{}", reason=b"R" * 80_000),
}


@pytest.mark.parametrize("answer", ERROR_BODIES.values(), ids=ERROR_BODIES.keys())
async def test_an_error_body_of_megabytes_makes_an_error_of_a_few_kilobytes(answer: bytes) -> None:
    async with RawPeer([answer]) as peer:
        dd = client(peer.base_url)
        try:
            with pytest.raises(DatadogError) as raised:
                await listed(dd.fetch_users)()
        finally:
            await dd.aclose()
    assert len(str(raised.value)) < 4096
    assert len(repr(raised.value)) < 8192
