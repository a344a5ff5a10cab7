"""The baton CLI conventions users know from baton-sdk: --version, capabilities, config, --help, warnings.

The commands answered from the settings alone run in this process (`run_cli_in_process`, the same entry point);
what only a process shows (the exit status and streams of `--version`, closed and failing output, signals, a run
refusing a secret, the start-up log line, an unexpected error) runs the real command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.daemon.version import package_version
from tests.c1z_fixtures import FIXTURE_DIR
from tests.daemon.cli import KEYS, ROOT, clean_env, last_line, run_cli, run_cli_in_process
from tests.programs import need_program

# A Go-written file with ~15k grants: its listing is far more than a pipe holds.
DEMO_C1Z = FIXTURE_DIR / "sync.36zfOAoWMxQdISbixanQCRBiX7E.expanded.c1z"

CANARY = "canary-api-key-0f1e2d3c4b5a"


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--help",), None),  # wrapped as the real command wraps it, its output not a terminal
        (("config", "--jsno"), None),  # a refusal: exit 2, one line on stderr
        (("config",), {"BATON_SYNC_SCHEDULE": "true", "BATON_API_KEY": CANARY}),  # a table and a warning
    ],
    ids=["help", "refusal", "config-and-warning"],
)
def test_the_in_process_runner_answers_exactly_as_the_command_does(
    args: tuple[str, ...], env: dict[str, str] | None
) -> None:
    # The tests below that use it check what the real command would print: the same status and the same bytes.
    real, in_process = run_cli(*args, env=env), run_cli_in_process(*args, env=env)
    assert (in_process.returncode, in_process.stdout, in_process.stderr) == (real.returncode, real.stdout, real.stderr)


def test_version_prints_the_package_version() -> None:
    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"baton-datadog {package_version()}"


def test_help_lists_the_commands_and_each_settings_default_values_and_variable() -> None:
    done = run_cli_in_process("--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())  # argparse wraps lines
    for command in ("inspect [FILE]", "capabilities", "config", "help [COMMAND]"):
        assert command in text
    assert "(default: 3; an integer from 1 to 100) [BATON_TASK_CONCURRENCY]" in text
    assert "(default: info; one of debug, info, warn, warning, error) [BATON_LOG_LEVEL]" in text
    assert "(default: datadoghq.com; one of datadoghq.com, us3.datadoghq.com" in text
    assert "[BATON_GRANT_ENTITLEMENT]" in text


def test_the_commands_help_lists_are_the_commands_the_program_runs() -> None:
    """Two lists name the commands: the dispatcher's (light, read before the settings module loads) and `--help`'s,
    with each one's usage. A command added to one only was run but never shown, or shown and answered "not a
    command"."""
    from connector.cli import COMMANDS as RUN
    from connector.daemon.settings import COMMANDS as SHOWN

    assert [usage.split()[0] for usage, _ in SHOWN] == list(RUN)


def test_capabilities_is_what_hello_sends_for_these_settings() -> None:
    plain = json.loads(run_cli_in_process("capabilities").stdout)
    assert plain["displayName"] == "Datadog"
    assert "CAPABILITY_SYNC" in plain["capabilities"]["connectorCapabilities"]
    assert "CAPABILITY_PROVISION" not in plain["capabilities"]["connectorCapabilities"]
    types = {c["resourceType"]["id"]: c for c in plain["capabilities"]["resourceTypeCapabilities"]}
    assert set(types) == {"user", "role", "team"}
    assert "CAPABILITY_PROVISION" not in types["role"]["capabilities"]

    done = run_cli_in_process("capabilities", "--provisioning", "--sync-secrets")
    assert done.returncode == 0, done.stderr
    full = json.loads(done.stdout)
    types = {c["resourceType"]["id"]: c for c in full["capabilities"]["resourceTypeCapabilities"]}
    assert "api-key" in types
    assert "CAPABILITY_PROVISION" in types["role"]["capabilities"]
    assert "CAPABILITY_ACCOUNT_PROVISIONING" in full["capabilities"]["connectorCapabilities"]
    assert full["accountCreationSchema"]["fieldMap"]["email"]["required"] is True


def test_capabilities_needs_no_keys_and_bad_settings_exit_2() -> None:
    done = run_cli_in_process("capabilities", "--site", "datadoghq.moon")
    assert done.returncode == 2
    assert "--site (BATON_SITE)" in done.stderr


# Flags before the command, as baton users type them (the Go SDK's flags are global); a flag's value is never
# taken for the command, whether it follows the flag or is joined to it with `=`.
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--log-level", "debug", "config"), {"log_level": "debug"}),
        (("--api-key", CANARY, "config"), {"api_key": "[set, redacted]"}),
        ((f"--api-key={CANARY}", "config"), {"api_key": "[set, redacted]"}),
        (
            ("--site", "datadoghq.eu", "--sync-schedules", "config", "--task-concurrency", "9"),
            {"site": "datadoghq.eu", "sync_schedules": True, "task_concurrency": 9},
        ),
        (("-f", "config", "config"), {"file": "config"}),  # a file named `config`, then the command
        (("--log-level", "debug", "--", "config"), {"log_level": "debug"}),  # argparse's end of flags
    ],
    ids=[
        "log-level",
        "value-after-flag",
        "value-joined",
        "flags-on-both-sides",
        "value-named-like-the-command",
        "after-end-of-flags",
    ],
)
def test_config_is_found_after_leading_flags(args: tuple[str, ...], expected: dict[str, object]) -> None:
    done = run_cli_in_process(*args, "--json", env=KEYS)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["settings"]
    assert {name: (rows[name]["value"], rows[name]["source"]) for name in expected} == {
        name: (value, "flag") for name, value in expected.items()
    }
    assert CANARY not in done.stdout + done.stderr


