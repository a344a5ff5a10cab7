"""In-memory state of one fake Datadog organization, and the operations the endpoints apply to it.

Plain dataclasses, no HTTP: tests seed and inspect an `Org` directly, the server renders it.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tests.fakes.datadog.catalog import (
    ADMIN_ROLE_ID,
    DEFAULT_ROLE_PERMISSIONS,
    MANAGED_ROLES,
    ORG_ID,
    PERMISSIONS,
    READ_ONLY_ROLE_ID,
    STANDARD_ROLE_ID,
)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(slots=True, eq=False)
class Permission:
    id: str
    name: str
    display_name: str
    group_name: str
    display_type: str
    restricted: bool
    created: datetime
    description: str


@dataclass(slots=True, eq=False)
class User:
    id: str
    email: str
    handle: str
    name: str | None
    created_at: datetime
    modified_at: datetime
    title: str | None = None
    # "Active", "Pending" (invited, never logged in) or "Disabled"
    status: str = "Pending"
    verified: bool = False
    service_account: bool = False
    last_login_time: datetime | None = None
    role_ids: list[str] = field(default_factory=list)

    @property
    def disabled(self) -> bool:
        return self.status == "Disabled"


@dataclass(slots=True, eq=False)
class Role:
    id: str
    name: str
    created_at: datetime
    modified_at: datetime
    permission_ids: list[str] = field(default_factory=list)
    managed: bool = False


@dataclass(slots=True, eq=False)
class Membership:
    id: str
    user_id: str
    role: str | None = None  # "admin" or None
    provisioned_by: str | None = None
    provisioned_by_id: str | None = None


@dataclass(slots=True, eq=False)
class TeamLink:
    id: str
    label: str
    url: str
    position: int


@dataclass(slots=True, eq=False)
class Team:
    id: str
    name: str
    handle: str
    created_at: datetime
    modified_at: datetime
    summary: str | None = None
    description: str | None = None
    avatar: str | None = None
    banner: int | None = None
    visible_modules: list[str] = field(default_factory=list)
    hidden_modules: list[str] = field(default_factory=list)
    is_managed: bool = False
    members: dict[str, Membership] = field(default_factory=dict)
    links: list[TeamLink] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=lambda: {"manage_membership": "organization", "edit": "members"})


@dataclass(slots=True, eq=False)
class Layer:
    id: str
    name: str
    effective_date: datetime
    rotation_start: datetime
    interval: timedelta
    members: list[str]
    end_date: datetime | None = None
    restrictions: list[dict[str, str]] = field(default_factory=list)
    interval_raw: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class Schedule:
    id: str
    name: str
    time_zone: str
    layers: list[Layer]
    team_ids: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Shift:
    user_id: str
    start: datetime
    end: datetime
    layer_id: str


@dataclass(slots=True, eq=False)
class Step:
    id: str
    assignment: str
    escalate_after_seconds: int
    # {"type": users|schedules|teams, "id", "position"?}
    targets: list[dict[str, str]]


@dataclass(slots=True, eq=False)
class Policy:
    id: str
    name: str
    resolve_page_on_policy_end: bool
    retries: int
    steps: list[Step]
    team_ids: list[str] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class RoutingRule:
    id: str
    query: str
    urgency: str | None
    actions: list[dict[str, Any]]
    time_restriction: dict[str, Any] | None = None


@dataclass(slots=True, eq=False)
class APIKey:
    id: str
    name: str
    key: str
    created_by: str | None
    created_at: datetime
    modified_at: datetime
    category: str = "default"
    remote_config_read_enabled: bool = True
    date_last_used: datetime | None = None


@dataclass(slots=True, eq=False)
class AppKey:
    id: str
    name: str
    key: str
    owner_id: str
    created_at: datetime
    scopes: list[str] | None = None
    last_used_at: datetime | None = None


@dataclass(slots=True, eq=False)
class AccessToken:
    """A service access token (owner is a service account) or a personal access token."""

    id: str
    name: str
    key: str
    public_portion: str
    owner_id: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    personal: bool = False


@dataclass(slots=True, eq=False)
class Invitation:
    id: str
    user_id: str
    created_at: datetime
    expires_at: datetime
    invite_type: str = "openid_invite"


@dataclass(slots=True, eq=False)
class AuthnMapping:
    id: str
    attribute_key: str
    attribute_value: str
    role_id: str
    created_at: datetime
    modified_at: datetime


@dataclass(slots=True, eq=False)
class LogEvent:
    id: str
    timestamp: datetime
    service: str
    host: str
    message: str
    status: str
    tags: list[str]


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Org:
    """One organization. Every mutation goes through a method so indexes stay consistent."""

    def __init__(self, *, seed: int = 0, clock: Callable[[], datetime] | None = None) -> None:
        self.id = ORG_ID
        self.name = "Fake Datadog Org"
        self.rng = random.Random(seed)
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.permissions: dict[str, Permission] = {}
        self.roles: dict[str, Role] = {}
        self.users: dict[str, User] = {}
        self.role_members: dict[str, dict[str, None]] = {}
        self.teams: dict[str, Team] = {}
        self.schedules: dict[str, Schedule] = {}
        self.policies: dict[str, Policy] = {}
        self.routing_rules: dict[str, list[RoutingRule]] = {}
        self.api_keys: dict[str, APIKey] = {}
        self.app_keys: dict[str, AppKey] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.invitations: dict[str, Invitation] = {}
        self.authn_mappings: dict[str, AuthnMapping] = {}
        self.logs: list[LogEvent] = []
        # The user the connector's application key belongs to (provisioned_by_id, current_user).
        self.current_user_id: str | None = None
        self._users_by_email: dict[str, str] = {}
        self._sorted_users: list[User] | None = None
        self._membership_seq = 1_000_000
        for pid, name, display, group, kind, restricted, created, description in PERMISSIONS:
            self.permissions[pid] = Permission(
                pid, name, display, group, kind, restricted, datetime.fromisoformat(created).replace(tzinfo=UTC),
                description,
            )  # fmt: skip
        epoch = datetime(2019, 8, 13, 19, 50, 19, 22791, tzinfo=UTC)
        privileged = {"admin", "user_access_manage", "user_access_invite", "org_app_keys_write", "api_keys_delete"}
        grants = {
            ADMIN_ROLE_ID: list(self.permissions),
            STANDARD_ROLE_ID: [p.id for p in self.permissions.values() if p.name not in privileged],
            READ_ONLY_ROLE_ID: [p.id for p in self.permissions.values() if p.display_type == "read"],
        }
        for rid, name in MANAGED_ROLES:
            self.add_role(name, id=rid, managed=True, created_at=epoch, permission_ids=grants[rid])

    # -- ids and time -----------------------------------------------------------------------------

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_secret(self, length: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(length))

    def now(self) -> datetime:
        return self.clock()

    # -- users --------------------------------------------------------------------------------------

    def add_user(
        self,
        email: str,
        *,
        name: str | None = None,
        title: str | None = None,
        status: str = "Pending",
        service_account: bool = False,
        role_ids: Iterable[str] = (),
        id: str | None = None,
        created_at: datetime | None = None,
        last_login_time: datetime | None = None,
    ) -> User:
        uid = id or self.new_id()
        when = created_at or self.now()
        email = email.lower()
        user = User(
            id=uid,
            email=email,
            # Service accounts get their own UUID as handle; humans their lower-cased email.
            handle=uid if service_account else email,
            name=name,
            created_at=when,
            modified_at=when,
            title=title,
            status=status,
            verified=status != "Pending" or service_account,
            service_account=service_account,
            last_login_time=last_login_time,
        )
        self.users[uid] = user
        self._users_by_email[email] = uid
        self._sorted_users = None
        for rid in role_ids:
            self.assign_role(uid, rid)
        return user

    def user_by_email(self, email: str) -> User | None:
        uid = self._users_by_email.get(email.lower())
        return self.users.get(uid) if uid else None

    def sorted_users(self) -> list[User]:
        if self._sorted_users is None:
            self._sorted_users = sorted(self.users.values(), key=lambda u: ((u.name or "").lower(), u.email, u.id))
        return self._sorted_users

    def update_user(self, user: User, **changes: Any) -> None:
        for key, value in changes.items():
            if key == "email":
                self._users_by_email.pop(user.email, None)
                value = str(value).lower()
                self._users_by_email[value] = user.id
                if not user.service_account:
                    user.handle = value
            if key == "disabled":
                user.status = "Disabled" if value else ("Active" if user.verified else "Pending")
                continue
            setattr(user, key, value)
        user.modified_at = self.now()
        self._sorted_users = None

    def assign_role(self, user_id: str, role_id: str) -> bool:
        user = self.users[user_id]
        members = self.role_members.setdefault(role_id, {})
        if user_id in members:
            return False
        members[user_id] = None
        user.role_ids.append(role_id)
        return True

    def unassign_role(self, user_id: str, role_id: str) -> bool:
        members = self.role_members.get(role_id, {})
        if user_id not in members:
            return False
        del members[user_id]
        self.users[user_id].role_ids.remove(role_id)
        return True

    def role_users_sorted(self, role_id: str) -> list[User]:
        return sorted(
            (self.users[u] for u in self.role_members.get(role_id, {})),
            key=lambda u: ((u.name or "").lower(), u.email, u.id),
        )

    # -- roles --------------------------------------------------------------------------------------

    def add_role(
        self,
        name: str,
        *,
        id: str | None = None,
        managed: bool = False,
        permission_ids: list[str] | None = None,
        created_at: datetime | None = None,
    ) -> Role:
        when = created_at or self.now()
        perms = list(DEFAULT_ROLE_PERMISSIONS) if permission_ids is None else permission_ids
        role = Role(id or self.new_id(), name, when, when, perms, managed)
        self.roles[role.id] = role
        self.role_members.setdefault(role.id, {})
        return role

    def delete_role(self, role_id: str) -> None:
        for uid in list(self.role_members.get(role_id, {})):
            self.unassign_role(uid, role_id)
        self.role_members.pop(role_id, None)
        del self.roles[role_id]

    def role_by_name(self, name: str) -> Role | None:
        return next((r for r in self.roles.values() if r.name == name), None)

    # -- teams --------------------------------------------------------------------------------------

    def add_team(self, name: str, handle: str, *, id: str | None = None, **attrs: Any) -> Team:
        when = attrs.pop("created_at", None) or self.now()
        team = Team(id=id or self.new_id(), name=name, handle=handle, created_at=when, modified_at=when, **attrs)
        self.teams[team.id] = team
        return team

    def add_member(
        self, team: Team, user_id: str, *, role: str | None = None, provisioned_by_id: str | None = None
    ) -> Membership:
        self._membership_seq += 1
        membership = Membership(
            id=f"TeamMembership-{team.id}-{self._membership_seq}",
            user_id=user_id,
            role=role,
            provisioned_by_id=provisioned_by_id or self.current_user_id,
        )
        team.members[user_id] = membership
        return membership

    def teams_of(self, user_id: str) -> list[tuple[Team, Membership]]:
        return [(t, t.members[user_id]) for t in self.teams.values() if user_id in t.members]

    # -- On-Call --------------------------------------------------------------------------------------

    def zone(self, name: str) -> ZoneInfo:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def shifts(self, schedule: Schedule, at: datetime, offset: int = 0) -> list[Shift]:
        """Who is on call at `at` (offset 0), or in the rotation slot before/after it (-1/+1)."""
        out: list[Shift] = []
        for layer in schedule.layers:
            shift = self._layer_shift(schedule, layer, at, offset)
            if shift is not None and all(s.user_id != shift.user_id for s in out):
                out.append(shift)
        return out

    def _layer_shift(self, schedule: Schedule, layer: Layer, at: datetime, offset: int) -> Shift | None:
        seconds = layer.interval.total_seconds()
        if not layer.members or seconds <= 0:
            return None
        slot = math.floor((at - layer.rotation_start).total_seconds() / seconds) + offset
        start = layer.rotation_start + timedelta(seconds=slot * seconds)
        end = start + layer.interval
        probe = at if offset == 0 else start
        if probe < layer.effective_date or (layer.end_date is not None and probe >= layer.end_date):
            return None
        if layer.restrictions and not self._within(probe.astimezone(self.zone(schedule.time_zone)), layer.restrictions):
            return None
        return Shift(layer.members[slot % len(layer.members)], start, end, layer.id)

    @staticmethod
    def _within(local: datetime, restrictions: list[dict[str, str]]) -> bool:
        def minute(day: str, clock: str) -> int:
            hours, minutes, *_ = (int(x) for x in (clock or "00:00:00").split(":"))
            return WEEKDAYS.index(day) * 1440 + hours * 60 + minutes

        now = local.weekday() * 1440 + local.hour * 60 + local.minute
        for r in restrictions:
            try:
                start = minute(r["start_day"], r["start_time"])
                end = minute(r["end_day"], r["end_time"])
            except (KeyError, ValueError):
                continue
            if (start <= now < end) if start <= end else (now >= start or now < end):
                return True
        return False

    def layer_from_json(self, raw: dict[str, Any], *, default_id: str | None = None) -> Layer:
        interval = raw.get("interval") or {}
        delta = timedelta(days=int(interval.get("days") or 0), seconds=int(interval.get("seconds") or 0))
        members = [
            str(m["user"]["id"])
            for m in raw.get("members") or []
            if isinstance(m, dict) and isinstance(m.get("user"), dict) and m["user"].get("id")
        ]
        now = self.now()
        return Layer(
            id=str(raw.get("id") or default_id or self.new_id()),
            name=str(raw.get("name") or "Layer"),
            effective_date=parse_time(raw.get("effective_date")) or now,
            rotation_start=parse_time(raw.get("rotation_start")) or now,
            interval=delta or timedelta(days=1),
            members=members,
            end_date=parse_time(raw.get("end_date")),
            restrictions=[r for r in raw.get("restrictions") or [] if isinstance(r, dict)],
            interval_raw={k: int(v) for k, v in interval.items() if isinstance(v, int)},
        )
