"""Review r1706: a revoke whose DELETE landed, answered 503 with an empty rate-limit bucket for an hour (its retry refused
by the limiter before it left), is reported as a change Datadog may have made, not as one it refused."""

from __future__ import annotations

from tests.fakes.tasks import revoke_task
from tests.independent.meets.shared import landed_then_503
from tests.independent.writes.conftest import Rig


async def test_the_revoke_report_after_a_landed_503_then_a_limiter_refusal_says_it_may_have_landed(rig: Rig) -> None:
    team = next(iter(rig.fake.org.teams.values()))
    member = next(iter(team.members))
    rig.wire.on("DELETE", f"/api/v2/team/{team.id}/memberships/.*", landed_then_503, times=5)
    done = await rig.run(revoke_task("team", team.id, "member", member))
    assert member not in team.members
    assert not done.ok
    assert "may have" in done.message, done.message
