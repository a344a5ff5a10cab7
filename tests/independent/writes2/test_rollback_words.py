"""The baton layer's words for a deletion that may have worked (`ConnectorError.may_have_taken_effect`). They said
"may have worked, its answer was lost" also when the answer arrived: a 2xx that did not show the deletion done (review
r1201). They now say what is true of both: "may have worked (no answer said whether it did)"."""

from __future__ import annotations

from typing import Any

import pytest

from connector.baton.crypto import providers
from connector.baton.errors import Code
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
