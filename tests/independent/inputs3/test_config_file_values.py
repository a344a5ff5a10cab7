"""`invoke-action-args` written as a YAML mapping in the --config file (README: "`invoke-action-args` may be a
mapping"), holding what YAML can say and JSON cannot: each is refused naming the file and the setting, as what it is
(not as "is not valid JSON", which the file never held), and nothing runs.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest

from connector.cli import main

CANNOT_CARRY = "invoke-action-args is a mapping that JSON cannot carry"


def _config(path: Path) -> tuple[int, str]:
    saved = dict(os.environ)
    try:
        for key in [key for key in os.environ if key.startswith("BATON_")]:
            del os.environ[key]
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(["config", "--config", str(path)])
        return code, err.getvalue()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.parametrize(
    "arguments",
    [
        '{user_id: "u-1", title: .inf}',
        '{user_id: "u-1", title: -.Inf}',
        '{user_id: "u-1", title: .nan}',
        '{user_id: "u-1", nested: {deeper: [1, .NaN]}}',
        "&args {user_id: u-1, again: *args}",
        '{user_id: "u-1", born: 2001-12-14}',
        '{user_id: "u-1", blob: !!binary aGVsbG8=}',
    ],
)
def test_a_mapping_json_cannot_carry_is_named_as_such(arguments: str, tmp_path: Path) -> None:
    path = tmp_path / "baton.yaml"
    path.write_text(f"provisioning: true\ninvoke-action: update_user\ninvoke-action-args: {arguments}\n")
    code, err = _config(path)
    assert code == 2
    assert (
        err
        == f"baton-datadog: setting --config (BATON_CONFIG_PATH): {path}: {CANNOT_CARRY} (a date, binary data, .inf or .nan, a mapping holding itself through an alias)\n"
    )
