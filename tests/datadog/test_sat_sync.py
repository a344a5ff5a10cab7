"""Service access tokens are synced like the Go connector syncs them (docs/spec/reference-connector.md §2)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from connector.baton.c1z.reader import C1ZReader
from connector.baton.pb.c1.connector.v2 import annotation_trait_pb2
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.connector import DatadogConnector, DatadogOptions
from tests.datadog.helpers import ClientFactory
from tests.fakes.datadog import FakeDatadog
from tests.fakes.datadog.expect import sat_id
from tests.fakes.datadog.org import AccessToken

SAT = "service-account-access-token"
ON = DatadogOptions(sync_secrets=True, sync_service_account_application_keys=True)


async def test_a_sync_lists_the_fakes_access_tokens(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    org = fake.org
    sa = org.add_user("robot@example.com", name="Robot", service_account=True, status="Active")
    created, expires = datetime(2026, 1, 2, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC)
    token = AccessToken(org.new_id(), "deploy", "ddsat_secret", "pub", sa.id, ["dashboards_read"], created, expires)
    org.tokens[token.id] = token
    disabled = org.add_user("gone@example.com", service_account=True, status="Disabled")
    hidden = AccessToken(org.new_id(), "old", "ddsat_x", "pub", disabled.id, ["a"], created)
    org.tokens[hidden.id] = hidden
    path = tmp_path / "sync.c1z"
    await sync_to_file(DatadogConnector(make_client(fake), ON).syncers(), path)
    with C1ZReader(path) as reader:
        synced = {r.id.resource: r for r in reader.resources(SAT)}
        assert {rt.id for rt in reader.resource_types()} >= {SAT}
    owners = {u.id for u in org.users.values() if u.service_account and not u.disabled}
    assert set(synced) == {sat_id(t.owner_id, t.id) for t in org.tokens.values() if t.owner_id in owners}
    res = synced[sat_id(sa.id, token.id)]
    assert res.display_name == "deploy"
    assert (res.parent_resource_id.resource_type, res.parent_resource_id.resource) == ("user", sa.id)
    trait = annotation_trait_pb2.SecretTrait()
    next(a for a in res.annotations if a.Is(trait.DESCRIPTOR)).Unpack(trait)
    assert trait.credential_detail == "datadog.service_access_token"
    assert trait.identity_id == res.parent_resource_id
    assert trait.expires_at.ToDatetime(UTC) == expires
    assert trait.created_at.ToDatetime(UTC) == created
    assert [v.string_value for v in res.profile.fields["scopes"].list_value.values] == ["dashboards_read"]
    assert b"ddsat_secret" not in res.SerializeToString()


async def test_tokens_are_not_synced_without_both_flags(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    path = tmp_path / "sync.c1z"
    await sync_to_file(DatadogConnector(make_client(fake), DatadogOptions(sync_secrets=True)).syncers(), path)
    with C1ZReader(path) as reader:
        assert SAT not in {rt.id for rt in reader.resource_types()}
    assert fake.count("GET", "/api/v2/service_accounts/{sa_id}/access_tokens") == 0
