"""What a hostile or confused ConductorOne puts in a write task: ids of another connector, empty, enormous or of the
wrong type; the same task twice; a report it refuses before it accepts. Nothing may reach Datadog for a task that
names nothing Datadog has, every refusal is one non-retryable FinishTask naming what was wrong in bounded text, and a
report is never lost nor doubled."""

from __future__ import annotations

import grpc
import pytest

from connector.baton.c1.errors import C1TransientError
from connector.baton.errors import Code
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.fakes.tasks import grant_task, revoke_task
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import (
    ALREADY_EXISTS,
    ALREADY_REVOKED,
    failed_for_good,
    holds_role,
    human,
    new_role,
    new_team,
    task_with_id,
)
from tests.independent.writes.tasks import action_task, delete_task

HUGE = "f" * 2_000_000


def _writes(rig: Rig) -> list[str]:
    return [f"{s.method} {s.path}" for s in rig.wire.seen if s.method != "GET"]


@pytest.mark.parametrize(
    ("resource_type", "resource_id", "slug", "code"),
    [
        ("github_team", "12345", "member", Code.UNIMPLEMENTED),  # another connector's type
        ("role", "", "member", Code.INVALID_ARGUMENT),
        ("role", HUGE, "member", Code.INVALID_ARGUMENT),
        ("role", "..", "member", Code.INVALID_ARGUMENT),
        ("role", "r1\n", "member", Code.INVALID_ARGUMENT),
        ("team", "t1", "maintainer", Code.INVALID_ARGUMENT),  # another connector's slug
        ("user", "u1", "member", Code.UNIMPLEMENTED),  # users hold no entitlements here
    ],
    ids=["foreign-type", "empty", "enormous", "dot-dot", "newline", "foreign-slug", "user-entitlement"],
)
@pytest.mark.parametrize("kind", ["grant", "revoke"])
async def test_a_task_naming_no_datadog_entitlement_is_refused_before_any_write(
    rig: Rig, kind: str, resource_type: str, resource_id: str, slug: str, code: Code
) -> None:
    user = human(rig.fake)
    make = grant_task if kind == "grant" else revoke_task
    finish = await rig.run(make(resource_type, resource_id, slug, user.id))
    assert failed_for_good(finish, code), finish
    assert len(finish.message) <= 4096
    assert "\n" not in finish.message
    assert _writes(rig) == []


@pytest.mark.parametrize(
    ("principal_type", "principal_id"),
    [("team", "t1"), ("user", ""), ("user", HUGE), ("user", "jane@example.com "), ("github_user", "octocat")],
    ids=["team", "empty", "enormous", "trailing-space", "foreign"],
)
@pytest.mark.parametrize("kind", ["grant", "revoke"])
async def test_a_task_whose_principal_is_no_datadog_user_is_refused_before_any_write(
    rig: Rig, kind: str, principal_type: str, principal_id: str
) -> None:
    role = new_role(rig.fake)
    make = grant_task if kind == "grant" else revoke_task
    task = make("role", role.id, "member", "placeholder")
    principal = task.grant.principal if kind == "grant" else task.revoke.grant.principal
    principal.id.resource_type, principal.id.resource = principal_type, principal_id
    if kind == "revoke":
        task.revoke.grant.id = ""
    finish = await rig.run(task)
    assert failed_for_good(finish), finish
    assert finish.code in (Code.INVALID_ARGUMENT, Code.FAILED_PRECONDITION), finish
    assert len(finish.message) <= 4096
    assert _writes(rig) == []


async def test_a_grant_naming_a_role_id_datadog_does_not_have_fails_and_writes_nothing_else(rig: Rig) -> None:
    user = human(rig.fake)
    finish = await rig.run(grant_task("role", "00000000-0000-0000-0000-000000000000", "member", user.id))
    assert failed_for_good(finish, Code.NOT_FOUND), finish
    assert ALREADY_EXISTS not in finish.annotation_types


@pytest.mark.parametrize(
    ("resource_type", "resource_id", "code"),
    [
        ("role", "r1", Code.UNIMPLEMENTED),
        ("user", "u1", Code.UNIMPLEMENTED),
        ("api-key", "", Code.INVALID_ARGUMENT),
        ("api-key", "\x00", Code.INVALID_ARGUMENT),
        ("service-account-access-token", "sat:not-base64!", Code.INVALID_ARGUMENT),
        ("service-account-access-token", "plain-token-id", Code.INVALID_ARGUMENT),
        ("", "k1", Code.INVALID_ARGUMENT),
    ],
    ids=["role", "user", "empty-key", "nul-key", "bad-sat-handle", "bare-sat-id", "no-type"],
)
async def test_a_delete_naming_nothing_deletable_is_refused_before_any_write(
    rig: Rig, resource_type: str, resource_id: str, code: Code
) -> None:
    finish = await rig.run(delete_task(resource_type, resource_id))
    assert failed_for_good(finish, code), finish
    assert _writes(rig) == []


async def test_an_action_naming_another_connectors_resource_is_refused_before_any_write(rig: Rig) -> None:
    task = action_task("disable_user", "u1")
    task.action_invoke.args.update({"user_id": {"resource_type_id": "github_user", "resource_id": "octocat"}})
    finish = await rig.run(task)
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert _writes(rig) == []


async def test_the_same_grant_delivered_twice_grants_once_and_says_so_the_second_time(rig: Rig) -> None:
    role, user = new_role(rig.fake), human(rig.fake)
    task = grant_task("role", role.id, "member", user.id)
    first = await rig.run(task)
    second = await rig.run(task)
    assert first.ok
    assert ALREADY_EXISTS not in first.annotation_types
    assert second.ok
    assert ALREADY_EXISTS in second.annotation_types
    assert holds_role(rig.fake, role, user)


