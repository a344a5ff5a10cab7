"""Benchmark: the client CPU of Datadog requests on asyncio's event loop and on uvloop's (issue 12).

A child process makes requests through `DatadogClient` (our transport, httpx, httpcore, anyio) against the
fake Datadog, which runs in this process so its work is not counted; 8 workers keep 8 requests in flight as a
sync does. Two kinds of call: `validate()` (two GETs with small bodies: the loop and HTTP stack dominate) and a
users page of 100 (one GET whose body is decoded too, as in a sync). The child's process CPU over the timed calls, per call.
Rounds alternate asyncio and uvloop children so a shared machine's load falls on both alike; median of 5.
uvloop must be installed in the virtualenv (it is not a project dependency).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

from benchmarks.measure import child_json, load_average
from benchmarks.on_uvloop import use_uvloop
from tests.datadog.helpers import listed
from tests.fakes.datadog import FakeDatadog, generate_org

VALIDATES, PAGES, WORKERS, ROUNDS = 2000, 400, 8, 5
LOOPS = ("asyncio", "uvloop")


async def timed(count: int, request: Callable[[int], Awaitable[object]]) -> float:
    """Process CPU seconds for `count` requests, WORKERS in flight at once."""
    queue = iter(range(count))

    async def worker() -> None:
        for n in queue:
            await request(n)

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return time.process_time() - started


async def requests(base_url: str, api_key: str, app_key: str, user_pages: int) -> dict[str, float]:
    from connector.datadog.client import DatadogClient

    async with DatadogClient(api_key=api_key, app_key=app_key, base_url=base_url) as client:
        await timed(WORKERS * 4, lambda _: client.validate())  # warm: connections, imports
        validates = await timed(VALIDATES, lambda _: client.validate())
        pages = await timed(PAGES, lambda n: listed(client.fetch_users)(n % user_pages))
    return {"validate_us": validates / VALIDATES * 1e6, "page_us": pages / PAGES * 1e6}


def child(loop: str, base_url: str, api_key: str, app_key: str, user_pages: int) -> dict[str, float]:
    if loop == "uvloop":
        use_uvloop()
    return asyncio.run(requests(base_url, api_key, app_key, user_pages))


def main() -> dict[str, object]:
    runs: dict[str, list[dict[str, float]]] = {loop: [] for loop in LOOPS}
    org = generate_org(users=1000, seed=1, teams=1, schedules=0)
    user_pages = 10
    with FakeDatadog(org) as dd:
        for round_ in range(ROUNDS):
            for loop in LOOPS if round_ % 2 == 0 else reversed(LOOPS):
                runs[loop].append(child_json("benchmarks.event_loop_cpu", [loop, str(user_pages)], dd))

    def median(loop: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[loop])

    result: dict[str, object] = {"calls": f"{VALIDATES} validate() + {PAGES} users pages of 100, {WORKERS} in flight"}
    for key, what in (("validate_us", "validate_call"), ("page_us", "users_page")):
        base, fast = median("asyncio", key), median("uvloop", key)
        result[f"{what}_cpu_us_asyncio"] = round(base, 1)
        result[f"{what}_cpu_us_uvloop"] = round(fast, 1)
        result[f"{what}_change"] = f"{100 * (fast - base) / base:+.1f}%"
        result[f"{what}_rounds"] = " | ".join(
            f"{a[key]:.0f}/{u[key]:.0f}" for a, u in zip(runs["asyncio"], runs["uvloop"], strict=True)
        )
    result["load_average"] = load_average()
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        keys = sys.stdin.read().split()
        json.dump(child(sys.argv[2], sys.argv[4], keys[0], keys[1], int(sys.argv[3])), sys.stdout)
    else:
        json.dump(main(), sys.stdout)
        sys.stdout.write("\n")
