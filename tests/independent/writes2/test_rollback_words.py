"""The baton layer's words for a deletion that may have worked (`ConnectorError.may_have_taken_effect`). They said
"may have worked, its answer was lost" also when the answer arrived: a 2xx that did not show the deletion done (review
r1201). They now say what is true of both: "may have worked (no answer said whether it did)". And an issuance stopped
by the shutdown after its key was deleted again, confirmed, says so rather than "a change may have been made"."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from connector.baton.crypto import providers
from connector.baton.errors import Code
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks import credentials as tasks
from connector.baton.tasks.outcome import TaskError
from tests.datadog.test_issue_task import _task
from tests.independent.writes.conftest import Rig
from tests.independent.writes.wire import landed_then, landed_then_lost

API_KEY = r"/api/v2/api_keys/[^/]+"
CASES = {
    # The DELETE landed and was answered 200 with a page: its answer arrived, a 2xx that did not show the deletion.
    "answered-2xx-unreadably": (landed_then(200, b"<html>OK</html>", "text/html"), 1),
    # The DELETE landed and its answer was lost, every attempt.
    "answer-lost": (landed_then_lost(), 10),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_rollback_that_may_have_worked_says_no_answer_said_whether(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """An issuance whose encryption fails is rolled back, and the key's DELETE may have worked: the failure says so
    in words true of a lost answer and of a 2xx that did not show the deletion alike."""
    action, times = CASES[case]

    def broken(*args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(providers, "encrypt_all", broken)
    rig.wire.on("DELETE", API_KEY, action, times=times)
    sa = rig.fake.org.add_user("robot@example.com", name="Robot", service_account=True, status="Active")
    with pytest.raises(TaskError) as caught:
        await tasks.issue_credential(rig.connector, "2NxIssueTaskKsuid0000000R1", _task(sa.id, "api-key"))
    message = str(caught.value)
    assert caught.value.code == Code.UNKNOWN
    assert tasks.MAYBE_ROLLED_BACK + ": api-key '" in message, message
    assert "may have worked (no answer said whether it did)" in message, message
    assert "its answer was lost" not in message, message


async def test_an_issuance_stopped_while_encrypting_reports_its_key_deleted_again(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shutdown cuts an issuance while it encrypts (on a worker thread): the minted key is deleted again, Datadog
    confirming it, before the cancellation goes on. The processor's report said "a change it had already sent may have
    been made all the same: check it there" of it, sending someone to look for a key that was gone (review r1201). It
    says the key was deleted again; still UNAVAILABLE and not to be retried as is."""
    entered, release = threading.Event(), threading.Event()
    real = providers.encrypt_all

    def held(*args: Any) -> Any:
        entered.set()
        release.wait(5)
        return real(*args)

    monkeypatch.setattr(providers, "encrypt_all", held)
    sa = rig.fake.org.add_user("robot@example.com", name="Robot", service_account=True, status="Active")
    before = set(rig.fake.org.api_keys)
    task = baton_pb2.Task(id=new_ksuid())
    task.issue_credential.CopyFrom(_task(sa.id, "api-key"))
    running = asyncio.ensure_future(rig.run(task))
    try:
        assert await asyncio.to_thread(entered.wait, 10)
        rig.processor.abandon_all("shutting down", 5)
        finish = await running
    finally:
        release.set()
    assert set(rig.fake.org.api_keys) == before
    assert not finish.ok, finish
    assert finish.code == Code.UNAVAILABLE, finish
    assert finish.non_retryable, finish
    assert "stopped mid-way, and the minted credential was deleted again" in finish.message, finish.message
    assert "may have been made" not in finish.message, finish.message


async def test_an_issuance_stopped_before_its_mint_still_says_a_change_may_have_been_made(rig: Rig) -> None:
    """Nothing was taken back (the stop came while the mint's own request was out): the report keeps saying a change it
    had sent may have been made."""
    entered = asyncio.Event()

    async def stalled(request: Any, wire: Any) -> Any:
        entered.set()
        await asyncio.Event().wait()  # the answer never comes; the shutdown cancels the request

    rig.wire.on("POST", r"/api/v2/api_keys", stalled)
    sa = rig.fake.org.add_user("robot@example.com", name="Robot", service_account=True, status="Active")
    task = baton_pb2.Task(id=new_ksuid())
    task.issue_credential.CopyFrom(_task(sa.id, "api-key"))
    running = asyncio.ensure_future(rig.run(task))
    await entered.wait()
    rig.processor.abandon_all("shutting down", 5)
    finish = await running
    assert not finish.ok, finish
    assert "may have been made all the same" in finish.message, finish.message
    assert "deleted again" not in finish.message, finish.message
