"""Task handlers for everything but full syncs: grants, revokes, accounts, deletions and actions.

Each turns a Task into a connector call and the connector's answer into the response message ConductorOne
expects (docs/spec/service-mode.md §3.4). None of them talks to ConductorOne; the processor reports the outcome.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from google.protobuf import struct_pb2

from connector.baton.connector import AccountInfo, Connector
from connector.baton.errors import Code
from connector.baton.ids import quoted_id
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connector.v2 import action_pb2, connector_pb2, grant_pb2, resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.printable import printable
from connector.baton.tasks import credentials
from connector.baton.tasks.outcome import Outcome, TaskError

Task = baton_pb2.Task

ACTIONS_REMEMBERED = 1024
"""Actions run by this process whose status an `action_status` task may ask for (`Handlers.action_status`)."""
ACTIONS_REMEMBERED_BYTES = 4 * 1024 * 1024
"""The most their remembered answers hold together: the oldest are forgotten first."""


class Handlers:
    def __init__(self, connector: Connector, *, provisioning: bool) -> None:
        self._connector = connector
        self._provisioning = provisioning
        self._invoked: OrderedDict[str, action_pb2.GetActionStatusResponse] = OrderedDict()
        """The actions run here by the id their `InvokeActionResponse` gave ConductorOne, newest last."""
        self._invoked_bytes = 0

    @property
    def connector(self) -> Connector:
        return self._connector

    def _granted(self) -> str:
        """What a refused grant or revoke adds: the resource types that take them. "resource type 'ROLE' does not
        support grants" (`ROLE:<id>:member` typed by hand, or a type of another connector) read as if roles could not
        be granted, and named none that could."""
        found = [
            type_id
            for syncer in self._connector.syncers()
            if self._connector.provisioner(type_id := syncer.resource_type().id) is not None
        ]
        return f" (those that do: {', '.join(found)})" if found else ""

    def _require_provisioning(self) -> None:
        if not self._provisioning:
            raise TaskError(Code.FAILED_PRECONDITION, "provisioning is not enabled (set BATON_PROVISIONING=true)")

    async def grant(self, task: Task.GrantTask) -> Outcome:
        self._require_provisioning()
        if not task.HasField("entitlement") or not task.HasField("principal"):
            raise TaskError(Code.INVALID_ARGUMENT, "malformed grant task: entitlement and principal are required")
        type_id = task.entitlement.resource.id.resource_type
        provisioner = self._connector.provisioner(type_id)
        if provisioner is None:
            raise TaskError(
                Code.UNIMPLEMENTED, f"resource type {quoted_id(type_id)} does not support grants{self._granted()}"
            )
        result = await provisioner.grant(task.principal, task.entitlement)
        response = grant_pb2.GrantManagerServiceGrantResponse(grants=result.grants, annotations=result.annotations)
        return Outcome(response=response, annotations=list(result.annotations))

    async def revoke(self, task: Task.RevokeTask) -> Outcome:
        self._require_provisioning()
        if not task.HasField("grant") or not task.grant.HasField("entitlement"):
            raise TaskError(Code.INVALID_ARGUMENT, "malformed revoke task: grant with entitlement is required")
        type_id = task.grant.entitlement.resource.id.resource_type
        provisioner = self._connector.provisioner(type_id)
        if provisioner is None:
            raise TaskError(
                Code.UNIMPLEMENTED, f"resource type {quoted_id(type_id)} does not support revokes{self._granted()}"
            )
        annotations = await provisioner.revoke(task.grant)
        response = grant_pb2.GrantManagerServiceRevokeResponse(annotations=annotations)
        return Outcome(response=response, annotations=annotations)

    async def create_account(self, task: Task.CreateAccountTask) -> Outcome:
        self._require_provisioning()
        manager = self._connector.account_manager()
        if manager is None:
            raise TaskError(Code.UNIMPLEMENTED, "this connector does not create accounts")
        if not task.HasField("account_info"):
            raise TaskError(Code.INVALID_ARGUMENT, "malformed create_account task: account_info is required")
        if task.resource_type_id and not _creates_accounts(self._connector, task.resource_type_id):
            # An account of a type the connector never offered to create: its account manager makes one kind (a
            # Datadog user), and made that whatever type was asked for.
            raise TaskError(
                Code.UNIMPLEMENTED, f"resource type {task.resource_type_id[:100]!r} does not have account creation"
            )
        # On a worker thread: a peer's profile and emails of any size up to the receive limit are read value by value
        # (three million numbers were 1.5 s of CPU on the event loop, with no /healthz answer or heartbeat meanwhile).
        result = await manager.create_account(await asyncio.to_thread(_account_info, task.account_info))
        response = resource_pb2.CreateAccountResponse(annotations=result.annotations)
        if result.action_required:
            response.action_required.resource.CopyFrom(result.resource)
            response.action_required.message = result.message
            response.action_required.is_create_account_result = True
        else:
            response.success.resource.CopyFrom(result.resource)
            response.success.is_create_account_result = True
        return Outcome(response=response, annotations=list(result.annotations))

    async def delete_resource(self, task: Task.DeleteResourceTask) -> Outcome:
        self._require_provisioning()
        return await credentials.delete_resource(self._connector, task)

    async def create_resource(self, task: Task.CreateResourceTask) -> Outcome:
        """docs/spec/service-mode.md §3.4: CreateResource, every error non-retryable. No connector of this layer
        creates resources, so the answer is Go's builder's for a type without a resource manager. It was "unsupported
        task type", retryable: ConductorOne would re-offer a creation no version of this connector can do."""
        if not task.HasField("resource"):
            raise TaskError(Code.INVALID_ARGUMENT, "malformed create resource task")
        self._require_provisioning()
        type_id = printable(task.resource.id.resource_type[:100])
        raise TaskError(Code.UNIMPLEMENTED, f"resource type {type_id} does not have resource Create() configured")

    async def rotate_credentials(self, task: Task.RotateCredentialsTask) -> Outcome:
        """docs/spec/service-mode.md §3.4: RotateCredential, every error non-retryable. No connector of this layer
        rotates credentials (Datadog has no rotation: docs/spec/credentials.md §3.4), so the answer is Go's builder's
        for a type without a credential manager. It was "unsupported task type", retryable: ConductorOne would
        re-offer a rotation no version of this connector can do."""
        if not task.HasField("resource_id"):
            raise TaskError(Code.INVALID_ARGUMENT, "malformed rotate credentials task")
        self._require_provisioning()
        raise TaskError(Code.UNIMPLEMENTED, "resource type does not have credential manager configured")

    async def issue_credential(self, task_id: str, task: Task.IssueCredentialTask) -> Outcome:
        self._require_provisioning()
        return await credentials.issue_credential(self._connector, task_id, task)

    def disables_account(self, action_name: str) -> bool:
        """Whether the named action is an account disable (ACTION_TYPE_ACCOUNT_DISABLE): its failure leaves an
        account ConductorOne wants off with all its access, as a failed revoke leaves a grant."""
        manager = self._connector.action_manager()
        disable = action_pb2.ActionType.ACTION_TYPE_ACCOUNT_DISABLE
        return manager is not None and any(
            schema.name == action_name and disable in schema.action_type for schema in manager.action_schemas()
        )

    async def invoke_action(self, task: Task.ActionInvokeTask) -> Outcome:
        # Go's handler refuses these before it calls the connector (`pkg/tasks/c1api/actions.go`), in these words and
        # retryable, as it refuses a schema read without a name: an invocation without a name was "unknown action ''",
        # final, and one without args ran with none.
        if not task.name:
            raise TaskError(Code.UNKNOWN, "action name required", non_retryable=False)
        if not task.HasField("args"):
            raise TaskError(Code.UNKNOWN, "args required", non_retryable=False)
        self._require_provisioning()
        manager = self._connector.action_manager()
        if manager is None or task.name not in manager.action_names():
            known = ", ".join(manager.action_names()) if manager is not None else ""
            raise TaskError(
                Code.UNIMPLEMENTED,
                f"unknown action {quoted_id(task.name)} ({f'the actions: {known}' if known else 'none'})",
            )
        if task.resource_type_id:
            # The SDK's action manager looks a typed invocation up among the actions scoped to that type (as the
            # listing filters by it): an action scoped to another type is not found there, and it ran anyway. A global
            # action invoked with a type still runs (disable_user is offboarding; refusing it on a label is worse).
            scope = next((sc.resource_type_id for sc in manager.action_schemas() if sc.name == task.name), "")
            if scope and scope != task.resource_type_id:
                raise TaskError(
                    Code.UNIMPLEMENTED,
                    f"action {task.name!r} not found for resource type {task.resource_type_id[:100]!r}",
                )
        result = await manager.invoke_action(task.name, task.args)
        # Actions run to completion before the task is reported, so the status is COMPLETE; a failed action
        # raised above and is reported as an error (the SDK drops a FAILED response the same way, §3.4).
        response = action_pb2.InvokeActionResponse(
            id=new_ksuid(),
            name=task.name,
            status=action_pb2.BatonActionStatus.BATON_ACTION_STATUS_COMPLETE,
            response=result.response,
            annotations=result.annotations,
        )
        self._remember(response)
        return Outcome(response=response, annotations=result.annotations)

    def _remember(self, invoked: action_pb2.InvokeActionResponse) -> None:
        """Keep what `action_status` answers of an action run here, within ACTIONS_REMEMBERED and
        ACTIONS_REMEMBERED_BYTES (the SDK's action manager keeps every action it ran for the life of the process)."""
        status = action_pb2.GetActionStatusResponse(
            name=invoked.name,
            id=invoked.id,
            status=invoked.status,
            annotations=invoked.annotations,
            response=invoked.response,
        )
        size = status.ByteSize()
        if size > ACTIONS_REMEMBERED_BYTES:
            return
        self._invoked[invoked.id] = status
        self._invoked_bytes += size
        while len(self._invoked) > ACTIONS_REMEMBERED or self._invoked_bytes > ACTIONS_REMEMBERED_BYTES:
            _, forgotten = self._invoked.popitem(last=False)
            self._invoked_bytes -= forgotten.ByteSize()

    async def action_status(self, task: Task.ActionStatusTask) -> Outcome:
        """docs/spec/service-mode.md §3.4: the status of an action by the id its invocation's answer gave, as the SDK's
        action manager answers it (its name, status and result); retryable failures, in Go's words. It was
        "unsupported task type", as if this connector ran no actions."""
        if not task.id:
            raise TaskError(Code.UNKNOWN, "action id required", non_retryable=False)
        status = self._invoked.get(task.id)
        if status is None:
            # Not run by this process (one restarted since forgets what it ran, as Go's does), or never run.
            # Go's words (`action id %s not found`); the id made printable, as every peer text this layer repeats.
            raise TaskError(Code.NOT_FOUND, f"action id {printable(task.id[:128])} not found", non_retryable=False)
        answer = action_pb2.GetActionStatusResponse()
        answer.CopyFrom(status)
        return Outcome(response=answer)


