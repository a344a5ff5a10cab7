"""How a setting's text is read when it could be read two ways: a number with `_` or a leading 0, a YAML scalar
that YAML 1.1 and YAML 1.2 read differently, an invisible character pasted at either end of a file name or id.
Each is read as Go's baton-sdk would, or refused in a line naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.daemon.settings import ENV_PREFIX, SettingsError, load


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


def _config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "baton.yaml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return str(path)


def _refusal(argv: list[str]) -> str:
    with pytest.raises(SettingsError) as caught:
        load(argv)
    return str(caught.value)


@pytest.mark.parametrize("value", ["1_000", "3_600", "0100", "+0100"])
@pytest.mark.parametrize("form", ["flag", "env", "file"])
def test_an_integer_with_an_underscore_or_a_leading_zero_is_refused_naming_the_setting(
    value: str, form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python's int() took `1_000` and read `0100` as 100, where Go's flag parser reads `0100` as octal (64).
    argv: list[str] = []
    if form == "flag":
        argv = ["--sync-interval", value]
    elif form == "env":
        monkeypatch.setenv("BATON_SYNC_INTERVAL", value)
    else:
        argv = ["--config", _config(tmp_path, f'sync-interval: "{value}"\n')]
    message = _refusal(argv)
    assert "--sync-interval (BATON_SYNC_INTERVAL)" in message
    assert "is not a plain decimal" in message


@pytest.mark.parametrize("setting", ["--task-concurrency", "--health-check-port", "--http-timeout-seconds"])
def test_every_integer_setting_refuses_an_underscore(setting: str) -> None:
    assert f"{setting} (" in _refusal([setting, "1_0"])


def test_a_number_setting_refuses_an_underscore() -> None:
    assert "--shutdown-grace-seconds (" in _refusal(["--shutdown-grace-seconds", "1_0.5"])


@pytest.mark.parametrize("value", ["0", "10", "-0", "+10", "3600"])
def test_plain_integers_are_still_read(value: str) -> None:
    if value.startswith("-"):
        assert load(["--health-check-port", value]).health_check_port == 0
    else:
        assert load(["--sync-interval", value]).sync_interval == int(value)


def test_a_sexagesimal_looking_number_in_the_file_is_no_number(tmp_path: Path) -> None:
    # YAML 1.1 (PyYAML) read `1:30` as 90; Go's YAML reader reads text, no number.
    message = _refusal(["--config", _config(tmp_path, "sync-interval: 1:30\n")])
    assert "--sync-interval (BATON_SYNC_INTERVAL)" in message
    assert "90" not in message


@pytest.mark.parametrize("value", ["yes", "on", "no", "off", "1:30", "="])
def test_a_text_setting_in_the_file_keeps_what_yaml_1_1_read_as_something_else(value: str, tmp_path: Path) -> None:
    # PyYAML read `yes`/`on` as true and `1:30` as 90, each refused as "not text"; `=` was
    # "not valid YAML". Go's YAML reader keeps each as the text it is.
    settings = load(["--config", _config(tmp_path, f"host-id: {value}\n")])
    assert settings.host_id == value


def test_yaml_1_2_booleans_and_numbers_are_still_read(tmp_path: Path) -> None:
    text = "sync-secrets: true\nhealth-check: False\nsync-interval: 1_000\nshutdown-grace-seconds: 2.5\nfile: ~\n"
    settings = load(["--config", _config(tmp_path, text)])
    assert settings.sync_secrets is True
    assert settings.health_check is False
    assert settings.sync_interval == 1000  # Go's YAML reader drops the `_` in a number too
    assert settings.shutdown_grace_seconds == 2.5
    assert str(settings.file) == "sync.c1z"


@pytest.mark.parametrize(
    ("character", "name"),
    [
        ("\ufeff", "ZERO WIDTH NO-BREAK SPACE"),
        ("\u200b", "ZERO WIDTH SPACE"),
        ("\u200c", "ZERO WIDTH NON-JOINER"),
        ("\u200d", "ZERO WIDTH JOINER"),
        ("\u2060", "WORD JOINER"),
    ],
)
@pytest.mark.parametrize("at_start", [True, False])
def test_an_invisible_character_at_either_end_of_a_file_name_or_id_is_named(
    character: str, name: str, at_start: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    def pasted(text: str) -> str:
        return character + text if at_start else text + character

    monkeypatch.setenv("BATON_FILE", pasted("out.c1z"))
    message = _refusal(["--sync-resources", pasted("role:abc")])
    assert "--file (BATON_FILE)" in message
    assert "--sync-resources (BATON_SYNC_RESOURCES)" in message
    assert name in message


def test_an_invisible_character_is_named_without_showing_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    canary = "canary-client-secret-0e4f8a"
    monkeypatch.setenv("BATON_CLIENT_SECRET", "\u200b" + canary)
    monkeypatch.setenv("BATON_CLIENT_ID", "\ufeffwhatever")
    message = _refusal([])
    assert "ZERO WIDTH SPACE" in message
    assert "--client-id (BATON_CLIENT_ID)" in message
    assert canary not in message


def test_an_invisible_character_at_the_end_of_the_config_file_name_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Was "cannot read it: No such file or directory", naming a file that looks like one that exists.
    monkeypatch.setenv("BATON_CONFIG_PATH", _config(tmp_path, "site: datadoghq.eu\n") + "\u200b")
    message = _refusal([])
    assert message.startswith("setting --config (BATON_CONFIG_PATH): ends with an invisible character, U+200B")
