"""Benchmark: CPU per synced object outside HTTP, piece by piece, without network (issue 12 goal 1).

Recorded-shape bodies (a users page of 100 users with its included roles; the membership pages of 40 teams,
15 members on average) are fetched once from the fake Datadog over loopback, then replayed in process through
the real code with the network replaced by a stub transport, a stub client or a stub store. CPU is the calling
thread's (`time.thread_time`); each piece runs `--rounds` rounds of `--seconds`-ish work and the minimum and
median per object are reported (the machine is shared: the minimum is the least disturbed round). Pieces:

- `decode_users_us_per_user`: `DatadogClient.fetch_users` + the page checks, body already received;
- `build_users_us_per_object`: `UserSyncer.list_resources` on a decoded page: user resources, included roles,
  role grants (per resource + grant);
- `decode_memberships_us_per_membership` / `build_team_grants_us_per_grant`: the same for membership pages and
  `TeamSyncer.list_grants`;
- `engine_users_page_us_per_object`: the sync engine's handling of one users page (`Syncer._list_resources_page`:
  validation, child actions, the state token) with a store that only counts;
- `engine_grants_page_us_per_grant`: the engine's handling of one team's grants page (`_list_grants_page`) with
  200 per-team grant actions on the stack, as in a sync's grants phase;
- `engine_skipped_type_phases_us_per_user`: the entitlement and grant phases of the users type (its annotations
  skip both) over 2,000 users in a real c1z store, process CPU (the store thread included).

`--profile PIECE` prints the cProfile top of one piece (call counts) instead.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.measure import load_average, redraw_memberships
from connector.baton import builders as b
from connector.baton.connector import Page as BatonPage
from connector.baton.pb.c1.connector.v2 import grant_pb2, resource_pb2
from connector.baton.sync import state as st
from connector.baton.sync.syncer import Syncer
from connector.datadog.client import DatadogClient
from connector.datadog.models import ListEnvelope, User
from connector.datadog.paging import Page
from connector.datadog.resources import types
from connector.datadog.resources.teams import TeamSyncer
from connector.datadog.resources.users import UserSyncer, user_resource
from connector.datadog.transport import Reply
from tests.datadog.helpers import listed
from tests.fakes.datadog import FakeDatadog, generate_org

TEAMS = 40


class _Recorder:
    """Wraps the client's transport once, keeping each reply's body (setup only)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.replies: list[Reply] = []

    async def request(self, *args: Any, **kwargs: Any) -> Reply:
        reply: Reply = await self.inner.request(*args, **kwargs)
        self.replies.append(Reply(reply.status, reply.headers, bytes(reply.body), reply.method, reply.path))
        return reply


class _Replay:
    """The client's transport without a network: the recorded reply of each path."""

    def __init__(self, replies: list[Reply]) -> None:
        self._by_path = {r.path: r for r in replies}

    async def request(self, method: str, path: str, **_: Any) -> Reply:
        return self._by_path[path]


@dataclass
class Recorded:
    users: Reply
    memberships: list[Reply]
    team_ids: list[str]


def _client(base_url: str, api_key: str, app_key: str) -> DatadogClient:
    return DatadogClient(api_key=api_key, app_key=app_key, base_url=base_url, allow_insecure_http=True)


async def _record() -> Recorded:
    org = redraw_memberships(generate_org(users=2_000, seed=11, teams=TEAMS, custom_roles=17), 15, seed=11)
    with FakeDatadog(org) as fake:
        async with _client(fake.base_url, fake.api_key, fake.app_key) as client:
            recorder = _Recorder(client._t)
            client._t = recorder  # type: ignore[assignment]
            await listed(client.fetch_users)(0)
            users = recorder.replies[-1]
            team_ids = [t.id for t in org.teams.values() if t.members][:TEAMS]
            for team_id in team_ids:
                await client.list_team_memberships(team_id, 0)
            client._t = recorder.inner
            return Recorded(users, recorder.replies[1:], team_ids)


