"""The `baton` tool reads a c1z with `baton grants -f sync.c1z` (and resources, entitlements, stats, ...): typed at
`inspect`, its word was taken for the file (`inspect grants`: "grants: no such file") or was "1 unexpected
argument(s) (not shown)" after it (`inspect sync.c1z grants`), where `baton-datadog grants` itself says what does
that work here (README, "Commands"). Both say it now; a file that is really named so is still read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.daemon.cli import run_cli_in_process

WORDS = {
    "grants": "baton-datadog inspect --grants",
    "resources": "baton-datadog inspect --resources TYPE",
    "entitlements": "baton-datadog inspect --entitlements",
    "stats": "baton-datadog inspect (rows per resource type)",
}


@pytest.mark.parametrize("word", WORDS)
def test_a_baton_command_given_as_the_file_says_what_does_its_work(word: str, tmp_path: Path) -> None:
    result = run_cli_in_process("inspect", word, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"baton-datadog: inspect: {word}: no such file; {word}: the baton tool's command; here: {WORDS[word]}\n"
    )


@pytest.mark.parametrize("word", WORDS)
def test_a_baton_command_after_the_file_is_named_with_what_does_its_work(word: str, tmp_path: Path) -> None:
    result = run_cli_in_process("inspect", "sync.c1z", word, cwd=tmp_path)
    assert result.returncode == 2
    assert f"an argument after the file, {word!r}: the baton tool's command; here: {WORDS[word]}" in result.stderr


def test_what_follows_the_word_is_counted_not_shown(tmp_path: Path) -> None:
    secret = "0123456789abcdef0123456789abcdef"
    result = run_cli_in_process("inspect", "sync.c1z", "grants", secret, cwd=tmp_path)
    assert result.returncode == 2
    assert "and 1 other argument(s) (not shown: one may be a key)" in result.stderr
    assert secret not in result.stderr


def test_a_file_really_named_so_is_read_as_the_file(tmp_path: Path) -> None:
    (tmp_path / "grants").write_bytes(b"not a c1z")
    result = run_cli_in_process("inspect", "grants", cwd=tmp_path)
    assert result.returncode == 2
    assert "the baton tool's command" not in result.stderr
    assert result.stderr.startswith("baton-datadog: inspect: grants:")
