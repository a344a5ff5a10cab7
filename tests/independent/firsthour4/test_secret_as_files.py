"""The Secret mounted as files (a volume at /etc/baton) rather than as variables, as a Docker or Kubernetes user
often does: the connector reads no file of secrets (nor does baton-sdk). A `*_FILE` name (`BATON_API_KEY_FILE`,
`--api-key-file`, `api-key-file:` in the YAML file) was "did you mean BATON_FILE (--file)?", the setting naming the
sync's c1z: a near miss of another meaning (README: never). The file's path given where the key goes was sent to
Datadog as the key, and its 403 said "the key may belong to another Datadog site". Both now say what to give."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.daemon.cli import run_cli_in_process

API_KEY = "0123456789abcdef0123456789abcdef"
APP_KEY = "0123456789abcdef0123456789abcdef01234567"
MOUNT = "/etc/baton-datadog-secrets"
CLIENT_ID = "connector@tenant.example.com/pcc"


@pytest.mark.parametrize("setting", ["api_key", "app_key", "client_secret", "client_id", "site"])
@pytest.mark.parametrize("where", ["variable", "flag", "config-file"])
def test_a_settings_file_form_names_the_setting_and_not_file(setting: str, where: str, tmp_path: Path) -> None:
    env = {"BATON_API_KEY": API_KEY, "BATON_APP_KEY": APP_KEY}
    variable = "BATON_" + setting.upper()
    env.pop(variable, None)
    args: list[str] = []
    if where == "variable":
        env[variable + "_FILE"] = f"{MOUNT}/{variable}"
    elif where == "flag":
        args = ["--" + setting.replace("_", "-") + "-file", f"{MOUNT}/{variable}"]
    else:
        config = tmp_path / "baton.yaml"
        config.write_text(f"{setting.replace('_', '-')}-file: {MOUNT}/{variable}\n")
        config.chmod(0o600)
        args = ["--config", str(config)]
    result = run_cli_in_process(*args, "config", env=env)
    said = result.stderr
    assert "did you mean BATON_FILE" not in said
    assert "did you mean --file" not in said
    assert f"give {variable} (--{setting.replace('_', '-')}) the value itself" in said, said
    assert "envFrom" in said
    if where != "variable":  # an unknown variable is a warning; an unknown flag or file key is refused
        assert result.returncode == 2


@pytest.mark.parametrize("key", ["BATON_API_KEY", "BATON_APP_KEY"])
@pytest.mark.parametrize(
    "path", [f"{MOUNT}/BATON_API_KEY", "./secrets/api-key", "../api-key", "~/.datadog/app-key", f" {MOUNT}/k\n"]
)
def test_a_files_path_given_as_a_datadog_key_is_refused_before_any_request(key: str, path: str) -> None:
    env = {"BATON_API_KEY": API_KEY, "BATON_APP_KEY": APP_KEY, key: path}
    result = run_cli_in_process("config", env=env)
    assert result.returncode == 2
    flag = key.removeprefix("BATON_").lower().replace("_", "-")
    assert f"setting --{flag} ({key}): begins as a file's path does" in result.stderr
    assert f'{key}="$(cat FILE)"' in result.stderr
    assert path.strip() not in result.stderr  # never shown: it may be a key after all


def test_a_key_holding_a_slash_elsewhere_is_not_taken_for_a_path() -> None:
    """Only how a path begins: a secret of base64's alphabet (tests/independent/secrets) is still a key to send."""
    env = {"BATON_API_KEY": "ab/cd+ef==", "BATON_APP_KEY": APP_KEY}
    assert run_cli_in_process("config", env=env).returncode == 0


@pytest.mark.parametrize(("setting", "variable"), [("ca_bundle", "BATON_CA_BUNDLE"), ("file", "BATON_FILE")])
def test_the_file_form_of_a_setting_that_is_a_path_says_to_give_the_path(setting: str, variable: str) -> None:
    """BATON_CA_BUNDLE and BATON_FILE take a path: "the value itself, e.g. BATON_CA_BUNDLE="$(cat FILE)"" put PEM text
    where a file name goes, and the run failed on it."""
    flag = "--" + setting.replace("_", "-")
    result = run_cli_in_process(
        flag + "-file", "/etc/ssl/corp.pem", "config", env={"BATON_API_KEY": API_KEY, "BATON_APP_KEY": APP_KEY}
    )
    assert f"{variable} ({flag}) names the file itself: give the path there" in result.stderr
    assert "$(cat FILE)" not in result.stderr
