"""JSON shapes of the fake's objects, field for field as recorded from real Datadog responses."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from tests.fakes.datadog.org import (
    AccessToken,
    APIKey,
    AppKey,
    AuthnMapping,
    Invitation,
    Layer,
    Membership,
    Org,
    Permission,
    Policy,
    Role,
    RoutingRule,
    Schedule,
    Shift,
    Team,
    User,
)

Json = dict[str, Any]

LAST_USED_DESCRIPTION = "Timestamp of when this key was last used in the past ninety (90) days, null if no recent usage"


def ts(value: datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") if value is not None else None


def ref(type_: str, id_: str) -> Json:
    return {"type": type_, "id": id_}


def icon(email: str) -> str:
    digest = hashlib.md5(email.encode(), usedforsecurity=False).hexdigest()
    return f"https://secure.gravatar.com/avatar/{digest}?s=48&d=retro"


def user(u: User, org: Org) -> Json:
    return {
        "type": "users",
        "id": u.id,
        "attributes": {
            "uuid": u.id,
            "name": u.name,
            "handle": u.handle,
            "created_at": ts(u.created_at),
            "modified_at": ts(u.modified_at),
            "email": u.email,
            "icon": icon(u.email),
            "title": u.title,
            "verified": u.verified,
            "service_account": u.service_account,
            "disabled": u.disabled,
            "allowed_login_methods": [],
            "status": u.status,
            "last_login_time": ts(u.last_login_time),
        },
        "relationships": {
            "roles": {"data": [ref("roles", r) for r in u.role_ids]},
            "org": {"data": ref("orgs", org.id)},
        },
    }


def member_user(u: User, *, with_status: bool = True) -> Json:
    """The reduced user object Teams endpoints include."""
    attributes: Json = {
        "name": u.name,
        "handle": u.handle,
        "email": u.email,
        "icon": icon(u.email),
        "disabled": u.disabled,
        "service_account": u.service_account,
    }
    if with_status:
        attributes["status"] = u.status
    return {"type": "users", "id": u.id, "attributes": attributes}


def on_call_user(u: User) -> Json:
    """On-Call's user object: lower-case status, `name` is "" rather than null."""
    status = {"Active": "active", "Disabled": "deactivated"}.get(u.status, "pending")
    return {"type": "users", "id": u.id, "attributes": {"email": u.email, "name": u.name or "", "status": status}}


def role(r: Role, org: Org, *, user_count: bool = True) -> Json:
    attributes: Json = {"name": r.name, "created_at": ts(r.created_at), "modified_at": ts(r.modified_at)}
    if user_count:
        attributes["user_count"] = len(org.role_members.get(r.id, {}))
    if r.managed:
        attributes["managed"] = True
    return {
        "type": "roles",
        "id": r.id,
        "attributes": attributes,
        "relationships": {"permissions": {"data": [ref("permissions", p) for p in r.permission_ids]}},
    }


def permission(p: Permission) -> Json:
    return {
        "type": "permissions",
        "id": p.id,
        "attributes": {
            "name": p.name,
            "display_name": p.display_name,
            "description": p.description,
            "created": ts(p.created),
            "group_name": p.group_name,
            "display_type": p.display_type,
            "restricted": p.restricted,
            "name_aliases": [],
        },
    }


def roles_included(users: list[User], org: Org) -> list[Json]:
    """`included` of a users list: the roles on the page, then their permissions."""
    role_ids = dict.fromkeys(rid for u in users for rid in u.role_ids)
    roles = [org.roles[rid] for rid in role_ids if rid in org.roles]
    perm_ids = dict.fromkeys(pid for r in roles for pid in r.permission_ids)
    return [role(r, org, user_count=False) for r in roles] + [
        permission(org.permissions[p]) for p in perm_ids if p in org.permissions
    ]


