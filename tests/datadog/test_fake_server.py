"""The fake itself: loopback only, key checks, paging styles, faults, counters, CLI, generation."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from connector.datadog.client import DatadogClient
from tests.datadog.helpers import ClientFactory
from tests.fakes.datadog import FakeDatadog, Org, generate_org
from tests.fakes.datadog.org import Layer, Schedule
from tests.fakes.datadog.server import LISTENING

ROOT = Path(__file__).resolve().parents[2]


def _http(fake: FakeDatadog, **headers: str) -> httpx.Client:
    base = {"DD-API-KEY": fake.api_key, "DD-APPLICATION-KEY": fake.app_key}
    return httpx.Client(base_url=fake.base_url, headers={**base, **headers})


def test_only_loopback_addresses() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FakeDatadog(host="0.0.0.0")


def test_wrong_keys_get_datadogs_403(fake: FakeDatadog) -> None:
    with _http(fake, **{"DD-APPLICATION-KEY": "wrong"}) as http:
        response = http.get("/api/v2/users")
        assert (response.status_code, response.json()) == (403, {"errors": ["Forbidden"]})
        # The API-key check needs no application key...
        assert http.get("/api/v1/validate").json() == {"valid": True}
    with httpx.Client(base_url=fake.base_url) as bare:
        # ...and without any key answers like the recording.
        assert bare.get("/api/v1/validate").json() == {"errors": ["API key required"]}


def test_teams_paging_styles_and_links(fake: FakeDatadog) -> None:
    with _http(fake) as http:
        numbered = http.get("/api/v2/team", params={"page[size]": 2, "page[number]": 0}).json()
        assert numbered["meta"]["pagination"]["type"] == "number_size"
        assert numbered["links"]["next"].startswith(fake.base_url)
        last = numbered["meta"]["pagination"]["last_number"]
        final = http.get("/api/v2/team", params={"page[size]": 2, "page[number]": last}).json()
        assert final["links"]["next"] is not None  # like Datadog: never null, even on the last page
        offset = http.get("/api/v2/team").json()
        assert offset["meta"]["pagination"]["type"] == "offset_limit"
        assert offset["meta"]["pagination"]["limit"] == 100
        assert http.get("/api/v2/users", params={"page[size]": 101}).status_code == 400


def test_include_repeated_or_comma_joined(fake: FakeDatadog) -> None:
    schedule = next(iter(fake.org.schedules))
    path = f"/api/v2/on-call/schedules/{schedule}"
    with _http(fake) as http:
        repeated = http.get(f"{path}?include=teams&include=layers").json()
        joined = http.get(path, params={"include": "teams,layers"}).json()
    assert repeated == joined
    assert {i["type"] for i in joined["included"]} >= {"layers"}


def test_latency_and_counters(fake: FakeDatadog) -> None:
    fake.faults.latency = 0.2
    with _http(fake) as http:
        started = time.monotonic()
        http.get("/api/v2/roles")
        assert time.monotonic() - started >= 0.19
    assert fake.count("GET", "/api/v2/roles") == 1
    assert fake.requests("GET", "/api/v2/roles")[0].status == 200
    fake.reset_counters()
    assert fake.count("GET", "/api/v2/roles") == 0


def test_generator_is_seeded_and_varied() -> None:
    """How fast large orgs are built is the benchmarks' business (benchmarks/datadog_sync.py builds 10,000 users)."""
    big = generate_org(users=5_000, seed=9)
    assert len(big.users) == 5_000
    same = generate_org(users=300, seed=9)
    again = generate_org(users=300, seed=9)
    assert list(same.users) == list(again.users)
    statuses = {u.status for u in same.users.values()}
    assert statuses == {"Active", "Pending", "Disabled"}
    assert any(u.service_account for u in same.users.values())
    assert any(not t.members for t in same.teams.values())
    assert any(m.role == "admin" for t in same.teams.values() for m in t.members.values())
    assert same.app_keys
    assert same.api_keys
    assert same.schedules


async def test_everyone_on_call_is_reported(make_client: ClientFactory) -> None:
    """Two layers on call at once: both people, not just the first (the Go connector reported one)."""
    org = Org()
    a, b, c = (org.add_user(f"{n}@example.com", name=n, status="Active").id for n in "abc")
    start = datetime(2025, 1, 6, tzinfo=UTC)
    org.schedules["s"] = Schedule(
        "s",
        "Primary",
        "UTC",
        [
            Layer("l1", "Days", start, start, timedelta(days=1), [a, b]),
            Layer("l2", "Weeks", start, start, timedelta(days=7), [c]),
        ],
    )
    with FakeDatadog(org) as fake:
        client = make_client(fake)
        # The fake's own clock says when "now" is (the client asks for who is on call now).
        org.clock = lambda: start + timedelta(days=1, hours=2)
        now = await client.get_schedule_responders("s")
        assert now.user_ids == (b, c)
        assert {now.users[u].email for u in now.user_ids} == {"b@example.com", "c@example.com"}
        assert fake.requests()[-1].param("filter[position]") == "current"
        org.clock = lambda: start - timedelta(days=1)
        before = await client.get_schedule_responders("s")
        assert before.user_ids == ()


async def test_mutations_through_http_change_state(fake: FakeDatadog, client: DatadogClient) -> None:
    before = len(fake.org.users)
    await client.create_user("someone.new@example.com")
    assert len(fake.org.users) == before + 1
    with _http(fake) as http:
        role = next(r for r in fake.org.roles.values() if not r.managed)
        user = fake.org.user_by_email("someone.new@example.com")
        assert user is not None
        # DELETE with a JSON body, as Datadog's role API requires.
        http.post(f"/api/v2/roles/{role.id}/users", json={"data": {"type": "users", "id": user.id}})
        assert role.id in user.role_ids
        http.request("DELETE", f"/api/v2/roles/{role.id}/users", json={"data": {"type": "users", "id": user.id}})
        assert role.id not in user.role_ids


def test_cli_serves_a_generated_org() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.datadog", "--port", "0", "--users", "120", "--seed", "3"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        # The CLI binds port 0 and prints the URL it got once listening: no port is guessed up front.
        base_url = next(
            line.split(LISTENING, 1)[1].strip() for line in iter(proc.stderr.readline, "") if LISTENING in line
        )
        headers = {
            "DD-API-KEY": "fake-api-key-0123456789abcdef0123",
            "DD-APPLICATION-KEY": "fake-app-key-0123456789abcdef0123456789ab",
        }
        response = httpx.get(f"{base_url}/api/v2/users", params={"page[size]": 1}, headers=headers)
        assert response.json()["meta"]["page"]["total_count"] == 120
    finally:
        proc.terminate()
        proc.wait(10)


def test_cli_on_a_taken_port_is_one_line_naming_it() -> None:
    """The CLI's default port, 8126, is the Datadog Agent's trace port, taken on many a Datadog user's machine:
    a newcomer got asyncio's traceback instead of the port and the way out."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "tests.fakes.datadog", "--port", str(port), "--users", "1"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"fake Datadog: cannot listen on 127.0.0.1:{port}: Address already in use; --port 0 takes any free port"
    )
