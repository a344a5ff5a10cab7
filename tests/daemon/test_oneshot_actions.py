"""One-shot provisioning flags (baton-sdk's): an admin tests an access change without ConductorOne.

Each runs the real command against the fake Datadog, through the same task handlers as service mode, and is
checked on the fake's state: the change happened (or nothing did), the output says so, the exit code is right.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.datadog.resources.keys import sat_handle
from tests.daemon.cli import last_line, run_cli
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.datadog.org import AccessToken, AppKey, Role, User

API = "canary-api-key-6b5a4c3d2e1f"
# A deletion's line when nothing was deleted: Datadog answers 404 both for what was deleted before and for an id
# that never was.
NOT_THERE = "(nothing deleted: deleted before, or an id Datadog does not know, which it answers the same)"
APP = "canary-app-key-1f2e3d4c5b6a7980"
# A revoke's line when nothing was removed: Datadog answers 404 both for access revoked before and for an id it does
# not know.
NOT_HELD = "(nothing changed: revoked before, or an id Datadog does not know, which it answers the same)"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=30, seed=11, teams=3, schedules=0), api_key=API, app_key=APP) as server:
        yield server


def cli(fake: FakeDatadog, *args: str, provisioning: bool = True) -> tuple[int, str, str]:
    flags = ["--api-key", API, "--app-key", APP, "--base-url", fake.base_url]
    done = run_cli(*flags, *(["--provisioning"] if provisioning else []), *args)
    for stream in (done.stdout, done.stderr):
        assert API not in stream
        assert APP not in stream
        assert "Traceback" not in stream
    return done.returncode, done.stdout, done.stderr


def pick(fake: FakeDatadog) -> tuple[Role, User]:
    role = next(r for r in fake.org.roles.values() if r.name == "Datadog Read Only Role")
    user = next(u for u in fake.org.users.values() if role.id not in u.role_ids and not u.disabled)
    return role, user


def test_grant_then_revoke_a_role_and_both_are_idempotent(fake: FakeDatadog) -> None:
    role, user = pick(fake)
    entitlement = f"role:{role.id}:member"
    code, out, err = cli(fake, "--grant-entitlement", entitlement, "--grant-principal", user.id)
    assert code == 0, err
    assert out.strip() == f"granted {entitlement} to user:{user.id} (grants: {entitlement}:user:{user.id})"
    assert role.id in fake.org.users[user.id].role_ids

    code, out, _ = cli(fake, "--grant-entitlement", entitlement, "--grant-principal", user.id)
    assert code == 0
    assert out.startswith(f"already granted: {entitlement} to user:{user.id}")

    grant = f"{entitlement}:user:{user.id}"
    code, out, err = cli(fake, "--revoke-grant", grant)
    assert code == 0, err
    assert out.strip() == f"revoked {grant}"
    assert role.id not in fake.org.users[user.id].role_ids

    code, out, _ = cli(fake, "--revoke-grant", grant)
    assert code == 0
    assert out.strip() == f"not in Datadog: {grant} {NOT_HELD}"


def test_grant_team_membership(fake: FakeDatadog) -> None:
    team = next(iter(fake.org.teams.values()))
    user = next(u for u in fake.org.users.values() if u.id not in {m.user_id for m in team.members.values()})
    code, out, err = cli(
        fake,
        "--grant-entitlement",
        f"team:{team.id}:member",
        "--grant-principal",
        user.id,
        "--grant-principal-type",
        "user",
    )
    assert code == 0, err
    assert out.startswith(f"granted team:{team.id}:member to user:{user.id}")
    assert user.id in {m.user_id for m in fake.org.teams[team.id].members.values()}


def test_create_account_invites_the_user(fake: FakeDatadog) -> None:
    email = "new.hire@example.com"
    code, out, err = cli(
        fake, "--create-account-email", email, "--create-account-name", "New Hire", "--create-account-title", "SRE"
    )
    assert code == 0, err
    created = fake.org.user_by_email(email)
    assert created is not None
    assert (created.name, created.title) == ("New Hire", "SRE")
    assert out.startswith(f"created account user:{created.id} (New Hire)")


def test_an_account_created_without_a_name_is_printed_without_an_empty_name(fake: FakeDatadog) -> None:
    """`--create-account-email` alone (its name is optional) printed `created account user:<id> ()`."""
    email = "nameless.hire@example.com"
    code, out, err = cli(fake, "--create-account-email", email)
    assert code == 0, err
    created = fake.org.user_by_email(email)
    assert created is not None
    assert out.startswith(f"created account user:{created.id}; action required: ")


def test_delete_resource_deletes_an_org_api_key_and_a_second_run_finds_it_gone(fake: FakeDatadog) -> None:
    """baton-sdk's `--delete-resource` / `--delete-resource-type`: ConductorOne's revoke of a credential, run by
    hand. It was an unknown flag, answered "did you mean --sync-resources?"."""
    key = next(iter(fake.org.api_keys.values()))
    flags = ["--sync-secrets", "--allow-org-api-key-deletion", "--delete-resource-type", "api-key"]
    code, out, err = cli(fake, *flags, "--delete-resource", key.id)
    assert code == 0, err
    assert out.strip() == f"deleted from Datadog: api-key:{key.id}"
    assert key.id not in fake.org.api_keys
    assert key.key not in out + err, "the key's value is never shown"
    assert _deletion_logged(err) is True

    code, out, err = cli(fake, *flags, "--delete-resource", key.id)
    assert code == 0, err
    assert out.strip() == f"not in Datadog: api-key:{key.id} {NOT_THERE}"
    assert _deletion_logged(err) is False, "the second run found it gone, and its log line says so"


def test_a_deletion_of_a_well_formed_id_datadog_never_had_says_nothing_was_deleted(fake: FakeDatadog) -> None:
    """A mistyped key id (a UUID all the same) was printed "gone from Datadog", as a key deleted by this very run:
    an admin took a key still live for revoked. The line says what Datadog answered, with no request more."""
    keys = dict(fake.org.api_keys)
    never = "00000000-0000-4000-8000-00000000dead"
    assert never not in keys
    fake.reset_counters()
    flags = ["--sync-secrets", "--allow-org-api-key-deletion", "--delete-resource-type", "api-key"]
    code, out, err = cli(fake, *flags, "--delete-resource", never)
    assert code == 0, err
    assert out.strip() == f"not in Datadog: api-key:{never} {NOT_THERE}"
    assert [r.path for r in fake.requests(method="DELETE")] == [f"/api/v2/api_keys/{never}"]
    assert fake.org.api_keys == keys


def _deletion_logged(stderr: str) -> object:
    """The `deleted` of the run's `datadog delete_resource` log line (JSON lines, as `cli` runs it)."""
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return next(r["deleted"] for r in records if r.get("event") == "datadog delete_resource")


