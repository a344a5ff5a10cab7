"""Hostile answers of the fake Datadog: what a broken proxy, a buggy release or an attacker in the path might
send (issue 11 §3, §4, §10). Scripted per request with `Faults.hostile(mode, path=..., times=...)`.

Modes (each answers in place of the real endpoint):

* ``bad-encoding``: ``Content-Encoding: gzip`` over bytes that are not gzip;
* ``gzip-bomb``: a small gzip body that inflates past any sane response cap;
* ``deep-json``: a JSON body nested 100,000 levels deep;
* ``wrong-types``: ``attributes`` a list and ``relationships`` a string;
* ``numeric-id``: a resource id that is a number;
* ``not-json``: an HTML page labelled ``application/json``;
* ``html``: a JSON body labelled ``text/html``;
* ``empty``: 200 with no body;
* ``truncated``: a ``Content-Length`` promising more than is sent before the connection closes;
* ``huge``: a valid body of `Faults.huge_bytes` bytes;
* ``hang``: nothing at all until the client hangs up, or for `Faults.hang_seconds` (a bound);
* ``endless``: full pages of new users without any total, forever;
* ``growing-total``: full pages of new users whose total always promises one more page;
* ``repeat``: the same full page of users whatever page is asked for, with a large total;
* ``past-total``: a page of users whose own total says the list is empty;
* ``empty-page``: no users, though the page's own total says there are 1,000;
* ``no-total``: a users page without ``meta``;
* ``gateway-ok``: 200 with a gateway's or stub's own JSON, ``{"message": "ok"}`` (no JSON:API document);
* ``accepted``: 202 Accepted with no body (a change not completed);
* ``retry-after=<value>``: 429 with ``Retry-After: <value>`` and no other rate-limit header.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

from aiohttp import web

from tests.fakes.datadog.web import JSON

MODES = (
    "bad-encoding",
    "gzip-bomb",
    "deep-json",
    "wrong-types",
    "numeric-id",
    "not-json",
    "html",
    "empty",
    "truncated",
    "huge",
    "hang",
    "endless",
    "growing-total",
    "repeat",
    "past-total",
    "empty-page",
    "no-total",
    "escape-error",
    "gateway-ok",
    "accepted",
)

# Built once: 64 MiB of zeros compress to ~64 KB.
_BOMB: bytes | None = None


def _bomb() -> bytes:
    global _BOMB
    if _BOMB is None:
        _BOMB = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    return _BOMB


def _raw(body: bytes, *, status: int = 200, content_type: str = JSON, **headers: str) -> web.Response:
    response = web.Response(status=status, body=body)
    response.headers["Content-Type"] = content_type
    for key, value in headers.items():
        response.headers[key.replace("_", "-")] = value
    return response


def _json(payload: Any) -> web.Response:
    return _raw(json.dumps(payload, separators=(",", ":")).encode())


def _user(uid: str) -> dict[str, Any]:
    return {
        "type": "users",
        "id": uid,
        "attributes": {"email": f"{uid}@example.com", "name": uid, "status": "Active", "disabled": False},
        "relationships": {"roles": {"data": []}},
    }


def _page_number(request: web.Request) -> int:
    raw = request.query.get("page[number]", "0")
    return int(raw) if raw.isdigit() else 0


def _size(request: web.Request) -> int:
    raw = request.query.get("page[size]", "100")
    return min(int(raw), 100) if raw.isdigit() and int(raw) > 0 else 100


async def answer(request: web.Request, mode: str, *, hang_seconds: float, huge_bytes: int) -> web.StreamResponse:
    number, size = _page_number(request), _size(request)
    if mode.startswith("retry-after="):
        return _raw(b'{"errors":["Too many requests"]}', status=429, Retry_After=mode.split("=", 1)[1])
    if mode == "bad-encoding":
        return _raw(b"this is not gzip at all", Content_Encoding="gzip")
    if mode == "gzip-bomb":
        return _raw(_bomb(), Content_Encoding="gzip")
    if mode == "deep-json":
        depth = 100_000
        return _raw(b'{"data":[],"meta":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}")
    if mode == "wrong-types":
        item: dict[str, Any] = {"type": "users", "id": "u1", "attributes": [1, 2], "relationships": "roles"}
        return _json({"data": [item], "meta": {"page": {"total_count": 1, "total_filtered_count": 1}}})
    if mode == "numeric-id":
        numeric: dict[str, Any] = {**_user("u1"), "id": 12345}
        return _json({"data": [numeric], "meta": {"page": {"total_count": 1, "total_filtered_count": 1}}})
    if mode == "not-json":
        return _raw(b"<html><body>Service Temporarily Unavailable</body></html>")
    if mode == "html":
        return _raw(b'{"data":[]}', content_type="text/html")
    if mode == "empty":
        return _raw(b"")
    if mode == "truncated":
        # The request's body is read whole first: bytes of it still arriving at a socket already closed would make the
        # kernel answer them with a reset, and the client would read "reset" instead of a cut answer (seen under load).
        await request.read()
        response = web.StreamResponse(status=200, headers={"Content-Type": JSON, "Content-Length": "4096"})
        await response.prepare(request)
        await response.write(b'{"data":[{"type":"users","id":"u1","attri')
        if request.transport is not None:
            request.transport.close()
        return response
    if mode == "huge":
        filler = b" " * max(0, huge_bytes - 20)
        return _raw(b'{"data":[]' + filler + b"}")
    if mode == "hang":
        # Held until the client gives up, not for a set time: an answer sent after 1 s raced the client's 0.1 s
        # timeout, and a loaded machine's stalled loop let it win. The client closing the connection ends the wait,
        # polled: aiohttp tells a handler of a hang-up only by cancelling every handler (`handler_cancellation`).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + hang_seconds
        while request.transport is not None and not request.transport.is_closing() and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return _json({"data": []})
    if mode in ("endless", "growing-total"):
        # Of the listed endpoint's kind: the client refuses a page of another kind of object before its paging.
        kind = "schedules" if request.path.startswith("/api/v2/on-call/schedules") else "users"
        users = [{**_user(f"endless-{number}-{i}"), "type": kind} for i in range(size)]
        meta = {"page": {"total_count": (number + 2) * size, "total_filtered_count": (number + 2) * size}}
        return _json({"data": users, **({"meta": meta} if mode == "growing-total" else {})})
    if mode == "repeat":
        users = [_user(f"same-{i}") for i in range(size)]
        return _json({"data": users, "meta": {"page": {"total_count": 10_000, "total_filtered_count": 10_000}}})
    if mode == "past-total":
        return _json({"data": [_user("ghost")], "meta": {"page": {"total_count": 0, "total_filtered_count": 0}}})
    if mode == "empty-page":
        return _json({"data": [], "meta": {"page": {"total_count": 1000, "total_filtered_count": 1000}}})
    if mode == "no-total":
        return _json({"data": [_user("u1")]})
    if mode == "gateway-ok":
        return _raw(b'{"message":"ok"}')
    if mode == "accepted":
        return _raw(b"", status=202)
    if mode == "escape-error":
        # A refusal whose message would drive a terminal (ESC ] sets the window title) and forge an output line.
        message = "Forbidden\x1b]0;owned\x07\nbaton-datadog: granted everything"
        return _raw(json.dumps({"errors": [message]}).encode(), status=403)
    raise ValueError(f"unknown hostile mode {mode!r}; known: {', '.join(MODES)}, retry-after=<value>")