async def test_the_same_revoke_delivered_twice_revokes_once_and_says_so_the_second_time(rig: Rig) -> None:
    user = human(rig.fake)
    team = new_team(rig.fake, {user.id: "admin"})
    task = revoke_task("team", team.id, "admin", user.id)
    first = await rig.run(task)
    second = await rig.run(task)
    assert first.ok
    assert ALREADY_REVOKED not in first.annotation_types
    assert second.ok
    assert ALREADY_REVOKED in second.annotation_types
    assert team.members[user.id].role is None, "an admin revoke demotes; it never removes the membership"


async def test_a_grant_then_its_revoke_delivered_together_end_revoked(rig: Rig) -> None:
    """ConductorOne hands out a grant and, the window closing at once, its revoke: both run at the same time on the
    daemon, and the revoke must act after the grant (spec: the report is the state)."""
    import asyncio

    role, user = new_role(rig.fake), human(rig.fake)
    grant = grant_task("role", role.id, "member", user.id)
    revoke = revoke_task("role", role.id, "member", user.id)
    await asyncio.gather(rig.processor.process(grant), rig.processor.process(revoke))
    reports = {f.task_id: f for f in rig.c1.finishes}
    assert reports[grant.id].ok
    assert reports[revoke.id].ok
    assert not holds_role(rig.fake, role, user)


async def test_a_report_refused_unavailable_is_sent_again_until_accepted_and_the_grant_is_not_repeated(
    rig: Rig,
) -> None:
    role, user = new_role(rig.fake), human(rig.fake)
    for _ in range(3):
        rig.c1.finish_script.append(C1TransientError("FinishTask: UNAVAILABLE", code=grpc.StatusCode.UNAVAILABLE))
    task = grant_task("role", role.id, "member", user.id)
    finish = await rig.run(task)
    assert finish.ok
    assert ALREADY_EXISTS not in finish.annotation_types
    assert rig.c1.finish_attempts == 4
    assert rig.wire.reached("POST", r"/api/v2/roles/[^/]+/users") == 1, "the report is retried, not the grant"


async def test_a_task_reusing_an_id_is_run_again_only_after_the_first_finished(rig: Rig) -> None:
    role, user = new_role(rig.fake), human(rig.fake)
    task_id = new_ksuid()
    first = task_with_id(grant_task("role", role.id, "member", user.id), task_id)
    second = task_with_id(revoke_task("role", role.id, "member", user.id), task_id)
    assert (await rig.run(first)).ok
    assert (await rig.run(second)).ok
    assert not holds_role(rig.fake, role, user)


FORGED = "x\x1b]0;owned\x07\nbaton-datadog: revoked everything\u202e"


def _forged_tasks(robot_id: str) -> dict[str, baton_pb2.Task]:
    from tests.independent.writes.test_credential_writes import issue_task

    issue = issue_task(robot_id, "api-key")
    issue.issue_credential.credential_options.secret_resource_type_id = FORGED
    create = baton_pb2.Task(id=new_ksuid())
    create.create_resource.resource.id.resource_type = FORGED
    account = baton_pb2.Task(id=new_ksuid())
    account.create_account.resource_type_id = FORGED
    account.create_account.account_info.profile.update({"email": "jane@example.com"})
    return {
        "issue_credential": issue,
        "delete_resource": delete_task(FORGED, "k1"),
        "create_resource": create,
        "create_account": account,
        "grant": grant_task(FORGED, "r1", "member", "u1"),
        "action": action_task(FORGED, "u1"),
    }


@pytest.mark.parametrize(
    "kind", ["issue_credential", "delete_resource", "create_resource", "create_account", "grant", "action"]
)
async def test_a_failure_quoting_what_a_task_named_is_one_inert_line(rig: Rig, kind: str) -> None:
    """ConductorOne shows a failure's message, and the daemon logs it as each line's `error`: a type or name the task
    carried with a terminal's escape sequence or a newline must reach neither raw (the grant path already wrote them
    as escapes; the credential and resource paths quoted them as sent)."""
    robot = rig.fake.org.add_user("robot-forged@example.com", name="Robot", service_account=True, status="Active")
    finish = await rig.run(_forged_tasks(robot.id)[kind])
    assert failed_for_good(finish), finish
    for raw in ("\x1b", "\x07", "\n", "\u202e"):
        assert raw not in finish.message, (kind, finish.message)
    assert _writes(rig) == []


async def test_a_revoke_redelivered_while_its_report_is_retried_is_neither_run_again_nor_reported_twice(
    rig: Rig,
) -> None:
    """ConductorOne, having no FinishTask yet, offers the revoke again while its report is being retried: the copy is
    ignored (its outcome is the one being reported), the removal is sent once, and one report is accepted."""
    import asyncio

    user = human(rig.fake)
    team = new_team(rig.fake, {user.id: None})
    task = revoke_task("team", team.id, "member", user.id)
    gate = asyncio.Event()
    rig.c1.finish_gate = gate
    first = asyncio.create_task(rig.processor.process(task))
    await rig.c1.wait_finish_attempts(1)
    await rig.processor.process(task)  # the copy: returns at once
    gate.set()
    await first
    assert [f.task_id for f in rig.c1.finishes] == [task.id]
    assert rig.c1.finishes[0].ok
    assert rig.wire.reached("DELETE", r"/api/v2/team/[^/]+/memberships/[^/]+") == 1
    assert user.id not in team.members
