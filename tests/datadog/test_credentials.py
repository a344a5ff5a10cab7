"""Credential issuance and deletion, Datadog side (docs/spec/credentials.md §4), against the fake Datadog.

Every issued key is used against the fake afterwards (it must work), and every secret the fake minted is a
canary: it must never appear in a log line, an error or captured output.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import structlog
from google.protobuf import json_format, timestamp_pb2

from connector.baton import builders as b
from connector.baton.connector import CredentialIssuer, IssuedCredential, noting_undone_on_stop
from connector.baton.errors import (
    AlreadyExistsError,
    ConnectorError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
)
from connector.baton.gostrings import NONBLANK_PATTERN
from connector.baton.pb.c1.connector.v2 import annotation_trait_pb2, connector_pb2, resource_pb2
from connector.datadog import credentials
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions
from connector.datadog.credentials import api_key_v2, service_access_token_v2
from connector.datadog.errors import RateLimited, UnexpectedResponse
from connector.datadog.resources.keys import is_malformed_id, parse_sat_handle, sat_handle
from tests.datadog.helpers import ClientFactory, FirstAnswerLost, ToTheFake, other_users_answers
from tests.fakes.datadog import FakeDatadog, render
from tests.fakes.datadog.org import AccessToken, APIKey, AppKey, User
from tests.fixtures_dir import FIXTURES_DIR

PAYLOADS = json.loads((FIXTURES_DIR / "credentials" / "datadog-payloads.json").read_text())
ALL_ON = DatadogOptions(
    provisioning=True, sync_secrets=True, sync_service_account_application_keys=True, allow_org_api_key_deletion=True
)
APP_KEY, ORG_KEY, SAT = "service-account-application-key", "api-key", "service-account-access-token"
SA_TOKENS = "/api/v2/service_accounts/{sa_id}/access_tokens"
SA_APP_KEYS = "/api/v2/service_accounts/{sa_id}/application_keys"


# -- the payload and handle vectors (datadog-payloads.json) ----------------------------------------------


@pytest.mark.parametrize("case", PAYLOADS["api_key_v2"], ids=lambda c: c["name"])
def test_api_key_v2_vectors(case: dict[str, Any]) -> None:
    def build() -> bytes:
        if case["function"] == "api_key_v2":
            return api_key_v2(case["kind"], case["key_value"], case["key_id"], case["scopes"])
        return service_access_token_v2(case["key_value"], case["key_id"], case["scopes"])

    if case["ok"]:
        assert build() == base64.b64decode(case["payload_b64"])
    else:
        with pytest.raises(InternalError) as caught:
            build()
        assert str(caught.value) == case["error"]


@pytest.mark.parametrize("case", PAYLOADS["sat_handles"], ids=lambda c: c["name"])
def test_sat_handle_vectors(case: dict[str, Any]) -> None:
    parsed = parse_sat_handle(case["handle"])
    if case["parse_ok"]:
        assert parsed == (case["parsed_service_account_id"], case["parsed_token_id"])
    else:
        assert parsed is None
    if "service_account_id" in case and case["parse_ok"]:
        assert sat_handle(case["service_account_id"], case["token_id"]) == case["handle"]


@pytest.mark.parametrize("case", PAYLOADS["is_malformed_api_key_handle"], ids=lambda c: repr(c["handle"]))
def test_malformed_id_vectors(case: dict[str, Any]) -> None:
    assert is_malformed_id(case["handle"]) is case["malformed"]


class _UnreadText(str):
    """Text that Python code may not read one character at a time (a regular expression or a str method reads it in
    C, at no cost per character to the event loop)."""

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("an id was read character by character")


@pytest.mark.parametrize(
    ("value", "malformed"),
    [("abc", False), ("abc\x00", True), ("abc\x7f", True), (" \t", True), ("id\x85", False), ("a" * 30_000_000, False)],
    ids=["plain", "nul", "del", "blank", "trailing-nel", "30-MB"],
)
def test_an_id_is_judged_malformed_without_reading_it_character_by_character(value: str, malformed: bool) -> None:
    """The id a `delete_resource` task names (a SAT handle's two parts too) is ConductorOne's text, of any length up to
    the message limit: checked one character at a time in Python, a 30 MB id held the event loop 1.5 s (health
    probes, heartbeats and every other task waiting) before the deletion refused it."""
    assert is_malformed_id(_UnreadText(value)) is malformed


# -- fixtures ---------------------------------------------------------------------------------------------


@dataclass
class Canaries:
    """Secrets the fake minted in this test; none may appear in logs or output."""

    values: set[str] = field(default_factory=set)


@pytest.fixture
def canaries(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Iterator[Canaries]:
    found = Canaries()
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        yield found
    out, err = capfd.readouterr()
    captured = "\n".join([caplog.text, repr(events), out, err])
    leaked = [v[:6] + "..." for v in found.values if v in captured]
    assert not leaked, f"issued secrets leaked into logs or output: {leaked}"


@dataclass
class Env:
    fake: FakeDatadog
    client: DatadogClient
    connector: DatadogConnector
    canaries: Canaries

    @property
    def issuer(self) -> CredentialIssuer:
        found = self.connector.credential_issuer("user")
        assert found is not None
        return found

    def service_account(self) -> User:
        return self.fake.org.add_user("robot@example.com", name="Robot", service_account=True, status="Active")

    async def issue(
        self,
        user: User,
        kind: str,
        scopes: list[str] | None = None,
        *,
        request_id: str = "2Abc_def-123",
        expires_at: timestamp_pb2.Timestamp | None = None,
    ) -> IssuedCredential:
        options = resource_pb2.CredentialIssueOptions(secret_resource_type_id=kind)
        if kind == SAT:
            options.token.scopes.extend(scopes or [])
        else:
            options.api_key.scopes.extend(scopes or [])
        issued = await self.issuer.issue_credential(b.resource_id("user", user.id), options, expires_at, request_id)
        document = json.loads(issued.plaintexts[0].bytes)
        self.canaries.values.add(document["key_value"])
        return issued


@pytest.fixture
def env(fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries) -> Env:
    client = make_client(fake)
    return Env(fake, client, DatadogConnector(client, ALL_ON), canaries)


def _document(issued: IssuedCredential) -> dict[str, Any]:
    assert len(issued.plaintexts) == 1
    parsed: dict[str, Any] = json.loads(issued.plaintexts[0].bytes)
    return parsed


def _trait(res: resource_pb2.Resource) -> annotation_trait_pb2.SecretTrait:
    traits = [a for a in res.annotations if a.Is(annotation_trait_pb2.SecretTrait.DESCRIPTOR)]
    assert len(traits) == 1
    trait = annotation_trait_pb2.SecretTrait()
    traits[0].Unpack(trait)
    return trait


async def _works(fake: FakeDatadog, headers: dict[str, str]) -> bool:
    async with httpx.AsyncClient(base_url=fake.base_url, headers=headers) as http:
        return (await http.get("/api/v2/users", params={"page[size]": 1})).status_code == 200


# -- issuance ----------------------------------------------------------------------------------------------


async def test_issues_a_service_account_application_key_that_works(env: Env) -> None:
    sa = env.service_account()
    issued = await env.issue(sa, APP_KEY, ["dashboards_read", "monitors_read"])
    doc = _document(issued)
    assert list(doc) == ["key_value", "provider", "scopes", "key_id", "header_name"]
    assert (doc["provider"], doc["header_name"]) == ("datadog", "DD-APPLICATION-KEY")
    assert doc["scopes"] == ["dashboards_read", "monitors_read"]
    minted = env.fake.org.app_keys[doc["key_id"]]
    assert (minted.name, minted.owner_id, minted.key) == ("c1-2Abc_def-123", sa.id, doc["key_value"])
    assert issued.plaintexts[0].name == "application_key"
    assert issued.resource_mode == resource_pb2.CredentialResourceMode.CREDENTIAL_RESOURCE_MODE_DISCOVERABLE
    secret = issued.secret
    assert (secret.id.resource_type, secret.id.resource, secret.display_name) == (APP_KEY, minted.id, minted.name)
    assert secret.parent_resource_id == b.resource_id("user", sa.id)
    trait = _trait(secret)
    assert trait.identity_id == b.resource_id("user", sa.id)
    assert trait.credential_detail == "datadog.service_account_application_key"
    assert not trait.HasField("created_by_id")
    assert list(secret.profile.fields["scopes"].list_value.values) == list(
        trait.profile.fields["scopes"].list_value.values
    )
    assert await _works(env.fake, {"DD-API-KEY": env.fake.api_key, "DD-APPLICATION-KEY": doc["key_value"]})


def test_each_kinds_credential_detail_is_spelled_once() -> None:
    """A key synced (resources/keys.py) and one just issued (credentials.py) carry the same SecretTrait
    `credential_detail`, so each kind's is spelled in one place: two copies of the literal drift apart unseen, and
    ConductorOne would see two kinds of credential."""
    from pathlib import Path

    from connector.datadog.resources import keys

    layer = Path(keys.__file__).parent.parent
    details = ("datadog.api_key", "datadog.service_account_application_key", "datadog.service_access_token")
    spelled = {d: [p.name for p in layer.rglob("*.py") if f'"{d}"' in p.read_text()] for d in details}
    assert spelled == {detail: ["keys.py"] for detail in details}


async def test_issues_an_org_api_key_for_any_user(env: Env) -> None:
    human = next(u for u in env.fake.org.users.values() if not u.service_account)
    issued = await env.issue(human, ORG_KEY)
    doc = _document(issued)
    assert list(doc) == ["key_value", "provider", "key_id", "header_name"]
    assert doc["header_name"] == "DD-API-KEY"
    minted = env.fake.org.api_keys[doc["key_id"]]
    assert minted.name == "c1-2Abc_def-123"
    assert issued.plaintexts[0].name == "api_key"
    assert not issued.secret.HasField("parent_resource_id")
    assert not issued.secret.HasField("profile")
    trait = _trait(issued.secret)
    assert trait.credential_detail == "datadog.api_key"
    assert trait.identity_id == b.resource_id("user", human.id)
    assert minted.created_by is not None
    assert trait.created_by_id == b.resource_id("user", minted.created_by)
    assert await _works(env.fake, {"DD-API-KEY": doc["key_value"], "DD-APPLICATION-KEY": env.fake.app_key})


async def test_issues_a_service_access_token_sent_as_bearer(env: Env) -> None:
    sa = env.service_account()
    issued = await env.issue(sa, SAT, ["dashboards_read"])
    doc = _document(issued)
    assert doc["header_name"] == "Authorization"
    assert doc["scopes"] == ["dashboards_read"]
    token = env.fake.org.tokens[doc["key_id"]]
    assert (token.owner_id, token.name) == (sa.id, "c1-2Abc_def-123")
    assert issued.plaintexts[0].name == "service_access_token"
    assert issued.secret.id == b.resource_id(SAT, sat_handle(sa.id, token.id))
    assert parse_sat_handle(issued.secret.id.resource) == (sa.id, token.id)
    assert _trait(issued.secret).credential_detail == "datadog.service_access_token"
    assert await _works(env.fake, {"Authorization": f"Bearer {doc['key_value']}"})
    assert env.fake.count("POST", SA_TOKENS) == 1


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_second_request_with_the_same_id_is_refused(env: Env, kind: str) -> None:
    sa = env.service_account()
    scopes = ["dashboards_read"] if kind == SAT else []
    await env.issue(sa, kind, scopes)
    before = (len(env.fake.org.app_keys), len(env.fake.org.api_keys), len(env.fake.org.tokens))
    with pytest.raises(AlreadyExistsError, match="may already exist"):
        await env.issue(sa, kind, scopes)
    assert (len(env.fake.org.app_keys), len(env.fake.org.api_keys), len(env.fake.org.tokens)) == before
    # Another request id is another credential.
    await env.issue(sa, kind, scopes, request_id="other-request")


async def test_a_full_page_of_near_matches_refuses_rather_than_guessing(env: Env) -> None:
    sa, org = env.service_account(), env.fake.org
    for i in range(100):  # Datadog's filter matches substrings: these contain c1-<rid> but are not it
        key = AppKey(org.new_id(), f"old-c1-2Abc_def-123-{i}", org.new_secret(40), sa.id, org.now())
        org.app_keys[key.id] = key
    with pytest.raises(FailedPreconditionError, match="cannot rule out"):
        await env.issue(sa, APP_KEY)
    assert env.fake.count("POST", SA_APP_KEYS) == 0


async def test_requests_that_cannot_be_served_fail_before_minting(env: Env) -> None:
    sa = env.service_account()
    human = next(u for u in env.fake.org.users.values() if not u.service_account)
    with pytest.raises(InvalidArgumentError, match="is not a service account; credential issuance only targets"):
        await env.issue(human, APP_KEY)
    with pytest.raises(InvalidArgumentError, match="is not a service account"):
        await env.issue(human, SAT, ["a"])
    with pytest.raises(InvalidArgumentError, match="cannot be scoped"):
        await env.issue(sa, ORG_KEY, ["dashboards_read"])
    with pytest.raises(InvalidArgumentError, match="require at least one scope"):
        await env.issue(sa, SAT, [])
    with pytest.raises(InvalidArgumentError, match="duplicate scope"):
        await env.issue(sa, APP_KEY, ["a", "a"])
    with pytest.raises(InvalidArgumentError, match="must not be empty"):
        await env.issue(sa, SAT, ["\u3000"])
    with pytest.raises(InvalidArgumentError, match="expiry is not advertised"):
        await env.issue(sa, SAT, ["a"], expires_at=timestamp_pb2.Timestamp(seconds=2_000_000_000))
    with pytest.raises(InvalidArgumentError, match='unsupported credential secret resource type "team"'):
        await env.issue(sa, "team")
    with pytest.raises(NotFoundError, match='Datadog user "missing" not found'):
        await env.issuer.issue_credential(
            b.resource_id("user", "missing"),
            resource_pb2.CredentialIssueOptions(
                secret_resource_type_id=APP_KEY, api_key=resource_pb2.CredentialIssueOptions.ApiKey()
            ),
            None,
            "r1",
        )
    with pytest.raises(InvalidArgumentError, match="a Datadog user identity is required"):
        await env.issuer.issue_credential(
            b.resource_id("team", sa.id),
            resource_pb2.CredentialIssueOptions(secret_resource_type_id=APP_KEY),
            None,
            "r",
        )
    assert (env.fake.count("POST", SA_APP_KEYS), env.fake.count("POST", SA_TOKENS)) == (0, 0)
    assert env.fake.count("POST", "/api/v2/api_keys") == 0


@pytest.mark.parametrize("kind", [APP_KEY, SAT])
async def test_a_service_account_disabled_since_the_sync_is_refused_naming_why(env: Env, kind: str) -> None:
    """Disabled between the sync and the task: ConductorOne was told only "Datadog not found: GET .../application_keys
    -> 404: Service account not found" about an account the lookup had just found. A credential of a disabled service
    account authenticates nothing; the refusal says so before any key request."""
    sa = env.service_account()
    env.fake.org.update_user(sa, disabled=True)
    with pytest.raises(FailedPreconditionError) as caught:
        await env.issue(sa, kind, ["dashboards_read"])
    assert str(caught.value) == (
        f'baton-datadog: Datadog service account "{sa.id}" is disabled; enable it in Datadog before issuing it a '
        "credential"
    )
    assert env.fake.count("GET", SA_APP_KEYS) + env.fake.count("GET", SA_TOKENS) == 0
    assert (env.fake.count("POST", SA_APP_KEYS), env.fake.count("POST", SA_TOKENS)) == (0, 0)


@pytest.mark.parametrize("identity", ["u" * 1025, "..", "."])
async def test_an_org_key_for_an_identity_no_datadog_id_can_be_is_refused_before_any_request(
    env: Env, identity: str
) -> None:
    """An org key's identity is not looked up (§4.2: any user may receive one), so nothing checked it: a key was
    minted for a 1 MB identity, which every log line of the issuance then carried, as did the report's SecretTrait.
    Like every other id a task names, a user id is one a request path can hold."""
    options = resource_pb2.CredentialIssueOptions(
        secret_resource_type_id=ORG_KEY, api_key=resource_pb2.CredentialIssueOptions.ApiKey()
    )
    env.fake.reset_counters()
    with structlog.testing.capture_logs() as events, pytest.raises(InvalidArgumentError) as refused:
        await env.issuer.issue_credential(b.resource_id("user", identity), options, None, "r1")
    assert str(refused.value) == "baton-datadog: a Datadog user identity is required"
    assert env.fake.count("POST", "/api/v2/api_keys") == 0
    assert env.fake.count("GET", "/api/v2/api_keys") == 0
    assert events == []


async def test_kinds_the_flags_do_not_offer_are_refused(fake: FakeDatadog, make_client: ClientFactory) -> None:
    only_app_keys = DatadogOptions(provisioning=True, sync_secrets=True, sync_service_account_application_keys=True)
    issuer = DatadogConnector(make_client(fake), only_app_keys).credential_issuer("user")
    assert issuer is not None
    options = resource_pb2.CredentialIssueOptions(
        secret_resource_type_id=ORG_KEY, api_key=resource_pb2.CredentialIssueOptions.ApiKey()
    )
    with pytest.raises(FailedPreconditionError, match="requires allow-org-api-key-deletion"):
        await issuer.issue_credential(b.resource_id("user", "u"), options, None, "r1")
    only_org = DatadogOptions(provisioning=True, sync_secrets=True, allow_org_api_key_deletion=True)
    issuer = DatadogConnector(make_client(fake), only_org).credential_issuer("user")
    assert issuer is not None
    for kind in (APP_KEY, SAT):
        options = resource_pb2.CredentialIssueOptions(secret_resource_type_id=kind)
        if kind == SAT:
            options.token.scopes.append("a")
        else:
            options.api_key.SetInParent()
        with pytest.raises(FailedPreconditionError, match="requires sync-service-account-application-keys"):
            await issuer.issue_credential(b.resource_id("user", "u"), options, None, "r1")


async def test_the_sat_create_is_sent_exactly_once(env: Env) -> None:
    sa = env.service_account()
    env.fake.faults.force(429, path=f"/api/v2/service_accounts/{sa.id}/access_tokens", method="POST", reset=0)
    with pytest.raises(RateLimited):
        await env.issue(sa, SAT, ["a"])
    assert env.fake.count("POST", SA_TOKENS) == 1, "a throttled SAT create is not resent"
    assert not [t for t in env.fake.org.tokens.values() if t.owner_id == sa.id]


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_failure_after_the_mint_deletes_the_credential(
    env: Env, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sa = env.service_account()

    def broken(*args: object) -> bytes:
        raise InternalError("encoding failed")

    monkeypatch.setattr(credentials, "api_key_v2", broken)
    monkeypatch.setattr(credentials, "service_access_token_v2", broken)
    with pytest.raises(InternalError, match="encoding failed"):
        await env.issue(sa, kind, ["a"] if kind == SAT else [])
    names = [k.name for k in env.fake.org.app_keys.values()] + [k.name for k in env.fake.org.api_keys.values()]
    names += [t.name for t in env.fake.org.tokens.values()]
    assert "c1-2Abc_def-123" not in names, "the minted credential was left behind"


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_rollback_deletes_what_was_issued(env: Env, kind: str) -> None:
    sa = env.service_account()
    issued = await env.issue(sa, kind, ["a"] if kind == SAT else [])
    await env.issuer.rollback_credential(issued.secret.id)
    key_id = _document(issued)["key_id"]
    assert key_id not in env.fake.org.app_keys
    assert key_id not in env.fake.org.api_keys
    assert key_id not in env.fake.org.tokens
    await env.issuer.rollback_credential(issued.secret.id)  # already gone: still fine


# -- deletion (§4.6) ---------------------------------------------------------------------------------------


async def test_deleters_remove_each_kind_and_treat_404_as_done(env: Env) -> None:
    sa = env.service_account()
    for kind in (APP_KEY, ORG_KEY, SAT):
        issued = await env.issue(sa, kind, ["a"] if kind == SAT else [], request_id=f"del-{kind}")
        deleter = env.connector.resource_deleter(kind)
        assert deleter is not None
        # ConductorOne sends no parent: the app-key owner is looked up, the SAT id carries it.
        assert await deleter.delete_resource(issued.secret.id) == []
        key_id = _document(issued)["key_id"]
        assert key_id not in env.fake.org.app_keys
        assert key_id not in env.fake.org.api_keys
        assert key_id not in env.fake.org.tokens
        assert await deleter.delete_resource(issued.secret.id) == []


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY])  # a token's revoke answers 204 when it is already revoked
async def test_a_deletion_whose_answer_was_lost_is_logged_as_deleted(
    env: Env, make_client: ClientFactory, kind: str
) -> None:
    """The log line `datadog delete_resource` is the operator's word on whether this run deleted the credential
    (README: the one-shot prints "deleted" either way). The first DELETE deleted it and its answer was lost; the
    retry's 404 is that deletion, and the line said `deleted: false`, as if someone else had deleted it first."""
    issued = await env.issue(env.service_account(), kind, ["a"] if kind == SAT else [], request_id=f"lost-{kind}")
    transport = FirstAnswerLost("DELETE")
    deleter = DatadogConnector(make_client(env.fake, transport=transport), ALL_ON).resource_deleter(kind)
    assert deleter is not None
    with structlog.testing.capture_logs() as events:
        assert await deleter.delete_resource(issued.secret.id) == []
        assert transport.lost == 1
        assert await deleter.delete_resource(issued.secret.id) == []  # now gone: nothing deleted
    assert [e["deleted"] for e in events if e["event"] == "datadog delete_resource"] == [True, False]
    key_id = _document(issued)["key_id"]
    assert key_id not in {**env.fake.org.app_keys, **env.fake.org.api_keys, **env.fake.org.tokens}


@pytest.mark.parametrize(
    ("kind", "held", "never_had"),
    # A token's revocation answers 204 for a token it holds and for one it does not alike: no sign either way.
    [(APP_KEY, True, False), (ORG_KEY, True, False), (SAT, None, None)],
)
async def test_what_each_deletion_found_is_handed_to_the_caller_that_asks(
    env: Env, kind: str, held: bool | None, never_had: bool | None
) -> None:
    """`deletions_found`: whether Datadog held the id (True) or answered 404 (False), or None when its answer does
    not tell, for the one-shot's line, which the task's answer cannot carry (§4.6: no annotations either way)."""
    issued = await env.issue(env.service_account(), kind, ["a"] if kind == SAT else [], request_id=f"found-{kind}")
    deleter = env.connector.resource_deleter(kind)
    assert deleter is not None
    with credentials.deletions_found() as found:
        assert await deleter.delete_resource(issued.secret.id) == []
    assert found == [held]
    never = b.resource_id(kind, sat_handle("sa-never", "tok-never") if kind == SAT else "id-never")
    with credentials.deletions_found() as found:
        assert await deleter.delete_resource(never) == []
    assert found == [never_had]
    assert await deleter.delete_resource(never) == []  # outside a block: nothing is kept


async def test_app_key_deletion_retries_with_the_real_owner_after_a_wrong_parent(env: Env) -> None:
    sa, other = env.service_account(), env.fake.org.add_user("other@example.com", service_account=True, status="Active")
    issued = await env.issue(sa, APP_KEY)
    deleter = env.connector.resource_deleter(APP_KEY)
    assert deleter is not None
    await deleter.delete_resource(issued.secret.id, b.resource_id("user", other.id))
    assert issued.secret.id.resource not in env.fake.org.app_keys


@pytest.mark.parametrize(
    ("kind", "object_id", "message"),
    [
        (ORG_KEY, " \t", 'API key id " \t" is malformed'),
        (APP_KEY, "abc\x00", "is malformed"),
        (SAT, "sat:c2EAdG9rMQ==", "malformed service access token handle"),
        (SAT, "c2EAdG9r", "malformed service access token handle"),
    ],
)
async def test_malformed_ids_are_refused_without_a_request(env: Env, kind: str, object_id: str, message: str) -> None:
    deleter = env.connector.resource_deleter(kind)
    assert deleter is not None
    env.fake.reset_counters()
    with pytest.raises(InvalidArgumentError, match=message):
        await deleter.delete_resource(b.resource_id(kind, object_id))
    assert env.fake.requests() == []


@pytest.mark.parametrize("object_id", ["abc def", " 0f1e2d3c"])
async def test_an_id_spec_4_6_calls_well_formed_is_sent_as_given_and_its_404_is_success(
    env: Env, object_id: str
) -> None:
    # §4.6: only a blank id or a control character is malformed. Any other id goes to Datadog as given, as Go sends
    # it, and the 404 for an id Datadog never had is success (ConductorOne's contract; the one-shot flag is stricter).
    deleter = env.connector.resource_deleter(ORG_KEY)
    assert deleter is not None
    env.fake.reset_counters()
    assert await deleter.delete_resource(b.resource_id(ORG_KEY, object_id)) == []
    assert [s.method for s in env.fake.requests()] == ["DELETE"]


# -- metadata (§3.7) ---------------------------------------------------------------------------------------


def _user_capability(options: DatadogOptions) -> connector_pb2.ResourceTypeCapability:
    client = DatadogClient(api_key="k" * 32, app_key="a" * 40)
    meta = DatadogConnector(client, options).metadata()
    return next(c for c in meta.capabilities.resource_type_capabilities if c.resource_type.id == "user")


def test_metadata_advertises_issuance_exactly_as_the_go_connector_with_all_flags() -> None:
    client = DatadogClient(api_key="k" * 32, app_key="a" * 40)
    meta = DatadogConnector(client, ALL_ON).metadata()
    Cap = connector_pb2.Capability
    # §3.7's connector list, plus TARGETED_SYNC / SERVICE_MODE_TARGETED_SYNC: this connector also does targeted
    # sync (issue 10 item 6), which the SDK order of §3.7 places right after SYNC. Nothing else, in enum order.
    assert list(meta.capabilities.connector_capabilities) == [
        Cap.CAPABILITY_PROVISION,
        Cap.CAPABILITY_SYNC,
        Cap.CAPABILITY_ACCOUNT_PROVISIONING,
        Cap.CAPABILITY_RESOURCE_DELETE,
        Cap.CAPABILITY_ACTIONS,
        Cap.CAPABILITY_TARGETED_SYNC,
        Cap.CAPABILITY_SERVICE_MODE_TARGETED_SYNC,
        Cap.CAPABILITY_CREDENTIAL_ISSUE,
        Cap.CAPABILITY_CREDENTIAL_ENCRYPTION_JWE_XWING_V1,
    ]
    by_type = {c.resource_type.id: c for c in meta.capabilities.resource_type_capabilities}
    assert list(by_type["user"].capabilities) == [
        Cap.CAPABILITY_SYNC,
        Cap.CAPABILITY_TARGETED_SYNC,
        Cap.CAPABILITY_ACCOUNT_PROVISIONING,
        Cap.CAPABILITY_CREDENTIAL_ISSUE,
        Cap.CAPABILITY_CREDENTIAL_ENCRYPTION_JWE_XWING_V1,
    ]
    # The secret types of the §3.7 table: exactly SYNC, RESOURCE_DELETE; their permissions, names, descriptions.
    secret_types = {
        ORG_KEY: (
            ["api_keys_read", "api_keys_write", "api_keys_delete"],
            "Organization API Key",
            "A Datadog organization API key. Owned by the org, not by any single Datadog identity.",
        ),
        APP_KEY: (["service_account_write", "org_app_keys_read"], "Service Account Application Key", ""),
        SAT: (
            ["service_account_write"],
            "Service Account Access Token",
            "A standalone Datadog service access token owned by one service account; "
            "authenticated with Authorization: Bearer.",
        ),
    }
    for kind, (permissions, display_name, description) in secret_types.items():
        assert list(by_type[kind].capabilities) == [Cap.CAPABILITY_SYNC, Cap.CAPABILITY_RESOURCE_DELETE], kind
        assert [p.permission for p in by_type[kind].permissions.permissions] == permissions, kind
        assert by_type[kind].resource_type.display_name == display_name
        assert by_type[kind].resource_type.description == description
        assert not by_type[kind].HasField("credential_issue"), kind
    assert sorted(by_type) == sorted(["user", "role", "team", ORG_KEY, APP_KEY, SAT])
    details = json_format.MessageToDict(by_type["user"].credential_issue)
    pattern = details["options"][2]["inputFields"][0]["stringSliceField"]["rules"]["itemRules"].pop("pattern")
    assert details == {
        "options": [
            {
                "option": "CAPABILITY_DETAIL_CREDENTIAL_OPTION_API_KEY",
                "customScopesAllowed": True,
                "resourceMode": "CREDENTIAL_RESOURCE_MODE_DISCOVERABLE",
                "secretResourceTypeId": APP_KEY,
                "preferred": True,
            },
            {
                "option": "CAPABILITY_DETAIL_CREDENTIAL_OPTION_API_KEY",
                "resourceMode": "CREDENTIAL_RESOURCE_MODE_DISCOVERABLE",
                "secretResourceTypeId": ORG_KEY,
            },
            {
                "option": "CAPABILITY_DETAIL_CREDENTIAL_OPTION_TOKEN",
                "customScopesAllowed": True,
                "resourceMode": "CREDENTIAL_RESOURCE_MODE_DISCOVERABLE",
                "secretResourceTypeId": SAT,
                "inputFields": [
                    {
                        "name": "scopes",
                        "isRequired": True,
                        "stringSliceField": {
                            "rules": {
                                "minItems": "1",
                                "unique": True,
                                "validateEmpty": True,
                                "itemRules": {"validateEmpty": True, "isRequired": True},
                            }
                        },
                    }
                ],
            },
        ],
        "preferredOption": "CAPABILITY_DETAIL_CREDENTIAL_OPTION_API_KEY",
    }
    # <NONBLANK>: one character that is not Go whitespace (the pattern itself is proven in the baton layer).
    assert pattern == NONBLANK_PATTERN


@pytest.mark.parametrize(
    ("options", "kinds"),
    [
        ({"sync_service_account_application_keys": True}, [APP_KEY, SAT]),
        ({"allow_org_api_key_deletion": True}, [ORG_KEY]),
    ],
)
def test_descriptors_follow_the_flags(options: dict[str, bool], kinds: list[str]) -> None:
    capability = _user_capability(DatadogOptions(provisioning=True, sync_secrets=True, **options))  # type: ignore[arg-type]
    descriptors = capability.credential_issue.options
    assert [d.secret_resource_type_id for d in descriptors] == kinds
    assert not any(d.preferred for d in descriptors), "one descriptor per option needs no preferred flag"


@pytest.mark.parametrize(
    "options",
    [
        DatadogOptions(provisioning=True, sync_secrets=True),
        DatadogOptions(sync_secrets=True, sync_service_account_application_keys=True, allow_org_api_key_deletion=True),
    ],
)
def test_no_issuance_without_a_kind_or_without_provisioning(options: DatadogOptions) -> None:
    capability = _user_capability(options)
    assert connector_pb2.Capability.CAPABILITY_CREDENTIAL_ISSUE not in capability.capabilities
    assert not capability.HasField("credential_issue")
    assert (
        DatadogConnector(DatadogClient(api_key="k" * 32, app_key="a" * 40), options).credential_issuer("user") is None
    )


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_the_secret_stays_in_the_plaintext(env: Env, kind: str) -> None:
    """Canary: the minted value is in the plaintext only (the `canaries` fixture checks every log line)."""
    sa = env.service_account()
    issued = await env.issue(sa, kind, ["a"] if kind == SAT else [])
    secret = _document(issued)["key_value"]
    with pytest.raises(AlreadyExistsError) as caught:
        await env.issue(sa, kind, ["a"] if kind == SAT else [])
    assert secret not in f"{caught.value} {caught.value!r}"
    assert secret not in repr(issued.secret)
    assert secret.encode() not in issued.secret.SerializeToString()


class CreateAnswers(ToTheFake):
    """Forwards to the fake; a credential create lands there, and `_instead` says what its caller gets."""

    CREATES = ("/api/v2/api_keys", "/application_keys", "/access_tokens")

    def __init__(self) -> None:
        super().__init__()
        self.created = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith(self.CREATES):
            await response.aread()
            await response.aclose()
            self.created.set()
            return await self._instead()
        return response

    async def _instead(self) -> httpx.Response:
        raise NotImplementedError


class RewrittenCreates(ToTheFake):
    """Forwards to the fake; a credential create lands there, and its answer reaches the caller as `_rewrite` changes
    it (its JSON body, in place)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "POST" or not request.url.path.endswith(CreateAnswers.CREATES):
            return response
        body = json.loads(await response.aread())
        await response.aclose()
        self._rewrite(body)
        return httpx.Response(response.status_code, json=body)

    def _rewrite(self, body: dict[str, Any]) -> None:
        raise NotImplementedError


class LoseCreateAnswers(CreateAnswers):
    """The create happened; its answer is lost and replaced."""

    def __init__(self, replacement: httpx.Response) -> None:
        super().__init__()
        self._replacement = replacement

    async def _instead(self) -> httpx.Response:
        return self._replacement


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>"),
        httpx.Response(201, json={"data": {"type": "x", "attributes": {"scopes": "not a list"}}}),
        # Shaped like Datadog's own error body, which its front end and JSON:API proxies also send: a 408 is no proof
        # that the create was not processed (an intermediary's idle timeout answers 408 after forwarding it).
        httpx.Response(408, json={"errors": [{"status": "408", "title": "Request Timeout"}]}),
        httpx.Response(502, json={"status": "error", "code": 502, "errors": ["Bad Gateway"]}),
    ],
    ids=["lost-502", "unreadable-201", "datadog-shaped-408", "datadog-shaped-502"],
)
@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_create_whose_answer_is_lost_leaves_no_key_behind(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str, answer: httpx.Response
) -> None:
    client = make_client(fake, transport=LoseCreateAnswers(answer))
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    before = (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens))
    with pytest.raises(ConnectorError):
        await env.issue(sa, kind, ["a"] if kind == SAT else [])
    assert (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens)) == before


def _live_secrets(fake: FakeDatadog) -> set[str]:
    org = fake.org
    return (
        {k.key for k in org.app_keys.values()}
        | {k.key for k in org.api_keys.values()}
        | {t.key for t in org.tokens.values()}
    )


class QuotedCreateAnswers(CreateAnswers):
    """The create lands; its caller gets a gateway's error whose text quotes the upstream answer, secret and all."""

    def __init__(self, status: int, shape: str = "datadog") -> None:
        super().__init__()
        self._status = status
        self._shape = shape
        self.secrets: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "POST" or not request.url.path.endswith(self.CREATES):
            return response
        secret = json.loads(await response.aread())["data"]["attributes"]["key"]
        await response.aclose()
        self.secrets.append(secret)
        upstream = json.dumps({"key": secret})
        if self._shape == "html":
            return httpx.Response(self._status, text=f"<html><body>upstream answered {upstream}</body></html>")
        if self._shape == "gateway-json":
            return httpx.Response(self._status, json={"message": f"upstream answered {upstream}"})
        quoted = {"errors": [f"upstream answered {upstream}", {"title": "Bad Gateway", "detail": upstream}]}
        return httpx.Response(self._status, json=quoted, headers={"Location": "/elsewhere"})


@pytest.mark.parametrize(
    ("status", "shape"),
    [
        (502, "datadog"), (500, "datadog"), (307, "datadog"),
        (400, "html"), (403, "html"), (408, "html"),
        (400, "gateway-json"), (403, "gateway-json"), (408, "gateway-json"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_an_error_answer_quoting_the_created_credential_does_not_carry_it_on(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str, status: int, shape: str
) -> None:
    """A create that may have happened gets an error answer whose text is the upstream answer (a gateway quoting it):
    the new credential's secret went into the error, and so into the FinishTask and the log lines. That is a 5xx or
    a redirect in Datadog's error shape, and a 4xx that is not Datadog's own refusal (a proxy's page, a gateway's
    JSON), which may come after the create reached Datadog as a 5xx may. A create's answer is quoted only when it is
    Datadog's refusal (nothing was made); the credential is deleted as before."""
    transport = QuotedCreateAnswers(status, shape)
    client = make_client(fake, transport=transport)
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    with pytest.raises(ConnectorError) as caught:
        await env.issue(sa, kind, ["a"] if kind == SAT else [])
    (secret,) = transport.secrets
    canaries.values.add(secret)
    assert secret not in f"{caught.value} {caught.value!r} {caught.value.args}"
    assert f"-> {status}" in str(caught.value)
    assert secret not in _live_secrets(fake), "the credential that may have been made is deleted"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(408, text="<html><body><h1>408 Request Time-out</h1></body></html>"),
        httpx.Response(403, text="Forbidden", headers={"Content-Type": "text/plain"}),
        httpx.Response(404, text=""),
    ],
    ids=["408-page", "403-text", "404-empty"],
)
@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_create_answered_by_a_4xx_that_is_not_datadogs_leaves_no_key_behind(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str, answer: httpx.Response
) -> None:
    """A 4xx was taken as Datadog's refusal (nothing made, nothing to clean up) whatever its body: a load balancer's or
    a proxy's page after the create had reached Datadog left the key live. Only Datadog's JSON error body says the
    create was refused; any other 4xx is followed by the lookup by name, as a 5xx is."""
    client = make_client(fake, transport=LoseCreateAnswers(answer))
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    before = (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens))
    with pytest.raises(ConnectorError):
        await env.issue(sa, kind, ["a"] if kind == SAT else [])
    assert (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens)) == before


