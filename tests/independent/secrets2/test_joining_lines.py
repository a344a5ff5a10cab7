"""The pass that finds a secret wrapped across lines (`redaction.blank_out_patterns` joining a text's lines) must cost
time linear in the text, and must see the line breaks a repr or JSON writes (`\\n`, `\\r\\n`, `\\\\n`), not only real
ones: the log writes a value that is not a str as its repr, and logging's own "Arguments:" line quotes with repr.

And a quoted client secret (the --config file's `client-secret: "secret-token:..."`, an env file's quotes kept in the
value) must not make the public start of every client secret, `secret-token:conductorone.com:v1:`, a secret's start:
it blanked out the format a refusal names, and every line naming it."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.baton.redaction import blank_out, patterns
from connector.daemon import logging as logs
from connector.daemon.settings import given_secrets
from tests.fakes.c1.creds import generate_client_credentials

SECRET = "wrapped-CANARY-0123456789abcdef"
HEX_KEY = "0123456789abcdef0123456789abcdef"
CPU_BOUND = 1.0
"""CPU seconds, far above what a linear pass costs on these texts (milliseconds) and far below what the quadratic one
did (4 s for a run of 32 Ki blanks, minutes for a megabyte)."""


@pytest.fixture(autouse=True)
def fresh_redactor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "_secrets", set())
    monkeypatch.setattr(logs, "_rotating", {})
    monkeypatch.setattr(logs, "_known", ())


def _cpu(call: Callable[[str], object], text: str) -> float:
    started = time.process_time()
    call(text)
    return time.process_time() - started


@pytest.mark.parametrize(
    "value",
    [
        "\r\nx" + " " * 32 * 1024 + "x",
        "a \nx" + "\t " * 16 * 1024 + "x",
        "x\\n" + " " * 32 * 1024 + "x",  # an escaped break, as a repr writes one
        "\n" + (" " * 8000 + "x") * 8,  # many runs, none touching the break
    ],
    ids=["crlf-then-blanks", "lf-then-tabs", "escaped-then-blanks", "many-runs"],
)
def test_a_run_of_blanks_in_a_multi_line_value_costs_linear_cpu(value: str) -> None:
    """A run of blanks that touches no line break was scanned again from each of its places: quadratic."""
    logs.register_secret(HEX_KEY)
    assert _cpu(logs._scrub, value) < CPU_BOUND


def test_a_megabyte_of_blanks_and_breaks_costs_linear_cpu() -> None:
    """The log's longest value and the windows searched across lines: a megabyte, blanks and a break at each end."""
    logs.register_secret(HEX_KEY)
    value = "\n" + " " * (1024 * 1024) + "x\n"
    assert _cpu(logs.redact, value) < CPU_BOUND


@pytest.mark.parametrize("cut", [1, 7, 12, 24, 30])
def test_a_wrapped_secret_inside_a_repr_or_json_is_blanked_out(cut: int) -> None:
    """The break inside a repr or a JSON string is the characters `\\n` (`\\r\\n`, and `\\\\n` in JSON of a repr)."""
    for br in ("\n", "\r\n", "\r", " \n  "):
        wrapped = SECRET[:cut] + br + SECRET[cut:]
        texts = (
            repr(wrapped),
            repr(wrapped.encode()),
            f"{[wrapped]}",
            json.dumps(wrapped),
            json.dumps(repr(wrapped)),
            json.dumps({"detail": [wrapped]}),
        )
        for text in texts:
            cleaned = blank_out(f"said: {text} end", [SECRET], "#")
            assert SECRET[:cut] not in cleaned or len(SECRET[:cut]) < 8, (br, text, cleaned)
            assert SECRET[cut:] not in cleaned or len(SECRET[cut:]) < 8, (br, text, cleaned)
            assert cleaned.startswith("said: "), cleaned
            assert cleaned.endswith(" end"), cleaned


def test_a_wrapped_secret_in_a_logged_values_repr_is_blanked_out() -> None:
    """`_scrub` writes a value that is not a str (bytes, a list) as its repr."""
    logs.register_secret(SECRET)
    wrapped = SECRET[:12] + "\n" + SECRET[12:]
    for value in (wrapped.encode(), [wrapped], {"k": (wrapped,)}, {wrapped}):
        assert "0123456789abcdef" not in str(logs._scrub(value)), value