def team(t: Team, *, fields: set[str] | None = None, with_link_data: bool = True) -> Json:
    values: Json = {
        "name": t.name,
        "handle": t.handle,
        "summary": t.summary,
        "description": t.description,
        "avatar": t.avatar,
        "banner": t.banner,
        "visible_modules": t.visible_modules,
        "hidden_modules": t.hidden_modules,
        "created_at": ts(t.created_at),
        "modified_at": ts(t.modified_at),
        "user_count": len(t.members),
        "link_count": len(t.links),
        "is_managed": t.is_managed,
    }
    links = {"links": {"related": f"/api/v2/team/{t.id}/links"}}
    if with_link_data:
        links["data"] = [ref("team_links", link.id) for link in t.links]  # type: ignore[assignment]
    relationships: Json = {
        "team_links": links,
        "user_team_permissions": {"data": None, "links": {"related": f"/api/v2/team/{t.id}/permission-settings"}},
    }
    out: Json = {"type": "team", "id": t.id}
    if fields is None:
        out["attributes"] = values
        out["relationships"] = relationships
        return out
    out["attributes"] = {k: v for k, v in values.items() if k in fields}
    rels = {k: v for k, v in relationships.items() if k in fields}
    if rels:
        out["relationships"] = rels
    return out


def team_link(t: Team, link_id: str, label: str, url: str, position: int) -> Json:
    return {
        "type": "team_links",
        "id": link_id,
        "attributes": {"label": label, "url": url, "position": position, "team_id": t.id},
    }


def membership(m: Membership) -> Json:
    return {
        "type": "team_memberships",
        "id": m.id,
        "attributes": {"role": m.role, "provisioned_by": m.provisioned_by, "provisioned_by_id": m.provisioned_by_id},
        "relationships": {"user": {"data": ref("users", m.user_id)}},
    }


SETTING_OPTIONS = {
    "manage_membership": ("Add and Remove Members", ["user_access_manage", "admins", "members", "organization"]),
    "edit": ("Edit Team Details", ["teams_manage", "admins", "members"]),
}


def team_setting(t: Team, action: str) -> Json:
    title, options = SETTING_OPTIONS[action]
    return {
        "type": "team_permission_settings",
        "id": f"TeamPermission-{t.id}-{action}",
        "attributes": {
            "action": action,
            "value": t.settings[action],
            "title": title,
            "editable": True,
            "options": options,
        },
    }


def team_reference(t: Team) -> Json:
    return {
        "type": "teams",
        "id": t.id,
        "attributes": {
            "avatar": t.avatar or "",
            "description": t.description or "",
            "handle": t.handle,
            "name": t.name,
        },
    }


def schedule(s: Schedule, *, with_layers: bool = True) -> Json:
    relationships: Json = {"teams": {"data": [ref("teams", t) for t in s.team_ids]}}
    if with_layers:
        relationships = {"layers": {"data": [ref("layers", layer.id) for layer in s.layers]}, **relationships}
    return {
        "id": s.id,
        "type": "schedules",
        "attributes": {"name": s.name, "tags": list(s.tags), "time_zone": s.time_zone},
        "relationships": relationships,
    }


def layer(layer_: Layer) -> Json:
    return {
        "id": layer_.id,
        "type": "layers",
        "attributes": {
            "name": layer_.name,
            "effective_date": ts(layer_.effective_date),
            "end_date": ts(layer_.end_date),
            "rotation_start": ts(layer_.rotation_start),
            "interval": layer_.interval_raw or {"seconds": int(layer_.interval.total_seconds())},
            "restrictions": layer_.restrictions,
        },
        "relationships": {
            "members": {"data": [ref("members", f"{layer_.id}-{i}") for i in range(len(layer_.members))]}
        },
    }


def layer_member(layer_: Layer, index: int) -> Json:
    return {
        "id": f"{layer_.id}-{index}",
        "type": "members",
        "relationships": {"user": {"data": ref("users", layer_.members[index])}},
    }


def shift_id(s: Shift) -> str:
    return f"{s.user_id}-{s.start.isoformat(timespec='seconds')}-{s.end.isoformat(timespec='seconds')}"


def shift(s: Shift) -> Json:
    return {
        "id": shift_id(s),
        "type": "shifts",
        "attributes": {"end": ts(s.end), "start": ts(s.start)},
        "relationships": {"user": {"data": ref("users", s.user_id)}},
    }