def test_config_after_a_config_file_flag_reads_that_file(tmp_path: Path) -> None:
    config = tmp_path / "x.yaml"
    config.write_text("task-concurrency: 7\n")
    done = run_cli_in_process("--config", str(config), "config", "--json", env=KEYS)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["settings"]["task_concurrency"] == {
        "value": 7,
        "source": "file",
        "env": "BATON_TASK_CONCURRENCY",
    }


def test_capabilities_is_found_after_leading_flags() -> None:
    done = run_cli_in_process("--log-level", "debug", "--sync-secrets", "capabilities")
    assert done.returncode == 0, done.stderr
    types = {c["resourceType"]["id"] for c in json.loads(done.stdout)["capabilities"]["resourceTypeCapabilities"]}
    assert "api-key" in types


def test_inspect_file_still_works_and_help_and_version_work_in_both_places(tmp_path: Path) -> None:
    missing = tmp_path / "absent.c1z"
    done = run_cli_in_process("inspect", str(missing))
    assert done.returncode == 2
    assert str(missing) in last_line(done.stderr)
    for args in (
        ("--version", "inspect"),
        ("inspect", "--version"),
        ("--version", "config"),
        ("config", "--version"),
        ("-v",),  # cobra's short form, which every baton-sdk connector has
        ("-v", "inspect"),
        ("inspect", "-v"),
        ("capabilities", "-v"),
    ):
        done = run_cli_in_process(*args)
        assert (done.returncode, done.stdout.strip()) == (0, f"baton-datadog {package_version()}"), args
    for args, shows in (
        (("--help", "inspect"), "the .c1z file to read"),
        (("inspect", "--help"), "the .c1z file to read"),
        (("--help", "config"), "[BATON_TASK_CONCURRENCY]"),
        (("config", "--help"), "[BATON_TASK_CONCURRENCY]"),
        (("--help", "capabilities"), "[BATON_SYNC_SECRETS]"),
    ):
        done = run_cli_in_process(*args)
        assert done.returncode == 0, (args, done.stderr)
        assert shows in " ".join(done.stdout.split()), args


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--resources",), "argument --resources: expected one argument"),
        (("--grants", "--entitlements"), "argument --entitlements: not allowed with argument --grants"),
    ],
)
def test_a_mistake_in_inspects_flags_is_one_line_and_exit_2(args: tuple[str, ...], says: str) -> None:
    """argparse printed its four-line usage above the error."""
    done = run_cli_in_process("inspect", str(DEMO_C1Z), *args)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [f"baton-datadog: inspect: {says}"]


# cobra gives every baton-sdk connector a `help [COMMAND]` command; a baton user types it before trying --help.
@pytest.mark.parametrize(
    ("args", "shows"),
    [
        (("help",), "usage: baton-datadog [COMMAND] [FLAGS]"),
        (("help", "inspect"), "the .c1z file to read"),
        (("help", "config"), "usage: baton-datadog config [FLAGS] [--json]"),
        (("--log-level", "debug", "help", "capabilities"), "usage: baton-datadog capabilities [FLAGS]"),
    ],
    ids=["program", "inspect", "config", "after-flags"],
)
def test_the_help_command_shows_the_programs_help_or_a_commands(args: tuple[str, ...], shows: str) -> None:
    done = run_cli_in_process(*args)
    assert (done.returncode, done.stderr) == (0, "")
    assert shows in done.stdout


def test_help_for_no_command_is_one_line_and_exit_2() -> None:
    done = run_cli_in_process("help", "sycn")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        "baton-datadog: help: unknown command 'sycn'; the commands are inspect, capabilities, config, help, "
        "completion, or none to sync or serve (see --help)"
    ]
    done = run_cli_in_process("help", CANARY)
    assert done.returncode == 2
    assert CANARY not in done.stderr


