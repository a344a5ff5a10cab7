"""Request/response helpers shared by the fake's route modules: errors, bodies, paging, includes."""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlencode

from aiohttp import web

from tests.fakes.datadog.org import Org

JSON = "application/json"
JSONAPI = "application/vnd.api+json"
MAX_PAGE_SIZE = 100
T = TypeVar("T")


class Abort(Exception):
    """Raised by handlers to answer with `response`; the error middleware returns it."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def reply(body: Any, status: int = 200, content_type: str = JSON) -> web.Response:
    return web.Response(status=status, body=json.dumps(body, separators=(",", ":")), content_type=content_type)


def no_content(*, html: bool = False) -> web.Response:
    # Datadog sends some 204s (API/app key deletes) with a text/html content type and no body.
    response = web.Response(status=204)
    if html:
        response.headers["Content-Type"] = "text/html; charset=utf-8"
    return response


def fail(status: int, *messages: str) -> NoReturn:
    """The common error shape: a list of strings."""
    raise Abort(reply({"errors": list(messages)}, status))


def fail_jsonapi(status: int, detail: str, *, title: str | None = None, with_status: bool = True) -> NoReturn:
    """The newer JSON:API error-object shape (Teams, On-Call)."""
    item: dict[str, str] = {}
    if with_status:
        item["status"] = str(status)
    item["title"] = title or {404: "Not Found", 409: "Conflict", 400: "Bad Request"}.get(status, "Error")
    item["detail"] = detail
    raise Abort(reply({"errors": [item]}, status, JSONAPI))


async def body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        fail(400, "Invalid input ")
    try:
        payload = await request.json(loads=json.loads)
    except ValueError:
        fail(400, "Invalid JSON")
    if not isinstance(payload, dict):
        fail(400, "Invalid input ")
    return payload


def data_of(payload: dict[str, Any]) -> dict[str, Any]:
    data = payload.get("data")
    if not isinstance(data, dict):
        fail(400, "Invalid input ")
    return data


def includes(request: web.Request) -> set[str]:
    """`include` accepted both repeated and comma-joined, as real clients send both."""
    out: set[str] = set()
    for value in request.query.getall("include", []):
        out.update(part.strip() for part in value.split(",") if part.strip())
    return out


def query_int(request: web.Request, name: str, default: int, *, maximum: int | None = None) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        fail(400, f"{name} must be an integer")
    if value < 0 or (maximum is not None and value > maximum):
        fail(400, f"{name} must be between 0 and {maximum}" if maximum else f"{name} must not be negative")
    return value


def page_args(request: web.Request, default_size: int, *, cap: int | None = None) -> tuple[int, int]:
    """(size, number) from page[size] / page[number]; sizes above 100 are rejected, not clamped."""
    size = query_int(request, "page[size]", default_size, maximum=MAX_PAGE_SIZE)
    if size == 0:
        fail(400, "page[size] must be at least 1")
    if cap is not None:
        size = min(size, cap)
    return size, query_int(request, "page[number]", 0)


def window(items: Sequence[T], size: int, number: int) -> Sequence[T]:
    return items[number * size : (number + 1) * size]


def absolute(request: web.Request, path: str, params: dict[str, Any] | None = None) -> str:
    base = f"{request.scheme}://{request.host}{path}"
    if not params:
        return base
    # Datadog writes these links with unencoded brackets.
    return base + "?" + urlencode(params, safe="[]")


def number_size(request: web.Request, total: int, size: int, number: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Teams-style paging: meta.pagination (number_size) and absolute links; `next` is never null."""
    last = max(0, math.ceil(total / size) - 1)
    extra = {k: v for k, v in request.query.items() if not k.startswith("page[")}

    def link(n: int) -> str:
        return absolute(request, request.path, {**extra, "page[number]": n, "page[size]": size})

    meta = {
        "pagination": {
            "number": number,
            "first_number": 0,
            "prev_number": max(0, number - 1),
            "next_number": number + 1,
            "last_number": last,
            "size": size,
            "type": "number_size",
            "total": total,
        }
    }
    links = {
        "self": str(request.url),
        "last": link(last),
        "next": link(number + 1),
        "prev": link(number - 1) if number > 0 else None,
        "first": link(0),
    }
    return meta, links


