"""The fake's answers on the endpoints credential issuance and deletion use, held to the official client's models
(no recordings exist for the service-account endpoints; see tests/datadog/fidelity.py)."""

from __future__ import annotations

import httpx

from tests.datadog.fidelity import oracle_check, oracle_type
from tests.fakes.datadog import FakeDatadog, generate_org


def test_issuance_endpoints_answer_in_the_official_models() -> None:
    org = generate_org(users=30, seed=5, teams=2, schedules=0)
    sa = next(u for u in org.users.values() if u.service_account and not u.disabled)
    role = next(iter(org.roles.values()))
    with (
        FakeDatadog(org) as fake,
        httpx.Client(
            base_url=fake.base_url, headers={"DD-API-KEY": fake.api_key, "DD-APPLICATION-KEY": fake.app_key}
        ) as http,
    ):
        sa_keys = f"/api/v2/service_accounts/{sa.id}/application_keys"
        sa_tokens = f"/api/v2/service_accounts/{sa.id}/access_tokens"
        calls = [
            ("POST", "/api/v2/api_keys", {"data": {"type": "api_keys", "attributes": {"name": "c1-r1"}}}, 201),
            ("GET", "/api/v2/api_keys?filter=c1-r1&page[size]=100&page[number]=0", None, 200),
            ("POST", sa_keys, {"data": {"type": "application_keys", "attributes": {"name": "c1-r1"}}}, 201),
            (
                "POST",
                sa_keys,
                {"data": {"type": "application_keys", "attributes": {"name": "c1-r2", "scopes": ["dashboards_read"]}}},
                201,
            ),
            ("GET", f"{sa_keys}?filter=c1-r1&page[size]=100&page[number]=0", None, 200),
            (
                "POST",
                sa_tokens,
                {"data": {"type": "service_access_tokens", "attributes": {"name": "c1-r1", "scopes": ["a"]}}},
                201,
            ),
            ("GET", f"{sa_tokens}?filter=c1-r1&page[number]=0&page[size]=100", None, 200),
            ("GET", f"/api/v2/roles/{role.id}", None, 200),
        ]
        problems: list[str] = []
        for method, path, body, status in calls:
            response = http.request(method, path, json=body)
            assert response.status_code == status, (method, path, response.text)
            route = path.split("?")[0]
            assert oracle_type(method, route) is not None, (method, route)
            problems += oracle_check(method, route, status, response.json())
        created = http.get(f"{sa_tokens}?filter=c1-r1").json()["data"]
        assert [t["attributes"]["name"] for t in created] == ["c1-r1"]
        assert "key" not in created[0]["attributes"], "a listed token never shows its value"
    assert not problems, "\n".join(problems)
