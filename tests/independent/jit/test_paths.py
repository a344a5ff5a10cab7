"""Task ids that would change the Datadog URL they are put in: `/`, `..`, `?`, `#`, percent signs, unicode, very
long. Each reaches Datadog only inside its own path segment, percent-encoded, and changes nothing it does not name;
one no Datadog id can be is refused before any request. The report says what became of the task."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from urllib.parse import quote

import pytest

from connector.datadog.idrules import holds_whitespace
from tests.fakes.datadog import FakeDatadog
from tests.fakes.tasks import grant_task, revoke_task
from tests.independent.jit.helpers import a_role, a_team, failed, holds_role, membership, ok, people
from tests.independent.jit.rig import jit

# Each would name another object, or another endpoint, if it were put in a path as it is.
INJECTED = {
    "parent": "../{victim}",
    "slash": "x/../../users/{victim}",
    "query": "x?filter=1",
    "fragment": "x#frag",
    "percent-slash": "x%2F..%2F{victim}",
    "percent-dots": "%2e%2e",
    "semicolon": "x;y=1",
    "unicode": "rôle-ß-角色",
    "backslash": "..\\{victim}",
    "long": "a" * 1000,
}


def _segment(value: str) -> str:
    return quote(value, safe="")


@pytest.mark.parametrize("name", list(INJECTED))
async def test_a_role_id_that_would_change_the_url_reaches_only_its_own_segment(
    tmp_path: Path, datadog: FakeDatadog, name: str
) -> None:
    victim, user = a_role(datadog), people(datadog)[0]
    role_id = INJECTED[name].format(victim=victim.id)
    before = {r: dict(m) for r, m in datadog.org.role_members.items()}
    async with jit(tmp_path, datadog) as rig:
        granted = await rig.run(grant_task("role", role_id, "member", user.id))
        revoked = await rig.run(revoke_task("role", role_id, "member", user.id))
        expected = f"/api/v2/roles/{_segment(role_id)}/users"
        assert rig.wire.writes() == [("POST", expected), ("DELETE", expected)]
    assert failed(granted, retryable=False), granted
    assert "not found" in granted.status.message.lower() or "404" in granted.status.message
    # Nothing held under the id: a revoke finds nothing to revoke (the spec's 404 on a revoke: already so).
    assert ok(revoked)
    assert datadog.org.role_members == before


@pytest.mark.parametrize("name", list(INJECTED))
async def test_a_user_id_that_would_change_a_membership_url_reaches_only_its_own_segment(
    tmp_path: Path, datadog: FakeDatadog, name: str
) -> None:
    people_ = people(datadog)
    member = people_[1]
    team = a_team(datadog, {member.id: "admin"})
    user_id = INJECTED[name].format(victim=member.id)
    async with jit(tmp_path, datadog) as rig:
        revoked = await rig.run(revoke_task("team", team.id, "admin", user_id))
        removed = await rig.run(revoke_task("team", team.id, "member", user_id))
        base = f"/api/v2/team/{team.id}/memberships/{_segment(user_id)}"
        assert rig.wire.writes() == [("PATCH", base), ("DELETE", base)]
    assert ok(revoked)
    assert ok(removed)
    # The member the injected id points at keeps what they had: nothing of theirs was named.
    assert membership(datadog, team, member) == "admin"


@pytest.mark.parametrize(
    "role_id",
    ["", " ", ".", "..", "a" * 1025, "x\x00y", "x\ny", "x\u2028y", "\u200b", "x\u202ey"],
    ids=[
        "empty",
        "space",
        "dot",
        "dotdot",
        "too-long",
        "nul",
        "newline",
        "line-separator",
        "zero-width",
        "rtl-override",
    ],
)
async def test_a_role_id_no_datadog_id_can_be_is_refused_before_any_request_and_reported_for_good(
    tmp_path: Path, datadog: FakeDatadog, role_id: str
) -> None:
    user = people(datadog)[0]
    async with jit(tmp_path, datadog) as rig:
        granted = await rig.run(grant_task("role", role_id, "member", user.id))
        revoked = await rig.run(revoke_task("role", role_id, "member", user.id))
        assert rig.wire.writes() == []
    for report in (granted, revoked):
        assert failed(report, retryable=False), report
        assert role_id not in report.status.message or len(role_id) < 8


INVISIBLE = {
    "zero-width-space": "\u200b",
    "byte-order-mark": "\ufeff",
    "word-joiner": "\u2060",
    "soft-hyphen": "\u00ad",
}


@pytest.mark.parametrize("name", list(INVISIBLE))
async def test_a_revoke_of_a_real_id_carrying_an_invisible_character_is_refused_not_already_revoked(
    tmp_path: Path, datadog: FakeDatadog, name: str
) -> None:
    """`<uuid>` copied from a web page or a chat with a zero-width space or a byte order mark: Datadog answers 404
    for that id, and the revoke was reported GrantAlreadyRevoked with the role and the membership held all along
    (whitespace was refused already; these are the same mistake, invisible)."""
    mark = INVISIBLE[name]
    role, user = a_role(datadog), people(datadog)[0]
    datadog.org.assign_role(user.id, role.id)
    team = a_team(datadog, {user.id: None})
    async with jit(tmp_path, datadog) as rig:
        reports = [
            await rig.run(revoke_task("role", role.id + mark, "member", user.id)),
            await rig.run(revoke_task("role", role.id, "member", mark + user.id)),
            await rig.run(revoke_task("team", team.id, "member", user.id + mark)),
            await rig.run(revoke_task("team", mark + team.id, "member", user.id)),
        ]
        assert rig.wire.writes() == [], "refused before any request"
    for report in reports:
        assert failed(report, retryable=False), report
        assert "invisible character" in report.status.message
    assert holds_role(datadog, role, user)
    assert membership(datadog, team, user) == "member"


def test_every_invisible_format_character_is_refused_in_an_id() -> None:
    uuid = "3f1c2a4e-0b6d-4e8f-9a1b-2c3d4e5f6a7b"
    invisible = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"]
    assert all(holds_whitespace(uuid + c) and holds_whitespace(c + uuid) for c in invisible)
    assert not holds_whitespace("rôle-ß-角色")
    assert not holds_whitespace(uuid)
