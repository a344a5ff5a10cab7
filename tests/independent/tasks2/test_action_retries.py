"""Guards the class "a transient failure of an account action is reported retryable": Go's `action_invoke` handler
reports every failure retryable (docs/spec/service-mode.md §3.4: it joins no ErrTaskNonRetryable, unlike grant, revoke
and the other provisioning handlers), and the account actions only set a state (enable, disable, a profile's fields),
so a repeat is harmless. A `disable_user` (offboarding) that met Datadog unavailable after every retry was reported
final, and ConductorOne would not run it again: the account stayed enabled with all its access. What no repeat can fix
(an unknown user, an argument missing) stays final."""

from __future__ import annotations

import grpc
import pytest

from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import USER, human
from tests.independent.writes.tasks import action_task
from tests.independent.writes.wire import answer

UNAVAILABLE = {"errors": ["Service Unavailable"]}


@pytest.mark.parametrize("action", ["disable_user", "enable_user"])
async def test_an_account_action_datadog_could_not_take_is_reported_retryable(rig: Rig, action: str) -> None:
    user = human(rig.fake)
    method = "DELETE" if action == "disable_user" else "PATCH"
    rig.wire.on(method, USER, answer(503, UNAVAILABLE), times=50)
    finish = await rig.run(action_task(action, user.id))
    assert not finish.ok
    assert finish.code == grpc.StatusCode.UNAVAILABLE.value[0], finish
    assert finish.non_retryable is False, finish


async def test_an_account_action_no_repeat_can_make_stays_final(rig: Rig) -> None:
    finish = await rig.run(action_task("disable_user", "00000000-0000-0000-0000-00000000dead"))
    assert not finish.ok
    assert finish.non_retryable is True, finish
