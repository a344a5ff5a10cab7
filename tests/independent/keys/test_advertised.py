"""What the connector advertises for credentials (docs/spec/credentials.md §3.5, §3.7) is what it does at run time,
for every combination of the four flags: a type advertising RESOURCE_DELETE deletes its credential, one that does
not refuses and leaves it live; every issuance descriptor issues, a kind without one is refused before anything is
minted; CREDENTIAL_ISSUE (and the X-Wing capability) appear exactly when some kind is offered. A capability advertised
but refused at run time, or a refusal of something never advertised that still acts, is a defect either way."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import cast

import pytest

from connector.baton.connector import Connector
from connector.baton.pb.c1.connector.v2 import connector_pb2
from connector.baton.tasks.full_sync import FullSyncHandler
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.processor import TaskProcessor
from connector.datadog.connector import DatadogConnector, DatadogOptions
from connector.datadog.resources.keys import sat_handle
from tests.baton.tasks.stubs import INSTANT, StubClient
from tests.fakes.datadog.org import AccessToken, APIKey, AppKey
from tests.independent.credentials.issuing import KINDS, credentials, issue_task, robot
from tests.independent.writes.conftest import Rig
from tests.independent.writes.tasks import delete_task

Capability = connector_pb2.Capability
FLAGS = ("provisioning", "sync_secrets", "sync_service_account_application_keys", "allow_org_api_key_deletion")
COMBINATIONS = [dict(zip(FLAGS, values, strict=True)) for values in itertools.product((False, True), repeat=4)]


def _name(flags: dict[str, bool]) -> str:
    return "+".join(k for k, v in flags.items() if v) or "none"


def _processor(rig: Rig, connector: DatadogConnector) -> tuple[TaskProcessor, StubClient]:
    c1 = StubClient()

    async def hello(task_id: str, awaiting: object) -> None:
        return None

    processor = TaskProcessor(
        c1.as_client(),
        Handlers(cast(Connector, connector), provisioning=connector.options.provisioning),
        cast(FullSyncHandler, None),
        hello,
        finish_retry=INSTANT,
    )
    return processor, c1


@pytest.mark.parametrize("flags", COMBINATIONS, ids=[_name(c) for c in COMBINATIONS])
async def test_what_is_advertised_for_credentials_is_what_runs(rig: Rig, flags: dict[str, bool]) -> None:
    options = DatadogOptions(
        provisioning=flags["provisioning"],
        sync_secrets=flags["sync_secrets"],
        sync_service_account_application_keys=flags["sync_service_account_application_keys"],
        allow_org_api_key_deletion=flags["allow_org_api_key_deletion"],
    )
    connector = DatadogConnector(rig.client, options)
    capabilities = connector.metadata().capabilities
    per_type = {entry.resource_type.id: entry for entry in capabilities.resource_type_capabilities}
    processor, c1 = _processor(rig, connector)

    async def run(task: object) -> bool:
        await processor.process(task)  # type: ignore[arg-type]
        (finish,) = [f for f in c1.finishes if f.task_id == task.id]  # type: ignore[attr-defined]
        return finish.ok

    org = rig.fake.org
    sa = robot(rig.fake)
    api = APIKey(org.new_id(), "ci", org.new_secret(32), org.current_user_id, org.now(), org.now())
    app = AppKey(org.new_id(), "deploy", org.new_secret(40), sa.id, org.now())
    token = AccessToken(
        org.new_id(), "pipeline", f"ddsat_{org.new_secret(40)}", org.new_secret(22), sa.id, ["a"], org.now()
    )
    org.api_keys[api.id], org.app_keys[app.id], org.tokens[token.id] = api, app, token
    live: dict[str, tuple[str, Callable[[], bool]]] = {
        "api-key": (api.id, lambda: api.id in org.api_keys),
        "service-account-application-key": (app.id, lambda: app.id in org.app_keys),
        "service-account-access-token": (sat_handle(sa.id, token.id), lambda: token.id in org.tokens),
    }
    for kind, (resource_id, still_there) in live.items():
        entry = per_type.get(kind)
        advertised = entry is not None and Capability.CAPABILITY_RESOURCE_DELETE in entry.capabilities
        ok = await run(delete_task(kind, resource_id))
        assert ok == advertised, f"delete {kind}: advertised={advertised}, succeeded={ok}"
        assert still_there() != advertised, f"delete {kind}: advertised={advertised}, still live={still_there()}"

    user = per_type["user"]
    offered = {d.secret_resource_type_id for d in user.credential_issue.options}
    issues = Capability.CAPABILITY_CREDENTIAL_ISSUE
    xwing = Capability.CAPABILITY_CREDENTIAL_ENCRYPTION_JWE_XWING_V1
    assert (issues in user.capabilities) == bool(offered)
    assert (issues in capabilities.connector_capabilities) == bool(offered)
    assert (xwing in capabilities.connector_capabilities) == bool(offered)
    for kind in KINDS:
        before = credentials(rig.fake)
        ok = await run(issue_task(sa.id, kind))
        assert ok == (kind in offered), f"issue {kind}: advertised={kind in offered}, succeeded={ok}"
        assert (credentials(rig.fake) != before) == (kind in offered)
        # Every kind issued has its revoke path advertised (§3.5: a descriptor's type needs a deleter).
        if kind in offered:
            assert Capability.CAPABILITY_RESOURCE_DELETE in per_type[kind].capabilities
