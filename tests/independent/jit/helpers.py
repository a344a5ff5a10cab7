"""What the suite's cases share: an org's users, roles and teams, and a report read as ConductorOne reads it."""

from __future__ import annotations

from google.protobuf import any_pb2

from connector.baton.pb.c1.connector.v2 import annotation_grant_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.fakes.datadog import FakeDatadog
from tests.fakes.datadog.org import Role, Team, User

ALREADY_EXISTS = "type.googleapis.com/" + annotation_grant_pb2.GrantAlreadyExists.DESCRIPTOR.full_name
ALREADY_REVOKED = "type.googleapis.com/" + annotation_grant_pb2.GrantAlreadyRevoked.DESCRIPTOR.full_name

Report = baton_pb2.BatonServiceFinishTaskRequest


def people(datadog: FakeDatadog) -> list[User]:
    return [u for u in datadog.org.users.values() if u.status == "Active" and not u.service_account]


def a_role(datadog: FakeDatadog) -> Role:
    return datadog.org.add_role("JIT Role 401")


def a_team(datadog: FakeDatadog, members: dict[str, str | None] | None = None) -> Team:
    team = datadog.org.add_team("JIT Team 401", "jit-team-401")
    for user_id, role in (members or {}).items():
        datadog.org.add_member(team, user_id, role=role)
    return team


def holds_role(datadog: FakeDatadog, role: Role, user: User) -> bool:
    return user.id in datadog.org.role_members.get(role.id, {})


def membership(datadog: FakeDatadog, team: Team, user: User) -> str | None:
    """'member' or 'admin' as the fake holds it, None when the user is not on the team."""
    held = team.members.get(user.id)
    return None if held is None else (held.role or "member")


def ok(report: Report) -> bool:
    return report.WhichOneof("final_state") == "success"


def annotation_types(report: Report) -> list[str]:
    held: list[any_pb2.Any] = list(report.success.annotations if ok(report) else report.error.annotations)
    return [a.type_url for a in held]


def failed(report: Report, *, retryable: bool | None = None) -> bool:
    if ok(report) or report.status.code == 0:
        return False
    return retryable is None or report.error.non_retryable is (not retryable)
