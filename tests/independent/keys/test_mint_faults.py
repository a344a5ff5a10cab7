"""Issuance under faults the first suite left alone (docs/spec/credentials.md §3.2 steps 12-14, §4.1-§4.3, §4.7):
Datadog's 429 on the mint, a mint that landed behind a gateway's 429, the rollback's DELETE refused with each status
class, and a fan-out whose second encryption fails after the first succeeded. Whatever happens, the report is final
(non-retryable), no credential is left live without the report naming it, and the secret (a canary put in the mint's
answer) is in no log line and no report."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import pytest

from connector.baton.errors import Code
from connector.datadog.resources.keys import sat_handle
from tests.independent.credentials.issuing import KINDS, MINT_PATHS, credentials, issue_task, robot
from tests.independent.credentials.keys import age_config, age_x25519, ed25519_jwk, jwk_config
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import failed_for_good
from tests.independent.writes.wire import answer, edited, landed_then

CANARY = "ddcanary402mintdeadbeefdeadbeefdeadbeef"
DELETE_PATHS = {
    "api-key": r"/api/v2/api_keys/[^/]+",
    "service-account-application-key": r"/api/v2/service_accounts/[^/]+/application_keys/[^/]+",
    "service-account-access-token": r"/api/v2/service_accounts/[^/]+/access_tokens/[^/]+",
}
ORG_WIDE_APP_KEY = r"/api/v2/application_keys/[^/]+"
RATE_LIMITED = {"errors": ["Too many requests"]}
Events = list[MutableMapping[str, Any]]


def _canary_key(body: dict[str, Any]) -> dict[str, Any]:
    body["data"]["attributes"]["key"] = CANARY
    return body


def _quiet(logs: Events, *texts: str) -> None:
    rendered = " ".join(repr(event) for event in logs) + " ".join(texts)
    assert CANARY not in rendered


@pytest.mark.parametrize("kind", KINDS)
async def test_a_mint_datadog_rate_limits_mints_nothing_and_fails_for_good(rig: Rig, kind: str) -> None:
    """§4.7: 429 is Unavailable; §3.1: every issuance failure is final. Datadog's own 429 refused the create: there is
    nothing to clean up, and a SAT's create is sent exactly once (§4.3 step 5)."""
    before = credentials(rig.fake)
    rig.wire.on("POST", MINT_PATHS[kind], answer(429, RATE_LIMITED), times=50)
    finish = await rig.run(issue_task(robot(rig.fake).id, kind))
    assert failed_for_good(finish, Code.UNAVAILABLE), finish
    assert credentials(rig.fake) == before
    posts = [s for s in rig.wire.seen if s.method == "POST"]
    if kind == "service-account-access-token":
        assert len(posts) == 1, posts


@pytest.mark.parametrize("kind", KINDS)
async def test_a_mint_that_landed_behind_a_gateways_429_is_found_and_deleted(rig: Rig, kind: str) -> None:
    """A 429 without Datadog's error body is no refusal of Datadog's: the create may have landed (here it did)."""
    before = credentials(rig.fake)
    rig.wire.on("POST", MINT_PATHS[kind], landed_then(429, b"<html>slow down</html>", "text/html"))
    task = issue_task(robot(rig.fake).id, kind)
    finish = await rig.run(task)
    assert failed_for_good(finish), finish
    assert credentials(rig.fake) == before
    assert f'"c1-{task.id}"' in finish.message, finish.message


REFUSALS: dict[str, tuple[int, Any]] = {
    "301": (301, {"errors": ["Moved"]}),
    "302-html": (302, "<html>found</html>"),
    "304": (304, b""),
    "400": (400, {"errors": ["Bad Request"]}),
    "401": (401, {"errors": ["Unauthorized"]}),
    "409": (409, {"errors": ["Conflict"]}),
    "429": (429, RATE_LIMITED),
    "500": (500, {"errors": ["Internal Server Error"]}),
    "503-html": (503, "<html>unavailable</html>"),
    "200-html": (200, "<html>deleted?</html>"),
}


def _secretless(body: dict[str, Any]) -> dict[str, Any]:
    body["data"]["attributes"].pop("key")
    return body


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("refusal", list(REFUSALS))
async def test_a_rollback_refused_with_any_status_names_the_credential_left_live(
    rig: Rig, logs: Events, kind: str, refusal: str
) -> None:
    """A mint without a usable secret is deleted again at once (§4.1 step 4); when that DELETE is refused, whatever
    the status, the credential is live and the report names it: never "deleted again"."""
    before = credentials(rig.fake)
    status, body = REFUSALS[refusal]
    rig.wire.on("POST", MINT_PATHS[kind], edited(_secretless))
    content_type = "application/json" if isinstance(body, dict) else "text/html"
    rig.wire.on("DELETE", DELETE_PATHS[kind], answer(status, body, content_type), times=50)
    rig.wire.on("DELETE", ORG_WIDE_APP_KEY, answer(status, body, content_type), times=50)
    finish = await rig.run(issue_task(robot(rig.fake).id, kind))
    assert failed_for_good(finish), finish
    (left,) = credentials(rig.fake) - before
    assert "was deleted again" not in finish.message, finish.message
    assert left in finish.message, finish.message
    _quiet(logs, finish.message)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("refusal", ["409", "500", "302-html", "200-html"])
