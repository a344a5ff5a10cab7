"""`delete_resource` of each credential kind with ids a hostile ConductorOne sends (docs/spec/credentials.md §3.4,
§4.6): malformed ids, ids no request path can hold, another kind's ids, SAT handles bent one rule at a time. A
refused id leaves the credential live and reaches no Datadog endpoint; a 404 is success exactly where §4.6 says, and
nothing else that looks like one is."""

from __future__ import annotations

import base64

import pytest

from connector.baton.errors import Code
from connector.datadog.resources.keys import sat_handle
from tests.fakes.datadog import FakeDatadog
from tests.fakes.datadog.org import AccessToken, APIKey, AppKey, User
from tests.independent.credentials.issuing import robot
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import failed_for_good
from tests.independent.writes.tasks import delete_task
from tests.independent.writes.wire import answer

MALFORMED_HANDLE = "error: delete resource failed: baton-datadog: malformed service access token handle"


def _token(fake: FakeDatadog, owner: User, token_id: str | None = None) -> AccessToken:
    org = fake.org
    token = AccessToken(
        id=token_id or org.new_id(),
        name="c1-hand-made",
        key=f"ddsat_{org.new_secret(48)}",
        public_portion=org.new_secret(22),
        owner_id=owner.id,
        scopes=["dashboards_read"],
        created_at=org.now(),
    )
    org.tokens[token.id] = token
    return token


def _app_key(fake: FakeDatadog, owner: User) -> AppKey:
    org = fake.org
    key = AppKey(org.new_id(), "c1-hand-made", org.new_secret(40), owner.id, org.now())
    org.app_keys[key.id] = key
    return key


def _api_key(fake: FakeDatadog) -> APIKey:
    org = fake.org
    key = APIKey(org.new_id(), "c1-hand-made", org.new_secret(32), org.current_user_id, org.now(), org.now())
    org.api_keys[key.id] = key
    return key


def _raw(data: bytes) -> str:
    return "sat:" + base64.urlsafe_b64encode(data).decode().rstrip("=")


def _bent_handles(sa: str, token: str) -> dict[str, str]:
    good = sat_handle(sa, token)
    body = good[4:]
    return {
        "upper-case-prefix": "SAT:" + body,
        "space-after-prefix": "sat: " + body,
        "trailing-space": good + " ",
        "padded": "sat:" + base64.urlsafe_b64encode(f"{sa}\x00{token}".encode()).decode(),
        "std-alphabet": "sat:" + base64.b64encode(b"\xfb\xff\x00\xfe").decode().rstrip("="),
        "length-4n+1": good + "A" * (5 - len(body) % 4 if len(body) % 4 != 1 else 4),
        "prefix-only": "sat:",
        "no-nul": _raw(f"{sa}{token}".encode()),
        "two-nuls": _raw(f"{sa}\x00{token}\x00".encode()),
        "empty-service-account": _raw(f"\x00{token}".encode()),
        "empty-token": _raw(f"{sa}\x00".encode()),
        "blank-token-by-go": _raw(f"{sa}\x00\u3000".encode()),
        "nel-token": _raw(f"{sa}\x00\u0085".encode()),
        "control-in-token": _raw(f"{sa}\x00{token}\x1b".encode()),
        "del-in-service-account": _raw(f"{sa}\x7f\x00{token}".encode()),
        "not-utf-8": _raw(sa.encode() + b"\x00\xff\xfe"),
        "dot-dot-token": _raw(f"{sa}\x00..".encode()),
        "dot-service-account": _raw(f".\x00{token}".encode()),
        "token-id-over-1024": _raw(f"{sa}\x00{'t' * 1100}".encode()),
        "a-bare-token-id": token,
        "tab-inside": good[:10] + "\t" + good[10:],
    }


@pytest.mark.parametrize(
    "bent",
    list(_bent_handles("00000000-0000-4000-8000-0000000000aa", "11111111-1111-4111-8111-1111111111bb")),
)
async def test_a_bent_sat_handle_is_refused_and_the_token_stays_live(rig: Rig, bent: str) -> None:
    sa = robot(rig.fake)
    token = _token(rig.fake, sa)
    handle = _bent_handles(sa.id, token.id)[bent]
    finish = await rig.run(delete_task("service-account-access-token", handle))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    if bent not in ("dot-dot-token", "dot-service-account", "token-id-over-1024"):
        # §4.6's own refusal; a part that is well formed to §4.6 but no path can hold is the client's refusal.
        assert finish.message == MALFORMED_HANDLE
    assert token.id in rig.fake.org.tokens
    assert rig.wire.seen == []


