"""Every task kind the daemon runs, valid protobuf whose fields say odd things: each string field of its payload in
turn set to a NUL, a CR/LF, a non-ASCII or a very long value, and unknown annotation types beside them. Each ends in
exactly one FinishTask, never an unexpected error (a traceback), its message one bounded line; one whose odd field is
an id that names what to change sends no write to Datadog."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any, cast

import pytest
import structlog
from google.protobuf import any_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from connector.baton.pb.c1.connector.v2 import grant_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.fakes.tasks import grant_task, kind_task, revoke_task
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import human, new_role, new_team
from tests.independent.writes.tasks import action_task, delete_task
from tests.independent.writes.test_credential_writes import issue_task

ODD = {"nul": "a\x00b", "crlf": "a\r\nb", "non-ascii": "r\u00f4le-\u0661\u200b", "long": "x" * 100_000}
NAMING = {"id", "resource", "resource_type", "resource_type_id", "slug", "name", "secret_resource_type_id"}
"""Fields that name what a task changes: an odd value there may never reach Datadog."""
SKIPPED = {"google.protobuf.Any", "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.Timestamp"}
UNKNOWN_ANNOTATION = any_pb2.Any(type_url="type.googleapis.com/nobody.Knows", value=b"\x08\x01")
UNEXPECTED = "task handler raised an unexpected error"


def _base_tasks(rig: Rig) -> dict[str, baton_pb2.Task]:
    user, role, team = human(rig.fake), new_role(rig.fake), new_team(rig.fake)
    account = baton_pb2.Task()
    account.create_account.account_info.profile.update({"email": "odd-108@example.com", "name": "Odd"})
    account.create_account.account_info.login = "odd-108@example.com"
    created = kind_task("create_resource")
    created.create_resource.resource.id.resource_type, created.create_resource.resource.id.resource = "role", "x"
    rotated = kind_task("rotate_credentials")
    rotated.rotate_credentials.resource_id.resource_type, rotated.rotate_credentials.resource_id.resource = "user", "u"
    robot = rig.fake.org.add_user("robot-odd@example.com", name="Robot", service_account=True, status="Active")
    schema = kind_task("action_get_schema")
    schema.action_get_schema.name = "disable_user"
    schemas = kind_task("action_list_schemas")
    schemas.action_list_schemas.resource_type_id = "user"
    return {
        "action_get_schema": schema,
        "action_list_schemas": schemas,
        "grant-role": grant_task("role", role.id, "member", user.id),
        "revoke-role": revoke_task("role", role.id, "member", user.id),
        "grant-team": grant_task("team", team.id, "admin", user.id),
        "revoke-team": revoke_task("team", team.id, "member", user.id),
        "create_account": account,
        "delete_resource": delete_task("api-key", "k-odd"),
        "action_invoke": action_task("disable_user", user.id),
        "create_resource": created,
        "rotate_credentials": rotated,
        "issue_credential": issue_task(robot.id, "service-account-application-key"),
    }


def _string_fields(message: Message, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """(path, field name) of every singular string field reachable in `message`, its set sub-messages walked."""
    for field in cast(list[FieldDescriptor], message.DESCRIPTOR.fields):
        if field.is_repeated:
            continue
        if field.type == FieldDescriptor.TYPE_STRING:
            yield path, field.name
        elif _walked(field) and message.HasField(field.name):
            yield from _string_fields(getattr(message, field.name), (*path, field.name))


def _type_name(field: FieldDescriptor) -> str:
    return field.message_type.full_name if field.message_type is not None else ""


def _walked(field: FieldDescriptor) -> bool:
    """A sub-message walked for string fields: not a well-known type's (its strings are no task's fields)."""
    return field.type == FieldDescriptor.TYPE_MESSAGE and _type_name(field) not in SKIPPED


def _at(message: Message, path: tuple[str, ...]) -> Message:
    for name in path:
        message = getattr(message, name)
    return message


def _with_unknown_annotations(message: Message) -> None:
    """An annotation of a type nobody knows in every `annotations` list of the payload."""
    for field, value in message.ListFields():
        if field.name == "annotations" and _type_name(field) == "google.protobuf.Any":
            value.append(UNKNOWN_ANNOTATION)
        elif _walked(field):
            for item in value if field.is_repeated else [value]:
                _with_unknown_annotations(item)


def _writes(rig: Rig) -> list[str]:
    return [f"{s.method} {s.path}" for s in rig.wire.seen if s.method != "GET"]


@pytest.mark.parametrize("odd", sorted(ODD))
async def test_every_string_field_of_every_task_kind_set_odd_ends_in_one_report_and_no_traceback(
    rig: Rig, odd: str
) -> None:
    tried = 0
    for kind, base in _base_tasks(rig).items():
        payload_name = base.WhichOneof("task_type")
        assert payload_name is not None
        for path, name in list(_string_fields(getattr(base, payload_name))):
            task = baton_pb2.Task()
            task.CopyFrom(base)
            task.id = f"{tried:027d}"
            payload = getattr(task, payload_name)
            _with_unknown_annotations(payload)
            setattr(_at(payload, path), name, ODD[odd])
            rig.wire.seen.clear()
            where = ".".join((kind, *path, name))
            with structlog.testing.capture_logs() as events:
                finish = await rig.run(task)
            _no_traceback(events, where)
            assert "\n" not in finish.message, (where, finish.message)
            assert "\x00" not in finish.message, (where, finish.message)
            assert len(finish.message) <= 4096, where
            if name in NAMING and not finish.ok:
                assert _writes(rig) == [], (where, finish.message)
            tried += 1
    assert tried > 40


def _no_traceback(events: list[MutableMapping[str, Any]], where: str) -> None:
    assert not [e for e in events if e["event"] == UNEXPECTED or "exc_info" in e], where


async def test_a_task_whose_payload_oneof_is_set_twice_on_the_wire_runs_the_last_as_protobuf_reads_it(
    rig: Rig,
) -> None:
    """Protobuf keeps the last member of a oneof seen on the wire (Go's decoder too): a grant then a revoke under one
    id is the revoke, everywhere the daemon reads the task (its kind, its log fields, its report). The grant is never
    applied."""
    user, role = human(rig.fake), new_role(rig.fake)
    rig.fake.org.assign_role(user.id, role.id)
    grant, revoke = grant_task("role", role.id, "member", user.id), revoke_task("role", role.id, "member", user.id)
    revoke.id = grant.id
    task = baton_pb2.Task.FromString(grant.SerializeToString() + revoke.SerializeToString())
    assert task.WhichOneof("task_type") == "revoke"
    finish = await rig.run(task)
    assert finish.ok, finish
    assert isinstance(finish.response, grant_pb2.GrantManagerServiceRevokeResponse)
    assert _writes(rig) == [f"DELETE /api/v2/roles/{role.id}/users"]
    assert user.id not in rig.fake.org.role_members.get(role.id, {})


async def test_a_principal_sent_twice_is_merged_as_protobuf_merges_it_and_its_type_is_checked_after(rig: Rig) -> None:
    """A message field seen twice on the wire is merged, not replaced: the second principal's type over the first's
    id names a team by a user's id. Refused as a principal no Datadog role can hold, before any write."""
    user, role = human(rig.fake), new_role(rig.fake)
    task = grant_task("role", role.id, "member", user.id)
    second = baton_pb2.Task()
    second.grant.principal.id.resource_type = "team"
    merged = baton_pb2.Task.FromString(task.SerializeToString() + second.SerializeToString())
    assert (merged.grant.principal.id.resource_type, merged.grant.principal.id.resource) == ("team", user.id)
    finish = await rig.run(merged)
    assert not finish.ok, finish
    assert finish.non_retryable
    assert "not to a principal of type 'team'" in finish.message
    assert _writes(rig) == []
