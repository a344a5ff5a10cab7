"""Settings: every BATON_* variable has a flag; precedence flag > env > file; errors name the setting."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from connector.daemon.settings import (
    ENV_PREFIX,
    SDK_ONLY_SETTINGS,
    Settings,
    SettingsError,
    build_parser,
    env,
    flag,
    load,
)
from connector.datadog.sites import SITES

CANARY = "canary-secret-5d7e1f0a9b8c"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


def test_every_setting_has_a_flag_of_the_same_name() -> None:
    parser = build_parser()
    flags = {opt for action in parser._actions for opt in action.option_strings}
    for name in Settings.model_fields:
        assert "--" + name.replace("_", "-") in flags, name


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("backoff_scale", "a number from 0.001 to 1"),
        ("ready_window_seconds", "a number > 0 and ≤ 604800"),
        ("shutdown_grace_seconds", "a number from 0 to 3600"),
        ("task_concurrency", "an integer from 1 to 100"),
    ],
)
def test_help_states_every_bound_a_number_is_checked_against(name: str, allowed: str) -> None:
    """`--backoff-scale 2` and `--ready-window-seconds 0` were refused while --help said only "a number"."""
    from connector.daemon.settings import allowed_values

    assert allowed_values(name) == allowed
    help_text = next(a.help for a in build_parser()._actions if flag(name) in a.option_strings)
    assert f"; {allowed})" in str(help_text)
    with pytest.raises(SettingsError, match=re.escape(f"{flag(name)} ({env(name)})")):
        load([flag(name), "0" if name != "shutdown_grace_seconds" else "-1"])


def test_flag_beats_env_beats_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "baton.yaml"
    config.write_text("site: datadoghq.eu\ntask-concurrency: 7\nlog-level: debug\nsync-schedules: true\n")
    monkeypatch.setenv("BATON_CONFIG_PATH", str(config))
    monkeypatch.setenv("BATON_SITE", "us5.datadoghq.com")
    monkeypatch.setenv("BATON_TASK_CONCURRENCY", "5")
    settings = load(["--task-concurrency", "9"])
    assert settings.task_concurrency == 9  # flag
    assert settings.site == "us5.datadoghq.com"  # env over file
    assert settings.log_level == "debug"  # file
    assert settings.sync_schedules is True


def test_every_site_maps_to_its_api_host() -> None:
    assert len(SITES) == 9
    for site in SITES:
        assert load(["--site", site]).api_url == f"https://api.{site}"


def test_base_url_overrides_the_site() -> None:
    assert load(["--base-url", "http://127.0.0.1:9999/"]).api_url == "http://127.0.0.1:9999"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--site", "datadoghq.mars"], "--site (BATON_SITE)"),
        (["--task-concurrency", "0"], "--task-concurrency (BATON_TASK_CONCURRENCY)"),
        (["--http-timeout-seconds", "soon"], "--http-timeout-seconds (BATON_HTTP_TIMEOUT_SECONDS)"),
        (["--client-id", "x@y/z"], "client-secret is required"),
        (["--log-format", "xml"], "--log-format (BATON_LOG_FORMAT)"),
        # Past a float's range: it ended the service as "unexpected error: OverflowError" (exit 1).
        (["--sync-interval", "1" + "0" * 400], "--sync-interval (BATON_SYNC_INTERVAL)"),
        (["--sync-interval", str(366 * 24 * 3600 + 1)], "--sync-interval (BATON_SYNC_INTERVAL)"),
    ],
)
def test_bad_settings_name_the_setting(argv: list[str], named: str) -> None:
    with pytest.raises(SettingsError, match=named.replace("(", r"\(").replace(")", r"\)")):
        load(argv)


@pytest.mark.parametrize(("name", "value"), [("log_format", "xml"), ("log_level", "loud")])
def test_a_choice_refused_lists_what_help_lists(name: str, value: str) -> None:
    """`--log-format xml` was refused with "should be 'json', 'console' or ''": the empty string (the default) is no
    value to give; the line now lists what --help lists."""
    from connector.daemon.settings import allowed_values

    with pytest.raises(SettingsError) as raised:
        load([flag(name), value])
    assert str(raised.value).endswith(f"{flag(name)} ({env(name)}): Input should be {allowed_values(name)}")
    assert "''" not in str(raised.value)


def test_secret_values_never_appear_in_errors_or_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_API_KEY", CANARY)
    monkeypatch.setenv("BATON_CLIENT_SECRET", CANARY)
    with pytest.raises(SettingsError) as caught:
        load(["--site", "nope"])  # client secret without client id: two errors, neither may echo a value
    assert CANARY not in str(caught.value)
    monkeypatch.setenv("BATON_CLIENT_ID", "id@host/pcc")
    settings = load([])
    assert CANARY not in repr(settings)
    assert CANARY not in str(settings.model_dump())


def test_missing_keys_are_named() -> None:
    with pytest.raises(SettingsError, match=r"--api-key \(BATON_API_KEY\)"):
        load([]).require_datadog_keys()
    with pytest.raises(SettingsError, match=r"--app-key \(BATON_APP_KEY\)"):
        load(["--api-key", "k" * 12]).require_datadog_keys()


def test_unreadable_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="--config"):
        load(["--config", str(tmp_path / "missing.yaml")])
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(SettingsError, match="mapping"):
        load(["--config", str(bad)])


def test_a_config_path_that_is_no_regular_file_is_refused_without_blocking(tmp_path: Path) -> None:
    """A FIFO would block the read forever (nothing writes to it); a directory or a device is no settings file."""
    import os

    fifo = tmp_path / "settings.fifo"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    for path, why in ((fifo, "not a regular file"), (tmp_path, "not a regular file"), (loop, "cannot read it")):
        with pytest.raises(SettingsError, match=f"--config .*{why}"):
            load(["--config", str(path)])


def test_help_groups_settings_and_hides_test_only_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = capsys.readouterr().out
    for group in ("Datadog:", "Sync:", "Service mode:", "Operability:"):
        assert group in text
    assert "--base-url" not in text
    assert "[BATON_API_KEY]" in text


@pytest.mark.parametrize("value", ["user,role", " user , role ", '["user", "role"]'])
def test_resource_type_lists_from_the_environment(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_SYNC_RESOURCE_TYPES", value)
    assert load([]).sync_resource_types == ["user", "role"]


@pytest.mark.parametrize("value", ["[" * 100_000, "[1,2", '["user", 7]'])
def test_a_broken_json_resource_list_names_the_setting(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator input: a clear error naming the setting, never a traceback (deep nesting raised RecursionError)."""
    monkeypatch.setenv("BATON_SYNC_RESOURCES", value)
    with pytest.raises(SettingsError, match=r"--sync-resources \(BATON_SYNC_RESOURCES\)"):
        load([])


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["-p", "--grant-entitlement", "role-without-parts", "--grant-principal", "u"], "is not an entitlement id"),
        (["-p", "--grant-entitlement", "role:x:member"], "needs --grant-principal"),
        (["-p", "--revoke-grant", "a:b:c:d:e", "--invoke-action", "x"], "cannot be combined"),
        (["-p", "--invoke-action", "x", "--invoke-action-args", "{not json"], "is not valid JSON"),
        (["-p", "--invoke-action", "x", "--invoke-action-args", "[1]"], "must be a JSON object"),
        # Python's reader takes these; JSON (and Go's reader) does not, and the action's printout raised on them
        (["-p", "--invoke-action", "x", "--invoke-action-args", '{"a": NaN}'], "is not valid JSON"),
        (["-p", "--invoke-action", "x", "--invoke-action-args", '{"a": [-Infinity]}'], "is not valid JSON"),
        # Numbers no float64 holds (Go's reader refuses them too): 1e400 read as infinity, and the printout of the
        # action raised on it after the action had run; a 400-digit integer raised OverflowError building the Struct.
        (["-p", "--invoke-action", "x", "--invoke-action-args", '{"a": 1e400}'], "the number 1e400 is out of range"),
        (["-p", "--invoke-action", "x", "--invoke-action-args", '{"a": [-2e308]}'], "the number -2e308 is out of"),
        (["-p", "--invoke-action", "x", "--invoke-action-args", '{"a": ' + "9" * 400 + "}"], "is out of range"),
        # Half a surrogate pair is no character a protobuf string holds: the run ended "unexpected error:
        # UnicodeEncodeError", the setting unnamed (in a value or a key); a byte that is not UTF-8 in the variable too.
        (["-p", "--invoke-action", "x", "--invoke-action-args", '{"name": "\\ud800"}'], "half a surrogate pair"),
        (["-p", "--invoke-action", "x", "--invoke-action-args", '{"\\udfff": 1}'], "half a surrogate pair"),
        (["-p", "--invoke-action", "x", "--invoke-action-args", '{"name": "\udcff"}'], "is not valid UTF-8 text"),
        # Deep nesting was `unexpected error: RecursionError`, from the JSON parser or from building the Struct.
        (["-p", "--invoke-action", "x", "--invoke-action-args", "[" * 100_000], "is nested deeper than 100 levels"),
        (["-p", "--invoke-action", "x", "--invoke-action-args", '{"a":' * 900 + "1" + "}" * 900], "nested deeper"),
        (["--invoke-action", "x"], "needs --provisioning (BATON_PROVISIONING=true)"),
        (["-p", "--grant-entitlement", "a:b:c", "--grant-principal", "u", "--client-id", "i@h/s"], "service mode"),
    ],
)
def test_one_shot_action_mistakes_name_the_flag(argv: list[str], named: str) -> None:
    from connector.daemon.actions import build_task

    with pytest.raises(SettingsError, match=re.escape(named)):
        build_task(load(argv))


