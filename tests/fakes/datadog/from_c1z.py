"""The fake org that a Go-written c1z of baton-datadog describes: users, roles, teams, role assignments, team
memberships and admins, as far as the file shows them.

tests/fixtures/c1z/old-sdk-v0.1.14.*.c1z were written by the Go connector of December 2023 from a fake Datadog
org; rebuilding that org lets our sync and the Go connector's output be compared row for row
(tests/datadog/test_go_written_org.py, benchmarks/c1z_vs_go.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from google.protobuf.message import Message

from connector.baton.annotations import type_url
from connector.baton.c1z.reader import C1ZReader
from connector.baton.pb.c1.connector.v2 import annotation_trait_pb2, resource_pb2
from tests.fakes.datadog.org import Org

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
# The Go connector of 2023 mapped Datadog's user status so (docs/spec/reference-connector.md §2.1: in v0
# `Pending` mapped to UNSPECIFIED); read backwards, the UserTrait status gives the Datadog status.
_STATUS = {
    annotation_trait_pb2.UserTrait.Status.STATUS_ENABLED: "Active",
    annotation_trait_pb2.UserTrait.Status.STATUS_DISABLED: "Disabled",
    annotation_trait_pb2.UserTrait.Status.STATUS_UNSPECIFIED: "Pending",
}
T = TypeVar("T", bound=Message)


@dataclass(slots=True)
class _User:
    id: str
    email: str
    name: str
    status: str
    service: bool
    role_ids: list[str] = field(default_factory=list)


def trait(res: resource_pb2.Resource, message: T) -> T:
    """The resource's trait annotation of `message`'s type, unpacked into `message`."""
    url = type_url(type(message))
    for any_ in res.annotations:
        if any_.type_url == url:
            message.ParseFromString(any_.value)
            return message
    raise ValueError(f"{res.id.resource_type}:{res.id.resource} has no {message.DESCRIPTOR.name}")


def org_from_c1z(path: Path, *, seed: int = 0) -> Org:
    """The org in the Go-written c1z at `path`. What the file cannot show is filled as `generate_org` fills it:
    created_at from `seed`, a last login 3 days later for active humans, team handles from the names' order."""
    users: dict[str, _User] = {}
    roles: dict[str, str] = {}
    teams: dict[str, tuple[str, str]] = {}
    members: dict[str, dict[str, bool]] = defaultdict(dict)  # team id -> user id -> admin
    with C1ZReader(path) as reader:
        for res in reader.resources("user"):
            user_trait = trait(res, annotation_trait_pb2.UserTrait())
            users[res.id.resource] = _User(
                id=res.id.resource,
                email=user_trait.emails[0].address,
                name=res.display_name,
                status=_STATUS[user_trait.status.status],
                service=user_trait.account_type == annotation_trait_pb2.UserTrait.ACCOUNT_TYPE_SERVICE,
            )
        for res in reader.resources("role"):
            roles[res.id.resource] = res.display_name
        for res in reader.resources("team"):
            profile = trait(res, annotation_trait_pb2.GroupTrait()).profile.fields
            teams[res.id.resource] = (res.display_name, profile["team_description"].string_value)
        for grant in reader.grants():
            kind, target, slug = grant.entitlement.id.split(":")
            principal = grant.principal.id.resource
            if kind == "role":
                users[principal].role_ids.append(target)
            elif slug == "admin":
                members[target][principal] = True
            else:
                members[target].setdefault(principal, False)

    org = Org(seed=seed)
    for role_id in list(org.roles):  # the fake's own managed roles: the Go run's fake had other ids
        org.delete_role(role_id)
    for role_id, name in sorted(roles.items(), key=lambda kv: kv[1]):
        org.add_role(name, id=role_id, managed=name.startswith("Datadog "), created_at=EPOCH)
    for user in users.values():
        created = EPOCH + timedelta(seconds=org.rng.randrange(60 * 60 * 24 * 700))
        org.add_user(
            user.email,
            name=user.name or None,
            status=user.status,
            service_account=user.service,
            role_ids=user.role_ids,
            id=user.id,
            created_at=created,
            last_login_time=created + timedelta(days=3) if user.status == "Active" and not user.service else None,
        )
        org.current_user_id = org.current_user_id or user.id
    for n, (team_id, (name, description)) in enumerate(sorted(teams.items(), key=lambda kv: kv[1][0])):
        team = org.add_team(name, f"team-{n:03d}", id=team_id, created_at=EPOCH, description=description or None)
        for uid, admin in members[team_id].items():
            org.add_member(team, uid, role="admin" if admin else None)
    return org