@pytest.mark.parametrize("kind", [APP_KEY, SAT])
async def test_no_key_is_minted_for_another_service_account_than_asked(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str
) -> None:
    """The service account is read first and the key minted for the id in the answer: another account's object
    (a cache mixing up answers) had the key minted for that account and handed to this request."""
    asked = fake.org.add_user("asked@example.com", name="Asked", service_account=True, status="Active")
    other = fake.org.add_user("other@example.com", name="Other", service_account=True, status="Active")
    client = make_client(fake, transport=other_users_answers(asked.id, other.id))
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    with pytest.raises(UnexpectedResponse, match="the answer is about another object"):
        await env.issue(asked, kind, ["a"] if kind == SAT else [])
    assert not [k for k in fake.org.app_keys.values() if k.owner_id in (asked.id, other.id)]
    assert not [t for t in fake.org.tokens.values() if t.owner_id in (asked.id, other.id)]


class ReplayedCreateAnswers(CreateAnswers):
    """Every create lands; from the second on, its caller gets the answer to the first (a cache or proxy replaying an
    earlier POST's answer): another credential's id and secret value."""

    def __init__(self) -> None:
        super().__init__()
        self._first: httpx.Response | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "POST" or not request.url.path.endswith(self.CREATES):
            return response
        body = await response.aread()
        await response.aclose()
        if self._first is None:
            self._first = httpx.Response(response.status_code, headers=response.headers, content=body)
            return httpx.Response(response.status_code, headers=response.headers, content=body)
        return httpx.Response(self._first.status_code, headers=self._first.headers, content=self._first.content)


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_create_answered_with_another_credential_issues_neither_and_leaves_neither_wrong(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str
) -> None:
    """The answer to a create was taken as the credential created, whatever it named: a replayed answer made the
    task hand ConductorOne another credential (c1-<first request>) under this request, so revoking it later deleted
    that one, while the credential this request created (c1-<second request>) stayed live with no one knowing it.
    An answer naming another credential is now refused, and what carries this request's name is deleted; the other
    credential is left alone."""
    client = make_client(fake, transport=ReplayedCreateAnswers())
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    scopes = ["a"] if kind == SAT else []
    first = await env.issue(sa, kind, scopes, request_id="first")
    with pytest.raises(UnexpectedResponse, match="about another credential") as caught:
        await env.issue(sa, kind, scopes, request_id="second")
    assert _document(first)["key_value"] not in f"{caught.value} {caught.value!r}"
    org = fake.org
    live = {k.name for k in org.app_keys.values()} | {k.name for k in org.api_keys.values()}
    live |= {t.name for t in org.tokens.values()}
    assert "c1-second" not in live, "the credential the refused request created is deleted"
    assert "c1-first" in live, "the credential the answer named is not touched"


