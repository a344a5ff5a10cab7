"""Benchmark: the sync engine writing 100k resources and 300k grants into a c1z.

A synthetic connector (no network) produces 100,000 users in pages of 100 and 1,000 groups with 300 member
grants each, listed in pages of 100. Prints one JSON line with wall and CPU seconds, peak RSS and file size.
Run it under `/usr/bin/time -v` for an outside view of the same peak RSS.

It also times the store thread's jobs (by wrapping the store's job runner, so it measures any version of the
store the same way): `store_cpu_seconds` is the store thread's CPU (`time.thread_time`), and the end-of-sync
tail (issue 12 goal 2) runs from the end of the last page written to the c1z being ready on disk, split into
`end_sync` (deferred index build, stats), `keep_only`, compaction (`VACUUM INTO`) and compression + fsync;
`tail_cpu_seconds` is the store thread's CPU over the same span (steadier than wall on a shared machine).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.baton import builders as b
from connector.baton.c1z import store
from connector.baton.connector import Page
from connector.baton.pb.c1.connector.v2 import annotation_resource_pb2, entitlement_pb2, grant_pb2, resource_pb2
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file

USERS, GROUPS, MEMBERS, PAGE = 100_000, 1_000, 300, 100
USER = b.resource_type(
    "user", "User", [b.Trait.TRAIT_USER], annotations=[annotation_resource_pb2.SkipEntitlementsAndGrants()]
)
GROUP = b.resource_type("group", "Group", [b.Trait.TRAIT_GROUP])


class Users:
    def resource_type(self) -> resource_pb2.ResourceType:
        return USER

    async def list_resources(self, parent: resource_pb2.ResourceId | None, token: str) -> Page[resource_pb2.Resource]:
        start = int(token or 0)
        items = [
            b.add_user_trait(
                b.resource(USER, f"user-{i:07d}", f"User {i}"),
                emails=[f"user{i}@example.com"],
                login=f"user{i}",
                profile_values={"handle": f"user{i}", "title": "Engineer"},
            )
            for i in range(start, min(start + PAGE, USERS))
        ]
        return Page(items, str(start + PAGE) if start + PAGE < USERS else "")

    def entitlements(self, resource: resource_pb2.Resource) -> list[entitlement_pb2.Entitlement]:
        return []

    async def list_grants(self, resource: resource_pb2.Resource, token: str) -> Page[grant_pb2.Grant]:
        return Page([])


class Groups:
    def resource_type(self) -> resource_pb2.ResourceType:
        return GROUP

    async def list_resources(self, parent: resource_pb2.ResourceId | None, token: str) -> Page[resource_pb2.Resource]:
        start = int(token or 0)
        items = [
            b.add_group_trait(b.resource(GROUP, f"group-{i:05d}", f"Group {i}"))
            for i in range(start, min(start + PAGE, GROUPS))
        ]
        return Page(items, str(start + PAGE) if start + PAGE < GROUPS else "")

    def entitlements(self, resource: resource_pb2.Resource) -> list[entitlement_pb2.Entitlement]:
        return [b.entitlement(resource, "member", grantable_to=[USER])]

    async def list_grants(self, resource: resource_pb2.Resource, token: str) -> Page[grant_pb2.Grant]:
        group = int(resource.id.resource.split("-")[1])
        start = int(token or 0)
        members = range(start, min(start + PAGE, MEMBERS))
        grants = [
            b.grant(resource, "member", b.resource_id("user", f"user-{(group * 97 + m) % USERS:07d}")) for m in members
        ]
        return Page(grants, str(start + PAGE) if start + PAGE < MEMBERS else "")


async def _ticker(lags: list[float], tick: float = 0.010) -> None:
    while True:
        before = time.monotonic()
        await asyncio.sleep(tick)
        lags.append(time.monotonic() - before - tick)


@dataclass
class StoreJobs:
    """When each store-thread job ended and the thread CPU all of them took (filled on the store thread)."""

    cpu: float = 0.0
    ended: dict[str, float] = field(default_factory=dict)  # job name -> monotonic end of its latest run
    tail_cpu: float = 0.0  # store-thread CPU of the jobs after the last write (wall on a loaded box is noisy)
    compress_seconds: float = 0.0

    def tail(self, wall: float) -> dict[str, object]:
        last_write, ready = self.ended.get("write"), self.ended.get("save")
        if last_write is None or ready is None:
            return {}
        marks = [("end_sync", "tail_end_sync_seconds"), ("keep_only", "tail_keep_only_seconds")]
        out: dict[str, object] = {"tail_seconds": round(ready - last_write, 2)}
        previous = last_write
        for job, name in marks:
            if job in self.ended:
                out[name] = round(self.ended[job] - previous, 2)
                previous = self.ended[job]
        out["tail_save_seconds"] = round(ready - previous, 2)
        out["tail_compress_seconds"] = round(self.compress_seconds, 2)
        out["tail_cpu_seconds"] = round(self.tail_cpu, 2)
        out["tail_share_of_wall"] = f"{100 * (ready - last_write) / wall:.1f}%"
        return out


@contextmanager
def timed_store_jobs() -> Iterator[StoreJobs]:
    """Wrap the store's job runner (every job on its thread goes through `_guarded`) and its compression."""
    jobs = StoreJobs()
    # The store module's own names (it imports `compress_atomically` from envelope).
    guarded, compress = store._guarded, getattr(store, "compress_atomically")  # noqa: B009

    def timed(db: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        cpu = time.thread_time()
        try:
            return guarded(db, fn, *args, **kwargs)
        finally:
            spent = time.thread_time() - cpu
            name = getattr(fn, "__name__", "?")
            jobs.cpu += spent
            jobs.ended[name] = time.monotonic()
            if name == "write":
                jobs.tail_cpu = 0.0
            elif "write" in jobs.ended:
                jobs.tail_cpu += spent

    def timed_compress(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return compress(*args, **kwargs)
        finally:
            jobs.compress_seconds += time.monotonic() - started

    store._guarded = timed
    setattr(store, "compress_atomically", timed_compress)  # noqa: B010
    try:
        yield jobs
    finally:
        store._guarded = guarded
        setattr(store, "compress_atomically", compress)  # noqa: B010


async def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp, timed_store_jobs() as jobs:
        path = Path(tmp) / "bench.c1z"
        lags: list[float] = []
        ticker = asyncio.create_task(_ticker(lags))
        wall, cpu = time.monotonic(), time.process_time()
        result = await sync_to_file([Users(), Groups()], path, SyncOptions(concurrency=8), tmp_dir=Path(tmp))
        ticker.cancel()
        lags.sort()
        wall = time.monotonic() - wall
        return {
            "resources": result.stats["resources"],
            "grants": result.stats["grants"],
            "wall_seconds": round(wall, 2),
            "cpu_seconds": round(time.process_time() - cpu, 2),
            "store_cpu_seconds": round(jobs.cpu, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "c1z_bytes": path.stat().st_size,
            "loop_lag_p99_ms": round(lags[int(len(lags) * 0.99)] * 1000, 1) if lags else None,
            "loop_lag_max_ms": round(lags[-1] * 1000, 1) if lags else None,
            **jobs.tail(wall),
        }


if __name__ == "__main__":
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    json.dump(asyncio.run(main()), sys.stdout)
    sys.stdout.write("\n")
