"""A deletion of a credential whose answers were lost, said as such by the baton layer (review r1101).

The Datadog layer knew a DELETE that landed, its answers a 503 each time, may have deleted the key (`said_if_maybe_made`
adds MAY_HAVE_LANDED to its error), but the task layer, which knows nothing of Datadog's words, said it "could not be
deleted again" (an issuance's rollback), "deleting … again failed: delete it by hand" (a report too large to send)
and named it `left_live` (a failed `delete_resource`): someone was sent to delete by hand a key Datadog had deleted.
The baton error now carries `may_have_taken_effect`, set by `said_if_maybe_made`: those say the deletion may have
worked, its answer lost, and to check for the credential. "Could not be deleted" stays for a deletion the provider
refused."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any, cast

import grpc
import pytest
import structlog

from connector.baton.c1.errors import C1TransientError
from connector.baton.connector import Connector, IssuedCredential
from connector.baton.errors import NotFoundError, UnavailableError
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks import credentials
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.processor import TaskProcessor
from connector.datadog.errors import MAY_HAVE_LANDED
from tests.baton.tasks.stubs import INSTANT
from tests.baton.test_issue_credential import (
    CANARY,
    DISCOVERABLE,
    TASK_ID,
    StubConnector,
    _AcceptingClient,
    _no_hello,
    _plaintext,
    _processor,
    _RefusingClient,
    _secret,
    _StallingIssuer,
    _task,
)
from tests.independent.credentials.issuing import MINT_PATHS, issue_task, robot
from tests.independent.credentials.issuing import credentials as live
from tests.independent.credentials.keys import jwe_config
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import USER, failed_for_good, human
from tests.independent.writes.tasks import action_task
from tests.independent.writes.wire import Action, answer, edited, landed_then

BUSY = {"errors": ["busy"]}
ATTEMPTS = 20  # more than any retry policy makes
DELETES: dict[str, Action] = {"lost": landed_then(503, BUSY), "refused": answer(403, {"errors": ["Forbidden"]})}


def _huge_key(body: Any) -> Any:
    body["data"]["attributes"]["key"] = "k" * ((1 << 20) + 1)  # too large to seal to an X-Wing key: rolled back
    return body


@pytest.mark.parametrize("delete", DELETES.keys())
async def test_a_rollback_says_it_may_have_worked_only_when_its_answer_was_lost(
    rig: Rig, logs: list[MutableMapping[str, Any]], delete: str
) -> None:
    kind = "api-key"
    before = live(rig.fake)
    rig.wire.on("POST", MINT_PATHS[kind], edited(_huge_key))
    rig.wire.on("DELETE", MINT_PATHS[kind] + "/[^/]+", DELETES[delete], times=ATTEMPTS)
    finish = await rig.run(issue_task(robot(rig.fake).id, kind, [jwe_config()]))
    assert failed_for_good(finish)
    (line,) = [e for e in logs if str(e["event"]).startswith("credential rollback")]
    assert line["log_level"] == "error"
    if delete == "lost":
        assert live(rig.fake) == before, "the rollback's DELETE landed"
        assert credentials.MAYBE_ROLLED_BACK + ": api-key '" in finish.message, finish.message
        assert finish.message.endswith("may still be live, check for it")
        assert "could not be deleted" not in finish.message
        assert "may have been deleted" in line["event"]
    else:
        assert len(live(rig.fake) - before) == 1, "Datadog refused the DELETE"
        assert credentials.NOT_ROLLED_BACK + ": api-key '" in finish.message, finish.message
        assert "may have worked" not in finish.message
        assert "may have been deleted" not in line["event"]


@pytest.mark.parametrize("delete", DELETES.keys())
async def test_a_failed_deletion_is_logged_may_be_live_only_when_its_answer_was_lost(
    rig: Rig, logs: list[MutableMapping[str, Any]], delete: str
) -> None:
    """The processor's error line for a failed `delete_resource` named the key `left_live` though Datadog had deleted
    it: `may_be_live` when the deletion's answer was lost, `left_live` when Datadog refused it."""
    kind = "api-key"
    finish = await rig.run(issue_task(robot(rig.fake).id, kind))
    assert finish.ok, finish.message
    assert isinstance(finish.response, resource_pb2.IssueCredentialResponse)
    secret = finish.response.secret.id
    rig.wire.on("DELETE", MINT_PATHS[kind] + "/[^/]+", DELETES[delete], times=ATTEMPTS)
    task = baton_pb2.Task(id=new_ksuid())
    task.delete_resource.resource_id.CopyFrom(secret)
    finish = await rig.run(task)
    assert failed_for_good(finish)
    (line,) = [e for e in logs if e["event"] == "task failed"]  # the issuance succeeded
    assert line["log_level"] == "error"
    named = f"{kind}:{secret.resource}"
    if delete == "lost":
        assert line.get("may_be_live") == named, line
        assert "left_live" not in line
    else:
        assert line.get("left_live") == named, line
        assert "may_be_live" not in line


def _lost_answer() -> UnavailableError:
    error = UnavailableError("Datadog unavailable (503)")
    error.may_have_taken_effect = True  # as `said_if_maybe_made` marks a DELETE whose answers were all lost
    return error