class OddIdCreates(RewrittenCreates):
    """A Datadog that names each created credential with an id ending in a control character."""

    SUFFIX = "\n"

    def __init__(self, fake: FakeDatadog) -> None:
        super().__init__()
        self._fake = fake

    def _rewrite(self, body: dict[str, Any]) -> None:
        org, old = self._fake.org, body["data"]["id"]
        body["data"]["id"] = new = old + self.SUFFIX
        if old in org.api_keys:
            org.api_keys[new] = org.api_keys.pop(old)
            org.api_keys[new].id = new
        elif old in org.app_keys:
            org.app_keys[new] = org.app_keys.pop(old)
            org.app_keys[new].id = new
        else:
            org.tokens[new] = org.tokens.pop(old)
            org.tokens[new].id = new


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_credential_is_not_issued_under_an_id_it_could_not_be_revoked_by(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str
) -> None:
    """Its deletion refuses ids with control characters (§4.6), so ConductorOne could never revoke it: it was
    issued all the same. Now it is deleted again at once (the id still names it in a path)."""
    client = make_client(fake, transport=OddIdCreates(fake))
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    before = (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens))
    with pytest.raises(InternalError, match="an id it could not be revoked by later; refusing to issue it"):
        await env.issue(sa, kind, ["a"] if kind == SAT else [])
    assert (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens)) == before


