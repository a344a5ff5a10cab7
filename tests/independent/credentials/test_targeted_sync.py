"""Targeted syncs (issue 10 item 6; docs/spec/c1z-format.md) as a hostile ConductorOne asks for them: unknown types,
ids of another kind, duplicates, ids no path can hold; and targeted roles and teams whose per-resource endpoints page
oddly. The file holds what was asked, each thing once, and a sync that could not read a target whole fails: it never
finishes with grants missing (ConductorOne would take them as revoked)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from connector.baton import builders as b
from connector.baton.c1z.reader import C1ZReader
from connector.baton.errors import ConnectorError, InvalidArgumentError
from connector.baton.sync.syncer import SyncOptions, SyncResult
from connector.baton.sync.to_file import sync_to_file
from tests.fakes.datadog import FakeDatadog
from tests.fakes.datadog.org import Role, Team
from tests.independent.writes.conftest import Rig
from tests.independent.writes.wire import answer, edited

ROLE_USERS = r"/api/v2/roles/[^/]+/users"
MEMBERSHIPS = r"/api/v2/team/[^/]+/memberships"


async def _sync(rig: Rig, path: Path, *targets: tuple[str, str], **options: Any) -> SyncResult:
    opts = SyncOptions(targeted_resources=[b.resource_id(t, i) for t, i in targets], **options)
    return await sync_to_file(rig.connector.syncers(), path, opts)


def _busiest_role(fake: FakeDatadog) -> Role:
    users = fake.org.users.values()
    return max(fake.org.roles.values(), key=lambda r: sum(r.id in u.role_ids for u in users))


def _busiest_team(fake: FakeDatadog) -> Team:
    return max(fake.org.teams.values(), key=lambda t: len(t.members))


def _role_grants(fake: FakeDatadog, role: Role) -> set[str]:
    return {f"role:{role.id}:member:user:{u.id}" for u in fake.org.users.values() if role.id in u.role_ids}


def _team_grants(team: Team) -> set[str]:
    return {f"team:{team.id}:member:user:{m.user_id}" for m in team.members.values()} | {
        f"team:{team.id}:admin:user:{m.user_id}" for m in team.members.values() if m.role == "admin"
    }


def _read(path: Path, sync_id: str) -> tuple[list[str], list[str]]:
    with C1ZReader(path) as reader:
        resources = [f"{r.id.resource_type}:{r.id.resource}" for r in reader.resources(sync_id=sync_id)]
        grants = [g.id for g in reader.grants(sync_id=sync_id)]
    return resources, grants


async def test_a_target_named_twice_is_in_the_file_once_with_each_grant_once(rig: Rig, tmp_path: Path) -> None:
    role, team = _busiest_role(rig.fake), _busiest_team(rig.fake)
    path = tmp_path / "sync.c1z"
    result = await _sync(rig, path, ("role", role.id), ("team", team.id), ("role", role.id), ("team", team.id))
    resources, grants = _read(path, result.sync_id)
    assert Counter(resources) == Counter({f"role:{role.id}": 1, f"team:{team.id}": 1})
    assert [g for g, n in Counter(grants).items() if n > 1] == []
    assert set(grants) == _role_grants(rig.fake, role) | _team_grants(team)


async def test_a_target_named_in_another_case_is_one_resource(rig: Rig, tmp_path: Path) -> None:
    role = _busiest_role(rig.fake)
    path = tmp_path / "sync.c1z"
    result = await _sync(rig, path, ("role", role.id), ("role", role.id.upper()))
    resources, grants = _read(path, result.sync_id)
    assert [r.lower() for r in resources] == [f"role:{role.id}".lower()]
    assert [g for g, n in Counter(g.lower() for g in grants).items() if n > 1] == []


@pytest.mark.parametrize(("asked", "of"), [("role", "user"), ("team", "role"), ("user", "team"), ("role", "team")])
async def test_an_id_of_another_kind_adds_nothing_and_names_it(rig: Rig, tmp_path: Path, asked: str, of: str) -> None:
    ids = {
        "user": next(iter(rig.fake.org.users)),
        "role": _busiest_role(rig.fake).id,
        "team": _busiest_team(rig.fake).id,
    }
    path = tmp_path / "sync.c1z"
    result = await _sync(rig, path, (asked, ids[of]))
    resources, grants = _read(path, result.sync_id)
    assert resources == []
    assert grants == []
    assert any(ids[of] in w for w in result.warnings), result.warnings


@pytest.mark.parametrize("type_id", ["roles", "Role", "users", "api_key", "", "role "])
async def test_an_unknown_type_fails_the_sync_naming_it(rig: Rig, tmp_path: Path, type_id: str) -> None:
    with pytest.raises(InvalidArgumentError, match="no such resource type"):
        await _sync(rig, tmp_path / "sync.c1z", ("role", _busiest_role(rig.fake).id), (type_id, "x"))


@pytest.mark.parametrize("rid", ["", "..", ".", "x" * 1100, "a\x00b", "a\nb"])
async def test_an_id_no_datadog_object_can_have_fails_or_is_skipped_without_a_request_for_it(
    rig: Rig, tmp_path: Path, rid: str
) -> None:
    try:
        result = await _sync(rig, tmp_path / "sync.c1z", ("role", rid))
    except ConnectorError:
        return
    resources, _ = _read(tmp_path / "sync.c1z", result.sync_id)
    assert resources == []


def _total_more(body: dict[str, Any]) -> dict[str, Any]:
    body["meta"]["page"]["total_filtered_count"] += 150
    body["meta"]["page"]["total_count"] += 150
    return body


def _total_none(body: dict[str, Any]) -> dict[str, Any]:
    body["meta"]["page"]["total_filtered_count"] = 0
    body["meta"]["page"]["total_count"] = 0
    return body


def _other_role_included(body: dict[str, Any]) -> dict[str, Any]:
    for item in body.get("included", []):
        item["id"] = "00000000-0000-4000-8000-00000000beef"
    return body


def _data_dropped(body: dict[str, Any]) -> dict[str, Any]:
    body["data"] = body["data"][:-1]
    return body


ODD_ROLE_PAGES = {
    "total-promises-more": _total_more,
    "total-says-none": _total_none,
    "a-member-dropped-total-kept": _data_dropped,
}


@pytest.mark.parametrize("odd", list(ODD_ROLE_PAGES))
async def test_a_targeted_role_whose_members_page_oddly_never_finishes_with_grants_missing(
    rig: Rig, tmp_path: Path, odd: str
) -> None:
    role = _busiest_role(rig.fake)
    expected = _role_grants(rig.fake, role)
    assert len(expected) >= 2
    rig.wire.on("GET", ROLE_USERS, edited(ODD_ROLE_PAGES[odd]), times=50)
    path = tmp_path / "sync.c1z"
    try:
        result = await _sync(rig, path, ("role", role.id))
    except ConnectorError:
        return
    _, grants = _read(path, result.sync_id)
    assert set(grants) == expected, "a finished sync holds every grant of the target"


async def test_a_targeted_role_whose_member_pages_repeat_fails(rig: Rig, tmp_path: Path) -> None:
    role = _busiest_role(rig.fake)
    first: dict[str, Any] = {}

    def same_page(body: dict[str, Any]) -> dict[str, Any]:
        first.setdefault("page", body)
        page = dict(first["page"])
        page["meta"] = {"page": {"total_filtered_count": 1000, "total_count": 1000}}
        page["data"] = (page["data"] * 100)[:100]
        return page

    rig.wire.on("GET", ROLE_USERS, edited(same_page), times=50)
    with pytest.raises(ConnectorError):
        await _sync(rig, tmp_path / "sync.c1z", ("role", role.id))


@pytest.mark.parametrize("odd", ["html", "gateway-json", "not-found-not-datadogs"])
async def test_a_targeted_team_whose_memberships_cannot_be_read_fails(rig: Rig, tmp_path: Path, odd: str) -> None:
    team = _busiest_team(rig.fake)
    action = {
        "html": answer(200, b"<html>ok</html>", "text/html"),
        "gateway-json": answer(200, {"message": "ok"}),
        "not-found-not-datadogs": answer(404, {"status": 404, "error": "Not Found"}),
    }[odd]
    rig.wire.on("GET", MEMBERSHIPS, action, times=50)
    path = tmp_path / "sync.c1z"
    try:
        result = await _sync(rig, path, ("team", team.id))
    except ConnectorError:
        return
    _, grants = _read(path, result.sync_id)
    assert set(grants) == _team_grants(team)
