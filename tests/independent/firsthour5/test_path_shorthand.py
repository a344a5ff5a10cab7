"""A path given with a shell's shorthand that no shell expanded: `~/…`, `~user/…`, `$VAR/…`, or `-`.

A shell expands `~` and `$HOME` only in an unquoted word: `export BATON_FILE="~/sync.c1z"`, an env file
(`docker run --env-file`, systemd's `EnvironmentFile`), a Secret, the settings file and a Helm value hand them to
the connector as typed. Each path setting then said "~/ca.pem does not exist" (or "no such file", or "the directory
~ does not exist") of a file the user could see in their home; and `--file -`, meant as standard output, wrote the
sync to a file named `-` (exit 0), where `inspect -` then said "no such file". Each is refused before any request,
one line naming the setting or variable, what was not expanded and the full path meant (a variable's value is never
shown: it may be a secret). A name that is really there (a directory named `~`) is used as it is.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from connector.baton.pathnames import shell_shorthand
from connector.baton.sync.to_file import output_file_problem
from tests.daemon.cli import run_cli_in_process
from tests.independent.firsthour.conftest import KEYS, SECRET, assert_quiet

# A closed port on loopback: whatever the run did, nothing would leave the machine.
NOWHERE = {"BATON_BASE_URL": "http://127.0.0.1:9"}
NOT_EXPANDED = "is not expanded here: only a shell expands it"
NOT_STDIO = "`-` is no standard input or output here but a name"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """$HOME, holding the files the user meant (so "does not exist" was plainly wrong), and an empty working dir."""
    (tmp_path / "home").mkdir()
    (tmp_path / "work").mkdir()
    for name in ("ca.pem", "settings.yaml"):
        (tmp_path / "home" / name).write_text("")
    (tmp_path / "home" / "tmp").mkdir()
    return tmp_path / "home"


# (argv before the value, the variable instead of a flag, the command, what the line names)
WHERE = {
    "--file": (["--file"], None, [], "setting --file (BATON_FILE)"),
    "BATON_FILE": ([], "BATON_FILE", [], "setting --file (BATON_FILE)"),
    "--ca-bundle": (["--ca-bundle"], None, [], "setting --ca-bundle (BATON_CA_BUNDLE)"),
    "--c1z-temp-dir": (["--c1z-temp-dir"], None, [], "setting --c1z-temp-dir (BATON_C1Z_TEMP_DIR)"),
    "--config": (["--config"], None, ["config"], "setting --config (BATON_CONFIG_PATH)"),
    "BATON_CONFIG_PATH": ([], "BATON_CONFIG_PATH", ["config"], "setting --config (BATON_CONFIG_PATH)"),
    "SSL_CERT_FILE": ([], "SSL_CERT_FILE", [], "environment SSL_CERT_FILE"),
    "SSL_CERT_DIR": ([], "SSL_CERT_DIR", [], "environment SSL_CERT_DIR"),
    "inspect FILE": (["inspect"], None, [], "inspect"),
    "inspect BATON_FILE": ([], "BATON_FILE", ["inspect"], "inspect"),
    "inspect BATON_C1Z_TEMP_DIR": ([], "BATON_C1Z_TEMP_DIR", ["inspect", "x.c1z"], "inspect: environment"),
}
MEANT = {
    "--ca-bundle": "ca.pem",
    "SSL_CERT_FILE": "ca.pem",
    "--config": "settings.yaml",
    "BATON_CONFIG_PATH": "settings.yaml",
    "SSL_CERT_DIR": "tmp",
    "--c1z-temp-dir": "tmp",
    "inspect BATON_C1Z_TEMP_DIR": "tmp",
}


def _run(where: str, value: str, home: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    before, variable, command, _ = WHERE[where]
    argv = [*command, *before, value] if before or not variable else list(command)
    given = {**KEYS, **NOWHERE, "HOME": str(home), **(env or {}), **({variable: value} if variable else {})}
    done = run_cli_in_process(*argv, env=given, cwd=home.parent / "work")
    assert_quiet(done.stdout, done.stderr)
    return done.returncode, done.stderr


def _refusals(err: str) -> list[str]:
    """The run's lines for the user (a run logs its `starting` line as JSON before it)."""
    return [line for line in err.splitlines() if not line.startswith("{")]


@pytest.mark.parametrize("where", list(WHERE))
def test_a_tilde_no_shell_expanded_is_named_with_the_full_path_meant(where: str, home: Path) -> None:
    meant = MEANT.get(where, "sync.c1z")
    code, err = _run(where, f"~/{meant}", home)
    assert code == 2, err
    (line,) = _refusals(err)
    assert line.startswith(f"baton-datadog: {WHERE[where][3]}"), line
    assert f"~/{meant}: ~ {NOT_EXPANDED}" in line, line
    assert line.endswith(f"give the full path ({home / meant})"), line
    assert "does not exist" not in line
    assert "no such file" not in line


@pytest.mark.parametrize("where", ["--file", "--ca-bundle", "--config", "inspect FILE", "SSL_CERT_FILE"])
def test_a_variable_no_shell_expanded_is_named_and_its_value_never_shown(where: str, home: Path) -> None:
    # `$SECRET_HOLDER` holds a secret here: the line names the variable as typed, never what it holds.
    code, err = _run(where, "$SECRET_HOLDER/x", home, env={"SECRET_HOLDER": SECRET})
    assert code == 2, err
    (line,) = _refusals(err)
    assert f"$SECRET_HOLDER/x: $SECRET_HOLDER {NOT_EXPANDED}" in line, line
    assert line.endswith("give the full path"), line


@pytest.mark.parametrize("where", ["--file", "--ca-bundle", "--config", "inspect FILE", "--c1z-temp-dir"])
def test_a_dash_is_no_standard_stream_and_no_file_named_dash_is_written(where: str, home: Path) -> None:
    code, err = _run(where, "-", home)
    assert code == 2, err
    (line,) = _refusals(err)
    assert line.startswith(f"baton-datadog: {WHERE[where][3]}"), line
    assert f"-: {NOT_STDIO}" in line, line
    assert not (home.parent / "work" / "-").exists(), "the sync went to a file named '-'"


def test_a_directory_really_named_tilde_is_used_as_named(tmp_path: Path) -> None:
    # The name as written is there: nothing to refuse (shell_shorthand looks in the working directory).
    (tmp_path / "~").mkdir()
    (tmp_path / "-").write_text("")
    with contextlib.chdir(tmp_path):
        assert shell_shorthand(Path("~/sync.c1z")) is None
        assert shell_shorthand(Path("-")) is None
        assert output_file_problem(Path("~/sync.c1z"), None) is None
    assert shell_shorthand(Path("a~/x")) is None
    assert shell_shorthand(Path("x/-")) is None
