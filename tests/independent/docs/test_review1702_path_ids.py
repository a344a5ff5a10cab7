"""Review r1702: a one-shot deletion naming an id no request path can hold (`.`, `..`, over 1,024 characters, a `sat:`
handle whose account or token is one) is refused before any request, the key check's included, and `config` says the
same line; every shape the README shows still runs and `config` finds nothing in it."""

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


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=40, seed=1702, teams=2, schedules=0), api_key=API_KEY, app_key=APP_KEY) as dd:
        yield dd


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("BATON_", "DD_", "DATADOG_"))]:
        monkeypatch.delenv(name)


def _flags(fake: FakeDatadog, flags: list[str]) -> list[str]:
    return ["--api-key", API_KEY, "--app-key", APP_KEY, "--base-url", fake.base_url, *flags]


def _human(fake: FakeDatadog, i: int = 0) -> str:
    return [u.id for u in fake.org.users.values() if not u.disabled and not u.service_account][i]


def _cases(fake: FakeDatadog) -> list[list[str]]:
    role = next(iter(fake.org.roles))
    team = next(iter(fake.org.teams))
    u1, u2, u3 = _human(fake, 1), _human(fake, 2), _human(fake, 3)
    key = next(iter(fake.org.api_keys))
    return [
        ["-p", "--grant-entitlement", f"role:{role}:member", "--grant-principal", u1],
        ["-p", "--revoke-grant", f"role:{role}:member:user:{u1}"],
        ["-p", "--grant-entitlement", f"team:{team}:admin", "--grant-principal", u2],
        ["-p", "--revoke-grant", f"team:{team}:admin:user:{u2}"],
        [
            "-p",
            "--create-account-email",
            "jane@example.com",
            "--create-account-name",
            "Jane Doe",
            "--create-account-title",
            "SRE",
        ],
        ["-p", "--invoke-action", "disable_user", "--invoke-action-args", json.dumps({"user_id": u3})],
        ["-p", "--invoke-action", "enable_user", "--invoke-action-args", json.dumps({"user_id": u3})],
        [
            "-p",
            "--invoke-action",
            "update_user",
            "--invoke-action-args",
            json.dumps({"user_id": {"resource_type_id": "user", "resource_id": u3}, "title": "SRE"}),
        ],
        [
            "-p",
            "--sync-secrets",
            "--allow-org-api-key-deletion",
            "--delete-resource",
            key,
            "--delete-resource-type",
            "api-key",
        ],
    ]


def test_every_readme_shape_runs_and_config_is_clean(fake: FakeDatadog) -> None:
    for flags in _cases(fake):
        effective = load_effective(_flags(fake, flags))
        assert startchecks.refusals(effective.settings, effective.sources).refused == [], flags
        assert asyncio.run(actions.run_action(effective.settings)) == 0, flags


APP = ["--sync-service-account-application-keys", "--delete-resource-type"]


@pytest.mark.parametrize(
    ("key_id", "kind"),
    [
        ("..", ["--allow-org-api-key-deletion", "--delete-resource-type", "api-key"]),
        (".", ["--allow-org-api-key-deletion", "--delete-resource-type", "api-key"]),
        ("z" * 1100, ["--allow-org-api-key-deletion", "--delete-resource-type", "api-key"]),
        ("..", [*APP, "service-account-application-key"]),
        ("sat:Li4AdG9r", [*APP, "service-account-access-token"]),  # sat_handle("..", "tok")
    ],
    ids=["api-key-dotdot", "api-key-dot", "api-key-1100-chars", "app-key-dotdot", "sat-of-account-dotdot"],
)
def test_an_id_no_path_can_hold_is_refused_before_the_key_check_and_by_config(
    fake: FakeDatadog, key_id: str, kind: list[str]
) -> None:
    flags = ["-p", "--sync-secrets", "--delete-resource", key_id, *kind]
    effective = load_effective(_flags(fake, flags))
    before = len(fake.requests())
    with pytest.raises(SettingsError) as refused:
        asyncio.run(actions.run_action(effective.settings))
    assert len(fake.requests()) == before, "the keys went to Datadog for a mistake in the flags"
    checked = load_effective(_flags(fake, flags), command="config")
    assert startchecks.refusals(checked.settings, checked.sources).refused == list(refused.value.problems)