async def test_a_sat_handle_with_line_breaks_inside_names_the_same_token_as_in_go(rig: Rig) -> None:
    """§4.6: Go's decoder skips CR and LF."""
    sa = robot(rig.fake)
    token = _token(rig.fake, sa)
    good = sat_handle(sa.id, token.id)
    finish = await rig.run(delete_task("service-account-access-token", good[:12] + "\r\n" + good[12:] + "\n"))
    assert finish.ok, finish
    assert token.id not in rig.fake.org.tokens


async def test_a_sat_handle_with_non_canonical_trailing_bits_names_the_same_token_as_in_go(rig: Rig) -> None:
    """Go's RawURLEncoding is not strict: the unused low bits of the last character are ignored, as here."""
    sa = robot(rig.fake)
    token = _token(rig.fake, sa, token_id="t")  # "sa-id\0t": a length whose last character carries unused bits
    good = sat_handle(sa.id, token.id)
    assert len(good[4:]) % 4 in (2, 3)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    bent = good[:-1] + alphabet[alphabet.index(good[-1]) + 1]
    assert bent != good
    finish = await rig.run(delete_task("service-account-access-token", bent))
    assert finish.ok, finish
    assert token.id not in rig.fake.org.tokens


MALFORMED_IDS = {
    "empty-after-go-trim": "\u3000\u00a0",
    "nel-alone": "\u0085",
    "nul-inside": "abc\x00def",
    "escape": "\x1b[2Jabc",
    "del": "abc\x7f",
    "newline": "abc\ndef",
}


@pytest.mark.parametrize("name", list(MALFORMED_IDS))
async def test_a_malformed_org_key_id_is_refused_with_the_specs_message(rig: Rig, name: str) -> None:
    key = _api_key(rig.fake)
    finish = await rig.run(delete_task("api-key", MALFORMED_IDS[name]))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert finish.message.startswith('error: delete resource failed: baton-datadog: API key id "')
    assert finish.message.endswith('" is malformed')
    assert key.id in rig.fake.org.api_keys
    assert rig.wire.seen == []


@pytest.mark.parametrize("name", list(MALFORMED_IDS))
async def test_a_malformed_app_key_id_is_refused(rig: Rig, name: str) -> None:
    sa = robot(rig.fake)
    key = _app_key(rig.fake, sa)
    finish = await rig.run(delete_task("service-account-application-key", MALFORMED_IDS[name], parent=("user", sa.id)))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert "application key id" in finish.message
    assert "is malformed" in finish.message
    assert key.id in rig.fake.org.app_keys
    assert rig.wire.seen == []


UNPATHABLE = {"dot": ".", "dot-dot": "..", "over-1024": "k" * 1025}


@pytest.mark.parametrize("name", list(UNPATHABLE))
@pytest.mark.parametrize("kind", ["api-key", "service-account-application-key"])
async def test_an_id_no_request_path_can_hold_is_refused_before_any_request(rig: Rig, name: str, kind: str) -> None:
    """`..` percent-encoded is still `..`: the URL would name the collection (`DELETE /api/v2/api_keys`)."""
    sa = robot(rig.fake)
    finish = await rig.run(delete_task(kind, UNPATHABLE[name], parent=("user", sa.id)))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert rig.wire.seen == []


async def test_an_app_key_whose_parent_owner_is_malformed_is_refused_without_a_delete(rig: Rig) -> None:
    sa = robot(rig.fake)
    key = _app_key(rig.fake, sa)
    finish = await rig.run(delete_task("service-account-application-key", key.id, parent=("user", "sa\x00x")))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert key.id in rig.fake.org.app_keys
    assert not any(s.method == "DELETE" for s in rig.wire.seen)


@pytest.mark.parametrize("parent", [("role", "x"), ("user", ""), None])
async def test_an_app_key_without_a_users_parent_is_deleted_under_its_real_owner(
    rig: Rig, parent: tuple[str, str] | None
) -> None:
    sa = robot(rig.fake)
    key = _app_key(rig.fake, sa)
    finish = await rig.run(delete_task("service-account-application-key", key.id, parent=parent))
    assert finish.ok, finish
    assert key.id not in rig.fake.org.app_keys


async def test_an_app_key_under_a_wrong_parent_is_deleted_under_its_real_owner(rig: Rig) -> None:
    sa = robot(rig.fake)
    other = robot(rig.fake, "robot-202-b@example.com")
    key = _app_key(rig.fake, sa)
    finish = await rig.run(delete_task("service-account-application-key", key.id, parent=("user", other.id)))
    assert finish.ok, finish
    assert key.id not in rig.fake.org.app_keys


