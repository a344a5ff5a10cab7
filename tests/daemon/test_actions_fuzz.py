"""Fuzz: whatever an operator gives the one-shot flags that name what an action acts on (`--grant-entitlement`,
`--revoke-grant`, `--delete-resource`, `--invoke-action-args`...), building the action's Task gives a Task or a
SettingsError naming the flag, never another exception, and a Datadog key pasted anywhere in a value is never
quoted back."""

from __future__ import annotations

import json
import os
import re
from unittest import mock

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from connector.daemon.actions import build_task
from connector.daemon.settings import ENV_PREFIX, SettingsError, load

KEY = "0123456789abcdef0123456789abcdef"  # an API key's shape: 32 hexadecimal characters
# A Datadog key as the product tells one (connector/datadog/keyshape.py): a run of exactly 32 or 40 hex characters.
KEY_RUN = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{32})(?![0-9A-Fa-f])")
PIECES = st.sampled_from(
    [
        ":",
        "/",
        " ",
        "\t",
        "\n",
        "user",
        "role",
        "team",
        "api-key",
        "member",
        "bid:r:",
        KEY,
        KEY + "01234567",
        "u1",
        "3fa85f64-5717-4562-9b3f-2c963f66afa6",
        "sat_",
        "\u202e",
        "é",
    ]
)
TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=8)
VALUE = st.lists(st.one_of(PIECES, TEXT), min_size=1, max_size=6).map("".join)
ARG = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), VALUE),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(VALUE, inner, max_size=3)),
    max_leaves=6,
)
ARGS = st.dictionaries(
    st.one_of(st.sampled_from(["user_id", "resource_type_id", "resource_id"]), VALUE), ARG, max_size=3
)


def _check(argv: list[str]) -> None:
    with mock.patch.dict(os.environ, clear=False) as patched:
        for key in [k for k in patched if k.upper().startswith(ENV_PREFIX)]:
            del patched[key]
        try:
            build_task(load(["-p", *argv]))
        except SettingsError as exc:
            message = str(exc)
            assert message.strip()
            given_keys = {key.lower() for value in argv for key in KEY_RUN.findall(value)}
            assert not any(key in message.lower() for key in given_keys), message  # a key given is never quoted back


@pytest.mark.fuzz
@given(entitlement=VALUE, principal=VALUE, principal_type=st.none() | VALUE)
def test_any_grant_flags_build_a_grant_or_a_named_error(
    entitlement: str, principal: str, principal_type: str | None
) -> None:
    argv = [f"--grant-entitlement={entitlement}", f"--grant-principal={principal}"]
    _check(argv + ([f"--grant-principal-type={principal_type}"] if principal_type is not None else []))


@pytest.mark.fuzz
@given(grant=VALUE)
def test_any_revoke_flag_builds_a_revoke_or_a_named_error(grant: str) -> None:
    _check([f"--revoke-grant={grant}"])


@pytest.mark.fuzz
@given(resource=VALUE, resource_type=VALUE)
# A 44-character hex run is no key; cut to 100 characters for the message, 40 of it are left, which is no key given.
@example(resource=":", resource_type="3fa85f64-5717-4562-9b3f-2c963f66afa6" * 2 + KEY)
def test_any_delete_flags_build_a_deletion_or_a_named_error(resource: str, resource_type: str) -> None:
    _check([f"--delete-resource={resource}", f"--delete-resource-type={resource_type}"])


@pytest.mark.fuzz
@given(name=VALUE, args=ARGS)
def test_any_action_arguments_build_an_invocation_or_a_named_error(name: str, args: dict[str, object]) -> None:
    _check([f"--invoke-action={name}", f"--invoke-action-args={json.dumps(args)}"])
