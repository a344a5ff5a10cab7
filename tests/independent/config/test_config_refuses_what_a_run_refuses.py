"""The class: every refusal a run makes at start once the settings model took the settings (a path no shell expanded, a
`--file` or temp dir that cannot be used, an unreadable CA bundle, a TLS or proxy variable, missing or placeholder keys,
an unknown resource type, `--require-service-mode` without a client id, a one-shot action's own checks, ConductorOne
credentials, the process limits), which `config` showed as fine, exit 0: an operator validating a Secret with
`config` (or `config --json` in a pipeline) deployed what the run then refused. Each case: the run and `config` both
refuse, with the same line, exit 2; valid settings still give exit 0 and no error. What is missing (the keys) and what
the process rather than the settings decides (its open-file limit) `config` says in the run's words as a warning, exit
0: it may be run before every setting is given, or in another shell than the deployment.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon.cli import ROOT, clean_env, run_cli, run_cli_in_process
from tests.fakes.c1.creds import generate_client_credentials
from tests.programs import need_program

API_KEY = "0123456789abcdef0123456789abcdef"
APP_KEY = "fedcba9876543210fedcba9876543210fedcba98"
KEYS = {"BATON_API_KEY": API_KEY, "BATON_APP_KEY": APP_KEY}
CREDENTIALS = generate_client_credentials("tenant.example.com")
SERVICE = {**KEYS, "BATON_CLIENT_ID": CREDENTIALS.client_id, "BATON_CLIENT_SECRET": CREDENTIALS.client_secret}
SECRETS = (API_KEY, APP_KEY, CREDENTIALS.client_secret)

# Each case: (arguments, environment) built in a test's own directory; every one a run refuses before any request.
Case = Callable[[Path], tuple[list[str], dict[str, str]]]


def _not_pem(tmp: Path) -> tuple[list[str], dict[str, str]]:
    bundle = tmp / "ca.pem"
    bundle.write_text("not a certificate\n")
    return [], {**KEYS, "BATON_CA_BUNDLE": str(bundle), "BATON_FILE": str(tmp / "sync.c1z")}


ONE_SHOT: dict[str, Case] = {
    "file-tilde": lambda tmp: ([], {**KEYS, "BATON_FILE": "~/x.c1z"}),
    "file-dash": lambda tmp: (["--file", "-"], KEYS),
    "file-dollar": lambda tmp: ([], {**KEYS, "BATON_FILE": "$HOME/x.c1z"}),
    "file-is-a-directory": lambda tmp: (["--file", str(tmp)], KEYS),
    "file-in-no-directory": lambda tmp: (["--file", str(tmp / "missing" / "x.c1z")], KEYS),
    "file-not-regular": lambda tmp: (["--file", "/dev/null"], KEYS),
    "file-name-too-long": lambda tmp: (["--file", str(tmp / ("x" * 300))], KEYS),
    "ca-bundle-tilde": lambda tmp: ([], {**KEYS, "BATON_CA_BUNDLE": "~/x.pem", "BATON_FILE": str(tmp / "s.c1z")}),
    "ca-bundle-missing": lambda tmp: (["--ca-bundle", str(tmp / "none.pem"), "--file", str(tmp / "s.c1z")], KEYS),
    "ca-bundle-not-pem": _not_pem,
    "temp-dir-missing": lambda tmp: (
        ["--c1z-temp-dir", str(tmp / "none"), "--file", str(tmp / "s.c1z")],
        KEYS,
    ),
    "temp-dir-tilde": lambda tmp: ([], {**KEYS, "BATON_C1Z_TEMP_DIR": "~/work", "BATON_FILE": str(tmp / "s.c1z")}),
    "ssl-cert-file-missing": lambda tmp: (
        ["--file", str(tmp / "s.c1z")],
        {**KEYS, "SSL_CERT_FILE": str(tmp / "none.pem")},
    ),
    "proxy-unusable": lambda tmp: (["--file", str(tmp / "s.c1z")], {**KEYS, "HTTPS_PROXY": "http://a proxy:3128"}),
    "key-placeholder": lambda tmp: (
        ["--file", str(tmp / "s.c1z")],
        {**KEYS, "BATON_API_KEY": "REPLACE-ME-with-the-datadog-api-key"},
    ),
    "resource-type-unknown": lambda tmp: (["--sync-resource-types", "nope", "--file", str(tmp / "s.c1z")], KEYS),
    "require-service-mode": lambda tmp: (["--file", str(tmp / "s.c1z")], {**KEYS, "BATON_REQUIRE_SERVICE_MODE": "1"}),
    "action-malformed": lambda tmp: (["--provisioning", "--revoke-grant", "nonsense"], KEYS),
    "action-not-allowed": lambda tmp: (
        ["-p", "--delete-resource-type", "api-key", "--delete-resource", "11111111-1111-1111-1111-111111111111"],
        KEYS,
    ),
    "action-with-a-tilde-ca-bundle": lambda tmp: (
        ["--provisioning", "--revoke-grant", "role:r1:member:user:u1"],
        {**KEYS, "BATON_CA_BUNDLE": "~/x.pem"},
    ),
}

SERVICE_MODE: dict[str, Case] = {
    "service-temp-dir-missing": lambda tmp: (["--c1z-temp-dir", str(tmp / "none")], SERVICE),
    "service-periodic-file-dash": lambda tmp: (["--sync-interval", "3600", "--file", "-"], SERVICE),
    "service-ca-bundle-tilde": lambda tmp: ([], {**SERVICE, "BATON_CA_BUNDLE": "~/x.pem"}),
    "service-client-secret-malformed": lambda tmp: (
        [],
        {**SERVICE, "BATON_CLIENT_SECRET": "secret-token:conductorone.com:v1:bm90LWEtandr"},
    ),
    "service-proxy-unusable": lambda tmp: ([], {**SERVICE, "HTTPS_PROXY": "http://a proxy:3128"}),
}


def _refused(stderr: str, prefix: str) -> list[str]:
    return [line.removeprefix(prefix) for line in stderr.splitlines() if line.startswith(prefix)]


def _config_agrees(args: list[str], env: dict[str, str], run: subprocess.CompletedProcess[str], tmp: Path) -> None:
    assert run.returncode == 2, run.stderr  # the run refuses at start, exit 2
    said = _refused(run.stderr, "baton-datadog: ")
    assert said, run.stderr
    table = run_cli_in_process("config", *args, env=env, cwd=tmp)
    assert table.returncode == 2, table.stderr
    errors = _refused(table.stderr, "error: ")
    # Every line the run refused with, as the run wrote it (the run stops at its first failing check; `config` makes
    # them all).
    assert set(said) <= set(errors), (said, errors)
    assert table.stdout.strip(), "the table is still printed"
    machine = run_cli_in_process("config", "--json", *args, env=env, cwd=tmp)
    assert machine.returncode == 2, machine.stderr
    document = json.loads(machine.stdout)
    assert document["errors"] == errors
    assert set(document) == {"settings", "warnings", "errors"}
    for output in (table.stdout, table.stderr, machine.stdout, machine.stderr):
        assert not any(secret in output for secret in SECRETS)


@pytest.mark.parametrize("case", list(ONE_SHOT.values()), ids=list(ONE_SHOT))
def test_config_refuses_what_a_one_shot_run_refuses_in_its_words(case: Case, tmp_path: Path) -> None:
    args, env = case(tmp_path)
    run = run_cli_in_process(*args, env=env, cwd=tmp_path)
    _config_agrees(args, env, run, tmp_path)
    assert list(tmp_path.iterdir()) == [p for p in tmp_path.iterdir() if p.name in {"ca.pem"}], "config wrote nothing"


@pytest.mark.parametrize("case", list(SERVICE_MODE.values()), ids=list(SERVICE_MODE))
def test_config_refuses_what_service_mode_refuses_in_its_words(case: Case, tmp_path: Path) -> None:
    args, env = case(tmp_path)
    # A process of its own: service mode installs the runner's signal handlers and threads.
    run = run_cli(*args, env={**env, "BATON_HEALTH_CHECK": "false"}, cwd=tmp_path)
    _config_agrees(args, {**env, "BATON_HEALTH_CHECK": "false"}, run, tmp_path)


MISSING: dict[str, Case] = {
    "keys-missing": lambda tmp: (["--file", str(tmp / "s.c1z")], {}),
    "app-key-missing": lambda tmp: (["--file", str(tmp / "s.c1z")], {"BATON_API_KEY": API_KEY}),
    "action-keys-missing": lambda tmp: (["--provisioning", "--revoke-grant", "role:r1:member:user:u1"], {}),
    "service-keys-missing": lambda tmp: (
        ["--health-check=false"],
        {k: v for k, v in SERVICE.items() if k not in KEYS},
    ),
}


@pytest.mark.parametrize("case", list(MISSING.values()), ids=list(MISSING))
def test_config_says_what_is_missing_in_the_runs_words_as_a_warning(case: Case, tmp_path: Path) -> None:
    args, env = case(tmp_path)
    run = run_cli(*args, env=env, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    said = _refused(run.stderr, "baton-datadog: ")
    assert said, run.stderr
    machine = run_cli_in_process("config", "--json", *args, env=env, cwd=tmp_path)
    assert machine.returncode == 0, machine.stderr
    document = json.loads(machine.stdout)
    assert document["errors"] == []
    assert set(said) <= set(document["warnings"]), (said, document["warnings"])
    table = run_cli_in_process("config", *args, env=env, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert set(said) <= set(_refused(table.stderr, "warning: ")), table.stderr
    assert not any(secret in out for out in (machine.stdout, table.stderr) for secret in SECRETS)


def test_config_says_an_open_file_limit_the_run_refuses_as_a_warning(tmp_path: Path) -> None:
    prlimit = need_program("prlimit", "util-linux")
    for mode, code, prefix in (([], 2, "baton-datadog: "), (["config"], 0, "warning: ")):
        command = [prlimit, "--nofile=24:24", "--", sys.executable, "-m", "connector", *mode]
        env = clean_env({**KEYS, "BATON_FILE": str(tmp_path / "s.c1z")})
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == code, done.stderr
        assert any(line.startswith(f"{prefix}the open-file limit is 24 (") for line in done.stderr.splitlines())


VALID: dict[str, Case] = {
    "one-shot": lambda tmp: (["--file", str(tmp / "s.c1z")], KEYS),
    "one-shot-temp-dir": lambda tmp: (["--file", str(tmp / "s.c1z"), "--c1z-temp-dir", str(tmp)], KEYS),
    "action": lambda tmp: (["--provisioning", "--revoke-grant", "role:r1:member:user:u1"], KEYS),
    "service": lambda tmp: (["--file", str(tmp / "s.c1z"), "--health-check=false"], SERVICE),
}


@pytest.mark.parametrize("case", list(VALID.values()), ids=list(VALID))
def test_settings_a_run_starts_with_are_exit_0_and_no_error(case: Case, tmp_path: Path) -> None:
    args, env = case(tmp_path)
    table = run_cli_in_process("config", *args, env=env, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "error:" not in table.stderr
    machine = run_cli_in_process("config", "--json", *args, env=env, cwd=tmp_path)
    assert machine.returncode == 0, machine.stderr
    assert json.loads(machine.stdout)["errors"] == []
    assert list(tmp_path.iterdir()) == [], "config made nothing, not even the save's temp file or a working directory"
