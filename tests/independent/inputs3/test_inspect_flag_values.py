"""The values given to `inspect`'s own flags (`--sync-id`, `--resources`, `-o`), as hostile as a command line allows:
a refusal is one line (exit 2) naming the flag, bounded whatever the value's size, and never the value when it holds a
Datadog key's shape (a key pasted at the wrong flag), as every refused setting's value is quoted (`shown_value`).

Before: a 1 MB `--sync-id` or `--resources` was printed back whole on its line, and `-o <key>` ("invalid choice")
quoted the key, which the settings' parser never does.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from connector.cli import main
from tests.independent.c1z.hostile import good_c1z

API_KEY = "0123456789abcdef0123456789abcdef"
APP_KEY = "fedcba9876543210fedcba9876543210fedcba98"
FLAGS = ["--sync-id", "--resources", "-o"]
LONGEST_LINE = 400
"""A refusal's length for a plain value; a value is shown as at most 100 characters, each escaped as `\\U0001f600` at
worst (10 characters): `LONGEST_ESCAPED` for any value."""
LONGEST_ESCAPED = LONGEST_LINE + 100 * 10


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("good")
    return asyncio.run(good_c1z(where / "good.c1z", where))


def _inspect(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = main(["inspect", *argv])
        except SystemExit as refused:  # argparse's refusal of inspect's flags: the process exits with its code
            code = int(refused.code or 0)
    return code, err.getvalue()


@pytest.mark.parametrize("flag", FLAGS)
def test_a_megabyte_value_is_refused_in_one_short_line(flag: str, good: Path) -> None:
    code, err = _inspect(str(good), flag, "x" * 1_000_000)
    assert code == 2
    assert err.count("\n") == 1
    assert len(err) < LONGEST_LINE
    assert f"{flag} " in err or f"{flag}/" in err or f"/{flag.lstrip('-')}" in err
    assert "(1000000 characters)" in err


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("key", [API_KEY, APP_KEY, f"user:{API_KEY}"])
def test_a_key_given_as_a_flags_value_is_never_shown(flag: str, key: str, good: Path) -> None:
    code, err = _inspect(str(good), flag, key)
    assert code == 2
    assert err.count("\n") == 1
    assert API_KEY not in err
    assert APP_KEY not in err
    assert "not shown" in err


@pytest.mark.fuzz
@given(flag=st.sampled_from(FLAGS), value=st.text(st.characters(exclude_categories=["Cs"]), max_size=3000))
@example(flag="-o", value=API_KEY)
@example(flag="--sync-id", value="y" * 3000)
@example(flag="-o", value='it\'s "quoted"\n\x1b[2J')
def test_any_value_is_shown_or_refused_in_one_bounded_line(flag: str, value: str, good: Path) -> None:
    code, err = _inspect(str(good), f"{flag}={value}")
    assert code in (0, 2), err
    if code == 0:
        return
    assert err.count("\n") == 1, err
    assert len(err) < LONGEST_ESCAPED + len(str(good)), err
    assert "\x1b" not in err
    assert API_KEY not in err