def test_delete_resource_revokes_a_service_access_token_by_its_handle(fake: FakeDatadog) -> None:
    token = next(t for t in fake.org.tokens.values() if fake.org.users[t.owner_id].service_account)
    handle = sat_handle(token.owner_id, token.id)
    flags = ["--sync-secrets", "--sync-service-account-application-keys"]
    code, out, err = cli(
        fake, *flags, "--delete-resource", handle, "--delete-resource-type", "service-account-access-token"
    )
    assert code == 0, err
    # Datadog answers a token's revocation alike whether it held the token: the line claims no more than that.
    assert out.strip() == (
        f"gone from Datadog: service-account-access-token:{handle} (Datadog answers alike whether it held it or not)"
    )
    assert [r.path for r in fake.requests(method="DELETE")][-1].endswith(f"/access_tokens/{token.id}")
    assert token.key not in out + err


def test_invoke_action_disables_a_user(fake: FakeDatadog) -> None:
    user = next(u for u in fake.org.users.values() if not u.disabled and not u.service_account)
    code, out, err = cli(
        fake, "--invoke-action", "disable_user", "--invoke-action-args", json.dumps({"user_id": user.id})
    )
    assert code == 0, err
    # What the action answered is printed too: the status the user is left in.
    assert out.strip() == (
        f'invoked action \'disable_user\' with {{"user_id": "{user.id}"}}: '
        f'{{"status": "Disabled", "success": true, "user_id": "{user.id}"}}'
    )
    assert fake.org.users[user.id].disabled


