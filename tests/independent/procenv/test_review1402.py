"""What reviews r1402 and r1403 proved against this suite's first fixes.

- A setting given in two places is compared as the settings read each value, not as it was spelled: `yes` and `true`,
  `warn` and `warning`, a site with its trailing dot, a URL with its trailing slash are one value, and a value nested
  past the JSON reader's depth (a RecursionError, which ended every command as "unexpected error") is one that differs.
- `TMPDIR=.` is used, and said nothing of.
- `inspect` says a TMPDIR passed over, and `config` the process limits a run refuses, as a run says them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon.cli import KEYS, ROOT, clean_env, run_cli, run_cli_in_process
from tests.fixtures_dir import FIXTURES_DIR
from tests.programs import need_program

DEEP = "[" * 5000 + "]" * 5000


def _config(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "c.yaml"
    config.write_text(text)
    config.chmod(0o600)
    return config


def test_a_shadowed_list_nested_past_the_readers_depth_differs_and_ends_nothing(tmp_path: Path) -> None:
    done = run_cli_in_process("config", "--sync-resources", "role:a", env={**KEYS, "BATON_SYNC_RESOURCES": DEEP})
    assert done.returncode == 0, done.stderr
    assert "unexpected error" not in done.stderr
    assert "--sync-resources (BATON_SYNC_RESOURCES) is given as a flag and in the environment with different" in (
        done.stderr
    )
    done = run_cli_in_process(
        "config",
        "--config",
        str(_config(tmp_path, f'sync-resources: "{DEEP}"\n')),
        env={**KEYS, "BATON_SYNC_RESOURCES": "role:a"},
    )
    assert done.returncode == 0, done.stderr
    assert "different values" in done.stderr


@pytest.mark.parametrize(
    ("env", "yaml"),
    [
        ({"BATON_HEALTH_CHECK": "true"}, "health-check: yes\n"),
        ({"BATON_HEALTH_CHECK": "true"}, "health-check: 'on'\n"),
        ({"BATON_LOG_LEVEL": "warning"}, "log-level: warn\n"),
        ({"BATON_SITE": "datadoghq.eu."}, "site: datadoghq.eu\n"),
        ({"BATON_BASE_URL": "https://127.0.0.1:8443/"}, "base-url: https://127.0.0.1:8443\n"),
        ({"BATON_HEALTH_CHECK_PORT": "9090"}, "health-check-port: 9090.0\n"),
        # Review r1403: a host name's case (DNS ignores it), and an action's arguments as the object they are.
        ({"BATON_C1_API_HOST": "C1.example.com:443"}, "c1-api-host: c1.example.com:443\n"),
        ({"BATON_HEALTH_CHECK_BIND_ADDRESS": "LOCALHOST"}, "health-check-bind-address: localhost\n"),
        ({"BATON_BASE_URL": "https://API.datadoghq.eu"}, "base-url: https://api.datadoghq.eu\n"),
        (
            {
                "BATON_INVOKE_ACTION_ARGS": '{"user_id":"u"}',
                "BATON_INVOKE_ACTION": "disable_user",
                "BATON_PROVISIONING": "1",
            },
            "invoke-action-args:\n  user_id: u\n",
        ),
    ],
    ids=[
        "yes-true",
        "on-true",
        "warn-warning",
        "site-dot",
        "url-slash",
        "int-float",
        "c1-host-case",
        "bind-host-case",
        "base-url-host-case",
        "invoke-args-json-spacing",
    ],
)
def test_one_value_the_settings_read_alike_is_no_conflict(tmp_path: Path, env: dict[str, str], yaml: str) -> None:
    done = run_cli_in_process("config", "--config", str(_config(tmp_path, yaml)), env={**KEYS, **env})
    assert done.returncode == 0, done.stderr
    assert "different values" not in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("env", "yaml", "setting"),
    [
        ({"BATON_SITE": "datadoghq.eu"}, "site: datadoghq.com\n", "--site (BATON_SITE)"),
        ({"BATON_BASE_URL": "https://h.example/A"}, "base-url: https://h.example/a\n", "--base-url (BATON_BASE_URL)"),
        ({"BATON_HOST_ID": "Pod-1"}, "host-id: pod-1\n", "--host-id (BATON_HOST_ID)"),
    ],
    ids=["site", "url-path-case", "host-id-case"],
)
def test_values_the_settings_read_apart_are_still_a_conflict(
    tmp_path: Path, env: dict[str, str], yaml: str, setting: str
) -> None:
    done = run_cli_in_process("config", "--config", str(_config(tmp_path, yaml)), env={**KEYS, **env})
    assert done.returncode == 0, done.stderr
    assert f"{setting} is given in the environment and in the --config file with different values" in done.stderr


def test_tmpdir_dot_is_used_and_not_said_of(tmp_path: Path) -> None:
    done = run_cli("config", env={**KEYS, "TMPDIR": "."}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "TMPDIR" not in done.stderr, done.stderr


def test_inspect_names_a_tmpdir_passed_over(tmp_path: Path) -> None:
    target = tmp_path / "s.c1z"
    target.write_bytes((FIXTURES_DIR / "c1z" / "old-sdk-v0.1.14.small.c1z").read_bytes())
    missing = tmp_path / "missing"
    done = run_cli("inspect", str(target), env={"TMPDIR": str(missing)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"baton-datadog: inspect: warning: environment TMPDIR names {missing}, which is not a directory" in (
        done.stderr
    )


def test_config_names_an_open_file_limit_a_run_refuses() -> None:
    prlimit = need_program("prlimit", "util-linux")
    command = [prlimit, "--nofile=24:24", "--", sys.executable, "-m", "connector", "config"]
    done = subprocess.run(command, env=clean_env(KEYS), cwd=ROOT, capture_output=True, text=True, timeout=120)
    # A warning, exit 0: the limit is this process's, and the deployment's may differ (tests/independent/config).
    assert done.returncode == 0, done.stderr
    assert "warning: the open-file limit is 24 (RLIMIT_NOFILE" in done.stderr
