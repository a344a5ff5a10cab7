"""Benchmark: a one-shot sync of a large org from the fake Datadog, with latency and a rate limit.

Org: 10,000 users, 50 roles, 1,000 teams with 15 members on average, 200 On-Call schedules, 2,000 API keys.
Every response is delayed 20 ms and each endpoint group is limited to 300 requests per 10 s, so the client's
pacing is exercised. The fake runs in this process; the connector runs as its own process under
`/usr/bin/time -v`, so its CPU and RSS figures are the connector's alone. The Go connector's request count for
the same org comes from its formula (docs/spec/reference-connector.md §6).
"""

from __future__ import annotations

import json
import math
import re
import sys
import tempfile
from pathlib import Path

from benchmarks.measure import redraw_memberships, run_measured
from tests.fakes.datadog import FakeDatadog, Org, RateLimits, generate_org
from tests.fakes.env import connector_env

ROOT = Path(__file__).resolve().parents[1]
USERS, ROLES, TEAMS, AVG_MEMBERS, SCHEDULES, KEYS = 10_000, 50, 1_000, 15, 200, 2_000
LATENCY, LIMIT, PERIOD = 0.020, 300, 10.0


def build_org() -> Org:
    org = generate_org(users=USERS, seed=42, teams=TEAMS, schedules=SCHEDULES, api_keys=KEYS, custom_roles=ROLES - 3)
    return redraw_memberships(org, AVG_MEMBERS, seed=42)


def go_requests(org: Org) -> int:
    """The Go connector's requests for this org with schedules and secrets on (page size 10, extra empty page)."""
    members_per_role: dict[str, int] = {}
    for user in org.users.values():
        for role_id in user.role_ids:
            members_per_role[role_id] = members_per_role.get(role_id, 0) + 1
    users, roles, teams = len(org.users), len(org.roles), len(org.teams)
    return (
        1
        + math.ceil(users / 10) + 1
        + math.ceil(roles / 10) + 1
        + sum(math.ceil(members_per_role.get(r, 0) / 10) + 1 for r in org.roles)
        + math.ceil(teams / 10) + 1
        + sum(math.ceil(len(t.members) / 10) + 1 for t in org.teams.values())
        + max(1, math.ceil(len(org.schedules) / 50)) + len(org.schedules)
        + max(1, math.ceil(len(org.api_keys) / 100))
    )  # fmt: skip


def main() -> dict[str, object]:
    org = build_org()
    members = [len(t.members) for t in org.teams.values()]
    with (
        FakeDatadog(org, rate_limits=RateLimits(limit=LIMIT, period=PERIOD)) as fake,
        tempfile.TemporaryDirectory() as tmp,
    ):
        fake.faults.latency = LATENCY
        env = connector_env(
            fake,
            extra={
                "BATON_SYNC_SCHEDULES": "true",
                "BATON_SYNC_SECRETS": "true",
                "BATON_FILE": str(Path(tmp) / "sync.c1z"),
                "BATON_LOG_LEVEL": "warn",
            },
        )
        measured = run_measured([sys.executable, "-m", "connector"], env=env, cwd=ROOT)
        if measured.returncode != 0:
            raise SystemExit(f"connector failed:\n{measured.stderr[-2000:]}")
        requests = int(re.search(r"Datadog requests\s+(\d+)", measured.stdout).group(1))  # type: ignore[union-attr]
        waits = re.search(r"rate-limit waits\s+(\d+) \(([\d.]+)s\)", measured.stdout)
        return {
            "org": f"{len(org.users)} users, {len(org.roles)} roles, {len(org.teams)} teams "
            f"({sum(members) / len(members):.1f} members avg, {sum(1 for m in members if m == 0)} empty), "
            f"{len(org.schedules)} schedules, {len(org.api_keys)} API keys",
            "latency_ms_per_request": LATENCY * 1000,
            "rate_limit": f"{LIMIT} requests / {PERIOD:.0f} s per endpoint group",
            "datadog_requests": requests,
            "go_connector_requests_by_formula": go_requests(org),
            "rate_limit_waits": f"{waits.group(1)} ({waits.group(2)} s)" if waits else "n/a",
            "wall_seconds": measured.wall_seconds,
            "cpu_seconds": round(measured.cpu_seconds, 2),
            "peak_rss_mb": round(measured.peak_rss_mb, 1),
            "fake_429s": fake.throttled,
        }


if __name__ == "__main__":
    json.dump(main(), sys.stdout)
    sys.stdout.write("\n")
