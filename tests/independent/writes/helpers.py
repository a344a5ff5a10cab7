"""Tasks and org lookups the write-path tests share."""

from __future__ import annotations

from typing import Any

from connector.baton.errors import Code
from connector.baton.pb.c1.connector.v2 import annotation_grant_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.baton.tasks.stubs import Finish
from tests.fakes.datadog import FakeDatadog
from tests.fakes.datadog.org import Role, Team, User

ALREADY_EXISTS = "type.googleapis.com/" + annotation_grant_pb2.GrantAlreadyExists.DESCRIPTOR.full_name
ALREADY_REVOKED = "type.googleapis.com/" + annotation_grant_pb2.GrantAlreadyRevoked.DESCRIPTOR.full_name

ROLE_USERS = r"/api/v2/roles/[^/]+/users"
MEMBERSHIPS = r"/api/v2/team/[^/]+/memberships"
MEMBERSHIP = r"/api/v2/team/[^/]+/memberships/[^/]+"
USER = r"/api/v2/users/[^/]+"


def human(fake: FakeDatadog, skip: int = 0) -> User:
    return [u for u in fake.org.users.values() if u.status == "Active" and not u.service_account][skip]


def new_role(fake: FakeDatadog) -> Role:
    return fake.org.add_role("JIT Role 108")


def new_team(fake: FakeDatadog, members: dict[str, str | None] | None = None) -> Team:
    team = fake.org.add_team("JIT Team 108", "jit-team-108")
    for user_id, role in (members or {}).items():
        fake.org.add_member(team, user_id, role=role)
    return team


def holds_role(fake: FakeDatadog, role: Role, user: User) -> bool:
    return user.id in fake.org.role_members.get(role.id, {})


def succeeded(finish: Finish) -> bool:
    return finish.ok


def failed_for_good(finish: Finish, code: Code | None = None) -> bool:
    """An error report ConductorOne will not replay (provisioning failures are non-retryable: spec §3.4)."""
    return not finish.ok and finish.non_retryable and (code is None or finish.code == code)


def failed_retryably(finish: Finish, code: Code | None = None) -> bool:
    """An error report ConductorOne may replay: an action's passing failure (Go reports every action failure
    retryable, spec §3.4; tests/independent/tasks2/test_action_retries.py)."""
    return not finish.ok and not finish.non_retryable and (code is None or finish.code == code)


def task_with_id(task: baton_pb2.Task, task_id: str) -> baton_pb2.Task:
    copy = baton_pb2.Task()
    copy.CopyFrom(task)
    copy.id = task_id
    return copy


def role_users_answer(user: User, role_id: str, *, filtered: bool = False, **attributes: Any) -> dict[str, Any]:
    """A role's users as `POST`/`DELETE /api/v2/roles/{id}/users` answers them (datadog-api.md §5), naming one user who
    holds `role_id`; `attributes` beside the user's email, `filtered` adds `total_filtered_count`."""
    page: dict[str, int] = {"total_count": 1, **({"total_filtered_count": 1} if filtered else {})}
    return {
        "data": [
            {
                "type": "users",
                "id": user.id,
                "attributes": {"email": user.email, **attributes},
                "relationships": {"roles": {"data": [{"type": "roles", "id": role_id}]}},
            }
        ],
        "meta": {"page": page},
    }
