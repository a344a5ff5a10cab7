"""On-Call: schedules, who is on call, escalation policies, team routing rules."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from aiohttp import web

from tests.fakes.datadog import render
from tests.fakes.datadog.org import Org, Policy, RoutingRule, Schedule, Shift, Step, parse_time
from tests.fakes.datadog.web import (
    JSONAPI,
    body,
    data_of,
    fail_jsonapi,
    includes,
    no_content,
    org_of,
    page_args,
    reply,
    state,
    window,
)

routes = web.RouteTableDef()
POSITIONS = {"previous": -1, "current": 0, "next": 1}


def _schedule(org: Org, schedule_id: str) -> Schedule:
    found = org.schedules.get(schedule_id)
    if found is None:
        fail_jsonapi(404, f"schedule[{schedule_id}] not found", title="Generic Error", with_status=False)
    return found


def _at(request: web.Request, org: Org) -> datetime:
    raw = request.query.get("filter[at_ts]")
    if raw is None:
        return org.now()
    parsed = parse_time(raw)
    if parsed is None:
        fail_jsonapi(400, "filter[at_ts] must be an RFC3339 timestamp")
    return parsed


def _team_ids(data: dict[str, Any]) -> list[str]:
    refs = ((data.get("relationships") or {}).get("teams") or {}).get("data") or []
    return [str(r["id"]) for r in refs if isinstance(r, dict) and r.get("id")]


def _schedule_response(org: Org, schedule: Schedule, wanted: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"data": render.schedule(schedule)}
    included: list[dict[str, Any]] = []
    if "teams" in wanted:
        included += [render.team_reference(org.teams[t]) for t in schedule.team_ids if t in org.teams]
    if wanted & {"layers", "layers.members", "layers.members.user"}:
        included += [render.layer(layer) for layer in schedule.layers]
    if wanted & {"layers.members", "layers.members.user"}:
        included += [render.layer_member(layer, i) for layer in schedule.layers for i in range(len(layer.members))]
    if "layers.members.user" in wanted:
        users = dict.fromkeys(u for layer in schedule.layers for u in layer.members)
        included += [render.on_call_user(org.users[u]) for u in users if u in org.users]
    if included:
        out["included"] = included
    return out


def _apply_schedule(org: Org, schedule: Schedule, data: dict[str, Any]) -> None:
    attributes = data.get("attributes") or {}
    if data.get("type") != "schedules" or not isinstance(attributes.get("name"), str):
        fail_jsonapi(400, "invalid schedule")
    layers = attributes.get("layers")
    if not isinstance(layers, list) or not layers:
        fail_jsonapi(400, "a schedule needs at least one layer")
    existing = {layer.id for layer in schedule.layers}
    schedule.name = attributes["name"]
    schedule.time_zone = str(attributes.get("time_zone") or "UTC")
    schedule.tags = [str(t) for t in attributes.get("tags") or []]
    schedule.layers = [
        org.layer_from_json(raw, default_id=raw.get("id") if raw.get("id") in existing else None)
        for raw in layers
        if isinstance(raw, dict)
    ]
    schedule.team_ids = _team_ids(data)


@routes.get("/api/v2/on-call/schedules")
async def list_schedules(request: web.Request) -> web.Response:
    org = org_of(request)
    size, number = page_args(request, 10, cap=state(request).schedules_page_cap)
    schedules = sorted(org.schedules.values(), key=lambda s: (s.name.lower(), s.id))
    query = request.query.get("filter[query]", "").strip()
    if query.startswith("team.id:"):
        schedules = [s for s in schedules if query[8:] in s.team_ids]
    elif query.startswith("user.id:"):
        schedules = [s for s in schedules if any(query[8:] in layer.members for layer in s.layers)]
    elif query:
        schedules = [s for s in schedules if query.lower().strip("*") in s.name.lower()]
    page = list(window(schedules, size, number))
    last = max(0, math.ceil(len(schedules) / size) - 1)
    out: dict[str, Any] = {
        "data": [render.schedule(s, with_layers=False) for s in page],
        "meta": {
            "page": {
                "type": "number_size",
                "number": number,
                "size": size,
                "total": len(schedules),
                "first_number": 0,
                "prev_number": number - 1 if number > 0 else None,
                "next_number": number + 1 if number < last else None,
                "last_number": last,
            }
        },
    }
    if "teams" in includes(request):
        team_ids = dict.fromkeys(t for s in page for t in s.team_ids)
        out["included"] = [render.team_reference(org.teams[t]) for t in team_ids if t in org.teams]
    return reply(out, content_type=JSONAPI)


@routes.post("/api/v2/on-call/schedules")
async def create_schedule(request: web.Request) -> web.Response:
    org = org_of(request)
    schedule = Schedule(id=org.new_id(), name="", time_zone="UTC", layers=[])
    _apply_schedule(org, schedule, data_of(await body(request)))
    org.schedules[schedule.id] = schedule
    return reply(_schedule_response(org, schedule, includes(request)), 201, JSONAPI)


@routes.get("/api/v2/on-call/schedules/{schedule_id}")
async def get_schedule(request: web.Request) -> web.Response:
    org = org_of(request)
    schedule = _schedule(org, request.match_info["schedule_id"])
    return reply(_schedule_response(org, schedule, includes(request)), content_type=JSONAPI)


@routes.put("/api/v2/on-call/schedules/{schedule_id}")
async def update_schedule(request: web.Request) -> web.Response:
    org = org_of(request)
    schedule = _schedule(org, request.match_info["schedule_id"])
    data = data_of(await body(request))
    if data.get("id") not in (None, schedule.id):
        fail_jsonapi(400, "schedule id mismatch")
    _apply_schedule(org, schedule, data)
    return reply(_schedule_response(org, schedule, includes(request)), content_type=JSONAPI)


@routes.delete("/api/v2/on-call/schedules/{schedule_id}")
async def delete_schedule(request: web.Request) -> web.Response:
    org = org_of(request)
    schedule = _schedule(org, request.match_info["schedule_id"])
    del org.schedules[schedule.id]
    return no_content()


@routes.get("/api/v2/on-call/schedules/{schedule_id}/on-call")
async def schedule_on_call(request: web.Request) -> web.Response:
    """Deprecated single-user endpoint: the first layer's shift only."""
    org = org_of(request)
    schedule = _schedule(org, request.match_info["schedule_id"])
    shifts = org.shifts(schedule, _at(request, org))
    if not shifts:
        return reply({"data": None}, content_type=JSONAPI)
    out: dict[str, Any] = {"data": render.shift(shifts[0])}
    if "user" in includes(request) and shifts[0].user_id in org.users:
        out["included"] = [render.on_call_user(org.users[shifts[0].user_id])]
    return reply(out, content_type=JSONAPI)