class OddIdCreatesStalledDeletes(OddIdCreates):
    """As above, and the first `stalls` deletions wait on Datadog until cancelled (it went quiet)."""

    def __init__(self, fake: FakeDatadog, stalls: int) -> None:
        super().__init__(fake)
        self.stalls = stalls
        self.deleting = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            self.deleting.set()
            if self.stalls > 0:
                self.stalls -= 1
                await asyncio.Event().wait()
        return await super().handle_async_request(request)


@pytest.mark.parametrize("stalls", [1, 2])
@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_rollback_cut_short_by_the_shutdown_is_tried_again_or_names_the_credential(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str, stalls: int
) -> None:
    """A credential that could not be issued (here: an id its deletion refuses) is deleted again; the task abandoned
    at shutdown meanwhile ended that deletion at once, leaving the key live with no line naming it. The deletion now
    gets one more try, and when it is cut short again an error line names the credential."""
    transport = OddIdCreatesStalledDeletes(fake, stalls)
    client = make_client(fake, transport=transport)
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    before = (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens))
    with structlog.testing.capture_logs() as events:
        issuing = asyncio.create_task(env.issue(sa, kind, ["a"] if kind == SAT else []))
        await _cancelled_at_each_deletion(transport, issuing, stalls)
    after = (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens))
    if stalls == 1:
        assert after == before, "deleted after all"
    else:
        assert after != before
        (told,) = [e for e in events if e.get("outcome") == "rollback_interrupted"]
        assert told["log_level"] == "error"
        assert told["kind"] == kind
        assert told["secret_id"].endswith("\n")
        assert "delete it in Datadog" in told["error"]


