"""Teams (`/api/v2/team`, singular), their links, permission settings and memberships."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from tests.fakes.datadog import render
from tests.fakes.datadog.org import Org, Team, TeamLink
from tests.fakes.datadog.web import (
    JSONAPI,
    body,
    data_of,
    fail,
    fail_jsonapi,
    no_content,
    number_size,
    offset_limit,
    org_of,
    page_args,
    query_int,
    reply,
    window,
)

routes = web.RouteTableDef()

# Observed: an invalid role value comes back as a Python repr inside the usual string list.
INVALID_ROLE = "{'errors': [{'detail': 'Not a valid choice.', 'source': {'pointer': '/data/attributes/role'}}]}"


def _team(org: Org, team_id: str) -> Team:
    try:
        uuid.UUID(team_id)
    except ValueError:
        fail(404, f"{team_id} is not a valid UUID not found")
    found = org.teams.get(team_id)
    if found is None:
        fail(404, f"Team for ID {team_id} not found")
    return found


def _paged(request: web.Request, items: list[Any]) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """Teams switch paging style on whether page[size]/page[number] were sent."""
    if "page[size]" in request.query or "page[number]" in request.query:
        size, number = page_args(request, 10)
        meta, links = number_size(request, len(items), size, number)
        return list(window(items, size, number)), meta, links
    limit = query_int(request, "page[limit]", 100, maximum=100) or 100
    offset = query_int(request, "page[offset]", 0)
    meta, links = offset_limit(request, len(items), offset, limit)
    return items[offset : offset + limit], meta, links


@routes.get("/api/v2/team")
async def list_teams(request: web.Request) -> web.Response:
    org = org_of(request)
    teams = sorted(org.teams.values(), key=lambda t: (t.name.lower(), t.id))
    keyword = request.query.get("filter[keyword]", "").strip().lower()
    if keyword:
        teams = [
            t
            for t in teams
            if keyword in t.name.lower()
            or keyword in t.handle.lower()
            or any(keyword in org.users[u].email for u in t.members if u in org.users)
        ]
    if request.query.get("filter[me]") == "true" and org.current_user_id:
        teams = [t for t in teams if org.current_user_id in t.members]
    sort = request.query.get("sort", "name")
    if sort.lstrip("-") == "user_count":
        teams = sorted(teams, key=lambda t: len(t.members))
    if sort.startswith("-"):
        teams = list(reversed(teams))
    fields_raw = request.query.get("fields[team]")
    fields = {f.strip() for f in fields_raw.split(",")} if fields_raw else None
    page, meta, links = _paged(request, teams)
    return reply(
        {"data": [render.team(t, fields=fields, with_link_data=False) for t in page], "meta": meta, "links": links}
    )


def _team_attributes(data: dict[str, Any], *, required: bool) -> dict[str, Any]:
    attributes = data.get("attributes") or {}
    if data.get("type") != "team":
        fail(400, "Invalid input ")
    if required and not (isinstance(attributes.get("name"), str) and isinstance(attributes.get("handle"), str)):
        fail(400, "Team name and handle are required")
    allowed = ("name", "handle", "summary", "description", "avatar", "banner", "visible_modules", "hidden_modules")
    return {k: attributes[k] for k in allowed if k in attributes}


def _check_unique(org: Org, name: str, handle: str, *, exclude: str | None = None) -> None:
    for t in org.teams.values():
        if t.id != exclude and (t.name == name or t.handle == handle):
            fail(409, "Team name and handle must be unique")


@routes.post("/api/v2/team")
async def create_team(request: web.Request) -> web.Response:
    org = org_of(request)
    data = data_of(await body(request))
    attributes = _team_attributes(data, required=True)
    _check_unique(org, attributes["name"], attributes["handle"])
    team = org.add_team(attributes.pop("name"), attributes.pop("handle"), **attributes)
    for ref in ((data.get("relationships") or {}).get("users") or {}).get("data") or []:
        if isinstance(ref, dict) and ref.get("id") in org.users:
            org.add_member(team, str(ref["id"]))
    return reply({"data": render.team(team)}, 201, JSONAPI)


@routes.get("/api/v2/team/{team_id}")
async def get_team(request: web.Request) -> web.Response:
    team = _team(org_of(request), request.match_info["team_id"])
    return reply({"data": render.team(team)})


@routes.patch("/api/v2/team/{team_id}")
async def update_team(request: web.Request) -> web.Response:
    org = org_of(request)
    team = _team(org, request.match_info["team_id"])
    attributes = _team_attributes(data_of(await body(request)), required=True)
    _check_unique(org, attributes["name"], attributes["handle"], exclude=team.id)
    for key, value in attributes.items():
        setattr(team, key, value)
    team.modified_at = org.now()
    return reply({"data": render.team(team)})


@routes.delete("/api/v2/team/{team_id}")
async def delete_team(request: web.Request) -> web.Response:
    org = org_of(request)
    team = _team(org, request.match_info["team_id"])
    del org.teams[team.id]
    return no_content()


@routes.get("/api/v2/team/{team_id}/links")
async def team_links(request: web.Request) -> web.Response:
    team = _team(org_of(request), request.match_info["team_id"])
    return reply({"data": [render.team_link(team, x.id, x.label, x.url, x.position) for x in team.links]})


@routes.post("/api/v2/team/{team_id}/links")
async def add_team_link(request: web.Request) -> web.Response:
    org = org_of(request)
    team = _team(org, request.match_info["team_id"])
    attributes = data_of(await body(request)).get("attributes") or {}
    if not isinstance(attributes.get("label"), str) or not isinstance(attributes.get("url"), str):
        fail(400, "Invalid input ")
    link = TeamLink(org.new_id(), attributes["label"], attributes["url"], len(team.links))
    team.links.append(link)
    return reply({"data": render.team_link(team, link.id, link.label, link.url, link.position)})


@routes.get("/api/v2/team/{team_id}/permission-settings")
async def team_settings(request: web.Request) -> web.Response:
    team = _team(org_of(request), request.match_info["team_id"])
    return reply({"data": [render.team_setting(team, action) for action in render.SETTING_OPTIONS]})


@routes.put("/api/v2/team/{team_id}/permission-settings/{action}")
async def update_team_setting(request: web.Request) -> web.Response:
    team = _team(org_of(request), request.match_info["team_id"])
    action = request.match_info["action"]
    if action not in render.SETTING_OPTIONS:
        fail(404, f"{action} not found")
    value = (data_of(await body(request)).get("attributes") or {}).get("value")
    if value not in render.SETTING_OPTIONS[action][1]:
        fail(400, "Invalid input ")
    team.settings[action] = str(value)
    return reply({"data": render.team_setting(team, action)})


# -- memberships --------------------------------------------------------------------------------------


@routes.get("/api/v2/team/{team_id}/memberships")
async def list_memberships(request: web.Request) -> web.Response:
    org = org_of(request)
    team = _team(org, request.match_info["team_id"])
    memberships = list(team.members.values())
    keyword = request.query.get("filter[keyword]", "").strip().lower()
    if keyword:
        memberships = [
            m
            for m in memberships
            if keyword in org.users[m.user_id].email or keyword in (org.users[m.user_id].name or "").lower()
        ]
    page, meta, links = _paged(request, memberships)
    out: dict[str, Any] = {"data": [render.membership(m) for m in page]}
    if page:
        # A membership whose user the org lacks (a test's broken link) has no user to include, as on-call routes.
        out["included"] = [
            render.member_user(org.users[m.user_id], with_status=False) for m in page if m.user_id in org.users
        ]
    return reply({**out, "meta": meta, "links": links})


def _role_value(attributes: dict[str, Any]) -> str | None:
    role = attributes.get("role")
    if role is not None and role != "admin":
        fail(400, INVALID_ROLE)
    return role


@routes.post("/api/v2/team/{team_id}/memberships")
async def add_membership(request: web.Request) -> web.Response:
    org = org_of(request)
    team = _team(org, request.match_info["team_id"])
    data = data_of(await body(request))
    if data.get("type") != "team_memberships":
        fail(400, "Invalid input ")
    role = _role_value(data.get("attributes") or {})
    user_id = (((data.get("relationships") or {}).get("user") or {}).get("data") or {}).get("id")
    user = org.users.get(str(user_id))
    if user is None:
        fail(404, f"User for ID {user_id} not found")
    if user.id in team.members:
        fail_jsonapi(409, f"users already present on the team [{user.id}]")
    membership = org.add_member(team, user.id, role=role)
    return reply({"data": render.membership(membership), "included": [render.member_user(user)]}, 200, JSONAPI)


@routes.patch("/api/v2/team/{team_id}/memberships/{user_id}")
async def update_membership(request: web.Request) -> web.Response:
    org = org_of(request)
    team = _team(org, request.match_info["team_id"])
    user_id = request.match_info["user_id"]
    data = data_of(await body(request))
    role = _role_value(data.get("attributes") or {})
    membership = team.members.get(user_id)
    if membership is None or user_id not in org.users:
        fail(404, f"User for ID {user_id} not found")
    membership.role = role
    return reply(
        {"data": render.membership(membership), "included": [render.member_user(org.users[user_id], with_status=False)]}
    )


@routes.delete("/api/v2/team/{team_id}/memberships/{user_id}")
async def remove_membership(request: web.Request) -> web.Response:
    org = org_of(request)
    team = _team(org, request.match_info["team_id"])
    user_id = request.match_info["user_id"]
    if team.members.pop(user_id, None) is None:
        fail(404, f"User {user_id} is not a member of Team {team.id} not found")
    return no_content()


@routes.get("/api/v2/users/{user_id}/memberships")
async def user_memberships(request: web.Request) -> web.Response:
    org = org_of(request)
    user_id = request.match_info["user_id"]
    if user_id not in org.users:
        fail(404, f"{user_id} not found")
    data = []
    for team, membership in org.teams_of(user_id):
        item = render.membership(membership)
        item["relationships"]["team"] = {"data": render.ref("team", team.id)}
        data.append(item)
    return reply({"data": data})
