"""Flags and variables read as baton-sdk (cobra/pflag, viper) reads them, where a baton user's habit differed."""

from __future__ import annotations

import json
import os

import pytest

from connector.daemon.settings import ENV_PREFIX, first_positional, load, load_effective
from tests.daemon.cli import KEYS, run_cli_in_process


@pytest.fixture(autouse=True)
def no_baton_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("argv", "at"),
    [
        (["-pf", "x.c1z"], None),  # pflag: -p, then -f takes the next argument
        (["-pf", "x.c1z", "config"], 2),
        (["-pfx.c1z", "config"], 1),  # the value inside the argument
        (["-p", "config"], 1),
    ],
)
def test_combined_short_flags_end_with_the_one_that_takes_the_next_argument(argv: list[str], at: int | None) -> None:
    assert first_positional(argv) == at


@pytest.mark.parametrize("args", [("-pf", "x.c1z", "config"), ("-pfx.c1z", "config"), ("config", "-pf", "x.c1z")])
def test_combined_short_flags_before_the_command_are_read_as_pflag_reads_them(args: tuple[str, ...]) -> None:
    # `-pf x.c1z config` was "unknown flag -pf": x.c1z was taken for a command, not for -f's value.
    done = run_cli_in_process(*args, "--json", env=KEYS)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["settings"]
    assert (rows["provisioning"]["value"], rows["file"]["value"]) == (True, "x.c1z")


def test_only_upper_case_variables_are_read_as_viper_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # viper's AutomaticEnv looks up BATON_SITE only. Read case-free, `baton_site` beside it won, and an error then
    # named BATON_SITE for a value BATON_SITE did not hold.
    monkeypatch.setenv("BATON_SITE", "us3.datadoghq.com")
    monkeypatch.setenv("baton_site", "datadoghq.eu")
    monkeypatch.setenv("Baton_Provisioning", "true")
    effective = load_effective([])
    assert effective.settings.site == "us3.datadoghq.com"
    assert effective.settings.provisioning is False
    assert effective.sources["provisioning"] == "default"
    assert (
        "environment variable baton_site is not read: the names are upper-case, as in baton-sdk (BATON_SITE)"
        in effective.warnings
    )
    assert any("Baton_Provisioning is not read" in warning for warning in effective.warnings)


def test_a_lower_case_variable_alone_is_not_read_and_not_reported_as_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("baton_site", "nowhere")  # read, it would be refused as no Datadog site
    effective = load_effective([])
    assert effective.settings.site == "datadoghq.com"
    assert not any("unknown environment variable" in warning for warning in effective.warnings)


@pytest.mark.parametrize("value", ['[" user", "team "]', " user, team ", '["user", " ", "team"]'])
def test_a_list_setting_reads_the_same_in_its_json_and_comma_forms(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    # The comma form was stripped and the JSON form (which the Helm chart renders) was not: `[" user"]` was refused
    # as no resource type.
    monkeypatch.setenv("BATON_SYNC_RESOURCE_TYPES", value)
    assert load([]).sync_resource_types == ["user", "team"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("-pCANARY-5d7e1f0a", "config"), "-p"),
        (("--no-sync-secrets=CANARY-5d7e1f0a", "config"), "--no-sync-secrets"),
        (("config", "--json=CANARY-5d7e1f0a"), "--json"),
        (("--version=CANARY-5d7e1f0a",), "--version"),
        (("inspect", "--grants=CANARY-5d7e1f0a"), "--grants"),
    ],
)
def test_a_value_given_to_a_switch_is_refused_without_being_shown(args: tuple[str, ...], named: str) -> None:
    # argparse's own refusal ("ignored explicit argument '…'") quoted the value back, and it may be a key.
    done = run_cli_in_process(*args)
    assert done.returncode == 2
    assert named in done.stderr
    assert "takes no value" in done.stderr
    assert "CANARY" not in done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [("inspect", "--fi=x.c1z"), ("inspect", "--entit"), ("inspect", "--out", "json")])
def test_inspect_takes_no_abbreviated_flag_as_pflag_and_the_settings_take_none(args: tuple[str, ...]) -> None:
    # argparse's default read `--fi=x.c1z` as --file: a baton user's typo became another reading, unlike everywhere
    # else in this CLI.
    done = run_cli_in_process(*args)
    assert done.returncode == 2
    assert f"unknown flag {args[1].partition('=')[0]}" in done.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("config", "--", "--site"), "1 unexpected argument(s)"),
        (("capabilities", "--", "--api-key=CANARY-5d7e1f0a"), "1 unexpected argument(s)"),
        (("config", "--bogus", "--", "--x"), "unknown flag --bogus and 1 other argument(s)"),
    ],
)
def test_what_follows_the_end_of_flags_is_counted_as_arguments_not_named_a_flag(
    args: tuple[str, ...], says: str
) -> None:
    # `--` ends the flags (pflag, argparse): it was itself refused as "an unknown flag" that was not shown.
    done = run_cli_in_process(*args)
    assert done.returncode == 2
    assert says in done.stderr
    assert "does not look like a flag name" not in done.stderr
    assert "CANARY" not in done.stderr


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--sync-resource-types", '["user"]', "--sync-resource-types", "team"], ["user", "team"]),
        (["--sync-resource-types", "team", "--sync-resource-types", '[" user"]'], ["team", "user"]),
        (["--sync-resource-types", "", "--sync-resource-types", "user"], ["user"]),
        (
            ["--sync-resources", "role:r1", "--sync-resources", '["team:t1", "team:t2"]'],
            ["role:r1", "team:t1", "team:t2"],
        ),
    ],
)
def test_a_repeated_list_flag_reads_each_value_in_either_form(argv: list[str], expected: list[str]) -> None:
    # The values were joined with commas before being read: a JSON one among them was refused, or (not first) kept
    # whole as one entry `["user"]`.
    settings = load(argv)
    got = settings.sync_resources if argv[0] == "--sync-resources" else settings.sync_resource_types
    assert got == expected


@pytest.mark.parametrize("argv", [["-pf=x.c1z"], ["-pf", "x.c1z"], ["-pfx.c1z"], ["-p", "-f=x.c1z"]])
def test_combined_short_flags_give_the_last_its_value_in_every_form_pflag_takes(argv: list[str]) -> None:
    # `-pf=x.c1z` wrote the sync to a file named `=x.c1z`; pflag reads the value after the `=`.
    settings = load(argv)
    assert settings.provisioning is True
    assert str(settings.file) == "x.c1z"
