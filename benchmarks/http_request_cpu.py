"""Benchmark: event-loop CPU of one Datadog request through our transport (issue 12 goal 1, the HTTP area).

`ApiTransport.request` GETs of a team-memberships page (15 members, `page[size]` and `page[number]` as the
client sends them: 75% of a 100k-user sync's 5,434 requests are such pages) against the fake Datadog, which
runs in its own thread, over https (as Datadog is reached; a throwaway CA is the client's trust) and over
plain http. Only the CPU of the thread running the event loop is counted (`time.thread_time`), so the fake's
work is not. Each round is 500 requests one at a time, then 500 with 8 in flight (the client's concurrency,
as the team-membership listings run); the median of 5 rounds of each is reported, then one more https round
of each under cProfile (per-thread CPU clock) for the top functions by own time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import ssl
import statistics
import sys
import sysconfig
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from benchmarks.measure import load_average
from connector.datadog.transport import ApiTransport
from tests.fakes.c1.certs import generate_tls_files
from tests.fakes.datadog import FakeDatadog, Org

ROOT = Path(__file__).resolve().parents[1]
REQUESTS, ROUNDS, CONCURRENCY, MEMBERS, TOP = 500, 5, 8, 15, 12


def small_org() -> tuple[Org, str]:
    org = Org(seed=1)
    users = [org.add_user(f"user{i}@example.com", name=f"User {i}").id for i in range(MEMBERS)]
    team = org.add_team("Platform", "platform")
    for i, uid in enumerate(users):
        org.add_member(team, uid, role="admin" if i == 0 else None)
    return org, team.id


async def sequential(t: ApiTransport, path: str) -> None:
    for n in range(REQUESTS):
        await get(t, path, n)


async def concurrent(t: ApiTransport, path: str) -> None:
    async def worker(first: int) -> None:
        for n in range(first, REQUESTS, CONCURRENCY):
            await get(t, path, n)

    await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)))


async def get(t: ApiTransport, path: str, n: int) -> None:
    reply = await t.request("GET", path, group="team_memberships", params={"page[size]": 100, "page[number]": n % 2})
    if reply.status != 200 or not reply.body:
        raise SystemExit(f"benchmark: unexpected reply {reply.status}")


Run = Callable[[ApiTransport, str], Awaitable[None]]


async def rounds(dd: FakeDatadog, path: str, trust: ssl.SSLContext | None, profile: bool) -> dict[str, object]:
    async with asyncio.timeout(600):
        t = ApiTransport(
            api_key=dd.api_key, app_key=dd.app_key, base_url=dd.base_url, max_concurrency=CONCURRENCY, verify=trust
        )
        try:
            await concurrent(t, path)  # warm: imports, connections, the limiter's buckets
            samples: dict[str, list[float]] = {"sequential": [], "concurrent": []}
            runs: dict[str, Run] = {"sequential": sequential, "concurrent": concurrent}
            for _ in range(ROUNDS):
                for name, run in runs.items():
                    started = time.thread_time()
                    await run(t, path)
                    samples[name].append((time.thread_time() - started) / REQUESTS * 1e6)
            result: dict[str, object] = {}
            for name in runs:
                result[f"{name}_median"] = round(statistics.median(samples[name]), 1)
                result[f"{name}_rounds"] = " ".join(f"{s:.0f}" for s in samples[name])
            if profile:
                profiler = cProfile.Profile(time.thread_time)
                profiler.enable()
                for run in runs.values():
                    await run(t, path)
                profiler.disable()
                result.update(top(profiler))
        finally:
            await t.aclose()
    return result


def top(profiler: cProfile.Profile) -> dict[str, object]:
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("tottime").print_stats(TOP)
    calls = sum(stat[1] for stat in stats.stats.values())  # type: ignore[attr-defined]
    lines = [
        line.strip()
        for line in stream.getvalue().splitlines()
        if line.strip() and line.strip()[0].isdigit() and "function calls" not in line
    ]
    # Paths shortened to what names the code: site-packages, the standard library and this checkout dropped.
    prefixes = sorted({sysconfig.get_path("purelib"), sysconfig.get_path("stdlib"), str(ROOT)}, key=len, reverse=True)
    for prefix in prefixes:
        lines = [line.replace(prefix + "/", "") for line in lines]
    return {
        "python_calls_per_request_profiled": round(calls / (2 * REQUESTS)),
        "profile_top_by_own_time": "<br>".join(f"`{line}`" for line in lines),
    }


def main() -> dict[str, object]:
    org, team_id = small_org()
    path = f"/api/v2/team/{team_id}/memberships"
    result: dict[str, object] = {
        "requests_per_round": f"{REQUESTS} one at a time, {REQUESTS} with {CONCURRENCY} in flight"
    }
    with tempfile.TemporaryDirectory() as tmp:
        tls = generate_tls_files(Path(tmp), common_name="fake-datadog")
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(tls.server_cert, tls.server_key)
        trust = ssl.create_default_context(cafile=str(tls.ca_cert))
        for scheme, context in (("https", server), ("http", None)):
            with FakeDatadog(org, tls=context) as dd:
                measured = asyncio.run(rounds(dd, path, trust if context else None, profile=scheme == "https"))
            for key, value in measured.items():
                name = f"cpu_us_per_request_{scheme}_{key}" if key.startswith(("seq", "conc")) else key
                result[name] = value
    result["load_average"] = load_average()
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    ROUNDS = parser.parse_args().rounds
    json.dump(main(), sys.stdout)
    sys.stdout.write("\n")
