"""The real command with a path the file system refuses outright: exit 2, one line naming the setting or variable,
before any request (nothing listens where Datadog is said to be), no traceback, no key shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.daemon.cli import last_line, run_cli
from tests.independent.operator.conftest import KEYS, assert_quiet

pytestmark = pytest.mark.slow

LONG = "n" * 300


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--file", "{tmp}/" + LONG + ".c1z"], {}, "setting --file (BATON_FILE): "),
        (["--c1z-temp-dir", "{tmp}/" + LONG], {}, "setting --c1z-temp-dir (BATON_C1Z_TEMP_DIR): "),
        ([], {"SSL_CERT_FILE": "{tmp}/" + LONG + ".pem"}, "environment SSL_CERT_FILE: "),
        ([], {"SSL_CERT_DIR": "{tmp}/" + LONG}, "environment SSL_CERT_DIR: "),
    ],
    ids=["file", "c1z-temp-dir", "ssl-cert-file", "ssl-cert-dir"],
)
def test_a_name_too_long_is_a_setting_error(tmp_path: Path, args: list[str], env: dict[str, str], named: str) -> None:
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    env = {name: value.replace("{tmp}", str(tmp_path)) for name, value in env.items()}
    done = run_cli(*args, "--base-url", "http://127.0.0.1:9", env={**KEYS, **env}, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    line = last_line(done.stderr)
    assert line.startswith(f"baton-datadog: {named}{tmp_path}/{LONG}"), line
    assert "the name is too long for the file system" in line
    assert "cannot reach" not in done.stderr, "refused before any request"
    assert_quiet(done.stdout, done.stderr)
    assert list(tmp_path.iterdir()) == []