def offset_limit(request: web.Request, total: int, offset: int, limit: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """What Teams endpoints answer when no page parameters were sent."""
    extra = dict(request.query)
    meta = {
        "pagination": {
            "offset": offset,
            "first_offset": 0,
            "prev_offset": max(0, offset - limit),
            "next_offset": offset + limit,
            "last_offset": max(0, (math.ceil(total / limit) - 1) * limit),
            "limit": limit,
            "type": "offset_limit",
            "total": total,
        }
    }
    links = {
        "self": str(request.url),
        "last": None,
        "next": absolute(request, request.path, {**extra, "page[offset]": offset + limit, "page[limit]": limit}),
        "prev": None,
        "first": absolute(request, request.path, {**extra, "page[offset]": 0, "page[limit]": limit}),
    }
    return meta, links


@dataclass
class Faults:
    """Injected trouble. Probabilities are per request and drawn from a seeded generator."""

    latency: float = 0.0
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    throttle_reset: int = 1
    error_status: int = 503
    seed: int = 0
    # (status, path prefix or None, method or None, reset seconds) served before anything else.
    scripted: list[tuple[int, str | None, str | None, int]] = field(default_factory=list)
    # (mode, path prefix or None, method or None) of hostile answers (see hostile.py), served in place of the
    # endpoint after the key check.
    hostile_script: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    # (edit, path prefix or None, method or None): the endpoint's own JSON answer, changed by `edit` before it is sent.
    rewrites: list[tuple[Callable[[Any], Any], str | None, str | None]] = field(default_factory=list)
    hang_seconds: float = 5.0
    huge_bytes: int = 1024 * 1024
    # Header values that replace the rate-limit headers on every answer (e.g. {"X-RateLimit-Limit": "0"}).
    header_overrides: dict[str, str] = field(default_factory=dict)
    # Header lines added after the answer's own, on every answer: a repeated header (a proxy doubling them).
    header_repeats: dict[str, str] = field(default_factory=dict)
    rng: random.Random = field(init=False, repr=False)
    # Tests script faults from their own thread while the server thread consumes them.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def force(
        self, status: int, *, times: int = 1, path: str | None = None, method: str | None = None, reset: int = 1
    ) -> None:
        """Answer the next `times` matching requests with `status` (429s carry X-RateLimit-Reset)."""
        with self.lock:
            self.scripted.extend([(status, path, method.upper() if method else None, reset)] * times)

    def hostile(self, mode: str, *, times: int = 1, path: str | None = None, method: str | None = None) -> None:
        """Answer the next `times` matching requests in a hostile `mode` (tests/fakes/datadog/hostile.py)."""
        with self.lock:
            self.hostile_script.extend([(mode, path, method.upper() if method else None)] * times)

    def take_hostile(self, method: str, path: str) -> str | None:
        with self.lock:
            for i, (mode, prefix, want) in enumerate(self.hostile_script):
                if (prefix is None or path.startswith(prefix)) and (want is None or want == method):
                    del self.hostile_script[i]
                    return mode
        return None

    def rewrite(
        self, edit: Callable[[Any], Any], *, times: int = 1, path: str | None = None, method: str | None = None
    ) -> None:
        """Send the next `times` matching answers of the endpoint as `edit` changes their JSON body (`edit` returns
        the body to send): a real answer with one field of the wrong type, say."""
        with self.lock:
            self.rewrites.extend([(edit, path, method.upper() if method else None)] * times)

    def take_rewrite(self, method: str, path: str) -> Callable[[Any], Any] | None:
        with self.lock:
            for i, (edit, prefix, want) in enumerate(self.rewrites):
                if (prefix is None or path.startswith(prefix)) and (want is None or want == method):
                    del self.rewrites[i]
                    return edit
        return None

    def take_scripted(self, method: str, path: str) -> tuple[int, int] | None:
        """(status, reset) of the first scripted fault matching this request, consumed."""
        with self.lock:
            for i, (status, prefix, want, reset) in enumerate(self.scripted):
                if (prefix is None or path.startswith(prefix)) and (want is None or want == method):
                    del self.scripted[i]
                    return status, reset
        return None

    def clear(self) -> None:
        with self.lock:
            self.scripted.clear()
            self.hostile_script.clear()
            self.rewrites.clear()
            self.header_overrides.clear()
            self.header_repeats.clear()
        self.error_rate = self.throttle_rate = self.latency = 0.0


@dataclass
class RateLimits:
    """Per-bucket limits with calendar-aligned windows, like Datadog's."""

    limit: int = 6000
    period: float = 60.0
    enforce: bool = True
    per_group: dict[str, tuple[int, float]] = field(default_factory=dict)
    _counts: dict[tuple[str, int], int] = field(default_factory=dict, repr=False)

    def take(self, group: str, now: float) -> tuple[bool, dict[str, str]]:
        """Count one request; return (allowed, the five X-RateLimit-* headers)."""
        limit, period = self.per_group.get(group, (self.limit, self.period))
        index = math.floor(now / period)
        key = (group, index)
        used = self._counts.get(key, 0) + 1
        self._counts[key] = used
        if len(self._counts) > 10_000:
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= index - 1}
        allowed = used <= limit or not self.enforce
        reset = max(0, math.ceil((index + 1) * period - now))
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Period": str(int(period) if float(period).is_integer() else period),
            "X-RateLimit-Remaining": str(max(0, limit - used)),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Name": f"fake_{group}",
        }
        return allowed, headers


@dataclass(frozen=True, slots=True)
class Seen:
    """One request as the fake received it (no header values: they may hold keys)."""

    method: str
    path: str
    route: str
    query: tuple[tuple[str, str], ...]
    status: int
    at: float = 0.0  # time.monotonic() when answered: benchmarks place each listing on the sync's timeline
    # time.monotonic() when it arrived (before the injected latency): with `at`, how many were in flight at once.
    arrived: float = 0.0

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)


@dataclass
class State:
    org: Org
    api_key: str
    app_key: str
    faults: Faults
    rate_limits: RateLimits
    schedules_page_cap: int | None = None
    counters: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    seen: deque[Seen] = field(default_factory=lambda: deque(maxlen=200_000))
    throttled: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    clock: Callable[[], float] = time.time


STATE: web.AppKey[State] = web.AppKey("state", State)


def state(request: web.Request) -> State:
    return request.app[STATE]


def org_of(request: web.Request) -> Org:
    return request.app[STATE].org


def group_of(path: str) -> str:
    """The rate-limit bucket / counter group of a path (mirrors the client's endpoint groups)."""
    parts = path.split("/")
    if path.startswith(("/api/v1/validate", "/api/v2/validate")):
        return "validate"
    if len(parts) < 4:
        return "other"
    head = parts[3]
    if head == "users" and len(parts) > 5 and parts[5] == "memberships":
        return "team_memberships"
    if head == "team":
        return "team_memberships" if "memberships" in parts else "teams"
    if head == "roles":
        return "role_users" if path.endswith("/users") else "roles"
    if head == "on-call":
        return "on_call"
    if head == "current_user" and "application_keys" in parts:
        return "application_keys"
    if head == "user_invitations":
        return "invitations"
    return {"user": "users"}.get(head, head)
