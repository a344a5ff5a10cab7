"""The project's own .proto files are a wire contract with the Go baton SDK and ConductorOne.

* the committed generated code matches the .proto sources;
* every protobuf blob in the golden .c1z fixtures (written by the Go SDK) decodes with our classes, with no
  unknown fields, and re-encodes byte for byte, including every Any annotation;
* every BatonService message has exactly the field names and numbers of docs/spec/service-mode.md §2.
"""

from __future__ import annotations

import importlib
import pkgutil
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import any_pb2, descriptor_pool, message_factory, unknown_fields
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

import connector.baton.pb
from connector.baton.pb.c1.connector.v2 import (
    annotation_grant_pb2,
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.c1z_fixtures import decompressed_db, fixture_paths

ROOT = Path(__file__).resolve().parents[2]
PB_PACKAGE = connector.baton.pb.__name__
TYPE_URL_PREFIX = "type.googleapis.com/"


def _import_all_pb_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(connector.baton.pb.__path__, prefix=f"{PB_PACKAGE}."):
        if info.name.endswith("_pb2"):
            importlib.import_module(info.name)
            names.append(info.name)
    return names


PB_MODULES = _import_all_pb_modules()


def our_message_class(full_name: str) -> type[Message]:
    """The project's generated class for a full message name (e.g. ``c1.connector.v2.UserTrait``)."""
    desc = descriptor_pool.Default().FindMessageTypeByName(full_name)
    assert desc.file.name.startswith("c1/"), f"{full_name} is not one of the project's messages"
    cls = message_factory.GetMessageClass(desc)
    assert cls.__module__.startswith(f"{PB_PACKAGE}."), cls.__module__
    return cls


# ---------------------------------------------------------------------------------------------------------
# 1. Generated code
# ---------------------------------------------------------------------------------------------------------


def test_generated_code_is_not_stale() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_generated_modules_are_importable_under_the_package() -> None:
    assert f"{PB_PACKAGE}.c1.connector.v2.resource_pb2" in PB_MODULES
    assert f"{PB_PACKAGE}.c1.connectorapi.baton.v1.baton_pb2" in PB_MODULES
    assert resource_pb2.Resource.__module__ == f"{PB_PACKAGE}.c1.connector.v2.resource_pb2"
    assert not any(name == "c1" or name.startswith("c1.") for name in sys.modules)


# ---------------------------------------------------------------------------------------------------------
# 2. Golden c1z fixtures
# ---------------------------------------------------------------------------------------------------------


def _walk_messages(msg: Message) -> Iterator[Message]:
    """``msg`` and every message nested in it (singular, repeated and map values), depth first."""
    yield msg
    for field, value in msg.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.message_type is not None:
                for item in value.values():
                    yield from _walk_messages(item)
        elif field.is_repeated:
            for item in value:
                yield from _walk_messages(item)
        else:
            yield from _walk_messages(value)


def _has_map_entries(msg: Message) -> bool:
    return any(
        field.message_type is not None and field.message_type.GetOptions().map_entry
        for node in _walk_messages(msg)
        for field, _ in node.ListFields()
    )


class BlobChecker:
    """Decodes blobs with the project's classes and checks them; counts the Any type URLs it saw."""

    def __init__(self) -> None:
        self.type_urls: Counter[str] = Counter()

    def check_blob(self, cls: type[Message], blob: bytes, where: str, *, any_value: bool = False) -> Message:
        msg = cls()
        msg.ParseFromString(blob)
        encoded = msg.SerializeToString(deterministic=True)
        if any_value and _has_map_entries(msg):
            # Go packs annotations with non-deterministic marshalling (docs/spec/c1z-format.md §2.5), so map
            # entries (e.g. inside a google.protobuf.Struct profile) may be in any order. Everything
            # else must match: same length and same decoded value.
            assert len(encoded) == len(blob), f"{where}: re-encoding changes the size"
            assert cls.FromString(encoded) == msg, f"{where}: re-encoding changes the value"
        else:
            assert encoded == blob, f"{where}: re-encoding differs"
        self._check_tree(msg, where)
        return msg

    def _check_tree(self, msg: Message, where: str) -> None:
        for node in _walk_messages(msg):
            unknown = unknown_fields.UnknownFieldSet(node)
            assert len(unknown) == 0, f"{where}: unknown fields in {node.DESCRIPTOR.full_name}"
            if isinstance(node, any_pb2.Any):
                self._check_any(node, where)

    def _check_any(self, packed: any_pb2.Any, where: str) -> None:
        assert packed.type_url.startswith(TYPE_URL_PREFIX), f"{where}: odd type_url {packed.type_url}"
        full_name = packed.type_url.removeprefix(TYPE_URL_PREFIX)
        self.type_urls[full_name] += 1
        self.check_blob(our_message_class(full_name), packed.value, f"{where} -> {full_name}", any_value=True)


TABLES: dict[str, type[Message]] = {
    "v1_resource_types": resource_pb2.ResourceType,
    "v1_resources": resource_pb2.Resource,
    "v1_entitlements": entitlement_pb2.Entitlement,
    "v1_grants": grant_pb2.Grant,
}


@pytest.mark.parametrize("c1z", fixture_paths(), ids=lambda p: p.name)
def test_every_fixture_blob_decodes_and_reencodes_identically(c1z: Path) -> None:
    checker = BlobChecker()
    rows: Counter[str] = Counter()
    with decompressed_db(c1z) as db_path:
        db = sqlite3.connect(db_path)
        try:
            for table, cls in TABLES.items():
                for rowid, blob in db.execute(f"SELECT id, data FROM {table} ORDER BY id"):
                    checker.check_blob(cls, blob, f"{c1z.name}:{table}#{rowid}")
                    rows[table] += 1
            grant_columns = {row[1] for row in db.execute("PRAGMA table_info(v1_grants)")}
            if "expansion" in grant_columns:
                query = "SELECT id, expansion FROM v1_grants WHERE expansion IS NOT NULL ORDER BY id"
                for rowid, blob in db.execute(query):
                    checker.check_blob(
                        annotation_grant_pb2.GrantExpandable, blob, f"{c1z.name}:v1_grants.expansion#{rowid}"
                    )
                    rows["v1_grants.expansion"] += 1
        finally:
            db.close()

    assert rows["v1_resource_types"] > 0, rows
    assert rows["v1_resources"] > 0, rows
    # Resources carry trait annotations, so every fixture exercises Any unpacking.
    assert checker.type_urls, "no Any annotations found"


def _annotation_types(msg: Message) -> Iterator[str]:
    """The types of the annotations on ``msg`` and on the messages it holds (a grant's entitlement and its resource,
    ...), not looking into the annotations themselves nor into repeated fields."""
    for field, value in msg.ListFields():
        if field.name == "annotations":
            yield from (packed.type_url.removeprefix(TYPE_URL_PREFIX) for packed in value)
        elif field.message_type is not None and not field.is_repeated:
            yield from _annotation_types(value)


def test_fixtures_cover_every_table_and_the_common_annotations() -> None:
    """Together the fixtures hold rows in all four tables and the usual trait/expansion annotations. Each blob is
    checked, every nested message and Any, by the test above, one fixture at a time: here the rows are only decoded
    and their annotations' types counted (checking them all again cost 1.3 of this test's 1.8 CPU-s)."""
    rows: Counter[str] = Counter()
    seen: set[str] = set()
    for c1z in fixture_paths():
        with decompressed_db(c1z) as db_path:
            db = sqlite3.connect(db_path)
            try:
                for table, cls in TABLES.items():
                    for (blob,) in db.execute(f"SELECT data FROM {table}"):
                        seen.update(_annotation_types(cls.FromString(blob)))
                        rows[table] += 1
            finally:
                db.close()
    assert all(rows[table] > 0 for table in TABLES), rows
    assert seen >= {
        "c1.connector.v2.UserTrait",
        "c1.connector.v2.GroupTrait",
        "c1.connector.v2.RoleTrait",
        "c1.connector.v2.ScopeBindingTrait",
        "c1.connector.v2.ChildResourceType",
        "c1.connector.v2.SkipEntitlementsAndGrants",
        "c1.connector.v2.ETag",
        "c1.connector.v2.GrantExpandable",
        "c1.connector.v2.GrantImmutable",
    }, seen


# ---------------------------------------------------------------------------------------------------------
# 3. BatonService wire contract (docs/spec/service-mode.md §2.2 and §2.3)
# ---------------------------------------------------------------------------------------------------------

_B = "c1.connectorapi.baton.v1."
_T = f"{_B}Task."

BATON_FIELDS: dict[str, dict[str, int]] = {
    f"{_B}BatonServiceHelloRequest": {
        "host_id": 1,
        "task_id": 2,
        "build_info": 3,
        "os_info": 4,
        "connector_metadata": 5,
        "annotations": 6,
    },
    f"{_B}BatonServiceHelloRequest.BuildInfo": {"lang_version": 1, "package": 2, "package_version": 3},
    f"{_B}BatonServiceHelloRequest.OSInfo": {
        "hostname": 1,
        "os": 2,
        "platform": 3,
        "platform_version": 4,
        "platform_family": 5,
        "kernel_version": 6,
        "kernel_arch": 7,
        "virtualization_system": 8,
    },
    f"{_B}BatonServiceHelloResponse": {"annotations": 1},
    f"{_B}BatonServiceGetTaskRequest": {"host_id": 1},
    f"{_B}BatonServiceGetTaskResponse": {"task": 1, "next_poll": 2, "next_heartbeat": 3, "annotations": 4},
    f"{_B}BatonServiceGetTasksRequest": {"host_id": 1, "page_size": 2, "known_task_ids": 3, "annotations": 4},
    f"{_B}BatonServiceGetTasksResponse": {"tasks": 1, "next_poll": 2, "next_heartbeat": 3, "annotations": 4},
    f"{_B}BatonServiceHeartbeatRequest": {"host_id": 1, "task_id": 2, "annotations": 3, "task_ids": 4},
    f"{_B}BatonServiceHeartbeatResponse": {
        "next_heartbeat": 1,
        "cancelled": 2,
        "annotations": 3,
        "cancelled_task_ids": 4,
    },
    f"{_B}BatonServiceUploadAssetRequest": {"metadata": 100, "data": 101, "eof": 102},
    f"{_B}BatonServiceUploadAssetRequest.UploadMetadata": {"host_id": 1, "task_id": 2, "annotations": 4},
    f"{_B}BatonServiceUploadAssetRequest.UploadData": {"data": 1},
    f"{_B}BatonServiceUploadAssetRequest.UploadEOF": {"sha256_checksum": 1, "annotations": 2},
    f"{_B}BatonServiceUploadAssetResponse": {"annotations": 1},
    f"{_B}BatonServiceFinishTaskRequest": {"host_id": 1, "task_id": 2, "status": 3, "error": 100, "success": 101},
    f"{_B}BatonServiceFinishTaskRequest.Error": {"non_retryable": 1, "annotations": 2, "response": 3},
    f"{_B}BatonServiceFinishTaskRequest.Success": {"annotations": 1, "response": 2},
    f"{_B}BatonServiceFinishTaskResponse": {"annotations": 1},
    f"{_B}StartDebuggingRequest": {},
    f"{_B}StartDebuggingResponse": {"status": 1},
    f"{_B}Task": {
        "id": 1,
        "status": 2,
        "debug": 3,
        "none": 100,
        "hello": 101,
        "sync_full": 102,
        "grant": 103,
        "revoke": 104,
        "create_account": 105,
        "create_resource": 106,
        "delete_resource": 107,
        "rotate_credentials": 108,
        "event_feed": 109,
        "create_ticket_task": 110,
        "list_ticket_schemas": 111,
        "get_ticket": 112,
        "bulk_create_tickets": 113,
        "bulk_get_tickets": 114,
        "action_list_schemas": 115,
        "action_get_schema": 116,
        "action_invoke": 117,
        "action_status": 118,
        "create_sync_diff": 119,
        "compact_syncs": 120,
        "list_event_feeds": 121,
        "list_events": 122,
        "issue_credential": 123,
    },
    f"{_T}NoneTask": {"annotations": 1},
    f"{_T}HelloTask": {"annotations": 1},
    f"{_T}SyncFullTask": {
        "annotations": 1,
        "skip_expand_grants": 2,
        "skip_entitlements_and_grants": 3,
        "targeted_sync_resources": 4,
        "sync_resource_type_ids": 5,
        "skip_grants": 6,
        "storage_engine": 7,
    },
    f"{_T}EventFeedTask": {"annotations": 1, "start_at": 2},
    f"{_T}ListEventsTask": {"annotations": 1, "cursor": 2, "start_at": 3, "event_feed_id": 4, "page_size": 5},
    f"{_T}ListEventFeedsTask": {"annotations": 1},
    f"{_T}GrantTask": {"entitlement": 1, "principal": 2, "annotations": 3, "duration": 4},
    f"{_T}RevokeTask": {"grant": 1, "annotations": 2},
    f"{_T}CreateAccountTask": {
        "account_info": 1,
        "credential_options": 2,
        "encryption_configs": 3,
        "resource_type_id": 4,
    },
    f"{_T}CreateResourceTask": {"resource": 1},
    f"{_T}DeleteResourceTask": {"resource_id": 1, "parent_resource_id": 2},
    f"{_T}RotateCredentialsTask": {"resource_id": 1, "credential_options": 2, "encryption_configs": 3},
    f"{_T}IssueCredentialTask": {
        "identity_id": 1,
        "credential_options": 2,
        "encryption_configs": 3,
        "expires_at": 4,
    },
    f"{_T}CreateTicketTask": {"ticket_request": 1, "ticket_schema": 2, "annotations": 3},
    f"{_T}BulkCreateTicketsTask": {"ticket_requests": 1},
    f"{_T}BulkGetTicketsTask": {"ticket_requests": 1},
    f"{_T}ListTicketSchemasTask": {"annotations": 1},
    f"{_T}GetTicketTask": {"ticket_id": 1, "annotations": 2},
    f"{_T}ActionListSchemasTask": {"annotations": 1, "resource_type_id": 2},
    f"{_T}ActionGetSchemaTask": {"name": 1, "annotations": 2},
    f"{_T}ActionInvokeTask": {"name": 1, "args": 2, "annotations": 3, "resource_type_id": 4},
    f"{_T}ActionStatusTask": {"name": 1, "id": 2, "annotations": 3},
    f"{_T}CreateSyncDiffTask": {"base_sync_id": 1, "new_sync_id": 2, "annotations": 3},
    f"{_T}CompactSyncs": {"compactable_syncs": 1, "annotations": 2},
    f"{_T}CompactSyncs.CompactableSync": {"file_path": 1, "sync_id": 2},
}


def _all_messages(desc: Descriptor) -> Iterator[Descriptor]:
    yield desc
    for nested in desc.nested_types:
        if not nested.GetOptions().map_entry:
            yield from _all_messages(nested)


def test_baton_field_table_covers_every_baton_message() -> None:
    declared = {
        nested.full_name for top in baton_pb2.DESCRIPTOR.message_types_by_name.values() for nested in _all_messages(top)
    }
    assert declared == set(BATON_FIELDS)


@pytest.mark.parametrize("full_name", sorted(BATON_FIELDS))
def test_baton_message_fields_match_the_spec(full_name: str) -> None:
    desc = descriptor_pool.Default().FindMessageTypeByName(full_name)
    actual = {field.name: field.number for field in desc.fields}
    assert actual == BATON_FIELDS[full_name]


# oneof name -> {field name: (number, message type full name)}
BATON_ONEOFS: dict[str, dict[str, dict[str, tuple[int, str]]]] = {
    f"{_B}Task": {
        "task_type": {
            "none": (100, f"{_T}NoneTask"),
            "hello": (101, f"{_T}HelloTask"),
            "sync_full": (102, f"{_T}SyncFullTask"),
            "grant": (103, f"{_T}GrantTask"),
            "revoke": (104, f"{_T}RevokeTask"),
            "create_account": (105, f"{_T}CreateAccountTask"),
            "create_resource": (106, f"{_T}CreateResourceTask"),
            "delete_resource": (107, f"{_T}DeleteResourceTask"),
            "rotate_credentials": (108, f"{_T}RotateCredentialsTask"),
            "event_feed": (109, f"{_T}EventFeedTask"),
            "create_ticket_task": (110, f"{_T}CreateTicketTask"),
            "list_ticket_schemas": (111, f"{_T}ListTicketSchemasTask"),
            "get_ticket": (112, f"{_T}GetTicketTask"),
            "bulk_create_tickets": (113, f"{_T}BulkCreateTicketsTask"),
            "bulk_get_tickets": (114, f"{_T}BulkGetTicketsTask"),
            "action_list_schemas": (115, f"{_T}ActionListSchemasTask"),
            "action_get_schema": (116, f"{_T}ActionGetSchemaTask"),
            "action_invoke": (117, f"{_T}ActionInvokeTask"),
            "action_status": (118, f"{_T}ActionStatusTask"),
            "create_sync_diff": (119, f"{_T}CreateSyncDiffTask"),
            "compact_syncs": (120, f"{_T}CompactSyncs"),
            "list_event_feeds": (121, f"{_T}ListEventFeedsTask"),
            "list_events": (122, f"{_T}ListEventsTask"),
            "issue_credential": (123, f"{_T}IssueCredentialTask"),
        }
    },
    f"{_B}BatonServiceUploadAssetRequest": {
        "msg": {
            "metadata": (100, f"{_B}BatonServiceUploadAssetRequest.UploadMetadata"),
            "data": (101, f"{_B}BatonServiceUploadAssetRequest.UploadData"),
            "eof": (102, f"{_B}BatonServiceUploadAssetRequest.UploadEOF"),
        }
    },
    f"{_B}BatonServiceFinishTaskRequest": {
        "final_state": {
            "error": (100, f"{_B}BatonServiceFinishTaskRequest.Error"),
            "success": (101, f"{_B}BatonServiceFinishTaskRequest.Success"),
        }
    },
}


@pytest.mark.parametrize("full_name", sorted(BATON_FIELDS))
def test_baton_oneofs_match_the_spec(full_name: str) -> None:
    desc = descriptor_pool.Default().FindMessageTypeByName(full_name)
    actual = {
        oneof.name: {
            field.name: (field.number, field.message_type.full_name if field.message_type else "")
            for field in oneof.fields
        }
        for oneof in desc.oneofs
    }
    assert actual == BATON_ONEOFS.get(full_name, {})


def test_task_status_enum_matches_the_spec() -> None:
    values = {v.name: v.number for v in baton_pb2.Task.DESCRIPTOR.enum_types_by_name["Status"].values}
    assert values == {
        "STATUS_UNSPECIFIED": 0,
        "STATUS_PENDING": 1,
        "STATUS_SCHEDULED": 2,
        "STATUS_RUNNING": 3,
        "STATUS_FINISHED": 4,
    }


def test_baton_service_rpcs_match_the_spec() -> None:
    service = baton_pb2.DESCRIPTOR.services_by_name["BatonService"]
    actual = {
        m.name: (m.input_type.full_name, m.output_type.full_name, m.client_streaming, m.server_streaming)
        for m in service.methods
    }
    assert service.full_name == "c1.connectorapi.baton.v1.BatonService"
    assert actual == {
        "Hello": (f"{_B}BatonServiceHelloRequest", f"{_B}BatonServiceHelloResponse", False, False),
        "GetTask": (f"{_B}BatonServiceGetTaskRequest", f"{_B}BatonServiceGetTaskResponse", False, False),
        "GetTasks": (f"{_B}BatonServiceGetTasksRequest", f"{_B}BatonServiceGetTasksResponse", False, False),
        "Heartbeat": (f"{_B}BatonServiceHeartbeatRequest", f"{_B}BatonServiceHeartbeatResponse", False, False),
        "FinishTask": (
            f"{_B}BatonServiceFinishTaskRequest",
            f"{_B}BatonServiceFinishTaskResponse",
            False,
            False,
        ),
        "UploadAsset": (
            f"{_B}BatonServiceUploadAssetRequest",
            f"{_B}BatonServiceUploadAssetResponse",
            True,
            False,
        ),
        "StartDebugging": (f"{_B}StartDebuggingRequest", f"{_B}StartDebuggingResponse", False, False),
    }


def test_finish_task_status_is_google_rpc_status() -> None:
    field = baton_pb2.BatonServiceFinishTaskRequest.DESCRIPTOR.fields_by_name["status"]
    assert field.message_type is not None
    assert field.message_type.full_name == "google.rpc.Status"
    assert field.type == FieldDescriptor.TYPE_MESSAGE


def test_task_payload_survives_a_wire_round_trip() -> None:
    task = baton_pb2.Task(id="2bX0000000000000000000000000"[:27], debug=True)
    task.grant.principal.id.resource_type = "user"
    task.grant.principal.id.resource = "u1"
    task.grant.entitlement.id = "role:r1:member"
    decoded = baton_pb2.Task.FromString(task.SerializeToString())
    assert decoded.WhichOneof("task_type") == "grant"
    assert decoded == task
