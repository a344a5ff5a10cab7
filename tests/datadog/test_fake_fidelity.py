"""The fake Datadog answers every recorded request like Datadog did, in status and JSON shape, and
what it sends deserializes with the official client's models without unparsed parts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.datadog.fidelity import Replayer, oracle_check, oracle_type, recording_time, seed_recorded_objects
from tests.datadog.helpers import load_recording, recordings
from tests.fakes.datadog import FakeDatadog, generate_org


@pytest.fixture(scope="module")
def server() -> Iterator[FakeDatadog]:
    with FakeDatadog() as fake:
        yield fake


@pytest.mark.parametrize("path", recordings(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fake_answers_recording_like_datadog(server: FakeDatadog, path: Path) -> None:
    recording = load_recording(path)
    when = recording_time(recording) or datetime.now(UTC)
    # The recording's moment, so On-Call rotations and restrictions put the same people on call.
    org = generate_org(users=4, seed=5, teams=0, schedules=0, api_keys=1, clock=lambda: when + timedelta(seconds=1))
    seed_recorded_objects(org, recording)
    server.state.org = org
    server.faults.clear()

    exchanges = Replayer(server, recording).run()

    problems = [f"#{e.index} {e.method} {e.path}: {p}" for e in exchanges for p in e.problems]
    for e in exchanges:
        # Datadog's own JSON:API error objects are flagged by APIErrorResponse (it types errors as
        # strings); the fake is only held to what real responses achieve.
        if e.status >= 300 and oracle_check(e.method, e.path, e.status, e.recorded_body):
            continue
        problems += oracle_check(e.method, e.path, e.status, e.body)
    assert not problems, "\n".join(problems)


def test_every_endpoint_the_client_uses_has_an_oracle_model() -> None:
    """Guards the oracle itself: a silent None would make the checks above vacuous."""
    for method, path in [
        ("GET", "/api/v2/users"),
        ("GET", "/api/v2/roles"),
        ("GET", "/api/v2/team"),
        ("GET", "/api/v2/team/x/memberships"),
        ("GET", "/api/v2/on-call/schedules"),
        ("GET", "/api/v2/on-call/schedules/x/responders"),
        ("GET", "/api/v2/api_keys"),
        ("GET", "/api/v2/service_accounts/x/application_keys"),
        ("POST", "/api/v2/team/x/memberships"),
        ("PATCH", "/api/v2/team/x/memberships/y"),
        ("POST", "/api/v2/roles/x/users"),
        ("DELETE", "/api/v2/roles/x/users"),
        ("POST", "/api/v2/users"),
        ("PATCH", "/api/v2/users/x"),
        ("POST", "/api/v2/user_invitations"),
        ("GET", "/api/v1/validate"),
    ]:
        assert oracle_type(method, path) is not None, (method, path)


def test_generated_org_responses_deserialize_with_official_models() -> None:
    """The synthetic org (managed roles, service accounts, empty teams, layered schedules) too."""
    org = generate_org(users=60, seed=3, teams=8, schedules=4)
    with (
        FakeDatadog(org) as fake,
        httpx.Client(
            base_url=fake.base_url, headers={"DD-API-KEY": fake.api_key, "DD-APPLICATION-KEY": fake.app_key}
        ) as http,
    ):
        team = next(iter(org.teams.values()))
        schedule = next(iter(org.schedules.values()))
        service_account = next(u for u in org.users.values() if u.service_account)
        user = next(iter(org.users.values()))
        role = next(iter(org.roles.values()))
        paths = [
            "/api/v2/users?page[size]=100",
            f"/api/v2/users/{user.id}",
            "/api/v2/roles?page[size]=100",
            f"/api/v2/roles/{role.id}/users?page[size]=100",
            "/api/v2/team?page[size]=100&page[number]=0",
            "/api/v2/team",
            f"/api/v2/team/{team.id}/memberships?page[size]=100&page[number]=0",
            f"/api/v2/users/{user.id}/memberships",
            "/api/v2/on-call/schedules?page[size]=100&include=teams",
            f"/api/v2/on-call/schedules/{schedule.id}?include=teams,layers,layers.members,layers.members.user",
            f"/api/v2/on-call/schedules/{schedule.id}/responders?filter[position]=previous,current,next"
            "&include=schedule,responders,responders.shifts,responders.shifts.user",
            f"/api/v2/on-call/schedules/{schedule.id}/on-call?include=user",
            "/api/v2/api_keys?page[size]=100",
            "/api/v2/application_keys?page[size]=100",
            f"/api/v2/service_accounts/{service_account.id}/application_keys?page[size]=100",
            f"/api/v2/service_accounts/{service_account.id}/access_tokens",
            "/api/v2/current_user",
            f"/api/v2/users/{user.id}/orgs",
            "/api/v2/permissions",
            "/api/v2/validate",
        ]
        problems = []
        for path in paths:
            response = http.get(path)
            assert response.status_code == 200, (path, response.text)
            route = path.split("?")[0]
            assert oracle_type("GET", route) is not None, route
            problems += oracle_check("GET", route, 200, response.json())
    assert not problems, "\n".join(problems)
