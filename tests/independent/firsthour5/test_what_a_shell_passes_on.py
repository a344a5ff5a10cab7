"""A second look at this suite's paths, quotes and flags (review r1106): what a shell hands over as typed is a name.

- bash leaves `~old.c1z` as typed when no user `old.c1z` exists, and `'$backup.c1z'` is quoted to get a `$`: both
  are file names (Go's connector writes them), and both were refused as "not expanded here". `~user` is named only
  when the user exists, `$NAME` only when NAME is set in the process's environment; a variable's value never shown.
- `help --log-level debug -x` said "unknown flag --log-level; did you mean --log-level?", and `help -zq` (two short
  flags, neither known) printed the help, exit 0.
- Quotes an env file kept were named for every setting but `inspect`'s BATON_FILE and BATON_C1Z_TEMP_DIR and the TLS
  and proxy variables (`"/data/x.c1z": no such file`); a proxy's value is never shown (it may hold a password).
- A settings file's `\\ud800` escape (a lone surrogate, no bytes stand for it) in any path setting ended the run as
  "unexpected error: UnicodeEncodeError", exit 1.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

from connector.baton.netenv import environment_problems
from connector.baton.pathnames import lookup_problem, shell_shorthand
from tests.daemon.cli import run_cli_in_process
from tests.independent.firsthour.conftest import KEYS, SECRET, assert_quiet

NOBODY = "no_such_user_r1106"
NOWHERE = {"BATON_BASE_URL": "http://127.0.0.1:9"}  # a closed port on loopback: nothing leaves the machine
QUOTES = "is wrapped in quotes, which would be read as part of it"


def test_a_tilde_word_bash_leaves_as_typed_is_a_name(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        pwd.getpwnam(f"{NOBODY}.c1z")
    if (bash := shutil.which("bash")) is not None:  # what a shell hands the connector
        typed = subprocess.run([bash, "-c", f"echo ~{NOBODY}.c1z"], capture_output=True, text=True, check=True)
        assert typed.stdout.strip() == f"~{NOBODY}.c1z"
    assert shell_shorthand(tmp_path / "work" / f"~{NOBODY}.c1z") is None  # not at the start: never shorthand
    assert shell_shorthand(Path(f"~{NOBODY}.c1z")) is None
    assert shell_shorthand(Path(f"~{NOBODY}/sync.c1z")) is None


def test_a_tilde_word_of_a_user_that_exists_is_refused_naming_the_path_meant() -> None:
    user = pwd.getpwuid(os.getuid())
    problem = shell_shorthand(Path(f"~{user.pw_name}/sync.c1z"))
    assert problem is not None
    assert problem.startswith(f"~{user.pw_name} is not expanded here"), problem
    assert problem.endswith(f"give the full path ({user.pw_dir.rstrip('/')}/sync.c1z)"), problem


@pytest.mark.parametrize("name", ["$backup.c1z", "${backup}.c1z", "$1.c1z", "$$.c1z", "$/x.c1z"])
def test_a_dollar_no_variable_of_the_environment_stands_for_is_a_name(name: str) -> None:
    assert shell_shorthand(Path(name), {"HOME": "/home/op"}) is None


@pytest.mark.parametrize("name", ["$HOLDER/x.c1z", "${HOLDER}/x.c1z", "$HOLDER"])
def test_a_variable_set_in_the_environment_is_refused_and_never_shown(name: str) -> None:
    problem = shell_shorthand(Path(name), {"HOLDER": SECRET})
    assert problem is not None
    assert problem.startswith(f"{name.split('/')[0]} is not expanded here"), problem
    assert problem.endswith("give the full path"), problem
    assert SECRET not in problem


def test_the_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("R1106_HOLDER", SECRET)
    assert shell_shorthand(Path("$R1106_HOLDER/x.c1z")) is not None
    monkeypatch.delenv("R1106_HOLDER")
    assert shell_shorthand(Path("$R1106_HOLDER/x.c1z")) is None


def test_a_file_named_with_a_dollar_is_read_at_inspect(tmp_path: Path) -> None:
    # The file does not exist: what matters is that the line is about the file, not about a variable.
    done = run_cli_in_process("inspect", "--file", "$backup.c1z", env={}, cwd=tmp_path)
    assert_quiet(done.stdout, done.stderr)
    assert done.returncode == 2
    assert done.stderr == "baton-datadog: inspect: $backup.c1z: no such file\n", done.stderr


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--log-level", "debug", "-x"], "baton-datadog: help: unknown flag -x; see --help for the flags\n"),
        (["inspect", "--log-level", "debug", "--jsn"], "unknown flag --jsn; did you mean --json?"),
        (["-zq"], "baton-datadog: help: unknown flag -zq; see --help for the flags\n"),
        (["-pz"], "unknown flag -pz"),
    ],
    ids=["after-a-known-flag", "after-the-topic-and-a-flag", "a-cluster", "a-known-letter-first"],
)
def test_help_names_the_unknown_flag_itself(args: list[str], line: str) -> None:
    done = run_cli_in_process("help", *args)
    assert_quiet(done.stdout, done.stderr)
    assert (done.returncode, done.stdout) == (2, "")
    assert line in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


@pytest.mark.parametrize("args", [["-p"], ["-pf", "x.c1z"], ["-pfx.c1z"], ["inspect", "-of", "json"]])
def test_help_takes_clusters_of_its_flags(args: list[str]) -> None:
    # `-of json`: -o takes a value, so `f` is its value's first letter, never looked at as a flag.
    done = run_cli_in_process("help", *args)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.startswith("usage: baton-datadog")


@pytest.mark.parametrize("variable", ["BATON_FILE", "BATON_C1Z_TEMP_DIR"])
@pytest.mark.parametrize("quote", ['"', "'"])
def test_inspect_names_quotes_an_env_file_kept(variable: str, quote: str, tmp_path: Path) -> None:
    (tmp_path / "x.c1z").write_bytes(b"")
    value = f"{quote}{tmp_path}{'/x.c1z' if variable == 'BATON_FILE' else ''}{quote}"
    args = ["inspect"] if variable == "BATON_FILE" else ["inspect", "x.c1z"]
    done = run_cli_in_process(*args, env={variable: value}, cwd=tmp_path)
    assert_quiet(done.stdout, done.stderr)
    assert done.returncode == 2
    assert done.stderr.startswith(f"baton-datadog: inspect: environment {variable}: {QUOTES}"), done.stderr[:200]
    assert done.stderr.count("\n") == 1, done.stderr
    assert str(tmp_path) not in done.stderr


def test_a_file_given_on_the_command_line_is_read_whatever_baton_file_holds(tmp_path: Path) -> None:
    # BATON_FILE is not read when a file is given: its quotes are no reason to refuse.
    done = run_cli_in_process("inspect", "x.c1z", env={"BATON_FILE": '"y.c1z"'}, cwd=tmp_path)
    assert QUOTES not in done.stderr, done.stderr


@pytest.mark.parametrize(
    "variable", ["SSL_CERT_FILE", "SSL_CERT_DIR", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "HTTPS_PROXY", "NO_PROXY"]
)
def test_tls_and_proxy_variables_kept_in_their_quotes_are_named_so(variable: str, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    value = {
        "SSL_CERT_FILE": str(ca),
        "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(ca),
        "SSL_CERT_DIR": str(tmp_path),
        "HTTPS_PROXY": f"http://user:{SECRET}@127.0.0.1:3128",
        "NO_PROXY": f"127.0.0.1,{SECRET}.example",
    }[variable]
    problems = environment_problems({variable: f'"{value}"'})
    assert problems == [
        f"environment {variable}: {QUOTES} (an env file read by `docker run --env-file` or made into a Secret keeps "
        "them): remove them"
    ]
    assert SECRET not in problems[0]


@pytest.mark.parametrize("setting", ["file", "ca-bundle", "c1z-temp-dir"])
@pytest.mark.parametrize("path", ["~\\ud800/x.c1z", "/tmp/\\ud800/x.c1z", "x\\udfff.c1z", "~/x\\ud800"])
def test_a_lone_surrogate_in_a_path_setting_is_one_line_naming_it(setting: str, path: str, tmp_path: Path) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text(f'{setting}: "{path}"\n', encoding="ascii")
    done = run_cli_in_process("--config", str(config), env={**KEYS, **NOWHERE}, cwd=tmp_path)
    assert_quiet(done.stdout, done.stderr)
    assert done.returncode == 2, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    variable = f"BATON_{setting.upper().replace('-', '_')}"
    assert line.startswith(f"baton-datadog: setting --{setting} ({variable}): holds U+D"), line
    assert "a lone surrogate no file name can hold" in line, line


def test_the_path_helpers_answer_a_lone_surrogate() -> None:
    assert shell_shorthand(Path("~\ud800")) is None  # no user has such a name
    assert shell_shorthand(Path("~\ud800/x.c1z")) is None
    problem = lookup_problem(Path("/tmp/\ud800/x.c1z"))
    assert problem is not None
    assert problem.startswith("holds U+D800, a lone surrogate"), problem
    # Undecodable bytes (what argv and the environment carry) are a file's name, looked up as any other.
    assert lookup_problem(Path(os.fsdecode(b"/tmp/no-such-\xff"))) is None
