"""The hostile path between the connector and the fake Datadog: every request goes to the fake on 127.0.0.1 over a
real connection, unless a scripted rule answers it in Datadog's place, or lets it land and then loses its answer.

A rule matches one method and a path (a regular expression, matched whole) and is used `times` times. What it does:

* `answer(status, body, content_type)`: the request never reaches Datadog; the rule's bytes are the answer;
* `landed_then(status, body, content_type)`: the request reaches Datadog (the change is made), the answer is replaced;
* `landed_then_lost(exc)`: the request reaches Datadog, then the connection fails (a reset, a timeout) before the
  answer arrives;
* `edited(edit)`: Datadog's own JSON answer, changed by `edit` on its way back;
* `echoed(status)`: the request never reaches Datadog; its own body is the answer (a stub or mock integration that
  reflects what it is sent).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.datadog.helpers import ToTheFake

Action = Callable[[httpx.Request, "Wire"], Awaitable[httpx.Response]]
JSON = "application/json"
_HOP = {"content-encoding", "content-length", "transfer-encoding", "connection"}


def _response(status: int, body: bytes | str | Any, content_type: str | None) -> httpx.Response:
    if not isinstance(body, bytes | str):
        body = json.dumps(body)
    raw = body.encode() if isinstance(body, str) else body
    headers = {"Content-Type": content_type} if content_type else {}
    return httpx.Response(status, content=raw, headers=headers)


def answer(status: int, body: bytes | str | Any = b"", content_type: str | None = JSON) -> Action:
    async def act(request: httpx.Request, wire: Wire) -> httpx.Response:
        return _response(status, body, content_type)

    return act


def echoed(status: int = 200) -> Action:
    async def act(request: httpx.Request, wire: Wire) -> httpx.Response:
        return _response(status, request.content, JSON)

    return act


def landed_then(status: int, body: bytes | str | Any = b"", content_type: str | None = JSON) -> Action:
    async def act(request: httpx.Request, wire: Wire) -> httpx.Response:
        await wire.forward(request)
        return _response(status, body, content_type)

    return act


def landed_then_lost(exc: type[httpx.TransportError] = httpx.RemoteProtocolError) -> Action:
    async def act(request: httpx.Request, wire: Wire) -> httpx.Response:
        await wire.forward(request)
        raise exc("the connection was reset before the answer arrived", request=request)

    return act


def edited(edit: Callable[[Any], Any]) -> Action:
    async def act(request: httpx.Request, wire: Wire) -> httpx.Response:
        status, body = await wire.forward(request)
        return _response(status, edit(json.loads(body)), JSON)

    return act


@dataclass
class _Rule:
    method: str
    path: re.Pattern[str]
    action: Action
    times: int


@dataclass
class Seen:
    method: str
    path: str
    body: bytes
    by: str  # "datadog" when it reached the fake, "wire" when a rule answered in its place


class Wire(ToTheFake):
    def __init__(self) -> None:
        super().__init__()
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self.seen: list[Seen] = []

    def on(self, method: str, path: str, action: Action, *, times: int = 1) -> None:
        with self._lock:
            self._rules.append(_Rule(method.upper(), re.compile(path), action, times))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def _take(self, request: httpx.Request) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.method == request.method and rule.path.fullmatch(request.url.path):
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                    return rule
        return None

    async def forward(self, request: httpx.Request) -> tuple[int, bytes]:
        status, _, body = await self._forward(request)
        return status, body

    async def _forward(self, request: httpx.Request) -> tuple[int, httpx.Headers, bytes]:
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        await response.aclose()
        self.seen.append(Seen(request.method, request.url.path, request.content, "datadog"))
        # The body is read (inflated): it is re-served without the encoding and length it came with.
        headers = httpx.Headers({k: v for k, v in response.headers.items() if k.lower() not in _HOP})
        return response.status_code, headers, body

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        rule = self._take(request)
        if rule is None:
            status, headers, body = await self._forward(request)
            return httpx.Response(status, content=body, headers=headers)
        if rule.action.__qualname__.startswith(("answer", "echoed")):
            self.seen.append(Seen(request.method, request.url.path, request.content, "wire"))
        return await rule.action(request, self)

    def reached(self, method: str, path: str) -> int:
        """How many `method` requests of `path` (a regular expression) reached Datadog."""
        pattern = re.compile(path)
        return sum(1 for s in self.seen if s.by == "datadog" and s.method == method and pattern.fullmatch(s.path))
