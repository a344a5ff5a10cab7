"""--invoke-action against the fake Datadog: an argument the action does not take, or a key given twice, is refused
before any request (not even the key check), naming --invoke-action-args and what the action does take."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.daemon.cli import last_line, run_cli
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.independent.operator.conftest import API_KEY, APP_KEY, assert_quiet

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=6, seed=201, teams=1, schedules=0), api_key=API_KEY, app_key=APP_KEY) as dd:
        yield dd


def _user(fake: FakeDatadog) -> str:
    return next(u.id for u in fake.org.users.values() if not u.disabled and not u.service_account)


def _ref(user: str) -> dict[str, str]:
    return {"resource_type_id": "user", "resource_id": user}


@pytest.mark.parametrize(
    ("action", "extra", "words"),
    [
        ("disable_user", {"dry_run": True}, "action 'disable_user' takes no argument 'dry_run'; it takes user_id"),
        ("enable_user", {"force": 1, "reason": "x"}, "takes no argument 'force', 'reason'; it takes user_id"),
        (
            "update_user",
            {"title": "SRE", "nmae": "Jane"},  # a typo beside a right one: the title alone was changed, exit 0
            "action 'update_user' takes no argument 'nmae'; it takes user_id, name, email, title",
        ),
    ],
)
def test_an_argument_the_action_does_not_take_is_refused_unsent(
    fake: FakeDatadog, action: str, extra: dict[str, object], words: str
) -> None:
    user = _user(fake)
    args = {"user_id": _ref(user) if action == "update_user" else user, **extra}
    before = len(fake.requests())
    done = run_cli(
        "--api-key", API_KEY, "--app-key", APP_KEY, "--base-url", fake.base_url, "--provisioning",
        "--invoke-action", action, "--invoke-action-args", json.dumps(args),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    line = last_line(done.stderr)
    assert line.startswith("baton-datadog: setting --invoke-action-args (BATON_INVOKE_ACTION_ARGS): action ")
    assert line.endswith(f"{words}; nothing was sent")
    assert done.stdout == ""
    assert len(fake.requests()) == before, "not a single request"
    assert not fake.org.users[user].disabled
    assert_quiet(done.stdout, done.stderr)


def test_a_user_id_given_twice_disables_no_one(fake: FakeDatadog) -> None:
    first, second = [u.id for u in fake.org.users.values() if not u.disabled and not u.service_account][:2]
    before = len(fake.requests())
    done = run_cli(
        "--api-key", API_KEY, "--app-key", APP_KEY, "--base-url", fake.base_url, "--provisioning",
        "--invoke-action", "disable_user", "--invoke-action-args", f'{{"user_id": "{first}", "user_id": "{second}"}}',
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "gives 'user_id' twice" in last_line(done.stderr)
    assert len(fake.requests()) == before
    assert not fake.org.users[first].disabled
    assert not fake.org.users[second].disabled
    assert_quiet(done.stdout, done.stderr)


def test_the_arguments_an_action_takes_still_run_it(fake: FakeDatadog) -> None:
    user = _user(fake)
    done = run_cli(
        "--api-key", API_KEY, "--app-key", APP_KEY, "--base-url", fake.base_url, "--provisioning",
        "--invoke-action", "update_user",
        "--invoke-action-args", json.dumps({"user_id": _ref(user), "name": "Jane Operator", "title": "SRE"}),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert fake.org.users[user].title == "SRE"
    assert_quiet(done.stdout, done.stderr)


def test_an_unknown_argument_with_a_keys_shape_is_not_shown(fake: FakeDatadog) -> None:
    user = _user(fake)
    done = run_cli(
        "--api-key", API_KEY, "--app-key", APP_KEY, "--base-url", fake.base_url, "--provisioning",
        "--invoke-action", "disable_user",
        "--invoke-action-args", json.dumps({"user_id": user, "0123456789abcdef0123456789abcdef0123abcd": True}),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "0123456789abcdef" not in done.stderr
    assert "takes no argument (a name with the shape of a Datadog API or application key" in last_line(done.stderr)
    assert not fake.org.users[user].disabled