def policy(p: Policy) -> Json:
    return {
        "id": p.id,
        "type": "policies",
        "attributes": {
            "name": p.name,
            "resolve_page_on_policy_end": p.resolve_page_on_policy_end,
            "retries": p.retries,
            "tags": [],
        },
        "relationships": {
            "steps": {"data": [ref("steps", s.id) for s in p.steps]},
            "teams": {"data": [ref("teams", t) for t in p.team_ids]},
        },
    }


def target_ref(target: dict[str, str]) -> Json:
    if target.get("position"):
        return ref("schedule_target", f"{target['id']}_{target['position']}")
    return ref(target["type"], target["id"])


def routing_rule(rule: RoutingRule) -> Json:
    attributes: Json = {"actions": rule.actions, "query": rule.query, "urgency": rule.urgency}
    if rule.time_restriction is not None:
        attributes["time_restriction"] = rule.time_restriction
    out: Json = {"id": rule.id, "type": "team_routing_rules", "attributes": attributes}
    policy_id = next((a.get("policy_id") for a in rule.actions if a.get("policy_id")), None)
    if policy_id:
        out["relationships"] = {"policy": {"data": ref("policies", policy_id)}}
    return out


def api_key(k: APIKey, *, with_key: bool) -> Json:
    attributes: Json = {
        "created_at": ts(k.created_at),
        "last4": k.key[-4:],
        "modified_at": ts(k.modified_at),
        "remote_config_read_enabled": k.remote_config_read_enabled,
        "category": k.category,
        "name": k.name,
        "date_last_used": ts(k.date_last_used),
        "used_in_last_24_hours": False,
        "last_used_date": {"timestamp": ts(k.date_last_used), "description": LAST_USED_DESCRIPTION},
    }
    if with_key:
        attributes["key"] = k.key
    by = {"data": ref("users", k.created_by) if k.created_by else None}
    return {
        "type": "api_keys",
        "id": k.id,
        "attributes": attributes,
        "relationships": {"created_by": by, "modified_by": by, "leak_information": {"data": None}},
    }


def app_key(k: AppKey, *, with_key: bool = False, with_owner: bool = True) -> Json:
    attributes: Json = {
        "name": k.name,
        "created_at": ts(k.created_at),
        "last4": k.key[-4:],
        "scopes": k.scopes,
        "last_used_at": ts(k.last_used_at),
    }
    if with_key:
        attributes["key"] = k.key
    relationships: Json = {"leak_information": {"data": None}}
    if with_owner:
        relationships = {"owned_by": {"data": ref("users", k.owner_id)}, **relationships}
    return {"type": "application_keys", "id": k.id, "attributes": attributes, "relationships": relationships}


def access_token(t: AccessToken, *, with_key: bool = False) -> Json:
    attributes: Json = {
        "created_at": ts(t.created_at),
        "expires_at": ts(t.expires_at),
        "name": t.name,
        "public_portion": t.public_portion,
        "scopes": t.scopes,
    }
    if with_key:
        attributes["key"] = t.key
    else:
        attributes["last_used_at"] = ts(t.last_used_at)
    owner_type = "users" if t.personal else "service_account"
    return {
        "id": t.id,
        "type": "personal_access_tokens" if t.personal else "service_access_tokens",
        "attributes": attributes,
        "relationships": {"owned_by": {"data": ref(owner_type, t.owner_id)}},
    }


def invitation(i: Invitation) -> Json:
    return {
        "type": "user_invitations",
        "id": i.id,
        "attributes": {
            "uuid": i.id,
            "login_method": None,
            "invite_type": i.invite_type,
            "created_at": ts(i.created_at),
            "expires_at": ts(i.expires_at),
        },
        "relationships": {"user": {"data": ref("users", i.user_id)}},
    }


def authn_mapping(m: AuthnMapping) -> Json:
    return {
        "type": "authn_mappings",
        "id": m.id,
        "attributes": {
            "attribute_key": m.attribute_key,
            "attribute_value": m.attribute_value,
            "created_at": ts(m.created_at),
            "modified_at": ts(m.modified_at),
        },
        "relationships": {"role": {"data": ref("roles", m.role_id)}},
    }
