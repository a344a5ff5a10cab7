"""Targeted (partial) syncs and syncs without the users walk: role grants come from the per-role endpoint.

A full sync reads every role grant from the users list (test_sync_org.py proves it costs no per-role request);
a sync that does not walk the users must still hold every grant of the roles it syncs, never a "successful"
sync with grants missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.baton import builders as b
from connector.baton.c1z.reader import C1ZReader
from connector.baton.ids import parse_resource_ref
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.sync.syncer import SyncOptions, SyncResult
from connector.baton.sync.to_file import sync_to_file
from connector.daemon.oneshot import sync_options
from connector.daemon.settings import Settings
from connector.datadog.connector import DatadogConnector, DatadogOptions
from connector.datadog.errors import UnexpectedResponse
from tests.datadog.helpers import ClientFactory, MixedUpAnswers
from tests.fakes.datadog import FakeDatadog
from tests.fakes.datadog.org import AccessToken, AppKey

ROLE_USERS = "/api/v2/roles/{role_id}/users"


async def _sync(fake: FakeDatadog, make_client: ClientFactory, path: Path, **options: object) -> SyncResult:
    connector = DatadogConnector(make_client(fake), DatadogOptions())
    opts = SyncOptions(**options)  # type: ignore[arg-type]
    return await sync_to_file(connector.syncers(), path, opts)


def _role_grants(fake: FakeDatadog, role_id: str) -> set[str]:
    return {f"role:{role_id}:member:user:{u.id}" for u in fake.org.users.values() if role_id in u.role_ids}


async def test_a_targeted_role_gets_its_grants_from_the_role_endpoint(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    path = tmp_path / "sync.c1z"
    await _sync(fake, make_client, path)
    role = max(fake.org.roles.values(), key=lambda r: sum(r.id in u.role_ids for u in fake.org.users.values()))
    assert _role_grants(fake, role.id), "the role must have members for this test to mean anything"
    fake.reset_counters()
    result = await _sync(fake, make_client, path, targeted_resources=[b.resource_id("role", role.id)])
    assert result.sync_type == "partial"
    with C1ZReader(path) as reader:
        assert [r.id.resource for r in reader.resources(sync_id=result.sync_id)] == [role.id]
        assert [e.id for e in reader.entitlements(sync_id=result.sync_id)] == [f"role:{role.id}:member"]
        assert {g.id for g in reader.grants(sync_id=result.sync_id)} == _role_grants(fake, role.id)
    assert fake.count("GET", "/api/v2/roles/{role_id}") == 1
    assert fake.count("GET", ROLE_USERS) >= 1
    assert fake.count("GET", "/api/v2/users") == 0, "a targeted role does not walk every user"


async def test_a_targeted_team_gets_its_memberships(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    path = tmp_path / "sync.c1z"
    team = max(fake.org.teams.values(), key=lambda t: len(t.members))
    result = await _sync(fake, make_client, path, targeted_resources=[b.resource_id("team", team.id)])
    expected = {f"team:{team.id}:member:user:{m.user_id}" for m in team.members.values()} | {
        f"team:{team.id}:admin:user:{m.user_id}" for m in team.members.values() if m.role == "admin"
    }
    with C1ZReader(path) as reader:
        assert {g.id for g in reader.grants(sync_id=result.sync_id)} == expected


async def test_roles_without_users_read_every_role_grant_per_role(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    path = tmp_path / "sync.c1z"
    result = await _sync(fake, make_client, path, resource_type_ids=["role"])
    assert result.sync_type == "full"
    with C1ZReader(path) as reader:
        assert {g.id for g in reader.grants()} == {
            f"role:{rid}:member:user:{u.id}" for u in fake.org.users.values() for rid in u.role_ids
        }
    assert fake.count("GET", ROLE_USERS) == len(fake.org.roles)
    assert fake.count("GET", "/api/v2/users") == 0


async def test_a_full_sync_still_takes_role_grants_from_the_users_walk(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    await _sync(fake, make_client, tmp_path / "sync.c1z", resource_type_ids=["role", "user"])
    assert fake.count("GET", ROLE_USERS) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("role:abc", ("role", "abc")),
        ("service-account-access-token:sat:c2EAdA", ("service-account-access-token", "sat:c2EAdA")),
        ("bid:r:team/1234", ("team", "1234")),
        ("bid:r:user/u1/service-account-application-key/k1", ("service-account-application-key", "k1")),
        ("bid:r:role/a\\/b", ("role", "a/b")),
    ],
)
def test_resource_refs_parse(text: str, expected: tuple[str, str]) -> None:
    assert parse_resource_ref(text) == expected


@pytest.mark.parametrize("text", ["role", ":abc", "role:", "bid:e:role/x", "bid:r:role", "bid:r:role/", "bid:r:a/b/c"])
def test_malformed_resource_refs_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not"):
        parse_resource_ref(text)


def test_the_sync_resources_setting_becomes_targeted_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_SYNC_RESOURCES", "role:r1,bid:r:team/t1")
    settings = Settings()
    assert list(sync_options(settings).targeted_resources) == [
        resource_pb2.ResourceId(resource_type="role", resource="r1"),
        resource_pb2.ResourceId(resource_type="team", resource="t1"),
    ]
    monkeypatch.setenv("BATON_SYNC_RESOURCES", "nonsense")
    with pytest.raises(ValueError, match="nonsense"):
        Settings()


async def test_a_targeted_schedule_gets_who_is_on_call(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    schedule = next(iter(fake.org.schedules.values()))
    connector = DatadogConnector(make_client(fake), DatadogOptions(sync_schedules=True))
    opts = SyncOptions(targeted_resources=[b.resource_id("schedule", schedule.id)])
    result = await sync_to_file(connector.syncers(), tmp_path / "sync.c1z", opts)
    with C1ZReader(tmp_path / "sync.c1z") as reader:
        (res,) = reader.resources(sync_id=result.sync_id)
        assert (res.id.resource, res.display_name) == (schedule.id, schedule.name)
        assert [e.id for e in reader.entitlements(sync_id=result.sync_id)] == [f"schedule:{schedule.id}:on_call"]
        grants = {g.id for g in reader.grants(sync_id=result.sync_id)}
    # Who is on call depends on the fake's clock; every grant must be this schedule's on_call.
    assert all(g.startswith(f"schedule:{schedule.id}:on_call:user:") for g in grants)
    assert fake.count("GET", "/api/v2/on-call/schedules") == 0, "no schedules walk"


async def test_a_targeted_service_account_lists_its_keys_and_tokens_with_the_ids_of_a_full_sync(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    """A target's ChildResourceType children are listed too, as Go's targeted sync does (`getSubResources`;
    c1z-format.md §3.3): a targeted service account (e.g. after a key was issued to it) carries its application
    keys and access tokens, with the same ids and parent as a full sync gives them."""
    path = tmp_path / "sync.c1z"
    options = DatadogOptions(sync_secrets=True, sync_service_account_application_keys=True)
    org = fake.org
    sa = next(u.id for u in org.users.values() if u.service_account and not u.disabled)
    key = AppKey(org.new_id(), "sa-key", "k" * 40, sa, org.now())
    token = AccessToken(org.new_id(), "sa-token", "t" * 40, "ddsat_x", sa, ["dashboards_read"], org.now())
    org.app_keys[key.id], org.tokens[token.id] = key, token
    children = ("service-account-application-key", "service-account-access-token")

    def owned(reader: C1ZReader, sync_id: str) -> set[tuple[str, str, str]]:
        return {
            (r.id.resource_type, r.id.resource, r.parent_resource_id.resource)
            for r in reader.resources(sync_id=sync_id)
            if r.id.resource_type in children and r.parent_resource_id.resource == sa
        }

    full = await sync_to_file(DatadogConnector(make_client(fake), options).syncers(), path, SyncOptions())
    targeted = await sync_to_file(
        DatadogConnector(make_client(fake), options).syncers(),
        path,
        SyncOptions(targeted_resources=[b.resource_id("user", sa)]),
    )
    with C1ZReader(path) as reader:
        expected = owned(reader, full.sync_id)
        assert {t for t, _, _ in expected} == set(children), "the account must own a key and a token"
        assert owned(reader, targeted.sync_id) == expected
        assert {r.id.resource for r in reader.resources("user", sync_id=targeted.sync_id)} == {sa}


async def test_a_type_filter_of_only_keys_and_tokens_holds_every_one_a_full_sync_holds(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    """Keys and tokens are listed under their service accounts; `--sync-resource-types` naming only them must
    not give a "successful" sync without them (the Go connector walks the users itself for them): the engine
    walks the users (storing none) for the parents (`ListedAsChildren`)."""
    org = fake.org
    sa = next(u.id for u in org.users.values() if u.service_account and not u.disabled)
    key = AppKey(org.new_id(), "sa-key", "k" * 40, sa, org.now())
    org.app_keys[key.id] = key
    options = DatadogOptions(sync_secrets=True, sync_service_account_application_keys=True)
    children = ["service-account-application-key", "service-account-access-token"]

    def secrets(path: Path) -> list[bytes]:
        with C1ZReader(path) as reader:
            return sorted(
                r.SerializeToString(deterministic=True) for r in reader.resources() if r.id.resource_type in children
            )

    await sync_to_file(DatadogConnector(make_client(fake), options).syncers(), tmp_path / "full.c1z", SyncOptions())
    result = await sync_to_file(
        DatadogConnector(make_client(fake), options).syncers(),
        tmp_path / "keys.c1z",
        SyncOptions(resource_type_ids=children),
    )
    assert result.sync_type == "full"
    expected = secrets(tmp_path / "full.c1z")
    assert len(expected) >= 2, "the org must hold a key and a token for this test to mean anything"
    assert secrets(tmp_path / "keys.c1z") == expected
    with C1ZReader(tmp_path / "keys.c1z") as reader:
        assert {rt.id for rt in reader.resource_types()} == set(children)
        assert not list(reader.resources("user")), "the users walked for the parents are not stored"


async def test_a_targeted_roles_users_answered_with_another_roles_fail_the_sync(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    """Answers mixed up (a cache, a proxy): the role's users page answered with another role's. Each listed user names
    its roles, and none of these names the role asked about, yet they were stored as its members, and its real
    members as not (to ConductorOne, their access revoked). A role write's answer is refused for the same; so is the
    read now, naming the endpoint."""
    by_size = sorted(
        fake.org.roles.values(), key=lambda r: sum(r.id in u.role_ids for u in fake.org.users.values()), reverse=True
    )
    asked = by_size[0]
    other = next(
        r
        for r in by_size[1:]
        if {g.rsplit(":", 1)[1] for g in _role_grants(fake, r.id)}
        - {g.rsplit(":", 1)[1] for g in _role_grants(fake, asked.id)}
    )
    transport = MixedUpAnswers(ROLE_USERS.format(role_id=asked.id), ROLE_USERS.format(role_id=other.id))
    connector = DatadogConnector(make_client(fake, transport=transport), DatadogOptions())
    with pytest.raises(UnexpectedResponse) as raised:
        await sync_to_file(
            connector.syncers(), tmp_path / "s.c1z", SyncOptions(targeted_resources=[b.resource_id("role", asked.id)])
        )
    assert str(raised.value) == (
        f"Datadog unexpected response: GET /api/v2/roles/{asked.id}/users -> 200: page 0: a user of another role"
        " (data[0].relationships.roles.data lacks it)"
    )