@pytest.mark.parametrize(
    ("kind", "other"),
    [("api-key", "app-key"), ("api-key", "sat"), ("service-account-application-key", "api-key")],
)
async def test_another_kinds_id_deletes_nothing_of_that_kind(rig: Rig, kind: str, other: str) -> None:
    """Datadog answers 404 for an id it holds no such credential by: success by §4.6 (the credential asked for is
    not there), and the other kind's credential of that id is untouched."""
    sa = robot(rig.fake)
    app, api, token = _app_key(rig.fake, sa), _api_key(rig.fake), _token(rig.fake, sa)
    given = {"app-key": app.id, "api-key": api.id, "sat": sat_handle(sa.id, token.id)}[other]
    finish = await rig.run(delete_task(kind, given))
    assert finish.ok, finish
    assert app.id in rig.fake.org.app_keys
    assert api.id in rig.fake.org.api_keys
    assert token.id in rig.fake.org.tokens


async def test_an_id_of_an_app_key_under_the_token_type_is_refused_as_no_handle(rig: Rig) -> None:
    sa = robot(rig.fake)
    app = _app_key(rig.fake, sa)
    finish = await rig.run(delete_task("service-account-access-token", app.id))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert finish.message == MALFORMED_HANDLE
    assert app.id in rig.fake.org.app_keys


DELETE_PATHS = {
    "api-key": r"/api/v2/api_keys/[^/]+",
    "service-account-application-key": r"/api/v2/service_accounts/[^/]+/application_keys/[^/]+",
    "service-account-access-token": r"/api/v2/service_accounts/[^/]+/access_tokens/[^/]+",
}


def _live(rig: Rig, kind: str) -> tuple[str, str | None]:
    sa = robot(rig.fake)
    if kind == "api-key":
        return _api_key(rig.fake).id, None
    if kind == "service-account-application-key":
        return _app_key(rig.fake, sa).id, sa.id
    token = _token(rig.fake, sa)
    return sat_handle(sa.id, token.id), sa.id


NOT_DATADOGS_404 = {
    "html": (b"<html><body>404 Not Found</body></html>", "text/html"),
    "gateway-json": (b'{"status": 404, "error": "Not Found"}', "application/json"),
    "empty": (b"", None),
}


@pytest.mark.parametrize("kind", list(DELETE_PATHS))
@pytest.mark.parametrize("body", list(NOT_DATADOGS_404))
async def test_a_404_that_is_not_datadogs_is_not_taken_for_a_deleted_credential(rig: Rig, kind: str, body: str) -> None:
    resource, parent = _live(rig, kind)
    content, content_type = NOT_DATADOGS_404[body]
    rig.wire.on("DELETE", DELETE_PATHS[kind], answer(404, content, content_type), times=20)
    finish = await rig.run(delete_task(kind, resource, parent=("user", parent) if parent else None))
    assert failed_for_good(finish), finish


@pytest.mark.parametrize("kind", list(DELETE_PATHS))
@pytest.mark.parametrize("status", [410, 400, 405])
async def test_other_not_there_answers_are_no_success(rig: Rig, kind: str, status: int) -> None:
    """§4.6 makes 404 success, nothing else: a 410 Gone, a 400 or a 405 is a failed deletion."""
    resource, parent = _live(rig, kind)
    rig.wire.on("DELETE", DELETE_PATHS[kind], answer(status, {"errors": ["gone"]}), times=20)
    finish = await rig.run(delete_task(kind, resource, parent=("user", parent) if parent else None))
    assert failed_for_good(finish), finish


@pytest.mark.parametrize("kind", list(DELETE_PATHS))
async def test_datadogs_404_is_success(rig: Rig, kind: str) -> None:
    resource, parent = _live(rig, kind)
    rig.wire.on("DELETE", DELETE_PATHS[kind], answer(404, {"errors": ["Not found"]}), times=20)
    rig.wire.on("GET", r"/api/v2/application_keys/[^/]+", answer(404, {"errors": ["Not found"]}), times=20)
    finish = await rig.run(delete_task(kind, resource, parent=("user", parent) if parent else None))
    assert finish.ok, finish
    assert finish.annotations == 0


@pytest.mark.parametrize("kind", ["role", "team", "user", "schedule", "service-account", ""])
async def test_a_type_without_a_deleter_is_unimplemented_or_malformed(rig: Rig, kind: str) -> None:
    finish = await rig.run(delete_task(kind, "x"))
    if kind:
        assert failed_for_good(finish, Code.UNIMPLEMENTED), finish
        assert finish.message == f"resource type {kind} does not have resource Delete() configured"
    else:
        assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
        assert finish.message == "malformed delete resource task"
    assert rig.wire.seen == []
