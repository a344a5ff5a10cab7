"""One-shot `--sync-resources`: a partial sync of the named resources, appended to the file's full sync."""

from __future__ import annotations

from pathlib import Path

from connector.baton.c1z.reader import C1ZReader
from tests.daemon.test_oneshot import API_CANARY, APP_CANARY, run
from tests.fakes.datadog import FakeDatadog, generate_org


def test_sync_resources_writes_a_partial_sync_with_the_roles_grants(tmp_path: Path) -> None:
    org = generate_org(users=40, seed=9, teams=3)
    role = max(org.roles.values(), key=lambda r: sum(r.id in u.role_ids for u in org.users.values()))
    expected = {f"role:{role.id}:member:user:{u.id}" for u in org.users.values() if role.id in u.role_ids}
    assert expected
    out = tmp_path / "sync.c1z"
    with FakeDatadog(org, api_key=API_CANARY, app_key=APP_CANARY) as fake:
        keys = ("--api-key", API_CANARY, "--app-key", APP_CANARY, "--base-url", fake.base_url, "--file", str(out))
        assert run(*keys).returncode == 0
        done = run(*keys, "--sync-resources", f"bid:r:role/{role.id}")
        assert done.returncode == 0, done.stderr
        bad = run(*keys, "--sync-resources", "nonsense")
    assert bad.returncode != 0
    assert "nonsense" in bad.stderr
    with C1ZReader(out) as reader:
        runs = reader.sync_runs()
        assert [r.sync_type for r in runs] == ["full", "partial"]
        partial = runs[-1].sync_id
        assert [r.id.resource for r in reader.resources(sync_id=partial)] == [role.id]
        assert {g.id for g in reader.grants(sync_id=partial)} == expected