async def _cancelled_at_each_deletion(
    transport: OddIdCreatesStalledDeletes, issuing: asyncio.Task[Any], stalls: int
) -> None:
    """Cancel the issuance each time its rollback's deletion is out (`stalls` times), then see it end cancelled."""
    for _ in range(stalls):
        waiting = asyncio.create_task(transport.deleting.wait())
        await asyncio.wait((waiting, issuing), return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        transport.deleting.clear()
        issuing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await issuing


@pytest.mark.parametrize("stalls", [1, 2])
async def test_a_rollback_cut_short_and_tried_again_says_whether_it_deleted_the_key(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, stalls: int
) -> None:
    """Review r1205: the once-more deletion deleted the key, confirmed, and the cancellation went on with nothing
    saying so: the stopped task was reported "may have been made all the same: check it there". It says so through
    the baton layer's hook (`undone_on_stop`); when cut short again it says nothing, the key perhaps live."""
    transport = OddIdCreatesStalledDeletes(fake, stalls)
    client = make_client(fake, transport=transport)
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    said: list[str] = []
    with noting_undone_on_stop(said):
        issuing = asyncio.create_task(env.issue(sa, APP_KEY))
    await _cancelled_at_each_deletion(transport, issuing, stalls)
    if stalls == 1:
        (words,) = said
        assert words.startswith(f"the new {APP_KEY} "), words
        assert words.endswith(" was deleted again"), words
    else:
        assert said == []


class EchoingCreates(RewrittenCreates):
    """A Datadog whose create answer repeats the new secret in the credential's metadata (`where`)."""

    def __init__(self, where: str, spoil: str = "") -> None:
        super().__init__()
        self._where = where
        self._spoil = spoil  # appended to the secret the answer gives
        self.secrets: list[str] = []

    def _rewrite(self, body: dict[str, Any]) -> None:
        data = body["data"]
        secret = data["attributes"]["key"] = data["attributes"]["key"] + self._spoil
        self.secrets.append(secret)
        if self._where == "id":
            data["id"] = f"{data['id']}-{secret}"
        elif self._where == "scopes":
            data["attributes"]["scopes"] = [secret]
        else:
            data["relationships"] = {"created_by": {"data": {"type": "users", "id": secret}}}


@pytest.mark.parametrize(
    ("kind", "where"),
    [(APP_KEY, "id"), (ORG_KEY, "id"), (SAT, "id"), (APP_KEY, "scopes"), (SAT, "scopes"), (ORG_KEY, "created_by")],
)
async def test_a_create_answer_repeating_the_secret_in_its_metadata_is_refused_and_cleaned_up(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str, where: str
) -> None:
    """Datadog's answer repeated the new secret in the credential's id, scopes or creator: that metadata went into
    the log lines, the task's report (secret resource id, profile, SecretTrait) and later the c1z, all in the clear.
    Such an answer is refused and what carries the request's name is deleted (never by the id, which would log it)."""
    transport = EchoingCreates(where)
    client = make_client(fake, transport=transport)
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    with pytest.raises(UnexpectedResponse, match="repeats the secret") as caught:
        await env.issue(sa, kind, ["a"] if kind == SAT else [])
    (secret,) = transport.secrets
    canaries.values.add(secret)
    assert secret not in f"{caught.value} {caught.value!r}"
    assert secret not in _live_secrets(fake), "deleted again"


def _logged_anywhere(events: Sequence[Mapping[str, Any]], secret: str) -> bool:
    return any(secret in str(value) for event in events for value in event.values())


@pytest.mark.parametrize(
    ("kind", "where", "spoil"),
    [(APP_KEY, "id", '"'), (SAT, "scopes", "\\q"), (ORG_KEY, "id", "\n"), (ORG_KEY, "created_by", "\x7f\u0001")],
)
async def test_a_repeated_secret_holding_characters_json_escapes_is_found_all_the_same(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str, where: str, spoil: str
) -> None:
    """The repeat was looked for in the metadata's JSON, where a quote, a backslash or a control character in the
    secret is escaped: such a secret was not found, the credential was issued under an id (or creator, or scope)
    holding its secret, and the id went into log lines in the clear (or, when the id was refused as unrevocable, into
    the rollback's lines)."""
    transport = EchoingCreates(where, spoil)
    client = make_client(fake, transport=transport)
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    before = (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens))
    with structlog.testing.capture_logs() as events, pytest.raises(UnexpectedResponse, match="repeats the secret"):
        await env.issue(sa, kind, ["a"] if kind == SAT else [])
    (secret,) = transport.secrets
    assert not _logged_anywhere(events, secret)
    assert (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens)) == before, "deleted again"


class LongIdCreates(OddIdCreates):
    """A Datadog that names each created credential with an id longer than a path segment may be (1,024)."""

    SUFFIX = "x" * 1024


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_credential_whose_id_no_request_path_can_hold_is_not_issued(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str
) -> None:
    """No request can name it, so ConductorOne could never revoke it: it is refused, not issued. Its deletion cannot
    name it either, so the error says to delete it in Datadog."""
    client = make_client(fake, transport=LongIdCreates(fake))
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    # The issuing's failure in its own words, not "failed (InternalError)": its exception's class said nothing.
    with pytest.raises(
        InternalError,
        match=r"failed \(baton-datadog: Datadog gave the new [a-z-]+ an id it could not be revoked by later; refusing "
        r"to issue it\) and deleting it again failed too",
    ):
        await env.issue(sa, kind, ["a"] if kind == SAT else [])


async def test_a_refused_create_needs_no_cleanup(env: Env) -> None:
    sa = env.service_account()
    env.fake.faults.force(403, path=f"/api/v2/service_accounts/{sa.id}/application_keys", method="POST")
    env.fake.reset_counters()
    with pytest.raises(ConnectorError):
        await env.issue(sa, APP_KEY)
    assert env.fake.count("GET", SA_APP_KEYS) == 1, "only the duplicate check: a 403 created nothing"