def test_an_escaped_break_outside_a_secret_is_left_alone() -> None:
    """Only what joins into a secret is blanked out: a repr's other breaks and text stay as they were."""
    text = repr("first line\nsecond line\r\nthird") + json.dumps("a\\nb")
    assert blank_out(text, [SECRET], "#") == text


@pytest.mark.parametrize("quote", ['"', "'"])
def test_a_quoted_client_secret_in_the_config_file_leaves_the_public_format(tmp_path: Path, quote: str) -> None:
    """The line-by-line reading of the file added the value with its quotes, whose first 24 characters
    (`"secret-token:conductoro`) then blanked out the public format anywhere."""
    secret = generate_client_credentials("tenant.example.com").client_secret
    config = tmp_path / "config.yaml"
    config.write_text(f"client-secret: {quote}{secret}{quote}\n")
    given = given_secrets(["--config", str(config)], {})
    text = 'client-secret: expected "secret-token:conductorone.com:v1:<base64url JWK>"'
    assert logs.redact(text, also=given) == text
    assert secret[-20:] not in logs.redact(f"x {quote}{secret}{quote} y", also=given)


def test_a_config_file_that_yaml_refuses_still_gives_its_quoted_secret_without_quotes(tmp_path: Path) -> None:
    """Read line by line (YAML refused the file: a tab indent), the value is taken out of its quotes."""
    secret = "CANARY-0123456789abcdef-quoted"
    config = tmp_path / "config.yaml"
    config.write_text(f'api-key: "{secret}"\n\tbroken: [\n')
    given = given_secrets(["--config", str(config)], {})
    assert secret in given
    assert not [value for value in given if value.startswith(('"', "'"))], given


@pytest.mark.parametrize(
    "secret",
    [
        '"secret-token:conductorone.com:v1:AAAAAAAAAAAAAAAAAAAAAAAA"',
        "'secret-token:conductorone.com:v1:AAAAAAAAAAAAAAAAAAAAAAAA'",
        "=secret-token:conductorone.com:v1:AAAAAAAAAAAAAAAAAAAAAAAA",
        "Xsecret-token:conductorone.com:v1:AAAAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_no_secrets_start_is_part_of_the_public_client_secret_format(secret: str) -> None:
    """Whatever a secret's value holds before it (a quote, an `=`), the public prefix is never a start to blank out."""
    public = "secret-token:conductorone.com:v1:"
    for start, form in patterns([secret]):
        if start != form:
            assert "secret-token:" not in start.lower(), start
            assert start.lower() not in public, start
    text = f'expected "{public}<base64url JWK>"'
    assert blank_out(text, [secret], "#") == text
    assert "AAAAAAAAAAAAAAAAAAAAAAAA" not in blank_out(f"k={secret}", [secret], "#")


def test_a_secret_wrapped_anywhere_by_escaped_breaks_is_blanked_out_whole_and_nothing_around_it() -> None:
    """As the real breaks' test (test_encoded_forms.py) with the breaks a repr or JSON writes, mixed with real ones:
    the secret and its breaks become one mark, and the text around it stays as it was."""
    rng = random.Random(1207)
    breaks = ["\\n", "\\r\\n", " \\n  ", "\\\\n", "\\\\r\\\\n", "\\n\\n", "\n", " \r\n\t"]
    for _ in range(400):
        secret = "".join(rng.choice("abcdefXYZ0123-_") for _ in range(rng.randint(8, 60)))
        cuts = sorted(rng.sample(range(1, len(secret)), rng.randint(1, min(4, len(secret) - 1))))
        parts = [secret[start:stop] for start, stop in zip([0, *cuts], [*cuts, len(secret)], strict=True)]
        wrapped = parts[0] + "".join(rng.choice(breaks) + part for part in parts[1:])
        before, after = rng.choice(["", "key: ", "\\n", "  ", "a\\\\b "]), rng.choice(["", " (end)", "\\n", "!"])
        assert blank_out(before + wrapped + after, [secret], "#") == f"{before}#{after}", wrapped