class _Store:
    """The sync engine's store with nothing behind it: counts what it is handed."""

    def __init__(self, resource: resource_pb2.Resource | None = None) -> None:
        self.objects = 0
        self._resource = resource

    async def write(self, token: str | None, **rows: Any) -> None:
        self.objects += sum(len(v) for v in rows.values())

    async def room(self) -> None:
        return None  # never a queue to wait for

    async def get_resource(self, type_id: str, object_id: str) -> resource_pb2.Resource | None:
        return self._resource


class _PageClient:
    """A client stub handing the syncers a decoded page (the page checks already ran)."""

    max_concurrency = 8

    def __init__(self, users: Page[Any], memberships: dict[str, Page[Any]]) -> None:
        self._users = users
        self._memberships = memberships

    async def fetch_users(self, number: int) -> Page[Any]:
        return self._users

    async def list_team_memberships(self, team_id: str, number: int) -> Page[Any]:
        return self._memberships[team_id]


def _measure(run: Callable[[], Awaitable[int]], rounds: int, seconds: float) -> tuple[float, float, int]:
    """µs of thread CPU per object: (min, median) over rounds, and the objects of one call."""
    loop = asyncio.new_event_loop()
    try:
        per_call = loop.run_until_complete(run())
        start = time.thread_time()
        calls = 0
        while time.thread_time() - start < seconds / 10:
            loop.run_until_complete(run())
            calls += 1
        calls = max(1, calls * 10)
        samples = []
        for _ in range(rounds):
            start = time.thread_time()
            for _ in range(calls):
                loop.run_until_complete(run())
            samples.append((time.thread_time() - start) / calls / per_call * 1e6)
    finally:
        loop.close()
    return min(samples), statistics.median(samples), per_call


async def _pieces(rec: Recorded) -> dict[str, Callable[[], Awaitable[int]]]:
    client = _client("http://127.0.0.1:9", "k" * 32, "a" * 40)
    client._t = _Replay([rec.users, *rec.memberships])  # type: ignore[assignment]
    users_page = await listed(client.fetch_users)(0)
    memberships = {tid: await client.list_team_memberships(tid, 0) for tid in rec.team_ids}
    stub = _PageClient(users_page, memberships)
    user_syncer = UserSyncer(stub)  # type: ignore[arg-type]
    team_syncer = TeamSyncer(stub)  # type: ignore[arg-type]
    teams = [
        b.add_group_trait(b.resource(types.TEAM, tid, f"team {i}"), profile_values={"user_count": 15})
        for i, tid in enumerate(rec.team_ids)
    ]
    users_out = await user_syncer.list_resources(None, "")

    async def decode_users() -> int:
        page = (await client.fetch_users(0))()
        return len(page.items)

    async def decode_memberships() -> int:
        return sum([len((await client.list_team_memberships(tid, 0)).items) for tid in rec.team_ids])

    async def build_users() -> int:
        out = await user_syncer.list_resources(None, "")
        return len(out.items) + len(out.grants)

    async def build_team_grants() -> int:
        return sum([len((await team_syncer.list_grants(team, "")).items) for team in teams])

    resource_syncer = _FixedSyncer(types.USER, users_out)
    engine = Syncer([resource_syncer, _FixedSyncer(types.ROLE, BatonPage([]))], _Store())  # type: ignore[arg-type]
    engine._types = {types.USER.id: types.USER, types.ROLE.id: types.ROLE}
    list_users = engine._state.push(st.LIST_RESOURCES, resource_type_id=types.USER.id)
    tokens = iter(range(10**12))

    async def engine_users_page() -> int:
        list_users.page_token = str(next(tokens))
        resource_syncer.page.next_token = str(next(tokens))
        await engine._list_resources_page(list_users)
        return len(users_out.items) + len(users_out.grants)

    grants_page = await team_syncer.list_grants(teams[0], "")
    team_syncer_fixed = _FixedSyncer(types.TEAM, grants_page)
    grant_engine = Syncer([team_syncer_fixed], _Store(teams[0]))  # type: ignore[arg-type]
    grant_engine._types = {types.TEAM.id: types.TEAM}
    for i in range(200):
        grant_engine._state.push(st.LIST_GRANTS, resource_type_id=types.TEAM.id, resource_id=f"team-{i:05d}")
    list_grants = grant_engine._state.actions[-1]
    calls = asyncio.Semaphore(1)  # the engine's bound on connector calls (`_run_parallel`)

    async def engine_grants_page() -> int:
        list_grants.page_token = str(next(tokens))
        team_syncer_fixed.page.next_token = str(next(tokens))
        await grant_engine._list_grants_page(list_grants, calls)
        return len(grants_page.items)

    return {
        "decode_users_us_per_user": decode_users,
        "build_users_us_per_object": build_users,
        "decode_memberships_us_per_membership": decode_memberships,
        "build_team_grants_us_per_grant": build_team_grants,
        "engine_users_page_us_per_object": engine_users_page,
        "engine_grants_page_us_per_grant": engine_grants_page,
    }