class HoldCreateAnswers(CreateAnswers):
    """The create happened; its answer is held until the caller gives up."""

    async def _instead(self) -> httpx.Response:
        await asyncio.Event().wait()  # a link that went quiet: only a cancel ends this
        raise AssertionError("unreachable")


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_create_cancelled_in_flight_leaves_no_key_behind(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str
) -> None:
    """The task is abandoned (shutdown) while Datadog has made the key but its answer is still on the way: the
    key's only trace was that answer, so it must be found by name and deleted before the cancellation goes on.
    (It stayed live in Datadog, named after a task ConductorOne was told to retry, and the retry was then
    refused as a duplicate.)"""
    transport = HoldCreateAnswers()
    client = make_client(fake, transport=transport)
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    before = (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens))
    issuing = asyncio.create_task(env.issue(sa, kind, ["a"] if kind == SAT else []))
    await transport.created.wait()
    assert (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens)) != before
    issuing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await issuing
    assert (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens)) == before


class HoldCreateAnswersAndLookups(HoldCreateAnswers):
    """As above, and once a create has landed, the name lookups of the cleanup hang too (Datadog went quiet)."""

    def __init__(self) -> None:
        super().__init__()
        self.looking_up = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.created.is_set() and request.method == "GET":
            self.looking_up.set()
            await asyncio.Event().wait()
        return await super().handle_async_request(request)


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_cleanup_cut_short_by_the_shutdown_names_the_credential_that_may_be_live(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str
) -> None:
    """The shutdown cancels an abandoned task again after a few seconds: a cleanup still waiting on Datadog ends
    there. The key may be live, and an error log naming it is then its only trace (there was none)."""
    transport = HoldCreateAnswersAndLookups()
    client = make_client(fake, transport=transport)
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    with structlog.testing.capture_logs() as events:
        issuing = asyncio.create_task(env.issue(sa, kind, ["a"] if kind == SAT else []))
        await transport.created.wait()
        issuing.cancel()
        await transport.looking_up.wait()
        issuing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await issuing
    (told,) = [e for e in events if e.get("outcome") == "cleanup_interrupted"]
    assert told["log_level"] == "error"
    assert told["name"].startswith("c1-")
    assert "may exist in Datadog" in told["error"]
    assert not [v for v in canaries.values if v in repr(events)], "an issued secret reached the log"


class CreatesAnsweredWithAnotherKey(CreateAnswers):
    """The create happens; its answer is another credential's (a cache or proxy mixing up answers), secret and all."""

    def __init__(self, fake: FakeDatadog) -> None:
        super().__init__()
        self._fake = fake
        self.other: str | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.other is None:
            return await self._inner.handle_async_request(request)
        return await super().handle_async_request(request)

    async def _instead(self) -> httpx.Response:
        org, other = self._fake.org, self.other
        if other in org.api_keys:
            data = render.api_key(org.api_keys[other], with_key=True)
        elif other in org.app_keys:
            data = render.app_key(org.app_keys[other], with_key=True)
        else:
            data = render.access_token(org.tokens[str(other)], with_key=True)
        return httpx.Response(201, json={"data": data})


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_create_answered_with_another_credential_issues_nothing_and_deletes_neither_wrongly(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str
) -> None:
    """The answer to a create is the new credential: one naming another (another request's answer) was issued as
    this request's, its secret and id handed to ConductorOne (which would later revoke that other credential), and
    the credential this create made stayed live with no trace. Now the answer is refused for its name, the new
    credential is found by name and deleted, and the other one is left alone (deleting it by the answer's id would
    revoke a credential nobody asked to revoke)."""
    transport = CreatesAnsweredWithAnotherKey(fake)
    client = make_client(fake, transport=transport)
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    scopes = ["a"] if kind == SAT else []
    first = await env.issue(sa, kind, scopes, request_id="first")
    transport.other = _document(first)["key_id"]
    before = (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens))
    with pytest.raises(UnexpectedResponse, match="the answer is about another credential"):
        await env.issue(sa, kind, scopes, request_id="second")
    assert transport.created.is_set()
    assert (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens)) == before


class CreatesAnsweredWithAnotherKeysIdAlone(CreatesAnsweredWithAnotherKey):
    """As `CreatesAnsweredWithAnotherKey`, the answer stripped to the other credential's id and type (no name, no
    secret, no owner): a stub's or a cache's answer that names nothing but an id."""

    async def _instead(self) -> httpx.Response:
        data = json.loads((await super()._instead()).content)["data"]
        return httpx.Response(201, json={"data": {"type": data["type"], "id": data["id"], "attributes": {}}})


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_create_answered_by_an_id_alone_deletes_no_other_credential(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str
) -> None:
    """Datadog's create answer is the new credential, its name among the rest. One without the name (nor the
    secret) was taken for the credential made: with no secret to hand over, it was rolled back by the answer's id,
    which deleted the other credential that id names, while the one this create made stayed live with no trace. An
    answer that does not show the name asked for is no word on what was made: the new credential is found by name
    and deleted, and the other one is left alone."""
    transport = CreatesAnsweredWithAnotherKeysIdAlone(fake)
    client = make_client(fake, transport=transport)
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    scopes = ["a"] if kind == SAT else []
    first = await env.issue(sa, kind, scopes, request_id="first")
    transport.other = _document(first)["key_id"]
    before = (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens))
    with pytest.raises(ConnectorError):
        await env.issue(sa, kind, scopes, request_id="second")
    assert transport.created.is_set()
    assert (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens)) == before


class CreatesAnsweredWithAnotherOwner(RewrittenCreates):
    """The create happens; its answer names the new credential, owned by another service account (`owner`) or by an
    owner of another type (`owner_type`)."""

    def __init__(self, owner: str | None = None, *, owner_type: str | None = None) -> None:
        super().__init__()
        self._linkage = {key: value for key, value in (("id", owner), ("type", owner_type)) if value is not None}

    def _rewrite(self, body: dict[str, Any]) -> None:
        body["data"]["relationships"]["owned_by"]["data"].update(self._linkage)


@pytest.mark.parametrize("kind", [APP_KEY, SAT])
async def test_a_create_answered_as_another_accounts_credential_issues_nothing(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str
) -> None:
    """An application key the answer says another service account owns was issued as this one's (its revocation
    then asks the wrong account); the SAT was revoked by an id under the wrong account, which leaves it live. Both
    are now found by name and deleted."""
    other = fake.org.add_user("other@example.com", name="Other", service_account=True, status="Active")
    client = make_client(fake, transport=CreatesAnsweredWithAnotherOwner(other.id))
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    before = (set(fake.org.app_keys), set(fake.org.tokens))
    with pytest.raises(UnexpectedResponse, match="the answer is about another credential"):
        await env.issue(sa, kind, ["a"] if kind == SAT else [])
    assert (set(fake.org.app_keys), set(fake.org.tokens)) == before


async def test_a_token_create_answered_as_a_persons_token_issues_nothing(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries
) -> None:
    """A service access token is owned by its service account (`owned_by` of type `service_account`); an answer
    naming a token of the same id owned by a person (type `users`: a personal access token) is no answer to this
    create, and issuing it would hand ConductorOne a credential acting as that person. It is refused, and the token
    this create made is found by name and deleted."""
    client = make_client(fake, transport=CreatesAnsweredWithAnotherOwner(owner_type="users"))
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    before = set(fake.org.tokens)
    with pytest.raises(UnexpectedResponse, match="the answer is about another credential"):
        await env.issue(sa, SAT, ["a"])
    assert set(fake.org.tokens) == before


@pytest.mark.parametrize("kind", [APP_KEY, SAT])
async def test_a_create_answer_whose_owner_link_is_an_array_issues_nothing(env: Env, kind: str) -> None:
    """`owned_by` is a to-one link: its `data` is one linkage object (JSON:API), never an array. Given as an array, it
    was read as its first element, and for a token its `type` not at all: a person's token (`"type": "users"`) passed
    the owner check as the service account's and was issued. An answer of the wrong shape, named; what the create made
    is found by name and deleted."""
    sa = env.service_account()

    def listed_owner(body: Any) -> Any:
        body["data"]["relationships"]["owned_by"]["data"] = [{"type": "users", "id": sa.id}]
        return body

    path = f"/api/v2/service_accounts/{sa.id}/{'access_tokens' if kind == SAT else 'application_keys'}"
    env.fake.faults.rewrite(listed_owner, path=path, method="POST")
    before = (set(env.fake.org.app_keys), set(env.fake.org.tokens))
    with pytest.raises(UnexpectedResponse, match=r"data\.relationships\.owned_by\.data \(expected an object"):
        await env.issue(sa, kind, ["dashboards_read"] if kind == SAT else [])
    assert (set(env.fake.org.app_keys), set(env.fake.org.tokens)) == before


@pytest.mark.parametrize("owner_type", ["removed", 5, None], ids=["no type", "a number", "null"])
async def test_a_token_create_answered_with_an_owner_of_no_type_issues_nothing(env: Env, owner_type: object) -> None:
    """§4.3: a token's owner, when the answer gives one, is `{id: <the service account>, type: "service_account"}`; the
    duplicate check already refuses a listed token whose owner has no such type. The create's answer was let through
    with the owner's type missing, null or a number (read as none): a person's token, or anyone's, answered as this
    create's passed and was issued. It is refused alike, and the token this create made is found by name and revoked."""
    sa = env.service_account()

    def untyped_owner(body: Any) -> Any:
        linkage = body["data"]["relationships"]["owned_by"]["data"]
        if owner_type == "removed":
            del linkage["type"]
        else:
            linkage["type"] = owner_type
        return body

    env.fake.faults.rewrite(untyped_owner, path=f"/api/v2/service_accounts/{sa.id}/access_tokens", method="POST")
    before = set(env.fake.org.tokens)
    with pytest.raises(UnexpectedResponse, match=r"another credential \(its data\.relationships\.owned_by\.data\.type"):
        await env.issue(sa, SAT, ["dashboards_read"])
    assert set(env.fake.org.tokens) == before