def test_invoke_action_prints_the_status_the_action_left_the_user_in(fake: FakeDatadog) -> None:
    """`--invoke-action` printed only what was asked: the state Datadog answered it left the user in (an enabled user
    may be Active or still Pending) was in the action's answer, which was dropped."""
    user = next(u for u in fake.org.users.values() if not u.disabled and not u.service_account)
    args = json.dumps({"user_id": user.id})
    assert cli(fake, "--invoke-action", "disable_user", "--invoke-action-args", args)[0] == 0
    code, out, err = cli(fake, "--invoke-action", "enable_user", "--invoke-action-args", args)
    assert code == 0, err
    assert out.strip().endswith(f': {{"status": "Active", "success": true, "user_id": "{user.id}"}}')
    assert not fake.org.users[user.id].disabled


@pytest.mark.parametrize(
    ("args", "provisioning", "named"),
    [
        (["--grant-entitlement", "role:x:member", "--grant-principal", "u"], False, "needs --provisioning"),
        (["--revoke-grant", "role:x:member"], True, "--revoke-grant (BATON_REVOKE_GRANT)"),
        (["--invoke-action", "explode"], True, "--invoke-action (BATON_INVOKE_ACTION): unknown action 'explode'"),
        # The action exists: what it lacks is an argument, so the setting to fix is the arguments'.
        (
            ["--invoke-action", "disable_user"],
            True,
            "--invoke-action-args (BATON_INVOKE_ACTION_ARGS): the action needs a user_id argument",
        ),
        (
            ["--invoke-action", "update_user", "--invoke-action-args", '{"user_id": "u1", "title": "SRE"}'],
            True,
            "setting --invoke-action-args (BATON_INVOKE_ACTION_ARGS): missing required argument user_id",
        ),
        (["--grant-entitlement", "schedule:s1:member", "--grant-principal", "u"], True, "does not support grants"),
        (["--grant-entitlement", "role:r1:owner", "--grant-principal", "u"], True, "has no entitlement 'owner'"),
        (
            ["--grant-entitlement", "role:r1:member", "--grant-principal", "t", "--grant-principal-type", "team"],
            True,
            "can only be granted to users",
        ),
        (["--create-account-email", "not an email"], True, "is not a valid email address"),
        # Another id's form pasted: a resource reference as the principal (it was Datadog's 404, exit 1) and a
        # grant id as the entitlement (it was "role has no entitlement '<user id>'").
        (["--grant-entitlement", "role:r1:member", "--grant-principal", "user:u1"], True, "give the id alone"),
        (
            ["--grant-entitlement", "role:r1:member:user:u1", "--grant-principal", "u1"],
            True,
            "is a grant id, not an entitlement id: grant 'role:r1:member' to 'u1'",
        ),
        (["--grant-entitlement", "role:r1:x:member", "--grant-principal", "u1"], True, "is not an entitlement id"),
        (["--create-account-name", "Jane"], True, "need --create-account-email"),
        (["--delete-resource", "k1"], True, "--delete-resource needs --delete-resource-type"),
        (["--delete-resource-type", "api-key"], True, "--delete-resource-type is set but --delete-resource is not"),
        (["--delete-resource", "k1", "--delete-resource-type", "api-key"], False, "needs --provisioning"),
        (
            ["--delete-resource", "k1", "--delete-resource-type", "api-key"],
            True,
            "setting --delete-resource-type (BATON_DELETE_RESOURCE_TYPE): deleting resource type api-key needs "
            "--provisioning, --sync-secrets and --allow-org-api-key-deletion",
        ),
        (
            ["--delete-resource", "k1", "--delete-resource-type", "service-account-access-token", "--sync-secrets"],
            True,
            "deleting resource type service-account-access-token needs --provisioning, --sync-secrets and "
            "--sync-service-account-application-keys",
        ),
        (
            ["--delete-resource", "u1", "--delete-resource-type", "user"],
            True,
            "resource type 'user' cannot be deleted; the types that can are api-key, "
            "service-account-application-key, service-account-access-token",
        ),
    ],
)
def test_input_mistakes_exit_2_naming_what_was_wrong(
    fake: FakeDatadog, args: list[str], provisioning: bool, named: str
) -> None:
    before = len(fake.requests(method="POST")) + len(fake.requests(method="DELETE"))
    code, out, err = cli(fake, *args, provisioning=provisioning)
    assert code == 2, err
    assert named in last_line(err)
    assert last_line(err).count("baton-datadog:") == 1, "the handlers' own prefix is not repeated mid-line"
    assert out == ""
    assert len(fake.requests(method="POST")) + len(fake.requests(method="DELETE")) == before, "nothing may change"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (
            ["--grant-entitlement", "role:r1:member", "--grant-principal", "t1", "--grant-principal-type", "team"],
            "setting --grant-principal-type (BATON_GRANT_PRINCIPAL_TYPE): Datadog role entitlements can only be "
            "granted to users, not to a principal of type 'team'",
        ),
        (
            ["--grant-entitlement", "team:t1:member", "--grant-principal", "u\x01"],
            "setting --grant-principal (BATON_GRANT_PRINCIPAL): the principal's user id is empty or malformed",
        ),
    ],
)
def test_a_refused_principal_names_the_principal_flag_not_the_entitlement(
    fake: FakeDatadog, args: list[str], named: str
) -> None:
    """A principal of the wrong type, or a malformed principal id, was blamed on --grant-entitlement: the admin was
    sent to fix the one flag that was right."""
    before = len(fake.requests(method="POST")) + len(fake.requests(method="DELETE"))
    code, out, err = cli(fake, *args)
    assert code == 2, err
    assert last_line(err).startswith(f"baton-datadog: {named}")
    assert "--grant-entitlement" not in last_line(err)
    assert out == ""
    assert len(fake.requests(method="POST")) + len(fake.requests(method="DELETE")) == before, "nothing may change"


