"""`--allow-org-api-key-deletion` does nothing without both `--sync-secrets` and `--provisioning` (as in the Go
connector, docs/spec/reference-connector.md §1a). Given with `-p`, the warning still said "without --sync-secrets
and --provisioning", and the user checked the `-p` they had given. It names only what is missing."""

from __future__ import annotations

import pytest

from connector.daemon.oneshot import idle_settings
from connector.daemon.settings import load

SETTING = "setting --allow-org-api-key-deletion (BATON_ALLOW_ORG_API_KEY_DELETION) does nothing without "


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ([], "--sync-secrets and --provisioning"),
        (["-p"], "--sync-secrets"),
        (["--sync-secrets"], "--provisioning"),
    ],
)
def test_the_warning_names_only_the_switches_not_given(given: list[str], missing: str) -> None:
    keys = ["--api-key", "a" * 32, "--app-key", "b" * 40]
    assert idle_settings(load([*keys, "--allow-org-api-key-deletion", *given])) == [
        f"{SETTING}{missing}; it is ignored"
    ]


def test_no_warning_with_both() -> None:
    keys = ["--api-key", "a" * 32, "--app-key", "b" * 40]
    assert idle_settings(load([*keys, "--allow-org-api-key-deletion", "-p", "--sync-secrets"])) == []
