"""A flag in the spelling of its variable or of another tool (`--client_id` from BATON_CLIENT_ID, `--API-KEY`,
`--HELP`): the refusal names the flag meant, and never the value given with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.daemon.cli import KEYS, run_cli_in_process
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


@pytest.mark.parametrize("hidden", ["--base-url", "--insecure-base-url", "--no-skip-grants", "--c1-api-host"])
def test_a_hidden_settings_flag_given_to_inspect_is_unknown_as_any_other(hidden: str) -> None:
    # `inspect f.c1z --base-url x` was "--base-url is a setting of a sync or the service": a flag --help keeps out of
    # sight, named to whoever tried it.
    done = run_cli_in_process("inspect", "sync.c1z", hidden, "x")
    assert done.returncode == 2
    assert done.stderr.startswith(f"baton-datadog: inspect: unknown flag {hidden} and 1 other argument(s)"), done.stderr
    assert "setting" not in done.stderr
    assert "did you mean" not in done.stderr


def test_a_misspelt_flag_of_inspects_own_still_gets_its_guess() -> None:
    done = run_cli_in_process("inspect", "sync.c1z", "--grant")
    assert "unknown flag --grant; did you mean --grants?" in done.stderr


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("--grant", "--grant-principal"),  # was --skip-grants: the opposite, and a flag --help does not list
        ("--secret", "--client-secret"),  # was --sync-secrets
        ("--datadog-site", "--site"),  # was no guess
        ("--dd-api-key", "--api-key"),
        ("--revoke", "--revoke-grant"),
        ("--log", "--log-level"),
        ("--api-kye", "--api-key"),
        ("--provision", "--provisioning"),
    ],
)
def test_a_guess_is_the_flag_word_for_word_before_one_only_spelt_alike(given: str, meant: str) -> None:
    # README: never "a near miss that means something else".
    done = run_cli_in_process(given, "value")
    assert done.returncode == 2
    assert f"unknown flag {given}; did you mean {meant}?" in done.stderr, done.stderr


@pytest.mark.parametrize("given", ["--region", "--output"])
def test_no_guess_rather_than_a_flag_only_spelt_alike(given: str) -> None:
    # `--region` was "did you mean --version?".
    done = run_cli_in_process(given, "eu")
    assert done.returncode == 2
    assert f"unknown flag {given} and" in done.stderr
    assert "did you mean" not in done.stderr


@pytest.mark.parametrize(
    ("variable", "meant"),
    [
        ("BATON_SECRET", "BATON_CLIENT_SECRET (--client-secret)"),  # was BATON_SYNC_SECRETS
        ("BATON_GRANT", "BATON_GRANT_PRINCIPAL (--grant-principal)"),  # was BATON_SKIP_GRANTS
        ("BATON_DATADOG_SITE", "BATON_SITE (--site)"),  # was no guess
        ("BATON_CONFIG_FILE", "BATON_CONFIG_PATH (--config)"),
        ("BATON_SYNC_SCHEDULE", "BATON_SYNC_SCHEDULES (--sync-schedules)"),
    ],
)
def test_a_variable_is_guessed_as_a_flag_is(variable: str, meant: str) -> None:
    done = run_cli_in_process("config", env={**KEYS, variable: "x"})
    assert done.returncode == 0
    assert f"warning: unknown environment variable {variable}; did you mean {meant}?" in done.stderr, done.stderr


def test_a_config_files_key_is_guessed_as_a_flag_is(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("secret: x\n")
    done = run_cli_in_process("--config", str(tmp_path / "c.yaml"), "config")
    assert done.returncode == 2
    assert "unknown setting 'secret'; did you mean BATON_CLIENT_SECRET (--client-secret)?" in done.stderr


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("--secrets", "--sync-secrets"),  # was --no-sync-secrets: the opposite
        ("--schedules", "--sync-schedules"),  # was --no-sync-schedules
        ("--service-mode", "--require-service-mode"),  # was --no-require-service-mode
        ("--no-sync-secret", "--no-sync-secrets"),  # a `no-` form is still guessed when one was typed
        ("--skip", "--skip-full-sync"),  # was the hidden --skip-grants
        ("--noprovisioning", "--no-provisioning"),  # was --provisioning, the flag that turns on writes to Datadog
        ("--nosync-secrets", "--no-sync-secrets"),  # was --sync-secrets
        ("--dont-sync-secrets", "--no-sync-secrets"),  # was --sync-secrets
        ("--nohealth-check", "--no-health-check"),  # was --health-check
        ("--nofull-sync", "--skip-full-sync"),  # was --no-skip-full-sync, the flag that runs it
        ("--disallow-org-api-key-deletion", "--no-allow-org-api-key-deletion"),  # was --allow-…
        ("--off-provisioning", "--no-provisioning"),  # was --provisioning
    ],
)
def test_a_guess_is_never_the_opposite_of_the_flag_typed(given: str, meant: str) -> None:
    done = run_cli_in_process(given)
    assert done.returncode == 2
    assert f"unknown flag {given}; did you mean {meant}?" in done.stderr, done.stderr


@pytest.mark.parametrize(
    "given",
    [
        "--url",
        "--grants",
        "--skip-grant",
        "--base_url",
        "--no-site",
        # A misspelled negation is counted wrong: these were the flags that do the reverse (--skip-full-sync, which
        # skips it, and --provisioning, which turns on writes).
        "--no-skp-full-sync",
        "--n-provisioning",
    ],
)
def test_no_guess_rather_than_an_opposite_or_a_hidden_flag(given: str) -> None:
    # `--url` was "did you mean --no-insecure-base-url?" (a flag --help does not list, that sends both keys
    # unencrypted), `--grants` "--no-skip-entitlements-and-grants", `--skip-grant` the hidden `--skip-grants`.
    done = run_cli_in_process(given)
    assert done.returncode == 2
    assert f"unknown flag {given};" in done.stderr, done.stderr
    assert "did you mean" not in done.stderr


@pytest.mark.parametrize("variable", ["BATON_URL", "BATON_SKIP_GRANT", "BATON_BASE_UR"])
def test_a_variable_is_never_guessed_as_a_hidden_setting(variable: str) -> None:
    # BATON_URL was "did you mean BATON_INSECURE_BASE_URL (--insecure-base-url)?".
    done = run_cli_in_process("config", env={**KEYS, variable: "x"})
    assert done.returncode == 0
    assert f"warning: unknown environment variable {variable} (not a setting of this connector)" in done.stderr


def test_a_variable_is_never_guessed_as_its_opposite() -> None:
    done = run_cli_in_process("config", env={"BATON_SKIP": "true", "BATON_SECRETS": "true"})
    assert "BATON_SKIP; did you mean BATON_SKIP_FULL_SYNC (--skip-full-sync)?" in done.stderr  # not BATON_SKIP_GRANTS
    assert "BATON_SECRETS; did you mean BATON_SYNC_SECRETS (--sync-secrets)?" in done.stderr


def test_inspect_guesses_no_flag_of_the_other_sense() -> None:
    # `--no-skip-grants` (the sync's hidden flag) was "did you mean --grants?": a word of it, with its sense turned.
    done = run_cli_in_process("inspect", "sync.c1z", "--skip-grants")
    assert done.stderr.startswith("baton-datadog: inspect: unknown flag --skip-grants;"), done.stderr
    assert "did you mean" not in done.stderr
