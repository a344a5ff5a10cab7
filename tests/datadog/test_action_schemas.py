"""The action schemas this connector advertises, answered by the baton layer's schema tasks.

The `update_user` schema is docs/spec/credentials.md §5 field for field; `action_list_schemas` filters by
resource type as the SDK's action manager does; `action_get_schema` finds one by name or fails NotFound,
retryably. Field numbers on the wire are checked against bytes written by hand from the proto tables.
"""

from __future__ import annotations

import pytest
from google.protobuf import json_format

from connector.baton.errors import Code
from connector.baton.pb.c1.config.v1 import config_pb2
from connector.baton.pb.c1.connector.v2 import action_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks import action_schemas
from connector.baton.tasks.outcome import TaskError
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions

Task = baton_pb2.Task


def _connector(*, provisioning: bool = True) -> DatadogConnector:
    return DatadogConnector(
        DatadogClient(api_key="k" * 32, app_key="a" * 40), DatadogOptions(provisioning=provisioning)
    )


def _listed(connector: DatadogConnector, resource_type_id: str = "") -> list[action_pb2.BatonActionSchema]:
    task = Task(action_list_schemas=Task.ActionListSchemasTask(resource_type_id=resource_type_id))
    outcome = action_schemas.list_action_schemas(connector, task.action_list_schemas)
    assert isinstance(outcome.response, action_pb2.ListActionSchemasResponse)
    return list(outcome.response.schemas)


def test_update_user_schema_is_the_spec_table() -> None:
    outcome = action_schemas.get_action_schema(_connector(), Task.ActionGetSchemaTask(name="update_user"))
    assert isinstance(outcome.response, action_pb2.GetActionSchemaResponse)
    assert json_format.MessageToDict(outcome.response.schema) == {
        "name": "update_user",
        "displayName": "Update User",
        "description": "Updates a Datadog user's profile. At least one of name, email or title must be provided.",
        "arguments": [
            {
                "name": "user_id",
                "displayName": "User ID",
                "description": "The Datadog user to update.",
                "isRequired": True,
                "resourceIdField": {"rules": {"allowedResourceTypeIds": ["user"]}},
            },
            {
                "name": "name",
                "displayName": "Name",
                "description": "New display name for the user.",
                "stringField": {},
            },
            {
                "name": "email",
                "displayName": "Email",
                "description": "New email address for the user.",
                "stringField": {},
            },
            {
                "name": "title",
                "displayName": "Title",
                "description": "New job title for the user.",
                "stringField": {},
            },
        ],
        "returnTypes": [{"name": "success", "displayName": "Success", "boolField": {}}],
        "actionType": ["ACTION_TYPE_ACCOUNT_UPDATE_PROFILE"],
        "resourceTypeId": "user",
    }


def test_wire_numbers_of_the_schema_fields() -> None:
    # BatonActionSchema.resource_type_id is field 8 (§5); Field.resource_id_field 105 holding
    # ResourceIdField.rules 3 → ResourceIDRules.allowed_resource_type_ids 1; ACTION_TYPE_ACCOUNT_UPDATE_PROFILE 3.
    schema = action_pb2.BatonActionSchema(
        resource_type_id="user", action_type=[action_pb2.ActionType.ACTION_TYPE_ACCOUNT_UPDATE_PROFILE]
    )
    assert schema.SerializeToString() == b"\x3a\x01\x03" + b"\x42\x04user"  # action_type 7 is packed (proto3)
    field = config_pb2.Field(
        resource_id_field=config_pb2.ResourceIdField(
            rules=config_pb2.ResourceIDRules(allowed_resource_type_ids=["user"])
        )
    )
    assert field.SerializeToString() == b"\xca\x06\x08\x1a\x06\x0a\x04user"
    assert config_pb2.Field(string_field=config_pb2.StringField()).SerializeToString() == b"\xa2\x06\x00"
    assert config_pb2.Field(bool_field=config_pb2.BoolField()).SerializeToString() == b"\xb2\x06\x00"


def test_listing_follows_the_sdk_filter_rules() -> None:
    connector = _connector()
    everything = _listed(connector)
    assert [(s.name, s.resource_type_id) for s in everything] == [
        ("disable_user", ""),
        ("enable_user", ""),
        ("update_user", "user"),
    ]
    assert [s.action_type for s in everything[:2]] == [
        [action_pb2.ActionType.ACTION_TYPE_ACCOUNT_DISABLE],
        [action_pb2.ActionType.ACTION_TYPE_ACCOUNT_ENABLE],
    ]
    assert [s.name for s in _listed(connector, "user")] == ["update_user"], "only the actions scoped to users"
    assert _listed(connector, "team") == []
    manager = connector.action_manager()
    assert manager is not None
    assert list(manager.action_names()) == [s.name for s in everything], "every invocable action is listed"


def test_without_provisioning_there_are_no_actions_to_list() -> None:
    assert _listed(_connector(provisioning=False)) == []


@pytest.mark.parametrize("provisioning", [True, False])
def test_an_unknown_action_is_not_found_and_retryable(provisioning: bool) -> None:
    with pytest.raises(TaskError) as failed:
        action_schemas.get_action_schema(_connector(provisioning=provisioning), Task.ActionGetSchemaTask(name="nope"))
    assert failed.value.code == Code.NOT_FOUND
    assert str(failed.value) == "action nope not found"
    assert failed.value.non_retryable is False


async def test_the_processor_hook_answers_both_task_types() -> None:
    connector = _connector()
    listed = await action_schemas.answer(connector, Task(id="t1", action_list_schemas=Task.ActionListSchemasTask()))
    assert isinstance(listed.response, action_pb2.ListActionSchemasResponse)
    got = await action_schemas.answer(
        connector, Task(id="t2", action_get_schema=Task.ActionGetSchemaTask(name="enable_user"))
    )
    assert isinstance(got.response, action_pb2.GetActionSchemaResponse)
    assert got.response.schema.name == "enable_user"