@pytest.mark.parametrize(
    "args",
    [
        ["--revoke-grant", ""],
        ["--revoke-grant= "],
        ["--grant-entitlement", "", "--grant-principal", ""],
        ["--create-account-email", ""],
        ["--invoke-action", ""],
        ["--delete-resource", "", "--delete-resource-type", "api-key"],
    ],
)
def test_an_action_flag_given_an_empty_value_runs_nothing(fake: FakeDatadog, tmp_path: Path, args: list[str]) -> None:
    """`--revoke-grant "$GRANT"` with the variable unset: an empty value meant "not set", so the run was a full
    sync that exited 0 and the script went on as if the access had been revoked."""
    before = len(fake.requests())
    flags = ["--api-key", API, "--app-key", APP, "--base-url", fake.base_url, "--provisioning"]
    done = run_cli(*flags, *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "the flag is given an empty value" in last_line(done.stderr)
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == [], "no sync file"
    assert len(fake.requests()) == before, "not a single request"


def test_what_datadog_refuses_is_a_runtime_failure(fake: FakeDatadog) -> None:
    _, user = pick(fake)
    code, out, err = cli(fake, "--grant-entitlement", "role:no-such-role:member", "--grant-principal", user.id)
    assert code == 1
    assert out == ""
    assert last_line(err).startswith("baton-datadog: grant-entitlement failed:")


def test_a_refusal_whose_message_would_drive_the_terminal_is_shown_inert(fake: FakeDatadog) -> None:
    """The closing line quotes Datadog's message: ESC in it set the operator's window title (or anything else a
    terminal does), and its newline printed a second line, "granted everything", under the failure."""
    role, user = pick(fake)
    fake.faults.hostile("escape-error", path=f"/api/v2/roles/{role.id}/users", method="POST")
    code, out, err = cli(fake, "--grant-entitlement", f"role:{role.id}:member", "--grant-principal", user.id)
    assert code == 1
    assert out == ""
    assert "\x1b" not in err
    assert "\x07" not in err
    assert not [line for line in err.splitlines() if line.startswith("baton-datadog: granted")]
    assert "Forbidden\\x1b]0;owned\\x07\\nbaton-datadog: granted everything (this call needs" in last_line(err)


_API_SHAPE = "89c6948f6d30c01c3f252edc87ff4adf"  # an API key's shape: 32 hexadecimal characters
_APP_SHAPE = "0123456789ABCDEF0123456789abcdef01234567"  # an application key's: 40
_DELETION = ["--sync-secrets", "--sync-service-account-application-keys", "--allow-org-api-key-deletion"]


@pytest.mark.parametrize(
    ("args", "setting", "key"),
    [
        (
            [*_DELETION, "--delete-resource", _API_SHAPE, "--delete-resource-type", "api-key"],
            "delete-resource",
            _API_SHAPE,
        ),
        (
            [*_DELETION, "--delete-resource", _APP_SHAPE, "--delete-resource-type", "service-account-application-key"],
            "delete-resource",
            _APP_SHAPE,
        ),
        (
            # With its type in front: the id alone, which the refusal would suggest, is the key.
            [*_DELETION, "--delete-resource", f"api-key:{_API_SHAPE}", "--delete-resource-type", "api-key"],
            "delete-resource",
            _API_SHAPE,
        ),
        (["--grant-entitlement", "role:r1:member", "--grant-principal", _APP_SHAPE], "grant-principal", _APP_SHAPE),
        (
            ["--grant-entitlement", f"team:{_API_SHAPE}:member", "--grant-principal", "u1"],
            "grant-entitlement",
            _API_SHAPE,
        ),
        (["--revoke-grant", f"role:r1:member:user:{_APP_SHAPE}"], "revoke-grant", _APP_SHAPE),
        # A key in a part that is no id (a type, a slug) went to Datadog and into the error line; one in a value that
        # does not parse was quoted by the parse error.
        (["--revoke-grant", _API_SHAPE], "revoke-grant", _API_SHAPE),
        (["--revoke-grant", f"role:r1:{_API_SHAPE}:user:u1"], "revoke-grant", _API_SHAPE),
        (
            ["--grant-entitlement", f"{_APP_SHAPE}:r1:member", "--grant-principal", "u1"],
            "grant-entitlement",
            _APP_SHAPE,
        ),
        (["--grant-entitlement", f"role:{_API_SHAPE}", "--grant-principal", "u1"], "grant-entitlement", _API_SHAPE),
        (
            ["--grant-entitlement", "role:r1:member", "--grant-principal", "u1", "--grant-principal-type", _API_SHAPE],
            "grant-principal-type",
            _API_SHAPE,
        ),
        (
            [*_DELETION, "--delete-resource", "k1", "--delete-resource-type", _API_SHAPE],
            "delete-resource-type",
            _API_SHAPE,
        ),
        (["--invoke-action", _APP_SHAPE], "invoke-action", _APP_SHAPE),
        (
            ["--grant-entitlement", "role:r1:member", "--grant-principal", f"user:{_API_SHAPE}"],
            "grant-principal",
            _API_SHAPE,
        ),
        (
            # With the type in front, as a resource reference: the key went into the URL and the error line.
            ["--invoke-action", "disable_user", "--invoke-action-args", json.dumps({"user_id": f"user:{_API_SHAPE}"})],
            "invoke-action-args",
            _API_SHAPE,
        ),
        (
            ["--invoke-action", "disable_user", "--invoke-action-args", json.dumps({"user_id": _API_SHAPE})],
            "invoke-action-args",
            _API_SHAPE,
        ),
        (
            [
                "--invoke-action",
                "update_user",
                "--invoke-action-args",
                json.dumps({"user_id": {"resource_type_id": "user", "resource_id": _APP_SHAPE}, "title": "SRE"}),
            ],
            "invoke-action-args",
            _APP_SHAPE,
        ),
    ],
)
def test_a_key_given_where_an_id_goes_is_refused_unsent_and_unshown(
    fake: FakeDatadog, args: list[str], setting: str, key: str
) -> None:
    """The admin revoking a leaked key holds the key, not its id. Given to --delete-resource, the key went into the
    request's URL, the log line and the printed answer, and Datadog's 404 (no key has that id) was printed as
    "deleted api-key:<the key> (Datadog no longer holds it)", exit 0, the key still live. Datadog's ids are UUIDs:
    a value of a key's shape (32 or 40 hexadecimal characters) is never one, wherever an id goes."""
    before = len(fake.requests())
    code, out, err = cli(fake, *args)
    assert code == 2, err
    variable = "BATON_" + setting.upper().replace("-", "_")
    assert last_line(err).startswith(f"baton-datadog: setting --{setting} ({variable}): the value has the shape of")
    assert key.lower() not in (out + err).lower(), "the key is shown nowhere"
    assert out == ""
    assert len(fake.requests()) == before, "not a single request: the key is not sent to Datadog"


def test_a_revoke_of_an_inspect_row_pasted_whole_is_refused_not_printed_as_done(fake: FakeDatadog) -> None:
    """`--revoke-grant role:<id>:member:user:<id>  Jane Doe` (the row, not the id): Datadog answered 404 for a user it
    does not know, the line said "not in Datadog ... (nothing changed ...)", exit 0, and the user kept the role."""
    role, user = pick(fake)
    fake.org.assign_role(user.id, role.id)
    code, out, err = cli(fake, "--revoke-grant", f"role:{role.id}:member:user:{user.id}  Jane Doe")
    assert code == 2, err
    assert out == ""
    assert last_line(err).startswith("baton-datadog: setting --revoke-grant (BATON_REVOKE_GRANT): ")
    assert "whitespace" in last_line(err)
    assert role.id in fake.org.users[user.id].role_ids


def test_an_application_key_datadog_will_not_delete_is_a_runtime_failure_not_a_setting(fake: FakeDatadog) -> None:
    """A person's application key: Datadog answers 404 to deleting it as a service account's and refuses the
    org-wide deletion (403: the connector's key lacks org_app_keys_write). The key is live, and the line said
    `setting --delete-resource (BATON_DELETE_RESOURCE): ...`, exit 2: the operator was sent to fix a flag that was
    right. What Datadog refused is a runtime failure (exit 1), as for the other actions."""
    owner = next(u for u in fake.org.users.values() if not u.service_account and not u.disabled)
    key = AppKey(fake.org.new_id(), "a person's key", fake.org.new_secret(40), owner.id, fake.org.now())
    fake.org.app_keys[key.id] = key
    fake.faults.force(403, path="/api/v2/application_keys/", method="DELETE")
    code, out, err = cli(
        fake,
        *_DELETION,
        "--delete-resource",
        key.id,
        "--delete-resource-type",
        "service-account-application-key",
    )
    assert key.id in fake.org.app_keys
    assert code == 1, err
    assert out == ""
    assert last_line(err).startswith("baton-datadog: delete-resource failed: ")
    assert last_line(err).count("baton-datadog") == 1, "the connector's name once, at the start of the line"
    assert f'application key "{key.id}" was NOT deleted' in last_line(err)
    assert "setting --" not in last_line(err)


@pytest.mark.parametrize("given", ["api-key", "service-account-application-key"])
def test_a_token_handle_deleted_as_a_key_is_refused_naming_the_type(fake: FakeDatadog, given: str) -> None:
    """A `sat:` handle (as a sync lists a service access token) given with the type of a key: the key's path
    answered 404 for an id no key has, printed "deleted ... (Datadog no longer holds it)", exit 0, the token live."""
    robot = next(u for u in fake.org.users.values() if u.service_account)
    # A token of its own: the module's fake is shared, and another test revokes one of the org's.
    token = AccessToken(
        fake.org.new_id(), "robot-token", fake.org.new_secret(40), "ddsat_x", robot.id, [], fake.org.now()
    )
    fake.org.tokens[token.id] = token
    handle = sat_handle(token.owner_id, token.id)
    before = len(fake.requests())
    code, out, err = cli(fake, *_DELETION, "--delete-resource", handle, "--delete-resource-type", given)
    assert code == 2, err
    assert last_line(err) == (
        "baton-datadog: setting --delete-resource-type (BATON_DELETE_RESOURCE_TYPE): the id is a service access "
        f"token's handle, not an id of type '{given}': give --delete-resource-type service-account-access-token"
    )
    assert out == ""
    assert token.id in fake.org.tokens
    assert len(fake.requests()) == before, "not a single request"


@pytest.mark.parametrize("form", ["{token}", "{owner}/{token}", "sat:{token}"])
def test_a_token_deleted_by_anything_but_its_handle_is_refused_naming_the_handle(fake: FakeDatadog, form: str) -> None:
    """A service access token is deleted by the `sat:` handle a sync lists it under (README, "One-shot
    provisioning"); the token's own UUID, which Datadog's pages show, names no service account. Such a value was
    refused as a "malformed service access token handle", a phrase nothing in --help or the README uses, and the
    operator was left to guess what a handle is. The refusal says what the flag takes and where to find it."""
    robot = next(u for u in fake.org.users.values() if u.service_account)
    token = AccessToken(
        fake.org.new_id(), "robot-token", fake.org.new_secret(40), "ddsat_x", robot.id, [], fake.org.now()
    )
    fake.org.tokens[token.id] = token
    value = form.format(token=token.id, owner=robot.id)
    before = len(fake.requests())
    code, out, err = cli(
        fake, *_DELETION, "--delete-resource", value, "--delete-resource-type", "service-account-access-token"
    )
    assert code == 2, err
    assert last_line(err) == (
        f"baton-datadog: setting --delete-resource (BATON_DELETE_RESOURCE): {value!r} is not a service access "
        "token's id: give the sat:… id a sync lists it under (baton-datadog inspect FILE --resources "
        "service-account-access-token)"
    )
    assert out == ""
    assert token.id in fake.org.tokens
    assert len(fake.requests()) == before, "not a single request"


@pytest.mark.parametrize(
    ("given", "form"),
    [
        ("api-key", "{type}:{id}"),  # what the deletion's own line prints, and --sync-resources' form
        ("service-account-application-key", "{type}:{id}"),
        ("api-key", "bid:r:{type}/{id}"),  # the Go SDK's resource reference
    ],
)
def test_a_key_id_given_with_its_type_is_refused_unsent(fake: FakeDatadog, given: str, form: str) -> None:
    """A key's id with its type in front (`api-key:<id>`: how the deletion's line, --sync-resources and the grant
    ids write it) went to Datadog as the id; Datadog's 404 for an id no key has was printed "gone from Datadog:
    api-key:api-key:<id>", exit 0, the key still live. Key ids are UUIDs and hold no ':'; the type has its flag."""
    owner = next(u for u in fake.org.users.values() if u.service_account)
    key = AppKey(fake.org.new_id(), "robot key", fake.org.new_secret(40), owner.id, fake.org.now())
    fake.org.app_keys[key.id] = key
    key_id = key.id if given == "service-account-application-key" else next(iter(fake.org.api_keys))
    value = form.format(type=given, id=key_id)
    before = len(fake.requests())
    code, out, err = cli(fake, *_DELETION, "--delete-resource", value, "--delete-resource-type", given)
    assert code == 2, err
    assert last_line(err) == (
        f"baton-datadog: setting --delete-resource (BATON_DELETE_RESOURCE): {value!r} is not a bare "
        f"{given} id: give the id alone, {key_id!r} (its type goes in --delete-resource-type)"
    )
    assert out == ""
    assert key_id in fake.org.api_keys or key_id in fake.org.app_keys
    assert len(fake.requests()) == before, "not a single request"


@pytest.mark.parametrize("given", ["api-key", "service-account-application-key", "service-account-access-token"])
def test_a_deletion_id_holding_whitespace_is_refused_unsent(fake: FakeDatadog, given: str) -> None:
    """A row of `baton-datadog inspect --resources api-key` pasted whole (`<id>  <name>`): Datadog's 404 for that
    "id" was printed "gone from Datadog", exit 0, the key still live. No id holds whitespace."""
    key = next(iter(fake.org.api_keys.values()))
    value = f"{key.id}  {key.name}"
    before = len(fake.requests())
    code, out, err = cli(fake, *_DELETION, "--delete-resource", value, "--delete-resource-type", given)
    assert code == 2, err
    assert last_line(err) == (
        f"baton-datadog: setting --delete-resource (BATON_DELETE_RESOURCE): {value!r} holds whitespace or an "
        "invisible character, which no id does (a table row pasted whole?): give the id alone"
    )
    assert out == ""
    assert key.id in fake.org.api_keys
    assert len(fake.requests()) == before, "not a single request"


@pytest.mark.parametrize("mistyped", ["role", "user"])
def test_a_revoke_with_a_mistyped_id_does_not_claim_the_access_was_revoked(fake: FakeDatadog, mistyped: str) -> None:
    """Datadog's 404 for an unknown role or user is the same as for a role not held, and the revoke takes both as
    done (ConductorOne's revoke of access already gone must not fail). The line said "already revoked: ... (nothing
    changed)", exit 0: the admin who mistyped an id read that the access was gone while the user still held it
    (the README's example, run with its placeholders, said so too)."""
    role, user = pick(fake)
    code, out, err = cli(fake, "--grant-entitlement", f"role:{role.id}:member", "--grant-principal", user.id)
    assert code == 0, err
    unknown = "00000000-1111-2222-3333-444444444444"
    grant = (
        f"role:{unknown if mistyped == 'role' else role.id}:member:user:{unknown if mistyped == 'user' else user.id}"
    )
    code, out, err = cli(fake, "--revoke-grant", grant)
    assert code == 0, err
    assert out.strip() == f"not in Datadog: {grant} {NOT_HELD}"
    assert "revoked:" not in out, "no claim that a revoke happened or had happened"
    assert role.id in fake.org.users[user.id].role_ids
    cli(fake, "--revoke-grant", f"role:{role.id}:member:user:{user.id}")


@pytest.mark.parametrize("status", [400, 403, 500])
def test_what_datadog_answers_a_deletion_is_a_runtime_failure_in_the_deleters_own_words(
    fake: FakeDatadog, status: int
) -> None:
    """The task handler wraps a deleter's error in ConductorOne's wire text, its code kept: every line said
    "delete-resource failed: error: delete resource failed:" before Datadog's words (and a 400 was once read as the
    operator's mistake, exit 2)."""
    key = next(iter(fake.org.api_keys.values()))
    fake.faults.force(status, path=f"/api/v2/api_keys/{key.id}", method="DELETE", times=5)
    try:
        flags = ["--sync-secrets", "--allow-org-api-key-deletion", "--delete-resource-type", "api-key"]
        code, out, err = cli(fake, *flags, "--delete-resource", key.id)
    finally:
        fake.faults.clear()
    assert code == 1, err
    assert out == ""
    assert last_line(err).startswith("baton-datadog: delete-resource failed: Datadog ")
    assert f"DELETE /api/v2/api_keys/{key.id} -> {status}" in last_line(err)
    assert "error: delete resource failed" not in err
    assert key.id in fake.org.api_keys


def test_a_deletion_refused_for_its_id_names_the_flag_once(fake: FakeDatadog) -> None:
    """The deleter's refusal of a malformed id is the operator's mistake (exit 2), in the deleter's words: the line
    read "setting --delete-resource (…): error: delete resource failed: baton-datadog: API key id … is malformed"."""
    flags = ["--sync-secrets", "--allow-org-api-key-deletion", "--delete-resource-type", "api-key"]
    before = len(fake.requests(method="DELETE"))
    code, out, err = cli(fake, *flags, "--delete-resource", "k\x1b]0;owned\x07")
    assert code == 2, err
    assert out == ""
    assert last_line(err) == (
        'baton-datadog: setting --delete-resource (BATON_DELETE_RESOURCE): API key id "k\\x1b]0;owned\\x07" is malformed'
    )
    assert len(fake.requests(method="DELETE")) == before
