"""A one-shot provisioning flag given twice with different values is refused, nothing sent: one run, one change.

As a plain flag the last value won without a word: `-p --revoke-grant A --revoke-grant B` revoked B alone, printed
"revoked B", exit 0, and left A's access in place; `--delete-resource K1 --delete-resource K2` left K1 live;
`--grant-principal U1 --grant-principal U2` granted U2 alone. Two different actions (`--grant-entitlement` with
`--revoke-grant`) were already refused ("run one provisioning action at a time"); a second value of one action is
a second change too. The same value twice is one change, and stays allowed. The values are never shown.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.daemon.cli import run_cli_in_process
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.independent.firsthour.conftest import API_KEY, APP_KEY, assert_quiet

A = "11111111-2222-3333-4444-555555555555"
B = "66666666-7777-8888-9999-000000000000"
ROLE = "e3e70682-c209-4cac-a29f-6fbed82c07cd"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=3, seed=5, teams=1, schedules=0), api_key=API_KEY, app_key=APP_KEY) as server:
        yield server


def _run(fake: FakeDatadog, *args: str) -> tuple[int, str, int, str]:
    env = {"BATON_API_KEY": API_KEY, "BATON_APP_KEY": APP_KEY, "BATON_BASE_URL": fake.base_url}
    sent = len(fake.requests())
    done = run_cli_in_process("-p", "--sync-secrets", "--allow-org-api-key-deletion", *args, env=env)
    assert_quiet(done.stdout, done.stderr)
    return done.returncode, done.stderr, len(fake.requests()) - sent, done.stdout


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (
            ["--revoke-grant", f"role:{ROLE}:member:user:{A}", "--revoke-grant", f"role:{ROLE}:member:user:{B}"],
            "revoke",
        ),
        (["--grant-entitlement", f"role:{ROLE}:member", "--grant-principal", A, "--grant-principal", B], "principal"),
        (["--delete-resource", A, "--delete-resource", B, "--delete-resource-type", "api-key"], "delete"),
        (
            ["--invoke-action", "disable_user", "--invoke-action-args", f'{{"user_id": "{A}"}}'] * 2
            + ["--invoke-action-args", f'{{"user_id": "{B}"}}'],
            "invoke-action-args",
        ),
        (["--create-account-email", "a@example.com", "--create-account-email=b@example.com"], "create-account-email"),
    ],
    ids=["revoke-grant", "grant-principal", "delete-resource", "invoke-action-args", "create-account-email"],
)
def test_a_second_value_of_an_action_flag_is_refused_before_any_request(
    fake: FakeDatadog, args: list[str], name: str
) -> None:
    code, err, sent, _ = _run(fake, *args)
    assert code == 2, err
    (line,) = [line for line in err.splitlines() if not line.startswith("{")]
    flag = {"revoke": "--revoke-grant", "principal": "--grant-principal", "delete": "--delete-resource"}.get(
        name, f"--{name}"
    )
    assert line.startswith(f"baton-datadog: setting {flag} ("), line
    assert "given 2 times with different values" in line or "given 3 times with different values" in line, line
    assert "run once for each change" in line
    for value in (A, B, "b@example.com"):
        assert value not in line, "a value was shown"
    assert sent == 0, "a request went to Datadog"


def test_the_same_value_twice_is_one_change(fake: FakeDatadog) -> None:
    grant = f"role:{ROLE}:member:user:{A}"
    code, err, _, out = _run(fake, "--revoke-grant", grant, f"--revoke-grant={grant}")
    assert code == 0, err
    assert out.count(grant) == 1, out  # revoked (or found not held) once
