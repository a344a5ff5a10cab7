"""What a sync of a fake org must hold: resources by type, entitlement ids and grant ids, from the org itself.

Written independently of the connector's syncers, so a test comparing the two catches a syncer that drops
or invents anything.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from tests.fakes.datadog.org import Org


@dataclass(frozen=True, slots=True)
class Expected:
    resources: dict[str, set[str]]
    entitlements: set[str]
    grants: set[str]


def enabled_service_accounts(org: Org) -> list[str]:
    return [u.id for u in org.users.values() if u.service_account and not u.disabled]


def expected_sync(
    org: Org, *, on_call_at: datetime | None = None, secrets: bool = False, app_keys: bool = False
) -> Expected:
    """The default types (users, roles, teams), plus schedules when `on_call_at` is given and the opt-in keys."""
    resources = {"user": set(org.users), "role": set(org.roles), "team": set(org.teams)}
    entitlements = {f"role:{r}:member" for r in org.roles} | {
        f"team:{t}:{slug}" for t in org.teams for slug in ("member", "admin")
    }
    grants = {f"role:{rid}:member:user:{u.id}" for u in org.users.values() for rid in u.role_ids}
    for team in org.teams.values():
        for m in team.members.values():
            grants.add(f"team:{team.id}:member:user:{m.user_id}")
            if m.role == "admin":
                grants.add(f"team:{team.id}:admin:user:{m.user_id}")
    if on_call_at is not None:
        resources["schedule"] = set(org.schedules)
        entitlements |= {f"schedule:{s}:on_call" for s in org.schedules}
        for schedule in org.schedules.values():
            grants |= {f"schedule:{schedule.id}:on_call:user:{s.user_id}" for s in org.shifts(schedule, on_call_at)}
    if secrets:
        resources["api-key"] = set(org.api_keys)
    if app_keys:
        owners = set(enabled_service_accounts(org))
        resources["service-account-application-key"] = {k.id for k in org.app_keys.values() if k.owner_id in owners}
        resources["service-account-access-token"] = {
            sat_id(t.owner_id, t.id) for t in org.tokens.values() if not t.personal and t.owner_id in owners
        }
    return Expected(resources, entitlements, grants)


def sat_id(service_account_id: str, token_id: str) -> str:
    """docs/spec/reference-connector.md §2: `sat:` + unpadded base64url(service account id NUL token id)."""
    raw = base64.urlsafe_b64encode(f"{service_account_id}\0{token_id}".encode()).decode()
    return "sat:" + raw.rstrip("=")
