"""Credential issuance and deletion as a hostile network and a hostile ConductorOne would drive them: the secret never
appears outside its ciphertext (canary: the value the fake Datadog minted), an encryption config that cannot be used
fails the task before Datadog is asked to mint anything, and a mint or deletion whose answer cannot be trusted is
never reported as done."""

from __future__ import annotations

import json
import logging
from collections.abc import MutableMapping
from typing import Any

import grpc
import httpx
import pyrage
import pytest
from google.protobuf import json_format

from connector.baton.c1.errors import C1TransientError
from connector.baton.errors import Code
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.fakes.datadog import FakeDatadog
from tests.fakes.datadog.org import User
from tests.fixtures_dir import FIXTURES_DIR
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import failed_for_good
from tests.independent.writes.tasks import delete_task
from tests.independent.writes.wire import answer, landed_then, landed_then_lost

VECTOR = json.loads((FIXTURES_DIR / "credentials" / "age-x25519.json").read_text())
IDENTITY = pyrage.x25519.Identity.from_str(VECTOR["private_keys"][0]["age_identity"])
KINDS = ("service-account-application-key", "api-key", "service-account-access-token")
MINT_PATHS = {
    "service-account-application-key": r"/api/v2/service_accounts/[^/]+/application_keys",
    "api-key": r"/api/v2/api_keys",
    "service-account-access-token": r"/api/v2/service_accounts/[^/]+/access_tokens",
}


def _robot(fake: FakeDatadog) -> User:
    return fake.org.add_user("robot-108@example.com", name="Robot", service_account=True, status="Active")


def issue_task(identity: str, kind: str, configs: list[dict[str, Any]] | None = None) -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid())
    issue = task.issue_credential
    issue.identity_id.resource_type, issue.identity_id.resource = "user", identity
    issue.credential_options.secret_resource_type_id = kind
    if kind == "service-account-access-token":
        issue.credential_options.token.scopes.append("dashboards_read")
    else:
        issue.credential_options.api_key.SetInParent()
    for config in VECTOR["encryption_configs"] if configs is None else configs:
        json_format.ParseDict(config, issue.encryption_configs.add())
    return task


_SEEDED: dict[int, set[str]] = {}
_SECRETS: dict[int, list[str]] = {}


