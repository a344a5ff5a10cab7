"""An independent attack on the --config file, as a hostile or careless operator writes it.

Every file the process cannot take ends in one line naming --config (or the setting inside it), exit 2, no
traceback, and no value from the file repeated where a secret could be one. Answered from the settings alone: the
real entry point runs in this process (`run_cli_in_process`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon.cli import last_line, run_cli_in_process
from tests.independent.operator.conftest import KEYS, PASSWORD, assert_quiet

_HUGE_INT = "1" + "0" * 5000  # past Python's 4,300-digit conversion limit for a decimal integer


def _write(text: str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        (tmp / "c.yaml").write_text(text)
        return tmp / "c.yaml"

    return make


def _write_bytes(data: bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        (tmp / "c.yaml").write_bytes(data)
        return tmp / "c.yaml"

    return make


def _directory(tmp: Path) -> Path:
    (tmp / "c.yaml").mkdir()
    return tmp / "c.yaml"


def _symlink_loop(tmp: Path) -> Path:
    os.symlink(tmp / "b.yaml", tmp / "a.yaml")
    os.symlink(tmp / "a.yaml", tmp / "b.yaml")
    return tmp / "a.yaml"


def _dangling(tmp: Path) -> Path:
    os.symlink(tmp / "nowhere" / "c.yaml", tmp / "c.yaml")
    return tmp / "c.yaml"


# (id, how the file is made, words the closing line holds after "setting --config (BATON_CONFIG_PATH): <path>")
HOSTILE_FILES = [
    ("directory", _directory, "is not a regular file"),
    ("symlink-loop", _symlink_loop, "Too many levels of symbolic links"),
    ("dangling-symlink", _dangling, ""),
    ("utf-16", _write_bytes("site: datadoghq.eu\n".encode("utf-16")), "is not UTF-8 text"),
    ("latin-1", _write_bytes(b"host-id: caf\xe9\n"), "is not UTF-8 text"),
    ("python-tag", _write("site: !!python/object/apply:os.system ['true']\n"), "is not valid YAML (line 1"),
    (
        "alias-bomb",
        _write(
            "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
            + "".join(f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True))
        ),
        "holds more than 100,000 values",
    ),
    ("over-1-mib", _write("host-id: " + "h" * (1 << 20) + "\n"), "is larger than 1 MiB"),
    # A raw control character (not the escape `"\\0"`): YAML's reader refuses it as the loader is made, and its
    # ReaderError was "unexpected error", exit 1.
    ("raw-nul", _write(f"api-key: '{PASSWORD}\0'\n"), "holds a character YAML does not allow (U+0000 at offset"),
    ("raw-escape", _write("host-id: a\x1b[31mb\n"), "holds a character YAML does not allow (U+001B at offset"),
    ("setting-twice", _write("site: datadoghq.eu\nsite: datadoghq.com\n"), "site is set twice (lines 1 and 2)"),
    # A decimal integer of more than 4,300 digits: its ValueError was "unexpected error", exit 1, naming nothing.
    ("huge-int", _write(f"site: datadoghq.eu\ntask-concurrency: {_HUGE_INT}\n"), "a number too long to read"),
    ("huge-int-nested", _write(f"invoke-action-args: {{a: [{_HUGE_INT}]}}\n"), "a number too long to read"),
    ("huge-int-tagged", _write(f"sync-interval: !!int '{_HUGE_INT}'\n"), "a number too long to read"),
    # A prefix with only underscores after it matches the integer pattern and is no number: not "too long" either.
    ("hex-prefix-only", _write("health-check-port: 0x_\n"), "a value read as a number that is none"),
    ("binary-prefix-only", _write("log-level: -0b__\n"), "a value read as a number that is none"),
]


@pytest.mark.parametrize(("make", "words"), [pytest.param(m, w, id=i) for i, m, w in HOSTILE_FILES])
def test_a_config_file_the_process_cannot_take_is_one_line_exit_2(
    tmp_path: Path, make: Callable[[Path], Path], words: str
) -> None:
    path = make(tmp_path)
    for args, env in (
        (("config", "--config", str(path)), KEYS),
        (("config",), {**KEYS, "BATON_CONFIG_PATH": str(path)}),
    ):
        done = run_cli_in_process(*args, env=env)
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        line = last_line(done.stderr)
        assert line.startswith(f"baton-datadog: setting --config (BATON_CONFIG_PATH): {path}"), line
        assert words in line
        assert len(done.stderr.strip().splitlines()) == 1
        assert_quiet(done.stdout, done.stderr)


def test_the_line_of_a_number_too_long_to_read_is_given(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"site: datadoghq.eu\n\nhealth-check-port: {_HUGE_INT}\n")
    done = run_cli_in_process("config", "--config", str(config), env=KEYS)
    assert done.returncode == 2
    assert last_line(done.stderr).endswith("(more than 4,300 digits) (line 3, column 20)")


def test_numbers_go_reads_in_other_bases_are_still_numbers(tmp_path: Path) -> None:
    """The bound applies to a decimal integer's digits only: hexadecimal and `_`-separated numbers still read."""
    config = tmp_path / "c.yaml"
    config.write_text("task-concurrency: 0x10\nhealth-check-port: 9_090\n")
    done = run_cli_in_process("config", "--json", "--config", str(config), env=KEYS)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)["settings"]
    assert shown["task_concurrency"] == {"value": 16, "source": "file", "env": "BATON_TASK_CONCURRENCY"}
    assert shown["health_check_port"]["value"] == 9090


