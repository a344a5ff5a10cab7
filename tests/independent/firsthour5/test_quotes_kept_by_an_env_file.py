"""A setting kept in its quotes by an env file is named as such, whichever setting it is.

`BATON_X="..."` in an env file: a shell takes the quotes off, `docker run --env-file` (and a Secret made from the file)
keeps them. For the credentials this was refused, naming the quotes; every other setting read them as part of the
value and said something else: `BATON_REVOKE_GRANT="role:…:user:…"` was "resource type '"role' does not support
revokes", `BATON_FILE="/data/sync.c1z"` "the directory \\" does not exist", `BATON_PROVISIONING="true"` "Input should
be a valid boolean", `BATON_SYNC_RESOURCES="role:a,team:b"` "'"role' is not a resource type", `BATON_CONFIG_PATH=
"/etc/baton.yaml"` "cannot read it". Free text (a host id, a new account's name and title) may hold quotes as meant.
"""

from __future__ import annotations

import json

import pytest

from tests.daemon.cli import run_cli_in_process
from tests.independent.firsthour.conftest import KEYS, assert_quiet

USER = "eece328b-ff7b-418e-8208-65d6e005b860"
READ = (
    "is wrapped in quotes, which would be read as part of it (an env file read by `docker run --env-file` or made into "
    "a Secret keeps them): remove them"
)


@pytest.mark.parametrize(
    ("variable", "value", "args"),
    [
        ("BATON_REVOKE_GRANT", f"role:r1:member:user:{USER}", ["-p"]),
        ("BATON_FILE", "/data/sync.c1z", []),
        ("BATON_PROVISIONING", "true", []),
        ("BATON_HEALTH_CHECK_PORT", "8081", []),
        ("BATON_SITE", "datadoghq.eu", []),
        ("BATON_SYNC_RESOURCES", "role:a,team:b", []),
        ("BATON_INVOKE_ACTION_ARGS", f'{{"user_id": "{USER}"}}', ["-p", "--invoke-action", "disable_user"]),
        ("BATON_CA_BUNDLE", "/etc/ssl/ca.pem", []),
        ("BATON_CONFIG_PATH", "/etc/baton.yaml", []),
    ],
)
@pytest.mark.parametrize("quote", ['"', "'"])
def test_a_value_in_its_quotes_is_named_with_the_quotes(variable: str, value: str, args: list[str], quote: str) -> None:
    done = run_cli_in_process(*args, "config", env={**KEYS, variable: f"{quote}{value}{quote}"})
    assert_quiet(done.stdout, done.stderr)
    assert done.returncode == 2, done.stdout
    flag = (
        "--config"
        if variable == "BATON_CONFIG_PATH"
        else "--" + variable.removeprefix("BATON_").lower().replace("_", "-")
    )
    assert done.stderr == f"baton-datadog: setting {flag} ({variable}): {READ}\n"


def test_free_text_keeps_its_quotes() -> None:
    env = {**KEYS, "BATON_HOST_ID": '"pod 7"', "BATON_CREATE_ACCOUNT_NAME": "'Jane'"}
    done = run_cli_in_process("-p", "--create-account-email", "jane@example.com", "config", "--json", env=env)
    assert done.returncode == 0, done.stderr
    settings = json.loads(done.stdout)["settings"]
    assert (settings["host_id"]["value"], settings["create_account_name"]["value"]) == ('"pod 7"', "'Jane'")
