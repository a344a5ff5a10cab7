"""Constructors for action schemas (`c1.connector.v2.BatonActionSchema`) and their argument fields.

A connector describes each action it offers with one schema; ConductorOne lists them with the
`action_list_schemas` task and renders a form from the argument fields (docs/spec/credentials.md §5
is the `update_user` one). Only the field kinds this project's actions use are here.
"""

from __future__ import annotations

from collections.abc import Sequence

from connector.baton.pb.c1.config.v1 import config_pb2
from connector.baton.pb.c1.connector.v2 import action_pb2

ActionType = action_pb2.ActionType


def string_field(name: str, display_name: str, description: str) -> config_pb2.Field:
    """An optional text argument."""
    return config_pb2.Field(
        name=name, display_name=display_name, description=description, string_field=config_pb2.StringField()
    )


def bool_field(name: str, display_name: str) -> config_pb2.Field:
    return config_pb2.Field(name=name, display_name=display_name, bool_field=config_pb2.BoolField())


def resource_id_field(
    name: str, display_name: str, description: str, allowed_types: Sequence[str], *, required: bool = False
) -> config_pb2.Field:
    """An argument naming one resource; ConductorOne sends it as a Struct {resource_type_id, resource_id}."""
    rules = config_pb2.ResourceIDRules(allowed_resource_type_ids=list(allowed_types))
    return config_pb2.Field(
        name=name,
        display_name=display_name,
        description=description,
        is_required=required,
        resource_id_field=config_pb2.ResourceIdField(rules=rules),
    )


def action_schema(
    name: str,
    display_name: str,
    description: str,
    *,
    arguments: Sequence[config_pb2.Field],
    return_types: Sequence[config_pb2.Field],
    action_types: Sequence[action_pb2.ActionType.ValueType],
    resource_type_id: str = "",
) -> action_pb2.BatonActionSchema:
    """`resource_type_id` set makes the action resource-scoped (listed under that type); empty, global."""
    return action_pb2.BatonActionSchema(
        name=name,
        display_name=display_name,
        description=description,
        arguments=list(arguments),
        return_types=list(return_types),
        action_type=list(action_types),
        resource_type_id=resource_type_id,
    )