@pytest.mark.parametrize(
    ("argv", "environ"),
    [
        (["-p", "--grant-principal-type", "team", "--api-key", "a"], {}),
        (["--grant-principal-type=user"], {}),
        ([], {"BATON_GRANT_PRINCIPAL_TYPE": "team"}),
    ],
)
def test_a_grant_principal_type_without_a_grant_is_refused_as_a_lone_principal_is(
    argv: list[str], environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--grant-principal u1` alone is refused; `--grant-principal-type team` alone was dropped without a word, and the
    run that was meant to grant something was a full sync that exited 0."""
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=re.escape("--grant-principal-type is set but --grant-entitlement is not")):
        load(argv)


def test_one_shot_actions_become_the_tasks_conductorone_would_send() -> None:
    from connector.daemon.actions import build_task

    grant = build_task(load(["-p", "--grant-entitlement", "team:t1:admin", "--grant-principal", "u1"])).grant
    assert (grant.entitlement.id, grant.entitlement.slug) == ("team:t1:admin", "admin")
    assert (grant.entitlement.resource.id.resource_type, grant.entitlement.resource.id.resource) == ("team", "t1")
    assert (grant.principal.id.resource_type, grant.principal.id.resource) == ("user", "u1")
    revoke = build_task(load(["-p", "--revoke-grant", "role:r1:member:user:u2"])).revoke
    assert revoke.grant.id == "role:r1:member:user:u2"
    assert revoke.grant.entitlement.id == "role:r1:member"
    assert revoke.grant.principal.id.resource == "u2"
    account = build_task(load(["-p", "--create-account-email", "a@b.co", "--create-account-title", "SRE"]))
    assert dict(account.create_account.account_info.profile) == {"email": "a@b.co", "title": "SRE"}
    action = build_task(load(["-p", "--invoke-action", "enable_user", "--invoke-action-args", '{"user_id": "u3"}']))
    assert action.action_invoke.name == "enable_user"
    assert action.action_invoke.args["user_id"] == "u3"
    deep = '{"user_id": "u3", "x": ' + "[" * 99 + "]" * 99 + "}"  # 100 levels: as deep as ConductorOne's may be
    assert build_task(load(["-p", "--invoke-action", "enable_user", "--invoke-action-args", deep])).action_invoke.args


def test_non_utf8_and_broken_yaml_are_named(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes(b"site: datadoghq.eu # caf\xe9\n")
    with pytest.raises(SettingsError, match=r"--config \(BATON_CONFIG_PATH\).*not UTF-8"):
        load(["--config", str(latin)])
    broken = tmp_path / "broken.yaml"
    broken.write_text("site: [unclosed\n")
    with pytest.raises(SettingsError, match=r"not valid YAML \(line 2"):
        load(["--config", str(broken)])
    typo = tmp_path / "typo.yaml"
    typo.write_text("sync-schedule: true\n")
    with pytest.raises(SettingsError, match="did you mean BATON_SYNC_SCHEDULES"):
        load(["--config", str(typo)])


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("health-check-port: 8081\nhealth-check-port: 9090\n", "(lines 1 and 2)"),
        (f"api-key: {CANARY}\nsite: datadoghq.eu\nAPI_KEY: {CANARY}-2\n", "(lines 1 and 3)"),
    ],
)
def test_a_setting_given_twice_in_the_config_file_is_named(tmp_path: Path, text: str, lines: str) -> None:
    """PyYAML kept the last value without a word (a pasted block silently overrode the line above it); Go's
    YAML reader refuses a repeated key. The error names the setting and both lines, never a value."""
    twice = tmp_path / "twice.yaml"
    twice.write_text(text)
    with pytest.raises(SettingsError, match=r"--config \(BATON_CONFIG_PATH\): .*twice.yaml: .* is set twice") as caught:
        load(["--config", str(twice)])
    assert lines in str(caught.value)
    assert CANARY not in str(caught.value)


@pytest.mark.parametrize("text", ["site: " + "[" * 100_000, "sync_resources: " + "[" * 5000 + "]" * 5000])
def test_a_config_file_nested_too_deeply_is_named(tmp_path: Path, text: str) -> None:
    """PyYAML builds nested values recursively: this was `unexpected error: RecursionError`."""
    deep = tmp_path / "deep.yaml"
    deep.write_text(text)
    with pytest.raises(SettingsError, match=r"--config \(BATON_CONFIG_PATH\): .*deep.yaml: is nested too deeply"):
        load(["--config", str(deep)])


def test_sources_and_unknown_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    from connector.daemon.settings import load_effective

    for name, value in {"BATON_SITE": "datadoghq.eu", "BATON_SYNC_SCHEDULE": "1", "BATON_CONFIG_PATH": ""}.items():
        monkeypatch.setenv(name, value)
    effective = load_effective(["--task-concurrency", "4"])
    assert effective.settings.site == "datadoghq.eu"
    assert effective.sources["site"] == "env"
    assert effective.sources["task_concurrency"] == "flag"
    assert effective.sources["file"] == "default"
    assert effective.warnings == [
        "unknown environment variable BATON_SYNC_SCHEDULE; did you mean BATON_SYNC_SCHEDULES (--sync-schedules)?"
    ]


@pytest.mark.parametrize("name", sorted(SDK_ONLY_SETTINGS))
def test_a_baton_sdk_setting_this_connector_lacks_is_named_as_such_everywhere(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A baton user's habit (the SDK's flag, a Secret copied from a Go deployment, a Go config file) is answered
    with why the setting is not here, never with a near miss that means something else (`--workers` is not
    `--task-concurrency`)."""
    from connector.daemon.settings import load_effective

    why = f"a baton-sdk setting baton-datadog does not implement ({SDK_ONLY_SETTINGS[name]})"
    with pytest.raises(SettingsError) as refused:
        load([f"{flag(name)}=canary-{name}"])
    assert str(refused.value).startswith(f"{flag(name)} is {why}")
    assert f"canary-{name}" not in str(refused.value)

    monkeypatch.setenv(env(name), "1")
    assert load_effective([]).warnings == [f"unknown environment variable {env(name)}: {why}"]
    monkeypatch.delenv(env(name))

    config = tmp_path / "go.yaml"
    config.write_text(f"{flag(name).removeprefix('--')}: '1'\n")
    with pytest.raises(SettingsError, match=re.escape(f"unknown setting '{flag(name).removeprefix('--')}': {why}")):
        load(["--config", str(config)])


# docs/spec/service-mode.md §4.4: the variables baton-sdk reads directly (not flags) that are no setting here.
_SDK_DIRECT_VARIABLES = (
    "BATON_GET_TASKS",
    "BATON_TMPDIR",
    "BATON_SKIP_CLEANUP",
    "BATON_KEEP_SYNC_COUNT",
    "BATON_DECODER_MAX_DECODED_SIZE_MB",
    "BATON_DECODER_MAX_MEMORY_MB",
    "BATON_C1Z_FINALIZE_TIMEOUT",
    "BATON_HTTP_CACHE_TTL",
    "BATON_DISABLE_HTTP_CACHE",
    "BATON_DEBUG_PRINT_RESPONSE_BODY",
)


@pytest.mark.parametrize("variable", _SDK_DIRECT_VARIABLES)
def test_each_variable_baton_sdk_reads_directly_is_answered_with_why_it_is_not_read(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BATON_TMPDIR (the SDK's fallback for the working files' directory) was answered "did you mean
    BATON_C1Z_TEMP_DIR?", as if it were a typo: the operator could not tell that it is not read at all."""
    from connector.daemon.settings import load_effective

    monkeypatch.setenv(variable, "/scratch")
    [warning] = load_effective([]).warnings
    assert warning.startswith(f"unknown environment variable {variable}: a baton-sdk setting baton-datadog does not")
    assert "did you mean" not in warning


def test_a_variable_name_in_the_config_file_is_told_the_files_name_for_it(tmp_path: Path) -> None:
    """`BATON_API_KEY: …` copied from a Secret into the YAML file was answered "did you mean BATON_API_KEY?"."""
    config = tmp_path / "baton.yaml"
    config.write_text("BATON_API_KEY: canary-api-key-in-yaml\n")
    with pytest.raises(SettingsError) as refused:
        load(["--config", str(config)])
    assert str(refused.value) == (
        f"setting --config (BATON_CONFIG_PATH): {config}: 'BATON_API_KEY' is the environment variable's name; "
        "in this file the setting is api-key"
    )
    config.write_text("baton_sync_schedules: true\n")
    with pytest.raises(SettingsError, match=r"in this file the setting is sync-schedules$"):
        load(["--config", str(config)])


@pytest.mark.parametrize(
    ("line", "says"),
    [
        # The model took a YAML boolean for the number 1 or 0: a sync every second, any free port.
        ("sync-interval: true", "sync-interval is true/false (a YAML boolean), not a number"),
        ("health-check-port: false", "health-check-port is true/false (a YAML boolean), not a number"),
        # YAML 1.1 reads 0123 as 83: quoting is the fix to name (the model said only "a valid string").
        ("host-id: 0123", "host-id is a number, not text; quote it to give text"),
        ("host-id: 2024-01-01", "host-id is a YAML date, not text; quote it to give text"),
        # Was "Input is not a valid path for <class 'pathlib.Path'>".
        ("file: 123", "file is a number, not text; quote it to give text"),
        (f"api-key: {{k: {CANARY}}}", "api-key is a mapping, not text"),
        ("sync-resources: [role:a, 2]", "sync-resources is a number (item 2), not text; quote it to give text"),
        ("sync-resource-types: {role: 1}", "sync-resource-types is a mapping, not text or a list of text"),
    ],
)
def test_a_config_file_value_of_the_wrong_yaml_kind_is_named_not_converted(
    line: str, says: str, tmp_path: Path
) -> None:
    config = tmp_path / "baton.yaml"
    config.write_text(line + "\n")
    with pytest.raises(SettingsError) as refused:
        load(["--config", str(config)])
    assert str(refused.value) == f"setting --config (BATON_CONFIG_PATH): {config}: {says}"
    assert CANARY not in str(refused.value)


def test_a_config_file_takes_values_of_the_kinds_it_would_be_written_with(tmp_path: Path) -> None:
    config = tmp_path / "baton.yaml"
    config.write_text(
        "task-concurrency: 4\nshutdown-grace-seconds: 2.5\nhealth-check-port: '9090'\nprovisioning: yes\n"
        "sync-resource-types: role\nsync-resources: [role:a, 'team:b']\nhost-id: '0123'\n"
        "invoke-action: disable_user\ninvoke-action-args:\n  user_id: u-1\n"
    )
    settings = load(["--config", str(config)])
    assert (settings.task_concurrency, settings.shutdown_grace_seconds, settings.health_check_port) == (4, 2.5, 9090)
    assert (settings.provisioning, settings.sync_resource_types, settings.host_id) == (True, ["role"], "0123")
    assert settings.sync_resources == ["role:a", "team:b"]
    # The action's arguments as a YAML mapping: the JSON object they stand for.
    assert json.loads(settings.invoke_action_args) == {"user_id": "u-1"}


def test_each_bad_entry_of_a_json_list_is_named_by_its_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_SYNC_RESOURCES", '["role:a", 1, 2]')
    with pytest.raises(SettingsError) as refused:
        load([])
    assert str(refused.value).splitlines() == [
        "setting --sync-resources (BATON_SYNC_RESOURCES): item 2: Input should be a valid string",
        "setting --sync-resources (BATON_SYNC_RESOURCES): item 3: Input should be a valid string",
    ]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"https://user:{CANARY}@api.datadoghq.com", "must not carry a user name or password"),
        ("ftp://api.datadoghq.com", "expected an http(s) URL such as https://api.datadoghq.com"),
        (f"https://api.datadoghq.com/?k={CANARY}", "must not carry a query string or fragment"),
        # The resolver's IDNA encoding refuses these with a UnicodeError: the sync ended as an "unexpected error".
        (
            "https://api..datadoghq.com",
            "the host name cannot be looked up (an empty label, one over 63 characters, a character IDNA does not allow, or "
            "four numbers that are no IPv4 address)",
        ),
        (
            f"https://{'a' * 64}.com",
            "the host name cannot be looked up (an empty label, one over 63 characters, a character IDNA does not allow, or "
            "four numbers that are no IPv4 address)",
        ),
    ],
)
def test_a_bad_base_url_is_named_once(url: str, says: str) -> None:
    """The line read "setting --base-url (BATON_BASE_URL): setting `base_url`: …"."""
    with pytest.raises(SettingsError) as refused:
        load(["--base-url", url])
    assert str(refused.value) == f"setting --base-url (BATON_BASE_URL): {says}"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["--api-key", f"-{CANARY}"],
            "argument --api-key: expected one argument (give it one; a value that starts with '-' is written --api-key=VALUE)",
        ),
        (
            ["-f", f"-{CANARY}"],
            "argument --file/-f: expected one argument (give it one; a value that starts with '-' is written --file=VALUE)",
        ),
        (
            ["--log-level"],
            "argument --log-level: expected one argument (give it one; a value that starts with '-' is written --log-level=VALUE)",
        ),
    ],
)
def test_a_flag_without_its_value_is_one_line_with_the_way_to_give_a_dash_value(args: list[str], says: str) -> None:
    """pflag takes `--api-key -x…` as the value; argparse printed its usage and exited on its own."""
    with pytest.raises(SettingsError) as refused:
        load(args)
    assert str(refused.value) == says
    assert load([f"--api-key=-{CANARY}"]).api_key.get_secret_value() == f"-{CANARY}"  # type: ignore[union-attr]


def test_a_config_file_holding_a_secret_that_others_may_read_is_warned_about(tmp_path: Path) -> None:
    from connector.daemon.settings import load_effective

    config = tmp_path / "baton.yaml"
    config.write_text(f"api-key: {CANARY}\nclient-id: a@b.conductor.one/c\nclient-secret: {CANARY}\n")
    config.chmod(0o644)
    warnings = load_effective(["--config", str(config)]).warnings
    assert warnings == [
        f"the --config file {config} holds api-key, client-secret and other users may read it (mode 0644); chmod 600 it"
    ]
    config.chmod(0o600)
    assert load_effective(["--config", str(config)]).warnings == []
    config.write_text("site: datadoghq.eu\n")  # no secret in it: nothing to protect
    config.chmod(0o644)
    assert load_effective(["--config", str(config)]).warnings == []


@pytest.mark.parametrize("args", [["--list-schemas"], ["--list-schemas=true"]])
def test_the_ticket_schema_flag_of_older_baton_sdk_releases_is_named_as_such(args: list[str]) -> None:
    """baton-sdk's releases before its field schema called `--list-ticket-schemas` `--list-schemas` (with
    `--create-ticket`, `--get-ticket` and `--ticket-id`, which are named): a Go user's script got "unknown flag" and no
    reason, unlike every other SDK flag."""
    with pytest.raises(SettingsError) as refused:
        load(args)
    assert str(refused.value).startswith(
        "--list-schemas is a baton-sdk setting baton-datadog does not implement (Datadog has no ticketing"
    )


def test_no_setting_of_this_connector_is_called_baton_sdk_only() -> None:
    assert not set(SDK_ONLY_SETTINGS) & set(Settings.model_fields)


def test_an_empty_value_is_not_set_wherever_it_comes_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chart or Secret renders `BATON_X: ""` and a YAML file `x: null` for "not set" (viper ignores empty
    variables too): the file's value or the default applies, never an error and never an empty override."""
    from connector.daemon.settings import load_effective

    config = tmp_path / "baton.yaml"
    config.write_text("site: datadoghq.eu\nhealth-check-port: null\nprovisioning: ''\nsync-interval: ~\n")
    for name in ("BATON_SITE", "BATON_PROVISIONING", "BATON_HEALTH_CHECK_PORT", "BATON_LOG_LEVEL", "BATON_FILE"):
        monkeypatch.setenv(name, "")
    effective = load_effective(["--config", str(config)])
    settings = effective.settings
    assert settings.site == "datadoghq.eu"  # the file, not the empty variable
    assert (settings.health_check_port, settings.provisioning, settings.log_level) == (8081, False, "info")
    assert (settings.sync_interval, settings.file) == (0, Path("sync.c1z"))
    assert effective.sources["site"] == "file"
    assert effective.sources["provisioning"] == effective.sources["health_check_port"] == "default"
    assert effective.sources["log_level"] == "default"


def test_values_are_read_as_an_operator_means_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Secret made with `echo` keeps its newline, and zap, viper and Kubernetes take `INFO` or ` true `:
    surrounding whitespace never reaches a value (nor a file name, nor a key header), and choices ignore case."""
    monkeypatch.setenv("BATON_PROVISIONING", "true\n")
    monkeypatch.setenv("BATON_HEALTH_CHECK_PORT", " 9090\n")
    monkeypatch.setenv("BATON_LOG_LEVEL", "INFO")
    monkeypatch.setenv("BATON_LOG_FORMAT", "JSON\n")
    monkeypatch.setenv("BATON_FILE", "/data/sync.c1z\n")
    monkeypatch.setenv("BATON_API_KEY", f"{CANARY}\n")
    settings = load(["--sync-secrets", "--task-concurrency", " 4 "])
    assert settings.provisioning is True
    assert (settings.health_check_port, settings.task_concurrency) == (9090, 4)
    assert (settings.log_level, settings.log_format) == ("info", "json")
    assert settings.file == Path("/data/sync.c1z")
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == CANARY


@pytest.mark.parametrize(
    ("argv", "named", "hint"),
    [
        (["--sync-resource-types", "user,rol"], "--sync-resource-types (BATON_SYNC_RESOURCE_TYPES): 'rol'", "role"),
        (["--sync-resources", "usr:123"], "--sync-resources (BATON_SYNC_RESOURCES): 'usr'", "user"),
        (["--sync-resource-types", "schedule"], "'schedule'", "--sync-schedules"),
        (["--sync-resources", "api-key:1"], "'api-key'", "--sync-secrets"),
        # Both known, but at odds: the sync failed blaming the connector ("returned a resource with an unknown type").
        (
            ["--sync-resource-types", "user,team", "--sync-resources", "user:u1,role:r1"],
            "--sync-resources (BATON_SYNC_RESOURCES): 'role:r1' is a 'role'",
            "--sync-resource-types (BATON_SYNC_RESOURCE_TYPES) leaves out",
        ),
    ],
)
def test_an_unknown_resource_type_is_named_before_any_request(argv: list[str], named: str, hint: str) -> None:
    """It used to surface after the key check, as exit 1 naming an internal option (`sync_resource_type_ids`)."""
    from connector.daemon.oneshot import check_resource_types

    with pytest.raises(SettingsError) as caught:
        check_resource_types(load(argv))
    assert named in str(caught.value)
    assert hint in str(caught.value)


@pytest.mark.parametrize(
    ("argv", "target"),
    [
        (["--sync-secrets", "--sync-resources", "api-key:k1"], "api-key"),
        (
            ["--sync-secrets", "--sync-service-account-application-keys", "--sync-resources", "user:u1,bid:r:service-account-access-token/sat:abc"],
            "service-account-access-token",
        ),
        (
            ["--sync-secrets", "--sync-service-account-application-keys", "--sync-resources", "service-account-application-key:k1"],
            "service-account-application-key",
        ),
    ],
)  # fmt: skip
def test_a_target_of_a_type_without_targeted_sync_is_named_before_any_request(argv: list[str], target: str) -> None:
    """Keys are listed, never fetched one by one: the run checked both Datadog keys, then failed (exit 1) on
    "resource type 'api-key' does not support targeted sync", naming no setting, and left a failed run in --file."""
    from connector.daemon.oneshot import check_resource_types

    with pytest.raises(SettingsError) as caught:
        check_resource_types(load(argv))
    message = str(caught.value)
    assert "--sync-resources (BATON_SYNC_RESOURCES): " in message
    assert f"is a {target!r}, which cannot be synced one by one" in message
    assert "(targeted: user, role, team)" in message
    assert f"--sync-resource-types {target} syncs every one" in message
    if target != "api-key":  # listed under their service account, whose target lists them
        assert "a 'user' target those it holds" in message
    assert message.count("setting ") == 1, "the user target is fine"


@pytest.mark.parametrize(
    "ref",
    [
        "role:..",
        "team:.",
        "bid:r:user/..",
        "user:" + "a" * 1025,
        "role: 0f3a",
        "team:0f\x013a",
        "role:0f\x7f3a",
        "role:0f3a  Datadog Admin Role",  # a row of `inspect` pasted whole
    ],
)
def test_a_target_whose_id_names_no_datadog_object_is_named_before_any_request(ref: str) -> None:
    """A dot segment or an over-long id passed the settings check; the run checked both Datadog keys, then failed
    (exit 1) on "'..' is not a valid Datadog id", naming no setting, and left a failed run in --file. An id with
    surrounding whitespace (`role: 0f3a`) names no Datadog object either: the sync was answered 404 and finished
    (exit 0) with an empty partial sync and a warning."""
    from connector.daemon.oneshot import check_resource_types

    with pytest.raises(SettingsError) as caught:
        check_resource_types(load(["--sync-resources", f"user:u1,{ref}"]))
    message = str(caught.value)
    assert message.startswith("setting --sync-resources (BATON_SYNC_RESOURCES): "), message
    assert "names no Datadog object" in message
    assert message.count("setting ") == 1, "the user target is fine"


_KEY_32 = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
_KEY_40 = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"


@pytest.mark.parametrize(
    ("argv", "key"),
    [
        (["--sync-resources", f"user:u1,role:{_KEY_32}"], _KEY_32),
        (["--sync-resources", f"bid:r:team/{_KEY_40}"], _KEY_40),
        (["--sync-resources", f"user:{_KEY_32.upper()}"], _KEY_32),
        # Refused by the type filter too: that line quoted the whole target.
        (["--sync-resource-types", "user", "--sync-resources", f"role:{_KEY_40}"], _KEY_40),
        # Inside a longer id, or in the type (whose line quoted it): the id went to Datadog, the type into the line.
        (["--sync-resources", f"role:r-{_KEY_32}"], _KEY_32),
        (["--sync-resources", f"role:{_KEY_32}/x"], _KEY_32),
        (["--sync-resources", f"{_KEY_40}:r1"], _KEY_40),
        # Not a target at all: the parse error quoted it.
        (["--sync-resources", _KEY_32], _KEY_32),
        (["--sync-resources", f"bid:r:role/{_KEY_40}/x"], _KEY_40),
    ],
)
def test_a_key_given_as_a_targets_id_is_refused_unsent_and_unshown(argv: list[str], key: str) -> None:
    """A Datadog API or application key (32 or 40 hexadecimal characters) is never the id of a user, role, team or
    schedule (UUIDs and On-Call's short ids). Given as a target, it was sent in the request's URL, and Datadog's 404
    put it in the sync's warning and the log, a partial sync of nothing finished with exit 0; a refusal quoted it."""
    from connector.daemon.oneshot import check_resource_types

    with pytest.raises(SettingsError) as caught:
        check_resource_types(load(argv))
    message = str(caught.value)
    assert message.startswith("setting --sync-resources (BATON_SYNC_RESOURCES): "), message
    assert "the shape of a Datadog API or application key" in message
    assert key.lower() not in message.lower()
    assert message.count("setting ") == 1, "one line for the one target"


def test_a_key_given_as_a_resource_type_is_refused_and_shown_nowhere() -> None:
    """`--sync-resource-types user,<key>`: the refusal quoted the key ("'<key>' is not a resource type of this
    connector"), and so did the start-up line before it ("resource_types": [..., "<key>"])."""
    from connector.daemon.main import startup_summary
    from connector.daemon.oneshot import check_resource_types

    settings = load(["--sync-resource-types", f"user,{_KEY_32}", "--sync-resources", "role:r1"])
    assert _KEY_32 not in json.dumps(startup_summary(settings))
    with pytest.raises(SettingsError) as caught:
        check_resource_types(settings)
    message = str(caught.value)
    assert message.startswith("setting --sync-resource-types (BATON_SYNC_RESOURCE_TYPES): "), message
    assert "the shape of a Datadog API or application key" in message
    assert _KEY_32 not in message
    assert "'role:r1' is a 'role', which --sync-resource-types" in message, "the other entries are still judged"


def test_known_resource_types_pass_the_check() -> None:
    from connector.daemon.oneshot import check_resource_types

    check_resource_types(load(["--sync-resource-types", "user,role,team", "--sync-resources", "bid:r:team/t1"]))
    check_resource_types(load(["--sync-schedules", "--sync-secrets", "--sync-resource-types", "schedule,api-key"]))


def test_half_of_the_service_credentials_names_the_missing_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as caught:
        load(["--client-id", "abc@tenant.example.com/pcc"])
    assert str(caught.value).startswith("setting --client-secret (BATON_CLIENT_SECRET): ")
    monkeypatch.setenv("BATON_CLIENT_SECRET", CANARY)
    with pytest.raises(SettingsError) as caught:
        load([])
    assert str(caught.value).startswith("setting --client-id (BATON_CLIENT_ID): ")
    assert CANARY not in str(caught.value)


@pytest.mark.parametrize("value", ["256.1.1.1", "127.0.0.1:80", "http://0.0.0.0", "my host", "::1::2"])
def test_a_bind_address_no_socket_could_take_names_that_setting(value: str) -> None:
    """It used to fail at listen time as a DNS error blamed on --health-check-port."""
    with pytest.raises(SettingsError, match=re.escape("--health-check-bind-address (BATON_HEALTH_CHECK_BIND_ADDRESS)")):
        load(["--health-check-bind-address", value])


@pytest.mark.parametrize("value", ["0.0.0.0", "::", "::1", "127.0.0.1", "localhost", "pod-0.example.svc"])
def test_usual_bind_addresses_pass(value: str) -> None:
    assert load(["--health-check-bind-address", value]).health_check_bind_address == value


@pytest.mark.parametrize(
    "name", ["BATON_CLIENT_ID", "BATON_HOST_ID", "BATON_C1_API_HOST", "BATON_SITE", "BATON_API_KEY"]
)
def test_a_variable_that_is_not_utf8_is_named(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Undecodable bytes (kept by Python as lone surrogates) failed later as a UnicodeEncodeError or InvalidURL."""
    monkeypatch.setenv(name, f"{CANARY}caf\udce9")
    with pytest.raises(SettingsError) as caught:
        load([])
    assert str(caught.value).startswith(f"setting --{name[6:].lower().replace('_', '-')} ({name}): ")
    assert "UTF-8" in str(caught.value)
    assert CANARY not in str(caught.value)


def test_a_file_name_may_hold_any_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_FILE", "/data/caf\udce9.c1z")
    assert load([]).file == Path("/data/caf\udce9.c1z")


def test_a_host_id_longer_than_conductorone_takes_is_named_at_start() -> None:
    """ConductorOne takes a host_id of 1..256 characters on every request (spec §2.1). A longer BATON_HOST_ID
    passed the settings and ended the started daemon as `unexpected error: ValueError` (exit 1)."""
    assert load(["--host-id", "é" * 256]).host_id == "é" * 256
    with pytest.raises(SettingsError) as caught:
        load(["--host-id", "h" * 257])
    assert str(caught.value).startswith("setting --host-id (BATON_HOST_ID): ")
    assert "at most 256 characters" in str(caught.value)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--provisioning=true"], True),
        (["--provisioning=TRUE"], True),
        (["--provisioning=1"], True),
        (["--provisioning=false"], False),
        (["--provisioning", "--provisioning=f"], False),
        (["-p=true"], True),
    ],
)
def test_a_boolean_flag_takes_an_explicit_value_as_baton_sdk_flags_do(argv: list[str], expected: bool) -> None:
    # Go's flag parser (pflag) takes `--flag=true` / `--flag=false`; a Go baton user's scripts and manifests do too.
    assert load(argv).provisioning is expected


def test_a_boolean_flag_with_a_value_that_is_no_boolean_is_named() -> None:
    with pytest.raises(SettingsError) as raised:
        load(["--sync-secrets=" + CANARY])
    message = str(raised.value)
    assert "--sync-secrets (BATON_SYNC_SECRETS)" in message
    assert "true or false" in message
    assert CANARY not in message


@pytest.mark.parametrize("flag", ["--sync-resources", "--sync-resource-types"])
def test_a_list_flag_given_twice_keeps_both_as_baton_sdk_flags_do(flag: str) -> None:
    # pflag's string slices append on repetition; keeping only the last would sync less than was asked, silently.
    values = ["role:r1", "team:t1,team:t2"] if flag == "--sync-resources" else ["role", "user,team"]
    settings = load([flag, values[0], f"{flag}={values[1]}"])
    got = settings.sync_resources if flag == "--sync-resources" else settings.sync_resource_types
    assert got == [part for value in values for part in value.split(",")]


@pytest.mark.parametrize(
    ("argv", "idle"),
    [
        (["--sync-service-account-application-keys"], "--sync-service-account-application-keys"),
        (["--allow-org-api-key-deletion", "--sync-secrets"], "--allow-org-api-key-deletion"),
        (["--allow-org-api-key-deletion", "-p"], "--allow-org-api-key-deletion"),
    ],
)
def test_a_switch_that_needs_another_is_warned_about_and_not_shown_on(argv: list[str], idle: str) -> None:
    """Service-account keys are synced only with --sync-secrets, org key deletion needs it and provisioning too:
    alone, the switch did nothing without a word, and the start-up line said the keys were synced."""
    from connector.daemon.main import startup_summary
    from connector.daemon.oneshot import idle_settings

    settings = load(argv)
    (warning,) = idle_settings(settings)
    assert warning.startswith(f"setting {idle} (BATON_{idle[2:].upper().replace('-', '_')}) does nothing without")
    synced = startup_summary(settings)["synced"]
    assert isinstance(synced, dict)
    assert synced["service_account_application_keys"] is False


def test_sync_schedules_on_a_site_without_on_call_is_warned_about_and_not_shown_on() -> None:
    """Datadog has no On-Call on us2.ddog-gov.com, so the connector syncs no schedules there: the switch did nothing
    without a word, and the start-up line said schedules were synced."""
    from connector.daemon.main import startup_summary
    from connector.daemon.oneshot import idle_settings

    settings = load(["--site", "us2.ddog-gov.com", "--sync-schedules"])
    assert idle_settings(settings) == [
        "setting --sync-schedules (BATON_SYNC_SCHEDULES) does nothing on site us2.ddog-gov.com, which has no Datadog "
        "On-Call; it is ignored"
    ]
    synced = startup_summary(settings)["synced"]
    assert isinstance(synced, dict)
    assert synced["schedules"] is False
    on_call = load(["--site", "ddog-gov.com", "--sync-schedules"])
    assert idle_settings(on_call) == []
    synced = startup_summary(on_call)["synced"]
    assert isinstance(synced, dict)
    assert synced["schedules"] is True


@pytest.mark.parametrize("switch", [[], ["--sync-schedules"]])
def test_a_schedule_asked_for_on_a_site_without_on_call_names_the_site(switch: list[str]) -> None:
    """It was refused as "not a resource type of this connector", or as needing --sync-schedules while it was set."""
    from connector.daemon.oneshot import check_resource_types

    for argv in (["--sync-resource-types", "user,schedule"], ["--sync-resources", "schedule:s1"]):
        with pytest.raises(SettingsError) as caught:
            check_resource_types(load(["--site", "us2.ddog-gov.com", *switch, *argv]))
        message = str(caught.value)
        assert "'schedule' is not synced on site us2.ddog-gov.com, which has no Datadog On-Call" in message, message
        assert "not a resource type" not in message


def test_switches_that_take_effect_are_not_warned_about() -> None:
    from connector.daemon.main import startup_summary
    from connector.daemon.oneshot import idle_settings

    settings = load(["--sync-secrets", "-p", "--sync-service-account-application-keys", "--allow-org-api-key-deletion"])
    assert idle_settings(settings) == []
    synced = startup_summary(settings)["synced"]
    assert isinstance(synced, dict)
    assert synced["service_account_application_keys"] is True


@pytest.mark.parametrize("name", ["shutdown_grace_seconds", "ready_window_seconds", "backoff_scale"])
@pytest.mark.parametrize("value", ["inf", "Infinity", "-inf", "nan", "1e400"])
def test_a_number_setting_takes_only_finite_numbers(
    name: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--shutdown-grace-seconds inf` was taken: `config --json` then printed `Infinity`, which no JSON reader
    takes, as did the JSON log line naming the grace; NaN was refused as "should be greater than or equal to 0"."""
    named = re.escape(f"{flag(name)} ({env(name)})") + ".*finite number"
    with pytest.raises(SettingsError, match=named):
        load([f"{flag(name)}={value}"])
    monkeypatch.setenv(env(name), value)
    with pytest.raises(SettingsError, match=named):
        load([])
    monkeypatch.delenv(env(name))
    in_file = tmp_path / "settings.yaml"
    in_file.write_text(f"{flag(name).removeprefix('--')}: .inf\n")  # YAML's own infinity
    with pytest.raises(SettingsError, match=named):
        load(["--config", str(in_file)])


@pytest.mark.parametrize(
    ("name", "value"),
    [("shutdown_grace_seconds", "1e308"), ("backoff_scale", "1e-320"), ("ready_window_seconds", "1e300")],
)
def test_a_number_setting_refuses_a_slip_of_the_exponent(name: str, value: str) -> None:
    """A grace of 1e308 s waited for the SIGKILL, a scale of 1e-320 made every ConductorOne retry delay zero (retries
    hammered it through an outage), and a readiness window of 1e300 s never let /readyz fail."""
    with pytest.raises(SettingsError, match=re.escape(f"{flag(name)} ({env(name)})")):
        load([f"{flag(name)}={value}"])


def _alias_bomb(levels: int) -> str:
    """A YAML mapping for `invoke-action-args` whose aliases expand to 9**levels values (billion laughs)."""
    lines = ["invoke-action-args:", '  l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_a_config_file_whose_aliases_expand_without_bound_is_refused_unexpanded(tmp_path: Path) -> None:
    """`invoke-action-args` may be a mapping, written out as JSON: 2 KB of YAML aliases expanding to 9**10 values
    held the CPU and memory until the process was killed. Go's YAML reader refuses such excessive aliasing."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_alias_bomb(10))
    with pytest.raises(SettingsError, match=r"--config \(BATON_CONFIG_PATH\): .*bomb.yaml: holds more than"):
        load(["--config", str(bomb)])
    fine = tmp_path / "fine.yaml"
    fine.write_text(_alias_bomb(3) + "sync-resources: &ids [role:a, team:b]\n")  # aliases used with measure work
    from connector.daemon.settings import read_yaml

    read, problems = read_yaml(fine)
    assert problems == []
    assert len(json.loads(read["invoke_action_args"])["l2"]) == 9
    assert read["sync_resources"] == ["role:a", "team:b"]


def test_a_config_file_too_large_for_settings_is_refused_unread(tmp_path: Path) -> None:
    """A 50 MB file was parsed whole (a minute of CPU, then "must hold a mapping"); a settings file is a few KB."""
    big = tmp_path / "big.yaml"
    big.write_bytes(b"site: datadoghq.eu\n" + b"#" * (2 << 20) + b"\n")
    with pytest.raises(SettingsError, match=r"--config \(BATON_CONFIG_PATH\): .*big.yaml: is larger than 1 MiB"):
        load(["--config", str(big)])


@pytest.mark.parametrize(
    ("argv", "idle"),
    [
        (["--sync-interval", "3600"], "--sync-interval"),
        (["--skip-full-sync"], "--skip-full-sync"),
        (["--task-concurrency", "7"], "--task-concurrency"),
        (["--host-id", "pod-1"], "--host-id"),
        (["--shutdown-grace-seconds", "5"], "--shutdown-grace-seconds"),
        (["--ready-window-seconds", "120"], "--ready-window-seconds"),
    ],
)
def test_a_service_mode_setting_without_a_client_id_is_warned_about(argv: list[str], idle: str) -> None:
    """`baton-datadog --sync-interval 3600 --file sync.c1z` made one sync and exited 0 without a word: every
    service-mode setting does nothing in a one-shot run, which now says so."""
    from connector.daemon.oneshot import idle_settings

    (warning,) = idle_settings(load(argv))
    variable = "BATON_" + idle[2:].upper().replace("-", "_")
    assert warning == f"setting {idle} ({variable}) does nothing without --client-id (service mode); it is ignored"


def test_service_mode_settings_are_not_warned_about_where_they_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    from connector.daemon.oneshot import idle_settings
    from tests.fakes.c1 import generate_client_credentials

    creds = generate_client_credentials("tenant.example.com")
    service = ["--client-id", creds.client_id, "--client-secret", creds.client_secret]
    assert idle_settings(load([*service, "--sync-interval", "3600", "--task-concurrency", "7"])) == []
    # What the image sets for both modes (Dockerfile ENV), and defaults given explicitly, are not warned about.
    for name, value in {
        "BATON_C1Z_TEMP_DIR": "/tmp",
        "BATON_HEALTH_CHECK": "true",
        "BATON_HEALTH_CHECK_BIND_ADDRESS": "0.0.0.0",
        "BATON_HEALTH_CHECK_PORT": "8081",
        "BATON_TASK_CONCURRENCY": "3",
    }.items():
        monkeypatch.setenv(name, value)
    assert idle_settings(load([])) == []


def test_baton_sdks_default_config_file_is_named_when_present_and_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """baton-sdk reads ./.baton.yaml when no config path is given (docs/spec/service-mode.md §4.1). This connector
    reads only a file it is given: a Go user's .baton.yaml (here: another site, the secrets synced) was ignored
    without a word, and the run went to the default site. Its presence is warned about, naming the flag that reads
    it; named, it is read as any --config file."""
    from connector.daemon.settings import load_effective

    for name in [key for key in os.environ if key.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    warning = (
        "./.baton.yaml is not read: baton-sdk reads it by default, this connector only a file it is given (settings "
        "from the working directory could send the keys elsewhere); to use it, give --config .baton.yaml "
        "(BATON_CONFIG_PATH)"
    )
    assert warning not in load_effective([]).warnings  # no such file: nothing to say

    (tmp_path / ".baton.yaml").write_text("site: datadoghq.eu\nsync-secrets: true\n")
    effective = load_effective([])
    assert warning in effective.warnings
    assert (effective.settings.site, effective.sources["site"]) == ("datadoghq.com", "default")

    for named in (["--config", ".baton.yaml"], []):
        if not named:
            monkeypatch.setenv("BATON_CONFIG_PATH", ".baton.yaml")
        effective = load_effective(named)
        assert warning not in effective.warnings
        assert (effective.settings.site, effective.sources["site"]) == ("datadoghq.eu", "file")


@pytest.mark.parametrize("quote", ['"', "'"])
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("api_key", "3e9f0c7a1b2d4e6f8a9b0c1d2e3f4a5b"),
        ("app_key", "8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b"),
        ("client_id", "737a2e2d8b2e0e15e2d76467@tenant.example.com/pcc"),
        ("client_secret", "secret-token:conductorone.com:v1:e30"),
    ],
)
def test_a_credential_kept_in_its_quotes_is_refused_unshown(
    name: str, value: str, quote: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`BATON_API_KEY="..."` in an env file: a shell takes the quotes off, `docker run --env-file` (and a Secret made
    from the file) keeps them, and they were sent as part of the credential: Datadog rejected a right key "of another
    Datadog site", ConductorOne's id went to the token endpoint. No Datadog key or ConductorOne credential holds a
    quote: refused before anything is sent, naming the setting and the quotes, never the value."""
    from connector.daemon.settings import load_effective

    for key in [key for key in os.environ if key.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(key)
    quoted = f"{quote}{value}{quote}"
    expected = (
        f"setting {flag(name)} ({env(name)}): is wrapped in quotes, which would be sent as part of it (an env file "
        "read by `docker run --env-file` or made into a Secret keeps them): remove them"
    )
    monkeypatch.setenv(env(name), quoted + "\n")
    with pytest.raises(SettingsError) as refused:
        load_effective([])
    assert str(refused.value) == expected
    monkeypatch.delenv(env(name))

    config = tmp_path / "baton.yaml"
    config.write_text(f"{flag(name).removeprefix('--')}: {json.dumps(quoted)}\n")  # quoted twice: the inner ones stay
    config.chmod(0o600)
    with pytest.raises(SettingsError) as refused:
        load_effective(["--config", str(config)])
    assert str(refused.value) == expected
    assert value[:12] not in str(refused.value)

    monkeypatch.setenv(env(name), value)  # the same value without its quotes is taken
    partner = {"client_id": ("client_secret", "secret-token:conductorone.com:v1:e30")}.get(name)
    partner = partner or {"client_secret": ("client_id", "a@tenant.example.com/pcc")}.get(name)
    if partner:  # service mode takes both
        monkeypatch.setenv(env(partner[0]), partner[1])
    assert load_effective([]).sources[name] == "env"


USER_UUID = "a0116be5-ab0c-4681-88f8-e3d0d3290a4c"


@pytest.mark.parametrize(
    "user_id",
    [
        f"user:{USER_UUID}",  # as a grant id, --sync-resources and the deletion lines write it
        f"bid:r:user/{USER_UUID}",  # the Go SDK's resource reference
        {"resource_type_id": "user", "resource_id": f"user:{USER_UUID}"},
        {"resource_type": "user", "resource": f" user:{USER_UUID} "},
    ],
    ids=["typed", "bid", "resource id typed", "resource id typed, padded"],
)
def test_an_actions_user_id_with_its_type_in_front_is_refused_naming_the_bare_id(user_id: object) -> None:
    """`--grant-principal user:<id>` and `--delete-resource api-key:<id>` are refused, naming the id to give; an
    action's `user_id` so written went to Datadog as the id (GET /api/v2/users/user%3A<id>): its 404 failed the
    action, exit 1, as "not found" of an id no one had meant. A Datadog id is a UUID, with neither `:` nor `/`."""
    from connector.daemon.actions import build_task

    args = json.dumps({"user_id": user_id})
    with pytest.raises(SettingsError) as refused:
        build_task(load(["-p", "--invoke-action", "disable_user", "--invoke-action-args", args]))
    assert str(refused.value).startswith("setting --invoke-action-args (BATON_INVOKE_ACTION_ARGS): user_id '")
    assert str(refused.value).endswith(f"' is not a bare user id: give the id alone, '{USER_UUID}'")
    bare = json.dumps({"user_id": USER_UUID})
    task = build_task(load(["-p", "--invoke-action", "disable_user", "--invoke-action-args", bare]))
    assert task.action_invoke.args["user_id"] == USER_UUID


@pytest.mark.parametrize(
    ("variable", "name"),
    [
        ("DD_SITE", "site"),
        ("DD_API_KEY", "api_key"),
        ("DD_APP_KEY", "app_key"),
        ("DD_APPLICATION_KEY", "app_key"),
        ("DATADOG_SITE", "site"),  # datadog-ci's and the Terraform provider's forms
        ("DATADOG_API_KEY", "api_key"),
        ("DATADOG_APP_KEY", "app_key"),
    ],
)
def test_datadogs_own_variables_are_named_when_their_setting_is_not_given(
    variable: str, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Datadog user's shell has DD_SITE, DD_API_KEY and DD_APP_KEY (what Datadog's clients read): they were
    ignored without a word, and the sync went to the default site with another site's keys ("the key may belong to
    another Datadog site"). Named, never read, never shown; no word once the setting is given."""
    from connector.daemon.settings import load_effective

    for key in [key for key in os.environ if key.startswith((ENV_PREFIX, "DD_", "DATADOG_"))]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    value = "datadoghq.eu" if name == "site" else "3e9f0c7a1b2d4e6f8a9b0c1d2e3f4a5b"
    monkeypatch.setenv(variable, value)
    effective = load_effective([])
    assert effective.warnings == [
        f"environment variable {variable} is not read: this connector reads {env(name)} ({flag(name)}), as baton-sdk "
        "names it; none is given"
    ]
    assert effective.sources[name] == "default"
    assert value not in " ".join(effective.warnings)
    monkeypatch.setenv(env(name), value)
    assert load_effective([]).warnings == []


def test_a_dd_site_naming_the_default_site_is_not_warned_about(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pod's Datadog agent settings often hold DD_SITE: naming the site this run uses anyway, it changes nothing."""
    from connector.daemon.settings import load_effective

    for key in [key for key in os.environ if key.startswith((ENV_PREFIX, "DD_", "DATADOG_"))]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DD_SITE", " DatadogHQ.com ")
    assert load_effective([]).warnings == []


@pytest.mark.parametrize(
    ("key", "setting"),
    [("syncSchedules", "sync-schedules"), ("c1zTempDir", "c1z-temp-dir"), ("apiKey", "api-key")],
)
def test_a_camel_case_key_in_the_config_file_is_told_the_files_name_for_it(
    key: str, setting: str, tmp_path: Path
) -> None:
    """The chart's `config` values are camelCase (`syncSchedules: true`); copied into a --config file for a local run,
    each was "unknown setting 'syncSchedules'; did you mean BATON_SYNC_SCHEDULES (--sync-schedules)?", a variable and
    a flag, neither what the file takes. As for a BATON_* name used as a key, the file's name for it is given."""
    config = tmp_path / "baton.yaml"
    config.write_text(f"{key}: '1'\n")
    with pytest.raises(SettingsError) as refused:
        load(["--config", str(config)])
    assert str(refused.value) == (
        f"setting --config (BATON_CONFIG_PATH): {config}: {key!r} is camelCase (as the chart's values are written); "
        f"in this file the setting is {setting}"
    )


ARGS = "invoke_action_args"
JANE_RESOURCE = {"resource_type_id": "user", "resource_id": "jane@example.com"}
EMAIL_IS_NO_ID = (
    "'jane@example.com' is an email address, not a Datadog user id: give the user's id (a UUID; `baton-datadog "
    "inspect --resources user` lists them with their names)"
)


@pytest.mark.parametrize(
    ("argv", "setting"),
    [
        (["--grant-entitlement", "role:r1:member", "--grant-principal", "jane@example.com"], "grant_principal"),
        (["--revoke-grant", "role:r1:member:user:jane@example.com"], "revoke_grant"),
        (["--invoke-action", "disable_user", "--invoke-action-args", '{"user_id": "jane@example.com"}'], ARGS),
        (["--invoke-action", "enable_user", "--invoke-action-args", json.dumps({"user_id": JANE_RESOURCE})], ARGS),
    ],
    ids=["grant", "revoke", "action", "action-resource-id"],
)
def test_an_email_given_as_a_users_id_is_refused_naming_what_to_give(argv: list[str], setting: str) -> None:
    """An admin knows a user by email, and Datadog by a UUID. `--revoke-grant role:<id>:member:user:jane@example.com`
    was answered 404 and printed "not in Datadog ... (nothing changed)", exit 0, while Jane kept the role under her
    real id: a revoke that looked done. No Datadog id holds '@': refused before any request, naming the setting."""
    from connector.daemon.actions import build_task

    with pytest.raises(SettingsError) as refused:
        build_task(load(["-p", *argv]))
    assert str(refused.value) == f"setting {flag(setting)} ({env(setting)}): {EMAIL_IS_NO_ID}"


def test_an_email_given_as_a_targets_id_is_refused_before_any_request() -> None:
    """`--sync-resources user:jane@example.com` was answered 404 and finished, exit 0, as an empty partial sync."""
    from connector.daemon.oneshot import check_resource_types

    with pytest.raises(SettingsError) as refused:
        check_resource_types(load(["--sync-resources", "user:jane@example.com"]))
    assert str(refused.value) == (
        "setting --sync-resources (BATON_SYNC_RESOURCES): 'user:jane@example.com' names no Datadog object (its id is "
        "an email address; a user's id is a UUID: `baton-datadog inspect --resources user` lists them with their names)"
    )


@pytest.mark.parametrize(
    "action",
    [
        ["--revoke-grant", "role:r1:member:user:u2"],
        ["--grant-entitlement", "team:t1:admin", "--grant-principal", "u1"],
        ["--invoke-action", "disable_user", "--invoke-action-args", '{"user_id": "u3"}'],
        ["--delete-resource", "k1", "--delete-resource-type", "api-key"],
        ["--create-account-email", "a@b.co"],
    ],
)
def test_a_one_shot_action_where_service_mode_is_required_names_the_action_and_the_way_out(
    action: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the pod the chart and deploy/ set BATON_REQUIRE_SERVICE_MODE, and a one-shot action run there (an urgent
    revoke by hand, `kubectl exec`) was told the ConductorOne client id was missing: given it, the action is refused
    again, as one that cannot run in service mode. The refusal names the action and how to run it."""
    from connector.daemon.settings import require_service_mode

    monkeypatch.setenv(env("require_service_mode"), "true")
    settings = load(["-p", *action])
    with pytest.raises(SettingsError) as refused:
        require_service_mode(settings)
    message = str(refused.value)
    assert message.startswith(f"{action[0]} is a one-shot action"), message
    assert "client-id" not in message
    assert "missing" not in message
    assert "--no-require-service-mode" in message
    assert f"{env('require_service_mode')}=false" in message
    # Without the setting (on a workstation), the same action still loads and runs one-shot.
    monkeypatch.delenv(env("require_service_mode"))
    require_service_mode(load(["-p", *action]))