@pytest.mark.parametrize("rollback", ["lost", "refused"])
async def test_a_report_too_large_whose_deletion_answer_was_lost_says_it_may_have_worked(rollback: str) -> None:
    """The processor deletes a credential whose response is too large to report: its failure said "deleting … again
    failed: delete it by hand" of a deletion that may have worked."""
    huge = b'{"key_value":"' + CANARY.encode() + b"x" * (3 * 1024 * 1024) + b'"}'
    stub = StubConnector()
    stub.issuer.result = IssuedCredential(secret=_secret(), plaintexts=[_plaintext(huge)], resource_mode=DISCOVERABLE)
    stub.issuer.rollback_error = _lost_answer() if rollback == "lost" else NotFoundError("refused")
    client = _AcceptingClient()
    processor = TaskProcessor(
        cast(Any, client),
        Handlers(cast(Connector, stub), provisioning=True),
        cast(Any, None),
        _no_hello,
        finish_retry=INSTANT,
    )
    with structlog.testing.capture_logs() as events:
        await processor.process(baton_pb2.Task(id=TASK_ID, issue_credential=_task()))
    (report,) = client.reports
    message = report["error"].message
    assert "too large to report" in message
    if rollback == "lost":
        assert "again may have worked (no answer said whether it did)" in message, message
        assert "may still be live, check for it" in message
        assert "delete it by hand" not in message
        (line,) = [e for e in events if str(e["event"]).startswith("credential rollback")]
        assert "may have been deleted" in line["event"]
    else:
        assert "again failed: delete it by hand" in message, message
        assert "may have worked" not in message
    assert CANARY not in repr(events) + repr(client.reports)


async def test_an_org_wide_deletion_whose_answer_was_lost_is_logged_may_be_live(
    rig: Rig, logs: list[MutableMapping[str, Any]]
) -> None:
    """The org-wide deletion of a disabled service account's key wraps its error in one of its own: the flag goes
    with it."""
    from tests.fakes.datadog.org import AppKey

    org = rig.fake.org
    sa = org.add_user("robot-1101-off@example.com", service_account=True, status="Disabled")
    key = AppKey(org.new_id(), "c1-disabled", org.new_secret(40), sa.id, org.now())
    org.app_keys[key.id] = key
    rig.wire.on("DELETE", r"/api/v2/application_keys/[^/]+", landed_then(503, BUSY), times=ATTEMPTS)
    task = baton_pb2.Task(id=new_ksuid())
    task.delete_resource.resource_id.resource_type = "service-account-application-key"
    task.delete_resource.resource_id.resource = key.id
    finish = await rig.run(task)
    assert key.id not in org.app_keys, "the org-wide DELETE landed"
    assert failed_for_good(finish)
    (line,) = [e for e in logs if e["event"] == "task failed"]
    assert line.get("may_be_live") == f"service-account-application-key:{key.id}", line
    assert "left_live" not in line


@pytest.mark.parametrize("lost", [True, False])
async def test_an_undo_whose_answer_was_lost_is_logged_may_be_live(lost: bool) -> None:
    """The processor's own line for an undo that raised (`_take_back`): `left_live` only when nothing says it may
    have worked."""
    from connector.baton.tasks.outcome import Undo
    from connector.baton.tasks.processor import _take_back

    async def deleting() -> bool:
        raise _lost_answer() if lost else NotFoundError("refused")

    undo = Undo(what='api-key "k-1"', run=deleting)
    with structlog.testing.capture_logs() as events:
        assert await _take_back(undo) is False
    (line,) = [e for e in events if "unreported work" in str(e["event"])]
    assert undo.may_be_done is lost
    assert line.get("may_be_live" if lost else "left_live") == 'api-key "k-1"', line
    assert ("left_live" if lost else "may_be_live") not in line


async def test_a_cancelled_undo_whose_once_more_answer_was_lost_is_not_named_left_live() -> None:
    """The report is given up; the credential's deletion is cut by the drain's cancel, `_roll_back` tries once more,
    and that DELETE's answers are lost (`Undo.may_be_done`). The cancel's line said "stopped before it could be undone"
    with `left_live`, beside the rollback's own line saying the key may have been deleted (found by the review r1107)."""
    stub = StubConnector(issuer=_StallingIssuer(stalls=1))
    cast(_StallingIssuer, stub.issuer).rollback_error = _lost_answer()
    client = _RefusingClient(C1TransientError("FinishTask: UNAVAILABLE", code=grpc.StatusCode.UNAVAILABLE))
    processor = _processor(stub, client)
    with structlog.testing.capture_logs() as events:
        running = asyncio.create_task(processor.process(baton_pb2.Task(id=TASK_ID, issue_credential=_task())))
        await client.retried.wait()
        processor.stop_reporting_within(0.01)
        await cast(_StallingIssuer, stub.issuer).rollback_started.wait()
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert [e["may_be_live"] for e in events if "may_be_live" in e]
    assert not [e for e in events if "left_live" in e], events
    assert CANARY not in repr(events)


async def test_a_disable_datadog_shows_not_made_is_logged_left_live(
    rig: Rig, logs: list[MutableMapping[str, Any]]
) -> None:
    """The disable's DELETE answered 503 (its answer lost), its retry 404, and the read that decides shows the user
    Active: the user is known to be enabled. The failure said Datadog "may have made the change" and was logged
    `may_be_live` (found by the review r1107)."""
    user = human(rig.fake)
    rig.wire.on("DELETE", USER, answer(503, {"errors": ["Service Unavailable"]}), times=1)
    rig.wire.on("DELETE", USER, answer(404, {"errors": ["Not found"]}), times=1)
    finish = await rig.run(action_task("disable_user", user.id))
    assert not finish.ok
    assert not rig.fake.org.users[user.id].disabled, "Datadog shows the user active"
    (line,) = [e for e in logs if e["event"] == "task failed"]
    assert "left_live" in line, sorted(line)
    assert "may_be_live" not in line, sorted(line)
    assert MAY_HAVE_LANDED not in str(line.get("error", "")), line