@pytest.fixture(autouse=True)
def _seeded(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """The org's own keys and tokens (the generated org has some): only the ones a test makes are its. Every secret
    the fake mints from now on is recorded: the canaries."""
    _SEEDED[id(rig.fake)] = _all(rig.fake)
    secrets = _SECRETS[id(rig.fake)] = []
    mint = rig.fake.org.new_secret

    def recorded(length: int) -> str:
        secret = mint(length)
        secrets.append(secret)
        return secret

    monkeypatch.setattr(rig.fake.org, "new_secret", recorded)


def _all(fake: FakeDatadog) -> set[str]:
    org = fake.org
    return set(org.app_keys) | set(org.api_keys) | set(org.tokens)


def _live(fake: FakeDatadog) -> set[str]:
    """The credentials live in Datadog that the test made."""
    return _all(fake) - _SEEDED[id(fake)]


def _minted(fake: FakeDatadog) -> list[str]:
    """The secrets of every credential the test made, live or deleted since."""
    return [secret for secret in _SECRETS[id(fake)] if len(secret) >= 30]  # not a token's public portion (22)


def _mint_requests(rig: Rig) -> int:
    return sum(1 for s in rig.wire.seen if s.method == "POST" and any(p in s.path for p in ("keys", "tokens")))


BAD_CONFIGS: dict[str, tuple[list[dict[str, Any]], str]] = {
    "none": ([], "malformed issue credential task"),  # spec credentials.md §3.1 step 1
    "unknown-provider": ([{"provider": "baton/rot13/v1", "ageRecipientConfig": {"recipient": "x"}}], "not registered"),
    "age-garbage": ([{"provider": "baton/age/v1", "ageRecipientConfig": {"recipient": "age1notarecipient"}}], "age"),
    "age-empty": ([{"provider": "baton/age/v1", "ageRecipientConfig": {"recipient": ""}}], "age"),
    "provider-arm-mismatch": ([{"provider": "baton/age/v1", "jwkPublicKeyConfig": {"pubKey": "e30="}}], "age"),
    "jwk-not-json": ([{"provider": "baton/jwk/v1", "jwkPublicKeyConfig": {"pubKey": "bm90IGpzb24="}}], "jwk"),
    "jwk-symmetric": (
        [{"provider": "baton/jwk/v1", "jwkPublicKeyConfig": {"pubKey": "eyJrdHkiOiJvY3QiLCJrIjoiQUFBQSJ9"}}],
        "jwk",
    ),
    "no-config-arm": ([{"provider": ""}], "not registered"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad", list(BAD_CONFIGS))
async def test_an_unusable_encryption_config_fails_the_task_before_anything_is_minted(
    rig: Rig, kind: str, bad: str
) -> None:
    robot = _robot(rig.fake)
    configs, words = BAD_CONFIGS[bad]
    finish = await rig.run(issue_task(robot.id, kind, configs))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert words in finish.message, finish.message
    assert rig.wire.seen == [], (
        "Datadog is not even asked (the identity's read, the duplicate check) before the refusal"
    )
    assert _live(rig.fake) == set()


async def test_a_good_config_beside_a_bad_one_mints_nothing(rig: Rig) -> None:
    robot = _robot(rig.fake)
    configs = [*VECTOR["encryption_configs"], BAD_CONFIGS["age-garbage"][0][0]]
    finish = await rig.run(issue_task(robot.id, "service-account-application-key", configs))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert "encryption config 1" in finish.message
    assert _mint_requests(rig) == 0


def _everything_said(rig: Rig, logs: list[MutableMapping[str, Any]], caplog: pytest.LogCaptureFixture, out: str) -> str:
    finishes = [f"{f.message} {f.annotation_types}" for f in rig.c1.finishes]
    return "\n".join([repr(logs), caplog.text, out, *finishes])


@pytest.mark.parametrize("kind", KINDS)
async def test_an_issued_secret_appears_only_inside_its_ciphertext(
    rig: Rig,
    kind: str,
    logs: list[MutableMapping[str, Any]],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    robot = _robot(rig.fake)
    finish = await rig.run(issue_task(robot.id, kind))
    assert finish.ok, finish
    (secret,) = _minted(rig.fake)
    response = finish.response
    assert isinstance(response, resource_pb2.IssueCredentialResponse)
    document = json.loads(pyrage.decrypt(response.encrypted_data[0].encrypted_bytes, [IDENTITY]))
    assert secret in document["key_value"]  # a token's is prefixed (ddsat_)
    # Nowhere else: not in the response's clear parts, the logs at debug, stdlib logs or the output.
    clear = resource_pb2.IssueCredentialResponse()
    clear.CopyFrom(response)
    clear.ClearField("encrypted_data")
    assert secret not in str(clear)
    out = capsys.readouterr()
    said = _everything_said(rig, logs, caplog, out.out + out.err)
    assert secret not in said
    assert secret[-12:] not in said


MISLEADING_MINTS = {
    "another-name": lambda body: {
        **body,
        "data": {**body["data"], "attributes": {**body["data"]["attributes"], "name": "c1-other"}},
    },
    "secret-in-name": lambda body: {
        **body,
        "data": {
            **body["data"],
            "attributes": {**body["data"]["attributes"], "name": body["data"]["attributes"]["key"]},
        },
    },
    "no-id": lambda body: {**body, "data": {k: v for k, v in body["data"].items() if k != "id"}},
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mislead", list(MISLEADING_MINTS))
async def test_a_mint_answered_about_another_credential_leaves_nothing_live_and_quotes_no_secret(
    rig: Rig,
    kind: str,
    mislead: str,
    logs: list[MutableMapping[str, Any]],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.independent.writes.wire import edited

    caplog.set_level(logging.DEBUG)
    robot = _robot(rig.fake)
    rig.wire.on("POST", MINT_PATHS[kind], edited(MISLEADING_MINTS[mislead]))
    finish = await rig.run(issue_task(robot.id, kind))
    assert failed_for_good(finish), finish
    assert _live(rig.fake) == set(), "what the create made is found by its name and deleted"
    secrets = _minted(rig.fake) or []
    out = capsys.readouterr()
    said = _everything_said(rig, logs, caplog, out.out + out.err)
    for secret in secrets:
        assert secret not in said


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "loss",
    ["reset", "502"],
)
async def test_a_mint_whose_answer_is_lost_leaves_nothing_live_and_fails_for_good(
    rig: Rig, kind: str, loss: str
) -> None:
    robot = _robot(rig.fake)
    action = (
        landed_then_lost(httpx.RemoteProtocolError)
        if loss == "reset"
        else landed_then(502, b"<html>502</html>", "text/html")
    )
    rig.wire.on("POST", MINT_PATHS[kind], action)
    finish = await rig.run(issue_task(robot.id, kind))
    assert failed_for_good(finish), finish
    assert _live(rig.fake) == set()
    assert rig.wire.reached("POST", MINT_PATHS[kind]) == 1, "a create that may have landed is never sent again"


@pytest.mark.parametrize("kind", KINDS)
async def test_the_same_issuance_delivered_twice_mints_once(rig: Rig, kind: str) -> None:
    robot = _robot(rig.fake)
    task = issue_task(robot.id, kind)
    first = await rig.run(task)
    second = await rig.run(task)
    assert first.ok, first
    assert failed_for_good(second, Code.ALREADY_EXISTS), second
    assert len(_live(rig.fake)) == 1


async def test_an_issuance_report_refused_then_accepted_hands_over_the_live_credential(rig: Rig) -> None:
    robot = _robot(rig.fake)
    for _ in range(2):
        rig.c1.finish_script.append(C1TransientError("FinishTask: UNAVAILABLE", code=grpc.StatusCode.UNAVAILABLE))
    finish = await rig.run(issue_task(robot.id, "service-account-application-key"))
    assert finish.ok, finish
    (key_id,) = _live(rig.fake)
    assert isinstance(finish.response, resource_pb2.IssueCredentialResponse)
    assert finish.response.secret.id.resource == key_id, "the credential reported is the one still live"


DELETE_PATHS = {
    "api-key": r"/api/v2/api_keys/[^/]+",
    "service-account-application-key": r"/api/v2/service_accounts/[^/]+/application_keys/[^/]+",
    "service-account-access-token": r"/api/v2/service_accounts/[^/]+/access_tokens/[^/]+",
}


async def _issued(rig: Rig, kind: str) -> resource_pb2.ResourceId:
    finish = await rig.run(issue_task(_robot(rig.fake).id, kind))
    assert finish.ok, finish
    assert isinstance(finish.response, resource_pb2.IssueCredentialResponse)
    rig.wire.seen.clear()
    return finish.response.secret.id


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (200, b"<html>deleted</html>", "text/html"),
        (200, b"not json", "application/json"),
        (200, b'{"errors": ["nope"]}', "application/json"),
        (202, b"", None),
    ],
    ids=["html", "not-json", "errors", "202-accepted"],
)
async def test_a_credential_delete_answered_2xx_by_something_else_is_not_reported_deleted(
    rig: Rig, kind: str, status: int, body: bytes, content_type: str | None
) -> None:
    secret = await _issued(rig, kind)
    rig.wire.on("DELETE", DELETE_PATHS[kind], answer(status, body, content_type), times=10)
    finish = await rig.run(delete_task(secret.resource_type, secret.resource))
    assert failed_for_good(finish), finish
    assert len(_live(rig.fake)) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_a_credential_delete_answered_2xx_with_a_gateways_json_is_not_reported_deleted(
    rig: Rig, kind: str
) -> None:
    secret = await _issued(rig, kind)
    rig.wire.on("DELETE", DELETE_PATHS[kind], answer(200, {"message": "ok"}), times=10)
    finish = await rig.run(delete_task(secret.resource_type, secret.resource))
    assert failed_for_good(finish), finish
    assert len(_live(rig.fake)) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_a_credential_delete_whose_answer_is_lost_is_reported_deleted(rig: Rig, kind: str) -> None:
    secret = await _issued(rig, kind)
    rig.wire.on("DELETE", DELETE_PATHS[kind], landed_then_lost(httpx.ReadTimeout))
    finish = await rig.run(delete_task(secret.resource_type, secret.resource))
    assert finish.ok, finish
    assert _live(rig.fake) == set()


@pytest.mark.parametrize("kind", KINDS)
async def test_an_issuance_whose_report_is_given_up_leaves_no_live_credential(rig: Rig, kind: str) -> None:
    """ConductorOne refuses the report for good (INVALID_ARGUMENT three times: the task is known gone): it never
    received the ciphertext, so nobody holds the secret, and the credential is deleted again."""
    robot = _robot(rig.fake)
    for _ in range(3):
        rig.c1.finish_script.append(
            C1TransientError("FinishTask: INVALID_ARGUMENT", code=grpc.StatusCode.INVALID_ARGUMENT)
        )
    await rig.processor.process(issue_task(robot.id, kind))
    assert rig.c1.finishes == []
    assert _live(rig.fake) == set()


async def test_a_rollback_answered_by_a_gateway_is_not_taken_for_a_deleted_credential(rig: Rig) -> None:
    """A mint reporting wider scopes than asked (null: unrestricted) is rolled back. When the rollback's DELETE is
    answered by a gateway's own JSON, the key was never deleted: the failure must say so and name it for deletion by
    hand, never report it rolled back (it would stay live with nobody knowing of it)."""
    from tests.independent.writes.wire import edited

    robot = _robot(rig.fake)
    task = issue_task(robot.id, "service-account-application-key")
    task.issue_credential.credential_options.api_key.scopes.append("dashboards_read")

    def unrestricted(body: dict[str, Any]) -> dict[str, Any]:
        body["data"]["attributes"]["scopes"] = None
        return body

    rig.wire.on("POST", MINT_PATHS["service-account-application-key"], edited(unrestricted))
    rig.wire.on("DELETE", DELETE_PATHS["service-account-application-key"], answer(200, {"message": "ok"}), times=10)
    finish = await rig.run(task)
    assert failed_for_good(finish), finish
    (key_id,) = _live(rig.fake)
    assert key_id in finish.message
    assert "delete it in Datadog" in finish.message
    for secret in _minted(rig.fake):
        assert secret not in finish.message