@pytest.mark.parametrize(
    "text",
    [
        f"api-key: {PASSWORD}\nbogus-setting: {PASSWORD}\n",  # a secret beside an unknown key
        f"client-secret: [{PASSWORD}]\n",  # a secret of the wrong kind
        f"app-key: {{x: {PASSWORD}}}\n",
        f"api-key: '{PASSWORD}\0'\n",
        f'api-key: "{PASSWORD}\\0"\n',  # the escape form: a NUL in the value
    ],
    ids=["beside-unknown-key", "as-a-list", "as-a-mapping", "raw-nul", "escaped-nul"],
)
def test_a_secret_in_a_refused_file_is_never_repeated(tmp_path: Path, text: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(text)
    config.chmod(0o600)
    done = run_cli_in_process("config", "--config", str(config))  # the file's values are the ones in force
    assert done.returncode == 2, done.stderr
    assert_quiet(done.stdout, done.stderr)


def test_flag_beats_environment_beats_file_and_config_says_where_each_came_from(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("site: us3.datadoghq.com\ntask-concurrency: 4\nhost-id: from-file\n")
    done = run_cli_in_process(
        "config",
        "--config",
        str(config),
        "--site",
        "datadoghq.eu",
        env={**KEYS, "BATON_SITE": "us5.datadoghq.com", "BATON_TASK_CONCURRENCY": "5"},
    )
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.strip()}
    assert rows["site"][1:3] == ['"datadoghq.eu"', "flag"]
    assert rows["task-concurrency"][1:3] == ["5", "env"]
    assert rows["host-id"][1:3] == ['"from-file"', "file"]
    assert rows["api-key"][1:4] == ['"[set,', 'redacted]"', "env"]
    assert_quiet(done.stdout, done.stderr)


@pytest.mark.parametrize("blank", ["", " ", "\n", "\t \r\n"])
def test_a_blank_variable_leaves_the_files_value_in_force_and_config_says_so(tmp_path: Path, blank: str) -> None:
    """A blank variable is "not set" (a chart's or Secret's empty value): whitespace alone (a Secret made with `echo`)
    won over the file and was then dropped, so the default site replaced the file's, and `config` said "file"."""
    config = tmp_path / "c.yaml"
    config.write_text("site: datadoghq.eu\ntask-concurrency: 5\nsync-schedules: true\n")
    env = {**KEYS, "BATON_SITE": blank, "BATON_TASK_CONCURRENCY": blank, "BATON_SYNC_SCHEDULES": blank}
    done = run_cli_in_process("config", "--json", "--config", str(config), env=env)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)["settings"]
    assert shown["site"] == {"value": "datadoghq.eu", "source": "file", "env": "BATON_SITE"}
    assert shown["task_concurrency"]["value"] == 5
    assert shown["sync_schedules"]["value"] is True
