"""Deleting a credential Datadog says belongs to someone else (docs/spec/credentials.md §4.6): the resource type
names what ConductorOne may revoke (a service account's application key, a service account's token). A key of a
person, or a token of another service account, is no such credential: it stays live whatever id is sent."""

from __future__ import annotations

from connector.baton.errors import Code
from tests.fakes.datadog import FakeDatadog
from tests.fakes.datadog.org import AppKey, User
from tests.independent.credentials.issuing import robot
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import failed_for_good, human
from tests.independent.writes.tasks import delete_task

APP_KEY = "service-account-application-key"


def _app_key(fake: FakeDatadog, owner: User) -> AppKey:
    org = fake.org
    key = AppKey(org.new_id(), "personal laptop", org.new_secret(40), owner.id, org.now())
    org.app_keys[key.id] = key
    return key


async def test_a_persons_application_key_is_not_deleted_as_a_service_accounts(rig: Rig) -> None:
    person = human(rig.fake)
    key = _app_key(rig.fake, person)
    finish = await rig.run(delete_task(APP_KEY, key.id))
    assert failed_for_good(finish, Code.FAILED_PRECONDITION), finish
    assert f'application key "{key.id}" was NOT deleted' in finish.message
    assert "is not a service account" in finish.message
    assert key.id in rig.fake.org.app_keys
    assert rig.wire.reached("DELETE", r"/api/v2/application_keys/.+") == 0


async def test_a_persons_application_key_under_a_service_accounts_parent_is_not_deleted(rig: Rig) -> None:
    person, sa = human(rig.fake), robot(rig.fake)
    key = _app_key(rig.fake, person)
    finish = await rig.run(delete_task(APP_KEY, key.id, parent=("user", sa.id)))
    assert failed_for_good(finish, Code.FAILED_PRECONDITION), finish
    assert key.id in rig.fake.org.app_keys
    assert rig.wire.reached("DELETE", r"/api/v2/application_keys/.+") == 0


async def test_a_disabled_service_accounts_application_key_is_still_deleted(rig: Rig) -> None:
    """Its service-account path answers 404 (the account is disabled), the key lives on: deleted by its id."""
    sa = rig.fake.org.add_user("robot-402-off@example.com", service_account=True, status="Disabled")
    key = _app_key(rig.fake, sa)
    finish = await rig.run(delete_task(APP_KEY, key.id))
    assert finish.ok, finish
    assert key.id not in rig.fake.org.app_keys


async def test_an_application_key_whose_owner_datadog_does_not_know_is_not_deleted(rig: Rig) -> None:
    ghost = rig.fake.org.add_user("robot-402-ghost@example.com", service_account=True, status="Active")
    key = _app_key(rig.fake, ghost)
    del rig.fake.org.users[ghost.id]
    finish = await rig.run(delete_task(APP_KEY, key.id))
    assert failed_for_good(finish, Code.FAILED_PRECONDITION), finish
    assert "is no Datadog user" in finish.message
    assert key.id in rig.fake.org.app_keys


async def test_the_owner_checked_is_the_one_the_keys_lookup_names_last(rig: Rig) -> None:
    """The parent names one service account, the key's first lookup another (a stale answer), its second a person: the
    person's key is not deleted org-wide on the word of an owner whose path was merely the last tried."""
    from tests.independent.writes.wire import edited

    person, parent, stale = human(rig.fake), robot(rig.fake), robot(rig.fake, "robot-402-stale@example.com")
    key = _app_key(rig.fake, person)

    def stale_owner(body: dict[str, object]) -> dict[str, object]:
        body["data"]["relationships"]["owned_by"]["data"]["id"] = stale.id  # type: ignore[index]
        return body

    rig.wire.on("GET", rf"/api/v2/application_keys/{key.id}", edited(stale_owner))
    finish = await rig.run(delete_task(APP_KEY, key.id, parent=("user", parent.id)))
    assert failed_for_good(finish, Code.FAILED_PRECONDITION), finish
    assert f'its owner "{person.id}" is not a service account' in finish.message, finish.message
    assert key.id in rig.fake.org.app_keys
