"""One setting given in two places with different values (a Deployment's `args` beside the chart's `BATON_*`
variables; a key rotated in the Secret while the old one stays in the --config file or on the command line): the first
place's value was used (flag > environment > file) without a word, and a rejected key's error never said another was
given. Now a start-up warning names the setting and the places, never a value (they may be secrets); the same value
spelled differently (`1` and `true`, a list as JSON or with commas, a choice's case, a Secret's trailing newline) is no
conflict and says nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.daemon.cli import KEYS, run_cli_in_process

API_KEY = "0123456789abcdef0123456789abcdef"
OTHER_API_KEY = "fedcba9876543210fedcba9876543210"


def warnings_of(stderr: str) -> list[str]:
    return [line.removeprefix("warning: ") for line in stderr.splitlines() if line.startswith("warning: ")]


def test_a_key_given_as_a_flag_and_as_a_variable_with_different_values_is_named_never_shown() -> None:
    done = run_cli_in_process("config", "--api-key", OTHER_API_KEY, env={**KEYS, "BATON_API_KEY": API_KEY})
    assert done.returncode == 0, done.stderr
    assert warnings_of(done.stderr) == [
        "setting --api-key (BATON_API_KEY) is given as a flag and in the environment with different values: the "
        "flag's is used (flag > environment > file)"
    ]
    assert API_KEY not in done.stdout + done.stderr
    assert OTHER_API_KEY not in done.stdout + done.stderr


def test_a_value_in_the_environment_and_the_file_names_both(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("site: datadoghq.eu\nlog-level: debug\nprovisioning: true\n")
    config.chmod(0o600)
    env = {"BATON_SITE": "us5.datadoghq.com", "BATON_LOG_LEVEL": "DEBUG\n", "BATON_PROVISIONING": "1"}
    done = run_cli_in_process("config", "--config", str(config), "--site", "ap1.datadoghq.com", env={**KEYS, **env})
    assert done.returncode == 0, done.stderr
    assert warnings_of(done.stderr) == [
        "setting --site (BATON_SITE) is given as a flag and in the environment and in the --config file with "
        "different values: the flag's is used (flag > environment > file)"
    ]


@pytest.mark.parametrize(
    ("flags", "env", "yaml"),
    [
        (["--provisioning"], {"BATON_PROVISIONING": "T"}, "provisioning: true\n"),
        (
            ["--sync-resources", "role:a", "--sync-resources", "role:b"],
            {"BATON_SYNC_RESOURCES": '["role:a","role:b"]'},
            "sync-resources: [role:a, role:b]\n",
        ),
        (["--log-level", "WARN"], {"BATON_LOG_LEVEL": " warn\n"}, "log-level: warn\n"),
        (["--api-key", API_KEY], {"BATON_API_KEY": f"{API_KEY}\n"}, f"api-key: {API_KEY}\n"),
        (["--http-timeout-seconds", "45"], {"BATON_HTTP_TIMEOUT_SECONDS": " 45\n"}, "http-timeout-seconds: 45\n"),
    ],
    ids=["switch", "list", "choice", "key-with-newline", "number"],
)
def test_one_value_spelled_differently_is_no_conflict(
    tmp_path: Path, flags: list[str], env: dict[str, str], yaml: str
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml)
    config.chmod(0o600)
    done = run_cli_in_process("config", "--config", str(config), *flags, env={**KEYS, **env})
    assert done.returncode == 0, done.stderr
    assert warnings_of(done.stderr) == []
