"""Users, roles, permissions, invitations, AuthN mappings, validation and the legacy v1 user API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from tests.fakes.datadog import render
from tests.fakes.datadog.org import AuthnMapping, Invitation, Org, Role, User
from tests.fakes.datadog.web import (
    JSONAPI,
    body,
    data_of,
    fail,
    no_content,
    org_of,
    page_args,
    reply,
    state,
    window,
)

routes = web.RouteTableDef()


def _user(org: Org, user_id: str) -> User:
    found = org.users.get(user_id)
    if found is None:
        fail(404, f"{user_id} not found")
    return found


def _role(org: Org, role_id: str) -> Role:
    found = org.roles.get(role_id)
    if found is None:
        fail(404, f"{role_id} not found")
    return found


def _matches(user: User, needle: str) -> bool:
    return needle in user.email or needle in (user.name or "").lower() or needle in user.handle


def _users_page(request: web.Request, users: list[User], total: int) -> web.Response:
    org = org_of(request)
    size, number = page_args(request, 10)
    page = list(window(users, size, number))
    out: dict[str, Any] = {"meta": {"page": {"total_count": total, "total_filtered_count": len(users)}}}
    out["data"] = [render.user(u, org) for u in page]
    # Datadog includes the page's roles and their permissions without being asked.
    out["included"] = render.roles_included(page, org)
    return reply(out)


# -- users ------------------------------------------------------------------------------------------


@routes.get("/api/v2/users")
async def list_users(request: web.Request) -> web.Response:
    org = org_of(request)
    users = org.sorted_users()
    needle = request.query.get("filter", "").strip().lower()
    statuses = {s.strip().lower() for v in request.query.getall("filter[status]", []) for s in v.split(",") if s}
    if needle or statuses:
        users = [
            u for u in users if (not needle or _matches(u, needle)) and (not statuses or u.status.lower() in statuses)
        ]
    sort = request.query.get("sort", "name")
    if sort.lstrip("-") == "modified_at":
        users = sorted(users, key=lambda u: u.modified_at)
    if sort.startswith("-") or request.query.get("sort_dir") == "desc":
        users = list(reversed(users))
    return _users_page(request, users, len(org.users))


@routes.post("/api/v2/users")
async def create_user(request: web.Request) -> web.Response:
    return await _create_user(request, service_account=False)


@routes.post("/api/v2/service_accounts")
async def create_service_account(request: web.Request) -> web.Response:
    return await _create_user(request, service_account=True)


async def _create_user(request: web.Request, *, service_account: bool) -> web.Response:
    org = org_of(request)
    data = data_of(await body(request))
    attributes = data.get("attributes") or {}
    email = attributes.get("email")
    if data.get("type") != "users" or not isinstance(email, str) or "@" not in email:
        fail(400, "Invalid input ")
    if service_account and attributes.get("service_account") is not True:
        fail(400, "service_account must be true")
    if org.user_by_email(email) is not None:
        fail(409, "User with this email already exists")
    role_ids = [r.get("id") for r in ((data.get("relationships") or {}).get("roles") or {}).get("data") or []]
    for rid in role_ids:
        _role(org, str(rid))
    user = org.add_user(
        email,
        name=attributes.get("name"),
        title=attributes.get("title"),
        status="Active" if service_account else "Pending",
        service_account=service_account,
        role_ids=[str(r) for r in role_ids],
    )
    out: dict[str, Any] = {"data": render.user(user, org)}
    if role_ids:
        out["included"] = render.roles_included([user], org)
    return reply(out, 201)


@routes.get("/api/v2/users/{user_id}")
async def get_user(request: web.Request) -> web.Response:
    org = org_of(request)
    return reply({"data": render.user(_user(org, request.match_info["user_id"]), org)})


@routes.patch("/api/v2/users/{user_id}")
async def update_user(request: web.Request) -> web.Response:
    org = org_of(request)
    user_id = request.match_info["user_id"]
    data = data_of(await body(request))
    user = _user(org, user_id)
    if data.get("id") != user_id:
        fail(422, "UUID's in the URL and request body do not match")
    attributes = data.get("attributes") or {}
    changes = {k: attributes[k] for k in ("name", "email", "title", "disabled") if k in attributes}
    if "disabled" in changes and not isinstance(changes["disabled"], bool):
        fail(400, "Invalid input ")
    org.update_user(user, **changes)
    return reply({"data": render.user(user, org)})


@routes.delete("/api/v2/users/{user_id}")
async def disable_user(request: web.Request) -> web.Response:
    org = org_of(request)
    user_id = request.match_info["user_id"]
    user = org.users.get(user_id)
    # Disabling is a soft delete; a second DELETE answers as if the user were gone.
    if user is None or user.disabled:
        fail(404, f"{user_id} not found")
    org.update_user(user, disabled=True)
    return no_content()


@routes.get("/api/v2/users/{user_id}/permissions")
async def user_permissions(request: web.Request) -> web.Response:
    org = org_of(request)
    user = _user(org, request.match_info["user_id"])
    seen: dict[str, None] = {}
    for rid in user.role_ids:
        for pid in org.roles[rid].permission_ids:
            seen.setdefault(pid, None)
    return reply({"data": [render.permission(org.permissions[p]) for p in seen if p in org.permissions]})


@routes.get("/api/v2/users/{user_id}/orgs")
async def user_orgs(request: web.Request) -> web.Response:
    org = org_of(request)
    user = _user(org, request.match_info["user_id"])
    included = {
        "type": "orgs",
        "id": org.id,
        "attributes": {
            "name": org.name,
            "public_id": org.id[:12],
            "description": None,
            "sharing": "Disabled",
            "url": "https://app.datadoghq.com",
            "disabled": False,
            "created_at": render.ts(user.created_at),
            "modified_at": render.ts(user.created_at),
        },
    }
    return reply({"data": render.user(user, org), "included": [included]})


@routes.get("/api/v2/current_user")
async def current_user(request: web.Request) -> web.Response:
    org = org_of(request)
    if org.current_user_id is None:
        fail(404, "current user not found")
    user = org.users[org.current_user_id]
    return reply({"data": render.user(user, org), "included": render.roles_included([user], org)})


# -- invitations ----------------------------------------------------------------------------------


@routes.post("/api/v2/user_invitations")
async def send_invitations(request: web.Request) -> web.Response:
    org = org_of(request)
    items = (await body(request)).get("data")
    if not isinstance(items, list) or not items:
        fail(400, "Invalid input ")
    created = []
    for item in items:
        uid = (((item or {}).get("relationships") or {}).get("user") or {}).get("data", {}).get("id")
        user = _user(org, str(uid))
        now = org.now()
        invitation = Invitation(org.new_id(), user.id, now, now + timedelta(hours=48))
        org.invitations[invitation.id] = invitation
        created.append(render.invitation(invitation))
    return reply({"data": created}, 201)


@routes.get("/api/v2/user_invitations/{invitation_id}")
async def get_invitation(request: web.Request) -> web.Response:
    found = org_of(request).invitations.get(request.match_info["invitation_id"])
    if found is None:
        fail(404, "Invitation not found")
    return reply({"data": render.invitation(found)})


@routes.delete("/api/v2/users/{user_id}/invitations")
async def cancel_invitations(request: web.Request) -> web.Response:
    org = org_of(request)
    user = _user(org, request.match_info["user_id"])
    for key in [k for k, v in org.invitations.items() if v.user_id == user.id]:
        del org.invitations[key]
    return no_content()


# -- roles ------------------------------------------------------------------------------------------


@routes.get("/api/v2/roles")
async def list_roles(request: web.Request) -> web.Response:
    org = org_of(request)
    size, number = page_args(request, 10)
    roles = sorted(org.roles.values(), key=lambda r: (r.name.lower(), r.id))
    needle = request.query.get("filter", "").strip().lower()
    if needle:
        roles = [r for r in roles if needle in r.name.lower()]
    ids = {i for v in request.query.getall("filter[id]", []) for i in v.split(",") if i}
    if ids:
        roles = [r for r in roles if r.id in ids]
    sort = request.query.get("sort", "name")
    if sort.lstrip("-") == "user_count":
        roles = sorted(roles, key=lambda r: len(org.role_members.get(r.id, {})))
    if sort.startswith("-"):
        roles = list(reversed(roles))
    page = window(roles, size, number)
    return reply(
        {
            "meta": {"page": {"total_filtered_count": len(roles), "total_count": len(org.roles)}},
            "data": [render.role(r, org) for r in page],
        }
    )


def _role_name(data: dict[str, Any]) -> str:
    name = (data.get("attributes") or {}).get("name")
    if not isinstance(name, str) or not name:
        fail(400, "Invalid input ")
    if not name.strip():
        fail(400, "Role names cannot be only whitespace")
    if data.get("type") != "roles":
        fail(400, "Invalid input ")
    return name


def _permission_ids(org: Org, data: dict[str, Any]) -> list[str] | None:
    rel = (data.get("relationships") or {}).get("permissions")
    if not isinstance(rel, dict):
        return None
    ids = [str(p.get("id")) for p in rel.get("data") or [] if isinstance(p, dict)]
    if any(i not in org.permissions for i in ids):
        fail(400, "Invalid input ")
    return ids


@routes.post("/api/v2/roles")
async def create_role(request: web.Request) -> web.Response:
    org = org_of(request)
    data = data_of(await body(request))
    name = _role_name(data)
    if org.role_by_name(name) is not None:
        fail(409, "A role with the same name already exists")
    perms = _permission_ids(org, data)
    role = org.add_role(name, permission_ids=perms)
    # POST /roles answers 200, not 201.
    return reply({"data": render.role(role, org)})


@routes.get("/api/v2/roles/{role_id}")
async def get_role(request: web.Request) -> web.Response:
    org = org_of(request)
    return reply({"data": render.role(_role(org, request.match_info["role_id"]), org)})


@routes.patch("/api/v2/roles/{role_id}")
async def update_role(request: web.Request) -> web.Response:
    org = org_of(request)
    role_id = request.match_info["role_id"]
    data = data_of(await body(request))
    role = _role(org, role_id)
    if data.get("id") != role_id:
        fail(422, "The id attribute in the request body does not match the role_id in the URL")
    perms = _permission_ids(org, data)
    name = (data.get("attributes") or {}).get("name")
    if isinstance(name, str) and name.strip():
        role.name = name
    if perms is not None:
        role.permission_ids = list(dict.fromkeys(role.permission_ids + perms))
    role.modified_at = org.now()
    return reply({"data": render.role(role, org)})


@routes.delete("/api/v2/roles/{role_id}")
async def delete_role(request: web.Request) -> web.Response:
    org = org_of(request)
    _role(org, request.match_info["role_id"])
    org.delete_role(request.match_info["role_id"])
    return no_content()


@routes.post("/api/v2/roles/{role_id}/clone")
async def clone_role(request: web.Request) -> web.Response:
    org = org_of(request)
    source = _role(org, request.match_info["role_id"])
    name = _role_name(data_of(await body(request)))
    if org.role_by_name(name) is not None:
        fail(409, "A role with the same name already exists")
    role = org.add_role(name, permission_ids=list(source.permission_ids))
    return reply({"data": render.role(role, org)})


@routes.get("/api/v2/roles/{role_id}/users")
async def role_users(request: web.Request) -> web.Response:
    org = org_of(request)
    role = _role(org, request.match_info["role_id"])
    users = org.role_users_sorted(role.id)
    needle = request.query.get("filter", "").strip().lower()
    if needle:
        users = [u for u in users if _matches(u, needle)]
    size, number = page_args(request, 10)
    return reply(
        {
            "included": [render.role(role, org, user_count=False)],
            "meta": {"page": {"total_filtered_count": len(users), "total_count": len(org.role_members[role.id])}},
            "data": [render.user(u, org) for u in window(users, size, number)],
        }
    )


async def _role_user_change(request: web.Request, *, add: bool) -> web.Response:
    org = org_of(request)
    role = _role(org, request.match_info["role_id"])
    data = data_of(await body(request))
    user_id = data.get("id")
    if data.get("type") != "users" or not isinstance(user_id, str):
        fail(400, "Invalid input ")
    _user(org, user_id)
    if add:
        # Granting a role the user already has changes nothing and is not an error.
        org.assign_role(user_id, role.id)
    elif not org.unassign_role(user_id, role.id):
        fail(404, f"User {user_id} is not a member of role {role.id}")
    users = org.role_users_sorted(role.id)
    return reply({"meta": {"page": {"total_count": len(users)}}, "data": [render.user(u, org) for u in users[:100]]})


@routes.post("/api/v2/roles/{role_id}/users")
async def add_role_user(request: web.Request) -> web.Response:
    return await _role_user_change(request, add=True)


@routes.delete("/api/v2/roles/{role_id}/users")
async def remove_role_user(request: web.Request) -> web.Response:
    return await _role_user_change(request, add=False)


def _role_permissions(org: Org, role: Role) -> web.Response:
    return reply({"data": [render.permission(org.permissions[p]) for p in role.permission_ids if p in org.permissions]})


@routes.get("/api/v2/roles/{role_id}/permissions")
async def role_permissions(request: web.Request) -> web.Response:
    org = org_of(request)
    return _role_permissions(org, _role(org, request.match_info["role_id"]))


async def _permission_change(request: web.Request, *, grant: bool) -> web.Response:
    org = org_of(request)
    role = _role(org, request.match_info["role_id"])
    data = data_of(await body(request))
    pid = data.get("id")
    if data.get("type") != "permissions" or not isinstance(pid, str):
        fail(400, "400 BAD REQUEST")
    if pid not in org.permissions:
        fail(404, f"{pid} not found")
    if grant and pid not in role.permission_ids:
        role.permission_ids.insert(0, pid)
    elif not grant and pid in role.permission_ids:
        role.permission_ids.remove(pid)
    return _role_permissions(org, role)


@routes.post("/api/v2/roles/{role_id}/permissions")
async def grant_permission(request: web.Request) -> web.Response:
    return await _permission_change(request, grant=True)


@routes.delete("/api/v2/roles/{role_id}/permissions")
async def revoke_permission(request: web.Request) -> web.Response:
    return await _permission_change(request, grant=False)


@routes.get("/api/v2/permissions")
async def list_permissions(request: web.Request) -> web.Response:
    org = org_of(request)
    return reply({"data": [render.permission(p) for p in org.permissions.values()]}, content_type=JSONAPI)


# -- AuthN mappings -----------------------------------------------------------------------------------


def _mapping_response(org: Org, mapping: AuthnMapping) -> dict[str, Any]:
    return {
        "included": [render.role(org.roles[mapping.role_id], org, user_count=False)],
        "data": render.authn_mapping(mapping),
    }


@routes.post("/api/v2/authn_mappings")
async def create_mapping(request: web.Request) -> web.Response:
    org = org_of(request)
    data = data_of(await body(request))
    attributes = data.get("attributes") or {}
    role_id = (((data.get("relationships") or {}).get("role") or {}).get("data") or {}).get("id")
    role = _role(org, str(role_id))
    now = org.now()
    mapping = AuthnMapping(
        org.new_id(), str(attributes.get("attribute_key")), str(attributes.get("attribute_value")), role.id, now, now
    )
    org.authn_mappings[mapping.id] = mapping
    return reply(_mapping_response(org, mapping))


@routes.get("/api/v2/authn_mappings")
async def list_mappings(request: web.Request) -> web.Response:
    org = org_of(request)
    size, number = page_args(request, 10)
    mappings = list(org.authn_mappings.values())
    page = window(mappings, size, number)
    role_ids = dict.fromkeys(m.role_id for m in page)
    return reply(
        {
            "included": [render.role(org.roles[r], org, user_count=False) for r in role_ids if r in org.roles],
            "meta": {"page": {"total_filtered_count": len(mappings), "total_count": len(mappings)}},
            "data": [render.authn_mapping(m) for m in page],
        }
    )


@routes.get("/api/v2/authn_mappings/{mapping_id}")
async def get_mapping(request: web.Request) -> web.Response:
    org = org_of(request)
    mapping = org.authn_mappings.get(request.match_info["mapping_id"])
    if mapping is None:
        fail(404, "AuthN mapping not found")
    return reply(_mapping_response(org, mapping))


@routes.delete("/api/v2/authn_mappings/{mapping_id}")
async def delete_mapping(request: web.Request) -> web.Response:
    if org_of(request).authn_mappings.pop(request.match_info["mapping_id"], None) is None:
        fail(404, "AuthN mapping not found")
    return no_content()


# -- validation -------------------------------------------------------------------------------------


@routes.get("/api/v1/validate")
async def validate_v1(request: web.Request) -> web.Response:
    return reply({"valid": True})


@routes.get("/api/v2/validate")
async def validate_v2(request: web.Request) -> web.Response:
    org = org_of(request)
    attributes = {"valid": True, "api_key_id": f"fake-{state(request).api_key[-4:]}", "api_key_scopes": []}
    return reply({"data": {"type": "validate_v2", "id": org.id, "attributes": attributes}})


@routes.get("/api/v2/validate_keys")
async def validate_keys(request: web.Request) -> web.Response:
    return reply({"status": "ok"})


# -- legacy v1 users ----------------------------------------------------------------------------------


def _v1_user(user: User, access_role: Any) -> dict[str, Any]:
    return {
        "handle": user.handle,
        "name": user.name,
        "role": None,
        "title": user.title,
        "email": user.email,
        "disabled": user.disabled,
        "access_role": access_role,
        "is_admin": False,
        "icon": render.icon(user.email),
        "verified": user.verified,
    }


@routes.post("/api/v1/user")
async def v1_create_user(request: web.Request) -> web.Response:
    org = org_of(request)
    payload = await body(request)
    email = payload.get("email") or payload.get("handle")
    if not isinstance(email, str) or "@" not in email:
        fail(400, "Invalid email")
    user = org.user_by_email(email) or org.add_user(email, name=payload.get("name"))
    # Recorded: a v1 create with access_role null comes back already disabled.
    if payload.get("access_role", "st") is None:
        org.update_user(user, disabled=True)
    return reply({"user": _v1_user(user, None)})


@routes.delete("/api/v1/user/{handle}")
async def v1_disable_user(request: web.Request) -> web.Response:
    org = org_of(request)
    handle = request.match_info["handle"]
    user = org.user_by_email(handle)
    if user is None:
        fail(404, "User not found")
    if user.disabled:
        fail(400, "User is already disabled")
    org.update_user(user, disabled=True)
    return reply({"message": f"User {handle} disabled"})