async def _skipped_type_phases(rec: Recorded, rounds: int, users: int = 2_000) -> list[float]:
    """µs of process CPU (event loop and store thread) per stored user for the entitlement and grant phases of a
    type whose annotations skip both (Datadog users), against a real c1z store."""
    from connector.baton.c1z.store import C1ZStore  # the SQLite layer, as the engine loads it

    page = ListEnvelope[User].model_validate_json(rec.users.body).data
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        store = await C1ZStore.open(Path(tmp) / "phases.c1z")
        try:
            await store.start_sync("full")
            await store.write(None, resource_types=[types.USER])
            for i in range(users // len(page)):
                copies = [u.model_copy(update={"id": f"{u.id}-{i}"}) for u in page]
                await store.write(None, resources=[user_resource(u) for u in copies])
            engine = Syncer([_FixedSyncer(types.USER, BatonPage([]))], store)
            engine._types = {types.USER.id: types.USER}
            phases = ((st.LIST_ENTITLEMENTS, engine._entitlements_batch), (st.LIST_GRANTS, engine._grant_actions_batch))
            for _ in range(rounds):
                await store.count("v1_resources")  # every queued write done
                start = time.process_time()
                for operation, step in phases:
                    action = engine._state.push(operation, resource_type_id=types.USER.id)
                    while action in engine._state.actions:
                        await step(action)
                await store.count("v1_resources")
                samples.append((time.process_time() - start) / users * 1e6)
        finally:
            await store.close()
    return samples


class _FixedSyncer:
    """A resource syncer that returns the same page every time (the engine's work alone is measured)."""

    def __init__(self, rtype: resource_pb2.ResourceType, page: BatonPage[Any]) -> None:
        self._rtype = rtype
        self.page: BatonPage[Any] = BatonPage(list(page.items), "x", grants=list(page.grants))

    def resource_type(self) -> resource_pb2.ResourceType:
        return self._rtype

    async def list_resources(self, parent: resource_pb2.ResourceId | None, token: str) -> BatonPage[Any]:
        return self.page

    def entitlements(self, resource: resource_pb2.Resource) -> list[Any]:
        return []

    async def list_grants(self, resource: resource_pb2.Resource, token: str) -> BatonPage[grant_pb2.Grant]:
        return self.page


def main() -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="CPU seconds per round and piece")
    parser.add_argument("--profile", help="print the cProfile top of this piece instead")
    args = parser.parse_args()
    recorded = asyncio.run(_record())
    pieces = asyncio.run(_pieces(recorded))
    if args.profile:
        run = pieces[args.profile]
        loop = asyncio.new_event_loop()
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
        for _ in range(200):
            loop.run_until_complete(run())
        profiler.disable()
        loop.close()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue(), file=sys.stderr)
        return {"profiled": args.profile, "calls": 200}
    result: dict[str, object] = {
        "inputs": f"users page of {len(json.loads(recorded.users.body)['data'])} users; "
        f"{len(recorded.memberships)} team membership pages",
    }
    for name, run in pieces.items():
        low, mid, per_call = _measure(run, args.rounds, args.seconds)
        result[name] = f"{low:.2f} (median {mid:.2f}; {per_call} objects per call)"
    phases = asyncio.run(_skipped_type_phases(recorded, args.rounds))
    result["engine_skipped_type_phases_us_per_user"] = (
        f"{min(phases):.2f} (median {statistics.median(phases):.2f}; 2000 stored users, process CPU)"
    )
    result["load_average"] = load_average()
    return result


if __name__ == "__main__":
    json.dump(main(), sys.stdout)
    sys.stdout.write("\n")
