"""A bug while the settings are read is one line at the process boundary (connector/cli.py), and at debug its
traceback: neither may quote a secret the --config file gave. The boundary reads the secrets the command line and the
environment give by hand (no secret is known to the log redactor before the settings load), and not the file's: a
bug's message quoting a value read from the file printed the key whole. The fault is injected where the file's values
are first read one by one (`_as_yaml_value`), as tests/independent/secrets/test_unexpected.py injects one where the
arguments are read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connector.daemon import logging as logs
from connector.daemon import settings
from tests.daemon.cli import last_line, run_cli_in_process
from tests.fakes.c1.creds import generate_client_credentials
from tests.independent.secrets.canaries import BASE64, ESCAPED, QUOTE_FORMAT, leaked

CLIENT_SECRET = generate_client_credentials("tenant.example.com").client_secret
FILES = {
    "plain": f"api-key: {QUOTE_FORMAT}\n",
    "quoted": f"app-key: '{BASE64}'\n",
    "double-quoted": f"client-secret: {json.dumps(ESCAPED)}\n",
    "underscores": f"client_secret: {CLIENT_SECRET}\n",
    "block": f"api-key: >-\n  {BASE64}\n",
}
SECRETS = (QUOTE_FORMAT, BASE64, ESCAPED, CLIENT_SECRET)


@pytest.fixture(autouse=True)
def value_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    # The redactor as a process starts with it: holding no secret (another test's run may have registered some).
    monkeypatch.setattr(logs, "_secrets", set())
    monkeypatch.setattr(logs, "_rotating", {})
    monkeypatch.setattr(logs, "_known", ())

    def faulty(name: str, value: Any, where: str) -> Any:
        raise RuntimeError(f"bug while reading {name} = {value!r} from {where}")

    monkeypatch.setattr(settings, "_as_yaml_value", faulty)


@pytest.mark.parametrize("debug", [False, True], ids=["line", "traceback"])
@pytest.mark.parametrize("where", ["flag", "env"])
@pytest.mark.parametrize("content", FILES)
def test_a_bug_while_the_config_file_is_read_never_prints_its_secret(
    tmp_path: Path, content: str, where: str, debug: bool
) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(FILES[content])
    path.chmod(0o600)
    args = ["--config", str(path)] if where == "flag" else []
    env = {"BATON_CONFIG_PATH": str(path)} if where == "env" else {}
    result = run_cli_in_process(*args, *(["--log-level", "debug"] if debug else []), env=env)
    assert result.returncode == 1, result.stderr
    assert last_line(result.stderr).startswith("baton-datadog: unexpected error: RuntimeError: bug while reading")
    assert not leaked(result.stderr + result.stdout, *SECRETS), result.stderr[-600:]
