"""A bug is one line at the process boundary (connector/cli.py), and at debug its traceback: neither quotes a secret
the command line or the environment gave, even when the fault struck while the settings were read, before any secret
was known to the log redactor. The fault is injected where the arguments are first read: a message quoting argv (as
a bug's message may) printed the key whole, and so did the traceback at debug."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest

from connector.daemon import settings
from tests.daemon.cli import last_line, run_cli_in_process
from tests.independent.secrets.canaries import BASE64, ESCAPED, LONG, QUOTE_FORMAT, leaked

CANARIES = {"quote-format": QUOTE_FORMAT, "base64": BASE64, "long": LONG, "escaped": ESCAPED}


@pytest.fixture(autouse=True)
def argv_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    def faulty(argv: Sequence[str]) -> list[str]:
        variables = {key: value for key, value in os.environ.items() if key.startswith("BATON_")}
        raise RuntimeError(f"bug while reading {list(argv)!r} and {variables!r}")

    monkeypatch.setattr(settings, "_explicit_booleans", faulty)


@pytest.mark.parametrize("debug", [False, True], ids=["line", "traceback"])
@pytest.mark.parametrize("where", ["flag", "flag=", "env"])
@pytest.mark.parametrize("canary", CANARIES)
def test_a_bug_while_the_settings_are_read_never_prints_a_secret(canary: str, where: str, debug: bool) -> None:
    secret = CANARIES[canary]
    args = {"flag": ["--client-secret", secret], "flag=": [f"--app-key={secret}"], "env": []}[where]
    env = {"BATON_API_KEY": secret} if where == "env" else {}
    result = run_cli_in_process(*args, *(["--log-level", "debug"] if debug else []), env=env)
    assert result.returncode == 1
    assert last_line(result.stderr).startswith("baton-datadog: unexpected error: RuntimeError: bug while reading")
    if debug:
        assert "Traceback" in result.stderr
    assert not leaked(result.stderr + result.stdout, secret), result.stderr[-600:]


@pytest.mark.parametrize(
    ("argv", "given"),
    [
        (["--api-key", "--app-key", LONG], [LONG]),
        (["--file", "out.c1z", "--api-key", "--log-level", "debug"], []),
        (["--api-key"], []),
        (["--", "--api-key", LONG], []),
        ([f"--api-key={LONG}"], [LONG]),
        (["--api-key", "-1234567890123456"], ["-1234567890123456"]),
        (["--api-key", "-a key with spaces"], ["-a key with spaces"]),
    ],
    ids=[
        "a-flag-after-it",
        "a-flag-and-its-value-after-it",
        "last",
        "after-double-dash",
        "with-equals",
        "a-negative-number",
        "a-dash-and-spaces",
    ],
)
def test_the_boundary_takes_as_a_secret_only_what_argparse_would(argv: list[str], given: list[str]) -> None:
    """A secret flag followed by another flag has no value, to argparse as to the boundary: `--api-key --app-key K`
    made `--app-key` a secret of the run, and the bug's line then read "[REDACTED] given twice"."""
    assert sorted(set(settings.given_secrets(argv, {}))) == given
