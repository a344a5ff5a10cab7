"""One-shot actions: what README.md says of `baton-datadog config` ("the checks a run makes at start ... a one-shot
action's own checks ... each refusal of a value given follows the table on stderr as `error: ` and the run's own line,
and the exit code is then 2, as the run's") holds for every input mistake the action's handler refuses, and the run
refuses each before any request, as it does a key pasted as an id or an argument the action does not take.

They were the handler's to refuse, and the run called it only after the start-up key check: a typo'd action
(`--invoke-action disable-user`), a missing or ill-typed `user_id`, an `update_user` changing nothing, a principal of
another type than `user`, an entitlement its resource does not have (`role:<id>:admin`), a resource type that takes
no grants (`schedule`) and an address Datadog cannot email were each refused with exit 2 only after two requests had
carried both keys to Datadog, and `config` with the same flags listed no error and exited 0."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator

import pytest

from connector.daemon import actions, startchecks
from connector.daemon.settings import SettingsError, load_effective
from tests.fakes.datadog import FakeDatadog, generate_org

API_KEY = "0123456789abcdef0123456789abcdef"
APP_KEY = "0123456789abcdef0123456789abcdef01234567"
ROLE = "94172442-be03-11e9-a77a-3b7612558ac1"
TEAM = "3faaa27d-f2c6-4e07-b672-8d38d7c6a887"
USER = "9c2a5bee-8f25-4975-9d5a-b9d27b711915"
SCHEDULE = "36a90515-1ce5-4c07-85da-3c2dd14a1afc"

# (flags, the setting the line names, words of the line)
MISTAKES = [
    (
        ["--invoke-action", "disable-user", "--invoke-action-args", json.dumps({"user_id": USER})],
        "--invoke-action",
        "unknown action 'disable-user' (the actions: disable_user, enable_user, update_user)",
    ),
    (["--invoke-action", "disable_user"], "--invoke-action-args", "the action needs a user_id argument"),
    (
        ["--invoke-action", "enable_user", "--invoke-action-args", '{"user_id": 5}'],
        "--invoke-action-args",
        "user_id must be a string or a resource id, not a number",
    ),
    (
        [
            "--invoke-action",
            "update_user",
            "--invoke-action-args",
            json.dumps({"user_id": {"resource_type_id": "user", "resource_id": USER}}),
        ],
        "--invoke-action-args",
        "update_user requires at least one of name, email or title",
    ),
    (
        [
            "--invoke-action",
            "update_user",
            "--invoke-action-args",
            json.dumps({"user_id": {"resource_type_id": "user", "resource_id": USER}, "email": "jane@"}),
        ],
        "--invoke-action-args",
        "email 'jane@' is not a valid email address",
    ),
    (
        [
            "--invoke-action",
            "disable_user",
            "--invoke-action-args",
            json.dumps({"user_id": {"resource_type_id": "role", "resource_id": ROLE}}),
        ],
        "--invoke-action-args",
        "user_id must identify a user, not a 'role'",
    ),
    (
        ["--grant-entitlement", f"role:{ROLE}:member", "--grant-principal", USER, "--grant-principal-type", "team"],
        "--grant-principal-type",
        "Datadog role entitlements can only be granted to users, not to a principal of type 'team'",
    ),
    (
        ["--grant-entitlement", f"role:{ROLE}:admin", "--grant-principal", USER],
        "--grant-entitlement",
        "Datadog role has no entitlement 'admin' (it has: member)",
    ),
    (
        ["--grant-entitlement", f"schedule:{SCHEDULE}:on_call", "--grant-principal", USER],
        "--grant-entitlement",
        "resource type 'schedule' does not support grants (those that do: role, team)",
    ),
    (
        ["--revoke-grant", f"team:{TEAM}:owner:user:{USER}"],
        "--revoke-grant",
        "Datadog team has no entitlement 'owner' (it has: member, admin)",
    ),
    (
        ["--revoke-grant", f"role:{ROLE}:member:team:{TEAM}"],
        "--revoke-grant",
        "can only be granted to users, not to a principal of type 'team'",
    ),
    (
        ["--create-account-email", "jane.example.com"],
        "--create-account-email",
        "email 'jane.example.com' is not a valid email address",
    ),
]
IDS = [
    "unknown-action",
    "no-user-id",
    "user-id-a-number",
    "update-changing-nothing",
    "update-to-a-bad-email",
    "user-id-of-a-role",
    "grant-to-a-team",
    "role-admin",
    "schedule-grant",
    "team-owner-revoke",
    "revoke-from-a-team",
    "email-without-at",
]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=3, seed=1703, teams=1, schedules=0), api_key=API_KEY, app_key=APP_KEY) as dd:
        yield dd


@pytest.fixture(autouse=True)
def _no_baton_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("BATON_", "DD_", "DATADOG_"))]:
        monkeypatch.delenv(name)


def _flags(fake: FakeDatadog, flags: list[str]) -> list[str]:
    return ["-p", "--api-key", API_KEY, "--app-key", APP_KEY, "--base-url", fake.base_url, *flags]


@pytest.mark.parametrize(("flags", "setting", "words"), MISTAKES, ids=IDS)
def test_config_names_the_mistake_the_run_refuses(
    fake: FakeDatadog, flags: list[str], setting: str, words: str
) -> None:
    effective = load_effective(_flags(fake, flags), command="config")
    refused = startchecks.refusals(effective.settings, effective.sources).refused
    assert len(refused) == 1, refused
    assert refused[0].startswith(f"setting {setting} ("), refused[0]
    assert words in refused[0]


@pytest.mark.parametrize(("flags", "setting", "words"), MISTAKES, ids=IDS)
def test_the_run_refuses_it_before_any_request_in_configs_words(
    fake: FakeDatadog, flags: list[str], setting: str, words: str
) -> None:
    effective = load_effective(_flags(fake, flags))
    before = len(fake.requests())
    with pytest.raises(SettingsError) as refused:
        asyncio.run(actions.run_action(effective.settings))
    assert len(fake.requests()) == before, "the keys went to Datadog for a mistake in the flags"
    (line,) = refused.value.problems
    assert line.startswith(f"setting {setting} ("), line
    assert words in line
    checked = load_effective(_flags(fake, flags), command="config")
    assert startchecks.refusals(checked.settings, checked.sources).refused == [line], "config says what the run says"


def test_a_right_action_still_runs_after_the_checks(fake: FakeDatadog) -> None:
    user = next(u for u in fake.org.users.values() if not u.disabled and not u.service_account)
    flags = ["--invoke-action", "update_user", "--invoke-action-args"]
    flags.append(json.dumps({"user_id": {"resource_type_id": "user", "resource_id": user.id}, "title": "SRE"}))
    effective = load_effective(_flags(fake, flags))
    assert startchecks.refusals(effective.settings, effective.sources).refused == []
    assert asyncio.run(actions.run_action(effective.settings)) == 0
    assert fake.org.users[user.id].title == "SRE"