@pytest.mark.parametrize(
    "linkage",
    [{"type": "users"}, {}, {"type": None}, {"type": "service_account", "id": None}],
    ids=["a person's", "no type", "null type", "no id"],
)
async def test_a_duplicate_check_listing_a_token_of_another_owner_kind_mints_nothing(
    env: Env, linkage: dict[str, Any]
) -> None:
    """The duplicate check lists the service account's tokens near the new name; one whose owner is not that account
    as a service account (§4.3 step 4) makes the listing no proof of anything, and nothing is minted. An owner link
    with a type but no id was let through. The listing itself is refused, as a sync's is."""
    sa = env.service_account()
    env.fake.org.tokens["near"] = AccessToken(
        id="near", name="x-c1-2Abc_def-123", key="k" * 40, public_portion="p", owner_id=sa.id, scopes=["a"],
        created_at=env.fake.org.now(),
    )  # fmt: skip

    def other_owner(body: Any) -> Any:
        owner = body["data"][0]["relationships"]["owned_by"]["data"]
        owner.pop("type")
        owner.update(linkage)
        if owner.get("id", "") is None:
            del owner["id"]
        return body

    env.fake.faults.rewrite(other_owner, path=f"/api/v2/service_accounts/{sa.id}/access_tokens", method="GET")
    with pytest.raises(UnexpectedResponse, match=r"a key of another owner \(data\[0\]\.relationships\.owned_by"):
        await env.issue(sa, SAT, ["dashboards_read"])
    assert env.fake.count("POST", SA_TOKENS) == 0


async def test_a_duplicate_check_listing_another_kind_of_token_mints_nothing(env: Env) -> None:
    """§4.3 step 4: every listed entry is a `service_access_tokens` one; a personal access token there makes the
    listing no proof of absence."""
    sa = env.service_account()
    env.fake.org.tokens["near"] = AccessToken(
        id="near", name="x-c1-2Abc_def-123", key="k" * 40, public_portion="p", owner_id=sa.id, scopes=["a"],
        created_at=env.fake.org.now(),
    )  # fmt: skip

    def personal(body: Any) -> Any:
        body["data"][0]["type"] = "personal_access_tokens"
        return body

    env.fake.faults.rewrite(personal, path=f"/api/v2/service_accounts/{sa.id}/access_tokens", method="GET")
    with pytest.raises(
        UnexpectedResponse, match=re.escape('an item of another type (data[0].type: expected "service_access_tokens")')
    ):
        await env.issue(sa, SAT, ["dashboards_read"])
    assert env.fake.count("POST", SA_TOKENS) == 0


@pytest.mark.parametrize("org_wide", ["allowed", "forbidden"])
@pytest.mark.parametrize("owner_kind", ["person", "disabled service account"])
@pytest.mark.parametrize("with_parent", [True, False], ids=["parent", "no-parent"])
async def test_an_app_key_the_service_account_path_cannot_delete_is_not_reported_deleted(
    env: Env, owner_kind: str, with_parent: bool, org_wide: str
) -> None:
    """Datadog answers 404 to deleting a key through /service_accounts/{owner}/… when the owner is no (enabled)
    service account, while the key itself lives on: the 404 was taken as "already gone" and the key reported
    deleted. A 404 is "gone" only when the key's own lookup says so too; a disabled service account's key still there
    is deleted org-wide, and when that is refused (it needs org_app_keys_write) the task fails saying the key was NOT
    deleted. A person's key is no service-account application key: never deleted as one, the task fails the same."""
    owner = env.fake.org.add_user(
        "keyholder@example.com",
        name="Key Holder",
        service_account=owner_kind != "person",
        status="Disabled" if owner_kind != "person" else "Active",
    )
    key = AppKey(
        id="3c7f1a52-0000-4000-8000-00000000a11e",
        name="personal",
        key="f" * 40,
        owner_id=owner.id,
        created_at=env.fake.org.now(),
    )
    env.fake.org.app_keys[key.id] = key
    if org_wide == "forbidden":
        env.fake.faults.force(403, path=f"/api/v2/application_keys/{key.id}", method="DELETE")
    deleter = env.connector.resource_deleter(APP_KEY)
    assert deleter is not None
    parent = b.resource_id("user", owner.id) if with_parent else None
    if owner_kind == "person":
        with pytest.raises(FailedPreconditionError, match=f'application key "{key.id}" was NOT deleted') as caught:
            await deleter.delete_resource(b.resource_id(APP_KEY, key.id), parent)
        assert "is not a service account" in str(caught.value)
        assert key.id in env.fake.org.app_keys
        return
    if org_wide == "allowed":
        assert await deleter.delete_resource(b.resource_id(APP_KEY, key.id), parent) == []
        assert key.id not in env.fake.org.app_keys
        return
    with pytest.raises(FailedPreconditionError, match=f'application key "{key.id}" was NOT deleted') as caught:
        await deleter.delete_resource(b.resource_id(APP_KEY, key.id), parent)
    assert "deleting it org-wide failed too (Datadog forbidden" in str(caught.value)
    assert key.id in env.fake.org.app_keys


class CrowdedLostCreates(CreateAnswers):
    """The create lands, others create near-named credentials at the same moment (names holding this request's and
    sorting before it), and the create's answer is lost."""

    def __init__(self, fake: FakeDatadog, sa: User, crowd: int) -> None:
        super().__init__()
        self._fake, self._sa, self._crowd = fake, sa, crowd

    async def _instead(self) -> httpx.Response:
        org = self._fake.org
        for i in range(self._crowd):
            name, key_id = f"a{i:03}-c1-2Abc_def-123", org.new_id()
            now = org.now()
            org.api_keys[key_id] = APIKey(
                id=key_id, name=name, key="k" * 32, created_by=None, created_at=now, modified_at=now
            )
            org.app_keys[key_id] = AppKey(id=key_id, name=name, key="k" * 40, owner_id=self._sa.id, created_at=now)
            org.tokens[key_id] = AccessToken(
                id=key_id,
                name=name,
                key="k" * 40,
                public_portion="p",
                owner_id=self._sa.id,
                scopes=["a"],
                created_at=now,
            )
        return httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>")


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_lost_create_is_found_by_name_past_a_page_of_near_matches(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str
) -> None:
    """The cleanup of a lost create read one page of the name-filtered listing (a substring match): the credential
    it made, past a page of near matches, stayed live, and the error said nothing of it."""
    sa = fake.org.add_user("robot@example.com", name="Robot", service_account=True, status="Active")
    client = make_client(fake, transport=CrowdedLostCreates(fake, sa, 150))
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    with pytest.raises(ConnectorError, match="502"):
        await env.issue(sa, kind, ["a"] if kind == SAT else [])
    names = [k.name for k in fake.org.app_keys.values()] + [k.name for k in fake.org.api_keys.values()]
    names += [t.name for t in fake.org.tokens.values()]
    assert "c1-2Abc_def-123" not in names, "the credential the create made is live"
    assert len([n for n in names if n.endswith("-c1-2Abc_def-123")]) == 3 * 150, "a near match was deleted"


class EchoingRollbacks(RewrittenCreates):
    """Creates land with an id ending in a control character (so the issuance is rolled back), and the rollback's
    DELETE is refused by a Datadog whose error message quotes the minted secret."""

    def __init__(self) -> None:
        super().__init__()
        self.secret = ""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE" and self.secret:
            return httpx.Response(500, json={"errors": [f"key {self.secret} is locked by an ongoing rotation"]})
        return await super().handle_async_request(request)

    def _rewrite(self, body: dict[str, Any]) -> None:
        self.secret = body["data"]["attributes"]["key"]
        body["data"]["id"] += "\n"


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_failed_rollback_never_quotes_the_minted_secret(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str
) -> None:
    """The rollback's failure is logged and raised with Datadog's message in it: a message quoting the minted key put
    the live secret in the log and in the task's error sent to ConductorOne."""
    transport = EchoingRollbacks()
    client = make_client(fake, transport=transport)
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    with pytest.raises(InternalError, match="deleting it again failed too") as caught:
        await env.issue(sa, kind, ["a"] if kind == SAT else [])
    assert transport.secret
    canaries.values.add(transport.secret)
    assert transport.secret not in f"{caught.value} {caught.value!r}"


