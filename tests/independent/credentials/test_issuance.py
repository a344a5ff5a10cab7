"""`issue_credential` with conflicting and hostile inputs (docs/spec/credentials.md §3.1-§3.3, §4.1-§4.5): the builder's
checks answer in the spec's order whatever else is wrong; request ids no rule allows never reach Datadog; a mint
whose answer is odd, or whose encryption fails after it, leaves no live credential and the report says what is left;
the `api_key_v2` plaintext keeps its member order and Go's escaping for hostile scopes, ids and key values."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from connector.baton.errors import Code
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks import credentials as issuing
from connector.baton.tasks.outcome import TaskError
from connector.datadog.resources.keys import sat_handle
from tests.independent.credentials.issuing import KINDS, MINT_PATHS, PREFIX, credentials, issue_task, robot
from tests.independent.credentials.keys import REFUSED_AGE, jwe_config, opened
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import failed_for_good
from tests.independent.writes.wire import answer, edited, landed_then, landed_then_lost

INVALID_REQUEST = "invalid credential issuance request: "
REQUEST_ID_RULE = (
    INVALID_REQUEST + "request id must be 1..128 characters containing only letters, digits, underscore, or hyphen"
)
Edit = Callable[[baton_pb2.Task], None]


def _past(task: baton_pb2.Task) -> None:
    task.issue_credential.expires_at.FromDatetime(datetime.now(UTC) - timedelta(days=1))


def _future(task: baton_pb2.Task) -> None:
    task.issue_credential.expires_at.FromDatetime(datetime.now(UTC) + timedelta(days=30))


def _bad_config(task: baton_pb2.Task) -> None:
    task.issue_credential.encryption_configs[0].age_recipient_config.recipient = REFUSED_AGE


def _identity_type(kind: str) -> Edit:
    def edit(task: baton_pb2.Task) -> None:
        task.issue_credential.identity_id.resource_type = kind

    return edit


def _no_option(task: baton_pb2.Task) -> None:
    task.issue_credential.credential_options.ClearField("options")


def _option(arm: str) -> Edit:
    def edit(task: baton_pb2.Task) -> None:
        options = task.issue_credential.credential_options
        options.ClearField("options")
        getattr(options, arm).SetInParent()

    return edit


def _secret_type(value: str) -> Edit:
    def edit(task: baton_pb2.Task) -> None:
        task.issue_credential.credential_options.secret_resource_type_id = value

    return edit


def _scopes(*scopes: str) -> Edit:
    def edit(task: baton_pb2.Task) -> None:
        options = task.issue_credential.credential_options
        field = options.token.scopes if options.WhichOneof("options") == "token" else options.api_key.scopes
        del field[:]
        field.extend(scopes)

    return edit


def _audience(task: baton_pb2.Task) -> None:
    task.issue_credential.credential_options.token.audiences.append("https://example.com")


# name -> (kind, edits in order, code, message): each row breaks two or more rules at once; the first of §3.2's order
# answers. The messages are the spec's, word for word.
CONFLICTS: dict[str, tuple[str, list[Edit], Code, str]] = {
    "no-issuer-and-bad-config": (
        "api-key",
        [_identity_type("team"), _bad_config],
        Code.UNIMPLEMENTED,
        "resource type does not have credential issuer configured",
    ),
    "bad-config-and-no-option-and-past-expiry": (
        "service-account-application-key",
        [_bad_config, _no_option, _past],
        Code.INVALID_ARGUMENT,
        PREFIX + "invalid encryption config 0: rpc error: code = InvalidArgument desc = age: invalid recipient",
    ),
    "no-option-and-unknown-secret-type": (
        "service-account-application-key",
        [_no_option, _secret_type("password")],
        Code.INVALID_ARGUMENT,
        INVALID_REQUEST + "unsupported credential option",
    ),
    "keypair-option": (
        "service-account-application-key",
        [_option("keypair")],
        Code.INVALID_ARGUMENT,
        INVALID_REQUEST
        + "credential option CAPABILITY_DETAIL_CREDENTIAL_OPTION_KEYPAIR is not advertised by connector",
    ),
    "token-option-for-an-org-key": (
        "api-key",
        [_option("token"), _past],
        Code.INVALID_ARGUMENT,
        INVALID_REQUEST
        + 'credential option CAPABILITY_DETAIL_CREDENTIAL_OPTION_TOKEN does not produce secret resource type "api-key"; '
        'it produces "service-account-access-token"',
    ),
    "api-key-option-for-a-token": (
        "service-account-access-token",
        [_option("api_key")],
        Code.INVALID_ARGUMENT,
        INVALID_REQUEST
        + "credential option CAPABILITY_DETAIL_CREDENTIAL_OPTION_API_KEY does not produce secret resource type "
        '"service-account-access-token"; it produces "service-account-application-key", "api-key"',
    ),
    "no-secret-type-and-bad-scopes": (
        "service-account-application-key",
        [_secret_type(""), _scopes("", "")],
        Code.INVALID_ARGUMENT,
        INVALID_REQUEST + "credential_options.secret_resource_type_id is required",
    ),
    "org-key-scoped-and-expiring": (
        "api-key",
        [_scopes("dashboards_read"), _future],
        Code.INVALID_ARGUMENT,
        INVALID_REQUEST + 'scope "dashboards_read" is not advertised by connector',
    ),
    "app-key-duplicate-scope-and-past-expiry": (
        "service-account-application-key",
        [_scopes("a", "b", "a"), _past],
        Code.INVALID_ARGUMENT,
        INVALID_REQUEST + 'duplicate scope "a"',
    ),
    "app-key-blank-scope-by-go": (
        "service-account-application-key",
        [_scopes("\u3000\u2029")],
        Code.INVALID_ARGUMENT,
        INVALID_REQUEST + "scope must not be empty",
    ),
    "token-audience": (
        "service-account-access-token",
        [_audience],
        Code.INVALID_ARGUMENT,
        INVALID_REQUEST + 'audience "https://example.com" is not advertised by connector',
    ),
    "token-past-expiry": (
        "service-account-access-token",
        [_past],
        Code.INVALID_ARGUMENT,
        INVALID_REQUEST + "expires_at must be in the future",
    ),
    "token-future-expiry": (
        "service-account-access-token",
        [_future],
        Code.INVALID_ARGUMENT,
        INVALID_REQUEST + "connector does not support caller-selected expiry",
    ),
    "app-key-future-expiry": (
        "service-account-application-key",
        [_future],
        Code.INVALID_ARGUMENT,
        INVALID_REQUEST + "connector does not support caller-selected expiry",
    ),
}


@pytest.mark.parametrize("case", list(CONFLICTS))
async def test_the_first_broken_rule_in_the_builders_order_answers(rig: Rig, case: str) -> None:
    kind, edits, code, message = CONFLICTS[case]
    task = issue_task(robot(rig.fake).id, kind)
    for edit in edits:
        edit(task)
    finish = await rig.run(task)
    assert failed_for_good(finish, code), finish
    assert finish.message == message
    assert rig.wire.seen == [], "every builder check comes before Datadog is asked anything"


ODD_REQUEST_IDS = {
    "empty": "",
    "129-characters": "a" * 129,
    "enormous": "A" * 100_000,
    "newline": "3N6Amurry\nqXZsx9HRtSp5zXT",
    "nul": "3N6Amurry\x00qXZsx9HRtSp5zXT",
    "escape-sequence": "\x1b[31mred\x1b[0m",
    "space": "3N6Amurry qXZsx9HRtSp5zXT",
    "dot": "a.b",
    "dot-dot": "..",
    "slash": "a/b",
    "percent": "a%2Fb",
    "unicode-letters": "ünïcødé",
    "fullwidth-digits": "\uff11\uff12\uff13",
    "arabic-indic-digits": "\u0663\u0664\u0665",
    "right-to-left-override": "abc\u202edef",
    "trailing-newline": "abc\n",
}


@pytest.mark.parametrize("name", list(ODD_REQUEST_IDS))
async def test_a_request_id_the_rule_does_not_allow_is_refused_before_datadog_is_asked(rig: Rig, name: str) -> None:
    """§3.2 step 6: the builder checks the request id (the task id) before it calls the connector; the name
    `c1-<request id>` is never searched for nor minted. Called as the handler is, past the processor's own check;
    each kind in turn (the rule is the builder's, the same for all)."""
    kind = KINDS[list(ODD_REQUEST_IDS).index(name) % len(KINDS)]
    task = issue_task(robot(rig.fake).id, kind)
    with pytest.raises(TaskError) as refused:
        await issuing.issue_credential(rig.connector, ODD_REQUEST_IDS[name], task.issue_credential)
    assert refused.value.code == Code.INVALID_ARGUMENT
    assert refused.value.non_retryable
    assert str(refused.value) == REQUEST_ID_RULE
    assert rig.wire.seen == []


@pytest.mark.parametrize("request_id", ["-", "_", "a" * 128, "A-_9"])
async def test_a_request_id_at_the_edges_of_the_rule_is_issued_under_its_own_name(rig: Rig, request_id: str) -> None:
    task = issue_task(robot(rig.fake).id, "service-account-access-token")
    outcome = await issuing.issue_credential(rig.connector, request_id, task.issue_credential)
    response = outcome.response
    assert isinstance(response, resource_pb2.IssueCredentialResponse)
    assert response.request_id == request_id
    assert response.secret.display_name == f"c1-{request_id}"
    assert [t.name for t in rig.fake.org.tokens.values() if t.name.startswith("c1-")] == [f"c1-{request_id}"]


@pytest.mark.parametrize("task_id", ["", "a" * 28, "3N6Amurry\nqXZsx9HRtSp5zXTs"[:27], "ü" * 27])
async def test_a_task_whose_id_is_no_ksuid_is_never_run(rig: Rig, task_id: str) -> None:
    task = issue_task(robot(rig.fake).id, "api-key", task_id=task_id)
    await rig.processor.process(task)
    assert rig.c1.finishes == [], "a task id no report can carry is not answered"
    assert rig.wire.seen == []
    assert not any(k.name.startswith("c1-") for k in rig.fake.org.api_keys.values())


def _near_names(rig: Rig, kind: str, identity: str, names: list[str]) -> None:
    org = rig.fake.org
    from tests.fakes.datadog.org import AccessToken, APIKey, AppKey

    now = org.now()
    for name in names:
        if kind == "api-key":
            key = APIKey(org.new_id(), name, org.new_secret(32), org.current_user_id, now, now)
            org.api_keys[key.id] = key
        elif kind == "service-account-application-key":
            app = AppKey(org.new_id(), name, org.new_secret(40), identity, now, None)
            org.app_keys[app.id] = app
        else:
            token = AccessToken(
                id=org.new_id(),
                name=name,
                key=f"ddsat_{org.new_secret(48)}",
                public_portion=org.new_secret(22),
                owner_id=identity,
                scopes=["dashboards_read"],
                created_at=now,
                expires_at=None,
                personal=False,
            )
            org.tokens[token.id] = token


@pytest.mark.parametrize("kind", KINDS)
async def test_names_that_only_resemble_the_request_are_no_duplicate(rig: Rig, kind: str) -> None:
    """§4.1 step 3: only a name equal to `c1-<request id>` exactly is a duplicate; Datadog's filter also lists longer
    names, other cases and names with spaces around, and none of them stops the issuance."""
    sa = robot(rig.fake)
    task = issue_task(sa.id, kind)
    name = f"c1-{task.id}"
    _near_names(rig, kind, sa.id, [name + "x", name.upper(), " " + name, name + " ", "x" + name, name[:-1]])
    finish = await rig.run(task)
    assert finish.ok, finish


@pytest.mark.parametrize("kind", KINDS)
async def test_the_exact_name_among_near_ones_is_a_duplicate(rig: Rig, kind: str) -> None:
    sa = robot(rig.fake)
    task = issue_task(sa.id, kind)
    name = f"c1-{task.id}"
    _near_names(rig, kind, sa.id, [name + "x", name, name.upper()])
    before = credentials(rig.fake)
    finish = await rig.run(task)
    assert failed_for_good(finish, Code.ALREADY_EXISTS), finish
    assert task.id in finish.message
    assert credentials(rig.fake) == before


ODD_MINTS: dict[str, tuple[int, bytes, str | None]] = {
    "empty-201": (201, b"", None),
    "html-200": (200, b"<html>created</html>", "text/html"),
    "not-json": (201, b"{'data': 1", "application/json"),
    "data-list": (201, b'{"data": []}', "application/json"),
    "data-null": (201, b'{"data": null}', "application/json"),
    "json-null": (201, b"null", "application/json"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("odd", list(ODD_MINTS))
async def test_a_mint_answered_oddly_leaves_no_live_credential(rig: Rig, kind: str, odd: str) -> None:
    """The create landed (Datadog made the credential) and its answer is unreadable: the credential, found by its
    name, is deleted again, and the failure is final (a replay could mint twice)."""
    before = credentials(rig.fake)
    status, body, content_type = ODD_MINTS[odd]
    rig.wire.on("POST", MINT_PATHS[kind], landed_then(status, body, content_type))
    task = issue_task(robot(rig.fake).id, kind)
    finish = await rig.run(task)
    assert failed_for_good(finish), finish
    assert credentials(rig.fake) == before
    assert finish.message.endswith(
        f'it may have made was looked up by its name "c1-{task.id}": deleted again (1 found)'
    )


SECRETLESS: dict[str, Callable[[dict[str, Any]], None]] = {
    "key-missing": lambda attributes: attributes.pop("key"),
    "key-null": lambda attributes: attributes.update(key=None),
    "key-empty": lambda attributes: attributes.update(key=""),
    "key-number": lambda attributes: attributes.update(key=12345),
    "key-list": lambda attributes: attributes.update(key=["a"]),
    "key-object": lambda attributes: attributes.update(key={"value": "x"}),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("how", list(SECRETLESS))
async def test_a_mint_answered_without_a_usable_secret_leaves_no_live_credential(rig: Rig, kind: str, how: str) -> None:
    before = credentials(rig.fake)

    def edit(body: dict[str, Any]) -> dict[str, Any]:
        SECRETLESS[how](body["data"]["attributes"])
        return body

    rig.wire.on("POST", MINT_PATHS[kind], edited(edit))
    finish = await rig.run(issue_task(robot(rig.fake).id, kind))
    assert failed_for_good(finish), finish
    assert credentials(rig.fake) == before
    assert "deleted again" in finish.message, "the report says what became of the credential the mint made"


def _huge_key(body: dict[str, Any]) -> dict[str, Any]:
    body["data"]["attributes"]["key"] = "k" * ((1 << 20) + 1)
    return body


@pytest.mark.parametrize("kind", KINDS)
async def test_an_encryption_that_fails_after_the_mint_deletes_the_credential_again(rig: Rig, kind: str) -> None:
    """A key of over 1 MiB (Datadog's answer, within the response cap) cannot be sealed to an X-Wing recipient
    (§2.5 item 7): the check happens after the mint, so the credential is deleted again and the report says why."""
    before = credentials(rig.fake)
    rig.wire.on("POST", MINT_PATHS[kind], edited(_huge_key))
    finish = await rig.run(issue_task(robot(rig.fake).id, kind, [jwe_config()]))
    assert failed_for_good(finish), finish
    assert finish.message == "jwe: plaintext must be at most 1048576 bytes; the minted credential was deleted again"
    assert credentials(rig.fake) == before
    assert "kkkkkkkk" not in finish.message


DELETE_PATHS = {
    "api-key": r"/api/v2/api_keys/[^/]+",
    "service-account-application-key": r"/api/v2/service_accounts/[^/]+/application_keys/[^/]+",
    "service-account-access-token": r"/api/v2/service_accounts/[^/]+/access_tokens/[^/]+",
}


@pytest.mark.parametrize("kind", KINDS)
async def test_an_encryption_failure_whose_rollback_fails_names_the_credential_left_live(rig: Rig, kind: str) -> None:
    """The report is the only word ConductorOne gets: a credential left live must be named in it, so a person can
    delete it (the Datadog-side rollback's failure names it too: tests/independent/writes)."""
    before = credentials(rig.fake)
    rig.wire.on("POST", MINT_PATHS[kind], edited(_huge_key))
    rig.wire.on("DELETE", DELETE_PATHS[kind], answer(403, {"errors": ["Forbidden"]}), times=20)
    finish = await rig.run(issue_task(robot(rig.fake).id, kind, [jwe_config()]))
    assert failed_for_good(finish), finish
    (left,) = credentials(rig.fake) - before
    secret_id = left if kind != "service-account-access-token" else sat_handle(robot_id(rig), left)
    assert finish.message.endswith(
        f"; the minted credential could not be deleted again: {kind} '{secret_id}' may still be live"
    ), finish.message


def robot_id(rig: Rig) -> str:
    return next(u.id for u in rig.fake.org.users.values() if u.email == "robot-202@example.com")


# The api_key_v2 document (§4.5) for hostile values, spelt out by hand as Go's encoding/json writes them with HTML
# escaping off: `"` and `\` escaped, \t \n \r \b \f short, other C0 controls \u00XX lower case, DEL and non-ASCII raw,
# U+2028/U+2029 escaped, `<>&` raw.
HOSTILE_KEY = 'k"\\<>&\u2028\u2029\x01\x1f\x7f\u00fc\t\n\b\f\r/'
HOSTILE_KEY_JSON = '"k\\"\\\\<>&\\u2028\\u2029\\u0001\\u001f\x7f\u00fc\\t\\n\\b\\f\\r/"'
HOSTILE_ID = 'id<>&"\\\u00e9\u2028x'
HOSTILE_ID_JSON = '"id<>&\\"\\\\\u00e9\\u2028x"'
HOSTILE_SCOPES = ["a\u2029b", 'q"u', "b\\s", "<>&", "\u00fc\u4e2d", "t\tab"]
HOSTILE_SCOPES_JSON = '["a\\u2029b","q\\"u","b\\\\s","<>&","\u00fc\u4e2d","t\\tab"]'
HEADERS = {
    "service-account-application-key": "DD-APPLICATION-KEY",
    "api-key": "DD-API-KEY",
    "service-account-access-token": "Authorization",
}


@pytest.mark.parametrize("kind", KINDS)
async def test_the_plaintext_spells_hostile_values_as_go_does_in_the_specs_member_order(rig: Rig, kind: str) -> None:
    scoped = kind != "api-key"

    def hostile(body: dict[str, Any]) -> dict[str, Any]:
        body["data"]["attributes"]["key"] = HOSTILE_KEY
        body["data"]["id"] = HOSTILE_ID
        return body

    rig.wire.on("POST", MINT_PATHS[kind], edited(hostile))
    task = issue_task(robot(rig.fake).id, kind, scopes=tuple(HOSTILE_SCOPES) if scoped else ())
    finish = await rig.run(task)
    assert finish.ok, finish
    response = finish.response
    assert isinstance(response, resource_pb2.IssueCredentialResponse)
    (data,) = response.encrypted_data
    scopes = f'"scopes":{HOSTILE_SCOPES_JSON},' if scoped else ""
    expected = (
        f'{{"key_value":{HOSTILE_KEY_JSON},"provider":"datadog",{scopes}"key_id":{HOSTILE_ID_JSON},'
        f'"header_name":"{HEADERS[kind]}"}}'
    )
    assert opened(data.encrypted_bytes) == expected.encode()
    assert json.loads(expected)["key_value"] == HOSTILE_KEY


ODD_LOOKUPS: dict[str, Any] = {
    "gateway-json": answer(200, {"message": "ok"}),
    "html": answer(200, b"<html>ok</html>", "text/html"),
    "empty-200": answer(200, b"", None),
    "data-null": answer(200, {"data": None}),
    "data-an-object": answer(200, {"data": {"id": "x", "type": "application_keys"}}),
    "data-missing-meta-only": answer(200, {"meta": {"page": {"total_filtered_count": 0}}}),
    "404-not-datadogs": answer(404, {"status": 404, "error": "Not Found"}),
    "202-accepted": answer(202, b"", None),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("odd", list(ODD_LOOKUPS))
async def test_a_duplicate_check_answered_oddly_mints_nothing(rig: Rig, kind: str, odd: str) -> None:
    """§4.1 step 3: the lookup of `c1-<request id>` must prove the name absent; an answer that is no listing proves
    nothing, and a second credential for a retried request would be live with nobody holding it."""
    sa = robot(rig.fake)
    lookup = MINT_PATHS[kind]
    rig.wire.on("GET", lookup, ODD_LOOKUPS[odd], times=20)
    before = credentials(rig.fake)
    finish = await rig.run(issue_task(sa.id, kind))
    assert failed_for_good(finish), finish
    assert credentials(rig.fake) == before
    assert not any(s.method == "POST" for s in rig.wire.seen), "no create is sent"


LOSSES: dict[str, tuple[type[httpx.TransportError], str]] = {
    "reset": (httpx.RemoteProtocolError, "the connection was reset before the answer arrived"),
    "read-timeout": (httpx.ReadTimeout, "timed out waiting for the response"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("loss", list(LOSSES))
async def test_a_mint_left_unanswered_says_why_and_what_its_lookup_found(rig: Rig, kind: str, loss: str) -> None:
    """A create that got no answer at all (a reset, a timeout) has no Datadog words, only the transport's reason: the
    report keeps that reason ("-> no response" alone said nothing of why) and adds what the lookup by its name did."""
    exc, why = LOSSES[loss]
    before = credentials(rig.fake)
    rig.wire.on("POST", MINT_PATHS[kind], landed_then_lost(exc))
    task = issue_task(robot(rig.fake).id, kind)
    finish = await rig.run(task)
    assert failed_for_good(finish, Code.UNAVAILABLE), finish
    assert credentials(rig.fake) == before
    assert why in finish.message, finish.message
    assert finish.message.endswith(
        f'it may have made was looked up by its name "c1-{task.id}": deleted again (1 found)'
    ), finish.message


NO_SUCH = answer(404, {"errors": ["Not found"]})
"""Datadog's own 404 (its error shape): it says it has no credential by that id. Nothing was deleted by the call."""
ORG_WIDE_APP_KEY = r"/api/v2/application_keys/[^/]+"


@pytest.mark.parametrize("kind", KINDS)
async def test_a_rollback_answered_404_is_never_reported_as_a_deletion(rig: Rig, kind: str) -> None:
    """A mint without a usable secret is rolled back on the Datadog side; Datadog answers its DELETE that it has no
    such credential. Nothing was deleted, and the one just made may still be live: the report must not say "deleted
    again", and must say what is true and name it."""
    before = credentials(rig.fake)

    def secretless(body: dict[str, Any]) -> dict[str, Any]:
        body["data"]["attributes"].pop("key")
        return body

    rig.wire.on("POST", MINT_PATHS[kind], edited(secretless))
    rig.wire.on("DELETE", DELETE_PATHS[kind], NO_SUCH, times=20)
    finish = await rig.run(issue_task(robot(rig.fake).id, kind))
    assert failed_for_good(finish, Code.INTERNAL), finish
    (left,) = credentials(rig.fake) - before
    assert "deleted again" not in finish.message, finish.message
    assert left in finish.message
    assert "Datadog answered that it has no such" in finish.message, finish.message
    assert "may still be live" in finish.message, finish.message


@pytest.mark.parametrize("kind", KINDS)
async def test_an_encryption_failure_whose_rollback_is_answered_404_names_the_credential_that_may_be_live(
    rig: Rig, kind: str
) -> None:
    """The task layer's rollback (the encryption failed after the mint) answered 404 by Datadog: nothing was deleted,
    the report says so and names the credential, never "the minted credential was deleted again"."""
    before = credentials(rig.fake)
    rig.wire.on("POST", MINT_PATHS[kind], edited(_huge_key))
    rig.wire.on("DELETE", DELETE_PATHS[kind], NO_SUCH, times=20)
    rig.wire.on("DELETE", ORG_WIDE_APP_KEY, NO_SUCH, times=20)
    finish = await rig.run(issue_task(robot(rig.fake).id, kind, [jwe_config()]))
    assert failed_for_good(finish), finish
    (left,) = credentials(rig.fake) - before
    secret_id = left if kind != "service-account-access-token" else sat_handle(robot_id(rig), left)
    assert "deleted again" not in finish.message, finish.message
    assert finish.message.startswith("jwe: plaintext must be at most 1048576 bytes; "), finish.message
    assert finish.message.endswith(
        f"; deleting the minted credential again was answered that there is no such credential: "
        f"{kind} '{secret_id}' may still be live, check for it"
    ), finish.message


@pytest.mark.parametrize("kind", KINDS)
async def test_a_lost_mint_whose_leftover_delete_is_answered_404_is_not_reported_deleted(rig: Rig, kind: str) -> None:
    """The lookup after a lost create finds the credential by its name, and Datadog answers its DELETE 404: nothing
    was deleted, and the report must not say "deleted again"."""
    before = credentials(rig.fake)
    rig.wire.on("POST", MINT_PATHS[kind], landed_then_lost(httpx.RemoteProtocolError))
    rig.wire.on("DELETE", DELETE_PATHS[kind], NO_SUCH, times=20)
    task = issue_task(robot(rig.fake).id, kind)
    finish = await rig.run(task)
    assert failed_for_good(finish), finish
    assert len(credentials(rig.fake) - before) == 1
    assert "deleted again" not in finish.message, finish.message
    assert finish.message.endswith(
        f'it may have made was looked up by its name "c1-{task.id}": 1 found, and Datadog answered that it has no '
        "such one when deleting 1: it may still be live, check in Datadog"
    ), finish.message


def _bug(*args: object, **kwargs: object) -> bytes:
    raise TypeError("a bug in the connector")


@pytest.mark.parametrize("kind", KINDS)
async def test_a_build_failure_without_a_code_is_reported_unknown_and_rolled_back(
    rig: Rig, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """§3.2 step 12: an error of the connector's with no code is reported Unknown. A bug after the mint (here: in
    writing the plaintext) still deletes the credential again, and the report says so."""
    from connector.datadog import credentials as datadog_credentials

    monkeypatch.setattr(datadog_credentials, "api_key_v2", _bug)
    monkeypatch.setattr(datadog_credentials, "service_access_token_v2", _bug)
    before = credentials(rig.fake)
    finish = await rig.run(issue_task(robot(rig.fake).id, kind))
    assert failed_for_good(finish, Code.UNKNOWN), finish
    assert credentials(rig.fake) == before
    assert finish.message.startswith("error: issue credential for identity failed: "), finish.message
    assert "TypeError" in finish.message, finish.message
    assert "was deleted again" in finish.message, finish.message
