"""A scriptable Datadog for whole syncs: a real HTTP/1.1 server on 127.0.0.1 answering each list endpoint from a
Python function of its path and query, so a case changes one endpoint's answers and keeps the rest of the org
consistent. It records every request (head and target) and counts requests per path."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions
from connector.datadog.retry import RetryPolicy
from tests.datadog.helpers import loopback_trust

API_KEY = "attack502canaryapikey0123456789ab"
APP_KEY = "attack502canaryappkey0123456789abcdef0123"
CANARIES = (API_KEY, APP_KEY)
QUICK = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.005, min_rate_limit_wait=0.001)

Query = dict[str, str]


@dataclass(frozen=True)
class Held:
    """Write these bytes, then neither write nor close until the server is shut (an answer that never completes)."""

    sent: bytes


# An answer: (status, body bytes[, headers]); raw response bytes written as they are, then the connection closed; or
# `Held` bytes.
Reply = tuple[int, bytes] | tuple[int, bytes, list[tuple[bytes, bytes]]] | bytes | Held
Route = Callable[[str, Query], Reply]


def user(uid: str, *roles: str, email: str | None = None, status: str = "Active") -> dict[str, Any]:
    return {
        "type": "users",
        "id": uid,
        "attributes": {
            "email": email or f"{uid}@example.com",
            "handle": email or f"{uid}@example.com",
            "name": uid,
            "status": status,
            "disabled": status == "Disabled",
            "service_account": False,
        },
        "relationships": {"roles": {"data": [{"type": "roles", "id": r} for r in roles]}},
    }


def role(rid: str, name: str | None = None) -> dict[str, Any]:
    return {"type": "roles", "id": rid, "attributes": {"name": name or rid, "user_count": 0}}


def team(tid: str, members: int, handle: str | None = None) -> dict[str, Any]:
    return {
        "type": "team",
        "id": tid,
        "attributes": {"name": tid, "handle": handle or tid, "user_count": members, "summary": None},
    }


def membership(tid: str, uid: str, admin: bool = False) -> dict[str, Any]:
    return {
        "type": "team_memberships",
        "id": f"TeamMembership-{tid}-{uid}",
        "attributes": {"role": "admin" if admin else None},
        "relationships": {"user": {"data": {"type": "users", "id": uid}}},
    }


def page_body(items: list[dict[str, Any]], total: int | None = None, **extra: Any) -> bytes:
    total = len(items) if total is None else total
    return json.dumps(
        {"data": items, "meta": {"page": {"total_count": total, "total_filtered_count": total}}, **extra}
    ).encode()


def team_page(items: list[dict[str, Any]], number: int = 0, total: int | None = None, **extra: Any) -> bytes:
    total = len(items) if total is None else total
    last = max(0, (total - 1) // 100)
    pagination = {
        "type": "number_size",
        "number": number,
        "size": 100,
        "total": total,
        "first_number": 0,
        "prev_number": None if number == 0 else number - 1,
        "next_number": number + 1,
        "last_number": last,
    }
    return json.dumps({"data": items, "meta": {"pagination": pagination}, **extra}).encode()


def number(query: Query) -> int:
    return int(query.get("page[number]", "0"))


@dataclass
class Org:
    """A small consistent org: users u-0..u-(n-1) (every one in role r-admin), roles, one team t-1 of u-0 (admin) and
    u-1. Routes override an endpoint's answer."""

    users: list[dict[str, Any]] = field(default_factory=lambda: [user(f"u-{i}", "r-admin") for i in range(3)])
    roles: list[dict[str, Any]] = field(default_factory=lambda: [role("r-admin"), role("r-ro")])
    teams: list[dict[str, Any]] = field(default_factory=lambda: [team("t-1", 2)])
    members: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"t-1": [membership("t-1", "u-0", admin=True), membership("t-1", "u-1")]}
    )

    def answer(self, path: str, query: Query) -> Reply:
        n = number(query)
        if path == "/api/v1/validate":
            return 200, b'{"valid": true}'
        if path == "/api/v2/users":
            return 200, page_body(self.users[100 * n : 100 * n + 100], len(self.users))
        if path == "/api/v2/roles":
            return 200, page_body(self.roles[100 * n : 100 * n + 100], len(self.roles))
        if path == "/api/v2/team":
            return 200, team_page(self.teams[100 * n : 100 * n + 100], n, len(self.teams))
        if path.startswith("/api/v2/team/") and path.endswith("/memberships"):
            ms = self.members.get(path.split("/")[4], [])
            return 200, team_page(ms[100 * n : 100 * n + 100], n, len(ms))
        return 404, b'{"errors":["not found"]}'