def test_config_and_capabilities_help_describe_the_command_and_its_own_flags() -> None:
    """Their help was the program's: a `[COMMAND]` slot they do not take, and no word of `config --json`."""
    for command, usage in (("config", "[FLAGS] [--json]"), ("capabilities", "[FLAGS]")):
        done = run_cli_in_process(command, "--help")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"usage: baton-datadog {command} {usage}\n"), done.stdout[:200]
        assert "commands:" not in done.stdout
    assert "--json" in run_cli_in_process("config", "--help").stdout
    assert "--json" not in run_cli_in_process("capabilities", "--help").stdout
    done = run_cli_in_process("config", "--jsno")
    assert (done.returncode, last_line(done.stderr)) == (
        2,
        "baton-datadog: unknown flag --jsno; did you mean --json?; see --help for the flags",
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("sync",), "unknown command 'sync'"),
        (("--log-level", "debug", "cofnig"), "unknown command 'cofnig'; did you mean 'config'?"),
        # A key that lost its flag is never quoted back.
        (("--app-key", "x", CANARY), "argument 3 is neither a flag, a flag's value nor a command"),
    ],
    ids=["word", "typo-after-flags", "value-without-flag"],
)
def test_a_positional_that_is_no_command_is_one_line_and_exit_2(args: tuple[str, ...], says: str) -> None:
    done = run_cli_in_process(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"baton-datadog: {says}")
    assert "the commands are inspect, capabilities, config, help" in line
    assert CANARY not in line


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("version", "the version is --version (or -v)"),
        ("grants", "the baton tool's command; here: baton-datadog inspect --grants"),
        ("resources", "the baton tool's command; here: baton-datadog inspect --resources TYPE"),
        ("entitlements", "the baton tool's command; here: baton-datadog inspect --entitlements"),
        ("stats", "the baton tool's command; here: baton-datadog inspect (rows per resource type)"),
    ],
)
def test_a_command_of_the_baton_tool_names_what_does_its_work_here(command: str, says: str) -> None:
    """A baton user reads a c1z with `baton grants -f sync.c1z`, and types `baton-datadog grants` from habit: it was
    "unknown command" and the list of commands, none of which said that `inspect --grants` is the one."""
    done = run_cli_in_process(command)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"baton-datadog: unknown command {command!r}; {says}; the commands are inspect, capabilities, config, help, "
        "completion, or none to sync or serve (see --help)\n"
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("-p", "false"), "'false' after the switch -p is no command: a switch takes its value after '=', as in "
         "baton-sdk: -p=false; or --no-provisioning"),
        (("--sync-secrets", "TRUE", "config"), "'TRUE' after the switch --sync-secrets is no command: a switch takes "
         "its value after '=', as in baton-sdk: --sync-secrets=TRUE"),
    ],
    ids=["short", "long-before-a-command"],
)  # fmt: skip
def test_a_truth_value_after_a_switch_says_how_a_switch_takes_its_value(args: tuple[str, ...], says: str) -> None:
    """`-p false`, meant to turn provisioning off: pflag (and this CLI) takes a switch's value only after `=`, and the
    word was refused as "unknown command 'false'", which named neither the switch nor how to write it."""
    done = run_cli_in_process(*args)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"baton-datadog: {says}\n")
    assert run_cli_in_process("--file", "false", "config", env=KEYS).returncode == 0, "a flag's value is never taken"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--client-secrett=" + CANARY,), "unknown flag --client-secrett; did you mean --client-secret?"),
        (("config", "--app-kye", CANARY), "unknown flag --app-kye; did you mean --app-key?"),
        (("capabilities", "--api-kye", CANARY), "unknown flag --api-kye; did you mean --api-key?"),
        # Before any command: the flag is what is wrong, not its value taken for a command.
        (("--api-kye", "abcdef"), "unknown flag --api-kye; did you mean --api-key?"),
        (
            ("--otel-collector-endpoint", "collector", "config"),
            "--otel-collector-endpoint is a baton-sdk setting baton-datadog does not implement (no OpenTelemetry",
        ),
        (("inspect", "sync.c1z", "--api-key=" + CANARY), "inspect: --api-key is a setting of a sync or the service"),
        (("inspect", "sync.c1z", CANARY), "inspect: 1 unexpected argument(s) (not shown: one may be a key)"),
    ],
    ids=[
        "flag=value",
        "after-config",
        "after-capabilities",
        "before-a-word",
        "sdk-flag-we-lack",
        "inspect-flag",
        "inspect-extra",
    ],
)
def test_an_unknown_flag_is_named_and_its_value_never_shown(args: tuple[str, ...], says: str) -> None:
    done = run_cli_in_process(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"baton-datadog: {says}")
    assert CANARY not in line
    assert "abcdef" not in line
    assert "collector " not in line


@pytest.mark.parametrize(
    ("args", "says"),
    [
        # `config --json` exists, `capabilities` always prints JSON: `--version` was the "closest" flag.
        (("capabilities", "--json"), "unknown flag --json; see --help"),
        (("--token", CANARY), "unknown flag --token and 1 other argument(s)"),
        (("--verbose",), "unknown flag --verbose; see --help"),
        # A flag cut short still finds the one it begins.
        (("--log", "debug"), "unknown flag --log; did you mean --log-level? and 1 other argument(s)"),
        (("--app-kye", CANARY), "unknown flag --app-kye; did you mean --app-key?"),
    ],
)
def test_the_closest_flag_is_one_the_user_could_have_meant(args: tuple[str, ...], says: str) -> None:
    """The `--` every long flag shares made unrelated names "close": advice that does not work."""
    done = run_cli_in_process(*args)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"baton-datadog: {says}"), line
    assert CANARY not in line