@routes.get("/api/v2/on-call/schedules/{schedule_id}/responders")
async def schedule_responders(request: web.Request) -> web.Response:
    org = org_of(request)
    schedule = _schedule(org, request.match_info["schedule_id"])
    at = _at(request, org)
    wanted = includes(request)
    positions = [p.strip() for p in request.query.get("filter[position]", "current").split(",") if p.strip()]
    if any(p not in POSITIONS for p in positions):
        fail_jsonapi(400, "filter[position] must be previous, current or next")
    data_id = f"{schedule.id}-{int(at.timestamp())}"
    groups: list[dict[str, Any]] = []
    shifts: list[Shift] = []
    for position in positions:
        found = org.shifts(schedule, at, POSITIONS[position])
        shifts += found
        groups.append(
            {
                "id": f"{data_id}-{position}",
                "type": "schedule_oncall_responder",
                "attributes": {"position": position},
                "relationships": {"shifts": {"data": [render.ref("shifts", render.shift_id(s)) for s in found]}},
            }
        )
    out: dict[str, Any] = {
        "data": {
            "id": data_id,
            "type": "schedule_oncall_responders",
            "attributes": {"scheduled_at": render.ts(at)},
            "relationships": {
                "responders": {"data": [render.ref("schedule_oncall_responder", g["id"]) for g in groups]},
                "schedule": {"data": render.ref("schedules", schedule.id)},
            },
        }
    }
    included: list[dict[str, Any]] = []
    if "schedule" in wanted:
        included.append(render.schedule(schedule))
    if wanted & {"responders", "responders.shifts", "responders.shifts.user"}:
        included += groups
    if wanted & {"responders.shifts", "responders.shifts.user"}:
        included += [render.shift(s) for s in shifts]
    if "responders.shifts.user" in wanted:
        users = dict.fromkeys(s.user_id for s in shifts)
        included += [render.on_call_user(org.users[u]) for u in users if u in org.users]
    if included:
        out["included"] = included
    return reply(out, content_type=JSONAPI)


