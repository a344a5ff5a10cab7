"""A locale that is not UTF-8 (`LC_ALL=C` with `PYTHONUTF8=0`, as a hardened cron line or an old host has it; a
Latin-1 locale): Python decodes the command line and the environment by it, so text typed in UTF-8 (a host id, a new
account's name) arrived as lone surrogates and was refused as "is not valid UTF-8 text", which it was; under Latin-1
it would have been sent on as mojibake. Go reads them as UTF-8 whatever the locale, and so do the settings now; bytes
that are no UTF-8 are still refused, and paths keep the locale's reading (the file system takes them so)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.daemon.cli import KEYS, run_cli
from tests.e2e.harness import Stack, daemon_command

NOT_UTF8 = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
HOST = "hôst-ñ"


def host_id_row(stdout: str) -> dict[str, object]:
    return json.loads(stdout)["settings"]["host_id"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("given", ["flag", "env"])
def test_a_host_id_typed_in_utf8_is_read_as_typed_under_a_c_locale(given: str) -> None:
    args = ["config", "--json"] + (["--host-id", HOST] if given == "flag" else [])
    env = NOT_UTF8 | ({"BATON_HOST_ID": HOST} if given == "env" else {})
    done = run_cli(*args, env={**KEYS, **env})
    assert done.returncode == 0, done.stderr
    assert host_id_row(done.stdout) == {"value": HOST, "source": given, "env": "BATON_HOST_ID"}


def test_bytes_that_are_no_utf8_are_still_refused_under_a_c_locale() -> None:
    done = run_cli("config", env=NOT_UTF8 | {"BATON_HOST_ID": "h\udcffst"})  # the byte 0xff, no UTF-8
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1] == "baton-datadog: setting --host-id (BATON_HOST_ID): is not valid UTF-8 text"


@pytest.mark.slow
def test_a_new_accounts_name_reaches_datadog_as_typed_under_a_c_locale(stack: Stack) -> None:
    (stack.root / "tmp").mkdir(exist_ok=True)
    env = stack.env({"BATON_CLIENT_ID": None, "BATON_CLIENT_SECRET": None, "BATON_HOST_ID": None, **NOT_UTF8})
    env = {k: v for k, v in env.items() if not k.startswith(("BATON_C1", "BATON_HEALTH"))}
    email = "locale@example.com"
    done = subprocess.run(
        [*daemon_command(), "-p", "--create-account-email", email, "--create-account-name", "Zoë Ñandú"],
        env=env,
        cwd=stack.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (created,) = [user for user in stack.dd.org.users.values() if user.email == email]
    assert created.name == "Zoë Ñandú"
