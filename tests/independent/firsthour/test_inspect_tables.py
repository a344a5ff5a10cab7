"""README: `baton-datadog inspect sync.c1z --grants` lists every grant. Its table, as a person reads it: every row's
columns start where the header's do, for this connector's own ids (a grant's is the longest: 90 characters)."""

from __future__ import annotations

import argparse
import contextlib
import io
import re

import pytest

from connector.daemon import inspect
from tests.fixtures_dir import FIXTURES_DIR

# A Datadog org's file as baton-sdk wrote it: users, roles and teams with their grants.
DATADOG_FILE = FIXTURES_DIR / "c1z" / "old-sdk-v0.1.14.small.c1z"


def listed(*flags: str) -> list[str]:
    parser = argparse.ArgumentParser()
    inspect.add_arguments(parser)
    out = io.StringIO()
    with contextlib.redirect_stderr(io.StringIO()):
        assert inspect.run(parser.parse_args([str(DATADOG_FILE), *flags]), out=out) == 0
    return out.getvalue().splitlines()


def starts(header: str) -> list[int]:
    return [match.start() for match in re.finditer(r"\S+", header)]


@pytest.mark.parametrize(
    "flags",
    [("--grants",), ("--entitlements",), ("--resources", "user"), ("--resources", "role"), ("--resources", "team")],
)
def test_every_row_lines_up_with_the_header(flags: tuple[str, ...]) -> None:
    # At a padding cap of 64, no row of --grants lined up: its ids (89-90 characters) ran past the header's column.
    header, *rows = listed(*flags)
    rows = [row for row in rows if not row.startswith("(")]  # the count under a long listing
    assert rows
    columns = starts(header)
    for row in rows:
        for column in columns[1:]:
            if len(row) > column:  # a row ends where its last filled cell does
                assert row[column - 2 : column] == "  ", (header, row)
