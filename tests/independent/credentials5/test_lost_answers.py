"""A write of `update_user` or of a credential's deletion whose answers were all lost says the change may have been
made (issue 10: what happened is reported truthfully). `enable_user`, `disable_user`, grants and revokes said so
(`said_if_maybe_made`: "an attempt's answer was lost, so Datadog may have made the change all the same: check it
there"); `update_user` and every credential deletion (a `delete_resource` task, an issuance's rollback, the cleanup of
a lost create) did not: a PATCH that changed the user, or a DELETE that revoked the key, answered 503 each time, was
reported "failed" alone, the credential reported live (and logged `left_live`) though Datadog had deleted it."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest

from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.datadog.errors import MAY_HAVE_LANDED
from tests.independent.credentials.issuing import KINDS, MINT_PATHS, credentials, issue_task, robot
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import failed_for_good, failed_retryably, human
from tests.independent.writes.wire import Action, answer, edited, landed_then, landed_then_lost

USER_PATH = r"/api/v2/users/[^/]+"
BUSY = {"errors": ["busy"]}
ATTEMPTS = 20  # more than any retry policy makes: every attempt of the write is answered so


def _update(user_id: str, **fields: str) -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid())
    task.action_invoke.name = "update_user"
    task.action_invoke.args.update({"user_id": {"resource_type_id": "user", "resource_id": user_id}, **fields})
    return task


def _delete(secret: resource_pb2.ResourceId) -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid())
    task.delete_resource.resource_id.CopyFrom(secret)
    return task


LOST: dict[str, Action] = {
    "503-each-time": landed_then(503, BUSY),
    "connection-reset-each-time": landed_then_lost(httpx.RemoteProtocolError),
}


@pytest.mark.parametrize("lost", LOST.values(), ids=LOST.keys())
async def test_an_update_that_landed_with_its_answers_lost_says_it_may_have_been_made(rig: Rig, lost: Action) -> None:
    user = human(rig.fake)
    rig.wire.on("PATCH", USER_PATH, lost, times=ATTEMPTS)
    finish = await rig.run(_update(user.id, name="Grace Hopper"))
    assert user.name == "Grace Hopper", "the PATCH landed"
    # Its answers lost every time (a passing failure): retryable, as Go reports every action's failure (spec §3.4).
    assert failed_retryably(finish)
    assert MAY_HAVE_LANDED in finish.message, finish.message


async def test_an_update_datadog_refused_says_nothing_may_have_been_made(rig: Rig) -> None:
    user = human(rig.fake)
    rig.wire.on("PATCH", USER_PATH, answer(400, {"errors": ["Invalid email"]}))
    finish = await rig.run(_update(user.id, email="grace@example.com"))
    assert failed_for_good(finish)
    assert MAY_HAVE_LANDED not in finish.message


async def _issued(rig: Rig, kind: str) -> resource_pb2.ResourceId:
    finish = await rig.run(issue_task(robot(rig.fake).id, kind))
    assert finish.ok, finish.message
    assert isinstance(finish.response, resource_pb2.IssueCredentialResponse)
    return finish.response.secret.id


DELETE_PATHS = {kind: path + "/[^/]+" for kind, path in MINT_PATHS.items()}


@pytest.mark.parametrize("lost", LOST.values(), ids=LOST.keys())
@pytest.mark.parametrize("kind", KINDS)
async def test_a_deletion_that_landed_with_its_answers_lost_says_it_may_have_been_made(
    rig: Rig, kind: str, lost: Action
) -> None:
    secret = await _issued(rig, kind)
    before = credentials(rig.fake)
    rig.wire.on("DELETE", DELETE_PATHS[kind], lost, times=ATTEMPTS)
    finish = await rig.run(_delete(secret))
    assert len(before - credentials(rig.fake)) == 1, "the DELETE landed"
    assert failed_for_good(finish)
    assert MAY_HAVE_LANDED in finish.message, finish.message


@pytest.mark.parametrize("kind", KINDS)
async def test_a_deletion_datadog_refused_says_nothing_may_have_been_made(rig: Rig, kind: str) -> None:
    secret = await _issued(rig, kind)
    before = credentials(rig.fake)
    rig.wire.on("DELETE", DELETE_PATHS[kind], answer(403, {"errors": ["Forbidden"]}))
    finish = await rig.run(_delete(secret))
    assert credentials(rig.fake) == before
    assert failed_for_good(finish)
    assert MAY_HAVE_LANDED not in finish.message


def _unrestricted(body: Any) -> Any:
    body["data"]["attributes"]["scopes"] = None  # a key of every permission, where a scoped one was asked for
    return body


async def test_a_rollback_that_landed_with_its_answers_lost_says_it_may_have_been_made(rig: Rig) -> None:
    kind = "service-account-application-key"
    sa = robot(rig.fake)
    before = credentials(rig.fake)
    rig.wire.on("POST", MINT_PATHS[kind], edited(_unrestricted))
    rig.wire.on("DELETE", DELETE_PATHS[kind], landed_then(503, BUSY), times=ATTEMPTS)
    finish = await rig.run(issue_task(sa.id, kind, scopes=("dashboards_read",)))
    assert credentials(rig.fake) == before, "the rollback's DELETE landed"
    assert failed_for_good(finish)
    assert "deleting it again failed too" in finish.message
    assert MAY_HAVE_LANDED in finish.message, finish.message


async def test_an_org_wide_deletion_that_landed_with_its_answers_lost_is_not_called_not_deleted(rig: Rig) -> None:
    """A disabled service account's key is deleted by its id alone, org-wide (its own path answers 404). That DELETE
    landed, its answers lost: the failure said the key "was NOT deleted", which was false."""
    from tests.fakes.datadog.org import AppKey

    org = rig.fake.org
    sa = org.add_user("robot-1104-off@example.com", service_account=True, status="Disabled")
    key = AppKey(org.new_id(), "c1-disabled", org.new_secret(40), sa.id, org.now())
    org.app_keys[key.id] = key
    rig.wire.on("DELETE", r"/api/v2/application_keys/[^/]+", landed_then(503, BUSY), times=ATTEMPTS)
    task = baton_pb2.Task(id=new_ksuid())
    task.delete_resource.resource_id.resource_type = "service-account-application-key"
    task.delete_resource.resource_id.resource = key.id
    finish = await rig.run(task)
    assert key.id not in org.app_keys, "the org-wide DELETE landed"
    assert failed_for_good(finish)
    assert "was NOT deleted" not in finish.message, finish.message
    assert MAY_HAVE_LANDED in finish.message, finish.message


async def test_an_org_wide_deletion_datadog_refused_is_called_not_deleted(rig: Rig) -> None:
    from tests.fakes.datadog.org import AppKey

    org = rig.fake.org
    sa = org.add_user("robot-1104-off@example.com", service_account=True, status="Disabled")
    key = AppKey(org.new_id(), "c1-disabled", org.new_secret(40), sa.id, org.now())
    org.app_keys[key.id] = key
    rig.wire.on("DELETE", r"/api/v2/application_keys/[^/]+", answer(403, {"errors": ["Forbidden"]}))
    task = baton_pb2.Task(id=new_ksuid())
    task.delete_resource.resource_id.resource_type = "service-account-application-key"
    task.delete_resource.resource_id.resource = key.id
    finish = await rig.run(task)
    assert key.id in org.app_keys
    assert failed_for_good(finish)
    assert f'application key "{key.id}" was NOT deleted' in finish.message


def _huge_key(body: Any) -> Any:
    body["data"]["attributes"]["key"] = "k" * ((1 << 20) + 1)  # too large to seal to an X-Wing key (§2.5 item 7)
    return body


async def test_a_rollback_after_a_failed_encryption_whose_answers_were_lost_claims_no_credential_live(
    rig: Rig, logs: list[MutableMapping[str, Any]]
) -> None:
    """The task layer's rollback (the encryption failed after the mint): its DELETE landed, its answers lost. The
    error line said the credential "is still live", of one Datadog had deleted; the report said it "could not be
    deleted again" (review r1101): both now say the deletion may have worked (tests/independent/credentials5/
    test_maybe_deleted.py for the rest of that class)."""
    from tests.independent.credentials.keys import jwe_config

    kind = "api-key"
    before = credentials(rig.fake)
    rig.wire.on("POST", MINT_PATHS[kind], edited(_huge_key))
    rig.wire.on("DELETE", DELETE_PATHS[kind], landed_then(503, BUSY), times=ATTEMPTS)
    finish = await rig.run(issue_task(robot(rig.fake).id, kind, [jwe_config()]))
    assert credentials(rig.fake) == before, "the rollback's DELETE landed"
    assert failed_for_good(finish)
    assert finish.message.endswith("may still be live, check for it"), finish.message
    assert "could not be deleted" not in finish.message
    (line,) = [e for e in logs if str(e["event"]).startswith("credential rollback")]
    assert "is still live" not in line["event"]
    assert "may have been deleted, or may still be live" in line["event"]