# -- escalation policies ------------------------------------------------------------------------------


def _policy(org: Org, policy_id: str) -> Policy:
    found = org.policies.get(policy_id)
    if found is None:
        fail_jsonapi(404, f"escalation_policy[{policy_id}] not found", title="Generic Error", with_status=False)
    return found


def _steps(org: Org, raw_steps: Any, existing: list[Step]) -> list[Step]:
    if not isinstance(raw_steps, list) or not raw_steps:
        fail_jsonapi(400, "an escalation policy needs at least one step")
    known = {s.id for s in existing}
    steps = []
    for raw in raw_steps:
        targets = []
        for t in raw.get("targets") or []:
            if not isinstance(t, dict) or t.get("type") not in ("users", "schedules", "teams") or not t.get("id"):
                fail_jsonapi(400, "invalid escalation target")
            target = {"type": str(t["type"]), "id": str(t["id"])}
            position = ((t.get("config") or {}).get("schedule") or {}).get("position")
            if position:
                target["position"] = str(position)
            targets.append(target)
        step_id = raw.get("id") if raw.get("id") in known else org.new_id()
        steps.append(
            Step(
                str(step_id),
                str(raw.get("assignment") or "default"),
                int(raw.get("escalate_after_seconds") or 0),
                targets,
            )
        )
    return steps


def _policy_response(org: Org, p: Policy, wanted: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"data": render.policy(p)}
    included: list[dict[str, Any]] = []
    if wanted & {"steps", "steps.targets"}:
        for step in p.steps:
            included.append(
                {
                    "id": step.id,
                    "type": "steps",
                    "attributes": {
                        "assignment": step.assignment,
                        "escalate_after_seconds": step.escalate_after_seconds,
                    },
                    "relationships": {"targets": {"data": [render.target_ref(t) for t in step.targets]}},
                }
            )
    if "steps.targets" in wanted:
        seen: set[tuple[str, str]] = set()
        for step in p.steps:
            for t in step.targets:
                key = (t["type"], t["id"] + t.get("position", ""))
                if key in seen:
                    continue
                seen.add(key)
                if t.get("position"):
                    included.append(
                        {
                            "id": f"{t['id']}_{t['position']}",
                            "type": "schedule_target",
                            "attributes": {"position": t["position"]},
                            "relationships": {"schedule": {"data": render.ref("schedules", t["id"])}},
                        }
                    )
                elif t["type"] == "teams" and t["id"] in org.teams:
                    included.append(render.team_reference(org.teams[t["id"]]))
                elif t["type"] == "schedules" and t["id"] in org.schedules:
                    included.append(render.schedule(org.schedules[t["id"]]))
                elif t["type"] == "users" and t["id"] in org.users:
                    included.append(render.on_call_user(org.users[t["id"]]))
    if "teams" in wanted:
        included += [render.team_reference(org.teams[t]) for t in p.team_ids if t in org.teams]
    if included:
        out["included"] = included
    return out


def _apply_policy(org: Org, p: Policy, data: dict[str, Any]) -> None:
    attributes = data.get("attributes") or {}
    if data.get("type") != "policies" or not isinstance(attributes.get("name"), str):
        fail_jsonapi(400, "invalid escalation policy")
    p.name = attributes["name"]
    p.resolve_page_on_policy_end = bool(attributes.get("resolve_page_on_policy_end", False))
    p.retries = int(attributes.get("retries") or 0)
    p.steps = _steps(org, attributes.get("steps"), p.steps)
    p.team_ids = _team_ids(data)


@routes.post("/api/v2/on-call/escalation-policies")
async def create_policy(request: web.Request) -> web.Response:
    org = org_of(request)
    p = Policy(org.new_id(), "", False, 0, [])
    _apply_policy(org, p, data_of(await body(request)))
    org.policies[p.id] = p
    return reply(_policy_response(org, p, includes(request)), 201, JSONAPI)


