"""A one-shot flag (or ConductorOne task) naming what this connector does not have names what it has.

The settings already do so (`--sync-resource-types ROLE`: "not a resource type of this connector (this run syncs:
user, role, team)", `--delete-resource-type API-KEY`: "the types that can are api-key, ..."). The task handlers did
not: `--grant-entitlement ROLE:<id>:member` (typed by hand) said "resource type 'ROLE' does not support grants", as if
roles could not be granted, naming none that could; `--invoke-action DISABLE_USER` said "unknown action" and no action;
`--grant-principal-type USER` said role entitlements "can only be granted to users, not to a principal of type
'USER'", without the type to give. Each line now ends with what would work; nothing is sent to Datadog.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.daemon.cli import run_cli_in_process
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.independent.firsthour.conftest import API_KEY, APP_KEY, assert_quiet

ROLE = "e3e70682-c209-4cac-a29f-6fbed82c07cd"
USER = "eece328b-ff7b-418e-8208-65d6e005b860"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=3, seed=5, teams=1, schedules=0), api_key=API_KEY, app_key=APP_KEY) as server:
        yield server


def _refused(fake: FakeDatadog, *args: str) -> str:
    env = {"BATON_API_KEY": API_KEY, "BATON_APP_KEY": APP_KEY, "BATON_BASE_URL": fake.base_url}
    writes = len(fake.requests(method="POST")) + len(fake.requests(method="DELETE"))
    done = run_cli_in_process("-p", *args, env=env)
    assert_quiet(done.stdout, done.stderr)
    assert done.returncode == 2, done.stderr
    assert len(fake.requests(method="POST")) + len(fake.requests(method="DELETE")) == writes, "a request was sent"
    (line,) = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    return line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--grant-entitlement", f"ROLE:{ROLE}:member", "--grant-principal", USER],
            "setting --grant-entitlement (BATON_GRANT_ENTITLEMENT): resource type 'ROLE' does not support grants "
            "(those that do: role, team)",
        ),
        (
            ["--grant-entitlement", f"schedule:{ROLE}:member", "--grant-principal", USER],
            "resource type 'schedule' does not support grants (those that do: role, team)",
        ),
        (
            ["--revoke-grant", f"Team:{ROLE}:member:user:{USER}"],
            "setting --revoke-grant (BATON_REVOKE_GRANT): resource type 'Team' does not support revokes "
            "(those that do: role, team)",
        ),
        (
            ["--invoke-action", "DISABLE_USER", "--invoke-action-args", f'{{"user_id": "{USER}"}}'],
            "setting --invoke-action (BATON_INVOKE_ACTION): unknown action 'DISABLE_USER' "
            "(the actions: disable_user, enable_user, update_user)",
        ),
        (
            ["--grant-entitlement", f"role:{ROLE}:member", "--grant-principal", USER, "--grant-principal-type", "USER"],
            "setting --grant-principal-type (BATON_GRANT_PRINCIPAL_TYPE): Datadog role entitlements can only be "
            "granted to users, not to a principal of type 'USER' (a user's type is 'user')",
        ),
    ],
    ids=["grant-type-case", "grant-type-ungrantable", "revoke-type-case", "action-case", "principal-type-case"],
)
def test_the_refusal_names_what_would_work(fake: FakeDatadog, args: list[str], expected: str) -> None:
    assert _refused(fake, *args).endswith(expected)


def test_a_huge_unknown_action_is_cut_where_it_is_quoted(fake: FakeDatadog) -> None:
    line = _refused(fake, "--invoke-action", "x" * 5000)
    assert "(5000 characters) (the actions: disable_user, enable_user, update_user)" in line
    assert len(line) < 400
