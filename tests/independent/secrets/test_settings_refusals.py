"""A secret this run was given (flag, variable or config file) is never printed back by a refused setting or by
`config`, when the same value was also pasted where another setting goes: a refusal quoting what it refuses, and
`config` showing a file name or a bind address, printed it whole, before any secret is known to the log redactor.
Whatever its shape: a Datadog key's hexadecimal shape was already kept back (`keyshape.shown_value`), the client
secret's text or a key of any other characters was not."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon.cli import run_cli_in_process
from tests.fakes.c1.creds import generate_client_credentials
from tests.independent.secrets.canaries import BASE64, ESCAPED, LONG, QUOTE_FORMAT, leaked

CANARIES = {"quote-format": QUOTE_FORMAT, "base64": BASE64, "long": LONG, "escaped": ESCAPED}
CLIENT_SECRET = generate_client_credentials("tenant.example.com").client_secret

# Settings whose refusal quotes the value it refuses, each with the value that makes it refused.
MISPLACED: dict[str, Callable[[str], list[str]]] = {
    "file": lambda secret: ["--file", f"{secret}/"],
    "bind-address": lambda secret: ["--health-check-bind-address", f"x{secret}"],
    "sync-resources": lambda secret: ["--sync-resources", secret],
}


def _given(secret: str, where: str, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """The arguments and variables that give `secret` as the API key, `where` it says."""
    keys = {"BATON_APP_KEY": "0123456789abcdef" * 2 + "01234567"}
    if where == "flag":
        return ["--api-key", secret], keys
    if where == "env":
        return [], {**keys, "BATON_API_KEY": secret}
    config = tmp_path / "settings.yaml"
    config.write_text(f"api-key: {json.dumps(secret)}\n")  # a YAML double-quoted scalar reads JSON's escapes
    config.chmod(0o600)
    return ["--config", str(config)], keys


@pytest.mark.parametrize("where", ["flag", "env", "file"])
@pytest.mark.parametrize("misplaced", MISPLACED)
@pytest.mark.parametrize("canary", CANARIES)
def test_a_refusal_never_quotes_the_api_key_pasted_in_another_setting(
    canary: str, misplaced: str, where: str, tmp_path: Path
) -> None:
    secret = CANARIES[canary]
    args, env = _given(secret, where, tmp_path)
    result = run_cli_in_process(*args, *MISPLACED[misplaced](secret), env=env)
    assert result.returncode == 2, result.stderr
    assert "baton-datadog: setting --" in result.stderr
    assert not leaked(result.stderr + result.stdout, secret), result.stderr[:300]


@pytest.mark.parametrize("misplaced", MISPLACED)
def test_a_refusal_never_quotes_the_client_secret_pasted_in_another_setting(misplaced: str) -> None:
    result = run_cli_in_process(
        "--client-id",
        "connector@tenant.example.com/pcc",
        *MISPLACED[misplaced](CLIENT_SECRET),
        env={"BATON_CLIENT_SECRET": CLIENT_SECRET},
    )
    assert result.returncode == 2, result.stderr
    assert not leaked(result.stderr + result.stdout, CLIENT_SECRET), result.stderr[:300]


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
@pytest.mark.parametrize("canary", CANARIES)
def test_config_never_shows_a_secret_given_as_another_settings_value(canary: str, as_json: bool) -> None:
    """A file name and an id are shown by `config`: the client secret (or a key) given there as well was printed."""
    secret = CANARIES[canary]
    result = run_cli_in_process(
        "config",
        *(["--json"] if as_json else []),
        "--client-id",
        "connector@tenant.example.com/pcc",
        "--file",
        f"backups/{secret}.c1z",
        env={
            "BATON_CLIENT_SECRET": CLIENT_SECRET,
            "BATON_API_KEY": secret,
            "BATON_C1Z_TEMP_DIR": f"/tmp/{CLIENT_SECRET}",
        },
    )
    # The run refuses these (a temp dir that is not there, a backups/ directory that is not there): so
    # does `config`, after the table, and its refusals quote the secrets no more than the table does.
    assert result.returncode == 2, result.stderr
    assert "setting --c1z-temp-dir (BATON_C1Z_TEMP_DIR): /tmp/" in result.stdout + result.stderr
    assert "backups/" in result.stdout
    assert not leaked(result.stdout + result.stderr, secret, CLIENT_SECRET), result.stdout


HEX32 = "0123456789abcdef" * 2


@pytest.mark.parametrize("command", [[], ["config"], ["inspect"]], ids=["run", "config", "inspect"])
@pytest.mark.parametrize(
    ("flag", "secret"),
    [
        ("--api-key", HEX32),
        ("--app-key", HEX32 + "01234567"),
        ("--client-secret", "CANARY-glued_0123"),
        ("--API-KEY", "CANARY-glued_0123"),
        ("--x-", HEX32),
    ],
    ids=["api-key-hex", "app-key-hex", "client-secret-word", "upper-case", "key-in-a-name"],
)
def test_a_secret_written_onto_its_flag_is_not_printed_as_the_unknown_flags_name(
    flag: str, secret: str, command: list[str]
) -> None:
    """`--api-keyK` (no space, no `=`) is one unknown flag to argparse, and the line naming it printed the key."""
    result = run_cli_in_process(*command, flag + secret)
    assert result.returncode == 2, result.stderr
    assert "unknown flag" in result.stderr
    assert not leaked(result.stderr + result.stdout, secret), result.stderr


def test_a_misspelt_secret_flag_with_a_letter_more_is_still_named_with_its_guess() -> None:
    result = run_cli_in_process("--api-keys", "x")
    assert "unknown flag --api-keys; did you mean --api-key?" in result.stderr
