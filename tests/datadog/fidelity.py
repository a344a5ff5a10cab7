"""Tools to hold the fake Datadog against real recordings and the official client's models.

* `replay` sends every request of a recording to the fake (ids of objects the recording created
  are swapped for the ids the fake created), and checks status and JSON shape of each answer.
* `oracle_check` deserializes a fake response with `datadog_api_client`'s model for that endpoint
  and reports any `_unparsed` part (an enum value or type the official client did not accept).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import httpx

from tests.datadog.helpers import loopback_trust
from tests.fakes.datadog import FakeDatadog, Org
from tests.fakes.datadog.org import AppKey, parse_time

# -- shape comparison ----------------------------------------------------------------------------------

# Payloads that are arbitrary by design (a log event's own attributes).
FREE_FORM = (re.compile(r"\[type=log\]\.attributes\.attributes$"),)


def shape_mismatches(recorded: Any, fake: Any, where: str = "$") -> Iterator[str]:
    """Differences in structure: every recorded key must exist in the fake with a compatible type.

    Null on either side matches anything (nullable fields); numbers match numbers; lists compare
    element shapes, JSON:API lists per resource `type`.
    """
    if recorded is None or fake is None or any(p.search(where) for p in FREE_FORM):
        return
    if isinstance(recorded, bool) or isinstance(fake, bool):
        if not (isinstance(recorded, bool) and isinstance(fake, bool)):
            yield f"{where}: recorded {type(recorded).__name__}, fake {type(fake).__name__}"
        return
    if isinstance(recorded, int | float):
        if not isinstance(fake, int | float):
            yield f"{where}: recorded number, fake {type(fake).__name__}"
        return
    if isinstance(recorded, str):
        if not isinstance(fake, str):
            yield f"{where}: recorded string, fake {type(fake).__name__}"
        return
    if isinstance(recorded, dict):
        if not isinstance(fake, dict):
            yield f"{where}: recorded object, fake {type(fake).__name__}"
            return
        for key in recorded:
            if key not in fake:
                yield f"{where}.{key}: missing in fake"
            else:
                yield from shape_mismatches(recorded[key], fake[key], f"{where}.{key}")
        return
    if isinstance(recorded, list):
        if not isinstance(fake, list):
            yield f"{where}: recorded list, fake {type(fake).__name__}"
            return
        if not recorded:
            return
        if not fake:
            yield f"{where}: recorded {len(recorded)} items, fake none"
            return
        if all(isinstance(x, dict) and "type" in x for x in recorded + fake):
            # Compare the k-th recorded item of a type with the fake's k-th of that type (same
            # request, same order), or with its first when the fake has fewer.
            fake_by_type: dict[str, list[Any]] = {}
            for item in fake:
                fake_by_type.setdefault(item["type"], []).append(item)
            seen: dict[str, int] = {}
            for item in recorded[:40]:
                candidates = fake_by_type.get(item["type"])
                if not candidates:
                    yield f"{where}: no item of type {item['type']!r} in fake"
                    return
                k = seen[item["type"]] = seen.get(item["type"], -1) + 1
                counterpart = candidates[k] if k < len(candidates) else candidates[0]
                yield from shape_mismatches(item, counterpart, f"{where}[type={item['type']}]")
            return
        for item in recorded[:5]:
            yield from shape_mismatches(item, fake[0], f"{where}[]")


# -- seeding the objects a recording assumes exist -----------------------------------------------------


def _resources(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("type"), str) and isinstance(node.get("id"), str) and "attributes" in node:
            yield node
        for value in node.values():
            yield from _resources(value)
    elif isinstance(node, list):
        for value in node:
            yield from _resources(value)


def created_ids(recording: dict[str, Any]) -> set[str]:
    ids: set[str] = set()
    for interaction in recording["interactions"]:
        response = interaction["response"]
        if interaction["request"]["method"] != "POST" or not 200 <= response["status"] < 300:
            continue
        data = (response["body"] or {}).get("data")
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict) and "id" in item:
                ids.add(item["id"])
                for rel in (item.get("relationships") or {}).values():
                    linkage = rel.get("data") if isinstance(rel, dict) else None
                    for ref in linkage if isinstance(linkage, list) else []:
                        ids.add(ref.get("id", ""))
    return ids


def recording_time(recording: dict[str, Any]) -> datetime | None:
    """When the recording was made, from the first created_at it contains."""
    text = json.dumps([i["response"]["body"] for i in recording["interactions"]])
    match = re.search(r'"created_at": "([^"]+)"', text)
    return parse_time(match.group(1)) if match else None


def seed_recorded_objects(org: Org, recording: dict[str, Any]) -> None:
    """Put into `org` the users, teams, memberships and app keys the recording reads but never creates."""
    created = created_ids(recording)
    found = [
        r
        for i in recording["interactions"]
        for r in _resources(i["response"]["body"])
        if r["id"] not in created and not r["id"].endswith("-current")
    ]
    for r in found:
        a = r.get("attributes") or {}
        if r["type"] == "users" and r["id"] not in org.users and (a.get("email") or a.get("handle")):
            roles = [x["id"] for x in ((r.get("relationships") or {}).get("roles") or {}).get("data") or []]
            status = str(a.get("status") or ("Disabled" if a.get("disabled") else "Active")).capitalize()
            org.add_user(
                str(a.get("email") or a.get("handle")),
                name=a.get("name"),
                title=a.get("title"),
                status=status if status in ("Active", "Pending", "Disabled") else "Active",
                service_account=bool(a.get("service_account")),
                role_ids=[x for x in roles if x in org.roles],
                id=r["id"],
            )
        elif r["type"] == "team" and r["id"] not in org.teams and isinstance(a.get("name"), str):
            org.add_team(a["name"], str(a.get("handle") or r["id"]), id=r["id"])
    for r in found:
        a = r.get("attributes") or {}
        if r["type"] == "team_memberships" and (match := re.match(r"TeamMembership-(.{36})-\d+$", r["id"])):
            team = org.teams.get(match.group(1)) or org.add_team(
                f"team {match.group(1)}", match.group(1), id=match.group(1)
            )
            user_id = r["relationships"]["user"]["data"]["id"]
            if user_id in org.users and user_id not in team.members:
                org.add_member(team, user_id, role=a.get("role"))
        elif r["type"] == "application_keys" and r["id"] not in org.app_keys:
            owner = ((r.get("relationships") or {}).get("owned_by") or {}).get("data") or {}
            org.app_keys[r["id"]] = AppKey(
                r["id"],
                str(a.get("name")),
                org.new_secret(40),
                str(owner.get("id") or org.current_user_id),
                parse_time(a.get("created_at")) or datetime.now(UTC),
                a.get("scopes"),
            )


# -- replay ----------------------------------------------------------------------------------------------


@dataclass
class Exchange:
    index: int
    method: str
    path: str
    recorded_status: int
    status: int
    recorded_body: Any
    body: Any
    problems: list[str] = field(default_factory=list)


class Replayer:
    def __init__(self, fake: FakeDatadog, recording: dict[str, Any]) -> None:
        self.fake = fake
        self.recording = recording
        self.ids: dict[str, str] = {}

    def _swap(self, text: str) -> str:
        for recorded, ours in self.ids.items():
            text = text.replace(recorded, ours)
        return text

    def _learn(self, recorded: Any, ours: Any) -> None:
        """Map ids of what this request created (data, and its relationship linkage, in order)."""
        rec_items = recorded if isinstance(recorded, list) else [recorded]
        our_items = ours if isinstance(ours, list) else [ours]
        for rec, our in zip(rec_items, our_items, strict=False):
            if not (isinstance(rec, dict) and isinstance(our, dict)):
                continue
            if isinstance(rec.get("id"), str) and isinstance(our.get("id"), str) and rec["id"] != our["id"]:
                self.ids.setdefault(rec["id"], our["id"])
            for name, rel in (rec.get("relationships") or {}).items():
                our_rel = (our.get("relationships") or {}).get(name) or {}
                if isinstance(rel, dict) and isinstance(rel.get("data"), list):
                    for a, b in zip(rel["data"], our_rel.get("data") or [], strict=False):
                        if a.get("id") and b.get("id") and a["id"] not in self.ids and a["id"] != b["id"]:
                            self.ids[a["id"]] = b["id"]

    def run(self) -> list[Exchange]:
        # Recorded 429s are replayed by scripting the same throttling in the fake.
        for interaction in self.recording["interactions"]:
            if interaction["response"]["status"] == 429:
                self.fake.faults.force(429, path=interaction["request"]["path"], reset=0)
        out = []
        # Plain http to the fake: the trust is never used, and httpx's default was the CA file parsed for each replay.
        with httpx.Client(base_url=self.fake.base_url, timeout=10, verify=loopback_trust()) as http:
            for index, interaction in enumerate(self.recording["interactions"]):
                out.append(self._one(http, index, interaction))
        return out

    def _one(self, http: httpx.Client, index: int, interaction: dict[str, Any]) -> Exchange:
        request, recorded = interaction["request"], interaction["response"]
        headers = {}
        # Recorded 403s were made without keys; the others with valid ones.
        if recorded["status"] != 403:
            headers = {"DD-API-KEY": self.fake.api_key, "DD-APPLICATION-KEY": self.fake.app_key}
        path = self._swap(request["path"])
        params = {k: self._swap(v) for k, v in (request.get("query") or {}).items()}
        content = None
        if request.get("body") is not None:
            content = self._swap(json.dumps(request["body"])).encode()
            headers["Content-Type"] = "application/json"
        response = http.request(request["method"], path, params=params, content=content, headers=headers)
        body = response.json() if response.content and "json" in response.headers.get("content-type", "") else None
        exchange = Exchange(
            index, request["method"], path, recorded["status"], response.status_code, recorded["body"], body
        )
        if response.status_code != recorded["status"]:
            exchange.problems.append(
                f"status {response.status_code}, recorded {recorded['status']}: {response.text[:300]}"
            )
        elif recorded["status"] == 204 and response.content:
            exchange.problems.append("204 with a body")
        else:
            exchange.problems += list(shape_mismatches(recorded["body"], body))
        if request["method"] in ("POST", "PUT") and 200 <= response.status_code < 300 and isinstance(body, dict):
            self._learn((recorded["body"] or {}).get("data"), body.get("data"))
        return exchange


# -- the official client as an oracle ---------------------------------------------------------------------


@cache
def _api_client() -> Any:
    from datadog_api_client import ApiClient, Configuration

    return ApiClient(Configuration())  # type: ignore[no-untyped-call]


@cache
def _endpoint_table() -> list[tuple[str, re.Pattern[str], Any]]:
    from datadog_api_client.v1.api.authentication_api import AuthenticationApi
    from datadog_api_client.v2.api.authn_mappings_api import AuthNMappingsApi
    from datadog_api_client.v2.api.key_management_api import KeyManagementApi
    from datadog_api_client.v2.api.on_call_api import OnCallApi
    from datadog_api_client.v2.api.roles_api import RolesApi
    from datadog_api_client.v2.api.service_accounts_api import ServiceAccountsApi
    from datadog_api_client.v2.api.teams_api import TeamsApi
    from datadog_api_client.v2.api.users_api import UsersApi

    api_client = _api_client()
    table = []
    for api_class in (
        AuthenticationApi, AuthNMappingsApi, KeyManagementApi, OnCallApi, RolesApi, ServiceAccountsApi, TeamsApi,
        UsersApi,
    ):  # fmt: skip
        api = api_class(api_client)
        for name, endpoint in vars(api).items():
            if not name.endswith("_endpoint"):
                continue
            settings = endpoint.settings
            if not settings.get("response_type"):
                continue
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(settings["endpoint_path"]))
            table.append((settings["http_method"], re.compile(f"^{pattern}$"), settings["response_type"]))
    return table


def oracle_type(method: str, path: str) -> Any:
    for table_method, pattern, response_type in _endpoint_table():
        if table_method == method and pattern.match(path):
            return response_type
    return None


def _unparsed_paths(obj: Any, where: str = "$") -> Iterator[str]:
    from datadog_api_client.model_utils import OpenApiModel, UnparsedObject

    if isinstance(obj, UnparsedObject):
        yield where
    elif isinstance(obj, OpenApiModel):
        if getattr(obj, "_unparsed", False):
            store = getattr(obj, "_data_store", {})
            inner = [p for key, value in store.items() for p in _unparsed_paths(value, f"{where}.{key}")]
            yield from inner or [where]
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from _unparsed_paths(item, f"{where}[{i}]")


def oracle_check(method: str, path: str, status: int, body: Any) -> list[str]:
    """Deserialize with the official model for this endpoint (or APIErrorResponse for errors)."""
    from datadog_api_client.v2.model.api_error_response import APIErrorResponse

    if body is None:
        return []
    response_type = (APIErrorResponse,) if status >= 400 else oracle_type(method, path)
    if response_type is None:
        return []
    try:
        parsed = _api_client().deserialize(json.dumps(body), response_type, True)
    except Exception as exc:
        return [f"{method} {path}: official client could not deserialize: {exc}"]
    return [f"{method} {path}: _unparsed at {p}" for p in _unparsed_paths(parsed)]
