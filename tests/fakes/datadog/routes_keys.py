"""API keys, application keys (org, current user, service account), access tokens, and logs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes.datadog import render
from tests.fakes.datadog.org import AccessToken, APIKey, AppKey, Org, User, parse_time
from tests.fakes.datadog.web import (
    JSONAPI,
    absolute,
    body,
    data_of,
    fail,
    no_content,
    org_of,
    page_args,
    query_int,
    reply,
    window,
)

routes = web.RouteTableDef()


def _sorted(items: list[Any], request: web.Request, default: str = "name") -> list[Any]:
    sort = request.query.get("sort", default)
    key = sort.lstrip("-")
    if key not in ("name", "created_at", "modified_at", "last4"):
        fail(400, f"invalid sort {sort}")
    getter: Callable[[Any], Any] = (
        (lambda k: k.key[-4:]) if key == "last4" else (lambda k: getattr(k, key, None) or k.created_at)
    )
    return sorted(items, key=getter, reverse=sort.startswith("-"))


def _filtered(items: list[Any], request: web.Request) -> list[Any]:
    needle = request.query.get("filter", "").strip().lower()
    return [k for k in items if needle in k.name.lower()] if needle else items


# -- API keys ---------------------------------------------------------------------------------------


def _api_key(org: Org, key_id: str) -> APIKey:
    found = org.api_keys.get(key_id)
    if found is None:
        fail(404, "API key not found")
    return found


@routes.get("/api/v2/api_keys")
async def list_api_keys(request: web.Request) -> web.Response:
    org = org_of(request)
    size, number = page_args(request, 10)
    keys = _sorted(_filtered(list(org.api_keys.values()), request), request)
    return reply(
        {
            "data": [render.api_key(k, with_key=False) for k in window(keys, size, number)],
            "meta": {"page": {"total_filtered_count": len(keys)}, "max_allowed": 200},
        }
    )


@routes.post("/api/v2/api_keys")
async def create_api_key(request: web.Request) -> web.Response:
    org = org_of(request)
    data = data_of(await body(request))
    attributes = data.get("attributes") or {}
    if data.get("type") != "api_keys" or not isinstance(attributes.get("name"), str):
        fail(400, "Invalid input ")
    now = org.now()
    key = APIKey(org.new_id(), attributes["name"], org.new_secret(32), org.current_user_id, now, now)
    key.category = str(attributes.get("category") or "default")
    key.remote_config_read_enabled = bool(attributes.get("remote_config_read_enabled", True))
    org.api_keys[key.id] = key
    return reply({"data": render.api_key(key, with_key=True)}, 201)


@routes.get("/api/v2/api_keys/{key_id}")
async def get_api_key(request: web.Request) -> web.Response:
    return reply({"data": render.api_key(_api_key(org_of(request), request.match_info["key_id"]), with_key=True)})


@routes.patch("/api/v2/api_keys/{key_id}")
async def update_api_key(request: web.Request) -> web.Response:
    org = org_of(request)
    key = _api_key(org, request.match_info["key_id"])
    data = data_of(await body(request))
    name = (data.get("attributes") or {}).get("name")
    if data.get("id") != key.id:
        fail(422, "API key id in the URL and request body do not match")
    if not isinstance(name, str):
        fail(400, "Invalid input ")
    key.name = name
    return reply({"data": render.api_key(key, with_key=True)})


@routes.delete("/api/v2/api_keys/{key_id}")
async def delete_api_key(request: web.Request) -> web.Response:
    org = org_of(request)
    _api_key(org, request.match_info["key_id"])
    del org.api_keys[request.match_info["key_id"]]
    return no_content(html=True)


# -- application keys --------------------------------------------------------------------------------


def _app_key(org: Org, key_id: str, *, owner: str | None = None) -> AppKey:
    found = org.app_keys.get(key_id)
    if found is None or (owner is not None and found.owner_id != owner):
        fail(404, "Application key not found")
    return found


def _app_key_list(request: web.Request, keys: list[AppKey], *, with_owner: bool = True) -> web.Response:
    size, number = page_args(request, 100)
    keys = _sorted(_filtered(keys, request), request)
    return reply(
        {
            "data": [render.app_key(k, with_owner=with_owner) for k in window(keys, size, number)],
            "meta": {"page": {"total_filtered_count": len(keys)}, "max_allowed_per_user": 1000},
        }
    )


async def _create_app_key(request: web.Request, owner: str) -> web.Response:
    org = org_of(request)
    data = data_of(await body(request))
    attributes = data.get("attributes") or {}
    if data.get("type") != "application_keys" or not isinstance(attributes.get("name"), str):
        fail(400, "Invalid input ")
    scopes = attributes.get("scopes")
    key = AppKey(org.new_id(), attributes["name"], org.new_secret(40), owner, org.now(), scopes)
    org.app_keys[key.id] = key
    out = render.app_key(key, with_key=True)
    out["attributes"].pop("last_used_at")
    return reply({"data": out}, 201)


async def _update_app_key(request: web.Request, key: AppKey) -> web.Response:
    data = data_of(await body(request))
    attributes = data.get("attributes") or {}
    if data.get("id") != key.id:
        fail(422, "Application key id in the URL and request body do not match")
    if isinstance(attributes.get("name"), str):
        key.name = attributes["name"]
    if "scopes" in attributes:
        key.scopes = attributes["scopes"]
    out = render.app_key(key)
    out["attributes"].pop("last_used_at")
    return reply({"data": out})


@routes.get("/api/v2/application_keys")
async def list_app_keys(request: web.Request) -> web.Response:
    org = org_of(request)
    keys = list(org.app_keys.values())
    owner = request.query.get("filter[owned_by]")
    if owner:
        keys = [k for k in keys if k.owner_id == owner]
    return _app_key_list(request, keys)


@routes.get("/api/v2/application_keys/{key_id}")
async def get_app_key(request: web.Request) -> web.Response:
    return reply({"data": render.app_key(_app_key(org_of(request), request.match_info["key_id"]))})


@routes.patch("/api/v2/application_keys/{key_id}")
async def update_app_key(request: web.Request) -> web.Response:
    return await _update_app_key(request, _app_key(org_of(request), request.match_info["key_id"]))


@routes.delete("/api/v2/application_keys/{key_id}")
async def delete_app_key(request: web.Request) -> web.Response:
    org = org_of(request)
    del org.app_keys[_app_key(org, request.match_info["key_id"]).id]
    return no_content(html=True)


def _current_user(org: Org) -> str:
    if org.current_user_id is None:
        fail(404, "current user not found")
    return org.current_user_id


@routes.get("/api/v2/current_user/application_keys")
async def list_my_app_keys(request: web.Request) -> web.Response:
    org = org_of(request)
    me = _current_user(org)
    return _app_key_list(request, [k for k in org.app_keys.values() if k.owner_id == me], with_owner=False)


@routes.post("/api/v2/current_user/application_keys")
async def create_my_app_key(request: web.Request) -> web.Response:
    return await _create_app_key(request, _current_user(org_of(request)))


@routes.get("/api/v2/current_user/application_keys/{key_id}")
async def get_my_app_key(request: web.Request) -> web.Response:
    org = org_of(request)
    key = _app_key(org, request.match_info["key_id"], owner=_current_user(org))
    owner = org.users[key.owner_id]
    included = [_owner_with_roles(owner, org)] + [
        {
            "type": "roles",
            "id": r,
            "attributes": {
                "name": org.roles[r].name,
                "managed": org.roles[r].managed,
                "created_at": render.ts(org.roles[r].created_at),
                "modified_at": render.ts(org.roles[r].modified_at),
            },
        }
        for r in owner.role_ids
        if r in org.roles
    ]
    return reply({"data": render.app_key(key, with_key=True), "included": included})


def _owner_with_roles(owner: User, org: Org) -> dict[str, Any]:
    out = render.user(owner, org)
    out["relationships"] = {"roles": out["relationships"]["roles"]}
    return out


@routes.patch("/api/v2/current_user/application_keys/{key_id}")
async def update_my_app_key(request: web.Request) -> web.Response:
    org = org_of(request)
    return await _update_app_key(request, _app_key(org, request.match_info["key_id"], owner=_current_user(org)))


@routes.delete("/api/v2/current_user/application_keys/{key_id}")
async def delete_my_app_key(request: web.Request) -> web.Response:
    org = org_of(request)
    del org.app_keys[_app_key(org, request.match_info["key_id"], owner=_current_user(org)).id]
    return no_content(html=True)


# -- service accounts: application keys and access tokens -------------------------------------------


def _service_account(org: Org, sa_id: str) -> User:
    user = org.users.get(sa_id)
    # Disabled service accounts answer 404 too (the Go connector skips them for that reason).
    if user is None or not user.service_account or user.disabled:
        fail(404, "Service account not found")
    return user


@routes.get("/api/v2/service_accounts/{sa_id}/application_keys")
async def list_sa_app_keys(request: web.Request) -> web.Response:
    org = org_of(request)
    sa = _service_account(org, request.match_info["sa_id"])
    return _app_key_list(request, [k for k in org.app_keys.values() if k.owner_id == sa.id])


@routes.post("/api/v2/service_accounts/{sa_id}/application_keys")
async def create_sa_app_key(request: web.Request) -> web.Response:
    sa = _service_account(org_of(request), request.match_info["sa_id"])
    return await _create_app_key(request, sa.id)


@routes.get("/api/v2/service_accounts/{sa_id}/application_keys/{key_id}")
async def get_sa_app_key(request: web.Request) -> web.Response:
    org = org_of(request)
    sa = _service_account(org, request.match_info["sa_id"])
    key = _app_key(org, request.match_info["key_id"], owner=sa.id)
    out = render.app_key(key, with_owner=False)
    out["attributes"].pop("last_used_at")
    return reply({"data": out})


@routes.patch("/api/v2/service_accounts/{sa_id}/application_keys/{key_id}")
async def update_sa_app_key(request: web.Request) -> web.Response:
    org = org_of(request)
    sa = _service_account(org, request.match_info["sa_id"])
    return await _update_app_key(request, _app_key(org, request.match_info["key_id"], owner=sa.id))


@routes.delete("/api/v2/service_accounts/{sa_id}/application_keys/{key_id}")
async def delete_sa_app_key(request: web.Request) -> web.Response:
    org = org_of(request)
    sa = _service_account(org, request.match_info["sa_id"])
    del org.app_keys[_app_key(org, request.match_info["key_id"], owner=sa.id).id]
    return no_content()


def _token_list(request: web.Request, tokens: list[AccessToken]) -> web.Response:
    size, number = page_args(request, 10)
    tokens = _sorted(_filtered(tokens, request), request)
    return reply(
        {
            "data": [render.access_token(t) for t in window(tokens, size, number)],
            "meta": {"page": {"total_filtered_count": len(tokens)}},
        },
        content_type=JSONAPI,
    )


async def _create_token(request: web.Request, owner: str, *, personal: bool) -> web.Response:
    org = org_of(request)
    data = data_of(await body(request))
    attributes = data.get("attributes") or {}
    scopes = attributes.get("scopes")
    if not isinstance(attributes.get("name"), str) or not isinstance(scopes, list) or not scopes:
        fail(400, "name and at least one scope are required")
    token = AccessToken(
        id=org.new_id(),
        name=attributes["name"],
        key=f"ddpat_{org.new_secret(48)}" if personal else f"ddsat_{org.new_secret(48)}",
        public_portion=org.new_secret(22),
        owner_id=owner,
        scopes=[str(s) for s in scopes],
        created_at=org.now(),
        expires_at=parse_time(attributes.get("expires_at")),
        personal=personal,
    )
    org.tokens[token.id] = token
    return reply({"data": render.access_token(token, with_key=True)}, 201, JSONAPI)


@routes.get("/api/v2/service_accounts/{sa_id}/access_tokens")
async def list_sa_tokens(request: web.Request) -> web.Response:
    org = org_of(request)
    sa = _service_account(org, request.match_info["sa_id"])
    return _token_list(request, [t for t in org.tokens.values() if t.owner_id == sa.id and not t.personal])


@routes.post("/api/v2/service_accounts/{sa_id}/access_tokens")
async def create_sa_token(request: web.Request) -> web.Response:
    sa = _service_account(org_of(request), request.match_info["sa_id"])
    return await _create_token(request, sa.id, personal=False)


@routes.get("/api/v2/service_accounts/{sa_id}/access_tokens/{token_id}")
async def get_sa_token(request: web.Request) -> web.Response:
    org = org_of(request)
    token = org.tokens.get(request.match_info["token_id"])
    if token is None or token.owner_id != request.match_info["sa_id"]:
        fail(404, "Access token not found")
    return reply({"data": render.access_token(token)}, content_type=JSONAPI)


@routes.delete("/api/v2/service_accounts/{sa_id}/access_tokens/{token_id}")
async def revoke_sa_token(request: web.Request) -> web.Response:
    # Observed: revoking an already revoked token still answers 204.
    org_of(request).tokens.pop(request.match_info["token_id"], None)
    return no_content()


@routes.get("/api/v2/personal_access_tokens")
async def list_pats(request: web.Request) -> web.Response:
    return _token_list(request, [t for t in org_of(request).tokens.values() if t.personal])


@routes.post("/api/v2/personal_access_tokens")
async def create_pat(request: web.Request) -> web.Response:
    return await _create_token(request, _current_user(org_of(request)), personal=True)


@routes.get("/api/v2/personal_access_tokens/{token_id}")
async def get_pat(request: web.Request) -> web.Response:
    token = org_of(request).tokens.get(request.match_info["token_id"])
    if token is None or not token.personal:
        fail(404, "Personal access token not found")
    return reply({"data": render.access_token(token)}, content_type=JSONAPI)


@routes.delete("/api/v2/personal_access_tokens/{token_id}")
async def revoke_pat(request: web.Request) -> web.Response:
    org_of(request).tokens.pop(request.match_info["token_id"], None)
    return no_content()


# -- logs: the one cursor-paged endpoint in the recordings ------------------------------------------


@routes.get("/api/v2/logs/events")
async def list_logs(request: web.Request) -> web.Response:
    org = org_of(request)
    limit = query_int(request, "page[limit]", 10, maximum=5000) or 10
    cursor = request.query.get("page[cursor]")
    start = 0
    if cursor:
        try:
            start = int(cursor, 16)
        except ValueError:
            fail(400, "invalid page[cursor]")
    events = org.logs[start : start + limit]
    data = [
        {
            "id": e.id,
            "type": "log",
            "attributes": {
                "service": e.service,
                "host": e.host,
                "attributes": {"env": e.tags[0].split(":", 1)[1]},
                "message": e.message,
                "status": e.status,
                "timestamp": e.timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "tags": e.tags,
            },
        }
        for e in events
    ]
    meta: dict[str, Any] = {"elapsed": 1, "request_id": org.new_secret(16), "status": "done"}
    links: dict[str, Any] = {}
    if start + limit < len(org.logs):
        after = format(start + limit, "x")
        meta["page"] = {"after": after}
        links["next"] = absolute(request, request.path, {"page[cursor]": after, "page[limit]": limit})
    return reply({"data": data, "meta": meta, "links": links})
