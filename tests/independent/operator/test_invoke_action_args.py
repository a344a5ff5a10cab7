"""An independent attack on --invoke-action-args: JSON that reads two ways, and arguments the action does not take.

A key given twice was kept last without a word (Python's reader and Go's both do), and an argument the action does
not take was dropped: `{"user_id": A, "user_id": B}` disabled B, and `{"user_id": A, "dry_run": true}` disabled A.
Each is refused before anything is sent, naming --invoke-action-args, exit 2.
"""

from __future__ import annotations

import json

import pytest

from connector.daemon.settings import SettingsError, load


@pytest.mark.parametrize(
    ("args", "key"),
    [
        ('{"user_id": "u1", "user_id": "u2"}', "user_id"),
        ('{"user_id": {"resource_type_id": "user", "resource_id": "u1", "resource_id": "u2"}}', "resource_id"),
        ('{"user_id": "u1", "x": [{"a": 1, "a": 1}]}', "a"),  # at any depth, even with equal values
    ],
)
def test_a_key_given_twice_is_refused_naming_it(args: str, key: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load(["--provisioning", "--invoke-action", "disable_user", "--invoke-action-args", args])
    (problem,) = caught.value.problems
    assert problem == (
        f"setting --invoke-action-args (BATON_INVOKE_ACTION_ARGS): gives {key!r} twice: keep one (only one of them "
        "would be used)"
    )


def test_a_long_repeated_key_is_quoted_cut_short() -> None:
    key = "k" * 5000
    args = f'{{"{key}": 1, "{key}": 2}}'
    with pytest.raises(SettingsError) as caught:
        load(["--provisioning", "--invoke-action", "disable_user", "--invoke-action-args", args])
    (problem,) = caught.value.problems
    assert f"gives {'k' * 100!r} twice" in problem
    assert len(problem) < 300


def test_keys_that_differ_only_in_case_or_in_nesting_are_different_keys() -> None:
    args = '{"user_id": "u1", "User_Id": "u2", "x": {"user_id": "u3"}}'
    given = load(["--provisioning", "--invoke-action", "disable_user", "--invoke-action-args", args])
    assert json.loads(given.invoke_action_args) == {"user_id": "u1", "User_Id": "u2", "x": {"user_id": "u3"}}


def test_a_repeated_name_with_a_keys_shape_is_not_shown() -> None:
    key = "0123456789abcdef0123456789abcdef"  # an API key's shape, pasted as an argument's name
    with pytest.raises(SettingsError) as caught:
        load(
            ["--provisioning", "--invoke-action", "disable_user", "--invoke-action-args", f'{{"{key}": 1, "{key}": 2}}']
        )
    (problem,) = caught.value.problems
    assert key not in problem
    assert "gives a name with the shape of a Datadog API or application key" in problem