@routes.get("/api/v2/on-call/escalation-policies/{policy_id}")
async def get_policy(request: web.Request) -> web.Response:
    org = org_of(request)
    p = _policy(org, request.match_info["policy_id"])
    return reply(_policy_response(org, p, includes(request)), content_type=JSONAPI)


@routes.put("/api/v2/on-call/escalation-policies/{policy_id}")
async def update_policy(request: web.Request) -> web.Response:
    org = org_of(request)
    p = _policy(org, request.match_info["policy_id"])
    _apply_policy(org, p, data_of(await body(request)))
    return reply(_policy_response(org, p, includes(request)), content_type=JSONAPI)


@routes.delete("/api/v2/on-call/escalation-policies/{policy_id}")
async def delete_policy(request: web.Request) -> web.Response:
    org = org_of(request)
    p = _policy(org, request.match_info["policy_id"])
    del org.policies[p.id]
    return no_content()


# -- team routing rules and team on-call -------------------------------------------------------------


def _rules_response(org: Org, team_id: str, wanted: set[str]) -> dict[str, Any]:
    rules = org.routing_rules.get(team_id, [])
    out: dict[str, Any] = {
        "data": {
            "id": team_id,
            "type": "team_routing_rules",
            "relationships": {"rules": {"data": [render.ref("team_routing_rules", r.id) for r in rules]}},
        }
    }
    if wanted & {"rules", "rules.policy"} and rules:
        out["included"] = [render.routing_rule(r) for r in rules]
    return out


@routes.put("/api/v2/on-call/teams/{team_id}/routing-rules")
async def set_routing_rules(request: web.Request) -> web.Response:
    org = org_of(request)
    team_id = request.match_info["team_id"]
    data = data_of(await body(request))
    if data.get("type") != "team_routing_rules":
        fail_jsonapi(400, "invalid routing rules")
    rules = []
    for raw in (data.get("attributes") or {}).get("rules") or []:
        actions = [dict(a) for a in raw.get("actions") or [] if isinstance(a, dict)]
        # The legacy form puts policy_id/urgency on the rule; Datadog answers with an action.
        if raw.get("policy_id"):
            actions.insert(
                0, {"type": "escalation_policy", "policy_id": raw["policy_id"], "urgency": raw.get("urgency")}
            )
        urgency = raw.get("urgency") or next((a.get("urgency") for a in actions if a.get("urgency")), None)
        rules.append(
            RoutingRule(org.new_id(), str(raw.get("query") or ""), urgency, actions, raw.get("time_restriction"))
        )
    org.routing_rules[team_id] = rules
    return reply(_rules_response(org, team_id, includes(request)), content_type=JSONAPI)


@routes.get("/api/v2/on-call/teams/{team_id}/routing-rules")
async def get_routing_rules(request: web.Request) -> web.Response:
    org = org_of(request)
    return reply(_rules_response(org, request.match_info["team_id"], includes(request)), content_type=JSONAPI)


@routes.get("/api/v2/on-call/teams/{team_id}/on-call")
async def team_on_call(request: web.Request) -> web.Response:
    """Responders of the team's first routed policy step: direct users plus on-call schedule members."""
    org = org_of(request)
    team_id = request.match_info["team_id"]
    at = _at(request, org)
    responders: dict[str, None] = {}
    for rule in org.routing_rules.get(team_id, []):
        for action in rule.actions:
            p = org.policies.get(str(action.get("policy_id")))
            if p is None or not p.steps:
                continue
            for t in p.steps[0].targets:
                if t["type"] == "users":
                    responders.setdefault(t["id"], None)
                elif t["type"] == "schedules" and not t.get("position") and t["id"] in org.schedules:
                    for s in org.shifts(org.schedules[t["id"]], at):
                        responders.setdefault(s.user_id, None)
    out: dict[str, Any] = {
        "data": {
            "id": f"{team_id}-{int(at.timestamp())}",
            "type": "team_oncall_responders",
            "relationships": {
                "escalations": {"data": []},
                "responders": {"data": [render.ref("users", u) for u in responders]},
            },
        }
    }
    if "responders" in includes(request):
        out["included"] = [render.on_call_user(org.users[u]) for u in responders if u in org.users]
    return reply(out, content_type=JSONAPI)