def test_config_shows_each_value_and_where_it_came_from_with_secrets_redacted(tmp_path: Path) -> None:
    config = tmp_path / "baton.yaml"
    config.write_text("task-concurrency: 7\nsync-schedules: true\n")
    done = run_cli_in_process(
        "config",
        "--json",
        "--site",
        "datadoghq.eu",
        env={"BATON_CONFIG_PATH": str(config), "BATON_API_KEY": CANARY, "BATON_TASK_CONCURRENCY": "5"},
    )
    # The app key is missing, which the run refuses at start: said as a warning, exit 0 (nothing given is wrong).
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["errors"] == []
    assert "missing required setting --app-key (BATON_APP_KEY)" in json.loads(done.stdout)["warnings"]
    assert CANARY not in done.stdout + done.stderr
    rows = json.loads(done.stdout)["settings"]
    assert rows["site"] == {"value": "datadoghq.eu", "source": "flag", "env": "BATON_SITE"}
    assert rows["task_concurrency"] == {"value": 5, "source": "env", "env": "BATON_TASK_CONCURRENCY"}
    assert rows["sync_schedules"]["value"] is True
    assert rows["sync_schedules"]["source"] == "file"
    assert rows["log_level"]["source"] == "default"
    assert rows["api_key"]["value"] == "[set, redacted]"
    assert rows["app_key"]["value"] == "[not set]"


def test_config_table_is_one_line_per_setting() -> None:
    done = run_cli_in_process("config", env={**KEYS, "BATON_API_KEY": CANARY})
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line.split() for line in done.stdout.splitlines()}
    assert lines["api-key"][-2:] == ["env", "BATON_API_KEY"]
    assert lines["site"][1:] == ['"datadoghq.com"', "default", "BATON_SITE"]
    assert CANARY not in done.stdout


# The shape of a ConductorOne client secret (`secret-token:conductorone.com:v1:<base64url JWK>`), as a canary.
SECRET_SHAPED = "secret-token:conductorone.com:v1:Y2FuYXJ5LWNsaWVudC1zZWNyZXQtN2Y2ZTVkNGM"


@pytest.mark.parametrize("setting", ["BATON_CLIENT_ID", "BATON_C1_API_HOST"])
@pytest.mark.parametrize("command", [["config"], ["config", "--json"], []])
def test_a_client_secret_in_a_setting_that_is_shown_is_refused_unprinted(setting: str, command: list[str]) -> None:
    """The client secret and the client id swapped (or the secret pasted into the API host): `config` printed the
    secret as the client id's value, and the daemon logged it in its `starting` line before the service refused the
    client id. A value that is no client id (no host) is now refused with the settings, before anything shows them."""
    env = {"BATON_CLIENT_ID": "connector@tenant.conductor.one/pcc", "BATON_CLIENT_SECRET": "connector@tenant/pcc"}
    # config in process; the run itself as the real command (accepted by mistake, it would configure logging).
    run = run_cli_in_process if command else run_cli
    done = run(*command, env={**env, setting: SECRET_SHAPED, "BATON_API_KEY": CANARY, "BATON_APP_KEY": CANARY})
    assert done.returncode == 2, done.stdout + done.stderr
    assert last_line(done.stderr).startswith(f"baton-datadog: setting --{setting[6:].lower().replace('_', '-')} ")
    assert SECRET_SHAPED not in done.stdout + done.stderr
    assert SECRET_SHAPED.rsplit(":", 1)[1] not in done.stdout + done.stderr


def test_an_unknown_baton_variable_is_warned_about_with_the_closest_setting() -> None:
    done = run_cli_in_process("config", env={**KEYS, "BATON_SYNC_SCHEDULE": "true", "BATON_TOTALLY_UNRELATED": "x"})
    assert done.returncode == 0
    assert "unknown environment variable BATON_SYNC_SCHEDULE; did you mean BATON_SYNC_SCHEDULES" in done.stderr
    assert "BATON_TOTALLY_UNRELATED (not a setting of this connector)" in done.stderr


def test_start_up_logs_one_line_with_version_and_effective_settings(tmp_path: Path) -> None:
    # The run then stops at once on --file (a directory); the start-up line comes first.
    done = run_cli(
        "--api-key",
        CANARY,
        "--app-key",
        "canary-app-key-99887766",
        "--base-url",
        "http://127.0.0.1:1",
        "--file",
        str(tmp_path),
        env={"BATON_SYNC_SCHEDULE": "true"},
    )
    assert done.returncode == 2
    records = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    warning = next(r for r in records if r["level"] == "warning")
    assert "did you mean BATON_SYNC_SCHEDULES" in warning["event"]
    starting = [r for r in records if r["event"] == "starting"]
    assert len(starting) == 1
    line = starting[0]
    assert line["version"] == package_version()
    assert line["site"] == "datadoghq.com"
    assert line["provisioning"] is False
    assert line["synced"]["resource_types"] == "all"
    assert line["concurrency"] == {"datadog": 8, "tasks": 3}
    assert line["health_address"] == "off"
    assert line["api_key"] == "[set, redacted]"
    assert CANARY not in done.stderr + done.stdout


