"""Benchmark: the sync engine writing 100k resources and 300k grants into a c1z.

A synthetic connector (no network) produces 100,000 users in pages of 100 and 1,000 groups with 300 member
grants each, listed in pages of 100. Prints one JSON line with wall and CPU seconds, peak RSS and file size.
Run it under `/usr/bin/time -v` for an outside view of the same peak RSS.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from connector.baton import builders as b
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


async def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.c1z"
        lags: list[float] = []
        ticker = asyncio.create_task(_ticker(lags))
        wall, cpu = time.monotonic(), time.process_time()
        result = await sync_to_file([Users(), Groups()], path, SyncOptions(concurrency=8), tmp_dir=Path(tmp))
        ticker.cancel()
        lags.sort()
        return {
            "resources": result.stats["resources"],
            "grants": result.stats["grants"],
            "wall_seconds": round(time.monotonic() - wall, 2),
            "cpu_seconds": round(time.process_time() - cpu, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "c1z_bytes": path.stat().st_size,
            "loop_lag_p99_ms": round(lags[int(len(lags) * 0.99)] * 1000, 1) if lags else None,
            "loop_lag_max_ms": round(lags[-1] * 1000, 1) if lags else None,
        }


if __name__ == "__main__":
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    json.dump(asyncio.run(main()), sys.stdout)
    sys.stdout.write("\n")
