"""Issuance to identities at the edges (docs/spec/credentials.md §4.1-§4.3): a disabled service account, a person, a
user Datadog does not know; the kinds that need a service account refuse before any mint, the org key (which §4.2
issues to any user, unchecked) is minted. Refusals are final and mint nothing."""

from __future__ import annotations

import pytest

from connector.baton.errors import Code
from tests.independent.credentials.issuing import KINDS, credentials, issue_task
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import failed_for_good, human

NEEDS_A_SERVICE_ACCOUNT = ("service-account-application-key", "service-account-access-token")


@pytest.mark.parametrize("kind", KINDS)
async def test_a_disabled_service_account_gets_only_an_org_key(rig: Rig, kind: str) -> None:
    sa = rig.fake.org.add_user("robot-402-off@example.com", service_account=True, status="Disabled")
    before = credentials(rig.fake)
    finish = await rig.run(issue_task(sa.id, kind))
    if kind in NEEDS_A_SERVICE_ACCOUNT:
        assert failed_for_good(finish, Code.FAILED_PRECONDITION), finish
        assert "is disabled" in finish.message, finish.message
        assert credentials(rig.fake) == before
        assert not [s for s in rig.wire.seen if s.method == "POST"]
    else:
        assert finish.ok, finish


@pytest.mark.parametrize("kind", KINDS)
async def test_a_person_gets_only_an_org_key(rig: Rig, kind: str) -> None:
    person = human(rig.fake)
    before = credentials(rig.fake)
    finish = await rig.run(issue_task(person.id, kind))
    if kind in NEEDS_A_SERVICE_ACCOUNT:
        assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
        assert f'Datadog user "{person.id}" is not a service account' in finish.message, finish.message
        assert credentials(rig.fake) == before
    else:
        assert finish.ok, finish


@pytest.mark.parametrize("kind", NEEDS_A_SERVICE_ACCOUNT)
async def test_a_user_datadog_does_not_know_is_not_found_and_nothing_is_minted(rig: Rig, kind: str) -> None:
    before = credentials(rig.fake)
    ghost = "00000000-0000-4000-8000-000000000402"
    finish = await rig.run(issue_task(ghost, kind))
    assert failed_for_good(finish, Code.NOT_FOUND), finish
    assert finish.message.endswith(f'baton-datadog: Datadog user "{ghost}" not found'), finish.message
    assert credentials(rig.fake) == before
