"""A flag in the spelling of its variable or of another tool (`--client_id` from BATON_CLIENT_ID, `--API-KEY`,
`--HELP`): the refusal names the flag meant, and never the value given with it."""

from __future__ import annotations

import pytest

from tests.daemon.cli import run_cli_in_process
from tests.independent.firsthour.conftest import API_KEY, SECRET, assert_quiet


@pytest.mark.parametrize(
    ("args", "meant"),
    [
        (("--client_id", "my-client"), "--client-id"),
        (("--client_secret", SECRET), "--client-secret"),
        (("--api_key", API_KEY), "--api-key"),
        ((f"--api_key={API_KEY}",), "--api-key"),
        (("--log_level", "debug"), "--log-level"),
        (("--sync_secrets",), "--sync-secrets"),
        (("--API-KEY", API_KEY), "--api-key"),
        (("--Client-Secret", SECRET), "--client-secret"),
        (("--HELP",), "--help"),
        (("--VERSION",), "--version"),
        (("config", "--JSON"), "--json"),
        (("inspect", "--GRANTS"), "--grants"),
    ],
)
def test_a_flag_in_another_spelling_is_refused_naming_the_flag_meant(args: tuple[str, ...], meant: str) -> None:
    # Each was "an unknown flag (not shown: it does not look like a flag name)" or "unknown flag --HELP", no guess.
    done = run_cli_in_process(*args)
    assert done.returncode == 2
    assert f"did you mean {meant}?" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert_quiet(done.stdout, done.stderr)


def test_an_sdk_setting_in_the_variables_spelling_is_named_as_the_sdks() -> None:
    done = run_cli_in_process("--log_path", "/var/log/x.log")
    assert done.returncode == 2
    assert "--log_path is a baton-sdk setting baton-datadog does not implement" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--log-level", "debug", "inspect", "sync.c1z"),
        ("inspect", "sync.c1z", "--log-level=debug"),
        ("-p", "inspect", "sync.c1z"),
        ("inspect", "sync.c1z", "--api-key", API_KEY),
        ("--site", "datadoghq.eu", "inspect"),
    ],
)
def test_a_settings_flag_given_to_inspect_is_named_as_a_setting_not_as_unknown(args: tuple[str, ...]) -> None:
    # README: flags may stand before a command (`--log-level debug capabilities`), but inspect reads a file, not
    # settings. It said "unknown flag --log-level": a flag --help lists.
    done = run_cli_in_process(*args)
    assert done.returncode == 2
    line = done.stderr.strip()
    assert "unknown flag" not in line
    flag = next(arg for arg in args if arg.startswith("-")).partition("=")[0]
    assert line == (
        f"baton-datadog: inspect: {flag} is a setting of a sync or the service; inspect reads a file and takes none "
        "(its flags: baton-datadog inspect --help)"
    )
    assert_quiet(done.stdout, done.stderr)


def test_a_misspelt_flag_of_inspects_own_still_gets_its_guess() -> None:
    done = run_cli_in_process("inspect", "sync.c1z", "--grant")
    assert "unknown flag --grant; did you mean --grants?" in done.stderr
