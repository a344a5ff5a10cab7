"""What the environment or the command line gives reaches the operator's terminal as text, never as its commands.

Every closing line already writes a terminal's escapes inert (`\\x1b`); the `config` command's warnings named an
unknown variable's name, and the --config path, as they came: an ESC there cleared or retitled the terminal.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.daemon.cli import run_cli_in_process
from tests.independent.operator.conftest import API_KEY, KEYS, assert_quiet

ESCAPES = ("\x1b]0;owned\x07", "\x1b[2J", "\u202e")


@pytest.mark.parametrize("escape", ESCAPES, ids=["title", "clear", "bidi-override"])
@pytest.mark.parametrize(
    "name", ["BATON_API_KEYS{}", "baton_site{}", "BATON_X{}"], ids=["mistyped", "lower", "unknown"]
)
def test_an_unknown_variables_name_is_written_inert(name: str, escape: str) -> None:
    done = run_cli_in_process("config", env={**KEYS, name.format(escape): "1"})
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("warning: ")
    for char in escape:
        if not char.isprintable():
            assert char not in done.stderr
    assert_quiet(done.stdout, done.stderr)


def test_the_config_files_path_in_its_warning_is_written_inert(tmp_path: Path) -> None:
    config = tmp_path / "c\x1b[2J.yaml"
    config.write_text(f"api-key: {API_KEY}\n")
    config.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IROTH)
    done = run_cli_in_process("config", "--config", str(config), env={"BATON_APP_KEY": KEYS["BATON_APP_KEY"]})
    assert done.returncode == 0, done.stderr
    assert "other users may read it" in done.stderr
    assert "\x1b" not in done.stderr
    assert "c\\x1b[2J.yaml" in done.stderr
    assert_quiet(done.stdout, done.stderr)


def test_an_unexpected_errors_line_is_written_inert(capsys: pytest.CaptureFixture[str]) -> None:
    """The boundary's last line quotes the exception, which may quote what a peer or a file gave."""
    from connector import cli

    assert cli._unexpected(ValueError("bad value \x1b]0;owned\x07"), []) == 1
    err = capsys.readouterr().err
    assert err.startswith("baton-datadog: unexpected error: ValueError: bad value \\x1b]0;owned\\x07")
    assert "\x1b" not in err
