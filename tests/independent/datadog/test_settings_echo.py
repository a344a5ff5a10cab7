"""A refused `--site` (or health bind address) is named without repeating what may be a secret or a screenful: a URL
pasted with its password, a key in a query string, a value of any length. `--base-url` already never repeats its
value; the site's refusal quoted whatever held a dot, in full, before any key was known to the log redactor."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.datadog.keyshape import shown_value
from tests.daemon.cli import last_line, run_cli_in_process
from tests.independent.datadog.peer import API_KEY, APP_KEY

KEYS = {"BATON_API_KEY": API_KEY, "BATON_APP_KEY": APP_KEY}
PASSWORD = "attack303canarypw"
HEX = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("site", "meant"),
    [
        (f"https://admin:{PASSWORD}@api.datadoghq.eu/", "datadoghq.eu"),
        (f"admin:{PASSWORD}@us3.datadoghq.com", "us3.datadoghq.com"),
        (f"api.datadoghq.eu?api_key={HEX}", "datadoghq.eu"),
        (f"{HEX}.datadoghq.com", None),
    ],
    ids=["url-password", "bare-password", "key-in-query", "key-as-label"],
)
def test_a_refused_site_never_repeats_a_password_or_a_key_and_still_names_the_site_it_means(
    site: str, meant: str | None
) -> None:
    result = run_cli_in_process("config", env={**KEYS, "BATON_SITE": site})
    assert result.returncode == 2
    line = last_line(result.stderr)
    assert "--site (BATON_SITE)" in line, line
    assert "(not shown" in line, line
    for secret in (PASSWORD, HEX, API_KEY, APP_KEY):
        assert secret not in result.stderr + result.stdout
    if meant is not None:
        assert f"did you mean {meant}?" in line, line


@pytest.mark.parametrize(
    ("setting", "value"),
    [("BATON_SITE", "a." * 60_000), ("BATON_HEALTH_CHECK_BIND_ADDRESS", "x_" * 50_000)],
    ids=["site", "bind-address"],
)
def test_a_refused_value_of_any_length_is_quoted_by_its_first_characters(setting: str, value: str) -> None:
    result = run_cli_in_process("config", env={**KEYS, setting: value})
    assert result.returncode == 2
    line = last_line(result.stderr)
    assert len(line) < 1_000, line[:300]
    assert f"...({len(value)} characters)" in line, line


def test_a_short_value_is_quoted_as_it_was_given() -> None:
    assert shown_value("datadoghq.con") == "'datadoghq.con'"
    result = run_cli_in_process("config", env={**KEYS, "BATON_SITE": "datadoghq.con"})
    assert "unknown Datadog site 'datadoghq.con'" in result.stderr, result.stderr
    assert "did you mean datadoghq.com?" in result.stderr


@pytest.mark.parametrize(
    ("args", "setting"),
    [
        (("--grant-entitlement", "y" * 100_000, "--grant-principal", "u-1"), "--grant-entitlement"),
        (("--grant-entitlement", "a:b:c:d:" + "y" * 100_000, "--grant-principal", "u-1"), "--grant-entitlement"),
        (("--revoke-grant", "y" * 100_000), "--revoke-grant"),
        (("--sync-resource-types", "y" * 100_000), "--sync-resource-types"),
        (("--grant-entitlement", "role:r:member", "--grant-principal", "user:" + "y" * 100_000), "--grant-principal"),
        (("--sync-resources", "role:" + "y" * 100_000, "--sync-resource-types", "user"), "--sync-resources"),
        (("--sync-resources", "user:" + "y" * 100_000, "--sync-resource-types", "role"), "--sync-resources"),
        (("--file", "d" * 100_000 + "/"), "--file"),
        (("--ca-bundle", "d" * 100_000 + "/"), "--ca-bundle"),
    ],
    ids=[
        "entitlement",
        "grant-as-entitlement",
        "grant",
        "resource-type",
        "principal",
        "target-left-out",
        "target-left-out-of-types",
        "file",
        "ca-bundle",
    ],
)
def test_a_refused_one_shot_id_of_any_length_is_quoted_by_its_first_characters(
    args: tuple[str, ...], setting: str
) -> None:
    """The siblings of the site's refusal: each quoted the whole value on one line (100 KB here; a path ending in '/'
    twice). Every refusal quotes a value one way (`quoted_id`): its first characters, then how many it has."""
    env = {**KEYS, "BATON_BASE_URL": "http://127.0.0.1:1", "BATON_PROVISIONING": "true"}
    result = run_cli_in_process(*args, env=env)
    assert result.returncode == 2, result.stderr[-500:]
    line = last_line(result.stderr)
    assert setting in line, line[:300]
    assert len(line) < 1_000, line[:300]
    assert "...(1000" in line, line[:300]


@pytest.mark.parametrize(
    "address", [f"http://admin:{PASSWORD}@0.0.0.0", f"admin:{PASSWORD}@127.0.0.1", f"{PASSWORD}@::"]
)
def test_a_refused_bind_address_never_repeats_a_password(address: str) -> None:
    """A bind address never holds an '@': one that does is a URL pasted with its password, refused unquoted."""
    result = run_cli_in_process("config", env={**KEYS, "BATON_HEALTH_CHECK_BIND_ADDRESS": address})
    assert result.returncode == 2
    assert "--health-check-bind-address" in last_line(result.stderr)
    assert PASSWORD not in result.stderr + result.stdout


def test_an_email_address_in_an_id_is_still_shown() -> None:
    env = {**KEYS, "BATON_BASE_URL": "http://127.0.0.1:1", "BATON_PROVISIONING": "true"}
    result = run_cli_in_process("--grant-entitlement", "role:jane@example.com", "--grant-principal", "u-1", env=env)
    assert "'role:jane@example.com' is not an entitlement id" in result.stderr, result.stderr


@pytest.mark.parametrize(
    "no_proxy",
    [
        f"localhost,http://user:{PASSWORD}@proxy.corp:31 28",
        f"user:{PASSWORD}@proxy.corp:3128 x",
        f"http://user:{PASSWORD[:9]},{PASSWORD[9:]}@proxy.corp:3128",
    ],
    ids=["entry", "bare", "comma-in-the-password"],
)
def test_a_refused_no_proxy_entry_never_repeats_a_password(no_proxy: str) -> None:
    """The variable is split at its commas before an entry is judged: a password holding one was cut in two, and the
    half before it, with no '@', was quoted. The '@' is looked for in the whole variable."""
    from connector.baton.netenv import _no_proxy_problem

    problem = _no_proxy_problem("NO_PROXY", no_proxy)
    assert problem is not None
    assert "NO_PROXY" in problem
    assert PASSWORD[:9] not in problem


def test_a_config_files_unknown_key_of_a_keys_shape_is_not_repeated(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"{HEX}: true\n")
    result = run_cli_in_process("config", "--config", str(config), env=KEYS)
    assert result.returncode == 2
    assert "unknown setting" in result.stderr, result.stderr
    assert HEX not in result.stderr + result.stdout