async def test_an_encryption_failure_whose_rollback_is_refused_names_the_credential(
    rig: Rig, logs: Events, kind: str, refusal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fan-out's second encryption fails after the first succeeded (§2.1: the first failure aborts all, no partial
    list); the task's rollback is refused: the report names the live credential and holds no ciphertext and no
    secret."""
    from connector.baton.crypto import jwk

    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError(f"library failure quoting its input {CANARY}")

    monkeypatch.setattr(jwk, "encrypt", broken)
    before = credentials(rig.fake)
    status, body = REFUSALS[refusal]
    content_type = "application/json" if isinstance(body, dict) else "text/html"
    rig.wire.on("POST", MINT_PATHS[kind], edited(_canary_key))
    rig.wire.on("DELETE", DELETE_PATHS[kind], answer(status, body, content_type), times=50)
    rig.wire.on("DELETE", ORG_WIDE_APP_KEY, answer(status, body, content_type), times=50)
    sa = robot(rig.fake)
    configs = [age_config(age_x25519()), jwk_config(ed25519_jwk())]
    finish = await rig.run(issue_task(sa.id, kind, configs))
    assert failed_for_good(finish), finish
    assert finish.response is None
    (left,) = credentials(rig.fake) - before
    named = sat_handle(sa.id, left) if kind == "service-account-access-token" else left
    assert named in finish.message, finish.message
    assert "was deleted again" not in finish.message, finish.message
    _quiet(logs, finish.message)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_fan_out_whose_second_encryption_fails_deletes_the_credential_and_returns_nothing(
    rig: Rig, logs: Events, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connector.baton.crypto import jwk

    def broken(*args: object, **kwargs: object) -> bytes:
        raise ValueError(CANARY)

    monkeypatch.setattr(jwk, "encrypt", broken)
    before = credentials(rig.fake)
    rig.wire.on("POST", MINT_PATHS[kind], edited(_canary_key))
    configs = [age_config(age_x25519()), jwk_config(ed25519_jwk())]
    finish = await rig.run(issue_task(robot(rig.fake).id, kind, configs))
    assert failed_for_good(finish, Code.UNKNOWN), finish
    assert finish.response is None
    assert credentials(rig.fake) == before
    assert "deleted again" in finish.message, finish.message
    _quiet(logs, finish.message)


async def test_a_deletion_datadog_rate_limits_fails_unavailable(rig: Rig) -> None:
    """The same mapping for a revocation (§4.7, reference-connector.md §5.4: 429 -> Unavailable), the key kept."""
    from tests.independent.writes.tasks import delete_task

    org = rig.fake.org
    key = next(iter(org.api_keys.values()), None)
    if key is None:
        from tests.fakes.datadog.org import APIKey

        key = APIKey(org.new_id(), "ci", org.new_secret(32), org.current_user_id, org.now(), org.now())
        org.api_keys[key.id] = key
    rig.wire.on("DELETE", DELETE_PATHS["api-key"], answer(429, RATE_LIMITED), times=50)
    finish = await rig.run(delete_task("api-key", key.id))
    assert failed_for_good(finish, Code.UNAVAILABLE), finish
    assert key.id in org.api_keys


async def test_any_create_that_landed_behind_a_gateways_429_is_sent_once(rig: Rig) -> None:
    """The sibling of the mint's case for every create (a user here): a gateway's 429 is no proof the create did not
    land, so it is not sent again (a second user, a second invitation email)."""
    from connector.datadog.errors import DatadogError

    rig.wire.on("POST", r"/api/v2/users", landed_then(429, b"<html>slow down</html>", "text/html"))
    with pytest.raises(DatadogError):
        await rig.client.create_user("new-402@example.com", name="New 402")
    assert rig.wire.reached("POST", r"/api/v2/users") == 1
    assert len([u for u in rig.fake.org.users.values() if u.email == "new-402@example.com"]) == 1


async def test_a_create_datadog_itself_rate_limits_is_sent_again(rig: Rig) -> None:
    """Datadog's own 429 (its error body) refused the create: waiting and sending it again makes it once."""
    rig.wire.on("POST", r"/api/v2/users", answer(429, RATE_LIMITED))
    await rig.client.create_user("new-402b@example.com", name="New 402b")
    assert rig.wire.reached("POST", r"/api/v2/users") == 1
    assert len([u for u in rig.fake.org.users.values() if u.email == "new-402b@example.com"]) == 1