@dataclass
class Datadog:
    """The server. `routes`: path -> function answering it (the org answers the rest)."""

    org: Org = field(default_factory=Org)
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[bytes] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)
    base_url: str = ""

    async def __aenter__(self) -> Datadog:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.base_url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._closing.set()
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        await self._server.wait_closed()

    def count(self, path: str) -> int:
        return sum(1 for t in self.targets if urlsplit(t).path == path)

    def reply(self, path: str, query: Query) -> Reply:
        route = self.routes.get(path)
        return route(path, query) if route is not None else self.org.answer(path, query)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode()
                self.requests.append(head)
                self.targets.append(target)
                parts = urlsplit(target)
                reply = self.reply(parts.path, dict(parse_qsl(parts.query)))
                if isinstance(reply, bytes | Held):
                    writer.write(reply if isinstance(reply, bytes) else reply.sent)
                    await writer.drain()
                    if isinstance(reply, Held):
                        await self._closing.wait()
                    return
                status, body, *rest = reply
                headers = rest[0] if rest else [(b"Content-Type", b"application/json")]
                lines = [b"HTTP/1.1 %d X" % status, *(k + b": " + v for k, v in headers)]
                lines.append(b"Content-Length: %d" % len(body))
                writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()


@contextlib.contextmanager
def serving(dd: Datadog) -> Iterator[Datadog]:
    """`dd` served from a thread of its own, for a test that runs the connector as a process."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(dd.__aenter__(), loop).result(10)
    try:
        yield dd
    finally:
        asyncio.run_coroutine_threadsafe(dd.__aexit__(None, None, None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


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


async def sync(dd: Datadog, path: Any, **options: Any) -> BaseException | None:
    """Run a whole default sync (users, roles, teams) into `path`; the error that ended it, or None."""
    c = client(dd.base_url, **options)
    try:
        async with c:
            await asyncio.wait_for(
                sync_to_file(DatadogConnector(c, DatadogOptions()).syncers(), path, SyncOptions()), timeout=60
            )
    except Exception as exc:
        for text in (str(exc), repr(exc)):
            for canary in CANARIES:
                assert canary not in text, text
        return exc
    return None


@dataclass(frozen=True)
class C1z:
    """What a c1z holds, read by the project's reader: whether each sync run finished, and the finished sync's
    resource ids per type and grant ids (empty when none finished)."""

    finished: list[bool]
    resources: dict[str, list[str]]
    grants: list[str]


def contents(path: Any) -> C1z:
    with C1ZReader(path) as reader:
        finished = [run.finished for run in reader.sync_runs()]
        if not any(finished):
            return C1z(finished, {}, [])
        resources = {t.id: sorted(r.id.resource for r in reader.resources(t.id)) for t in reader.resource_types()}
        return C1z(finished, resources, sorted(g.id for g in reader.grants()))


def no_canary_in(path: Any) -> None:
    """Neither key anywhere in the c1z: every value of every table, as bytes."""
    with C1ZReader(path) as reader:
        connection = reader.connection
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):  # names from the file's own schema
                for value in row:
                    data = value if isinstance(value, bytes) else str(value).encode()
                    for canary in CANARIES:
                        assert canary.encode() not in data, table