class NamelessLookups(ToTheFake):
    """The name lookups before a create answer with the matching credentials' names left out."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "GET" or "filter" not in request.url.params:
            return response
        body = json.loads(await response.aread())
        await response.aclose()
        for item in body["data"]:
            item["attributes"].pop("name", None)
        return httpx.Response(response.status_code, json=body)


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_lookup_whose_matches_have_no_name_proves_no_absence(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str
) -> None:
    """The duplicate check looks for the exact name among what the filter matched: matches without a name were
    taken as near matches, and a repeated request minted a second live credential."""
    scopes = ["a"] if kind == SAT else []
    env = Env(fake, (plain := make_client(fake)), DatadogConnector(plain, ALL_ON), canaries)
    sa = env.service_account()
    await env.issue(sa, kind, scopes)
    client = make_client(fake, transport=NamelessLookups())
    nameless = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    before = (len(fake.org.app_keys), len(fake.org.api_keys), len(fake.org.tokens))
    with pytest.raises(FailedPreconditionError, match="cannot rule out"):
        await nameless.issue(sa, kind, scopes)
    assert (len(fake.org.app_keys), len(fake.org.api_keys), len(fake.org.tokens)) == before


class NamelessLostCreates(LoseCreateAnswers, NamelessLookups):
    """The create lands and its answer is lost; the cleanup's name lookups answer without names."""

    def __init__(self) -> None:
        LoseCreateAnswers.__init__(self, httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>"))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.created.is_set():
            return await NamelessLookups.handle_async_request(self, request)
        return await LoseCreateAnswers.handle_async_request(self, request)


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_lost_create_whose_lookup_has_no_names_says_the_credential_may_be_live(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str
) -> None:
    """Its cleanup deletes what carries the request's name: matches without a name were passed over, and the error
    was the create's alone, with the credential it made live."""
    client = make_client(fake, transport=NamelessLostCreates())
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    with pytest.raises(InternalError, match="it may exist; looking it up to delete it failed too"):
        await env.issue(sa, kind, ["a"] if kind == SAT else [])


class ExhaustedByTheLookup(ToTheFake):
    """The duplicate check's answer says the rate limit is spent for an hour: the create cannot be sent."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method == "GET" and "filter" in request.url.params:
            body = await response.aread()
            await response.aclose()
            kept = {k: v for k, v in response.headers.items() if not k.lower().startswith("x-ratelimit-")}
            headers = {k: v for k, v in kept.items() if k.lower() not in ("content-length", "date")}
            headers["X-RateLimit-Name"] = "exhausted"
            headers |= {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3600", "X-RateLimit-Limit": "100"}
            return httpx.Response(response.status_code, content=body, headers=headers)
        return response


@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_create_never_sent_is_not_reported_as_maybe_live(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str
) -> None:
    """A create held back by the rate limit (a wait past the longest one allowed) never left: it was treated as one
    whose answer was lost, its cleanup was held back too, and the error told the operator to look for a credential
    in Datadog that never existed."""
    client = make_client(fake, transport=ExhaustedByTheLookup())
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    fake.reset_counters()
    with pytest.raises(RateLimited) as caught:
        await env.issue(sa, kind, ["a"] if kind == SAT else [])
    assert "delete it in Datadog" not in str(caught.value)
    assert not [r for r in fake.requests() if r.method == "POST"]


class ScopesWidened(RewrittenCreates):
    """Creates land, and their answers report `scopes` as `granted` (the fake's record changed to match)."""

    def __init__(self, fake: FakeDatadog, granted: list[str] | None) -> None:
        super().__init__()
        self._fake, self._granted = fake, granted

    def _rewrite(self, body: dict[str, Any]) -> None:
        body["data"]["attributes"]["scopes"] = self._granted
        made = self._fake.org.app_keys.get(body["data"]["id"]) or self._fake.org.tokens[body["data"]["id"]]
        made.scopes = self._granted


@pytest.mark.parametrize("granted", [None, ["dashboards_read", "user_access_manage"]], ids=["unrestricted", "wider"])
@pytest.mark.parametrize("kind", [APP_KEY, SAT])
async def test_a_credential_made_with_more_scopes_than_asked_is_not_issued(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str, granted: list[str] | None
) -> None:
    """ConductorOne asked for a key scoped to dashboards_read; Datadog reported making it unrestricted (every
    permission of the service account) or with another scope too, and it was issued all the same, with those scopes
    in its profile: a credential of more power than requested, live."""
    client = make_client(fake, transport=ScopesWidened(fake, granted))
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    before = (set(fake.org.app_keys), set(fake.org.tokens))
    with pytest.raises(InternalError, match="with other scopes than asked for"):
        await env.issue(sa, kind, ["dashboards_read"])
    assert (set(fake.org.app_keys), set(fake.org.tokens)) == before


@pytest.mark.parametrize("kind", [APP_KEY, SAT])
async def test_a_credential_made_with_fewer_scopes_than_asked_is_issued_with_those(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str
) -> None:
    """Less power than asked is no risk: the credential is issued with the scopes Datadog reports (§4.1)."""
    client = make_client(fake, transport=ScopesWidened(fake, ["dashboards_read"]))
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    issued = await env.issue(env.service_account(), kind, ["dashboards_read", "dashboards_write"])
    assert _document(issued)["scopes"] == ["dashboards_read"]


@pytest.mark.parametrize("status", [400, 403, 404])
@pytest.mark.parametrize("kind", [APP_KEY, ORG_KEY, SAT])
async def test_a_create_answered_by_a_gateways_json_4xx_leaves_no_key_behind(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, kind: str, status: int
) -> None:
    """A gateway in front of Datadog answers in JSON too (`{"message": "Forbidden"}`): that JSON object was taken for
    Datadog's refusal, so nothing was looked for, and the key the create had made stayed live and untraced."""
    answer = httpx.Response(status, json={"message": "Forbidden"})
    client = make_client(fake, transport=LoseCreateAnswers(answer))
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    before = (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens))
    with pytest.raises(ConnectorError):
        await env.issue(sa, kind, ["a"] if kind == SAT else [])
    assert (set(fake.org.app_keys), set(fake.org.api_keys), set(fake.org.tokens)) == before


class KeyOfAnotherType(RewrittenCreates):
    """A Datadog whose create answer gives the new secret (`data.attributes.key`) as another JSON value, or none."""

    def __init__(self, value: object) -> None:
        super().__init__()
        self._value = value

    def _rewrite(self, body: dict[str, Any]) -> None:
        attributes = body["data"]["attributes"]
        if self._value == "removed":
            del attributes["key"]
        else:
            attributes["key"] = self._value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (918273645, "data.attributes.key (expected a string, got a number)"),
        ({"value": "QUOTED-CANARY"}, "data.attributes.key (expected a string, got an object)"),
        (["QUOTED-CANARY"], "data.attributes.key (expected a string, got an array)"),
        (None, "data.attributes.key: missing, null or empty"),
        ("removed", "data.attributes.key: missing, null or empty"),
    ],
)
async def test_a_secret_of_the_wrong_json_type_is_named_and_its_credential_deleted(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries, value: object, shown: str
) -> None:
    """The new secret as a number, an object or an array was read as no secret, and the failure said only "Datadog
    returned no secret value": not where, not what came instead. The error names `data.attributes.key` and the JSON
    type, quotes nothing of it, and the credential the create made is deleted again."""
    client = make_client(fake, transport=KeyOfAnotherType(value))
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    with pytest.raises(ConnectorError) as caught:
        await env.issue(sa, APP_KEY)
    text = f"{caught.value} {caught.value!r}"
    assert shown in text
    assert "QUOTED-CANARY" not in text
    assert "918273645" not in text
    assert not [k for k in fake.org.app_keys.values() if k.owner_id == sa.id], "deleted again"


@pytest.mark.parametrize(
    ("expiry", "shown"),
    [
        (1767225600, "expected an RFC 3339 date-time, got a number"),
        ("1767225600", "expected an RFC 3339 date-time, got a string that is none"),
        ("QUOTED-CANARY", "expected an RFC 3339 date-time, got a string that is none"),
        ("9999-12-31T23:59:59-05:00", "expected an RFC 3339 date-time, got one outside the years 1 to 9999"),
        (["2030-01-01T00:00:00Z"], "expected an RFC 3339 date-time, got an array"),
    ],
)
async def test_a_service_access_token_whose_expiry_cannot_be_read_is_not_issued(
    env: Env, expiry: object, shown: str
) -> None:
    """The expiry Datadog reports for a new token is the one ConductorOne records for it (§4.3 step 7). Read as the
    sync reads timestamps, a number became a moment of 1970 (the token issued as long expired), and a string that is
    no date-time (or one past the year 9999) became none (the token issued as never expiring). Datadog sends an RFC
    3339 string or null; anything else is an answer of the wrong shape, named, and the token is revoked again."""
    sa = env.service_account()

    def expiring(body: Any) -> Any:
        body["data"]["attributes"]["expires_at"] = expiry
        return body

    env.fake.faults.rewrite(expiring, path=f"/api/v2/service_accounts/{sa.id}/access_tokens", method="POST")
    with pytest.raises(UnexpectedResponse) as caught:
        await env.issue(sa, SAT, ["dashboards_read"])
    assert f"data.attributes.expires_at ({shown}" in str(caught.value)
    assert "QUOTED-CANARY" not in str(caught.value)
    assert not [t for t in env.fake.org.tokens.values() if t.owner_id == sa.id], "revoked again"


@pytest.mark.parametrize(
    ("expiry", "expected"),
    [(None, None), ("2030-01-01T00:00:00.123456789Z", timestamp_pb2.Timestamp(seconds=1893456000, nanos=123456000))],
)
async def test_a_service_access_tokens_expiry_is_issued_as_datadog_reports_it(
    env: Env, expiry: str | None, expected: timestamp_pb2.Timestamp | None
) -> None:
    """Null (Datadog's answer for a token without expiry) is no expiry; a date-time, nanoseconds and all, is the
    trait's expires_at."""
    sa = env.service_account()

    def expiring(body: Any) -> Any:
        body["data"]["attributes"]["expires_at"] = expiry
        return body

    env.fake.faults.rewrite(expiring, path=f"/api/v2/service_accounts/{sa.id}/access_tokens", method="POST")
    trait = _trait((await env.issue(sa, SAT, ["dashboards_read"])).secret)
    assert (trait.expires_at if trait.HasField("expires_at") else None) == expected


async def test_a_rollback_retried_after_the_shutdown_says_what_datadog_answered(
    fake: FakeDatadog, make_client: ClientFactory, canaries: Canaries
) -> None:
    """The deletion tried once more after the shutdown cut the first one short failed, and its error line said
    "its deletion was stopped or failed (Forbidden)": the class of an exception, not Datadog's answer. It says what
    Datadog answered (the request and status, and Datadog's words)."""
    transport = OddIdCreatesStalledDeletes(fake, 1)
    client = make_client(fake, transport=transport)
    env = Env(fake, client, DatadogConnector(client, ALL_ON), canaries)
    sa = env.service_account()
    with structlog.testing.capture_logs() as events:
        issuing = asyncio.create_task(env.issue(sa, APP_KEY))
        waiting = asyncio.create_task(transport.deleting.wait())
        await asyncio.wait((waiting, issuing), return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        fake.faults.force(403, method="DELETE", times=10)
        issuing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await issuing
    (told,) = [e for e in events if e.get("outcome") == "rollback_interrupted"]
    assert "its deletion was stopped or failed (Datadog forbidden: DELETE " in told["error"]
    assert "-> 403: Internal Server Error" in told["error"]
    assert "(Forbidden)" not in told["error"]
