"""A sync of the three secret types against a Datadog whose key listings carry whole secrets where only metadata
belongs (`key`, a `last4` of the whole key, a SAT's `public_portion` as the token, members no model reads): the c1z,
the log and the sync's result never hold one (docs/spec/reference-connector.md §2.1: metadata only; the guide: secrets
never in logs, errors or files). Names missing, null, huge or of another JSON type sync as the spec says or fail
naming where, never quoting what they held."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest

from connector.baton.c1z.reader import C1ZReader
from connector.datadog.errors import DatadogError
from connector.datadog.resources.keys import sat_handle
from tests.fakes.datadog import FakeDatadog
from tests.fakes.datadog.org import AccessToken, APIKey, AppKey, User
from tests.independent.credentials.issuing import robot
from tests.independent.keys.sync import stored_bytes, synced
from tests.independent.writes.conftest import Rig
from tests.independent.writes.wire import edited

CANARY = "ddcanary402f00dfacecafe0badc0ffee0123"
API_KEYS = r"/api/v2/api_keys"
SA_APP_KEYS = r"/api/v2/service_accounts/[^/]+/application_keys"
SA_TOKENS = r"/api/v2/service_accounts/[^/]+/access_tokens"
LISTINGS = (API_KEYS, SA_APP_KEYS, SA_TOKENS)
Events = list[MutableMapping[str, Any]]


def _seed(fake: FakeDatadog) -> tuple[User, APIKey, AppKey, AccessToken]:
    org = fake.org
    sa = robot(fake, "robot-402-sync@example.com")
    api = APIKey(org.new_id(), "ci", org.new_secret(32), org.current_user_id, org.now(), org.now())
    app = AppKey(org.new_id(), "deploy", org.new_secret(40), sa.id, org.now(), scopes=["dashboards_read"])
    token = AccessToken(
        org.new_id(), "pipeline", f"ddsat_{org.new_secret(40)}", org.new_secret(22), sa.id, ["dashboards_read"],
        org.now(),
    )  # fmt: skip
    org.api_keys[api.id], org.app_keys[app.id], org.tokens[token.id] = api, app, token
    return sa, api, app, token


def _each_item(edit: Callable[[dict[str, Any]], None]) -> Callable[[Any], Any]:
    def apply(body: Any) -> Any:
        for item in body.get("data") or []:
            edit(item)
        return body

    return apply


def _hostile_attributes(item: dict[str, Any]) -> None:
    attributes = item.setdefault("attributes", {})
    attributes["key"] = CANARY
    attributes["last4"] = CANARY
    attributes["value"] = CANARY
    attributes["token"] = {"secret": CANARY}
    if item.get("type") == "service_access_tokens":
        attributes["public_portion"] = CANARY
    item.setdefault("meta", {})["secret"] = CANARY
    item.setdefault("relationships", {})["leak_information"] = {"data": {"type": "leaked_keys", "id": CANARY}}


def _nowhere(path: Path, logs: Events, *texts: str) -> None:
    assert CANARY.encode() not in stored_bytes(path)
    assert CANARY.encode("utf-16-le") not in stored_bytes(path)
    rendered = " ".join(repr(event) for event in logs) + " ".join(texts)
    assert CANARY not in rendered


async def test_listings_carrying_whole_secrets_sync_without_any_of_them(rig: Rig, logs: Events, tmp_path: Path) -> None:
    sa, api, app, token = _seed(rig.fake)
    for listing in LISTINGS:
        rig.wire.on("GET", listing, edited(_each_item(_hostile_attributes)), times=100)
    path = tmp_path / "sync.c1z"
    result = await synced(rig, path)
    _nowhere(path, logs, *result.warnings, repr(result.stats))
    with C1ZReader(path) as reader:
        ids = {(r.id.resource_type, r.id.resource) for t in ("api-key", "service-account-application-key",
               "service-account-access-token") for r in reader.resources(t)}  # fmt: skip
    assert ("api-key", api.id) in ids
    assert ("service-account-application-key", app.id) in ids
    assert ("service-account-access-token", sat_handle(sa.id, token.id)) in ids


async def test_the_real_secrets_of_the_org_are_in_no_synced_byte(rig: Rig, logs: Events, tmp_path: Path) -> None:
    """The fake answers its own `key` wherever Datadog would (a create, a key's own GET), never on a list: every one
    of the org's secrets is searched for anyway, as if a listing had leaked it."""
    _seed(rig.fake)
    path = tmp_path / "sync.c1z"
    await synced(rig, path)
    data = stored_bytes(path)
    org = rig.fake.org
    secrets = [k.key for k in org.api_keys.values()] + [k.key for k in org.app_keys.values()]
    secrets += [t.key for t in org.tokens.values()]
    assert secrets
    assert [s for s in secrets if s.encode() in data] == []


NAMES: dict[str, Callable[[dict[str, Any]], None]] = {
    "missing": lambda item: item["attributes"].pop("name", None),
    "null": lambda item: item["attributes"].update(name=None),
    "empty": lambda item: item["attributes"].update(name=""),
}


@pytest.mark.parametrize("listing", LISTINGS)
@pytest.mark.parametrize("name", list(NAMES))
async def test_a_key_without_a_name_is_shown_by_its_id(rig: Rig, tmp_path: Path, listing: str, name: str) -> None:
    """reference-connector.md §2.1: the display name falls back to the id (a SAT's: its token id)."""
    sa, api, app, token = _seed(rig.fake)
    rig.wire.on("GET", listing, edited(_each_item(NAMES[name])), times=100)
    path = tmp_path / "sync.c1z"
    await synced(rig, path)
    expected = {API_KEYS: ("api-key", api.id, api.id), SA_APP_KEYS: ("service-account-application-key", app.id, app.id),
                SA_TOKENS: ("service-account-access-token", sat_handle(sa.id, token.id), token.id)}[listing]  # fmt: skip
    with C1ZReader(path) as reader:
        shown = {r.id.resource: r.display_name for r in reader.resources(expected[0])}
    assert shown[expected[1]] == expected[2]


async def test_a_huge_name_is_kept_whole(rig: Rig, tmp_path: Path) -> None:
    _, api, _, _ = _seed(rig.fake)
    huge = "n" * 200_000
    rig.fake.org.api_keys[api.id].name = huge
    path = tmp_path / "sync.c1z"
    await synced(rig, path)
    with C1ZReader(path) as reader:
        shown = {r.id.resource: r.display_name for r in reader.resources("api-key")}
    assert shown[api.id] == huge


@pytest.mark.parametrize("listing", LISTINGS)
@pytest.mark.parametrize(
    "value", [{"secret": CANARY}, [CANARY], 402], ids=["object-holding-a-secret", "array-holding-a-secret", "number"]
)
async def test_a_name_of_another_json_type_fails_naming_where_never_quoting_it(
    rig: Rig, logs: Events, tmp_path: Path, listing: str, value: object
) -> None:
    _seed(rig.fake)
    rig.wire.on("GET", listing, edited(_each_item(lambda item: item["attributes"].update(name=value))), times=100)
    path = tmp_path / "sync.c1z"
    with pytest.raises(DatadogError) as caught:
        await synced(rig, path)
    message = str(caught.value)
    assert "name" in message, message
    assert CANARY not in message + repr(caught.value)
    assert CANARY not in " ".join(repr(event) for event in logs)


async def test_credentials_just_issued_sync_without_their_secrets(rig: Rig, logs: Events, tmp_path: Path) -> None:
    """The sync after an issuance lists what it minted, by id and name only: none of the minted secrets is in the file
    or the log, though each went out (encrypted) in its task's report."""
    from tests.independent.credentials.issuing import KINDS, issue_task

    sa = robot(rig.fake, "robot-402-issued@example.com")
    before = {k.key for k in rig.fake.org.api_keys.values()} | {k.key for k in rig.fake.org.app_keys.values()}
    before |= {t.key for t in rig.fake.org.tokens.values()}
    for kind in KINDS:
        finish = await rig.run(issue_task(sa.id, kind))
        assert finish.ok, finish
    org = rig.fake.org
    minted = ({k.key for k in org.api_keys.values()} | {k.key for k in org.app_keys.values()}
              | {t.key for t in org.tokens.values()}) - before  # fmt: skip
    assert len(minted) == len(KINDS)
    path = tmp_path / "sync.c1z"
    await synced(rig, path)
    data = stored_bytes(path)
    rendered = " ".join(repr(event) for event in logs)
    assert [m for m in minted if m.encode() in data or m in rendered] == []
    with C1ZReader(path) as reader:
        names = {r.display_name for t in ("api-key", "service-account-application-key", "service-account-access-token")
                 for r in reader.resources(t)}  # fmt: skip
    assert sum(1 for n in names if n.startswith("c1-")) == len(KINDS)


async def test_one_id_shared_by_a_key_an_application_key_and_a_token_is_three_resources(
    rig: Rig, tmp_path: Path
) -> None:
    """Ids are per kind (reference-connector.md §2): the same id under three kinds is three resources, each of its
    type, none taking another's place."""
    org = rig.fake.org
    sa = robot(rig.fake, "robot-402-collide@example.com")
    shared = org.new_id()
    org.api_keys[shared] = APIKey(shared, "api", org.new_secret(32), org.current_user_id, org.now(), org.now())
    org.app_keys[shared] = AppKey(shared, "app", org.new_secret(40), sa.id, org.now())
    org.tokens[shared] = AccessToken(
        shared, "sat", f"ddsat_{org.new_secret(40)}", org.new_secret(22), sa.id, ["a"], org.now()
    )
    path = tmp_path / "sync.c1z"
    await synced(rig, path)
    with C1ZReader(path) as reader:
        found = {
            t: {r.id.resource: r.display_name for r in reader.resources(t)}
            for t in ("api-key", "service-account-application-key", "service-account-access-token")
        }
    assert found["api-key"][shared] == "api"
    assert found["service-account-application-key"][shared] == "app"
    assert found["service-account-access-token"][sat_handle(sa.id, shared)] == "sat"


def _personal(item: dict[str, Any]) -> None:
    item["type"] = "personal_access_tokens"
    item.get("relationships", {}).pop("owned_by", None)


OTHER_TYPES: dict[str, tuple[str, Callable[[dict[str, Any]], None], str]] = {
    "a-persons-token-among-a-service-accounts": (SA_TOKENS, _personal, "service_access_tokens"),
    "an-api-key-among-application-keys": (SA_APP_KEYS, lambda i: i.update(type="api_keys"), "application_keys"),
    "an-application-key-among-api-keys": (API_KEYS, lambda i: i.update(type="application_keys"), "api_keys"),
    "a-token-without-its-type": (SA_TOKENS, lambda i: i.pop("type"), "service_access_tokens"),
}


@pytest.mark.parametrize("case", list(OTHER_TYPES))
async def test_a_listed_item_of_another_type_fails_the_sync(rig: Rig, tmp_path: Path, case: str) -> None:
    """Synced as this kind, its deletion went to this kind's path, where Datadog has no such credential, and the 404
    was a revocation reported done while the credential lived on (credentials.md §4.6; §4.3 step 4 holds the token
    listing to its type for the duplicate check, and the sync reads the same listing)."""
    listing, edit, expected = OTHER_TYPES[case]
    _seed(rig.fake)
    rig.wire.on("GET", listing, edited(_each_item(edit)), times=100)
    with pytest.raises(DatadogError) as caught:
        await synced(rig, tmp_path / "sync.c1z")
    assert f'an item of another type (data[0].type: expected "{expected}")' in str(caught.value), str(caught.value)