def _creates_accounts(connector: Connector, resource_type_id: str) -> bool:
    """Whether the connector advertises account provisioning (CAPABILITY_ACCOUNT_PROVISIONING) for the type."""
    provisioning = connector_pb2.Capability.CAPABILITY_ACCOUNT_PROVISIONING
    return any(
        entry.resource_type.id == resource_type_id and provisioning in entry.capabilities
        for entry in connector.metadata().capabilities.resource_type_capabilities
    )


def _account_info(info: resource_pb2.AccountInfo) -> AccountInfo:
    """What the task asks for, as the connector takes it."""
    return AccountInfo(
        # The primary address first (a stable sort keeps the rest in order): a connector that takes the first email
        # took whichever ConductorOne listed first.
        emails=[e.address for e in sorted(info.emails, key=lambda e: not e.is_primary)],
        login=info.login,
        profile=_plain_struct(info.profile) if info.HasField("profile") else {},
    )


def _plain_struct(struct: struct_pb2.Struct) -> dict[str, object]:
    """A task's Struct as plain Python values, whatever it holds. `json_format.MessageToDict` raises ValueError on a
    NaN or infinite number (JSON cannot carry them), so a profile with one failed the task as an internal error with
    a traceback; a connector reads what it needs from this and names what is wrong with it (Go hands it the Struct
    as is)."""
    return {key: _plain_value(value) for key, value in struct.fields.items()}


def _plain_value(value: struct_pb2.Value) -> object:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return _plain_struct(value.struct_value)
    if kind == "list_value":
        return [_plain_value(item) for item in value.list_value.values]
    if kind in ("number_value", "string_value", "bool_value"):
        return getattr(value, kind)
    return None  # null_value, or no kind set
