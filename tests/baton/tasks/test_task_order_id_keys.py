"""Tasks on one access (or one account) run in the order given, whichever spelling of its ids each task uses.

The processor ordered a grant and a revoke of the same access by their ids as bytes, while Datadog takes a UUID in
either case (`connector.datadog.idrules.id_key`): a revoke naming the role and user in upper case ran beside the grant
naming them in lower case, found nothing to remove yet, was reported done, and then the grant landed (access kept,
ConductorOne told it was revoked). The connector says how two ids of one object compare (`IdKeys`); a connector that
does not say has ids equal only as bytes.
"""

from __future__ import annotations

import asyncio

import structlog

from connector.baton.connector import IdKeys
from connector.baton.errors import Code
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks.processor import EVERY_RESOURCE, access_key, order_key
from connector.datadog.connector import DatadogConnector, DatadogOptions
from tests.baton.tasks.stubs import Rig, make_rig
from tests.baton.tasks.test_processor import _action_task, _GatedActions
from tests.fakes.tasks import grant_task, kind_task, revoke_task


def _folding(rig: Rig) -> Rig:
    rig.connector.id_key = lambda resource_type_id, resource_id: resource_id.lower()  # type: ignore[attr-defined]
    assert isinstance(rig.connector, IdKeys)
    return rig


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def _calls_while_the_first_runs(rig: Rig, first: baton_pb2.Task, second: baton_pb2.Task) -> list[str]:
    """The provisioning calls made while `first` is held, then every call once it is let go."""
    rig.connector.provisioning.gate = gate = asyncio.Event()
    running = asyncio.create_task(rig.processor.process(first))
    await rig.connector.provisioning.entered.wait()
    later = asyncio.create_task(rig.processor.process(second))
    await _settle()
    held = list(rig.connector.provisioning.calls)
    gate.set()
    await asyncio.gather(running, later)
    assert [f.ok for f in rig.client.finishes] == [True, True]
    return held


async def test_a_revoke_spelling_the_access_in_another_case_waits_for_the_grant() -> None:
    rig = _folding(make_rig())
    held = await _calls_while_the_first_runs(
        rig, grant_task("role", "ab-12", "member", "u-cd"), revoke_task("role", "AB-12", "member", "U-CD")
    )
    assert held == ["grant"], "the revoke waits"
    assert rig.connector.provisioning.calls == ["grant", "revoke"]


async def test_a_revoke_naming_the_entitlement_by_id_alone_in_another_case_waits_too() -> None:
    rig = _folding(make_rig())
    revoke = revoke_task("team", "AB-12", "admin", "u-cd")
    revoke.revoke.grant.entitlement.ClearField("resource")  # by id alone: `team:AB-12:admin`
    held = await _calls_while_the_first_runs(rig, grant_task("team", "ab-12", "member", "u-cd"), revoke)
    assert held == ["grant"]


async def test_without_the_connectors_key_ids_are_compared_as_bytes() -> None:
    rig = make_rig()
    assert not isinstance(rig.connector, IdKeys)
    held = await _calls_while_the_first_runs(
        rig, grant_task("role", "ab-12", "member", "u-cd"), revoke_task("role", "AB-12", "member", "U-CD")
    )
    assert held == ["grant", "revoke"], "two accesses to this connector: side by side"


async def test_an_action_naming_its_user_in_another_case_waits_for_the_earlier_one() -> None:
    rig = _folding(make_rig())
    manager = _GatedActions()
    rig.connector.action_manager = lambda: manager  # type: ignore[method-assign,assignment]
    first = asyncio.create_task(rig.processor.process(_action_task("enable_user", "u-cd")))
    await manager.entered.wait()
    later = asyncio.create_task(
        rig.processor.process(_action_task("disable_user", {"resource_type_id": "user", "resource_id": "U-CD"}))
    )
    await _settle()
    assert manager.calls == [("enable_user", "u-cd")], "the disable waits"
    manager.gate.set()
    await asyncio.gather(first, later)
    assert manager.calls == [("enable_user", "u-cd"), ("disable_user", "U-CD")]


def test_datadog_compares_the_ids_of_one_access_whatever_their_case() -> None:
    connector = DatadogConnector(None, DatadogOptions())  # type: ignore[arg-type]
    assert isinstance(connector, IdKeys)
    upper = access_key(revoke_task("role", "AB-12", "member", "U-CD"), "revoke", connector.id_key)
    lower = access_key(grant_task("role", "ab-12", "member", "u-cd"), "grant", connector.id_key)
    assert upper == lower is not None


def _issue_task(identity: str) -> baton_pb2.Task:
    task = kind_task("issue_credential")
    task.issue_credential.identity_id.resource_type = "user"
    task.issue_credential.identity_id.resource = identity
    return task


async def test_an_issuance_waits_for_an_action_on_its_identity_and_abandoned_meanwhile_is_retryable() -> None:
    """An issuance is ordered with the actions on its account (the account's state decides it), whatever the case of
    the id. Abandoned at shutdown while it waits it has minted nothing: reported retryable, as any waiting task, not
    as an issuance stopped mid-way (non-retryable, which ConductorOne would never offer again)."""
    rig = _folding(make_rig())
    manager = _GatedActions()
    rig.connector.action_manager = lambda: manager  # type: ignore[method-assign,assignment]
    enable, issue = _action_task("enable_user", "u-cd"), _issue_task("U-CD")
    first = asyncio.create_task(rig.processor.process(enable))
    await manager.entered.wait()
    with structlog.testing.capture_logs() as events:
        waiting = asyncio.create_task(rig.processor.process(issue))
        await _settle()
    assert [e["earlier_task_id"] for e in events if e["event"].startswith("waiting for an earlier task")] == [enable.id]
    rig.processor.abandon_all("the connector is shutting down", finish_within=1.0)
    await asyncio.gather(first, waiting)
    reported = {f.task_id: (f.code, f.non_retryable) for f in rig.client.finishes}
    assert reported == {enable.id: (Code.UNAVAILABLE, False), issue.id: (Code.UNAVAILABLE, False)}


def test_an_access_is_never_in_the_scope_of_deletions_without_an_owner() -> None:
    """A grant naming its entitlement by id alone, of a type spelt `resources`: its key was one of the resources'
    scope, so it waited for every deletion without an owner and every later one waited for it."""
    connector = DatadogConnector(None, DatadogOptions())  # type: ignore[arg-type]
    grant = baton_pb2.Task(id="g1")
    grant.grant.entitlement.id = "resources::member"
    grant.grant.principal.id.resource_type = "user"
    grant.grant.principal.id.resource = "u1"
    key = order_key(grant, "grant", connector)
    assert key is not None
    assert key[0] != EVERY_RESOURCE[0]