def test_an_unexpected_error_is_one_line_and_the_traceback_only_at_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from connector import cli

    def explode(args: list[str]) -> int:
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(cli, "_dispatch", explode)
    monkeypatch.delenv("BATON_LOG_LEVEL", raising=False)
    assert cli.main(["--api-key", "x"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "baton-datadog: unexpected error: RuntimeError: the disk caught fire "
        "(run with --log-level debug for the traceback)"
    ]
    assert cli.main(["--log-level", "debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert err.splitlines()[-1] == "baton-datadog: unexpected error: RuntimeError: the disk caught fire"
    monkeypatch.setenv("BATON_LOG_LEVEL", "debug")
    assert cli.main([]) == 1
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.delenv("BATON_LOG_LEVEL")
    # Log levels ignore case wherever they are given (README), so the traceback's switch does too.
    for args in (["--log-level", "DEBUG"], ["--log-level=Debug"]):
        assert cli.main(args) == 1
        assert "Traceback" in capsys.readouterr().err, args


def test_a_debug_log_level_from_the_config_file_shows_the_traceback_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`log-level: debug` in the YAML file is the same setting as `--log-level debug` (README): the hint
    "run with --log-level debug for the traceback" was printed to a run already at debug, with no traceback."""
    from connector import cli

    def explode(args: list[str]) -> int:
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(cli, "_dispatch", explode)
    monkeypatch.delenv("BATON_LOG_LEVEL", raising=False)
    monkeypatch.delenv("BATON_CONFIG_PATH", raising=False)
    config = tmp_path / "baton.yaml"
    config.write_text("log-level: debug\n")
    assert cli.main(["--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert err.splitlines()[-1] == "baton-datadog: unexpected error: RuntimeError: the disk caught fire"
    monkeypatch.setenv("BATON_CONFIG_PATH", str(config))
    assert cli.main([]) == 1
    assert "Traceback" in capsys.readouterr().err
    # A flag still wins over the file, as for every setting.
    assert cli.main(["--log-level", "info"]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_inspect_of_a_file_that_is_not_a_c1z_is_one_line(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a c1z\n")
    done = run_cli("inspect", str(notes))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_file_system_failure_mid_run_names_the_path_and_cause(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A full disk or a directory taken away during the sync is a runtime failure (exit 1) naming the path, not
    an "unexpected error" (a bug report)."""
    import errno

    from connector.daemon import main

    async def full_disk(settings: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "sync.c1z"))

    monkeypatch.setattr(main, "_run", full_disk)
    # Logging stays as the test session set it up (configure would bind this test's captured, soon closed stderr).
    monkeypatch.setattr("connector.daemon.logging.configure", lambda *args, **kwargs: None)
    for name in ("BATON_LOG_LEVEL", "BATON_CLIENT_ID", "BATON_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main.run_connector(["--api-key", "k" * 12, "--app-key", "a" * 12, "--log-format", "json"]) == 1
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == f"baton-datadog: {tmp_path / 'sync.c1z'}: No space left on device"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_while_starting_is_an_orderly_stop(
    sig: signal.Signals, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the run installs its own handler (imports, settings, checks), SIGTERM used to kill the process
    silently (returncode -15); both signals end with one line and 128 + N, and the handler is put back."""
    from connector import cli

    before = signal.getsignal(signal.SIGTERM)

    def slow_start(args: list[str]) -> int:
        os.kill(os.getpid(), sig)
        # The handler runs when the sleep returns to Python: bounded by time, not by a count of loops a loaded host
        # can run through before the signal is handled.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.01)
        raise AssertionError("the signal did not stop the start-up")

    monkeypatch.setattr(cli, "_dispatch", slow_start)
    assert cli.main([]) == 128 + int(sig)
    assert capsys.readouterr().err.splitlines() == [
        f"baton-datadog: interrupted by {sig.name} while starting; nothing was written"
    ]
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "args",
    [
        ("config",),
        ("config", "--json"),
        ("capabilities",),
        ("inspect", str(DEMO_C1Z)),
        ("inspect", str(DEMO_C1Z), "--json"),
        # argparse prints these itself, through a writer that swallows OSError
        ("--help",),
        ("inspect", "--help"),
        ("--version",),
        ("help",),  # the command prints the same help, and returns rather than exits
        ("help", "inspect"),
    ],
    ids=[
        "config",
        "config-json",
        "capabilities",
        "inspect",
        "inspect-json",
        "help",
        "inspect-help",
        "version",
        "help-command",
        "help-command-inspect",
    ],
)
def test_output_that_cannot_be_written_is_named_not_an_unexpected_error(args: tuple[str, ...]) -> None:
    """`... > /dev/full` (a full disk under a redirect): the output failed, not the connector; one line, exit 1."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "connector", *args],
            env=clean_env(),
            cwd=ROOT,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["baton-datadog: cannot write the output: No space left on device"]


@pytest.mark.parametrize("args", [("--version",), ("config",), ("config", "--json"), ("help",), ("--help",)])
def test_output_to_a_closed_standard_output_is_named_not_a_traceback(args: tuple[str, ...]) -> None:
    """`baton-datadog --version >&-`: Python gives no sys.stdout then, and this was a raw traceback (`config`:
    "unexpected error: AttributeError"). Nothing can be written, which is what the line says; exit 1."""
    done = subprocess.run(
        ["sh", "-c", 'exec "$0" -m connector "$@" >&-', sys.executable, *args],
        env=clean_env(),
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["baton-datadog: cannot write the output: Bad file descriptor"]


def test_a_reader_that_stops_early_is_no_error() -> None:
    """`baton-datadog inspect f.c1z --grants | head -1`: the closed pipe ends the listing quietly, exit 0."""
    listing = subprocess.Popen(
        [sys.executable, "-m", "connector", "inspect", str(DEMO_C1Z), "--grants"],
        env=clean_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert listing.stdout is not None
    assert listing.stdout.readline()
    listing.stdout.close()
    _, err = listing.communicate(timeout=120)
    assert listing.returncode == 0
    assert err == b""


# -- every refused setting named at once ------------------------------------------------------------------------


def _closing_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("baton-datadog: ")]


def test_settings_refused_together_are_each_named_on_a_line_of_their_own() -> None:
    """Three bad values gave one line with `\\n` written out between them (the closing line made inert), so a
    script's `tail -1` or a log search read one run-on line."""
    done = run_cli_in_process(
        "config",
        "--site",
        "bogus",
        env={"BATON_HTTP_TIMEOUT_SECONDS": "abc", "BATON_DATADOG_CONCURRENCY": "0"},
    )
    assert done.returncode == 2
    lines = _closing_lines(done.stderr)
    assert [line.split(":")[1].strip() for line in lines] == [
        "setting --site (BATON_SITE)",
        "setting --http-timeout-seconds (BATON_HTTP_TIMEOUT_SECONDS)",
        "setting --datadog-concurrency (BATON_DATADOG_CONCURRENCY)",
    ]
    assert "\\n" not in done.stderr
    assert done.stdout == ""


def test_a_settings_file_names_every_setting_it_refuses_and_those_of_the_environment_too(tmp_path: Path) -> None:
    """The file's check stopped at its first unknown key: each fix was a run (in a cluster a crash-loop back-off)
    to find the next, and a bad variable beside it was named only once the file was right."""
    config = tmp_path / "c.yaml"
    config.write_text("sitee: datadoghq.eu\nhttp-timeout-seconds: true\nBATON_API_KEY: x\nlog-level: info\n")
    done = run_cli_in_process("config", "--config", str(config), env={"BATON_DATADOG_CONCURRENCY": "0"})
    assert done.returncode == 2
    lines = _closing_lines(done.stderr)
    assert len(lines) == 4, done.stderr
    assert "unknown setting 'sitee'" in lines[0]
    assert "http-timeout-seconds is true/false (a YAML boolean), not a number" in lines[1]
    assert "'BATON_API_KEY' is the environment variable's name" in lines[2]
    assert lines[3].startswith("baton-datadog: setting --datadog-concurrency (BATON_DATADOG_CONCURRENCY)")


def test_every_resource_type_refused_is_named(tmp_path: Path) -> None:
    done = run_cli_in_process(
        "--api-key",
        "a" * 32,
        "--app-key",
        "b" * 40,
        "--sync-resource-types",
        "nope,user,keys",
        "--sync-resources",
        "team:t1",
        cwd=tmp_path,
    )
    assert done.returncode == 2
    lines = _closing_lines(done.stderr)
    assert len(lines) == 3, done.stderr
    assert "'nope' is not a resource type" in lines[0]
    assert "'keys' is not a resource type" in lines[1]
    assert "'team:t1' is a 'team', which --sync-resource-types (BATON_SYNC_RESOURCE_TYPES) leaves out" in lines[2]
    assert list(tmp_path.iterdir()) == [], "nothing synced"


def _bash_completes(script: str, *words: str) -> list[str]:
    """What real bash offers for the command line `words` (the last one being completed) with `script` loaded."""
    line = " ".join(f"'{w}'" for w in words)
    program = f'{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _baton_datadog; printf "%s\\n" "${{COMPREPLY[@]}}"'
    done = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return [word for word in done.stdout.splitlines() if word]


def test_completion_gives_each_shell_a_script_of_the_commands_and_listed_flags() -> None:
    """cobra's `completion` command, which every baton-sdk connector has: it was "unknown command"."""
    done = run_cli_in_process("completion", "bash")
    assert (done.returncode, done.stderr) == (0, "")
    bash = done.stdout
    assert _bash_completes(bash, "baton-datadog", "--ap") == ["--api-key", "--app-key"]
    assert _bash_completes(bash, "baton-datadog", "--delete-resource") == [
        "--delete-resource",
        "--delete-resource-type",
    ]
    assert _bash_completes(bash, "baton-datadog", "co") == ["config", "completion"]
    assert _bash_completes(bash, "baton-datadog", "--base") == [], "a hidden flag is not offered, as in cobra"
    assert _bash_completes(bash, "baton-datadog", "inspect", "sy") == [], "a file name: bash's default completion"

    zsh = run_cli_in_process("completion", "zsh")
    assert zsh.returncode == 0
    assert zsh.stdout.startswith("#compdef baton-datadog\n")
    assert "bashcompinit" in zsh.stdout
    assert zsh.stdout.endswith(bash.split("\n", 1)[1]), "zsh runs the bash script"

    fish = run_cli_in_process("completion", "fish")
    assert fish.returncode == 0
    settings_flag = "complete -c baton-datadog -n 'not __baton_datadog_command_in inspect completion help' -l"
    assert f"{settings_flag} api-key -d 'Datadog API key (DD-API-KEY)'\n" in fish.stdout
    assert "-l no-sync-secrets -d 'off: sync organization API keys (never their values)'\n" in fish.stdout
    assert "-d 'show program\\'s version number and exit'" in fish.stdout
    assert "base-url" not in fish.stdout

    assert run_cli_in_process("help", "completion").stdout.startswith("usage: baton-datadog completion SHELL")


def test_completion_offers_what_the_command_on_the_line_takes() -> None:
    """The settings' flags were offered after `inspect --`, which refuses every one of them (it reads a file and has
    flags of its own), and file names after `completion` and `help`, which take a shell and a command."""
    bash = run_cli_in_process("completion", "bash").stdout
    assert _bash_completes(bash, "baton-datadog", "inspect", "--j") == ["--json"]
    assert _bash_completes(bash, "baton-datadog", "inspect", "--ap") == [], "inspect takes no key"
    assert _bash_completes(bash, "baton-datadog", "-f", "x.c1z", "inspect", "--g") == ["--grants"]
    assert _bash_completes(bash, "baton-datadog", "config", "--j") == ["--json"]
    assert _bash_completes(bash, "baton-datadog", "config", "--ap") == ["--api-key", "--app-key"]
    assert _bash_completes(bash, "baton-datadog", "--j") == [], "--json is config's alone"
    assert _bash_completes(bash, "baton-datadog", "completion", "") == ["bash", "zsh", "fish"]
    assert _bash_completes(bash, "baton-datadog", "help", "c") == ["capabilities", "config", "completion"]
    assert _bash_completes(bash, "baton-datadog", "completion", "bash", "") == [], "one shell: then file names"
    assert _bash_completes(bash, "baton-datadog", "--", "--sy") == [], "after --, no word is a flag: file names"
    assert _bash_completes(bash, "baton-datadog", "--", "co") == []


def test_completion_finds_the_command_after_leading_flags_and_never_in_a_flags_value() -> None:
    """Flags may stand before the command (`baton-datadog --config x.yaml config`), and a flag's value is never the
    command (`--file config` names a file). The commands were offered only as the first word, and a value that
    spelt one was taken for it: after `--file inspect`, inspect's flags alone, though the run is a sync."""
    bash = run_cli_in_process("completion", "bash").stdout
    assert _bash_completes(bash, "baton-datadog", "--config", "x.yaml", "co") == ["config", "completion"]
    assert _bash_completes(bash, "baton-datadog", "--provisioning", "i") == ["inspect"]
    assert _bash_completes(bash, "baton-datadog", "--log-level", "debug", "--config", "x.yaml", "config", "--j") == [
        "--json"
    ]
    assert _bash_completes(bash, "baton-datadog", "--config", "co") == [], "the value of --config: a file name"
    assert _bash_completes(bash, "baton-datadog", "--file", "=", "co") == [], "--file=… as bash splits it"
    assert _bash_completes(bash, "baton-datadog", "--file", "inspect", "--ap") == ["--api-key", "--app-key"]
    assert _bash_completes(bash, "baton-datadog", "-f", "config", "--j") == [], "--json is config's alone"


def test_completion_offers_short_flags_beside_long_ones() -> None:
    """cobra offers `-p` beside `--provisioning` (and `-h`, `-v`, `-f`); only the long flags were offered."""
    bash = run_cli_in_process("completion", "bash").stdout
    assert {"-h", "-v", "-p", "-f", "--provisioning"} <= set(_bash_completes(bash, "baton-datadog", "-"))
    assert _bash_completes(bash, "baton-datadog", "-p") == ["-p"]
    assert set(_bash_completes(bash, "baton-datadog", "inspect", "-")) >= {"-f", "-o", "--json"}
    assert _bash_completes(bash, "baton-datadog", "inspect", "-p") == [], "inspect takes no -p"
    assert _bash_completes(bash, "baton-datadog", "completion", "-") == ["--help", "-h"]
    assert _bash_completes(bash, "baton-datadog", "-f", "x.c1z", "--j") == [], "-f's value is no command"


def test_fish_completion_offers_short_flags_beside_long_ones(tmp_path: Path) -> None:
    offered = _fish_offered(tmp_path)
    assert {"-h", "-v", "-p", "-f"} <= set(offered("baton-datadog -"))
    assert {"-f", "-o"} <= set(offered("baton-datadog inspect -"))
    assert "-p" not in offered("baton-datadog inspect -")


def test_fish_completion_finds_the_command_after_leading_flags(tmp_path: Path) -> None:
    offered = _fish_offered(tmp_path)
    assert sorted(offered("baton-datadog --config x.yaml co")) == ["completion", "config"]
    assert offered("baton-datadog --log-level debug config --j") == ["--json"]
    assert "--api-key" in offered("baton-datadog --file inspect --ap"), "a sync: --file's value is no command"
    assert offered("baton-datadog --file config --j") == []


# Drives an interactive zsh on a pseudo-terminal: a widget completes the line once, then writes the buffer to a file
# ($3), so nothing depends on when the terminal shows what.
_ZSH_ONE_TAB = r"""
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "fpath=($1 \$fpath); autoload -U compinit; compinit -u -d $1/.zcompdump"
zpty -w z "probe() { zle complete-word; print -r -- \"\$BUFFER\" > $3; }; zle -N probe; bindkey '^T' probe"
zpty -wn z "$2"$'\x14'
for i in {1..600}; do [[ -s $3 ]] && break; sleep 0.1; done
zpty -d z
"""


def _shell(name: str) -> str:
    """The shell's path; a missing one skips the test, but fails it in CI, where .ci/run installs it."""
    return need_program(name, name)


def _fish_offered(tmp_path: Path) -> Callable[[str], list[str]]:
    """What fish offers for a line, with the completion script installed."""
    fish = _shell("fish")
    script = tmp_path / "baton-datadog.fish"
    script.write_text(run_cli_in_process("completion", "fish").stdout)

    def offered(line: str) -> list[str]:
        program = f"source {script}; complete -C '{line}'"
        done = subprocess.run([fish, "--no-config", "-c", program], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return [entry.split("\t")[0] for entry in done.stdout.splitlines()]

    return offered


def test_zsh_completion_installed_in_fpath_completes_the_first_tab(tmp_path: Path) -> None:
    """Installed as `help completion` says (`_baton-datadog` in $fpath), the file is zsh's completion function: the
    first TAB only defined and registered the bash function inside it, and completed nothing (the second did)."""
    functions = tmp_path / "functions"
    functions.mkdir()
    (functions / "_baton-datadog").write_text(run_cli_in_process("completion", "zsh").stdout)
    line = tmp_path / "line"
    driver = [_shell("zsh"), "-f", "-c", _ZSH_ONE_TAB, "zsh", str(functions), "baton-datadog --sync-secr", str(line)]
    subprocess.run(driver, env=clean_env(), capture_output=True, timeout=120, check=False)
    assert line.read_text().rstrip() == "baton-datadog --sync-secrets"


def test_fish_completion_offers_what_the_command_on_the_line_takes(tmp_path: Path) -> None:
    offered = _fish_offered(tmp_path)
    assert offered("baton-datadog --ap") == ["--api-key", "--app-key"]
    assert offered("baton-datadog inspect --j") == ["--json"]
    assert offered("baton-datadog inspect --ap") == []
    assert offered("baton-datadog config --j") == ["--json"]
    assert offered("baton-datadog config --ap") == ["--api-key", "--app-key"]
    assert sorted(offered("baton-datadog completion ")) == ["bash", "fish", "zsh"]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("completion",), "baton-datadog: completion: give one shell: one of bash, zsh, fish"),
        (
            ("completion", "powershell"),
            "baton-datadog: completion: give one shell: not 'powershell'; one of bash, zsh, fish",
        ),
        (("completion", CANARY), "baton-datadog: completion: give one shell: one of bash, zsh, fish"),
        (("completion", "bash", "zsh"), "baton-datadog: completion: give one shell: one of bash, zsh, fish"),
    ],
)
def test_completion_without_one_known_shell_is_one_line_and_exit_2(args: tuple[str, ...], line: str) -> None:
    done = run_cli_in_process(*args)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", line + "\n")


def test_dash_v_is_the_version_as_in_cobra() -> None:
    done = run_cli("-v")
    assert (done.returncode, done.stdout.strip()) == (0, f"baton-datadog {package_version()}")


@pytest.mark.parametrize("as_json", [False, True])
def test_config_does_not_print_a_key_pasted_where_an_id_goes(as_json: bool) -> None:
    """A run refuses `--sync-resources role:<key>` (and the one-shot ids) unsent and unshown, but `config` printed
    the key back in its table. A UUID id is still shown."""
    key = "0123456789abcdef0123456789abcdef"
    sha_shaped = "0123456789abcdef0123456789abcdef01234567"
    uuid = "550e8400-e29b-41d4-a716-446655440000"
    args = [
        "config",
        "-p",
        f"--sync-resources=role:{key},team:{uuid}",
        f"--grant-entitlement=role:{uuid}:member",
        f"--grant-principal={sha_shaped}",
        *(["--json"] if as_json else []),
    ]
    done = run_cli_in_process(*args)
    # The run refuses the key given as the principal (and the missing keys): said as its refusals are, unshown too.
    assert done.returncode == 2, done.stderr
    assert "setting --grant-principal (BATON_GRANT_PRINCIPAL): the value has the shape of" in done.stdout + done.stderr
    assert key not in done.stdout + done.stderr
    assert sha_shaped not in done.stdout + done.stderr
    assert f"team:{uuid}" in done.stdout
    assert f"role:{uuid}:member" in done.stdout
    assert done.stdout.count("[holds a Datadog key's shape; not shown]") == 2
